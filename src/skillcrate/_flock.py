"""An exclusive lock between processes (and threads) on a lock file: ``flock(2)`` on
POSIX, ``msvcrt.locking`` on Windows; standard library only.

Each acquisition opens the file anew, so two holders in one process exclude each other
as two processes do (flock locks belong to the open file, not the process). The lock
frees itself when its holder exits, however it exits. The file is opened without
following a symbolic link and made ``0600``; nothing is ever written to it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

POLL = 0.05  # seconds between attempts while another holder has it

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
