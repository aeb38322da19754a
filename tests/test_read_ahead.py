"""A layer of 4 MiB or more is taken (downloaded, hashed, stored) on a worker thread
while the extracting thread unpacks it: ``_threads.ReadAhead`` under ``ChunkReader`` and
the cache's ``BlobIngest``.

What must hold whatever the thread: items in order, then the source's error where it
was raised; a bounded lead (memory); the source stopped and closed on its own thread
when the reader gives up; a partial blob never published and never left in ``tmp/``,
also when the worker is stuck in a read the reader does not wait for; and a real
``add`` and ``pull`` of a large skill from the registry are verified as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from skillcrate import _threads, digests, formats
from skillcrate._threads import ReadAhead
from skillcrate.cache import Cache
from skillcrate.digests import EMPTY_SHA256 as EMPTY
from skillcrate.digests import ChunkReader, sha256_digest
from skillcrate.errors import DigestMismatch
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed

from fake_registry import OCI_MANIFEST
from helpers import QuietHTTPServer, clone_project, make_skill, run_cli
from registry_server import RegistryServer


def _eventually(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("the worker did not get there")
        time.sleep(0.005)


def test_items_arrive_in_order_then_the_error_where_it_was_raised() -> None:
    def source() -> Iterator[int]:
        yield from range(10)
        raise ValueError("broke after 10")

    ahead = ReadAhead(source(), depth=3)
    assert [next(ahead) for _ in range(10)] == list(range(10))
    with pytest.raises(ValueError, match="broke after 10"):
        next(ahead)
    with pytest.raises(ValueError, match="broke after 10"):  # it stays broken
        next(ahead)


def test_a_source_that_ends_ends_the_iteration() -> None:
    assert list(ReadAhead(iter([b"a", b"b"]), depth=1)) == [b"a", b"b"]
    assert list(ReadAhead(iter([]))) == []


def test_the_worker_stays_at_most_depth_items_ahead() -> None:
    made: list[int] = []

    def source() -> Iterator[int]:
        for i in range(1000):
            made.append(i)
            yield i

    ahead = ReadAhead(source(), depth=4)
    _eventually(lambda: len(made) >= 5)
    time.sleep(0.1)  # an unbounded worker would be far past 5 by now
    assert len(made) == 5  # 4 queued, the 5th waiting for room
    assert next(ahead) == 0
    _eventually(lambda: len(made) >= 6)
    time.sleep(0.05)
    assert len(made) == 6
    assert ahead.close()


def test_close_stops_the_source_and_closes_it_on_the_worker() -> None:
    closed_on: list[str] = []
    made: list[int] = []

    def source() -> Iterator[int]:
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed_on.append(threading.current_thread().name)

    ahead = ReadAhead(source(), depth=2)
    assert next(ahead) == 0
    assert ahead.close()
    assert closed_on == ["skillcrate-read-ahead"]
    assert len(made) < 10
    with pytest.raises(StopIteration):
        next(ahead)


def test_close_does_not_wait_for_a_read_that_is_stuck() -> None:
    release = threading.Event()
    cleaned = threading.Event()

    def source() -> Iterator[bytes]:
        try:
            yield b"first"
            release.wait(30)  # a server that stalls mid-body
            yield b"second"
        finally:
            cleaned.set()

    ahead = ReadAhead(source(), depth=2)
    assert next(ahead) == b"first"
    started = time.monotonic()
    assert ahead.close(wait=0.05) is False
    assert time.monotonic() - started < 5
    assert not cleaned.is_set()
    release.set()  # the read returns: the worker sees the stop and closes the source
    assert cleaned.wait(10)


# -- the readers over it --------------------------------------------------------------


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("ahead", [False, True])
def test_chunk_reader_checks_size_and_digest_either_way(ahead: bool) -> None:
    data = os.urandom(300_000)
    good = ChunkReader(sha256_digest(data), len(data), _chunks(data), ahead=ahead)
    assert good.read() == data
    good.finish()
    bad = ChunkReader(sha256_digest(data + b"x"), len(data), _chunks(data), ahead=ahead)
    bad.read()
    with pytest.raises(DigestMismatch):
        bad.finish()
    longer = ChunkReader(sha256_digest(data), len(data) - 1, _chunks(data), ahead=ahead)
    with pytest.raises(DigestMismatch, match="more than the expected"):
        longer.read()


@pytest.mark.parametrize("ahead", [False, True])
def test_an_ingest_given_up_midway_publishes_nothing_and_leaves_no_file(
    tmp_path: Path, ahead: bool
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    digest = sha256_digest(data)
    cache = Cache(tmp_path / "cache")
    ingest = cache.ingest_blob(digest, _chunks(data), len(data), ahead=ahead)
    assert len(ingest.read(100_000)) == 100_000
    assert ingest.close()
    assert os.listdir(cache.tmp_dir) == []
    assert not cache.has_blob(digest)
    # control: the same bytes read to the end are published, and nothing is left over
    with cache.ingest_blob(digest, _chunks(data), len(data), ahead=ahead) as whole:
        assert whole.read() == data
        whole.finish()
    assert cache.blob_path(digest).read_bytes() == data
    assert os.listdir(cache.tmp_dir) == []


@pytest.mark.parametrize("ahead", [False, True])
def test_a_damaged_ingest_leaves_no_file(tmp_path: Path, ahead: bool) -> None:
    data = os.urandom(1024 * 1024)
    wrong = sha256_digest(b"other bytes")
    cache = Cache(tmp_path / "cache")
    with cache.ingest_blob(wrong, _chunks(data), len(data), ahead=ahead) as ingest:
        ingest.read()
        with pytest.raises(DigestMismatch):
            ingest.finish()
    assert os.listdir(cache.tmp_dir) == []
    assert not cache.has_blob(wrong)


@pytest.mark.parametrize("size", [1000, digests.READ_AHEAD_FROM])
@pytest.mark.parametrize("reads", [0, 1, -1])
def test_a_cached_blob_reader_closes_its_file_however_far_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, reads: int
) -> None:
    data = os.urandom(size)
    digest = sha256_digest(data)
    Cache(tmp_path / "cache").put_blob(digest, data)
    cache = Cache(tmp_path / "cache")  # another process's blob: verified as it is read
    opened: list[object] = []
    real = Cache.open_blob

    def recording(self: Cache, blob: str) -> object:
        fh = real(self, blob)
        opened.append(fh)
        return fh

    monkeypatch.setattr(Cache, "open_blob", recording)
    with cache.open_verified(digest, size) as reader:
        if reads:
            assert reader.read(reads) == (data if reads < 0 else data[:reads])
    _eventually(lambda: opened[0].closed)  # type: ignore[attr-defined]
    if reads < 0:  # control: read to the end, it verifies
        with cache.open_verified(digest, size) as again:
            again.read()
            again.finish()  # type: ignore[attr-defined]


def test_an_ingest_stuck_in_a_read_is_discarded_when_the_read_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_threads, "STOP_WAIT", 0.05)
    data = os.urandom(256 * 1024)
    release = threading.Event()

    def stalling() -> Iterator[bytes]:
        yield data[:65536]
        release.wait(30)
        yield data[65536:]

    cache = Cache(tmp_path / "cache")
    ingest = cache.ingest_blob(sha256_digest(data), stalling(), len(data), ahead=True)
    assert ingest.read(65536) == data[:65536]
    assert ingest.close() is False  # the reader does not wait 30 s for the server
    assert os.listdir(cache.tmp_dir) == []  # its name is gone at once
    other = os.open(tmp_path / "other", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        release.set()
        _eventually(lambda: ingest._closed)  # the worker closed its own file, once
        os.fstat(other)  # and no other
    finally:
        os.close(other)
    assert os.listdir(cache.tmp_dir) == []
    assert not cache.has_blob(sha256_digest(data))


# -- a real registry ---------------------------------------------------------------


@pytest.fixture
def worker_count(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    started: list[str] = []
    real = ReadAhead.__init__

    def counting(self: ReadAhead[bytes], source: Iterator[bytes], depth: int = 4) -> None:
        started.append(threading.current_thread().name)
        real(self, source, depth)

    monkeypatch.setattr(ReadAhead, "__init__", counting)
    return started


def test_a_large_layer_is_added_cloned_and_pulled_through_the_worker(
    tmp_path: Path, registry: RegistryServer, repo_name: str, worker_count: list[str]
) -> None:
    folder = make_skill(tmp_path / "big", "big")
    (folder / "assets").mkdir()
    payload = os.urandom(digests.READ_AHEAD_FROM + 1024 * 1024)  # random: it stays large
    (folder / "assets" / "random.bin").write_bytes(payload)
    ref = f"{registry.host}/{repo_name}:1.0.0"
    pushed = run_cli("push", str(folder), ref)
    assert pushed.returncode == 0, pushed.stderr
    project = tmp_path / "project"
    project.mkdir()
    added = run_cli("add", ref, cwd=project)
    assert added.returncode == 0, added.stderr
    assert (project / ".agents/skills/big/assets/random.bin").read_bytes() == payload
    assert run_cli("verify", cwd=project).returncode == 0
    clone = clone_project(project, tmp_path / "clone")  # the add left the blob alone cached
    cloned = run_cli("install", cwd=clone)
    assert cloned.returncode == 0, cloned.stderr
    assert (clone / ".agents/skills/big/assets/random.bin").read_bytes() == payload
    empty = tmp_path / "empty-cache"  # not the blob the add cached: a download again
    pulled = run_cli(
        "pull", ref, "-o", str(tmp_path / "out"), env={"SKILLCRATE_CACHE_DIR": str(empty)}
    )
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "out" / "assets" / "random.bin").read_bytes() == payload
    # the layer, once per command (downloaded, read from the cache, downloaded); never
    # the small blobs
    assert len(worker_count) == 3
    for root in (Path(os.environ["SKILLCRATE_CACHE_DIR"]), empty):
        assert os.listdir(Cache(root).tmp_dir) == []


# -- a server that stalls mid-layer, and Ctrl-C ---------------------------------------


class _Stalling(BaseHTTPRequestHandler):
    """Serves one skill from a layout; its layer's first half, then nothing until the
    test ends (a registry that stalls mid-body)."""

    blobs: dict[str, bytes]
    manifest: bytes
    digest: str
    layer: str
    sent_half: threading.Event
    release: threading.Event

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        if "/manifests/" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", OCI_MANIFEST)
            self.send_header("Content-Length", str(len(self.manifest)))
            self.send_header("Docker-Content-Digest", self.digest)
            self.end_headers()
        else:
            self._answer(404, b"", "application/json")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/v2/":
            self._answer(200, b"{}", "application/json")
        elif "/manifests/" in self.path:
            self._answer(200, self.manifest, OCI_MANIFEST, {"Docker-Content-Digest": self.digest})
        elif "/blobs/" in self.path:
            digest = self.path.rsplit("/", 1)[1]
            data = self.blobs[digest]
            if digest != self.layer:
                self._answer(200, data, "application/octet-stream")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.sent_half.set()
            self.release.wait(60)
        else:
            self._answer(404, b"{}", "application/json")

    def _answer(
        self, status: int, body: bytes, media_type: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_ctrl_c_while_a_large_layer_stalls_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    folder = make_skill(tmp_path / "src", "big")
    (folder / "assets").mkdir()
    (folder / "assets" / "random.bin").write_bytes(os.urandom(2 * digests.READ_AHEAD_FROM))
    packed = formats.pack(folder)
    layout = LayoutRepository(tmp_path / "layout")
    push_packed(layout, packed, ["1.0.0"])
    blobs_dir = tmp_path / "layout" / "blobs" / "sha256"
    handler = type(
        "Handler",
        (_Stalling,),
        {
            "blobs": {f"sha256:{p.name}": p.read_bytes() for p in blobs_dir.iterdir()},
            "manifest": packed.manifest,
            "digest": packed.digest,
            "layer": packed.layers[0].digest,
            "sent_half": threading.Event(),
            "release": threading.Event(),
        },
    )
    server = QuietHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = tmp_path / "project"
    project.mkdir()
    cache = Path(os.environ["SKILLCRATE_CACHE_DIR"])
    try:
        ref = f"127.0.0.1:{server.server_address[1]}/big:1.0.0"
        proc = subprocess.Popen(
            [sys.executable, "-m", "skillcrate", "add", ref],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert handler.sent_half.wait(30)
            _eventually(lambda: any(Cache(cache).tmp_dir.iterdir()))  # the download is on
            time.sleep(0.3)  # the first half read and extracted: both threads wait now
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=20)  # not the 30 s read timeout
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, err
        assert not (project / ".agents").exists()
        assert not (project / "skills.json").exists()
        assert os.listdir(Cache(cache).tmp_dir) == []
        assert not Cache(cache).has_blob(packed.layers[0].digest)
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()


def test_a_damaged_large_cached_blob_is_not_used_and_is_downloaded_again(
    tmp_path: Path, registry: RegistryServer, repo_name: str, worker_count: list[str]
) -> None:
    """The cached blob a first clone unpacks is hashed on the worker as it is extracted:
    a byte changed in the middle of it stops that tree, and the blob comes again."""
    folder = make_skill(tmp_path / "big", "big")
    (folder / "assets").mkdir()
    payload = os.urandom(digests.READ_AHEAD_FROM + 1024 * 1024)
    (folder / "assets" / "random.bin").write_bytes(payload)
    ref = f"{registry.host}/{repo_name}:1.0.0"
    assert run_cli("push", str(folder), ref).returncode == 0
    project = tmp_path / "project"
    project.mkdir()
    assert run_cli("add", ref, cwd=project).returncode == 0
    cache = Cache(Path(os.environ["SKILLCRATE_CACHE_DIR"]))
    (blob,) = [p for p in cache.blob_path(EMPTY).parent.iterdir() if p.stat().st_size > 1 << 20]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    clone = clone_project(project, tmp_path / "clone")
    cloned = run_cli("install", cwd=clone)
    assert cloned.returncode == 0, cloned.stderr
    assert (clone / ".agents/skills/big/assets/random.bin").read_bytes() == payload
    assert run_cli("verify", cwd=clone).returncode == 0
    assert sha256_digest(blob.read_bytes()) == f"sha256:{blob.name}"  # downloaded again
    assert os.listdir(cache.tmp_dir) == []
    # the add's download, the damaged cached read, the download again
    assert len(worker_count) == 3
