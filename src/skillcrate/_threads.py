"""Threads: a bounded worker pool, and a stream read ahead on one worker.

:func:`parallel`: ``fn`` over items on up to 8 threads, results in order. Workers return
values and share nothing; callers merge results on their own thread.

:class:`ReadAhead`: one worker advances an iterator a few items ahead of its reader, so
that making a chunk (a socket read, its hash, its write to the cache) and using it
(decompress, extract, hash the files) overlap on two cores; each step releases the GIL
for the length of its C call. The items pass through one lock-guarded queue of the
instance; nothing else is shared.

Plain ``threading`` (not ``concurrent.futures``, whose import brings ``logging``: ~8 ms
on every install that fetches).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_PARALLEL = 8
STOP_WAIT = 2.0
"""Seconds :meth:`ReadAhead.close` waits for a worker stuck in a read (then leaves it)."""


def parallel(items: Sequence[T], fn: Callable[[T], R]) -> list[R]:
    """``fn`` over ``items`` on up to 8 threads; results in order (workers share nothing).

    Every item runs; then the error of the first item (in order) that raised is raised,
    as ``ThreadPoolExecutor.map`` would."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    results: list[R | None] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    order = iter(range(len(items)))
    taking = threading.Lock()  # local to this call: hands out indexes

    def work() -> None:
        while True:
            with taking:
                index = next(order, None)
            if index is None:
                return
            try:
                results[index] = fn(items[index])
            except BaseException as exc:  # noqa: BLE001  # re-raised on the caller's thread
                errors[index] = exc

    workers = [
        threading.Thread(target=work, daemon=True) for _ in range(min(MAX_PARALLEL, len(items)))
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results  # type: ignore[return-value]  # every slot was filled (no error)


class ReadAhead(Generic[T]):
    """Iterate ``source`` on a worker thread, at most ``depth`` items ahead of the reader.

    The reader gets the items in order, then the source's error (if it raised) where it
    raised, as many times as it asks. Only the worker advances ``source``, and it closes
    it (``close()``, for a generator) when it ends for any reason, so a generator's
    ``finally`` or ``except GeneratorExit`` runs on the worker, after its last step.
    """

    def __init__(self, source: Iterator[T], depth: int = 4) -> None:
        self._source = source
        self._depth = max(1, depth)
        self._items: deque[T] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._stopping = False  # the reader closed: the worker stops at its next item
        self._ended = False  # the worker is past its last step of ``source``
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="skillcrate-read-ahead")
        self._thread.daemon = True  # a read stuck on a socket must not keep the process
        self._thread.start()

    def _work(self) -> None:
        error: BaseException | None = None
        try:
            for item in self._source:
                with self._cond:
                    while len(self._items) >= self._depth and not self._stopping:
                        self._cond.wait()
                    if self._stopping:
                        break
                    self._items.append(item)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001  # raised on the reader's thread
            error = exc
        close = getattr(self._source, "close", None)
        if close is not None:
            try:
                close()  # a stopped generator: its clean-up runs here, on its own thread
            except BaseException as exc:  # noqa: BLE001  # raised on the reader's thread
                error = error or exc
        with self._cond:
            self._error, self._ended = error, True
            self._cond.notify_all()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        with self._cond:
            while not self._items and not self._ended:
                self._cond.wait()
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            if self._error is not None:
                raise self._error
            raise StopIteration

    def close(self, wait: float | None = None) -> bool:
        """Stop the worker and wait up to ``wait`` seconds (:data:`STOP_WAIT`) for it to
        end; whether it has.

        A worker stuck in a read (a server that stalls) ends when the read returns or
        times out, and closes ``source`` then; the reader need not wait that long."""
        with self._cond:
            self._stopping = True
            self._items.clear()
            self._cond.notify_all()
        self._thread.join(STOP_WAIT if wait is None else wait)
        return not self._thread.is_alive()
