"""Copy a manifest and everything it names from one store to another (oras-go's ``Copy``).

Blobs go through a verified staging store (the cache): each is fetched once, checked
against its digest, then pushed from the file; blobs the destination already has are
skipped (a HEAD, or a cross-repository mount where the registry allows it). Index
children are copied before the index, so the destination never names what it lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..digests import verify_bytes
from ..errors import FormatError
from .model import OCI_INDEX, Descriptor, parse_manifest
from .target import Fetcher, Pusher

MAX_DEPTH = 4  # index → index → manifest is the deepest skillcrate writes


class BlobStaging(Protocol):
    """Where blobs wait, verified, between source and destination (the cache)."""

    def has_blob(self, digest: str) -> bool: ...
    def blob_path(self, digest: str) -> Path: ...
    def put_blob(
        self, digest: str, chunks: Iterator[bytes], size: int, *, source_verifies: bool = ...
    ) -> Any: ...


def referenced(obj: dict[str, Any]) -> tuple[list[Descriptor], list[Descriptor]]:
    """The blobs (config, layers) and child manifests a manifest names."""
    blobs = [*(obj.get("layers") or []), *(obj.get("blobs") or [])]
    if isinstance(obj.get("config"), dict):
        blobs.append(obj["config"])
    children = list(obj.get("manifests") or [])
    try:
        return [Descriptor.from_json(b) for b in blobs], [Descriptor.from_json(c) for c in children]
    except AttributeError:
        raise FormatError("manifest lists a descriptor that is not an object") from None


def copy_blob(source: Fetcher, dest: Pusher, desc: Descriptor, staging: BlobStaging) -> bool:
    """Copy one blob unless ``dest`` has it; whether bytes were pushed."""
    if dest.blob_exists(desc):
        return False
    if not staging.has_blob(desc.digest):
        staging.put_blob(desc.digest, source.iter_blob(desc), desc.size, source_verifies=True)
    dest.push_blob(desc, staging.blob_path(desc.digest))
    return True


def copy_manifest(
    source: Fetcher,
    dest: Pusher,
    desc: Descriptor,
    data: bytes,
    staging: BlobStaging,
    *,
    tag: str | None = None,
    _depth: int = 0,
) -> Descriptor:
    """Copy the manifest ``data`` (described by ``desc``) and all it names; push it last.

    ``data`` must already be verified against ``desc.digest`` by the caller; children are
    fetched from ``source`` and verified here. Returns the destination's descriptor.
    """
    if _depth > MAX_DEPTH:
        raise FormatError(f"{source.describe()}: manifests nested deeper than {MAX_DEPTH}")
    obj = parse_manifest(data, f"{source.describe()}@{desc.digest}")
    blobs, children = referenced(obj)
    for child in children:
        child_desc, child_data = source.fetch_manifest(child.digest)
        verify_bytes(child_data, child.digest, "manifest")
        copy_manifest(source, dest, child, child_data, staging, _depth=_depth + 1)
        del child_desc
    for blob in blobs:
        copy_blob(source, dest, blob, staging)
    media_type = desc.media_type or str(obj.get("mediaType") or OCI_INDEX)
    return dest.push_manifest(data, media_type, tag)
