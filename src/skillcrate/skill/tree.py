"""Skill trees: the tree digest, hashing walks, stat records and diffs. Stdlib only.

Tree digest
-----------
The *tree digest* of a skill folder identifies its content independently of where or
when it was unpacked:

1. Take every regular file below the folder, recursively. Symlinks, devices, FIFOs and
   sockets are refused. Directories are not entries of their own, so an empty directory
   does not change the digest.
2. Name each file by its path relative to the folder, with ``/`` as separator
   (``SKILL.md``, ``scripts/run.sh``). Paths must be valid UTF-8 and must not contain a
   newline.
3. Sort the files by path, comparing Unicode code points (the same order as comparing
   the UTF-8 bytes).
4. For each file write the line ``"<mode> <hex> <path>\\n"``, where ``<mode>`` is
   ``755`` when the owner-executable bit is set and ``644`` otherwise, and ``<hex>`` is
   the lowercase hex SHA-256 of the file's bytes.
5. The tree digest is ``sha256:`` followed by the lowercase hex SHA-256 of the UTF-8
   encoding of all lines concatenated. (An empty folder has the digest of the empty
   string.)

Stat records
------------
A :class:`FileRecord` adds what ``lstat`` showed when skillcrate wrote the file (size,
``mtime_ns``, ``ctime_ns``) to its tree line. :func:`stat_digest` folds the stat part of
a folder's records into one value, and :func:`scan_stat` computes the same value from
the folder with one ``lstat`` per file and no reads: equal values mean no file was
added, removed, resized, re-moded or touched since. That is how the no-op install and
the cache's unpacked trees are checked without hashing file contents.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotFound, UnsafePath
from ..fastpath import scan_stat, stat_digest

__all__ = [
    "FileRecord",
    "TreeDiff",
    "TreeFile",
    "check_tree_path",
    "diff_tree",
    "hash_file",
    "is_exec",
    "records_tree",
    "scan_stat",
    "stat_digest",
    "tree_digest",
    "tree_digest_of",
    "tree_files",
    "walk_strict",
]


@dataclass(frozen=True)
class TreeFile:
    """One regular file of a tree: relative POSIX ``path``, exec bit, size, hex sha256."""

    path: str
    executable: bool
    size: int
    sha256: str


@dataclass(frozen=True)
class FileRecord:
    """A file skillcrate wrote: its tree line plus the ``lstat`` it had right after."""

    path: str
    sha256: str
    executable: bool
    size: int
    mtime_ns: int
    ctime_ns: int

    def tree_file(self) -> TreeFile:
        return TreeFile(self.path, self.executable, self.size, self.sha256)

    def still(self, st: os.stat_result) -> bool:
        """Whether ``st``, a stat of the file recorded, shows it as it was written: size,
        exec bit, mtime and ctime (a change made since, even to the same size and with
        the mtime put back, shows in the ctime)."""
        return (st.st_size, is_exec(st.st_mode), st.st_mtime_ns, st.st_ctime_ns) == (
            self.size,
            self.executable,
            self.mtime_ns,
            self.ctime_ns,
        )

    def to_json(self) -> list[object]:
        return [self.path, self.sha256, self.executable, self.size, self.mtime_ns, self.ctime_ns]

    @classmethod
    def from_json(cls, value: object) -> FileRecord:
        """Parse ``[path, sha256, exec, size, mtime_ns, ctime_ns]``; ValueError otherwise."""
        if not isinstance(value, list) or len(value) != 6:
            raise ValueError("a file record is [path, sha256, exec, size, mtime_ns, ctime_ns]")
        path, sha, executable, size, mtime, ctime = value
        if not (
            isinstance(path, str)
            and isinstance(sha, str)
            and len(sha) == 64
            and isinstance(executable, bool)
            and all(type(n) is int and n >= 0 for n in (size, mtime, ctime))
        ):
            raise ValueError("malformed file record")
        check_tree_path(path, path)
        return cls(path, sha, executable, size, mtime, ctime)


@dataclass(frozen=True)
class TreeDiff:
    """Relative paths that differ between a folder and its expected files."""

    modified: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    mode_changed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when the folder matches exactly."""
        return not (self.modified or self.extra or self.missing or self.mode_changed)


# ----------------------------------------------------------------------------- digests


def tree_digest(files: Iterable[TreeFile]) -> str:
    """The tree digest of ``files`` (see the module docstring for the exact definition)."""
    hasher = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        check_tree_path(f.path, f.path)
        mode = "755" if f.executable else "644"
        hasher.update(f"{mode} {f.sha256} {f.path}\n".encode())
    return f"sha256:{hasher.hexdigest()}"


def records_tree(records: Iterable[FileRecord]) -> str:
    """The tree digest the records describe (no file is read)."""
    return tree_digest(r.tree_file() for r in records)


# ------------------------------------------------------------------------------ walking


def hashed_records(root: Path) -> list[FileRecord]:
    """Every regular file under ``root`` as it is now, hashed, with its ``lstat``, sorted
    by path; UnsafePath on symlinks or devices."""
    records = [
        FileRecord(
            rel, hash_file(full), is_exec(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ctime_ns
        )
        for rel, full, st in walk_strict(Path(root))
    ]
    records.sort(key=lambda r: r.path)
    return records


def tree_files(root: Path) -> list[TreeFile]:
    """Every regular file under ``root``, sorted by path; UnsafePath on symlinks or devices."""
    return [r.tree_file() for r in hashed_records(root)]


def tree_digest_of(root: Path) -> str:
    """The tree digest of the folder ``root``."""
    return tree_digest(tree_files(root))


def diff_tree(root: Path, expected: Sequence[TreeFile]) -> TreeDiff:
    """Compare the folder ``root`` with ``expected`` and name every differing relative path.

    A path whose content differs is ``modified`` (so is a symlink or other non-file in
    place of a file); one whose exec bit differs is ``mode_changed`` (a path may be in
    both). Content is hashed only when the sizes agree. A missing ``root`` reports every
    file missing.
    """
    want = {f.path: f for f in expected}
    have = dict(_walk_lenient(Path(root)))
    modified: list[str] = []
    mode_changed: list[str] = []
    for rel in sorted(want.keys() & have.keys()):
        full, st = have[rel]
        exp = want[rel]
        if not stat.S_ISREG(st.st_mode):
            modified.append(rel)
            continue
        if is_exec(st.st_mode) != exp.executable:
            mode_changed.append(rel)
        if st.st_size != exp.size or hash_file(full) != exp.sha256:
            modified.append(rel)
    return TreeDiff(
        modified=modified,
        extra=sorted(have.keys() - want.keys()),
        missing=sorted(want.keys() - have.keys()),
        mode_changed=mode_changed,
    )


def walk_strict(root: Path, *, dirs: bool = False) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield ``(relpath, fullpath, lstat)`` for every regular file; UnsafePath on others.

    With ``dirs``, folders are yielded too, each before anything inside it.
    """
    try:
        root_st = os.lstat(root)
    except FileNotFoundError:
        raise NotFound(f"skill folder {root} does not exist") from None
    if not stat.S_ISDIR(root_st.st_mode):
        raise NotFound(f"skill folder {root} does not exist")
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name, reverse=True)
        for entry in entries:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append((rel + "/", entry.path))
                if dirs:
                    yield check_tree_path(rel, entry.path), entry.path, st
            elif stat.S_ISREG(st.st_mode):
                yield check_tree_path(rel, entry.path), entry.path, st
            elif stat.S_ISLNK(st.st_mode):
                raise UnsafePath(f"symlink {entry.path} is not allowed in a skill tree")
            else:
                raise UnsafePath(f"special file {entry.path} is not allowed in a skill tree")


def _walk_lenient(root: Path) -> Iterator[tuple[str, tuple[str, os.stat_result]]]:
    """Yield ``(relpath, (fullpath, lstat))`` for every non-directory under ``root``."""
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return
    except OSError:
        return
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append((prefix + entry.name + "/", entry.path))
            else:
                yield prefix + entry.name, (entry.path, st)


def check_tree_path(rel: str, full: str) -> str:
    """Refuse relative paths the tree digest cannot represent unambiguously."""
    if "\n" in rel:
        raise UnsafePath(f"file name {full!r} contains a newline")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"file name {full!r} is not valid UTF-8") from None
    return rel


def is_exec(mode: int) -> bool:
    return bool(mode & stat.S_IXUSR)


def hash_file(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
