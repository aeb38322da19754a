"""Materialise skills from the cache into a project: trees, links, ``.gitignore``, install state.

This module is on the hot path of every ``skillcrate install``: it does no
network, knows nothing of registries and imports only the standard library.

Tree digest
-----------
The *tree digest* of a skill folder identifies its content independently of
where or when it was unpacked. It is computed as follows:

1. Take every regular file below the folder, recursively. Symlinks, devices,
   FIFOs and sockets are refused. Directories are not entries of their own, so
   an empty directory does not change the digest.
2. Name each file by its path relative to the folder, with ``/`` as separator
   (``SKILL.md``, ``scripts/run.sh``). Paths must be valid UTF-8 and must not
   contain a newline.
3. Sort the files by path, comparing Unicode code points (the same order as
   comparing the UTF-8 bytes).
4. For each file write the line ``"<mode> <hex> <path>\\n"``, where ``<mode>``
   is ``755`` when the owner-executable bit is set and ``644`` otherwise, and
   ``<hex>`` is the lowercase hex SHA-256 of the file's bytes.
5. The tree digest is ``sha256:`` followed by the lowercase hex SHA-256 of the
   UTF-8 encoding of all lines concatenated. (An empty folder therefore has the
   digest of the empty string.)

Copies, not hard links
----------------------
``materialise`` gives each project its own copy of every file: a copy-on-write
clone (``FICLONE``) where the filesystem supports it (btrfs, XFS, bcachefs),
else a plain byte copy keeping the executable bit. Hard links to the cache are
not used: a read-only mode does not stop root, ``chmod`` + save in an editor,
or tools that rewrite in place, and one such edit would silently corrupt the
shared cache for every project. Installed files are ordinary writable files.
Their mtime is set two seconds into the past, so any later edit is guaranteed
to change it and the stat-only freshness check cannot miss it.

Install state
-------------
``.agents/skills/.skillcrate-state.json`` records what the last install
produced, so a repeated install can prove "nothing to do" with ``lstat`` only::

    {"version": 1, "lock": "sha256:…",
     "skills": {"review": {"tree": "sha256:…",
                           "paths": [".agents/skills/review", ".claude/skills/review"],
                           "files": {"SKILL.md": [size, mtime_ns, executable, "<hex>"]},
                           "links": {".claude/skills/review": "../../.agents/skills/review"},
                           "copies": {}}},
     "owned": [".agents/skills/review", ".claude/skills/review"]}

``links`` maps each symlink to its target text; ``copies`` holds the file
records of a link that had to be a copy. Both are omitted when empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import sys
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ._fs import atomic_write, remove_tree, replace_dir, staging_dir
from .errors import NotFound, ProjectError, UnsafePath

try:  # Linux only; elsewhere we simply copy
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GITIGNORE_END",
    "GITIGNORE_START",
    "SKILLS_DIR",
    "STATE_FILE",
    "FileRecord",
    "InstallState",
    "SkillState",
    "TreeDiff",
    "TreeFile",
    "diff_tree",
    "is_owned",
    "link_skill",
    "materialise",
    "read_state",
    "record_skill",
    "remove_owned",
    "skill_path",
    "state_is_fresh",
    "tree_digest",
    "tree_digest_of",
    "tree_files",
    "unlink_skill",
    "update_gitignore",
    "write_state",
]

SKILLS_DIR = ".agents/skills"
"""The canonical install folder, relative to the project root."""

STATE_FILE = f"{SKILLS_DIR}/.skillcrate-state.json"
"""The install state file, relative to the project root."""

STATE_VERSION = 1

GITIGNORE_START = "# >>> skillcrate managed (do not edit) >>>"
GITIGNORE_END = "# <<< skillcrate managed <<<"

_CHUNK = 64 * 1024
_FICLONE = 0x40049409  # _IOW(0x94, 9, int) from <linux/fs.h>
_MTIME_BACKDATE_S = 2


# -- trees ------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeFile:
    """One regular file of a tree: relative POSIX ``path``, exec bit, size, hex sha256."""

    path: str
    executable: bool
    size: int
    sha256: str


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


def tree_files(root: Path) -> list[TreeFile]:
    """Every regular file under ``root``, sorted by path; UnsafePath on symlinks or devices."""
    files = [
        TreeFile(rel, _is_exec(st.st_mode), st.st_size, _hash_file(full))
        for rel, full, st in _walk_strict(Path(root))
    ]
    files.sort(key=lambda f: f.path)
    return files


def tree_digest(files: Iterable[TreeFile]) -> str:
    """The tree digest of ``files`` (see the module docstring for the exact definition)."""
    hasher = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        _check_tree_path(f.path, f.path)
        mode = "755" if f.executable else "644"
        hasher.update(f"{mode} {f.sha256} {f.path}\n".encode())
    return f"sha256:{hasher.hexdigest()}"


def tree_digest_of(root: Path) -> str:
    """The tree digest of the folder ``root``."""
    return tree_digest(tree_files(root))


def diff_tree(root: Path, expected: Sequence[TreeFile]) -> TreeDiff:
    """Compare the folder ``root`` with ``expected`` and name every differing relative path.

    A path whose content differs is ``modified`` (so is a symlink or other
    non-file in place of a file); one whose exec bit differs is
    ``mode_changed`` (a path may be in both). Content is hashed only when the
    sizes agree. A missing ``root`` reports every file missing.
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
        if _is_exec(st.st_mode) != exp.executable:
            mode_changed.append(rel)
        if st.st_size != exp.size or _hash_file(full) != exp.sha256:
            modified.append(rel)
    return TreeDiff(
        modified=modified,
        extra=sorted(have.keys() - want.keys()),
        missing=sorted(want.keys() - have.keys()),
        mode_changed=mode_changed,
    )


# -- materialising ------------------------------------------------------------------


def materialise(source: Path, dest: Path) -> None:
    """Install a copy of the unpacked cache folder ``source`` at ``dest``, atomically.

    The tree is built in a staging folder beside ``dest`` (copy-on-write clones
    where supported, else copies; exec bits kept; mtimes back-dated) and swapped
    in with ``replace_dir``. On any failure the staging folder is removed and a
    previous ``dest`` is left intact. The caller checks that ``dest`` is owned.
    """
    source = Path(source)
    dest = Path(dest)
    if not source.is_dir():
        raise NotFound(f"unpacked skill folder {source} is missing")
    stamp_ns = (time.time_ns() // 1_000_000_000 - _MTIME_BACKDATE_S) * 1_000_000_000
    staging = staging_dir(dest)
    try:
        _copy_tree(source, staging, stamp_ns)
        os.chmod(staging, 0o777 & ~_umask())
        replace_dir(staging, dest)
    except BaseException:
        if os.path.lexists(staging):
            remove_tree(staging)
        raise


def skill_path(project: Path, name: str) -> Path:
    """The canonical folder ``<project>/.agents/skills/<name>`` (``name`` checked)."""
    return Path(project, *SKILLS_DIR.split("/"), _check_name(name))


# -- links --------------------------------------------------------------------------


def link_skill(
    project: Path,
    link_dir: str,
    name: str,
    target: Path,
    *,
    owned: Collection[str] = (),
) -> Path:
    """Make ``<project>/<link_dir>/<name>`` a relative symlink to the skill folder ``target``.

    ``target`` is the canonical folder, normally ``skill_path(project, name)``
    (a filesystem path like any other, not one relative to ``project``). An
    existing symlink is replaced when it is in ``owned`` or already resolves to
    ``target``; an existing folder or file only when it is in ``owned`` (or, for
    a folder, holds exactly the same tree). Anything else raises ProjectError.
    Where symlinks cannot be made (OSError) the skill is copied instead.
    Returns the link path.
    """
    rel = f"{_check_relpath(link_dir)}/{_check_name(name)}"
    link = Path(project, *rel.split("/"))
    target_abs = Path(os.path.abspath(target))
    text = os.path.relpath(target_abs, os.path.abspath(link.parent))
    st = _lstat(link)
    if st is not None:
        if stat.S_ISLNK(st.st_mode) and _readlink(link) == text:
            return link
        if not _replaceable(link, st, target_abs, rel in _norm_set(owned)):
            raise ProjectError(
                f"{link} already exists and was not created by skillcrate; "
                "remove or rename it to install the link"
            )
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{name}.{uuid.uuid4().hex[:8]}.link")
    try:
        os.symlink(text, tmp, target_is_directory=True)
    except OSError:
        materialise(target_abs, link)  # no symlinks here: fall back to a copy
        return link
    try:
        _swap_in(tmp, link, st)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return link


def unlink_skill(
    project: Path,
    link_dir: str,
    name: str,
    *,
    owned: Collection[str] = (),
) -> bool:
    """Remove the link (or copy) ``<project>/<link_dir>/<name>`` if skillcrate made it.

    A symlink is removed when it is in ``owned`` or points into
    ``.agents/skills/``; a folder or file only when it is in ``owned``.
    Returns True when something was removed, False when absent or not ours.
    """
    rel = f"{_check_relpath(link_dir)}/{_check_name(name)}"
    link = Path(project, *rel.split("/"))
    st = _lstat(link)
    if st is None:
        return False
    ours = rel in _norm_set(owned)
    if stat.S_ISLNK(st.st_mode) and not ours:
        canonical = Path(os.path.abspath(Path(project, *SKILLS_DIR.split("/"))))
        resolved = Path(os.path.abspath(link.parent / _readlink(link)))
        ours = canonical in resolved.parents
    if not ours:
        return False
    remove_tree(link)
    return True


def remove_owned(project: Path, relpath: str, owned: Collection[str]) -> bool:
    """Remove ``<project>/<relpath>`` only if it is in ``owned``; True when removed."""
    rel = _check_relpath(relpath)
    if rel not in _norm_set(owned):
        return False
    path = Path(project, *rel.split("/"))
    if _lstat(path) is None:
        return False
    remove_tree(path)
    return True


# -- .gitignore ---------------------------------------------------------------------


def update_gitignore(project: Path, paths: Iterable[str]) -> bool:
    """Rewrite the managed block of ``<project>/.gitignore`` to list ``paths``; True if changed.

    Each path becomes an anchored pattern: ``/.agents/skills/review/`` for a
    real folder, no trailing slash for anything else (git never matches a
    symlink with a ``dir/`` pattern). The state file is listed whenever the
    block is present. Entries are sorted and deduplicated; ``.agents/skills``
    itself is never listed. The rest of the file is kept byte for byte
    (including its line endings and a missing final newline). With no paths
    the block is removed, and a file left empty is deleted.
    """
    project = Path(project)
    ignore = project / ".gitignore"
    try:
        raw = ignore.read_bytes()
    except FileNotFoundError:
        raw = None
    text = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
    patterns = _gitignore_patterns(project, paths)
    new_text = _render_gitignore(text, patterns, ignore)
    if raw is not None and new_text == text:
        return False
    if raw is None and not new_text:
        return False
    if not new_text:
        ignore.unlink()
        return True
    atomic_write(ignore, new_text.encode("utf-8", "surrogateescape"))
    return True


# -- install state ------------------------------------------------------------------


@dataclass(frozen=True)
class FileRecord:
    """What ``lstat`` showed for one installed file, plus its hex sha256."""

    size: int
    mtime_ns: int
    executable: bool
    sha256: str


@dataclass
class SkillState:
    """The record of one installed skill (see the module docstring)."""

    tree: str
    paths: list[str] = field(default_factory=list)
    files: dict[str, FileRecord] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    copies: dict[str, dict[str, FileRecord]] = field(default_factory=dict)

    def tree_files(self) -> list[TreeFile]:
        """The recorded files as ``TreeFile`` values (for ``tree_digest`` / ``diff_tree``)."""
        return _tree_files_of(self.files)


def _tree_files_of(files: dict[str, FileRecord]) -> list[TreeFile]:
    return [TreeFile(rel, rec.executable, rec.size, rec.sha256) for rel, rec in files.items()]


@dataclass
class InstallState:
    """The whole install state file."""

    lock: str
    skills: dict[str, SkillState] = field(default_factory=dict)
    owned: list[str] = field(default_factory=list)
    version: int = STATE_VERSION


def record_skill(
    root: Path,
    *,
    project: Path | None = None,
    links: Iterable[Path] = (),
) -> SkillState:
    """Build the state record of the skill installed at ``root`` (hashes its files once).

    With ``project``, ``paths`` lists ``root`` and every path in ``links``
    (filesystem paths, e.g. from ``skill_path`` and ``link_skill``) relative to
    it; each link is recorded as a symlink target or, when it is a real folder
    (copy fallback), with its own file records.
    """
    files = _record_files(Path(root))
    tree = tree_digest(_tree_files_of(files))
    state = SkillState(tree=tree, files=files)
    if project is not None:
        state.paths.append(_project_rel(project, root))
        for link in links:
            rel = _project_rel(project, link)
            state.paths.append(rel)
            if Path(link).is_symlink():
                state.links[rel] = _readlink(Path(link))
            else:
                state.copies[rel] = _record_files(Path(link))
    return state


def read_state(project: Path) -> InstallState | None:
    """The install state of ``project``, or None when missing, unreadable or malformed."""
    try:
        data = json.loads(Path(project, *STATE_FILE.split("/")).read_bytes())
        return _state_from_json(data)
    except Exception:  # any damage means "no usable state"
        return None


def write_state(project: Path, state: InstallState) -> None:
    """Write the install state of ``project`` atomically."""
    data = json.dumps(_state_to_json(state), indent=1, sort_keys=True) + "\n"
    atomic_write(Path(project, *STATE_FILE.split("/")), data)


def state_is_fresh(project: Path, state: InstallState, lock_digest: str) -> bool:
    """Whether ``project`` still holds exactly what ``state`` records, using only stat calls.

    True when the lock digest matches, every recorded file has the same size,
    mtime_ns and exec bit, no skill folder holds an unrecorded file, and every
    link exists, resolves and has the recorded target. Never reads file content.
    """
    if state.version != STATE_VERSION or state.lock != lock_digest:
        return False
    try:
        for name, skill in state.skills.items():
            for rel in skill.paths or [f"{SKILLS_DIR}/{name}"]:
                full = os.path.join(project, *rel.split("/"))
                if rel in skill.links:
                    if os.readlink(full) != skill.links[rel] or not os.path.exists(full):
                        return False
                elif not _files_fresh(full, skill.copies.get(rel, skill.files)):
                    return False
    except (OSError, ValueError):
        return False
    return True


def is_owned(state: InstallState | None, relpath: str) -> bool:
    """Whether skillcrate created the project-relative ``relpath`` (per ``state.owned``)."""
    if state is None:
        return False
    return _norm(relpath) in _norm_set(state.owned)


# -- internals: walking and hashing -------------------------------------------------


def _walk_strict(root: Path, *, dirs: bool = False) -> Iterator[tuple[str, str, os.stat_result]]:
    """Yield ``(relpath, fullpath, lstat)`` for every regular file; UnsafePath on others.

    With ``dirs``, folders are yielded too, each before anything inside it.
    """
    if not os.path.isdir(root):
        raise NotFound(f"skill folder {root} does not exist")
    stack = [("", str(root))]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as it:
            entries = list(it)
        for entry in entries:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append((rel + "/", entry.path))
                if dirs:
                    yield _check_tree_path(rel, entry.path), entry.path, st
            elif stat.S_ISREG(st.st_mode):
                yield _check_tree_path(rel, entry.path), entry.path, st
            elif stat.S_ISLNK(st.st_mode):
                raise UnsafePath(f"symlink {entry.path} is not allowed in a skill tree")
            else:
                raise UnsafePath(f"special file {entry.path} is not allowed in a skill tree")


def _walk_lenient(root: Path) -> Iterator[tuple[str, tuple[str, os.stat_result]]]:
    """Yield ``(relpath, (fullpath, lstat))`` for every non-directory under ``root``."""
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


def _check_tree_path(rel: str, full: str) -> str:
    """Refuse relative paths the tree digest cannot represent unambiguously."""
    if "\n" in rel:
        raise UnsafePath(f"file name {full!r} contains a newline")
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePath(f"file name {full!r} is not valid UTF-8") from None
    return rel


def _is_exec(mode: int) -> bool:
    return bool(mode & stat.S_IXUSR)


def _hash_file(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _record_files(root: Path) -> dict[str, FileRecord]:
    records: dict[str, FileRecord] = {}
    for rel, full, st in sorted(_walk_strict(root)):
        records[rel] = FileRecord(
            st.st_size, st.st_mtime_ns, _is_exec(st.st_mode), _hash_file(full)
        )
    return records


def _files_fresh(folder: str, records: dict[str, FileRecord]) -> bool:
    """One scandir walk: every file recorded and unchanged by lstat, none unrecorded."""
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode):
        return False
    seen = 0
    stack = [("", folder)]
    while stack:
        prefix, current = stack.pop()
        with os.scandir(current) as it:
            for entry in it:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
                    continue
                rec = records.get(rel)
                if rec is None:
                    return False
                est = entry.stat(follow_symlinks=False)
                if (
                    not stat.S_ISREG(est.st_mode)
                    or est.st_size != rec.size
                    or est.st_mtime_ns != rec.mtime_ns
                    or _is_exec(est.st_mode) != rec.executable
                ):
                    return False
                seen += 1
    return seen == len(records)


# -- internals: copying ---------------------------------------------------------------


def _copy_tree(source: Path, dest: Path, stamp_ns: int) -> None:
    """Copy the folders and regular files of ``source`` into the existing folder ``dest``."""
    for rel, full, st in _walk_strict(source, dirs=True):
        target = dest.joinpath(*rel.split("/"))
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(target)
            continue
        _copy_file(full, target, _is_exec(st.st_mode))
        os.utime(target, ns=(stamp_ns, stamp_ns))


def _copy_file(src: str, dst: Path, executable: bool) -> None:
    """Clone (copy-on-write) or copy ``src`` to the new file ``dst`` with mode 0666/0777 - umask."""
    mode = 0o777 if executable else 0o666
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    with open(src, "rb") as fin:
        fd = os.open(dst, flags, mode)
        with os.fdopen(fd, "wb") as fout:
            if not _reflink(fin.fileno(), fout.fileno()):
                shutil.copyfileobj(fin, fout, _CHUNK)


def _reflink(src_fd: int, dst_fd: int) -> bool:
    """Try a Linux ``FICLONE``; False when the filesystem cannot share extents."""
    if fcntl is None or not sys.platform.startswith("linux"):
        return False
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError:
        return False
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# -- internals: links and paths --------------------------------------------------------


def _check_name(name: str) -> str:
    """A skill name usable as one path component; UnsafePath otherwise."""
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\x00\n")
    ):
        raise UnsafePath(f"unsafe skill name {name!r}: must be a single visible path component")
    return name


def _norm(relpath: str) -> str:
    text = relpath.replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/".join(parts)


def _norm_set(paths: Iterable[str]) -> set[str]:
    return {_norm(p) for p in paths}


def _check_relpath(relpath: str) -> str:
    """A normalised project-relative POSIX path; UnsafePath if absolute, empty or with ``..``."""
    text = str(relpath)
    if text.startswith(("/", "\\")) or (len(text) >= 2 and text[1] == ":") or "\x00" in text:
        raise UnsafePath(f"unsafe project path {relpath!r}: must be relative")
    norm = _norm(text)
    if not norm or ".." in norm.split("/"):
        raise UnsafePath(f"unsafe project path {relpath!r}: empty or contains '..'")
    return norm


def _project_rel(project: Path, path: Path) -> str:
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(project))
    return _check_relpath(rel.replace(os.sep, "/"))


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _readlink(path: Path) -> str:
    return os.readlink(path)


def _replaceable(link: Path, st: os.stat_result, target: Path, owned: bool) -> bool:
    """Whether the existing ``link`` may be replaced by skillcrate."""
    if owned:
        return True
    if stat.S_ISLNK(st.st_mode):
        return os.path.realpath(link) == os.path.realpath(target)
    if stat.S_ISDIR(st.st_mode):
        try:
            return tree_digest_of(link) == tree_digest_of(target)
        except (OSError, UnsafePath):
            return False
    return False


def _swap_in(tmp: Path, link: Path, old: os.stat_result | None) -> None:
    """Rename the new symlink ``tmp`` onto ``link``; a real folder there is moved aside first."""
    if old is None or not stat.S_ISDIR(old.st_mode):
        os.replace(tmp, link)
        return
    aside = link.with_name(f".{link.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(link, aside)
    try:
        os.replace(tmp, link)
    except BaseException:
        os.rename(aside, link)
        raise
    remove_tree(aside)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- internals: .gitignore ---------------------------------------------------------------


def _gitignore_patterns(project: Path, paths: Iterable[str]) -> list[str]:
    """Anchored, sorted, deduplicated patterns for ``paths`` (folders get a trailing slash)."""
    patterns: set[str] = set()
    for path in paths:
        rel = _check_relpath(path)
        if rel == SKILLS_DIR:
            continue
        st = _lstat(Path(project, *rel.split("/")))
        is_dir = st is not None and stat.S_ISDIR(st.st_mode)
        if st is None and str(path).endswith("/"):
            is_dir = True
        patterns.add(f"/{rel}/" if is_dir else f"/{rel}")
    if patterns:
        patterns.add(f"/{STATE_FILE}")
    return sorted(patterns)


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept (``\\r`` stays part of the line); only ``\\n`` splits."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _render_gitignore(text: str, patterns: list[str], path: Path) -> str:
    """``text`` with its managed block replaced by one listing ``patterns`` (or removed)."""
    lines = _split_lines(text)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    start = end = None
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if start is None and bare == GITIGNORE_START:
            start = i
        elif start is not None and bare == GITIGNORE_END:
            end = i
            break
    if start is not None and end is None:
        raise ProjectError(f"{path}: skillcrate block start marker has no end marker")
    block = [GITIGNORE_START, *patterns, GITIGNORE_END] if patterns else []
    if start is None or end is None:
        if not block:
            return text
        prefix = text
        if prefix and not prefix.endswith("\n"):
            # No final newline: separate, and let the block inherit the missing newline.
            return prefix + eol + eol.join(block)
        return prefix + "".join(line + eol for line in block)
    prefix = "".join(lines[:start])
    suffix = "".join(lines[end + 1 :])
    had_final_newline = lines[end].endswith("\n")
    if not block:
        if not suffix and not had_final_newline:
            if prefix.endswith("\r\n"):
                prefix = prefix[:-2]
            elif prefix.endswith("\n"):
                prefix = prefix[:-1]
        return prefix + suffix
    rendered = "".join(line + eol for line in block)
    if not suffix and not had_final_newline:
        rendered = rendered[: -len(eol)]
    return prefix + rendered + suffix


# -- internals: state (de)serialisation --------------------------------------------------


def _record_to_json(rec: FileRecord) -> list[object]:
    return [rec.size, rec.mtime_ns, rec.executable, rec.sha256]


def _record_from_json(value: object) -> FileRecord:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("file record must be [size, mtime_ns, exec, sha256]")
    size, mtime_ns, executable, sha = value
    if not (
        type(size) is int
        and type(mtime_ns) is int
        and isinstance(executable, bool)
        and isinstance(sha, str)
    ):
        raise ValueError("bad file record")
    return FileRecord(size, mtime_ns, executable, sha)


def _records_from_json(value: object) -> dict[str, FileRecord]:
    if not isinstance(value, dict):
        raise ValueError("files must be an object")
    return {str(_check_relpath(k)): _record_from_json(v) for k, v in value.items()}


def _state_to_json(state: InstallState) -> dict[str, object]:
    skills: dict[str, object] = {}
    for name, skill in state.skills.items():
        entry: dict[str, object] = {
            "tree": skill.tree,
            "paths": list(skill.paths),
            "files": {rel: _record_to_json(rec) for rel, rec in skill.files.items()},
        }
        if skill.links:
            entry["links"] = dict(skill.links)
        if skill.copies:
            entry["copies"] = {
                path: {rel: _record_to_json(rec) for rel, rec in recs.items()}
                for path, recs in skill.copies.items()
            }
        skills[name] = entry
    return {
        "version": state.version,
        "lock": state.lock,
        "skills": skills,
        "owned": sorted(set(state.owned)),
    }


def _state_from_json(data: object) -> InstallState:
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise ValueError("unsupported state")
    lock, raw_skills, owned = data["lock"], data["skills"], data.get("owned", [])
    if not isinstance(lock, str) or not isinstance(raw_skills, dict):
        raise ValueError("bad state")
    if not isinstance(owned, list) or not all(isinstance(p, str) for p in owned):
        raise ValueError("bad owned list")
    skills: dict[str, SkillState] = {}
    for name, raw in raw_skills.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("tree"), str):
            raise ValueError("bad skill record")
        paths = raw.get("paths", [])
        links = raw.get("links", {})
        copies = raw.get("copies", {})
        if not isinstance(paths, list) or not isinstance(links, dict):
            raise ValueError("bad skill record")
        if not isinstance(copies, dict):
            raise ValueError("bad skill record")
        skills[_check_name(name)] = SkillState(
            tree=raw["tree"],
            paths=[_check_relpath(p) for p in paths],
            files=_records_from_json(raw.get("files", {})),
            links={_check_relpath(k): str(v) for k, v in links.items()},
            copies={_check_relpath(k): _records_from_json(v) for k, v in copies.items()},
        )
    return InstallState(lock=lock, skills=skills, owned=[_norm(p) for p in owned])
