"""An exclusive lock between processes (and threads) on a lock file: ``flock(2)`` on
POSIX, ``msvcrt.locking`` on Windows; standard library only.

Each acquisition opens the file anew, so two holders in one process exclude each other
as two processes do (flock locks belong to the open file, not the process). The lock
frees itself when its holder exits, however it exits. The file is opened without
following a symbolic link and made ``0600``; nothing is ever written to it.

skillcrate's own locks (:func:`state_lock`: a project's, an ``oci:`` layout's) live in
the per-user state folder, ``<state>/locks/<name>.lock``: never in a project or a layout
(a committed folder never gains one), and never in a folder other users can write (a
lock file someone else planted there could hold a write off for good, or refuse it).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

from .errors import FilesystemError, SkillcrateError

POLL = 0.05  # seconds between attempts while another holder has it
LOCK_WAIT = 600.0  # seconds to wait for another process's lock (default)

if sys.platform == "win32":
    import msvcrt

    def _try(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(
    path: str, *, timeout: float | None = None, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold the lock on ``path`` for the ``with`` block.

    When another holder has it, ``on_wait()`` is called once and the lock is tried
    every 50 ms for up to ``timeout`` seconds (None: without end); then
    ``TimeoutError``. OS errors (a read-only folder, a link in the way) propagate."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        if not _try(fd):
            if on_wait is not None:
                on_wait()
            deadline = None if timeout is None else time.monotonic() + timeout
            while not _try(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"{path}: still locked after {timeout:.0f} s")
                time.sleep(POLL)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


def lock_wait() -> float:
    """``SKILLCRATE_LOCK_TIMEOUT`` seconds, else :data:`LOCK_WAIT`."""
    try:
        return max(0.0, float(os.environ["SKILLCRATE_LOCK_TIMEOUT"]))
    except (KeyError, ValueError):
        return LOCK_WAIT


def state_lock_path(name: str) -> str:
    """Where the lock ``name`` lives: ``<state>/locks/<name>.lock``."""
    from .fastpath import state_path

    return os.path.join(state_path(), "locks", f"{name}.lock")


@contextlib.contextmanager
def state_lock(
    name: str,
    what: str,
    *,
    error: type[SkillcrateError] = FilesystemError,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold skillcrate's lock ``name`` (:func:`state_lock_path`) on ``what`` for the
    ``with`` block, waiting up to :func:`lock_wait` seconds for another holder; then
    ``error``, saying so. The ``locks`` folder is made ``0700``. Failing to make it or
    the lock file is a :class:`FilesystemError` naming the path (and a file in the way).
    What the block itself raises passes through as it is (a network timeout in it is not
    a lock that was held)."""
    from pathlib import Path

    from ._fs import cannot_write

    path = state_lock_path(name)
    with contextlib.ExitStack() as held:
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            held.enter_context(exclusive(path, timeout=lock_wait(), on_wait=on_wait))
        except TimeoutError:
            raise error(
                f"another skillcrate process has held the lock of {what} for "
                f"{lock_wait():.0f} s ({path})",
                hints=["wait for it to finish, or stop it; the lock frees itself then"],
            ) from None
        except OSError as exc:
            raise cannot_write(Path(path), exc) from exc
        yield
