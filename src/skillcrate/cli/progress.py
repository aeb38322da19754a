"""Transfer progress on a terminal: one status line on stderr, redrawn in place.

``TerminalMeter`` is the :class:`~skillcrate.oci.target.Meter` the CLI hands its registry
client when stderr is a terminal (and ``-q`` is not given). It shows, at most ten times a
second, what is being downloaded, how much of it has arrived and how fast::

    ↓ review  12.3/50.0 MiB  4.1 MiB/s
    ↓ 3 skills  20.1/150.0 MiB  6.0 MiB/s
    ↑ review  80.0/200.0 MiB  30.2 MiB/s      (push: a blob upload)

Transfers that finish within half a second draw nothing, so a warm or small install
prints no progress at all. Lines other output prints clear the status line first.
Stdlib only; each meter has its own lock (download threads call it).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TextIO

MiB = 1024 * 1024
DELAY = 0.5  # seconds before anything is drawn
INTERVAL = 0.1  # seconds between redraws


@dataclass
class _Transfer:
    """One blob's progress on the terminal line: bytes done of ``total``."""

    label: str
    total: int
    upload: bool = False
    done: int = 0


class TerminalMeter:
    """Byte progress of concurrent transfers as one redrawn line on ``stream``."""

    def __init__(self, stream: TextIO, clock: object = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock  # a callable returning seconds; tests pass a fake clock
        self._lock = threading.Lock()
        self._active: dict[str, _Transfer] = {}
        self._started: float | None = None
        self._bytes = 0  # arrived since the first transfer of this burst began
        self._drawn_at = 0.0
        self._shown = False

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator,no-any-return]

    def begin(self, key: str, label: str, total: int, *, upload: bool = False) -> None:
        with self._lock:
            if not self._active:
                self._started, self._bytes = self._now(), 0
            self._active[key] = _Transfer(label, total, upload)

    def advance(self, key: str, n: int) -> None:
        with self._lock:
            transfer = self._active.get(key)
            if transfer is None:
                return
            transfer.done += n
            self._bytes += n
            now = self._now()
            if self._started is None or now - self._started < DELAY:
                return
            if now - self._drawn_at >= INTERVAL:
                self._draw(now)

    def end(self, key: str) -> None:
        with self._lock:
            self._active.pop(key, None)
            if not self._active:
                self._clear()

    def note(self, text: str) -> None:
        """Say ``text`` on a line of its own (the status line is redrawn after it)."""
        from ..text import one_line

        with self._lock:
            self._clear()
            self._stream.write(one_line(text) + "\n")
            self._stream.flush()

    def clear(self) -> None:
        """Erase the status line (before other output); the next advance redraws it."""
        with self._lock:
            self._clear()

    def line(self, now: float) -> str:
        """The status line for the transfers in progress."""
        transfers = list(self._active.values())
        done = sum(t.done for t in transfers)
        total = sum(t.total for t in transfers) if all(t.total >= 0 for t in transfers) else -1
        who = transfers[0].label if len(transfers) == 1 else f"{len(transfers)} skills"
        ups = {t.upload for t in transfers}
        arrow = "↑" if ups == {True} else "↓" if ups == {False} else "⇅"
        elapsed = max(now - (self._started or now), 1e-6)
        size = f"{done / MiB:.1f}/{total / MiB:.1f} MiB" if total >= 0 else f"{done / MiB:.1f} MiB"
        return f"{arrow} {who}  {size}  {self._bytes / elapsed / MiB:.1f} MiB/s"

    def _draw(self, now: float) -> None:
        from ..text import one_line

        self._drawn_at = now
        self._stream.write("\r\x1b[K" + one_line(self.line(now), 100))
        self._stream.flush()
        self._shown = True

    def _clear(self) -> None:
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
