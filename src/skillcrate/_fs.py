"""Atomic writes outside projects (cache, state, layouts the user named, key files).

Writes inside a project go through :mod:`skillcrate.boundary` instead. Modes are passed
to ``os.open``/``os.mkdir`` so the OS applies the umask: the process-wide umask is never
read or changed (that would race with other threads creating files).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from .errors import FilesystemError, UnsafePath
from .fastpath import DIR_FLAGS as DIR_FLAGS  # the folder-open flags: spelled once, there

NEW_FILE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
"""A new file, never through a symlink (``O_EXCL | O_NOFOLLOW``)."""


def temp_path(path: Path) -> Path:
    """A fresh temp name beside ``path`` (same folder, so a rename is atomic)."""
    return path.with_name(f".skillcrate-tmp-{path.name}-{os.urandom(4).hex()}")


def atomic_write(
    path: Path, data: str | bytes, *, mode: int | None = None, durable: bool = True
) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``.

    A reader sees either the old file or the new one, never a partial write. The file
    gets ``mode``, else the mode of the file it replaces, else 0666 minus the umask.
    ``durable`` fsyncs the data before the rename (a power loss cannot leave an empty
    file); the cache passes False for entries it re-checks after a reboot. OS errors
    become FilesystemError naming ``path``.
    """
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    keep = None
    if mode is None:
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            keep = None if stat.S_ISLNK(st.st_mode) else st.st_mode & 0o7777

    def write(fd: int) -> None:
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view) :]

    _replace_with(path, write, mode if mode is not None else keep, durable=durable)


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy the file ``src`` to ``dest`` (mode 0644) through a temp file and ``os.replace``."""

    def write(fd: int) -> None:
        with open(src, "rb") as fh:
            copy_fd(fh.fileno(), fd)

    _replace_with(Path(dest), write, 0o644)


def _replace_with(
    path: Path, write: Callable[[int], None], mode: int | None, *, durable: bool = True
) -> None:
    """Create a temp file beside ``path``, ``write(fd)`` into it, fsync, rename onto ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(path)
        fd = os.open(tmp, NEW_FILE_FLAGS, 0o666 if mode is None else mode)
        try:
            try:
                write(fd)
                if mode is not None:
                    os.fchmod(fd, mode)
                if durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise cannot_write(path, exc) from exc


def cannot_write(path: Path, exc: OSError) -> FilesystemError:
    """A write that failed in the file system (full, read-only, quota), naming the path.

    Where a file stands in place of one of the folders above ``path`` (``EEXIST`` or
    ``ENOTDIR`` on the way down), the message names that file instead of the OS's words."""
    cause = exc.strerror or str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        blocker = file_in_the_way(path)
        if blocker is not None:
            cause = f"{blocker} is not a folder"
    return FilesystemError(f"cannot write {path}: {cause}", errno=exc.errno)


def file_in_the_way(path: Path) -> Path | None:
    """The first of the folders above ``path``, from the top, that exists and is not a
    folder (a link to a folder counts as a folder); None when there is none."""
    for parent in reversed(Path(path).parents):
        try:
            if not stat.S_ISDIR(os.stat(parent).st_mode):
                return parent
        except FileNotFoundError:
            return None
        except OSError:  # a dangling link, a loop, no permission: not a file in the way
            return None
    return None


def boot_id() -> str | None:
    """This boot's identifier (Linux ``/proc/sys/kernel/random/boot_id``), else None.

    Data the kernel had not written out is lost only with the kernel (a crash or power
    loss, then a new boot): what was written during this boot and is read back during
    it is what was written, fsync or not.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as fh:
            value = fh.read(64).strip().decode("ascii", "replace")
    except OSError:
        return None
    return value or None


def copy_fd(src: int, dst: int) -> None:
    """Copy everything from ``src`` to ``dst`` in the kernel where possible.

    ``copy_file_range`` (same or, on Linux ≥ 5.3, different file systems), then
    ``sendfile``, then a read/write loop: what ``shutil.copyfile`` does on Linux.
    """
    size = os.fstat(src).st_size
    for name in ("copy_file_range", "sendfile"):
        fn = getattr(os, name, None)
        if fn is None:
            continue
        try:
            done = 0
            while True:
                n = (
                    fn(src, dst, 1 << 30, done, done)
                    if name == "copy_file_range"
                    else fn(dst, src, done, 1 << 30)
                )
                if n == 0:
                    break
                done += n
            if done >= size:
                return
        except OSError:
            pass
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
    os.lseek(src, 0, os.SEEK_SET)
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


def safe_member_path(member: str) -> PurePosixPath:
    """Validate a relative archive path: no absolute paths, no ``..``, no empty parts.

    A ``\\`` is an ordinary character of a POSIX file name and is kept as it is.
    """
    if not member or member.startswith("/") or "\x00" in member:
        raise UnsafePath(f"unsafe path in archive: {member!r} (absolute or empty)")
    parts = [p for p in member.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"unsafe path in archive: {member!r} (contains '..')")
    if not parts:
        raise UnsafePath(f"unsafe path in archive: {member!r} (empty)")
    return PurePosixPath(*parts)
