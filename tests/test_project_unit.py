"""Pure parts of project operations."""

import pytest

from skillcrate.ops import moved_spec


@pytest.mark.parametrize(
    ("spec", "kind", "newest", "saved"),
    [
        ("^1.2.0", "range", "2.0.1", "^2.0.1"),
        ("~1.2", "range", "2.3.4", "~2.3.4"),
        ("~1.2.0", "range", "2.3.4", "~2.3.4"),
        ("1.2.0", "exact", "2.0.0", "2.0.0"),
        (">=1 <2", "range", "2.1.0", "^2.1.0"),
        ("1.x", "range", "3.0.0", "^3.0.0"),
    ],
)
def test_update_latest_keeps_the_spec_style(spec, kind, newest, saved):
    assert moved_spec(spec, kind, newest) == saved


def test_the_worker_pool_keeps_order_runs_everything_and_raises_the_first_error() -> None:
    import threading

    from skillcrate._threads import parallel

    seen: list[int] = []
    guard = threading.Lock()

    def square(i: int) -> int:
        with guard:
            seen.append(i)
        if i in (3, 7):
            raise ValueError(f"item {i}")
        return i * i

    assert parallel(list(range(20)), lambda i: i * i) == [i * i for i in range(20)]
    with pytest.raises(ValueError, match="item 3"):
        parallel(list(range(12)), square)
    assert sorted(seen) == list(range(12))  # every item ran, as ThreadPoolExecutor.map does


def test_the_file_lock_excludes_a_second_holder_until_released(tmp_path) -> None:  # noqa: ANN001
    import threading
    import time

    from skillcrate._flock import exclusive

    path = str(tmp_path / "x.lock")
    waited: list[str] = []
    with exclusive(path):
        with (
            pytest.raises(TimeoutError),
            exclusive(path, timeout=0.2, on_wait=lambda: waited.append("w")),
        ):
            pass
        assert waited == ["w"]
        got: list[float] = []

        def later() -> None:
            with exclusive(path, timeout=10):
                got.append(time.monotonic())

        worker = threading.Thread(target=later)
        worker.start()
        time.sleep(0.3)
        assert not got  # still held here
        released = time.monotonic()
    worker.join(10)
    assert got and got[0] >= released
    with exclusive(path, timeout=0):  # free again, at once
        pass
    link = tmp_path / "link.lock"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError), exclusive(str(link)):
        pass
    assert not (tmp_path / "elsewhere").exists()
