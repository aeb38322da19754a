"""Each byte is hashed once per form, and the cache needs no fsync per entry.

A counting ``hashlib.sha256`` stands in for the real one while skills are fetched from
an ``oci:`` layout: the compressed layer is hashed once (by the reader that verifies
it), its files once (for the records); ``pull`` hashes no file at all. Every test runs
twice: the layer (downloaded, or read from the cache) taken on the extracting thread,
and on a read-ahead worker (what a layer of 4 MiB or more gets).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from skillcrate import digests, formats
from skillcrate._fs import boot_id
from skillcrate.cache import Cache
from skillcrate.errors import DigestMismatch
from skillcrate.fetch import fetch_skill
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import pull_to, push_packed
from skillcrate.reference import Reference

from helpers import make_skill

ASSET = 2 * 1024 * 1024


@pytest.fixture(autouse=True, params=["inline", "read-ahead"])
def taken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "read-ahead":
        monkeypatch.setattr(digests, "READ_AHEAD_FROM", 0)
    return str(request.param)


class Counter:
    def __init__(self) -> None:
        self.bytes = 0


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter:
    counter = Counter()
    real = hashlib.sha256

    class Counting:
        def __init__(self, data: bytes = b"") -> None:
            self._h = real()
            self.update(data)

        def update(self, data: bytes) -> None:
            counter.bytes += len(data)
            self._h.update(data)

        def hexdigest(self) -> str:
            return self._h.hexdigest()

        def digest(self) -> bytes:
            return self._h.digest()

    monkeypatch.setattr(hashlib, "sha256", Counting)
    return counter


def _published(tmp_path: Path) -> tuple[LayoutRepository, formats.Packed, int]:
    folder = make_skill(tmp_path / "src", "big-skill")
    (folder / "assets").mkdir()
    (folder / "assets" / "blob.bin").write_bytes(os.urandom(ASSET))
    packed = formats.pack(folder)
    layout = LayoutRepository(tmp_path / "layout")
    push_packed(layout, packed, ["1.0.0"])
    files = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return layout, packed, files


def test_fetch_hashes_the_layer_once_and_the_files_once(
    tmp_path: Path, counted: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout, packed, files = _published(tmp_path)
    layer = packed.layers[0].size
    small = len(packed.manifest) + packed.config.size
    cache = Cache(tmp_path / "cache")
    counted.bytes = 0
    fetched = fetch_skill(layout, packed.digest, cache, fallback_name="big-skill", from_blob=True)
    assert (fetched.root / "assets" / "blob.bin").stat().st_size == ASSET
    # before: the cache hashed the layer again while storing it (2 x layer + files);
    # the small manifest and config may be hashed more than once
    assert counted.bytes <= layer + files + 4 * small


def test_pull_hashes_only_the_layer(tmp_path: Path, counted: Counter) -> None:
    layout, packed, _files = _published(tmp_path)
    counted.bytes = 0
    ref = Reference.parse(f"oci:{tmp_path / 'layout'}:1.0.0")
    fetched, out = pull_to(layout, ref, Cache(tmp_path / "cache"), tmp_path / "out")
    assert (out / "assets" / "blob.bin").stat().st_size == ASSET
    assert fetched.root == out
    assert counted.bytes <= packed.layers[0].size + len(packed.manifest) + 4096
    assert not (tmp_path / "cache" / "unpacked-v2").exists()
    # written once, into out: like skopeo copy, pull keeps no copy of the layer
    assert not Cache(tmp_path / "cache").has_blob(packed.layers[0].digest)


@pytest.mark.parametrize("how", ["fetch", "pull"])
def test_skill_md_is_read_once_per_unpacked_skill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import skillcrate.skill.rules as rules

    folder = make_skill(tmp_path / "src", "small-skill")
    packed = formats.pack(folder)
    layout = LayoutRepository(tmp_path / "layout")
    push_packed(layout, packed, ["1.0.0"])
    calls: list[Path] = []
    real = rules.read_skill

    def counting(root: Path) -> rules.SkillInfo:
        calls.append(root)
        return real(root)

    monkeypatch.setattr(formats, "read_skill", counting)
    monkeypatch.setattr(rules, "read_skill", counting)
    cache = Cache(tmp_path / "cache")
    if how == "fetch":
        got = fetch_skill(layout, packed.digest, cache, fallback_name="x", from_blob=True)
    else:
        ref = Reference.parse(f"oci:{tmp_path / 'layout'}:1.0.0")
        got, _out = pull_to(layout, ref, cache, tmp_path / "out")
    assert got.name == "small-skill"
    # before: once to name it, once more to tell whether SKILL.md named it (a YAML parse each)
    assert len(calls) == 1


def test_damaged_download_publishes_no_blob(tmp_path: Path) -> None:
    layout, packed, _files = _published(tmp_path)
    layer = packed.layers[0]
    blob = tmp_path / "layout" / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    cache = Cache(tmp_path / "cache")
    with pytest.raises(DigestMismatch):
        fetch_skill(layout, packed.digest, cache, fallback_name="big-skill")
    assert not cache.has_blob(layer.digest)
    assert os.listdir(cache.tmp_dir) == []


needs_boot_id = pytest.mark.skipif(boot_id() is None, reason="no boot id on this OS")


@needs_boot_id
def test_entry_from_another_boot_is_hashed_before_use(tmp_path: Path) -> None:
    """A power loss can leave a file with its size and times but not its bytes: an entry
    written during an earlier boot must hash to its tree before it is used."""
    layout, packed, _files = _published(tmp_path)
    cache = Cache(tmp_path / "cache")
    first = fetch_skill(layout, packed.digest, cache, fallback_name="big-skill")
    meta_path = cache.unpacked_path(packed.digest) / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert meta["boot"] == boot_id()
    meta["boot"] = "an-earlier-boot"
    meta_path.write_text(json.dumps(meta))
    asset = first.root / "assets" / "blob.bin"
    st = asset.stat()
    os.chmod(asset, 0o644)
    with open(asset, "r+b") as fh:  # same size, same mtime: only the bytes differ
        fh.write(b"\0" * 4096)
    os.utime(asset, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.chmod(asset, st.st_mode)
    # the stat lines no longer match either (ctime moved): put back the recorded stat
    # so that only the boot check stands between the damaged bytes and an install
    from skillcrate.skill.tree import scan_stat

    meta["stat"] = scan_stat(str(first.root))
    meta_path.write_text(json.dumps(meta))
    assert Cache(tmp_path / "cache").get_unpacked(packed.digest) is None


@needs_boot_id
def test_entry_from_another_boot_is_kept_when_intact(tmp_path: Path) -> None:
    layout, packed, _files = _published(tmp_path)
    cache = Cache(tmp_path / "cache")
    fetch_skill(layout, packed.digest, cache, fallback_name="big-skill")
    meta_path = cache.unpacked_path(packed.digest) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["boot"] = "an-earlier-boot"
    meta_path.write_text(json.dumps(meta))
    again = Cache(tmp_path / "cache").get_unpacked(packed.digest)
    assert again is not None
    assert json.loads(meta_path.read_text())["boot"] == boot_id()  # hashed once, restamped


def _damage_layer_head(tmp_path: Path, packed: formats.Packed) -> Path:
    """Flip a byte in the gzip stream's first block: extraction fails before the end."""
    layer = packed.layers[0]
    blob = tmp_path / "layout" / "blobs" / "sha256" / layer.digest.split(":")[1]
    data = bytearray(blob.read_bytes())
    data[30] ^= 0xFF
    os.chmod(blob, 0o644)
    blob.write_bytes(bytes(data))
    return blob


def test_a_damaged_layer_is_reported_as_damaged_not_as_a_bad_archive(tmp_path: Path) -> None:
    """Bytes that do not match their digest are the cause, even when the archive reader
    trips over them first (the layer streams into extraction before its end is seen)."""
    layout, packed, _files = _published(tmp_path)
    _damage_layer_head(tmp_path, packed)
    cache = Cache(tmp_path / "cache")
    with pytest.raises(DigestMismatch):
        fetch_skill(layout, packed.digest, cache, fallback_name="big-skill")
    ref = Reference.parse(f"oci:{tmp_path / 'layout'}:1.0.0")
    with pytest.raises(DigestMismatch):
        pull_to(layout, ref, cache, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not cache.has_blob(packed.layers[0].digest)
    assert os.listdir(cache.tmp_dir) == []


def test_a_damaged_cached_layer_is_fetched_again(tmp_path: Path) -> None:
    layout, packed, _files = _published(tmp_path)
    cache = Cache(tmp_path / "cache")
    ref = Reference.parse(f"oci:{tmp_path / 'layout'}:1.0.0")
    fetch_skill(layout, packed.digest, cache, fallback_name="big-skill")  # keeps the layer
    cached = cache.blob_path(packed.layers[0].digest)
    data = bytearray(cached.read_bytes())
    data[30] ^= 0xFF
    os.chmod(cached, 0o644)
    cached.write_bytes(bytes(data))
    _fetched, out = pull_to(layout, ref, Cache(tmp_path / "cache"), tmp_path / "second")
    assert (out / "assets" / "blob.bin").stat().st_size == ASSET
