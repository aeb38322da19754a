"""Tests for the content-addressed cache (skillcrate.cache)."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from skillcrate.cache import CHUNK_SIZE, Cache
from skillcrate.digests import digest_hex
from skillcrate.errors import DigestMismatch, InvalidReference, NotFound
from skillcrate.skill import archive
from skillcrate.skill.tree import tree_digest_of


def sha(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cache:
    monkeypatch.setenv("SKILLCRATE_CACHE_DIR", str(tmp_path / "cache"))
    return Cache.default()


def tmp_entries(cache: Cache) -> list[str]:
    return sorted(os.listdir(cache.tmp_dir)) if cache.tmp_dir.exists() else []


def corrupt(path: Path, data: bytes = b"corrupted") -> None:
    os.chmod(path, 0o644)
    path.write_bytes(data)


# -- root and layout ----------------------------------------------------------------


def test_root_comes_from_env(cache: Cache, tmp_path: Path) -> None:
    assert cache.root == tmp_path / "cache"
    assert Cache(tmp_path / "other").root == tmp_path / "other"


def test_root_defaults_to_platform_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("SKILLCRATE_CACHE_DIR", raising=False)
    assert Cache().root == Path(platformdirs.user_cache_dir("skillcrate")).absolute()


def test_first_write_creates_markers(cache: Cache) -> None:
    assert not cache.root.exists()
    cache.put_blob(sha(b"x"), b"x")
    tag = (cache.root / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache.root / ".gitignore").read_text() == "*\n"


def test_workers_write_the_markers_once_and_without_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers of a cold install share one Cache: the first to write makes the root's
    markers, the others wait for it. Before, each of the 8 saw them missing and wrote
    (and fsynced) its own copy."""
    import skillcrate.cache as cache_mod
    from skillcrate._threads import parallel

    real_write = cache_mod.atomic_write
    written: list[str] = []

    def slow_write(path: Path, data: str | bytes, **kw: object) -> None:
        written.append(Path(path).name)
        time.sleep(0.05)  # every worker reaches the check while the first still writes
        real_write(path, data, **kw)  # type: ignore[arg-type]

    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(cache_mod, "atomic_write", slow_write)
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    cache = Cache(tmp_path / "cold")
    manifests = [b'{"n": %d}' % i for i in range(8)]
    parallel(manifests, lambda data: cache.put_manifest(sha(data), data))

    assert sorted(written) == [".gitignore", "CACHEDIR.TAG"]
    assert fsyncs == []
    tag = (cache.root / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (cache.root / ".gitignore").read_text() == "*\n"


def test_layout(cache: Cache) -> None:
    digest = sha(b"layout")
    hexpart = digest.split(":")[1]
    assert cache.blob_path(digest) == cache.root / "blobs-v1" / "sha256" / hexpart
    assert cache.manifest_path(digest) == cache.root / "manifests-v1" / "sha256" / hexpart
    assert cache.unpacked_path(digest) == cache.root / "unpacked-v2" / hexpart
    assert cache.tmp_dir == cache.root / "tmp"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256:abc",
        "sha512:" + "a" * 128,
        "SHA256:" + "a" * 64,
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 64 + "\n",
        "sha256:../../../../etc/passwd",
        "a" * 64,
    ],
)
def test_invalid_digests_are_refused(cache: Cache, bad: str) -> None:
    with pytest.raises(InvalidReference, match="invalid digest"):
        digest_hex(bad, error=InvalidReference)
    with pytest.raises(InvalidReference):
        cache.blob_path(bad)
    with pytest.raises(InvalidReference):
        cache.put_blob(bad, b"data")
    with pytest.raises(InvalidReference):
        cache.put_unpacked(bad, "agentskills", lambda tmp: ("x", tmp, [], True))
    with pytest.raises(InvalidReference):
        cache.get_manifest(bad)
    assert not cache.root.exists()


# -- blobs ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "chunks", "bytes"])
def test_put_blob_round_trip(cache: Cache, kind: str) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 17)
    digest = sha(data)
    stream = {
        "file": lambda: io.BytesIO(data),
        "chunks": lambda: iter([data[i : i + 1000] for i in range(0, len(data), 1000)]),
        "bytes": lambda: data,
    }[kind]()
    path = cache.put_blob(digest, stream, size=len(data))
    assert path == cache.blob_path(digest)
    assert cache.has_blob(digest)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    with cache.open_blob(digest) as fh:
        assert fh.read() == data
    assert tmp_entries(cache) == []


def test_put_blob_reads_in_bounded_chunks(cache: Cache) -> None:
    data = os.urandom(5 * CHUNK_SIZE)
    sizes: list[int] = []

    class Reader(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            sizes.append(-1 if n is None else n)
            return super().read(n)

    cache.put_blob(sha(data), Reader(data))
    assert sizes and all(0 < n <= CHUNK_SIZE for n in sizes)


def test_put_blob_already_present_is_not_rewritten(cache: Cache) -> None:
    digest = sha(b"same")
    first = cache.put_blob(digest, b"same")
    inode = first.stat().st_ino
    assert cache.put_blob(digest, b"same") == first
    assert first.stat().st_ino == inode


def test_digest_mismatch_is_rejected_and_leaves_nothing(cache: Cache) -> None:
    claimed = sha(b"expected")
    with pytest.raises(DigestMismatch) as info:
        cache.put_blob(claimed, io.BytesIO(b"something else"))
    assert str(info.value) == f"blob {claimed}: content has digest {sha(b'something else')}"
    assert not cache.has_blob(claimed)
    assert not cache.blob_path(claimed).exists()
    assert tmp_entries(cache) == []


@pytest.mark.parametrize("size", [3, 100])
def test_size_mismatch_is_rejected_and_leaves_nothing(cache: Cache, size: int) -> None:
    data = b"twelve bytes"
    with pytest.raises(DigestMismatch, match="bytes"):
        cache.put_blob(sha(data), io.BytesIO(data), size=size)
    assert not cache.has_blob(sha(data))
    assert tmp_entries(cache) == []


def test_failing_stream_leaves_nothing(cache: Cache) -> None:
    def chunks():
        yield b"partial"
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        cache.put_blob(sha(b"partial and more"), chunks())
    assert tmp_entries(cache) == []


def test_open_missing_blob_raises_not_found(cache: Cache) -> None:
    digest = sha(b"absent")
    assert not cache.has_blob(digest)
    with pytest.raises(NotFound, match=digest):
        cache.open_blob(digest)


def _put_worker(root: str, data: bytes, start: multiprocessing.synchronize.Event) -> None:
    start.wait(10)
    chunks = (data[i : i + 4096] for i in range(0, len(data), 4096))
    Cache(Path(root)).put_blob(sha(data), chunks, size=len(data))


def _mp_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def test_concurrent_puts_of_the_same_blob(cache: Cache) -> None:
    data = os.urandom(2 * 1024 * 1024)
    ctx = _mp_context()
    start = ctx.Event()
    procs = [ctx.Process(target=_put_worker, args=(str(cache.root), data, start)) for _ in range(6)]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)
    blobs = os.listdir(cache.root / "blobs-v1" / "sha256")
    assert blobs == [digest_hex(sha(data))]
    assert cache.blob_path(sha(data)).read_bytes() == data
    assert tmp_entries(cache) == []
    assert cache.verify() == []


# -- manifests --------------------------------------------------------------------------


def test_manifest_round_trip(cache: Cache) -> None:
    data = b'{"schemaVersion": 2}'
    assert cache.get_manifest(sha(data)) is None
    cache.put_manifest(sha(data), data)
    assert cache.has_manifest(sha(data))
    assert cache.get_manifest(sha(data)) == data


def test_manifest_mismatch_is_rejected(cache: Cache) -> None:
    with pytest.raises(DigestMismatch, match="manifest sha256:"):
        cache.put_manifest(sha(b"a"), b"b")
    assert not cache.manifest_path(sha(b"a")).exists()


def test_corrupt_manifest_is_deleted_on_read(cache: Cache) -> None:
    data = b'{"schemaVersion": 2}'
    path = cache.put_manifest(sha(data), data)
    corrupt(path)
    assert cache.get_manifest(sha(data)) is None
    assert not path.exists()


# -- unpacked trees ---------------------------------------------------------------------


def builder(files: dict[str, str], calls: list[Path] | None = None, before=None):  # noqa: ANN001, ANN201
    """A put_unpacked build function writing ``files`` (with their records)."""

    def build(tmp: Path) -> tuple[str, Path, list, bool]:
        if calls is not None:
            calls.append(tmp)
        tmp.mkdir(parents=True)
        assert tmp.parent.parent == cache_tmp(tmp) and list(tmp.iterdir()) == []
        records = [
            archive.write_file(tmp, rel, io.BytesIO(text.encode()), None, False, archive.Budget())
            for rel, text in files.items()
        ]
        if before is not None:
            before()
        return "demo", tmp, records, True

    return build


def cache_tmp(tmp: Path) -> Path:
    return tmp.parent.parent


def test_unpacked_builds_once(cache: Cache) -> None:
    key = sha(b"layer")
    calls: list[Path] = []
    build = builder({"SKILL.md": "hello"}, calls)
    assert not cache.has_unpacked(key)
    assert cache.get_unpacked(key) is None
    first = cache.put_unpacked(key, "agentskills", build)
    second = cache.get_unpacked(key)
    assert second is not None and first.root == second.root == cache.unpacked_path(key) / "tree"
    assert (first.root / "SKILL.md").read_text() == "hello"
    assert first.tree == second.tree == tree_digest_of(first.root)
    assert len(calls) == 1
    assert cache.has_unpacked(key)
    assert tmp_entries(cache) == []


def test_unpacked_failing_build_leaves_nothing(cache: Cache) -> None:
    key = sha(b"layer")

    def build(tmp: Path) -> tuple[str, Path, list, bool]:
        tmp.mkdir()
        (tmp / "half").write_text("x")
        raise RuntimeError("bad archive")

    with pytest.raises(RuntimeError):
        cache.put_unpacked(key, "agentskills", build)
    assert not cache.has_unpacked(key)
    assert tmp_entries(cache) == []


def test_unpacked_race_keeps_the_winner(cache: Cache, tmp_path: Path) -> None:
    key = sha(b"layer")
    other = Cache(cache.root)

    def finish_first() -> None:
        # Another process finishes first while we are still building.
        other.put_unpacked(key, "agentskills", builder({"SKILL.md": "winner"}))

    got = cache.put_unpacked(
        key, "agentskills", builder({"SKILL.md": "loser"}, before=finish_first)
    )
    assert (got.root / "SKILL.md").read_text() == "winner"
    assert tmp_entries(cache) == []


def test_a_changed_unpacked_tree_is_dropped(cache: Cache) -> None:
    key = sha(b"layer")
    got = cache.put_unpacked(key, "agentskills", builder({"SKILL.md": "hello"}))
    (got.root / "SKILL.md").write_text("HELLO")  # e.g. a script of some skill edits it
    assert cache.get_unpacked(key) is None
    assert not cache.has_unpacked(key)


def _unpack_worker(root: str, key: str, start: multiprocessing.synchronize.Event) -> None:
    def build(tmp: Path) -> tuple[str, Path, list, bool]:
        tmp.mkdir()
        records = [
            archive.write_file(
                tmp,
                f"file{i}.md",
                io.BytesIO(f"content {i}\n".encode()),
                None,
                False,
                archive.Budget(),
            )
            for i in range(20)
        ]
        time.sleep(0.05)
        return "demo", tmp, records, True

    start.wait(10)
    got = Cache(Path(root)).put_unpacked(key, "agentskills", build)
    assert sorted(os.listdir(got.root)) == sorted(f"file{i}.md" for i in range(20))


def test_concurrent_unpacks(cache: Cache) -> None:
    key = sha(b"layer")
    ctx = _mp_context()
    start = ctx.Event()
    procs = [
        ctx.Process(target=_unpack_worker, args=(str(cache.root), key, start)) for _ in range(5)
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * len(procs)
    assert os.listdir(cache.root / "unpacked-v2") == [digest_hex(key)]
    assert tmp_entries(cache) == []


# -- maintenance ------------------------------------------------------------------------


def populate(cache: Cache) -> dict[str, str]:
    blob, manifest, layer = b"blob bytes", b'{"m": 1}', b"layer"
    cache.put_blob(sha(blob), blob)
    cache.put_manifest(sha(manifest), manifest)
    cache.put_unpacked(sha(layer), "agentskills", builder({"SKILL.md": "12345"}))
    return {"blob": sha(blob), "manifest": sha(manifest), "unpacked": sha(layer)}


def test_entries_and_size(cache: Cache) -> None:
    digests = populate(cache)
    entries = cache.entries()
    assert [(e.kind, e.digest, e.size) for e in entries] == [
        ("blob", digests["blob"], 10),
        ("manifest", digests["manifest"], 8),
        ("unpacked", digests["unpacked"], 5),
    ]
    assert cache.size() >= 23


def test_verify_detects_corrupt_blob_and_manifest(cache: Cache) -> None:
    digests = populate(cache)
    assert cache.verify() == []
    blob_path = cache.blob_path(digests["blob"])
    corrupt(blob_path)
    corrupt(cache.manifest_path(digests["manifest"]), b"{}")
    problems = cache.verify()
    assert [(p.kind, p.digest, p.removed) for p in problems] == [
        ("blob", digests["blob"], False),
        ("manifest", digests["manifest"], False),
    ]
    assert "content has digest " + sha(b"corrupted") in problems[0].message
    assert blob_path.exists()  # reported only

    problems = cache.verify(remove=True)
    assert all(p.removed for p in problems) and len(problems) == 2
    assert not blob_path.exists()
    assert cache.verify() == []
    assert cache.has_unpacked(digests["unpacked"])


def test_verify_reports_stray_files(cache: Cache) -> None:
    populate(cache)
    stray = cache.root / "blobs-v1" / "sha256" / "not-a-digest"
    stray.write_text("?")
    problems = cache.verify(remove=True)
    assert [(p.kind, p.path) for p in problems] == [("blob", stray)]
    assert not stray.exists()


def test_prune_keeps_only_listed_digests(cache: Cache) -> None:
    digests = populate(cache)
    extra = b"unreferenced"
    cache.put_blob(sha(extra), extra)
    freed = cache.prune({digests["blob"], digests["unpacked"]})
    assert freed == len(extra) + 8
    assert cache.has_blob(digests["blob"])
    assert not cache.has_blob(sha(extra))
    assert not cache.has_manifest(digests["manifest"])
    assert cache.has_unpacked(digests["unpacked"])
    assert cache.prune(set()) == 10 + 5
    assert cache.entries() == []


def test_prune_removes_stale_temp_files_only(cache: Cache) -> None:
    populate(cache)
    stale, fresh, stale_dir = (
        cache.tmp_dir / "stale",
        cache.tmp_dir / "fresh",
        cache.tmp_dir / "stale-dir",
    )
    stale.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y" * 50)
    stale_dir.mkdir()
    (stale_dir / "part").write_bytes(b"z" * 7)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(stale_dir, (old, old))
    keep = {e.digest for e in cache.entries()}
    assert cache.prune(keep) == 107
    assert tmp_entries(cache) == ["fresh"]


def test_prune_after_corruption_detected_by_verify(cache: Cache) -> None:
    digests = populate(cache)
    corrupt(cache.blob_path(digests["blob"]))
    assert len(cache.verify()) == 1
    cache.verify(remove=True)
    cache.prune(set(digests.values()))
    assert not cache.has_blob(digests["blob"])
    assert cache.has_manifest(digests["manifest"])


def test_clean_removes_everything_but_the_root(cache: Cache) -> None:
    populate(cache)
    (cache.tmp_dir / "leftover").write_text("x")
    foreign = cache.root / "not-ours.txt"
    foreign.write_text("keep me")
    freed = cache.clean()
    assert freed >= 23
    assert cache.root.is_dir()
    assert cache.entries() == []
    assert sorted(os.listdir(cache.root)) == [".gitignore", "CACHEDIR.TAG", "not-ours.txt"]
    # The cache works again after a clean.
    cache.put_blob(sha(b"again"), b"again")
    assert cache.has_blob(sha(b"again"))
