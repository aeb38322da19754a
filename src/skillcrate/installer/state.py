"""The install state: what skillcrate put into a project, kept *outside* the project.

A file inside the project could be forged by whoever can change the project (a pull
request), so the record of what skillcrate created — which decides what it may later
replace or delete, and what the no-op check trusts — lives in skillcrate's own per-user
state folder (:func:`skillcrate.config.state_dir`), keyed by the project's real path::

    <state>/projects/<key>/install.txt     ownership and the no-op check
    <state>/projects/<key>/records.json    every installed file's sha256 and lstat
    <state>/locks/project-<key>.lock       the project lock (see project.Project.lock)

``key`` is :func:`skillcrate.fastpath.project_key` of the project's real path.

``install.txt`` (:func:`skillcrate.fastpath.format_install`)::

    skillcrate-install 7
    root <hex of the project's real path>
    p<TAB>.agents/skills<TAB><mtime_ns><TAB><ctime_ns>   each folder holding artifacts
    p<TAB>.claude/skills<TAB><mtime_ns><TAB><ctime_ns>
    d<TAB>.agents/skills/review<TAB>review<TAB>sha256:…<TAB>3<TAB>2
    <NUL><mtime_ns><NUL><ctime_ns>                      the folder lines (2, or none for -)
    scripts<NUL><mtime_ns><NUL><ctime_ns>
    SKILL.md<NUL><size><NUL><mtime_ns><NUL><ctime_ns><NUL>0    the file lines (3)
    …
    l<TAB>.claude/skills/review<TAB>review<TAB>../../.agents/skills/review
    inputs <N>
    <N bytes: skills.json, "\n\0\n", skills.lock.json, as the install saw them>

Each artifact is a folder skillcrate made (``tree``; ``stat``: the sorted stat lines
of its files, :func:`skillcrate.fastpath.stat_digest`; ``dirs``: the mtime and ctime of
each of its folders, :func:`skillcrate.fastpath.dir_stat`, or ``-``; both stored as
lines after the folder's own) or a symlink (its
target text); the artifact paths are exactly the paths skillcrate owns. A ``p`` line
stamps a folder that holds artifacts (:func:`skillcrate.fastpath.folder_stamps`): a
temporary name a killed run left there changes its times, so the no-op check fails and
the next install removes the name. ``inputs -`` marks a partial install (never up to
date).
``records.json`` maps each folder artifact to its file records
(``[path, sha256, exec, size, mtime_ns, ctime_ns]``); it is read only when an install
or ``verify`` needs file hashes, each artifact's records are parsed only when used
(:meth:`InstallState.records_for`), and they must then hash to the artifact's ``tree``.
An install carries the records of a folder it proved unchanged by ``lstat`` back
verbatim (:class:`StoredRecords`), so records that do not hash to the tree stay
unusable, and are never trusted, until that folder is built again.

Reading never raises for a damaged file (it means "no state": a full, checking install
runs), but only the expected kinds of damage are caught, so a bug is not hidden.
Stdlib only: the no-op check reads ``install.txt``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UnsafePath
from ..fastpath import (
    INSTALL_FILE,
    STATE_VERSION,
    Artifact,
    folder_stamps,
    format_install,
    project_key,
    project_state_dir,
    read_install,
    read_json_file,
    recorded_root,
    stat_digest,
    state_dir,
)
from ..names import is_name
from ..skill.tree import FileRecord, records_tree

__all__ = [
    "INSTALL_FILE",
    "RECORDS_FILE",
    "Artifact",
    "InstallState",
    "StoredRecords",
    "folder_artifact",
    "forget",
    "known_projects",
    "project_dir",
    "project_key",
    "read_records",
    "read_state",
    "write_state",
]


def folder_artifact(
    rel: str, skill: str, records: Iterable[FileRecord], dirs: str | None = None
) -> Artifact:
    """The artifact of a folder whose files are ``records``: tree and stat digests, and the
    folder stat lines (:func:`skillcrate.fastpath.dir_stat`) taken before the files were
    proven or right after they were written (None: the no-op check lists the folders)."""
    recs = list(records)
    return Artifact(rel, skill, records_tree(recs), stat_digest(recs), len(recs), dirs=dirs)


RECORDS_FILE = "records.json"
LEGACY_INSTALL_FILE = "install.json"  # state version 2 (JSON); removed when seen

project_dir = project_state_dir


@dataclass(frozen=True)
class StoredRecords:
    """One artifact's file records as ``records.json`` holds them: a JSON list, not yet
    parsed or checked (:meth:`InstallState.records_for` does both), written back as it
    was read when the artifact is carried unchanged."""

    raw: list[object]


@dataclass
class InstallState:
    """The state of one project (see the module docstring)."""

    inputs: bytes | None
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    records: dict[str, StoredRecords] = field(default_factory=dict)  # loaded on demand
    root: str = ""
    version: int = STATE_VERSION

    @property
    def owned(self) -> set[str]:
        """The project-relative paths skillcrate created (and may replace or delete)."""
        return set(self.artifacts)

    def stored(self, rel: str) -> StoredRecords | None:
        """The records of the folder artifact ``rel`` as stored, unparsed and unchecked:
        only to be written back for a folder that still ``lstat``s as recorded."""
        return self.records.get(rel) if rel in self.artifacts else None

    def records_for(self, rel: str) -> list[FileRecord] | None:
        """The file records of the folder artifact ``rel``, only if every one parses and
        they hash to its tree."""
        art = self.artifacts.get(rel)
        stored = self.records.get(rel)
        if art is None or art.tree is None or stored is None:
            return None
        try:
            recs = [FileRecord.from_json(r) for r in stored.raw]
        except (ValueError, UnsafePath):  # a path the tree digest cannot hold
            return None
        return recs if records_tree(recs) == art.tree else None


# ------------------------------------------------------------------------------ reading


def read_state(root: Path, *, records: bool = False) -> InstallState | None:
    """The install state of the project at ``root``; None when missing or damaged.

    ``records``: also load the file records (needed to hash-check installed trees).
    """
    found = read_install(root)
    if found is None:
        return None
    inputs, artifacts = found
    if not all(is_name(a.skill) for a in artifacts.values()):
        return None
    state = InstallState(inputs=inputs, artifacts=artifacts, root=os.path.realpath(root))
    if records:
        state.records = read_records(root)
    return state


def read_records(root: Path) -> dict[str, StoredRecords]:
    """Every folder artifact's file records, as stored (each parsed when used:
    :meth:`InstallState.records_for`); ``{}`` when missing or not a JSON object."""
    try:
        data = read_json_file(project_dir(root) / RECORDS_FILE)
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(rel): StoredRecords(recs) for rel, recs in data.items() if isinstance(recs, list)}


# ------------------------------------------------------------------------------ writing


def write_state(
    root: Path,
    inputs: bytes | None,
    artifacts: Mapping[str, Artifact],
    records: Mapping[str, Sequence[FileRecord] | StoredRecords],
) -> None:
    """Write both state files atomically (records first, then the file the no-op reads).

    ``records``: each folder artifact's records, or its :class:`StoredRecords` as read
    (for a folder proven unchanged), written back as they were."""
    from .._fs import atomic_write

    folder = project_dir(root)
    recs = {
        rel: (r.raw if isinstance(r, StoredRecords) else [f.to_json() for f in r])
        for rel, r in sorted(records.items())
        if rel in artifacts
    }
    atomic_write(folder / RECORDS_FILE, json.dumps(recs, separators=(",", ":")) + "\n")
    stamps = folder_stamps(root, artifacts)  # after the install's last change in them
    atomic_write(folder / INSTALL_FILE, format_install(root, inputs, artifacts, stamps))


def forget(root: Path) -> None:
    """Drop the install state of ``root`` (nothing installed any more)."""
    folder = project_dir(root)
    for name in (INSTALL_FILE, RECORDS_FILE, LEGACY_INSTALL_FILE):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


def known_projects() -> list[Path]:
    """The project folders that have an install state and still exist (for ``cache prune``)."""
    out: list[Path] = []
    base = state_dir() / "projects"
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        root = recorded_root(entry.path)
        if root is not None and os.path.isdir(root):
            out.append(Path(root))
    return out
