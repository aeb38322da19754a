"""The project boundary: every create, replace and delete inside a project goes through here.

Everything that arrives with a project (``skills.json``, the lock, committed folders and
symlinks) may have been written by someone else, so where skillcrate writes is decided
here, once, for every command:

* **Paths** are relative POSIX paths (:func:`path_problem`, the one safe-path rule): no
  leading ``/``, no ``..``, no empty or ``.`` parts, no ``\\``, no control characters,
  and no component that is ``.git`` (compared case-insensitively, trailing dots and
  spaces ignored, as case-insensitive file systems would).
* **No links on the way.** The project root is opened once and every folder below it is
  opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent (Go's ``os.Root``,
  filepath-securejoin): a symlink anywhere on the way to a write is refused, never
  followed. Creates, renames and deletes use ``dir_fd``; ``shutil.rmtree`` with
  ``dir_fd`` never follows a link either.
* **Install artifacts** (what skills.json and the lock can name) live only at
  ``.agents/skills/<name>`` and ``<link folder>/<name>`` (:meth:`Boundary.check_artifact`).
  A link folder has the shape ``.<agent>/skills`` (``.claude/skills``, ``.github/skills``:
  :data:`LINK_DIR_RE`) unless the user allowed it on the command line or in their own
  ``config.toml``. The fixed project files (``skills.json``, the lock, ``.gitignore``,
  agent hook files) are written with :meth:`Boundary.write_file`, which applies the same
  path and no-link rules.
* **Temporary names** start with :data:`TEMP_PREFIX`; a crashed run's leftovers are
  removed by the next install (:meth:`Boundary.clean_temp`) and git-ignored meanwhile.

Ownership (which existing paths skillcrate may replace or delete) is decided by the
installer from its own state outside the project, never from the lock; this module only
guarantees that whatever is decided cannot reach outside the allowed shapes.

Stdlib only.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import shutil
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar, cast

from ._fs import DIR_FLAGS, NEW_FILE_FLAGS
from .errors import FilesystemError, UnsafePath
from .names import check_name
from .text import has_control, one_line

SKILLS_DIR = ".agents/skills"
"""The canonical install folder, relative to the project root."""

TEMP_PREFIX = ".skillcrate-"
"""Every temporary name skillcrate creates inside a project starts with this."""

LINK_DIR_RE = re.compile(r"^\.[a-z0-9][a-z0-9_-]*/skills$")
"""Link folders allowed without opt-in: ``.<agent>/skills`` (not ``.git`` or ``.agents``)."""

MAX_PATH = 1024

_DIR_FLAGS = DIR_FLAGS
_LINK_ERRNOS = {errno.ELOOP, errno.ENOTDIR, getattr(errno, "EMLINK", errno.ELOOP)}
# Leftovers of skillcrate < 0.2: `.<name>.<rand>.staging`, `.<name>.old-<hex8>`.
_LEGACY_TEMP = re.compile(
    r"^\.[a-z0-9-]+\.(?:[a-z0-9_]+\.staging|old-[0-9a-f]{8}|[0-9a-f]{8}\.link)$"
)
_LEGACY_STATE = ".skillcrate-state.json"

T = TypeVar("T")


# ------------------------------------------------------------------------------- rules


def _is_git(part: str) -> bool:
    return part.rstrip(". ").casefold() == ".git"


def path_problem(value: object) -> str | None:
    """Why ``value`` is not a safe project-relative POSIX path, or None."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    return _checked(value)[0]


@functools.lru_cache(maxsize=4096)  # a pure function of the text; a big project asks often
def _checked(value: str) -> tuple[str | None, str]:
    """(:func:`path_problem`'s answer, the normalised path) for a string."""
    problem = _problem(value)
    return problem, ("" if problem else "/".join(p for p in value.split("/") if p not in ("", ".")))


def _problem(value: str) -> str | None:
    if not value:
        return "must be a non-empty path"
    if has_control(value):
        return f"{one_line(value)!r} must not contain control characters"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH:
        return f"is longer than {MAX_PATH} bytes"
    if value.startswith("/") or (len(value) >= 2 and value[1] == ":"):
        return f"{value!r} must be relative to the project"
    if "\\" in value:
        return f"{value!r} must use '/' separators"
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if ".." in parts:
        return f"{value!r} must not contain '..'"
    if not parts:
        return f"{value!r} must name a folder inside the project"
    if any(_is_git(p) for p in parts):
        return f"{value!r} is inside .git, which skillcrate never writes"
    return None


def check_relpath(value: str, what: str = "path") -> str:
    """``value`` normalised (``a/./b/`` → ``a/b``); UnsafePath if :func:`path_problem` objects."""
    problem = path_problem(value)
    if problem:
        raise UnsafePath(f"unsafe {what}: {problem}")
    return _checked(value)[1]


def link_dir_problem(value: object, allowed: Collection[str] = ()) -> str | None:
    """Why ``value`` may not be a link folder, or None (``allowed``: the user's opt-ins)."""
    problem = path_problem(value)
    if problem:
        return problem
    assert isinstance(value, str)
    norm = check_relpath(value)
    if norm in {check_relpath(a) for a in allowed}:
        return None
    if norm == SKILLS_DIR or norm.startswith(SKILLS_DIR + "/"):
        return f"{value!r} is the install folder itself"
    if not LINK_DIR_RE.match(norm):
        return (
            f"{value!r} is not an agent skill folder (.<agent>/skills); allow it with "
            f"--allow-link-dir {norm} or allow_link_dirs in config.toml"
        )
    return None


def skill_rel(name: str) -> str:
    """``.agents/skills/<name>`` (``name`` checked)."""
    return f"{SKILLS_DIR}/{check_name(name)}"


# ---------------------------------------------------------------------------- boundary


class Boundary:
    """Writes inside one project folder, confined as the module docstring says.

    ``root`` comes from the user (``-C`` or the working folder) and is resolved once;
    ``link_dirs`` are extra link folders the user allowed explicitly.
    """

    def __init__(self, root: Path, *, link_dirs: Collection[str] = ()) -> None:
        self.root = Path(os.path.realpath(root))
        self.allowed_link_dirs = tuple(check_relpath(d, "link folder") for d in link_dirs)

    def __repr__(self) -> str:
        return f"Boundary({str(self.root)!r})"

    # -- rules for install artifacts -------------------------------------------------

    def link_dir_problem(self, value: object) -> str | None:
        return link_dir_problem(value, self.allowed_link_dirs)

    def check_link_dir(self, value: str) -> str:
        problem = self.link_dir_problem(value)
        if problem:
            raise UnsafePath(f"link folder {problem}")
        return check_relpath(value)

    def check_artifact(self, rel: str) -> str:
        """``rel`` if it is ``.agents/skills/<name>`` or ``<link folder>/<name>``."""
        norm = check_relpath(rel)
        folder, _, name = norm.rpartition("/")
        check_name(name)
        if folder != SKILLS_DIR:
            self.check_link_dir(folder)
        return norm

    # -- reading ------------------------------------------------------------------------

    def path(self, rel: str) -> Path:
        """The filesystem path of ``rel`` (for reading; writes go through the methods)."""
        return self.root.joinpath(*check_relpath(rel).split("/"))

    def lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel``; None when it (or a parent) is missing.

        UnsafePath when a parent folder is a symlink or not a folder.
        """
        parts = check_relpath(rel).split("/")
        try:
            with self._dir(parts[:-1], create=False) as fd:
                return os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", rel, exc) from exc

    def lstat_entries(
        self, folder: str, names: Iterable[str]
    ) -> dict[str, tuple[os.stat_result, str | None]]:
        """``(lstat, symlink text or None)`` of each of ``names`` in ``folder``, the folder
        opened once (hundreds of skills); a missing name (or folder) is left out.
        UnsafePath as :meth:`lstat`."""
        parts = check_relpath(folder).split("/")
        out: dict[str, tuple[os.stat_result, str | None]] = {}
        try:
            with self._dir(parts, create=False) as fd:
                for name in names:
                    check_name(name)
                    try:
                        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                        text = os.readlink(name, dir_fd=fd) if stat.S_ISLNK(st.st_mode) else None
                    except FileNotFoundError:
                        continue
                    out[name] = (st, text)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._error("read", folder, exc) from exc
        return out

    def readlink(self, rel: str) -> str | None:
        """The target text of the symlink ``rel``; None when it is not a symlink."""
        parts = check_relpath(rel).split("/")
        try:
            with self._dir(parts[:-1], create=False) as fd:
                return os.readlink(parts[-1], dir_fd=fd)
        except (FileNotFoundError, OSError):
            return None

    # -- writing ------------------------------------------------------------------------

    def write_file(self, rel: str, data: bytes, *, mode: int | None = None) -> None:
        """Write ``data`` to ``rel`` atomically (temp file beside it, then rename).

        The new file keeps the mode of the file it replaces, else ``mode``, else
        0666 minus the umask (applied by the OS: the process umask is never changed).
        A symlink at ``rel`` is replaced by the file, never written through.
        """
        parts = check_relpath(rel).split("/")
        try:
            with self._dir(parts[:-1], create=True) as fd:
                _write_at(fd, parts[-1], data, mode)
        except OSError as exc:
            raise self._error("write", rel, exc) from exc

    def remove(self, rel: str) -> bool:
        """Delete the file, symlink or folder ``rel`` (never following a link); True if done."""
        parts = check_relpath(rel).split("/")
        try:
            with self._dir(parts[:-1], create=False) as fd:
                return _remove_at(fd, parts[-1])
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._error("remove", rel, exc) from exc

    def replace_tree(self, rel: str, fill: Callable[[int], T]) -> T:
        """Build a new folder for the artifact ``rel`` and swap it in atomically.

        ``fill(fd)`` populates an empty staging folder beside ``rel`` (``fd`` is that
        folder, opened without following links). Then whatever is at ``rel`` is moved
        aside, the staging folder renamed onto ``rel``, and the old entry deleted. On any
        failure the staging folder is removed and the old entry stays (or is put back).
        """

        def make(parent: int, staging: str) -> bool:
            os.mkdir(staging, 0o777, dir_fd=parent)
            return True

        _made, result = self._staged(rel, make, fill)
        return cast(T, result)

    def move_tree_in(
        self, rel: str, source: tuple[int, str], finish: Callable[[int], T]
    ) -> T | None:
        """Move the folder ``source`` (outside the project: ``(fd of the folder holding it,
        its name)``) in as the artifact ``rel``.

        Like :meth:`replace_tree`, with ``source`` renamed into the staging folder instead
        of a copy built there: ``finish(fd)`` then checks and stamps what arrived (``fd``
        is the staging folder), and it is swapped in. None, with ``source`` untouched,
        when the rename cannot be done (another file system): the caller copies instead.
        On a failure after the rename the moved tree is removed and the old entry stays.
        """

        def make(parent: int, staging: str) -> bool:
            try:
                _rename_in(source, staging, parent)
            except OSError as exc:
                if exc.errno in (errno.EXDEV, errno.EPERM, errno.EACCES):
                    return False
                raise
            return True

        made, result = self._staged(rel, make, finish)
        return result if made else None

    def _staged(
        self, rel: str, make: Callable[[int, str], bool], fill: Callable[[int], T]
    ) -> tuple[bool, T | None]:
        """What :meth:`replace_tree` and :meth:`move_tree_in` share: ``make(parent,
        staging)`` puts a staging folder beside ``rel`` (False: it could not, nothing was
        made), ``fill(fd)`` completes it, then it is swapped in; on any failure after it
        was made, the staging folder is removed and the old entry stays (or is put back).
        ``(made, what fill returned)``."""
        parts = self.check_artifact(rel).split("/")
        base = parts[-1]
        try:
            with self._dir(parts[:-1], create=True) as parent:
                staging = _temp_name("stage", base)
                if not make(parent, staging):
                    return False, None
                try:
                    fd = os.open(staging, _DIR_FLAGS, dir_fd=parent)
                    try:
                        result = fill(fd)
                    finally:
                        os.close(fd)
                    _swap_in(parent, staging, base)
                except BaseException:
                    _remove_at(parent, staging)
                    raise
                return True, result
        except OSError as exc:
            raise self._error("write", rel, exc) from exc

    def symlink(self, rel: str, target: str) -> None:
        """Make the artifact ``rel`` a symlink whose text is ``target``, atomically.

        OSError (e.g. EPERM where links are not allowed) is raised as is so the caller
        can fall back to a copy.
        """
        parts = self.check_artifact(rel).split("/")
        base = parts[-1]
        with self._dir(parts[:-1], create=True) as parent:
            tmp = _temp_name("link", base)
            os.symlink(target, tmp, dir_fd=parent)
            try:
                _swap_in(parent, tmp, base)
            except BaseException:
                _remove_at(parent, tmp)
                raise

    def clean_temp(self, folder: str) -> list[str]:
        """Remove leftovers of interrupted runs from ``folder``; their relative paths.

        Only names skillcrate makes are touched (:data:`TEMP_PREFIX`, and the staging,
        aside and state names of earlier versions). Call it with the project lock held.
        """

        def ours(entry: os.DirEntry[str]) -> bool:
            name = entry.name
            return bool(
                name.startswith(TEMP_PREFIX)
                or _LEGACY_TEMP.match(name)
                or (name == _LEGACY_STATE and folder == SKILLS_DIR)
            )

        return self._clean(check_relpath(folder).split("/"), ours)

    def clean_temp_files(self, names: Collection[str]) -> list[str]:
        """Remove the temporary files that a killed :meth:`write_file` of one of ``names``
        (files of the project's top folder: skills.json, the lock, ``.gitignore``) left
        beside them; their names. Only that exact shape (:func:`_temp_shape`) is touched:
        the top folder is the user's. Call it with the project lock held."""
        shape = _temp_shape("tmp", names)
        return self._clean(
            [], lambda e: bool(shape.fullmatch(e.name)) and e.is_file(follow_symlinks=False)
        )

    def _clean(self, parts: list[str], doomed: Callable[[os.DirEntry[str]], bool]) -> list[str]:
        """Remove each entry of the folder ``root/parts`` that ``doomed`` picks; their
        relative paths. A missing folder, or a symlink in place of one, holds nothing of
        skillcrate's."""
        where = "/".join(parts)
        removed: list[str] = []
        try:
            with self._dir(parts, create=False) as fd, os.scandir(fd) as it:
                for entry in [e for e in it if doomed(e)]:
                    _remove_at(fd, entry.name)
                    removed.append(f"{where}/{entry.name}" if where else entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return removed
        except OSError as exc:
            if exc.errno in _LINK_ERRNOS:
                return removed  # a symlinked folder: nothing of ours can be in it
            raise self._error("clean", where or ".", exc) from exc
        return removed

    # -- internals -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _dir(self, parts: Sequence[str], *, create: bool) -> Iterator[int]:
        """An fd for the folder ``root/parts``, every component opened without following links."""
        if create and not self.root.exists():
            self.root.mkdir(parents=True, exist_ok=True)  # the root itself comes from the user
        fd = os.open(self.root, _DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = self._open_child(fd, parts, i)
                except OSError as exc:
                    if exc.errno in _LINK_ERRNOS:
                        raise self._link_error(parts, i) from exc
                    raise
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _open_child(self, fd: int, parts: Sequence[str], i: int) -> int:
        try:
            return os.open(parts[i], _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in _LINK_ERRNOS:
                raise self._link_error(parts, i) from exc
            raise

    def _link_error(self, parts: Sequence[str], i: int) -> UnsafePath:
        where = "/".join(parts[: i + 1])
        return UnsafePath(
            f"{where} is a symbolic link or not a folder: skillcrate does not write "
            f"through links in a project ({self.root})",
            hints=[f"replace {where} with a real folder, or remove it"],
        )

    def _error(self, verb: str, rel: str, exc: OSError) -> Exception:
        if isinstance(exc, UnsafePath):
            return exc
        return FilesystemError(
            f"cannot {verb} {self.root / rel}: {exc.strerror or exc}", errno=exc.errno
        )


# --------------------------------------------------------------------------- fd helpers


def _temp_name(kind: str, base: str) -> str:
    return f"{TEMP_PREFIX}{kind}-{base}-{os.urandom(4).hex()}"


def _temp_shape(kind: str, bases: Collection[str]) -> re.Pattern[str]:
    """The names :func:`_temp_name` makes of ``kind`` and one of ``bases`` (fullmatch)."""
    alternatives = "|".join(re.escape(b) for b in sorted(bases))
    return re.compile(f"{re.escape(f'{TEMP_PREFIX}{kind}-')}(?:{alternatives})-[0-9a-f]{{8}}")


def _write_at(fd: int, name: str, data: bytes, mode: int | None) -> None:
    try:
        old = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder", name)
    keep = stat.S_IMODE(old.st_mode) if old is not None and stat.S_ISREG(old.st_mode) else None
    tmp = _temp_name("tmp", name)
    out = os.open(tmp, NEW_FILE_FLAGS, 0o666 if mode is None else mode, dir_fd=fd)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            if keep is not None:
                os.fchmod(out, keep)
            elif mode is not None:
                os.fchmod(out, mode)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
        raise


def _remove_at(fd: int, name: str) -> bool:
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=fd)
    else:
        os.unlink(name, dir_fd=fd)
    return True


def _rename_in(source: tuple[int, str], name: str, parent: int) -> None:
    """Rename the folder ``source`` (``(folder fd, name)``) to ``name`` in the folder
    ``parent`` (EXDEV across file systems)."""
    os.rename(source[1], name, src_dir_fd=source[0], dst_dir_fd=parent)


def _swap_in(parent: int, new: str, base: str) -> None:
    """Rename ``new`` onto ``base`` in ``parent``; a folder there is moved aside first."""
    try:
        old = os.stat(base, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is None or not stat.S_ISDIR(old.st_mode):
        os.replace(new, base, src_dir_fd=parent, dst_dir_fd=parent)
        return
    aside = _temp_name("old", base)
    os.rename(base, aside, src_dir_fd=parent, dst_dir_fd=parent)
    try:
        os.rename(new, base, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException:
        os.rename(aside, base, src_dir_fd=parent, dst_dir_fd=parent)
        raise
    with contextlib.suppress(OSError):  # a leftover is cleaned by the next install
        _remove_at(parent, aside)


def open_dir_at(parent: int, name: str, *, create: bool) -> int:
    """Open (and with ``create`` first make) the folder ``name`` in ``parent``, no links."""
    if create:
        os.mkdir(name, 0o777, dir_fd=parent)
    return os.open(name, _DIR_FLAGS, dir_fd=parent)


def create_file_at(parent: int, name: str, executable: bool) -> int:
    """A new file ``name`` in ``parent`` (0666 or 0777 minus the umask), never through a link."""
    return os.open(name, NEW_FILE_FLAGS, 0o777 if executable else 0o666, dir_fd=parent)
