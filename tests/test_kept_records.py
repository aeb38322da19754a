"""The records of a kept skill: carried back as stored, never trusted unchecked.

An install (an `add` of one more skill, say) proves each kept folder by `lstat` against
install.txt, as the no-op check does; its file records in records.json are then written
back as they were read, not parsed (a project of hundreds of skills paid for parsing,
re-hashing and re-encoding them all on every `add`). Records are parsed, and must hash to
the recorded tree, whenever something uses them: a folder to prove by a walk, a link
that must be a copy, `verify`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skillcrate.fastpath import project_state_dir
from skillcrate.formats import pack
from skillcrate.installer.state import RECORDS_FILE
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed
from skillcrate.skill import tree
from skillcrate.skill.tree import tree_digest_of

from helpers import make_skill, run_cli

ALPHA = ".agents/skills/alpha"


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    for name in ("alpha", "beta", "gamma"):
        folder = make_skill(
            tmp_path / "src" / name,
            name,
            f"The {name} skill.",
            files={"references/a.md": f"{name} a\n", "scripts/run.sh": "#!/bin/sh\n"},
        )
        push_packed(LayoutRepository(tmp_path / "store" / name), pack(folder), ["1.0.0"])
    proj = tmp_path / "proj"
    proj.mkdir()
    ok(proj, "add", "oci:../store/alpha")
    return proj


def ok(proj: Path, *args: str) -> str:
    done = run_cli(*args, cwd=proj)
    assert done.returncode == 0, done.stderr
    return done.stdout


def records_path(proj: Path) -> Path:
    return project_state_dir(proj) / RECORDS_FILE


def stored(proj: Path) -> dict:
    return json.loads(records_path(proj).read_bytes())


def forge_alpha(proj: Path) -> list:
    """records.json says alpha's SKILL.md has another hash (install.txt left as it is)."""
    data = stored(proj)
    forged = [[r[0], "0" * 64, *r[2:]] if r[0] == "SKILL.md" else r for r in data[ALPHA]]
    data[ALPHA] = forged
    records_path(proj).write_text(json.dumps(data))
    return forged


def test_an_add_parses_no_record_of_a_kept_skill_and_writes_them_back_as_stored(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(proj, "add", "oci:../store/beta")
    before = stored(proj)
    parsed: list[object] = []
    real = tree.FileRecord.from_json
    monkeypatch.setattr(
        tree.FileRecord, "from_json", classmethod(lambda cls, v: parsed.append(v) or real(v))
    )
    ok(proj, "add", "oci:../store/gamma")
    assert parsed == []  # neither alpha's nor beta's records were parsed
    after = stored(proj)
    assert (
        after[ALPHA] == before[ALPHA]
        and after[".agents/skills/beta"] == before[".agents/skills/beta"]
    )
    assert ".agents/skills/gamma" in after
    assert "up to date" in run_cli("install", cwd=proj).stderr


def test_kept_records_that_do_not_hash_to_the_tree_are_never_trusted(proj: Path) -> None:
    forged = forge_alpha(proj)
    ok(proj, "add", "oci:../store/beta")  # alpha still lstats as recorded: carried as stored
    assert stored(proj)[ALPHA] == forged
    # once alpha must be proven by its records (touched: same bytes, new mtime), the
    # forged records are refused and the folder is built again from the lock's content
    skill_md = proj / ALPHA / "SKILL.md"
    os.utime(skill_md, ns=(1, 1))
    ok(proj, "install")
    honest = stored(proj)[ALPHA]
    assert honest != forged and all(r[1] != "0" * 64 for r in honest)
    lock = json.loads((proj / "skills.lock.json").read_text())
    [alpha] = [s for s in lock["skills"] if s["name"] == "alpha"]
    assert tree_digest_of(proj / ALPHA) == alpha["tree"]
    assert ok(proj, "verify", "--json")


def test_a_link_copy_of_a_kept_skill_is_made_from_checked_records(
    proj: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where symlinks cannot be made, a link is a copy of the skill's folder: the records
    the copy is checked against are parsed then, and records that do not hash to the tree
    are replaced by the folder's own hashes (which must hold the tree)."""

    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError(1, "symlinks not permitted")

    link = proj / ".claude/skills/alpha"
    link.unlink()
    monkeypatch.setattr(os, "symlink", no_symlinks)
    ok(proj, "install")  # alpha's link becomes a copy
    assert link.is_dir() and not link.is_symlink()
    forge_alpha(proj)
    ok(proj, "add", "oci:../store/beta")
    assert tree_digest_of(link) == tree_digest_of(proj / ALPHA)
    assert all(r[1] != "0" * 64 for r in stored(proj)[ALPHA])  # made again from the files
    # the control: the folder itself changed after its lstat proof cannot be copied
    monkeypatch.setattr(
        "skillcrate.installer.apply.hashed_records",
        lambda folder: [tree.FileRecord("SKILL.md", "1" * 64, False, 1, 1, 1)],
    )
    forge_alpha(proj)
    done = run_cli("add", "oci:../store/gamma", cwd=proj)
    assert done.returncode == 1
    assert "changed while it was installed" in done.stderr
