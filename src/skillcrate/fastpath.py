"""The no-op check every agent session start runs, and the state model it reads: stdlib only.

``install`` is a no-op when skills.json and skills.lock.json are byte-identical to what
the last install saw (their joint digest is in the install state, which lives outside
the project: :mod:`skillcrate.installer.state`), every folder on the way to an installed
path is a real folder (not a symlink), every installed folder still ``lstat``s as
recorded (:func:`scan_stat`) and every link still has its recorded target. This reads two
small project files and one state file, and ``lstat``s the installed tree: no network,
no YAML, no registry code, no hashing of skill files.

This module imports nothing but the standard library, so the console script can answer
"nothing to do" before importing anything else of skillcrate: it is the lowest layer
and the one place that defines the project file names, where the state lives, the
``install.json`` shape and the stat lines (``skill.tree`` and ``installer.state``
build on it).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (no-op path)

MANIFEST_NAME = "skills.json"  # the one place these file names are spelled
LOCK_NAME = "skills.lock.json"

STATE_VERSION = 2
INSTALL_FILE = "install.json"
MAX_STATE_BYTES = 64 * 1024 * 1024


# ----------------------------------------------------------------------------- inputs


def inputs_digest(manifest_bytes: bytes, lock_bytes: bytes) -> str:
    """What the install state is keyed by: skills.json and skills.lock.json together."""
    return "sha256:" + hashlib.sha256(manifest_bytes + b"\n\x00\n" + lock_bytes).hexdigest()


def read_inputs_digest(root: Path) -> str | None:
    try:
        return inputs_digest((root / MANIFEST_NAME).read_bytes(), (root / LOCK_NAME).read_bytes())
    except OSError:
        return None


# ------------------------------------------------------------------------ state folder


def state_dir() -> Path:
    """skillcrate's own per-user state: install records, trust records, project locks.

    Fixed per user (platformdirs' ``user_state_dir`` layout, computed with the stdlib):
    ``$XDG_STATE_HOME/skillcrate`` (default ``~/.local/state/skillcrate``) on Linux and
    other Unixes, ``~/Library/Application Support/skillcrate/state`` on macOS,
    ``%LOCALAPPDATA%\\skillcrate\\state`` on Windows. Nothing in a project or in the cache
    folder can stand in for it, so ownership and trust decisions never come from files a
    project or another program could plant.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "skillcrate" / "state"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "skillcrate" / "state"
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "skillcrate"


def project_key(root: Path) -> str:
    """The key of a project in the state folder: from its real path."""
    real = os.path.realpath(root)
    return hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def project_state_dir(root: Path) -> Path:
    return state_dir() / "projects" / project_key(root)


class Artifact:
    """One path skillcrate made in the project: a skill folder (or a copy) or a symlink.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, which costs the
    no-op check more than all its work.
    """

    __slots__ = ("rel", "skill", "tree", "stat", "files", "link")

    def __init__(
        self,
        rel: str,
        skill: str,
        tree: str | None = None,  # folders: the tree digest of their files
        stat: str | None = None,  # folders: stat_digest of their records
        files: int = 0,
        link: str | None = None,  # symlinks: the target text
    ) -> None:
        self.rel, self.skill, self.tree, self.stat = rel, skill, tree, stat
        self.files, self.link = files, link

    def _key(self) -> tuple[object, ...]:
        return (self.rel, self.skill, self.tree, self.stat, self.files, self.link)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Artifact{self._key()!r}"

    def to_json(self) -> dict[str, object]:
        if self.link is not None:
            return {"skill": self.skill, "link": self.link}
        return {"skill": self.skill, "tree": self.tree, "stat": self.stat, "files": self.files}


def read_json_file(path: Path, limit: int = MAX_STATE_BYTES) -> object:
    """JSON from a state file, at most ``limit`` bytes; OSError/ValueError when unusable."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return json.loads(data)


def _artifact(rel: object, raw: object) -> Artifact:
    if not isinstance(rel, str) or not isinstance(raw, dict):
        raise ValueError("bad artifact")
    skill = raw.get("skill")
    if not isinstance(skill, str):
        raise ValueError("bad artifact skill")
    link = raw.get("link")
    if link is not None:
        if not isinstance(link, str):
            raise ValueError("bad link")
        return Artifact(rel, skill, link=link)
    tree, st, files = raw.get("tree"), raw.get("stat"), raw.get("files")
    if not (isinstance(tree, str) and isinstance(st, str) and type(files) is int):
        raise ValueError("bad folder artifact")
    return Artifact(rel, skill, tree, st, files)


def read_install(root: Path) -> tuple[str, dict[str, Artifact]] | None:
    """(inputs digest, artifacts) of ``install.json`` for ``root``; None when missing/damaged."""
    try:
        data = read_json_file(project_state_dir(root) / INSTALL_FILE)
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        inputs, raw = data.get("inputs"), data.get("artifacts")
        if not isinstance(inputs, str) or not isinstance(raw, dict):
            return None
        if data.get("root") != os.path.realpath(root):
            return None  # a key collision or a copied state folder: not this project's
        return inputs, {rel: _artifact(rel, art) for rel, art in raw.items()}
    except (OSError, ValueError, RecursionError):
        return None


# ------------------------------------------------------------------------ stat records


if TYPE_CHECKING:  # a protocol for the type checker only: importing typing costs time
    from typing import Protocol

    class StatRecord(Protocol):
        """What :func:`stat_digest` needs of a file record (``skill.tree.FileRecord``)."""

        @property
        def path(self) -> str: ...
        @property
        def size(self) -> int: ...
        @property
        def mtime_ns(self) -> int: ...
        @property
        def ctime_ns(self) -> int: ...
        @property
        def executable(self) -> bool: ...


def stat_line(path: str, size: int, mtime_ns: int, ctime_ns: int, executable: bool) -> str:
    return f"{path}\0{size}\0{mtime_ns}\0{ctime_ns}\0{int(executable)}\n"


def _digest_lines(lines: list[str]) -> str:
    lines.sort()
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def stat_digest(records: Iterable[StatRecord]) -> str:
    """One hex value for the stat part of ``records`` (compare with :func:`scan_stat`)."""
    return _digest_lines(
        [stat_line(r.path, r.size, r.mtime_ns, r.ctime_ns, r.executable) for r in records]
    )


def scan_stat(folder: str) -> str | None:
    """:func:`stat_digest` of what is in ``folder`` now, by ``lstat`` only.

    None when ``folder`` is missing, is not a real folder, or holds anything but folders
    and regular files.
    """
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return None
        lines: list[str] = []
        stack = [("", folder)]
        while stack:
            prefix, current = stack.pop()
            with os.scandir(current) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    rel = prefix + entry.name
                    if stat.S_ISDIR(st.st_mode):
                        stack.append((rel + "/", entry.path))
                    elif stat.S_ISREG(st.st_mode):
                        executable = bool(st.st_mode & stat.S_IXUSR)
                        lines.append(
                            stat_line(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, executable)
                        )
                    else:
                        return None
    except OSError:
        return None
    return _digest_lines(lines)


# --------------------------------------------------------------------------- the check


def is_up_to_date(root: Path) -> bool:
    """True when ``install`` has nothing to do in ``root`` (see the module docstring)."""
    root = Path(os.path.realpath(root))
    digest = read_inputs_digest(root)
    if digest is None:
        return False
    found = read_install(root)
    return found is not None and found[0] == digest and artifacts_fresh(root, found[1])


def artifacts_fresh(root: Path, artifacts: Mapping[str, Artifact]) -> bool:
    """Whether every artifact is still in ``root`` as recorded (``lstat`` only)."""
    real_dirs: set[str] = set()
    try:
        for rel, art in artifacts.items():
            parts = rel.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in real_dirs:
                    if not stat.S_ISDIR(os.lstat(os.path.join(root, parent)).st_mode):
                        return False  # a symlink (or file) on the way
                    real_dirs.add(parent)
            full = os.path.join(root, rel)
            if art.link is not None:
                if os.readlink(full) != art.link or not os.path.isdir(full):
                    return False
            elif scan_stat(full) != art.stat:
                return False
    except (OSError, ValueError):
        return False
    return True
