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

import os
import stat
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (no-op path)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    StrPath = str | os.PathLike[str]

MANIFEST_NAME = "skills.json"  # the one place these file names are spelled
LOCK_NAME = "skills.lock.json"
GLOBAL_DIR = "global"  # the user-level skills.json and lock: a folder of the config folder

STATE_VERSION = 7
INSTALL_FILE = "install.txt"
MAX_STATE_BYTES = 64 * 1024 * 1024
_MAGIC = f"skillcrate-install {STATE_VERSION}"


# ----------------------------------------------------------------------------- inputs


_INPUTS_SEPARATOR = b"\n\x00\n"


def inputs_blob(manifest_bytes: bytes, lock_bytes: bytes) -> bytes:
    """What the install state records of its inputs: skills.json and the lock, verbatim.

    Compared byte for byte, not by digest: the no-op check then loads no hashing module
    (each extension module costs the check a ``dlopen``)."""
    return manifest_bytes + _INPUTS_SEPARATOR + lock_bytes


def _same_inputs(data: bytes, start: int, manifest_bytes: bytes, lock_bytes: bytes) -> bool:
    """Whether ``data[start:]`` is :func:`inputs_blob` of these files, without copying."""
    lock_at = start + len(manifest_bytes) + len(_INPUTS_SEPARATOR)
    return (
        len(data) - lock_at == len(lock_bytes)
        and data.startswith(manifest_bytes, start)
        and data.startswith(_INPUTS_SEPARATOR, lock_at - len(_INPUTS_SEPARATOR))
        and data.startswith(lock_bytes, lock_at)
    )


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _read_files(root: StrPath, files: StrPath | None) -> tuple[bytes, bytes] | None:
    """(skills.json, the lock) of the project at ``root`` (in ``files``, default
    ``root``); None when one is missing."""
    where = root if files is None else files
    try:
        manifest = _read_bytes(os.path.join(where, MANIFEST_NAME))
        return manifest, _read_bytes(os.path.join(where, LOCK_NAME))
    except OSError:
        return None


def global_files_path() -> str | None:
    """Where the user-level skills.json and lock live (``config.global_dir``), computed
    with the stdlib where that is certain: ``$SKILLCRATE_CONFIG_DIR/global``, else on
    Linux and other Unixes ``$XDG_CONFIG_HOME/skillcrate/global`` (platformdirs' layout);
    None elsewhere (the full CLI asks platformdirs)."""
    own = os.environ.get("SKILLCRATE_CONFIG_DIR")
    if own:
        return os.path.join(own, GLOBAL_DIR)
    if sys.platform in ("win32", "darwin"):
        return None
    return os.path.join(xdg_home("XDG_CONFIG_HOME", ".config"), "skillcrate", GLOBAL_DIR)


def xdg_home(var: str, default: str, env: Mapping[str, str] | None = None) -> str:
    """The XDG base folder ``$var`` (Linux and other Unixes): its value when that is an
    absolute path, else ``$HOME/<default>``. A relative value is invalid and ignored, as
    the XDG Base Directory spec says: the one place skillcrate applies that rule (state,
    config, cache and ``registries.conf`` folders alike). ``env``: the environment to
    read (default ``os.environ``)."""
    env = os.environ if env is None else env
    value = env.get(var, "").strip()
    if value and os.path.isabs(value):
        return value
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), default)


def xdg_ignored(var: str) -> bool:
    """Whether ``$var`` is set but ignored by :func:`xdg_home` (not an absolute path), on
    a platform where the XDG variables apply."""
    value = os.environ.get(var, "").strip()
    return sys.platform not in ("win32", "darwin") and bool(value) and not os.path.isabs(value)


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
    from pathlib import Path

    return Path(state_path())


def state_path() -> str:
    """:func:`state_dir` as a string, computed without :mod:`pathlib` (the no-op path)."""
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "skillcrate", "state")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "skillcrate", "state")
    return os.path.join(xdg_home("XDG_STATE_HOME", os.path.join(".local", "state")), "skillcrate")


_FNV_OFFSET = 0x6C62272E07BB014262B821756295C58D
_FNV_PRIME = 0x0000000001000000000000000000013B
_MASK128 = (1 << 128) - 1


def project_key(root: StrPath) -> str:
    """The key of a project in the state folder: FNV-1a (128 bits) of its real path.

    Not a cryptographic hash, on purpose: it only names a folder, and the state in it
    records the real path it belongs to, which readers compare (a collision means "not
    this project's"), so the no-op check needs no hashing module.
    """
    h = _FNV_OFFSET
    for byte in os.path.realpath(root).encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK128
    return f"{h:032x}"


def project_state_dir(root: StrPath) -> Path:
    from pathlib import Path

    return Path(_project_state_path(root))


def _project_state_path(root: StrPath) -> str:
    return os.path.join(state_path(), "projects", project_key(root))


def find_project_root(start: str) -> str:
    """The nearest folder from ``start`` upwards holding skills.json; else the root of the
    git repository holding ``start`` (what agents open, like npm's package.json walk or
    cargo's); else ``start``."""
    here = os.path.abspath(start)
    current = here
    git_root: str | None = None
    while True:
        if os.path.isfile(os.path.join(current, MANIFEST_NAME)):
            return current
        if git_root is None and os.path.exists(os.path.join(current, ".git")):
            git_root = current
        parent = os.path.dirname(current)
        if parent == current:
            return git_root or here
        current = parent


class Artifact:
    """One path skillcrate made in the project: a skill folder (or a copy) or a symlink.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect``, which costs the
    no-op check more than all its work. A folder's ``stat`` and ``dirs`` texts are kept
    as the lines :func:`format_install` stored when read back, and joined only when
    asked for: the no-op check compares lines (:meth:`lines`).
    """

    __slots__ = ("rel", "skill", "tree", "files", "link", "_stat", "_dirs", "_lines")

    def __init__(
        self,
        rel: str,
        skill: str,
        tree: str | None = None,  # folders: the tree digest of their files
        stat: str | None = None,  # folders: stat_digest of their records
        files: int = 0,
        link: str | None = None,  # symlinks: the target text
        dirs: str | None = None,  # folders: dir_stat of the folder, when taken
    ) -> None:
        self.rel, self.skill, self.tree, self.files, self.link = rel, skill, tree, files, link
        self._stat, self._dirs = stat, dirs
        self._lines: tuple[list[str] | None, list[str] | None] | None = None

    @classmethod
    def _stored(
        cls, rel: str, skill: str, tree: str, files: list[str], dirs: list[str] | None
    ) -> Artifact:
        art = cls(rel, skill, tree, None, len(files))
        art._lines = (files, dirs)
        return art

    @property
    def stat(self) -> str | None:
        if self._stat is None and self._lines is not None and self._lines[0] is not None:
            self._stat = _text(self._lines[0])
        return self._stat

    @property
    def dirs(self) -> str | None:
        if self._dirs is None and self._lines is not None and self._lines[1] is not None:
            self._dirs = _text(self._lines[1])
        return self._dirs

    def lines(self) -> tuple[list[str] | None, list[str] | None]:
        """(the file lines, the folder lines) without their line ends; None for a text
        that is missing or does not end with a line end."""
        if self._lines is None:
            self._lines = (_lines(self._stat), _lines(self._dirs))
        return self._lines

    def _key(self) -> tuple[object, ...]:
        return (self.rel, self.skill, self.tree, self.stat, self.files, self.link, self.dirs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Artifact{self._key()!r}"


def _text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


def _lines(text: str | None) -> list[str] | None:
    if text is None or (text and not text.endswith("\n")):
        return None
    return text.split("\n")[:-1] if text else []


def read_json_file(path: StrPath, limit: int = MAX_STATE_BYTES) -> object:
    """JSON from a state file, at most ``limit`` bytes; OSError/ValueError when unusable."""
    import json

    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit} bytes")
    return json.loads(data)


def _root_field(root: StrPath) -> str:
    return os.path.realpath(root).encode("utf-8", "surrogateescape").hex()


def _unsafe(field: str) -> bool:
    return "\t" in field or "\n" in field or "\r" in field


def format_install(
    root: StrPath,
    inputs: bytes | None,
    artifacts: Mapping[str, Artifact],
    stamps: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of ``install.txt``: a header, one line per folder that holds artifacts
    (``p``, its :func:`folder_stamps` stamp), one tab-separated line per artifact (a
    folder's line followed by its folder lines and file lines, verbatim), then
    ``inputs N`` and the N bytes of :func:`inputs_blob` (``inputs -`` for none: a partial
    install, never up to date).

    Plain lines, not JSON and not hex, so that the no-op check reads it with neither
    :mod:`json` nor :mod:`re` imported and decodes nothing but UTF-8. Artifact fields
    never hold tabs or line breaks (paths and names are checked by the boundary and
    :mod:`names`), and stat lines never hold a line break (a file name with one is
    refused by the tree and by :func:`scan_stat`); a value that did would be a bug, so
    it raises.
    """
    lines = [_MAGIC, f"root {_root_field(root)}"]
    for rel, stamp in sorted((stamps or {}).items()):
        fields = ["p", rel, *stamp.split("\t")]
        if len(fields) != 4 or _unsafe(rel) or not (fields[2].isdigit() and fields[3].isdigit()):
            raise ValueError(f"install state: a malformed folder stamp {rel!r}: {stamp!r}")
        lines.append("\t".join(fields))
    blocks: list[str] = []
    for rel in sorted(artifacts):
        art = artifacts[rel]
        body = ""  # a folder's folder lines and file lines
        if art.link is not None:
            fields = ["l", rel, art.skill, art.link]
        else:
            files, dirs = art.lines()
            if files is None or len(files) != art.files:
                raise ValueError(f"install state: {rel!r} does not have {art.files} stat lines")
            if dirs is None and art.dirs is not None:
                raise ValueError(f"install state: {rel!r} has malformed folder lines")
            fields = ["d", rel, art.skill, str(art.tree), str(art.files)]
            fields.append("-" if dirs is None else str(len(dirs)))
            body = _text(dirs or []) + _text(files)
        if any(_unsafe(f) for f in fields):
            raise ValueError(f"install state field with a tab or line break: {fields!r}")
        blocks.append("\t".join(fields) + "\n" + body)
    lines.append("".join(blocks) + ("inputs -" if inputs is None else f"inputs {len(inputs)}"))
    head = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    return head + (inputs or b"")


def _parse_install(data: bytes, root: StrPath) -> tuple[bytes | None, dict[str, Artifact]] | None:
    parsed = _parse_state(data, root)
    if parsed is None:
        return None
    start, artifacts, _ = parsed
    return (None if start < 0 else data[start:]), artifacts


def _inputs_line(data: bytes) -> tuple[int, int]:
    """Where the ``inputs N`` line of an ``install.txt`` starts and ends; (-1, -1) when
    there is none. The first line that starts so and holds no NUL: a stat or folder line
    always holds one, so a file named ``inputs 12`` in a skill's top folder (a stat line
    that starts with its name) is never taken for it."""
    at = data.find(b"\ninputs ")
    while at >= 0:
        end = data.find(b"\n", at + 1)
        if end < 0:
            break
        if data.find(b"\0", at, end) < 0:
            return at, end
        at = data.find(b"\ninputs ", end)
    return -1, -1


def _parse_state(
    data: bytes, root: StrPath
) -> tuple[int, dict[str, Artifact], dict[str, str]] | None:
    """(where the inputs start in ``data``, -1 for ``inputs -``; the artifacts; the folder
    stamps) of an ``install.txt``, or None when it is damaged or not ``root``'s. The inputs
    are not copied: the no-op check compares them in place (:func:`_same_inputs`)."""
    at, end = _inputs_line(data)
    if at < 0:
        return None
    count = data[at + len(b"\ninputs ") : end]
    start = end + 1
    if count == b"-":
        if start != len(data):
            return None
        start = -1
    elif not count.isdigit() or int(count) != len(data) - start:
        return None
    lines = str(memoryview(data)[:at], "utf-8", "surrogateescape").split("\n")
    if len(lines) < 2 or lines[0] != _MAGIC:
        return None
    if lines[1] != f"root {_root_field(root)}":
        return None  # a key collision or a copied state folder: not this project's
    artifacts: dict[str, Artifact] = {}
    stamps: dict[str, str] = {}
    i, total = 2, len(lines)
    while i < total:
        fields = lines[i].split("\t")
        i += 1
        if fields[0] == "p" and len(fields) == 4 and fields[2].isdigit() and fields[3].isdigit():
            if fields[1] in stamps:
                return None
            stamps[fields[1]] = f"{fields[2]}\t{fields[3]}"
            continue
        if fields[0] == "l" and len(fields) == 4:
            art = Artifact(fields[1], fields[2], link=fields[3])
        elif fields[0] == "d" and len(fields) == 6 and fields[4].isdigit():
            untaken = fields[5] == "-"  # no folder lines were taken
            if not untaken and not fields[5].isdigit():
                return None
            files, dirs = int(fields[4]), 0 if untaken else int(fields[5])
            ends = i + dirs
            if ends + files > total:
                return None
            art = Artifact._stored(
                fields[1],
                fields[2],
                fields[3],
                lines[ends : ends + files],
                None if untaken else lines[i:ends],
            )
            i = ends + files
        else:
            return None
        if not art.rel or not art.skill or art.rel in artifacts:
            return None
        artifacts[art.rel] = art
    return start, artifacts, stamps


def recorded_root(folder: StrPath) -> str | None:
    """The project path an ``install.txt`` in the state folder ``folder`` belongs to."""
    try:
        with open(os.path.join(folder, INSTALL_FILE), "rb") as fh:
            head = fh.read(64 * 1024).split(b"\n", 2)
        if len(head) < 3 or head[0].decode() != _MAGIC or not head[1].startswith(b"root "):
            return None
        return bytes.fromhex(head[1][5:].decode()).decode("utf-8", "surrogateescape")
    except (OSError, ValueError):
        return None


def _read_state(root: StrPath) -> bytes | None:
    """The bytes of ``install.txt`` for ``root``; None when missing or too large."""
    try:
        with open(os.path.join(_project_state_path(root), INSTALL_FILE), "rb") as fh:
            data = fh.read(MAX_STATE_BYTES + 1)
    except OSError:
        return None
    return None if len(data) > MAX_STATE_BYTES else data


def read_install(root: StrPath) -> tuple[bytes | None, dict[str, Artifact]] | None:
    """(inputs, artifacts) of ``install.txt`` for ``root``; None when missing/damaged."""
    data = _read_state(root)
    try:
        return None if data is None else _parse_install(data, root)
    except ValueError:
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


def _stat_bare(path: str, size: int, mtime_ns: int, ctime_ns: int, executable: bool) -> str:
    """A file's stat line as stored lines are read back (no line end): path, size, mtime,
    ctime and the exec bit, NUL-separated. The one place the format is spelled; an
    f-string, because the no-op check makes one per installed file (half the cost of
    ``str.format``)."""
    return f"{path}\0{size}\0{mtime_ns}\0{ctime_ns}\0{1 if executable else 0}"


def stat_line(path: str, size: int, mtime_ns: int, ctime_ns: int, executable: bool) -> str:
    return _stat_bare(path, size, mtime_ns, ctime_ns, executable) + "\n"


def _digest_lines(lines: list[str]) -> str:
    """The stat lines, sorted, as one string: compared, never hashed (no hashing module on
    the no-op path; the lines are short, so the state stays small) and stored as they are
    (:func:`format_install`)."""
    lines.sort()
    return "".join(lines)


def stat_digest(records: Iterable[StatRecord]) -> str:
    """One value for the stat part of ``records`` (compare with :func:`scan_stat`)."""
    return _digest_lines(
        [stat_line(r.path, r.size, r.mtime_ns, r.ctime_ns, r.executable) for r in records]
    )


def scan_stat(folder: str) -> str | None:
    """:func:`stat_digest` of what is in ``folder`` now, by ``lstat`` only.

    None when ``folder`` is missing, is not a real folder, holds anything but folders and
    regular files, or holds a name with a line break (which no tree records). Entry types
    come from the folder listing (``d_type``), so only files are ``lstat``-ed. The lines
    are :func:`stat_line`'s: the same format, called directly, because this loop is most
    of the no-op's cost on a large project.
    """
    return _scan(folder, False)[0]


def _dir_bare(rel: str, mtime_ns: int, ctime_ns: int) -> str:
    """A folder line without its line end: its relative path ("" for the folder itself),
    mtime and ctime (see :func:`_stat_bare`)."""
    return f"{rel}\0{mtime_ns}\0{ctime_ns}"


def _dir_line(rel: str, mtime_ns: int, ctime_ns: int) -> str:
    return _dir_bare(rel, mtime_ns, ctime_ns) + "\n"


_SETTLED_NS = 2_000_000_000


def scan_with_dirs(folder: str) -> tuple[str | None, str | None]:
    """(:func:`scan_stat`, the folder lines) of ``folder``, in one walk.

    The folder lines are the sorted ``lstat`` lines (path, mtime, ctime) of ``folder``
    and every folder in it. Taken when an install has proven or made a folder: any
    later change to its entries (a file added, removed or renamed; a folder replaced)
    sets the mtime of the folder holding it to the current time, so
    :func:`artifacts_fresh` can ``lstat`` the recorded paths instead of listing every
    folder. Each folder's line is taken before its entries are listed, so a change made
    during the walk shows later. The file system clock is coarse (a change a few
    milliseconds after the recorded one can leave the same mtime), so a folder changed
    less than two seconds ago makes the folder lines unusable ("racily clean", as git
    calls it): None, and the no-op check lists the folders. ``materialise`` backdates
    the folders it makes, like the files.
    """
    return _scan(folder, True)


def dir_stat(folder: str) -> str | None:
    """The folder lines of :func:`scan_with_dirs` (None when racy or not a real folder)."""
    return _scan(folder, True)[1]


def _scan(folder: str, with_dirs: bool) -> tuple[str | None, str | None]:
    """The one walk behind :func:`scan_stat` and :func:`scan_with_dirs`."""
    if with_dirs:
        import time

        settled = time.time_ns() - _SETTLED_NS
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode):
            return None, None
        lines: list[str] = []
        add, line = lines.append, stat_line
        dirs: list[str] | None = None
        if with_dirs and st.st_mtime_ns <= settled:
            dirs = [_dir_line("", st.st_mtime_ns, st.st_ctime_ns)]
        stack = [("", folder)]
        while stack:
            prefix, current = stack.pop()
            with os.scandir(current) as it:
                for entry in it:
                    if "\n" in entry.name:
                        return None, None
                    if entry.is_dir(follow_symlinks=False):
                        rel = prefix + entry.name
                        if dirs is not None:
                            dst = entry.stat(follow_symlinks=False)
                            if dst.st_mtime_ns > settled:
                                dirs = None
                            else:
                                dirs.append(_dir_line(rel, dst.st_mtime_ns, dst.st_ctime_ns))
                        stack.append((rel + "/", entry.path))
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(st.st_mode):
                        return None, None
                    add(
                        line(
                            prefix + entry.name,
                            st.st_size,
                            st.st_mtime_ns,
                            st.st_ctime_ns,
                            st.st_mode & 0o100 != 0,
                        )
                    )
    except OSError:
        return None, None
    return _digest_lines(lines), (_digest_lines(dirs) if dirs is not None else None)


DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
"""A folder opened for ``*at`` calls, never through a symlink (``O_NOFOLLOW``)."""

_AT_CALLS = os.stat in os.supports_dir_fd and os.open in os.supports_dir_fd  # lstat is stat


def _fresh_by_paths(full: str, art: Artifact, dir_fd: int | None = None) -> bool:
    """Whether every recorded folder and file of ``art`` still ``lstat``s as recorded.

    Folders by mtime and ctime (which also covers entries added or removed in them),
    files by their stat lines: one ``lstat`` per path, no folder listing. Each line is
    made again from its ``lstat`` and compared at once (no list of them is built: on a
    large project that memory alone cost the check page faults). ``full`` is relative
    to the folder ``dir_fd`` when that is given (:func:`artifacts_fresh`: the kernel
    then walks two or three names per path instead of the whole project path).
    """
    files, dirs = art.lines()
    if files is None or dirs is None or len(files) != art.files:
        return False
    lstat, isdir, isreg, dir_line, file_line = (
        os.lstat,
        stat.S_ISDIR,
        stat.S_ISREG,
        _dir_bare,
        _stat_bare,
    )
    base = full + os.sep
    for line in dirs:
        rel = line[: line.index("\0")]
        st = lstat(base + rel if rel else full, dir_fd=dir_fd)
        if not isdir(st.st_mode) or dir_line(rel, st.st_mtime_ns, st.st_ctime_ns) != line:
            return False
    for line in files:
        rel = line[: line.index("\0")]
        st = lstat(base + rel, dir_fd=dir_fd)
        mode = st.st_mode
        if not isreg(mode):
            return False
        if file_line(rel, st.st_size, st.st_mtime_ns, st.st_ctime_ns, mode & 0o100 != 0) != line:
            return False
    return True


def folder_unchanged(full: str, art: Artifact) -> bool:
    """Whether the folder ``full`` still holds what ``art`` recorded, proven by ``lstat``
    of its recorded folders and files (no listing); False when that cannot be told
    (no folder lines were recorded, or a path is gone): then scan it."""
    try:
        return _fresh_by_paths(full, art)
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- the check


def is_up_to_date(root: StrPath, files: StrPath | None = None) -> bool:
    """True when ``install`` has nothing to do in ``root`` (see the module docstring);
    ``files``: where its skills.json and lock are, when not in ``root`` (``-g``)."""
    root = os.path.realpath(root)
    inputs = _read_files(root, files)
    data = None if inputs is None else _read_state(root)
    if inputs is None or data is None:
        return False
    try:
        found = _parse_state(data, root)
    except ValueError:
        return False
    return (
        found is not None
        and found[0] >= 0
        and _same_inputs(data, found[0], *inputs)
        and artifacts_fresh(root, found[1], found[2])
    )


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_mtime_ns}\t{st.st_ctime_ns}"


def _holding_folders(artifacts: Iterable[str]) -> set[str]:
    """The folders (relative paths) that hold the artifacts ``artifacts``: what
    :func:`folder_stamps` stamps and :func:`artifacts_fresh` checks."""
    return {rel.rpartition("/")[0] for rel in artifacts}


def folder_stamps(root: StrPath, artifacts: Iterable[str]) -> dict[str, str]:
    """The mtime and ctime of each folder that holds one of ``artifacts`` (relative
    paths): ``.agents/skills`` and each link folder, for the no-op check.

    Every temporary name skillcrate makes in a project is made in such a folder (a skill
    being staged, a folder moved aside, a link being made), and making, renaming or
    removing a name sets the times of the folder that holds it. So a run killed before
    it could remove its temporary names (``SIGKILL``, a hook timeout, a power cut) leaves
    the folder's times changed, and the next session start runs the install that removes
    them instead of answering "up to date". Taken when the install state is written,
    under the project lock, after the install's last change in those folders; another
    skillcrate process can change them only once that lock is free. A folder that cannot
    be ``lstat``-ed as a folder gets no stamp (then the no-op check never passes)."""
    stamps: dict[str, str] = {}
    base = os.fspath(root)
    for parent in sorted(_holding_folders(artifacts)):
        try:
            st = os.lstat(os.path.join(base, parent) if parent else base)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            stamps[parent] = _stamp(st)
    return stamps


def artifacts_fresh(
    root: StrPath, artifacts: Mapping[str, Artifact], stamps: Mapping[str, str] | None = None
) -> bool:
    """Whether every artifact is still in ``root`` as recorded (``lstat`` only), and, with
    ``stamps``, whether every folder holding one still has the times recorded
    (:func:`folder_stamps`: nothing was added to, removed from or renamed in it since).

    Every folder on the way to an artifact must be a real folder: where the OS has
    ``*at`` calls, each is opened once, relative to the one above it and without
    following a symlink, and the artifacts in it are read relative to it (else each is
    ``lstat``-ed by path). A link whose text points at a folder artifact (what install
    makes) is checked by its text alone: its parents are real folders and the folder is
    checked itself.
    """
    base = os.fspath(root) + os.sep
    folders: dict[str, int | None] = {}  # folder -> its descriptor (None: no *at calls)
    try:
        for rel, art in artifacts.items():
            parent, _, name = rel.rpartition("/")
            at = _real_folder(base, parent, folders)
            where = name if at is not None else base + rel
            if art.link is not None:
                if os.readlink(where, dir_fd=at) != art.link:
                    return False
                target = os.path.normpath(os.path.join(parent, art.link)).replace(os.sep, "/")
                known = artifacts.get(target)
                if (known is None or known.link is not None) and not os.path.isdir(base + rel):
                    return False
            elif art.lines()[1] is not None:
                if not _fresh_by_paths(where, art, at):
                    return False
            elif scan_stat(base + rel) != art.stat:
                return False
        if stamps is not None:
            parents = _holding_folders(artifacts)
            if parents != stamps.keys():
                return False
            for parent in parents:
                fd = folders[parent]  # opened (or checked) by the loop above
                st = os.fstat(fd) if fd is not None else os.lstat(base + parent)
                if _stamp(st) != stamps[parent]:
                    return False
    except (OSError, ValueError):
        return False
    finally:
        for fd in folders.values():
            if fd is not None:
                os.close(fd)
    return True


def _real_folder(base: str, rel: str, folders: dict[str, int | None]) -> int | None:
    """The folder ``rel`` of the project ``base``, after checking that it and every
    folder on the way are real folders (not symlinks): opened relative to its parent
    with ``O_NOFOLLOW`` where the OS has ``*at`` calls (its descriptor, kept in
    ``folders``), else ``lstat``-ed by path (None). OSError when one is not."""
    if rel in folders:
        return folders[rel]
    up, _, name = rel.rpartition("/")
    if not rel:
        fd = os.open(base, DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0)) if _AT_CALLS else None
    elif _AT_CALLS:
        fd = os.open(name, DIR_FLAGS, dir_fd=_real_folder(base, up, folders))
    else:
        _real_folder(base, up, folders)
        if not stat.S_ISDIR(os.lstat(base + rel).st_mode):
            raise NotADirectoryError(base + rel)  # a symlink (or file) on the way
        fd = None
    folders[rel] = fd
    return fd
