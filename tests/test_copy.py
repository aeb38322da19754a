"""oci/copy.py: one generic copy of a manifest and all it names, between real stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from skillcrate.cache import Cache
from skillcrate.digests import sha256_digest
from skillcrate.errors import DigestMismatch, NotFound
from skillcrate.oci.copy import copy_manifest
from skillcrate.oci.layout import LayoutRepository
from skillcrate.oci.model import OCI_INDEX, OCI_MANIFEST, Descriptor, canonical_json

from helpers import push_subject


def _index(target: LayoutRepository, children: list[Descriptor]) -> tuple[Descriptor, bytes]:
    data = canonical_json(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [c.to_json() for c in children]}
    )
    return target.push_manifest(data, OCI_INDEX, "all"), data


def _blob_count(root: Path) -> int:
    return len(list((root / "blobs" / "sha256").iterdir()))


def test_an_index_copies_with_its_children_and_their_blobs(tmp_path: Path) -> None:
    source, dest = LayoutRepository(tmp_path / "a"), LayoutRepository(tmp_path / "b")
    one, two = push_subject(source, b"one"), push_subject(source, b"two", tag="2.0.0")
    desc, data = _index(source, [one, two])

    copied = copy_manifest(source, dest, desc, data, Cache(tmp_path / "cache"), tag="all")

    assert copied.digest == desc.digest  # the same bytes: the same digest
    assert dest.resolve("all").digest == desc.digest
    for child in (one, two):
        _, child_data = dest.fetch_manifest(child.digest)
        assert sha256_digest(child_data) == child.digest
    # one shared empty config, two layers, two manifests, the index
    assert _blob_count(tmp_path / "b") == _blob_count(tmp_path / "a") == 6


def test_copying_again_pushes_no_blob(tmp_path: Path) -> None:
    source, dest = LayoutRepository(tmp_path / "a"), LayoutRepository(tmp_path / "b")
    one = push_subject(source, b"one")
    _, data = source.fetch_manifest(one.digest)
    cache = Cache(tmp_path / "cache")
    copy_manifest(source, dest, one, data, cache)
    pushed: list[str] = []
    real = dest.push_blob
    dest.push_blob = lambda d, s: (pushed.append(d.digest), real(d, s))  # type: ignore[method-assign]
    copy_manifest(source, dest, one, data, cache)
    assert pushed == []


def test_a_child_whose_bytes_do_not_match_is_not_copied(tmp_path: Path) -> None:
    """Attacker: the source serves other bytes for an index child; control: above."""
    source, dest = LayoutRepository(tmp_path / "a"), LayoutRepository(tmp_path / "b")
    one = push_subject(source, b"one")
    forged = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []})
    blob = tmp_path / "a" / "blobs" / "sha256" / one.digest.split(":")[1]
    blob.chmod(0o644)
    blob.write_bytes(forged)
    desc, data = _index(source, [one])
    with pytest.raises(DigestMismatch):
        copy_manifest(source, dest, desc, data, Cache(tmp_path / "cache"))
    with pytest.raises(NotFound):  # nothing was pushed under the index's tag
        dest.resolve("all")
