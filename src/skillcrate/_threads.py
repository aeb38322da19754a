"""A bounded worker pool: ``fn`` over items on up to 8 threads, results in order.

Workers return values and share nothing; callers merge results on their own thread.
Plain ``threading`` (not ``concurrent.futures``, whose import brings ``logging``: ~8 ms
on every install that fetches).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_PARALLEL = 8


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
