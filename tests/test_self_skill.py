"""skillcrate as a skill (issue 16): the shipped SKILL.md, ``add --self``, ``init --with-skill``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from skills_ref.validator import validate as reference_validate

from skillcrate.ops import self_skill_folder
from skillcrate.skill.rules import validate

from helpers import run_cli
from registry_server import IsolatedEnv


def ok(*args: str, cwd: Path | None = None) -> str:
    done = run_cli(*args, cwd=cwd)
    assert done.returncode == 0, f"skillcrate {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_the_shipped_skill_passes_both_validators() -> None:
    folder = self_skill_folder()
    assert folder.name == "skillcrate" and (folder / "SKILL.md").is_file()
    assert validate(folder, strict=True) == []
    assert reference_validate(folder) == []  # skills-ref, the spec's reference validator
    text = (folder / "SKILL.md").read_text()
    for command in (
        "skillcrate add",
        "skillcrate update",
        "skillcrate outdated",
        "skillcrate verify",
        "skillcrate versions",
        "Never edit the lock by hand",
    ):
        assert command in text


def test_init_with_skill_vendors_and_installs_it(tmp_path: Path) -> None:
    ok("init", "--with-skill", cwd=tmp_path)
    manifest = json.loads((tmp_path / "skills.json").read_text())
    [entry] = manifest["skills"]
    assert entry["name"] == "skillcrate" and entry["source"] == "oci:.agents/vendor/skillcrate"
    assert (tmp_path / ".agents/vendor/skillcrate/index.json").is_file()  # committed with it
    installed = tmp_path / ".agents/skills/skillcrate/SKILL.md"
    assert installed.read_bytes() == (self_skill_folder() / "SKILL.md").read_bytes()
    lock = (tmp_path / "skills.lock.json").read_bytes()
    ok("add", "--self", cwd=tmp_path)  # the same skillcrate: the same digest, nothing moves
    assert (tmp_path / "skills.lock.json").read_bytes() == lock
    assert "/.agents/vendor" not in (tmp_path / ".gitignore").read_text()
    assert run_cli("verify", cwd=tmp_path).returncode == 0


def test_add_self_for_the_user(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    ok("add", "-g", "--self", cwd=tmp_path)
    assert (isolated_env.home / ".agents/skills/skillcrate/SKILL.md").is_file()
    assert (isolated_env.home / ".claude/skills/skillcrate").is_symlink()
    vendored = isolated_env.config_dir / "global" / ".agents/vendor/skillcrate"
    assert (vendored / "index.json").is_file()
    assert list(tmp_path.iterdir()) == []


def test_a_symlinked_vendor_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = tmp_path / "p"
    (project / ".agents").mkdir(parents=True)
    os.symlink(elsewhere, project / ".agents" / "vendor")
    done = run_cli("add", "--self", cwd=project)
    assert done.returncode == 1 and "symbolic link" in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_self_takes_no_reference(tmp_path: Path) -> None:
    done = run_cli("add", "--self", "ghcr.io/x/y", cwd=tmp_path)
    assert done.returncode == 2 and "--self" in done.stderr
    assert run_cli("add", cwd=tmp_path).returncode == 2
