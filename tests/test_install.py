"""Tests for materialising skills into a project (skillcrate.install)."""

from __future__ import annotations

import builtins
import hashlib
import os
import stat
from pathlib import Path

import pytest

from skillcrate import install
from skillcrate.errors import ProjectError, UnsafePath
from skillcrate.install import (
    GITIGNORE_END,
    GITIGNORE_START,
    STATE_FILE,
    InstallState,
    TreeFile,
    diff_tree,
    is_owned,
    link_skill,
    materialise,
    read_state,
    record_skill,
    remove_owned,
    skill_path,
    state_is_fresh,
    tree_digest,
    tree_digest_of,
    tree_files,
    unlink_skill,
    update_gitignore,
    write_state,
)

LOCK = "sha256:" + "1" * 64


def make_tree(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, 0o755 if rel in executable else 0o644)
    return root


SKILL = {"SKILL.md": "---\nname: review\n---\nReview code.\n", "scripts/run.sh": "#!/bin/sh\n"}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "cache" / "unpacked", SKILL, executable=("scripts/run.sh",))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def staging_leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".staging") or ".old-" in n]


# -- tree digest ----------------------------------------------------------------------


def test_tree_files_lists_regular_files_sorted(source: Path) -> None:
    (source / "empty").mkdir()
    files = tree_files(source)
    assert [(f.path, f.executable, f.size) for f in files] == [
        ("SKILL.md", False, len(SKILL["SKILL.md"])),
        ("scripts/run.sh", True, len(SKILL["scripts/run.sh"])),
    ]
    assert files[0].sha256 == hashlib.sha256(SKILL["SKILL.md"].encode()).hexdigest()


def test_tree_digest_matches_its_definition(source: Path) -> None:
    lines = "".join(
        f"{mode} {hashlib.sha256(SKILL[p].encode()).hexdigest()} {p}\n"
        for mode, p in (("644", "SKILL.md"), ("755", "scripts/run.sh"))
    )
    expected = "sha256:" + hashlib.sha256(lines.encode()).hexdigest()
    assert tree_digest_of(source) == expected
    assert tree_digest(reversed(tree_files(source))) == expected
    assert tree_digest([]) == "sha256:" + hashlib.sha256(b"").hexdigest()


def test_tree_digest_is_stable(tmp_path: Path, source: Path) -> None:
    other = make_tree(tmp_path / "other", dict(reversed(SKILL.items())), ("scripts/run.sh",))
    (other / "empty-dir").mkdir()
    assert tree_digest_of(other) == tree_digest_of(source)
    assert tree_digest_of(source) == tree_digest_of(source)


def test_tree_digest_is_sensitive_to_content_mode_and_path(source: Path) -> None:
    before = tree_digest_of(source)
    (source / "SKILL.md").write_text(SKILL["SKILL.md"] + " ")
    edited = tree_digest_of(source)
    assert edited != before
    (source / "SKILL.md").write_text(SKILL["SKILL.md"])
    assert tree_digest_of(source) == before

    os.chmod(source / "scripts/run.sh", 0o644)
    assert tree_digest_of(source) != before
    os.chmod(source / "scripts/run.sh", 0o755)
    assert tree_digest_of(source) == before

    os.rename(source / "scripts", source / "bin")
    assert tree_digest_of(source) != before


def test_tree_files_refuses_symlinks_and_special_files(source: Path) -> None:
    (source / "link").symlink_to("SKILL.md")
    with pytest.raises(UnsafePath, match="symlink"):
        tree_files(source)
    (source / "link").unlink()
    if hasattr(os, "mkfifo"):
        os.mkfifo(source / "pipe")
        with pytest.raises(UnsafePath, match="special file"):
            tree_files(source)


def test_tree_files_refuses_newline_in_names(source: Path) -> None:
    (source / "evil\nname").write_text("x")
    with pytest.raises(UnsafePath, match="newline"):
        tree_files(source)


# -- diff -----------------------------------------------------------------------------


def test_diff_tree_names_each_difference(tmp_path: Path, source: Path) -> None:
    make_tree(source, {"docs/a.md": "a", "docs/b.md": "b"})
    expected = tree_files(source)
    assert diff_tree(source, expected).clean

    (source / "SKILL.md").write_text("changed")  # modified, different size
    (source / "docs/a.md").write_text("A")  # modified, same size
    (source / "docs/b.md").unlink()  # missing
    (source / "notes.txt").write_text("extra")  # extra
    os.chmod(source / "scripts/run.sh", 0o644)  # mode changed
    diff = diff_tree(source, expected)
    assert diff.modified == ["SKILL.md", "docs/a.md"]
    assert diff.missing == ["docs/b.md"]
    assert diff.extra == ["notes.txt"]
    assert diff.mode_changed == ["scripts/run.sh"]
    assert not diff.clean


def test_diff_tree_of_missing_folder(tmp_path: Path, source: Path) -> None:
    diff = diff_tree(tmp_path / "nowhere", tree_files(source))
    assert diff.missing == ["SKILL.md", "scripts/run.sh"]


def test_diff_tree_reports_a_symlink_in_place_of_a_file(source: Path) -> None:
    expected = tree_files(source)
    (source / "SKILL.md").unlink()
    (source / "SKILL.md").symlink_to("scripts/run.sh")
    assert diff_tree(source, expected).modified == ["SKILL.md"]


# -- materialise ----------------------------------------------------------------------


def test_materialise_copies_the_tree(source: Path, project: Path) -> None:
    (source / "empty").mkdir()
    os.chmod(source / "SKILL.md", 0o444)  # cache files may be read-only
    dest = skill_path(project, "review")
    materialise(source, dest)
    assert tree_digest_of(dest) == tree_digest_of(source)
    assert (dest / "empty").is_dir()
    assert os.access(dest / "scripts/run.sh", os.X_OK)
    assert stat.S_IMODE((dest / "SKILL.md").stat().st_mode) & 0o200  # installed copy writable
    assert (dest / "SKILL.md").stat().st_ino != (source / "SKILL.md").stat().st_ino
    assert staging_leftovers(dest.parent) == []


def test_editing_an_installed_file_leaves_the_cache_alone(source: Path, project: Path) -> None:
    dest = skill_path(project, "review")
    materialise(source, dest)
    (dest / "SKILL.md").write_text("edited")
    assert (source / "SKILL.md").read_text() == SKILL["SKILL.md"]


def test_materialise_replaces_an_existing_tree(tmp_path: Path, source: Path, project: Path) -> None:
    dest = skill_path(project, "review")
    make_tree(dest, {"old.md": "old", "SKILL.md": "old"})
    materialise(source, dest)
    assert sorted(f.path for f in tree_files(dest)) == ["SKILL.md", "scripts/run.sh"]
    assert (dest / "SKILL.md").read_text() == SKILL["SKILL.md"]
    assert staging_leftovers(dest.parent) == []


def test_failing_materialise_keeps_the_old_tree(
    source: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = skill_path(project, "review")
    make_tree(dest, {"old.md": "old"})
    before = tree_digest_of(dest)
    real_copy = install._copy_file
    copied: list[str] = []

    def flaky_copy(src: str, dst: Path, executable: bool) -> None:
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(src)
        real_copy(src, dst, executable)

    monkeypatch.setattr(install, "_copy_file", flaky_copy)
    with pytest.raises(OSError, match="No space"):
        materialise(source, dest)
    assert copied  # it failed mid-way, after one file
    assert tree_digest_of(dest) == before
    assert staging_leftovers(dest.parent) == []


def test_materialise_refuses_a_symlink_in_the_source(source: Path, project: Path) -> None:
    dest = skill_path(project, "review")
    make_tree(dest, {"old.md": "old"})
    (source / "zz-link").symlink_to("/etc/passwd")
    with pytest.raises(UnsafePath):
        materialise(source, dest)
    assert (dest / "old.md").read_text() == "old"
    assert staging_leftovers(dest.parent) == []


def test_skill_path_refuses_unsafe_names(project: Path) -> None:
    assert skill_path(project, "review") == project / ".agents" / "skills" / "review"
    for bad in ["", ".", "..", "../x", "a/b", ".hidden"]:
        with pytest.raises(UnsafePath):
            skill_path(project, bad)


# -- links ----------------------------------------------------------------------------


@pytest.fixture
def installed(source: Path, project: Path) -> Path:
    dest = skill_path(project, "review")
    materialise(source, dest)
    return dest


def test_link_is_relative(project: Path, installed: Path) -> None:
    link = link_skill(project, ".claude/skills", "review", installed)
    assert link == project / ".claude" / "skills" / "review"
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("..", "..", ".agents", "skills", "review")
    assert link.resolve() == installed.resolve()
    assert (link / "SKILL.md").read_text() == SKILL["SKILL.md"]
    # Idempotent, and still relative when the project moves.
    assert link_skill(project, ".claude/skills", "review", installed) == link
    moved = project.with_name("moved")
    project.rename(moved)
    assert (moved / ".claude/skills/review/SKILL.md").is_file()


def test_link_replaces_an_owned_symlink(tmp_path: Path, project: Path, installed: Path) -> None:
    link = project / ".claude/skills/review"
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path)
    with pytest.raises(ProjectError, match="not created by skillcrate"):
        link_skill(project, ".claude/skills", "review", installed)
    link_skill(project, ".claude/skills", "review", installed, owned={".claude/skills/review"})
    assert link.resolve() == installed.resolve()


def test_link_refuses_a_foreign_folder(project: Path, installed: Path) -> None:
    foreign = make_tree(project / ".claude/skills/review", {"SKILL.md": "mine"})
    with pytest.raises(ProjectError, match=r"\.claude/skills/review"):
        link_skill(project, ".claude/skills", "review", installed)
    assert (foreign / "SKILL.md").read_text() == "mine"
    assert not foreign.is_symlink()


def test_link_replaces_an_owned_folder(project: Path, installed: Path) -> None:
    make_tree(project / ".claude/skills/review", {"SKILL.md": "old copy"})
    link = link_skill(
        project, ".claude/skills", "review", installed, owned=[".claude/skills/review/"]
    )
    assert link.is_symlink()
    assert staging_leftovers(link.parent) == []


def test_link_falls_back_to_a_copy(
    project: Path, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError(1, "symlinks not permitted")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    link = link_skill(project, ".claude/skills", "review", installed)
    assert link.is_dir() and not link.is_symlink()
    assert tree_digest_of(link) == tree_digest_of(installed)
    assert [n for n in os.listdir(link.parent) if n != "review"] == []
    # A second run recognises its own identical copy and refreshes it.
    assert link_skill(project, ".claude/skills", "review", installed) == link


def test_unlink_skill_removes_only_ours(project: Path, installed: Path) -> None:
    link_skill(project, ".claude/skills", "review", installed)
    assert unlink_skill(project, ".claude/skills", "review")
    assert not os.path.lexists(project / ".claude/skills/review")
    assert not unlink_skill(project, ".claude/skills", "review")

    foreign = make_tree(project / ".claude/skills/review", {"SKILL.md": "mine"})
    assert not unlink_skill(project, ".claude/skills", "review")
    assert foreign.is_dir()
    assert unlink_skill(project, ".claude/skills", "review", owned={".claude/skills/review"})
    assert not foreign.exists()


def test_remove_owned_never_touches_unowned_paths(project: Path, installed: Path) -> None:
    assert not remove_owned(project, ".agents/skills/review", owned=set())
    assert installed.is_dir()
    assert remove_owned(project, ".agents/skills/review", owned={".agents/skills/review"})
    assert not installed.exists()
    with pytest.raises(UnsafePath):
        remove_owned(project, "../outside", owned={"../outside"})


# -- .gitignore ---------------------------------------------------------------------


def block(*lines: str, eol: str = "\n") -> str:
    body = [GITIGNORE_START, *lines, GITIGNORE_END]
    return "".join(line + eol for line in body)


STATE_LINE = "/.agents/skills/.skillcrate-state.json"


def test_gitignore_block_is_created_and_idempotent(project: Path, installed: Path) -> None:
    link_skill(project, ".claude/skills", "review", installed)
    paths = [
        ".claude/skills/review",
        ".agents/skills/review",
        ".agents/skills/review",
        ".agents/skills",
    ]
    assert update_gitignore(project, paths)
    text = (project / ".gitignore").read_text()
    assert text == block(STATE_LINE, "/.agents/skills/review/", "/.claude/skills/review")
    mtime = (project / ".gitignore").stat().st_mtime_ns
    assert not update_gitignore(project, reversed(paths))
    assert (project / ".gitignore").stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "before",
    [
        "node_modules/\n*.log\n",
        "node_modules/\r\n*.log\r\n",
        "node_modules/\n*.log",  # no final newline
        "",
    ],
)
def test_gitignore_preserves_the_rest_and_round_trips(
    project: Path, installed: Path, before: str
) -> None:
    path = project / ".gitignore"
    path.write_bytes(before.encode())
    assert update_gitignore(project, [".agents/skills/review"])
    after = path.read_bytes().decode()
    assert after.startswith(before)
    assert "/.agents/skills/review/" in after
    eol = "\r\n" if "\r\n" in before else "\n"
    assert GITIGNORE_START + eol in after
    assert not update_gitignore(project, [".agents/skills/review"])
    assert update_gitignore(project, [])
    if before:
        assert path.read_bytes() == before.encode()
    else:
        assert not path.exists()


def test_gitignore_block_in_the_middle_is_replaced_in_place(project: Path) -> None:
    path = project / ".gitignore"
    path.write_text("top\n" + block("/.agents/skills/old/") + "bottom\n# trailing comment")
    assert update_gitignore(project, [".agents/skills/new/"])
    assert path.read_text() == (
        "top\n" + block(STATE_LINE, "/.agents/skills/new/") + "bottom\n# trailing comment"
    )
    assert update_gitignore(project, [])
    assert path.read_text() == "top\nbottom\n# trailing comment"


def test_gitignore_without_paths_and_without_file_does_nothing(project: Path) -> None:
    assert not update_gitignore(project, [])
    assert not (project / ".gitignore").exists()


def test_gitignore_refuses_a_broken_block(project: Path) -> None:
    (project / ".gitignore").write_text(GITIGNORE_START + "\n/x\n")
    with pytest.raises(ProjectError, match="end marker"):
        update_gitignore(project, [".agents/skills/review"])


# -- install state ------------------------------------------------------------------


def install_project(project: Path, installed: Path) -> InstallState:
    link = link_skill(project, ".claude/skills", "review", installed)
    skill = record_skill(installed, project=project, links=[link])
    state = InstallState(lock=LOCK, skills={"review": skill}, owned=list(skill.paths))
    write_state(project, state)
    return state


def test_state_round_trip(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    assert state.skills["review"].paths == [".agents/skills/review", ".claude/skills/review"]
    assert state.skills["review"].links == {
        ".claude/skills/review": os.path.join("..", "..", ".agents", "skills", "review")
    }
    assert state.skills["review"].tree == tree_digest_of(installed)
    loaded = read_state(project)
    assert loaded == state
    assert is_owned(loaded, ".agents/skills/review")
    assert is_owned(loaded, "./.claude/skills/review/")
    assert not is_owned(loaded, ".agents/skills/other")
    assert not is_owned(None, ".agents/skills/review")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", b'{"version": 2, "lock": "x", "skills": {}}', b'{"version": 1}'],
)
def test_read_state_never_raises(project: Path, content: bytes) -> None:
    assert read_state(project) is None
    path = project / STATE_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert read_state(project) is None


def test_state_is_fresh_right_after_install(project: Path, installed: Path) -> None:
    install_project(project, installed)
    state = read_state(project)
    assert state is not None
    assert state_is_fresh(project, state, LOCK)


def test_state_freshness_uses_only_stat(
    project: Path, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = install_project(project, installed)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("state_is_fresh must not read file contents")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(install, "_hash_file", forbidden)
    assert state_is_fresh(project, state, LOCK)


def test_fresh_detects_a_changed_lock(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    assert not state_is_fresh(project, state, "sha256:" + "2" * 64)


def test_fresh_detects_a_size_change(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    (installed / "SKILL.md").write_text("different length")
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_a_same_size_edit(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    text = (installed / "SKILL.md").read_text()
    (installed / "SKILL.md").write_text(text.upper())  # same size, new mtime
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_an_mtime_change(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    os.utime(installed / "SKILL.md", ns=(1, 1))
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_an_exec_bit_change(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    st = (installed / "scripts/run.sh").stat()
    os.chmod(installed / "scripts/run.sh", 0o644)
    os.utime(installed / "scripts/run.sh", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_a_deleted_file(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    (installed / "scripts/run.sh").unlink()
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_an_extra_file(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    (installed / "scripts" / "new.sh").write_text("")
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_a_deleted_skill_folder(project: Path, installed: Path) -> None:
    state = install_project(project, installed)
    os.rename(installed, installed.with_name("elsewhere"))
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_detects_a_broken_or_moved_link(
    tmp_path: Path, project: Path, installed: Path
) -> None:
    state = install_project(project, installed)
    link = project / ".claude/skills/review"
    link.unlink()
    assert not state_is_fresh(project, state, LOCK)
    link.symlink_to(tmp_path)
    assert not state_is_fresh(project, state, LOCK)
    link.unlink()
    link.symlink_to(os.path.join("..", "..", ".agents", "skills", "review"))
    assert state_is_fresh(project, state, LOCK)


def test_fresh_checks_copied_links(
    project: Path, installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError(1, "symlinks not permitted")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    state = install_project(project, installed)
    assert ".claude/skills/review" in state.skills["review"].copies
    assert read_state(project) == state
    assert state_is_fresh(project, state, LOCK)
    (project / ".claude/skills/review/extra.md").write_text("x")
    assert not state_is_fresh(project, state, LOCK)


def test_fresh_is_cheap_for_many_skills(tmp_path: Path, project: Path) -> None:
    skills = {}
    for i in range(20):
        src = make_tree(tmp_path / f"src{i}", {f"f{j}.md": f"{i}-{j}" for j in range(10)})
        dest = skill_path(project, f"skill{i}")
        materialise(src, dest)
        skills[f"skill{i}"] = record_skill(dest, project=project)
    state = InstallState(lock=LOCK, skills=skills, owned=[s.paths[0] for s in skills.values()])
    write_state(project, state)
    loaded = read_state(project)
    assert loaded is not None and state_is_fresh(project, loaded, LOCK)
    (project / ".agents/skills/skill7/f3.md").write_text("changed!")
    assert not state_is_fresh(project, loaded, LOCK)


def test_tree_file_record_matches_tree_files(installed: Path) -> None:
    skill = record_skill(installed)
    assert skill.paths == []
    assert {
        rel: TreeFile(rel, r.executable, r.size, r.sha256) for rel, r in skill.files.items()
    } == {f.path: f for f in tree_files(installed)}
