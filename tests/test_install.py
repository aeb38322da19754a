"""Tests for trees, materialising skills into a project, links, .gitignore and install state."""

from __future__ import annotations

import builtins
import hashlib
import os
import stat
from pathlib import Path

import pytest

from skillcrate.boundary import Boundary, skill_rel
from skillcrate.errors import DigestMismatch, ProjectError, UnsafePath
from skillcrate.fastpath import artifacts_fresh, dir_stat
from skillcrate.installer import materialise as install
from skillcrate.installer.gitignore import GITIGNORE_END, GITIGNORE_START, update_gitignore
from skillcrate.installer.links import place_link
from skillcrate.installer.materialise import materialise
from skillcrate.installer.state import (
    Artifact,
    InstallState,
    StoredRecords,
    folder_artifact,
    read_state,
    write_state,
)
from skillcrate.skill import tree
from skillcrate.skill.tree import (
    FileRecord,
    TreeFile,
    diff_tree,
    tree_digest,
    tree_digest_of,
    tree_files,
)

LOCK = b'{"skills": []}\n\n\x00\n{"lockfileVersion": 1}\n'  # inputs_blob-shaped bytes


def make_tree(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(path, 0o755 if rel in executable else 0o644)
    return root


def records_of(folder: Path) -> list[FileRecord]:
    """Records of a folder as the cache keeps them (hash + lstat)."""
    out = []
    for f in tree_files(folder):
        st = os.lstat(folder / f.path)
        out.append(
            FileRecord(f.path, f.sha256, f.executable, f.size, st.st_mtime_ns, st.st_ctime_ns)
        )
    return out


SKILL = {"SKILL.md": "---\nname: review\n---\nReview code.\n", "scripts/run.sh": "#!/bin/sh\n"}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "cache" / "unpacked", SKILL, executable=("scripts/run.sh",))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def boundary(project: Path) -> Boundary:
    return Boundary(project)


def staging_leftovers(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".skillcrate-")]


def put(boundary: Boundary, source: Path, name: str = "review") -> list[FileRecord]:
    return materialise(boundary, skill_rel(name), source, records_of(source))


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


def test_materialise_copies_the_tree(source: Path, project: Path, boundary: Boundary) -> None:
    (source / "empty").mkdir()
    os.chmod(source / "SKILL.md", 0o444)  # cache files may be read-only
    records = put(boundary, source)
    dest = project / ".agents/skills/review"
    assert tree_digest_of(dest) == tree_digest_of(source)
    assert tree.records_tree(records) == tree_digest_of(source)
    assert (dest / "empty").is_dir()
    assert os.access(dest / "scripts/run.sh", os.X_OK)
    assert stat.S_IMODE((dest / "SKILL.md").stat().st_mode) & 0o200  # installed copy writable
    assert (dest / "SKILL.md").stat().st_ino != (source / "SKILL.md").stat().st_ino
    assert staging_leftovers(dest.parent) == []
    assert tree.scan_stat(str(dest)) == tree.stat_digest(records)


def test_editing_an_installed_file_leaves_the_cache_alone(
    source: Path, project: Path, boundary: Boundary
) -> None:
    put(boundary, source)
    (project / ".agents/skills/review/SKILL.md").write_text("edited")
    assert (source / "SKILL.md").read_text() == SKILL["SKILL.md"]


def test_materialise_replaces_an_existing_tree(
    source: Path, project: Path, boundary: Boundary
) -> None:
    dest = make_tree(project / ".agents/skills/review", {"old.md": "old", "SKILL.md": "old"})
    put(boundary, source)
    assert sorted(f.path for f in tree_files(dest)) == ["SKILL.md", "scripts/run.sh"]
    assert (dest / "SKILL.md").read_text() == SKILL["SKILL.md"]
    assert staging_leftovers(dest.parent) == []


def test_failing_materialise_keeps_the_old_tree(
    source: Path, project: Path, boundary: Boundary, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = make_tree(project / ".agents/skills/review", {"old.md": "old"})
    before = tree_digest_of(dest)
    real_copy = install._copy_file
    copied: list[str] = []

    def flaky_copy(src: str, *args: object) -> FileRecord:
        if copied:
            raise OSError(28, "No space left on device")
        copied.append(src)
        return real_copy(src, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(install, "_copy_file", flaky_copy)
    with pytest.raises(Exception, match="No space"):
        put(boundary, source)
    assert copied  # it failed mid-way, after one file
    assert tree_digest_of(dest) == before
    assert staging_leftovers(dest.parent) == []


def test_materialise_refuses_a_symlink_in_the_source(
    source: Path, project: Path, boundary: Boundary
) -> None:
    dest = make_tree(project / ".agents/skills/review", {"old.md": "old"})
    records = records_of(source)
    (source / "zz-link").symlink_to("/etc/passwd")
    with pytest.raises(UnsafePath):
        materialise(boundary, skill_rel("review"), source, records)
    assert (dest / "old.md").read_text() == "old"
    assert staging_leftovers(dest.parent) == []


def test_materialise_refuses_a_source_that_differs_from_its_records(
    source: Path, project: Path, boundary: Boundary
) -> None:
    records = records_of(source)
    (source / "SKILL.md").write_text("poisoned and longer than before")
    with pytest.raises(DigestMismatch):
        materialise(boundary, skill_rel("review"), source, records)
    assert not (project / ".agents/skills/review").exists()


def test_skill_paths_refuse_unsafe_names(project: Path) -> None:
    assert skill_rel("review") == ".agents/skills/review"
    for bad in ["", ".", "..", "../x", "a/b", ".hidden", "Review"]:
        with pytest.raises(UnsafePath):
            skill_rel(bad)


# -- links ----------------------------------------------------------------------------


@pytest.fixture
def installed(source: Path, project: Path, boundary: Boundary) -> list[FileRecord]:
    return put(boundary, source)


def link(boundary: Boundary, records: list[FileRecord], *, owned: bool = False):  # noqa: ANN201
    return place_link(
        boundary,
        ".claude/skills/review",
        skill_rel("review"),
        owned=owned,
        source=boundary.path(skill_rel("review")),
        records=records,
    )


def test_link_is_relative(project: Path, boundary: Boundary, installed: list) -> None:
    text, copy = link(boundary, installed)
    path = project / ".claude" / "skills" / "review"
    assert copy is None and text == os.path.join("..", "..", ".agents", "skills", "review")
    assert path.is_symlink()
    assert os.readlink(path) == text
    assert path.resolve() == (project / ".agents/skills/review").resolve()
    assert (path / "SKILL.md").read_text() == SKILL["SKILL.md"]
    # Idempotent, and still relative when the project moves.
    assert link(boundary, installed) == (text, None)
    moved = project.with_name("moved")
    project.rename(moved)
    assert (moved / ".claude/skills/review/SKILL.md").is_file()


def test_link_replaces_an_owned_symlink(
    tmp_path: Path, project: Path, boundary: Boundary, installed: list
) -> None:
    path = project / ".claude/skills/review"
    path.parent.mkdir(parents=True)
    path.symlink_to(tmp_path)
    with pytest.raises(ProjectError, match="not created by skillcrate"):
        link(boundary, installed)
    link(boundary, installed, owned=True)
    assert path.resolve() == (project / ".agents/skills/review").resolve()


def test_link_refuses_a_foreign_folder(project: Path, boundary: Boundary, installed: list) -> None:
    foreign = make_tree(project / ".claude/skills/review", {"SKILL.md": "mine"})
    with pytest.raises(ProjectError, match=r"\.claude/skills/review"):
        link(boundary, installed)
    assert (foreign / "SKILL.md").read_text() == "mine"
    assert not foreign.is_symlink()


def test_link_replaces_an_owned_folder(project: Path, boundary: Boundary, installed: list) -> None:
    make_tree(project / ".claude/skills/review", {"SKILL.md": "old copy"})
    link(boundary, installed, owned=True)
    assert (project / ".claude/skills/review").is_symlink()
    assert staging_leftovers(project / ".claude/skills") == []


def test_link_falls_back_to_a_copy(
    project: Path, boundary: Boundary, installed: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError(1, "symlinks not permitted")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    text, copy = link(boundary, installed)
    path = project / ".claude/skills/review"
    assert text is None and copy is not None
    assert path.is_dir() and not path.is_symlink()
    assert tree_digest_of(path) == tree_digest_of(project / ".agents/skills/review")
    assert [n for n in os.listdir(path.parent) if n != "review"] == []
    # A second run recognises its own identical copy and refreshes it.
    assert link(boundary, installed)[1] is not None


def test_links_and_folders_never_go_through_a_symlinked_folder(
    tmp_path: Path, project: Path, boundary: Boundary, source: Path, installed: list
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / ".claude").symlink_to(outside)
    with pytest.raises(UnsafePath, match="symbolic link"):
        link(boundary, installed)
    assert list(outside.iterdir()) == []


# -- .gitignore ---------------------------------------------------------------------


def block(*lines: str, eol: str = "\n") -> str:
    body = [GITIGNORE_START, *lines, GITIGNORE_END]
    return "".join(line + eol for line in body)


TEMP_LINE = ".skillcrate-*"


def test_gitignore_block_is_created_and_idempotent(
    project: Path, boundary: Boundary, installed: list
) -> None:
    link(boundary, installed)
    paths = {".claude/skills/review": False, ".agents/skills/review": True, ".agents/skills": True}
    assert update_gitignore(boundary, paths)
    text = (project / ".gitignore").read_text()
    assert text == block(TEMP_LINE, "/.agents/skills/review/", "/.claude/skills/review")
    mtime = (project / ".gitignore").stat().st_mtime_ns
    assert not update_gitignore(boundary, dict(reversed(paths.items())))
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
    project: Path, boundary: Boundary, installed: list, before: str
) -> None:
    path = project / ".gitignore"
    path.write_bytes(before.encode())
    assert update_gitignore(boundary, {".agents/skills/review": True})
    after = path.read_bytes().decode()
    assert after.startswith(before)
    assert "/.agents/skills/review/" in after
    eol = "\r\n" if "\r\n" in before else "\n"
    assert GITIGNORE_START + eol in after
    assert not update_gitignore(boundary, {".agents/skills/review": True})
    assert update_gitignore(boundary, {})
    if before:
        assert path.read_bytes() == before.encode()
    else:
        assert not path.exists()


def test_gitignore_block_in_the_middle_is_replaced_in_place(
    project: Path, boundary: Boundary
) -> None:
    path = project / ".gitignore"
    path.write_text("top\n" + block("/.agents/skills/old/") + "bottom\n# trailing comment")
    assert update_gitignore(boundary, {".agents/skills/new/": True})
    assert path.read_text() == (
        "top\n" + block(TEMP_LINE, "/.agents/skills/new/") + "bottom\n# trailing comment"
    )
    assert update_gitignore(boundary, {})
    assert path.read_text() == "top\nbottom\n# trailing comment"


def test_gitignore_without_paths_and_without_file_does_nothing(
    project: Path, boundary: Boundary
) -> None:
    assert not update_gitignore(boundary, {})
    assert not (project / ".gitignore").exists()


def test_gitignore_refuses_a_broken_block(project: Path, boundary: Boundary) -> None:
    (project / ".gitignore").write_text(GITIGNORE_START + "\n/x\n")
    with pytest.raises(ProjectError, match="end marker"):
        update_gitignore(boundary, {".agents/skills/review": True})


def test_gitignore_patterns_are_literal(project: Path, boundary: Boundary) -> None:
    assert update_gitignore(boundary, {"docs/*/x": False, "a/[b]?": False})
    text = (project / ".gitignore").read_text()
    assert "/docs/\\*/x\n" in text and "/a/\\[b]\\?\n" in text


# -- install state ------------------------------------------------------------------


def install_project(
    project: Path, boundary: Boundary, records: list, *, dirs: bool = True
) -> InstallState:
    """The state an install writes; ``dirs``: with the folder stat lines (what install
    records for folders it made, so the no-op check lstats recorded paths), else without
    (the no-op check lists every folder)."""
    text, _ = link(boundary, records)
    rel = skill_rel("review")
    folder_lines = dir_stat(str(project / rel)) if dirs else None
    assert (folder_lines is not None) == dirs  # materialise backdated the folders
    artifacts = {
        rel: folder_artifact(rel, "review", records, folder_lines),
        ".claude/skills/review": Artifact(".claude/skills/review", "review", link=text),
    }
    write_state(project, LOCK, artifacts, {rel: records})
    state = read_state(project, records=True)
    assert state is not None
    return state


def test_state_round_trip(project: Path, boundary: Boundary, installed: list) -> None:
    state = install_project(project, boundary, installed)
    assert state.owned == {".agents/skills/review", ".claude/skills/review"}
    assert state.artifacts[".claude/skills/review"].link == os.path.join(
        "..", "..", ".agents", "skills", "review"
    )
    assert state.artifacts[".agents/skills/review"].tree == tree_digest_of(
        project / ".agents/skills/review"
    )
    assert state.records_for(".agents/skills/review") == installed
    assert not (project / ".agents/skills/.skillcrate-state.json").exists()  # outside


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"version": 1, "lock": "x", "skills": {}}',
        b'{"version": 2}',
        b"[" * 100_000,
    ],
)
def test_read_state_never_raises(project: Path, content: bytes) -> None:
    from skillcrate.installer.state import INSTALL_FILE, project_dir

    assert read_state(project) is None
    path = project_dir(project) / INSTALL_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert read_state(project) is None


def test_records_that_do_not_hash_to_the_tree_are_ignored(
    project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    forged = [FileRecord("SKILL.md", "0" * 64, False, 1, 1, 1).to_json()]
    state.records[".agents/skills/review"] = StoredRecords(forged)
    assert state.records_for(".agents/skills/review") is None


def test_state_is_fresh_right_after_install(
    project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    assert artifacts_fresh(project, state.artifacts)


def test_state_freshness_uses_only_stat(
    project: Path, boundary: Boundary, installed: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = install_project(project, boundary, installed)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("freshness must not read file contents")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(tree, "hash_file", forbidden)
    assert artifacts_fresh(project, state.artifacts)


def test_fresh_detects_a_size_change(project: Path, boundary: Boundary, installed: list) -> None:
    state = install_project(project, boundary, installed)
    (project / ".agents/skills/review/SKILL.md").write_text("different length")
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_a_same_size_edit(project: Path, boundary: Boundary, installed: list) -> None:
    state = install_project(project, boundary, installed)
    path = project / ".agents/skills/review/SKILL.md"
    path.write_text(path.read_text().upper())  # same size, new mtime
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_an_mtime_change(project: Path, boundary: Boundary, installed: list) -> None:
    state = install_project(project, boundary, installed)
    os.utime(project / ".agents/skills/review/SKILL.md", ns=(1, 1))
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_an_edit_with_the_mtime_put_back(
    project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    path = project / ".agents/skills/review/SKILL.md"
    st = path.stat()
    path.write_text(path.read_text().upper())
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ctime still moved
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_an_exec_bit_change(
    project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    script = project / ".agents/skills/review/scripts/run.sh"
    st = script.stat()
    os.chmod(script, 0o644)
    os.utime(script, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_a_deleted_file(project: Path, boundary: Boundary, installed: list) -> None:
    state = install_project(project, boundary, installed)
    (project / ".agents/skills/review/scripts/run.sh").unlink()
    assert not artifacts_fresh(project, state.artifacts)


@pytest.mark.parametrize("dirs", [True, False], ids=["recorded-paths", "listing"])
def test_fresh_detects_an_extra_file(
    project: Path, boundary: Boundary, installed: list, dirs: bool
) -> None:
    state = install_project(project, boundary, installed, dirs=dirs)
    assert artifacts_fresh(project, state.artifacts)
    (project / ".agents/skills/review/scripts/new.sh").write_text("")
    assert not artifacts_fresh(project, state.artifacts)


@pytest.mark.parametrize("dirs", [True, False], ids=["recorded-paths", "listing"])
def test_fresh_detects_a_renamed_file_and_a_new_folder(
    project: Path, boundary: Boundary, installed: list, dirs: bool
) -> None:
    state = install_project(project, boundary, installed, dirs=dirs)
    script = project / ".agents/skills/review/scripts/run.sh"
    script.rename(script.with_name("moved.sh"))
    assert not artifacts_fresh(project, state.artifacts)
    script.with_name("moved.sh").rename(script)
    (project / ".agents/skills/review/scripts/more").mkdir()  # an empty folder is a change
    assert not artifacts_fresh(project, state.artifacts)


def test_folder_lines_are_not_taken_for_a_folder_changed_just_now(
    project: Path, installed: list
) -> None:
    """A change a few milliseconds after the recorded one may keep the folder's mtime
    (coarse file system clock): a folder changed less than two seconds ago gets no
    folder lines, so the no-op check lists it instead."""
    folder = project / ".agents/skills/review"
    assert dir_stat(str(folder)) is not None
    (folder / "scripts" / "x").write_text("")
    (folder / "scripts" / "x").unlink()
    assert dir_stat(str(folder)) is None


def test_fresh_detects_a_deleted_skill_folder(
    project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    folder = project / ".agents/skills/review"
    os.rename(folder, folder.with_name("elsewhere"))
    assert not artifacts_fresh(project, state.artifacts)


@pytest.mark.parametrize("folder", [".agents", ".agents/skills", ".claude", ".claude/skills"])
def test_fresh_detects_a_symlinked_install_folder(
    tmp_path: Path, project: Path, boundary: Boundary, installed: list, folder: str
) -> None:
    state = install_project(project, boundary, installed)
    assert artifacts_fresh(project, state.artifacts)
    real = tmp_path / "real-folder"
    os.rename(project / folder, real)
    (project / folder).symlink_to(real)  # same files, reached through a link
    assert not artifacts_fresh(project, state.artifacts)


def test_fresh_detects_a_broken_or_moved_link(
    tmp_path: Path, project: Path, boundary: Boundary, installed: list
) -> None:
    state = install_project(project, boundary, installed)
    path = project / ".claude/skills/review"
    path.unlink()
    assert not artifacts_fresh(project, state.artifacts)
    path.symlink_to(tmp_path)
    assert not artifacts_fresh(project, state.artifacts)
    path.unlink()
    path.symlink_to(os.path.join("..", "..", ".agents", "skills", "review"))
    assert artifacts_fresh(project, state.artifacts)


def test_fresh_is_cheap_for_many_skills(tmp_path: Path, project: Path, boundary: Boundary) -> None:
    artifacts, records = {}, {}
    for i in range(20):
        src = make_tree(tmp_path / f"src{i}", {f"f{j}.md": f"{i}-{j}" for j in range(10)})
        rel = skill_rel(f"skill{i}")
        recs = materialise(boundary, rel, src, records_of(src))
        artifacts[rel] = folder_artifact(rel, f"skill{i}", recs)
        records[rel] = recs
    write_state(project, LOCK, artifacts, records)
    loaded = read_state(project)
    assert loaded is not None and artifacts_fresh(project, loaded.artifacts)
    (project / ".agents/skills/skill7/f3.md").write_text("changed!")
    assert not artifacts_fresh(project, loaded.artifacts)


def test_file_records_match_tree_files(source: Path) -> None:
    assert {r.path: r.tree_file() for r in records_of(source)} == {
        f.path: f for f in tree_files(source)
    }
    assert all(isinstance(r.tree_file(), TreeFile) for r in records_of(source))
