"""A killed install never leaves a half tree, and the next install finishes the job.

``install`` runs at every agent session start, and it gets killed: a hook timeout, a
closed terminal, the OOM killer. ``SIGKILL`` runs no cleanup code at all. These tests kill
a real ``skillcrate`` process at each of its file-system changes in turn: a ``-c`` wrapper
counts the calls that create, write, rename or remove a file or folder (``os.open`` for
writing, ``os.write``, ``os.rename``/``replace``, ``os.mkdir``, ``os.unlink``/``remove``,
``os.rmdir``, ``os.symlink``, ``os.link``, ``os.ftruncate``, the kernel copies, and
``open()`` for writing) and sends ``SIGKILL`` to its own process at the Nth. After each
kill:

* ``skills.json`` and the lock are each the old bytes or the new ones;
* each skill folder is absent or holds exactly one version's tree, never a mix;
* the no-op check never answers "up to date" unless the tree on disk is the one the
  lock pins (a killed run must not make the next session start skip the work);
* the next ``install`` succeeds, leaves the tree the lock pins and no temporary names in
  the project, after which it is a no-op.

Two shapes: an ``update`` that replaces one of two installed skills, and a fresh clone's
first ``install`` from an empty cache (the kill also lands in the cache's writes, which
the next install must not trust blindly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_skill, run_cli, tree_of

KILLER = """\
import builtins, os, signal, sys
at, count = int(os.environ["KILL_AT"]), [0]
def change():
    count[0] += 1
    if count[0] == at:
        os.kill(os.getpid(), signal.SIGKILL)
def wrap(fn, changes):
    def call(*args, **kwargs):
        if changes(*args, **kwargs):
            change()
        return fn(*args, **kwargs)
    for able in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks):
        if fn in able:  # what skillcrate checks before passing dir_fd=
            able.add(call)
    return call
always = lambda *args, **kwargs: True
writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
os.open = wrap(os.open, lambda path, flags, *args, **kwargs: bool(flags & writing))
for name in ("write", "rename", "replace", "mkdir", "unlink", "remove", "rmdir", "symlink",
             "link", "ftruncate", "copy_file_range", "sendfile"):
    if hasattr(os, name):
        setattr(os, name, wrap(getattr(os, name), always))
def mode_of(file, mode="r", *args, **kwargs):
    return any(c in mode for c in "wax+")
builtins.open = wrap(builtins.open, mode_of)
def report():
    if "KILL_COUNT" in os.environ:
        with open(os.environ["KILL_COUNT"], "w") as fh:
            fh.write(str(count[0] - 1))  # this open is counted too
import atexit
atexit.register(report)
from skillcrate.entry import main
main(sys.argv[1:])
"""
"""Runs ``skillcrate ARGS`` and kills it at change ``$KILL_AT`` (0: never; then the
number of changes it made is written to ``$KILL_COUNT``)."""

ROUNDS = 40  # kill points per shape, spread over all of a run's changes


def changes_made(args: list[str], cwd: Path, env: dict[str, str], tmp: Path) -> int:
    report = tmp / "count"
    done = subprocess.run(
        [sys.executable, "-c", KILLER, *args],
        cwd=cwd,
        env={**env, "KILL_AT": "0", "KILL_COUNT": str(report)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return int(report.read_text())


def kill_at(args: list[str], cwd: Path, env: dict[str, str], at: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILLER, *args],
        cwd=cwd,
        env={**env, "KILL_AT": str(at)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, (at, done.returncode, done.stderr)


def kill_points(total: int) -> list[int]:
    if total <= ROUNDS:
        return list(range(1, total + 1))
    return sorted({1 + round(i * (total - 1) / (ROUNDS - 1)) for i in range(ROUNDS)})


def tree_or_none(folder: Path) -> dict[str, tuple[bytes, int]] | None:
    return tree_of(folder) if folder.is_dir() else None


def temp_names(project: Path) -> list[str]:
    return [
        str(p.relative_to(project)) for p in project.rglob("*") if p.name.startswith(".skillcrate")
    ]


def finish(project: Path, env: dict[str, str], at: int) -> None:
    """The install after a kill: it succeeds, leaves the two skills and no temporary name
    in the project, and a no-op after it."""
    done = run_cli("-C", str(project), "install", env=env)
    assert done.returncode == 0, (at, done.stderr)
    assert sorted(os.listdir(project / ".agents" / "skills")) == ["alpha", "beta"], at
    assert temp_names(project) == [], at
    assert up_to_date(project), at


def up_to_date(project: Path) -> bool:
    from skillcrate.fastpath import is_up_to_date

    return is_up_to_date(project)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An ``oci:`` layout with alpha 1.0.0 and beta 1.0.0 (alpha 1.1.0 comes later)."""
    store = tmp_path / "store"
    for name in ("alpha", "beta"):
        folder = make_skill(
            tmp_path / "src" / name,
            name,
            files={f"references/{n}.md": f"{name} {n}\n" for n in ("one", "two", "three")},
            version="1.0.0",
        )
        assert run_cli("push", str(folder), f"oci:{store}/{name}:1.0.0").returncode == 0
    return store


def new_project(folder: Path, store: Path) -> Path:
    folder.mkdir(parents=True)
    skills = [
        {"name": n, "source": f"oci:{store}/{n}", "version": "^1.0.0"} for n in ("alpha", "beta")
    ]
    (folder / "skills.json").write_text(json.dumps({"skills": skills}, indent=2) + "\n")
    return folder


def installed_reference(
    tmp_path: Path, store: Path
) -> tuple[Path, bytes, bytes, dict[str, dict[str, tuple[bytes, int]]]]:
    """A project with both skills installed: (it, its skills.json, its lock, each tree)."""
    reference = new_project(tmp_path / "reference", store)
    assert run_cli("-C", str(reference), "install").returncode == 0
    skills = reference / ".agents" / "skills"
    return (
        reference,
        (reference / "skills.json").read_bytes(),
        (reference / "skills.lock.json").read_bytes(),
        {n: tree_of(skills / n) for n in ("alpha", "beta")},
    )


def push_alpha_1_1(tmp_path: Path, store: Path) -> None:
    folder = make_skill(
        tmp_path / "src11" / "alpha",
        "alpha",
        "Alpha, the second release.",
        files={"references/one.md": "changed\n", "scripts/new.sh": "echo new\n"},
        version="1.1.0",
    )
    assert run_cli("push", str(folder), f"oci:{store}/alpha:1.1.0").returncode == 0


def test_an_update_killed_at_any_change_leaves_one_whole_version(
    tmp_path: Path, store: Path
) -> None:
    reference, old_manifest, old_lock, trees = installed_reference(tmp_path, store)
    skills = reference / ".agents" / "skills"
    alpha_1, beta_1 = trees["alpha"], trees["beta"]
    push_alpha_1_1(tmp_path, store)
    assert run_cli("-C", str(reference), "update", "alpha").returncode == 0
    new_manifest = (reference / "skills.json").read_bytes()
    new_lock = (reference / "skills.lock.json").read_bytes()
    alpha_2 = tree_of(skills / "alpha")
    assert alpha_2 != alpha_1 and new_lock != old_lock

    def installed_at_1_0(at: int) -> tuple[Path, dict[str, str]]:
        """A project with 1.0.0 installed, and its own cache holding only what that took."""
        project = tmp_path / f"p{at}"
        project.mkdir()
        (project / "skills.json").write_bytes(old_manifest)
        (project / "skills.lock.json").write_bytes(old_lock)
        env = {**os.environ, "SKILLCRATE_CACHE_DIR": str(tmp_path / f"cache{at}")}
        assert run_cli("-C", str(project), "install", env=env).returncode == 0
        return project, env

    total = changes_made(["update", "alpha"], *installed_at_1_0(0), tmp_path)
    assert total > 10
    for at in kill_points(total):
        project, env = installed_at_1_0(at)
        kill_at(["update", "alpha"], project, env, at)

        manifest = (project / "skills.json").read_bytes()
        lock = (project / "skills.lock.json").read_bytes()
        installed = project / ".agents" / "skills"
        assert manifest in (old_manifest, new_manifest), at
        assert lock in (old_lock, new_lock), at
        assert tree_or_none(installed / "alpha") in (None, alpha_1, alpha_2), at
        assert tree_of(installed / "beta") == beta_1, at
        if up_to_date(project):  # then what is on disk is what the lock pins
            assert tree_of(installed / "alpha") == (alpha_2 if lock == new_lock else alpha_1), at

        finish(project, env, at)
        lock = (project / "skills.lock.json").read_bytes()
        assert lock in (old_lock, new_lock), at
        want = alpha_2 if lock == new_lock else alpha_1
        assert tree_of(installed / "alpha") == want, at
        assert tree_of(installed / "beta") == beta_1, at


def test_a_first_install_killed_at_any_change_is_finished_by_the_next(
    tmp_path: Path, store: Path
) -> None:
    _, manifest, lock, trees = installed_reference(tmp_path, store)

    def fresh_clone(at: int) -> tuple[Path, dict[str, str]]:
        """A clone with skills.json and the lock only, and an empty cache of its own."""
        project = tmp_path / f"c{at}"
        project.mkdir()
        (project / "skills.json").write_bytes(manifest)
        (project / "skills.lock.json").write_bytes(lock)
        return project, {**os.environ, "SKILLCRATE_CACHE_DIR": str(tmp_path / f"cache{at}")}

    total = changes_made(["install"], *fresh_clone(0), tmp_path)
    assert total > 10
    for at in kill_points(total):
        project, env = fresh_clone(at)
        kill_at(["install"], project, env, at)

        assert (project / "skills.json").read_bytes() == manifest, at
        assert (project / "skills.lock.json").read_bytes() == lock, at
        installed = project / ".agents" / "skills"
        for name, tree in trees.items():
            assert tree_or_none(installed / name) in (None, tree), (at, name)
        if up_to_date(project):
            assert all(tree_of(installed / n) == t for n, t in trees.items()), at

        finish(project, env, at)
        assert {n: tree_of(installed / n) for n in trees} == trees, at


def test_a_name_left_in_a_folder_of_skills_makes_the_next_start_install(
    tmp_path: Path, store: Path
) -> None:
    project = new_project(tmp_path / "proj", store)
    assert run_cli("-C", str(project), "install").returncode == 0
    assert up_to_date(project)  # control: nothing left, nothing to do
    installed = project / ".agents" / "skills"
    left = installed / ".skillcrate-stage-alpha-0badc0de"
    left.mkdir()
    (left / "SKILL.md").write_text("---\nname: alpha\ndescription: half of it\n---\n")
    assert not up_to_date(project)
    done = run_cli("-C", str(project), "install")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(installed)) == ["alpha", "beta"]
    assert up_to_date(project)


def test_the_next_install_removes_only_its_own_temporary_files_from_the_top_folder(
    tmp_path: Path, store: Path
) -> None:
    project = new_project(tmp_path / "proj", store)
    ours = [f".skillcrate-tmp-{n}-0badc0de" for n in ("skills.json", "skills.lock.json")]
    theirs = [".skillcrate-notes", ".skillcrate-tmp-README.md-0badc0de", "skills.json.bak"]
    for name in ours + theirs:
        (project / name).write_text("x\n")
    assert run_cli("-C", str(project), "install").returncode == 0
    assert sorted(p.name for p in project.iterdir() if p.is_file()) == sorted(
        [*theirs, ".gitignore", "skills.json", "skills.lock.json"]
    )
