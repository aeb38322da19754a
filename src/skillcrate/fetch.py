"""Fetch skills from any Target into the cache, verified, and describe artifacts.

Every manifest and blob is digest-checked before it is stored or used; unpacked
trees are keyed by manifest digest (``unpacked-v2/<hex>/tree/`` holds the skill's files).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from . import formats
from .cache import Cache, Unpacked
from .digests import ChunkReader, finish_reading, reads_ahead, verify_bytes
from .errors import DigestMismatch, FormatError, NotFound, SkillcrateError
from .oci.model import A_TITLE, Descriptor, parse_manifest
from .oci.target import Target
from .skill.tree import FileRecord


def max_blob() -> int:
    """A content layer larger than this is refused before download (gzip cannot shrink
    below its input by enough to matter; the extraction cap applies to what it expands
    to). A function: the archive module loads only when a layer is read."""
    from .skill import archive

    return archive.MAX_EXTRACT + 16 * 1024 * 1024


@dataclass(frozen=True)
class FetchedSkill:
    """A skill unpacked in the cache and verified: its tree, records and manifest facts."""

    name: str
    root: Path  # the unpacked skill folder in the cache (do not modify)
    digest: str  # manifest digest
    format: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    tree: str = ""  # tree digest of ``root`` (from the records made at extraction)
    records: tuple[FileRecord, ...] = ()
    private: bool = False  # ``root`` is this process's own (Cache.take_private), not shared


def get_manifest(
    target: Target, reference: str, cache: Cache | None = None
) -> tuple[Descriptor, bytes]:
    """A manifest's bytes by tag or digest; digests are served from the cache when present."""
    if cache is not None and reference.startswith("sha256:"):
        data = cache.get_manifest(reference)
        if data is not None:
            obj = parse_manifest(data)
            from .oci.model import manifest_media_type

            return Descriptor(
                manifest_media_type(obj),
                reference,
                len(data),
                artifact_type=obj.get("artifactType"),
                data=data,
            ), data
    desc, data = target.fetch_manifest(reference)
    verify_bytes(data, desc.digest, "manifest")
    if cache is not None:
        cache.put_manifest(desc.digest, data)
    return desc, data


def detect_skill(
    target: Target | None,
    reference: str,
    cache: Cache | None,
    *,
    name: str | None = None,
) -> tuple[Descriptor, dict[str, Any], formats.Detected]:
    """Fetch and detect a manifest, following a collection to the named skill."""
    if target is None:
        if cache is None or not reference.startswith("sha256:"):
            raise NotFound(f"{reference}: not in the cache (offline)")
        data = cache.get_manifest(reference)
        if data is None:
            raise NotFound(f"manifest {reference} is not in the cache (offline)")
        obj = parse_manifest(data)
        desc = Descriptor(obj.get("mediaType", ""), reference, len(data), data=data)
    else:
        desc, data = get_manifest(target, reference, cache)
        obj = parse_manifest(data)
    det = formats.detect(obj, desc.media_type)
    if det.is_collection:
        entry = formats.select_collection_entry(det, name)
        return detect_skill(target, entry.digest, cache, name=name)
    return desc, obj, det


def layers_cached(cache: Cache, digest: str) -> bool:
    """Whether the cache holds the skill manifest ``digest`` and every layer it lists:
    unpacking it then needs no download (only reading the verified blobs)."""
    try:
        _desc, _obj, det = detect_skill(None, digest, cache)
    except SkillcrateError:
        return False
    return all(cache.has_blob(layer.digest) for layer in det.layers)


def _check_size(desc: Descriptor) -> None:
    limit = max_blob()
    if not 0 <= desc.size <= limit:
        raise FormatError(
            f"blob {desc.digest} declares {desc.size} bytes (limit {limit // (1024 * 1024)} MiB)"
        )


def _ensure_blob(target: Target | None, cache: Cache, desc: Descriptor) -> None:
    if cache.has_blob(desc.digest):
        return
    if target is None:
        raise NotFound(f"blob {desc.digest} is not in the cache (offline)")
    _check_size(desc)
    cache.put_blob(desc.digest, target.iter_blob(desc), desc.size, source_verifies=True)


def _open_layer(
    target: Target | None,
    cache: Cache,
    desc: Descriptor,
    from_cache: list[str],
    keep: bool = True,
) -> BinaryIO:
    """A verifying reader of a layer: the cached blob, else the download streamed into
    the cache as it is extracted (one pass; ``finish()`` publishes it); with ``keep``
    false the download is only verified, not stored."""
    if cache.has_blob(desc.digest):
        from_cache.append(desc.digest)
        return cache.open_verified(desc.digest, desc.size)
    if target is None:
        raise NotFound(f"blob {desc.digest} is not in the cache (offline)")
    _check_size(desc)
    ahead = reads_ahead(desc.size)
    if not keep:
        return ChunkReader(  # type: ignore[return-value]
            desc.digest, desc.size, target.iter_blob(desc), source_verifies=True, ahead=ahead
        )
    return cache.ingest_blob(  # type: ignore[return-value]
        desc.digest, target.iter_blob(desc), desc.size, source_verifies=True, ahead=ahead
    )


OpenLayer = Callable[[Descriptor], BinaryIO]
T = TypeVar("T")


def _with_refetch(
    target: Target | None, cache: Cache, unpack: Callable[[OpenLayer], T], keep: bool = True
) -> T:
    """``unpack(open_layer)``, where ``open_layer`` reads a cached blob verified or
    streams the download into the cache; when a cached blob turns out damaged
    (DigestMismatch) it is removed and ``unpack`` runs once more, from the registry."""
    from_cache: list[str] = []
    for attempt in (1, 2):
        from_cache.clear()
        try:
            return unpack(lambda d: _open_layer(target, cache, d, from_cache, keep))
        except DigestMismatch:
            if attempt == 2 or target is None or not from_cache:
                raise
            for digest in from_cache:  # a damaged cached blob: fetch it again
                cache.remove_blob(digest)
    raise AssertionError("unreachable")


def fetch_skill(
    target: Target | None,
    reference: str,
    cache: Cache,
    *,
    fallback_name: str,
    name: str | None = None,
    expect_tree: str | None = None,
    from_blob: bool = False,
    read_name: bool = True,
    private: bool = False,
) -> FetchedSkill:
    """Resolve ``reference`` (tag or digest), download and verify, unpack into the cache.

    ``target`` None means offline: everything must already be cached by digest. A cached
    unpacked tree is used only while it matches its records; with ``expect_tree`` (the
    lock's tree), a cached tree with another digest is re-derived from its blob once
    before the difference counts. ``from_blob`` always derives the tree from the
    (verified) blob: what a new lock entry records must not come from the cache alone.
    A cached blob that no longer matches its digest is downloaded again. Without
    ``read_name`` the skill is named ``fallback_name`` and SKILL.md is not parsed (an
    install from a lock names the folder after the lock entry and loads no YAML); an
    entry it unpacks stays unnamed, and a later fetch that needs the name reads it from
    the cached tree.

    ``private``: a tree that must be extracted while its layers download is not
    published to the cache but kept for the caller's project, which moves it in (files
    get a project's modes, see :meth:`Cache.put_unpacked`): the payload is written once
    into the cache, as its blob, and once into the project. The returned skill says so.
    A tree derived from blobs the cache already holds is published (the clones that
    follow copy it), and a published entry that holds the tree is used (and copied).
    """
    desc, _obj, det = detect_skill(target, reference, cache, name=name)
    mine = cache.private(desc.digest)  # extracted from its verified blob by this process
    if mine is not None and expect_tree and mine.tree != expect_tree:
        mine = None
    fresh_enough = not from_blob or cache.derived(desc.digest)
    unpacked = mine
    if unpacked is None and fresh_enough:
        unpacked = cache.get_unpacked(desc.digest)
    if unpacked is not None and expect_tree and unpacked.tree != expect_tree:
        unpacked = None  # re-derive: the cache may have been tampered with
    if unpacked is None:
        private = private and not all(cache.has_blob(layer.digest) for layer in det.layers)

        def build(open_layer: OpenLayer) -> Unpacked:
            def extract(tmp: Path) -> tuple[str, Path, list[FileRecord], bool]:
                name, own, root, records = formats.unpack(
                    det,
                    open_layer,
                    tmp,
                    fallback_name=fallback_name,
                    read_name=read_name,
                    umask=private,
                )
                return name, root, records, own

            return cache.put_unpacked(
                desc.digest, det.format, extract, replace=True, publish=not private
            )

        unpacked = _with_refetch(target, cache, build)
    is_private = cache.private(desc.digest) is unpacked
    skill_name = unpacked.name
    if not read_name:
        skill_name = fallback_name
    elif not unpacked.own_name:
        skill_name = formats.skill_name(unpacked.root, det, fallback_name)
    return FetchedSkill(
        skill_name,
        unpacked.root,
        desc.digest,
        det.format,
        dict(det.annotations),
        unpacked.tree,
        unpacked.records,
        private=is_private,
    )


def unpack_to(
    target: Target | None,
    reference: str,
    cache: Cache,
    dest: Path,
    *,
    fallback_name: str,
    name: str | None = None,
) -> FetchedSkill:
    """Resolve ``reference`` and extract the skill straight into the new folder ``dest``.

    For ``pull``: the layers stream from the registry into ``dest`` in one pass,
    verified as they pass (a cached blob is read, verified, instead); like ``skopeo
    copy`` or ``oras pull``, the layers are not kept in the cache (its manifests are),
    so the payload is written once, here. ``dest`` is the caller's staging folder: it
    is renamed into place only after every layer verified.
    The returned ``root`` is ``dest``; its records carry no file hashes (nothing
    records this copy). A damaged cached blob is fetched again once.
    """
    desc, _obj, det = detect_skill(target, reference, cache, name=name)

    def extract(open_layer: OpenLayer) -> tuple[str, list[FileRecord]]:
        work = dest.with_name(dest.name + ".unpack")
        try:
            skill_name, _own, root, records = formats.unpack(
                det, open_layer, work, fallback_name=fallback_name, hash_files=False
            )
            os.rename(root, dest)
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
        return skill_name, records

    skill_name, records = _with_refetch(target, cache, extract, keep=False)
    return FetchedSkill(
        skill_name,
        dest,
        desc.digest,
        det.format,
        dict(det.annotations),
        "",
        tuple(records),
    )


@dataclass(frozen=True)
class Inspection:
    """What ``inspect`` reports of an artifact: its manifest facts, files and entries."""

    reference: str
    digest: str
    media_type: str
    format: str
    artifact_type: str | None
    annotations: Mapping[str, str]
    config: Any
    files: list[dict[str, Any]]
    size: int
    entries: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "mediaType": self.media_type,
            "artifactType": self.artifact_type,
            "format": self.format,
            "annotations": dict(self.annotations),
            "config": self.config,
            "files": self.files,
            "size": self.size,
            "entries": self.entries,
        }


def inspect(target: Target, reference: str, cache: Cache, *, display: str) -> Inspection:
    """Describe an artifact: digest, format, annotations, config and the content's files."""
    desc, data = get_manifest(target, reference, cache)
    obj = parse_manifest(data)
    det = formats.detect(obj, desc.media_type)
    if det.is_collection:
        entries = [
            {
                "digest": e.digest,
                "artifactType": e.artifact_type,
                "annotations": dict(e.annotations),
            }
            for e in det.entries
        ]
        return Inspection(
            display,
            desc.digest,
            desc.media_type,
            "collection",
            det.artifact_type,
            det.annotations,
            None,
            [],
            len(data),
            entries,
        )
    config: Any = None
    if det.config is not None and det.config.size <= 1024 * 1024:
        _ensure_blob(target, cache, det.config)
        with cache.open_verified(det.config.digest, det.config.size) as fh:
            raw = fh.read()
            finish_reading(fh)
        try:
            config = json.loads(raw) if raw else None
        except ValueError:
            config = None
    files: list[dict[str, Any]] = []
    for layer in det.layers:
        _ensure_blob(target, cache, layer)
        if det.format == "oras-files" and layer.annotations.get(formats.A_ORAS_UNPACK) != "true":
            files.append(
                {
                    "path": layer.annotations.get(A_TITLE, ""),
                    "size": layer.size,
                    "mode": "0644",
                }
            )
            continue
        from .skill import archive

        with cache.open_verified(layer.digest, layer.size) as fh:
            try:
                files += [
                    {"path": p, "size": s, "mode": f"{m & 0o777:04o}"}
                    for p, s, m in archive.list_members(fh)
                ]
            except Exception as exc:  # tarfile raises several types
                raise FormatError(
                    f"content layer {layer.digest} is not a readable archive"
                ) from exc
            finish_reading(fh)
    size = (
        len(data) + sum(layer.size for layer in det.layers) + (det.config.size if det.config else 0)
    )
    return Inspection(
        display,
        desc.digest,
        desc.media_type,
        det.format,
        det.artifact_type,
        det.annotations,
        config,
        files,
        size,
    )
