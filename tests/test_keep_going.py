"""Partial installs: one dead source must not cost the project its other skills.

The session hook always keeps going; ``install --keep-going`` does on request; plain
``install`` and ``install --frozen`` stay all-or-nothing. Against a real registry that is
stopped mid-test, and an ``oci:`` layout that stays reachable.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillcrate.fastpath import is_up_to_date
from skillcrate.formats import pack
from skillcrate.oci import open_target
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed
from skillcrate.reference import Reference

from helpers import make_skill, run_cli
from registry_server import RegistryServer


def publish(target, root: Path, name: str, version: str, body: str = "") -> None:  # noqa: ANN001
    folder = make_skill(
        root / f"{name}-{version}",
        name,
        f"The {name} skill. Use it when testing partial installs.",
        files={"references/notes.md": f"{name} {version} {body}\n"},
    )
    push_packed(target, pack(folder, tag=version), [version])


@pytest.fixture
def world(tmp_path: Path, fresh_registry: RegistryServer, repo_name: str) -> dict:
    """alpha in a layout (always reachable), beta and gamma on a registry (stopped later)."""
    layout = tmp_path / "store" / "alpha"
    publish(LayoutRepository(layout), tmp_path / "src", "alpha", "1.0.0")
    for name in ("beta", "gamma"):
        ref = Reference.parse(f"{fresh_registry.host}/{repo_name}/{name}")
        for version in ("1.0.0", "2.0.0"):
            publish(open_target(ref), tmp_path / "src", name, version, body=version)
    proj = tmp_path / "proj"
    proj.mkdir()
    return {"proj": proj, "registry": fresh_registry, "base": f"{fresh_registry.host}/{repo_name}"}


def skills(proj: Path) -> list[str]:
    folder = proj / ".agents" / "skills"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def locked(proj: Path) -> dict[str, str]:
    lock = json.loads((proj / "skills.lock.json").read_text())
    return {s["name"]: s["version"] for s in lock["skills"]}


def write_manifest(proj: Path, entries: list[dict]) -> bytes:
    data = (json.dumps({"skills": entries}, indent=2) + "\n").encode()
    (proj / "skills.json").write_bytes(data)
    return data


def hook(proj: Path, agent: str = "codex") -> dict:
    done = run_cli("install", "--hook", agent, cwd=proj, stdin=json.dumps({"cwd": str(proj)}))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_hook_installs_what_it_can_and_names_what_failed(world: dict) -> None:
    proj, base = world["proj"], world["base"]
    manifest = write_manifest(
        proj,
        [
            {"name": "alpha", "source": "oci:../store/alpha"},
            {"name": "beta", "source": f"{base}/beta"},
        ],
    )
    world["registry"].stop()
    doc = hook(proj, "codex")
    assert skills(proj) == ["alpha"]
    assert locked(proj) == {"alpha": "1.0.0"}  # no entry for what failed
    assert (proj / "skills.json").read_bytes() == manifest  # never rewritten
    assert (
        "could not install beta" in doc["systemMessage"]
        and base.split("/")[0] in doc["systemMessage"]
    )
    context = doc["hookSpecificOutput"]["additionalContext"]
    assert str(proj / ".agents" / "skills" / "alpha" / "SKILL.md") in context
    assert "Use it when testing partial installs" in context  # the description
    assert "next session" in context
    assert not is_up_to_date(proj)  # the next session start tries beta again


def test_a_failed_skill_keeps_its_previous_tree_and_lock_entry(world: dict) -> None:
    proj, base = world["proj"], world["base"]
    assert run_cli("add", "oci:../store/alpha", cwd=proj).returncode == 0
    assert run_cli("add", f"{base}/beta:1.0.0", cwd=proj).returncode == 0
    before = (proj / ".agents/skills/beta/references/notes.md").read_bytes()
    data = json.loads((proj / "skills.json").read_text())
    for entry in data["skills"]:
        if entry["name"] == "beta":
            entry["version"] = "^2.0.0"  # must resolve again: needs the registry
    data["skills"].append({"name": "gamma", "source": f"{base}/gamma"})
    (proj / "skills.json").write_text(json.dumps(data, indent=2) + "\n")
    world["registry"].stop()

    done = run_cli("install", "--keep-going", cwd=proj)
    assert done.returncode == 1
    assert "error: beta:" in done.stderr and "error: gamma:" in done.stderr
    assert skills(proj) == ["alpha", "beta"]
    assert (proj / ".agents/skills/beta/references/notes.md").read_bytes() == before
    assert locked(proj) == {"alpha": "1.0.0", "beta": "1.0.0"}


def test_the_failed_skills_install_once_the_source_is_back(world: dict) -> None:
    proj, base = world["proj"], world["base"]
    write_manifest(
        proj,
        [
            {"name": "alpha", "source": "oci:../store/alpha"},
            {"name": "beta", "source": f"{base}/beta"},
        ],
    )
    world["registry"].stop()
    hook(proj, "gemini")
    world["registry"].start()
    doc = hook(proj, "gemini")
    assert skills(proj) == ["alpha", "beta"]
    context = doc["hookSpecificOutput"]["additionalContext"]
    assert "beta" in context and "/skills reload" in context
    assert is_up_to_date(proj)


def test_plain_install_and_frozen_stay_all_or_nothing(world: dict) -> None:
    proj, base = world["proj"], world["base"]
    write_manifest(
        proj,
        [
            {"name": "alpha", "source": "oci:../store/alpha"},
            {"name": "beta", "source": f"{base}/beta"},
        ],
    )
    world["registry"].stop()
    done = run_cli("install", cwd=proj)
    assert done.returncode == 1 and skills(proj) == []
    assert not (proj / "skills.lock.json").exists()
    done = run_cli("install", "--frozen", "--keep-going", cwd=proj)
    assert done.returncode == 2 and "--keep-going" in done.stderr


def test_when_every_skill_fails_nothing_is_written(world: dict) -> None:
    proj, base = world["proj"], world["base"]
    write_manifest(proj, [{"name": "beta", "source": f"{base}/beta"}])
    world["registry"].stop()
    doc = hook(proj, "claude")
    assert doc["systemMessage"].startswith("skillcrate:")
    assert sorted(p.name for p in proj.iterdir()) == ["skills.json"]


def test_claude_keeps_reload_and_gets_the_paths(world: dict) -> None:
    proj = world["proj"]
    write_manifest(proj, [{"name": "alpha", "source": "oci:../store/alpha"}])
    doc = hook(proj, "claude")
    specific = doc["hookSpecificOutput"]
    assert specific["reloadSkills"] is True
    assert str(proj / ".agents" / "skills" / "alpha" / "SKILL.md") in specific["additionalContext"]
    assert "next session" not in specific["additionalContext"]
