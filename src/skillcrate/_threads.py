"""A bounded worker pool: ``fn`` over items on up to 8 threads, results in order.

Workers return values and share nothing; callers merge results on their own thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_PARALLEL = 8


def parallel(items: Sequence[T], fn: Callable[[T], R]) -> list[R]:
    """``fn`` over ``items`` on up to 8 threads; results in order (workers share nothing)."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(fn, items))
