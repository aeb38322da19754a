"""Fetch skills from any Target into the cache, verified, and describe artifacts.

Every manifest and blob is digest-checked before it is stored or used; unpacked
trees are keyed by manifest digest (``unpacked-v1/<hex>/`` holds the skill's files).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import archive, formats
from .cache import Cache
from .errors import FormatError, NotFound
from .oci.model import Descriptor, Target, parse_manifest, verify_bytes


@dataclass(frozen=True)
class FetchedSkill:
    name: str
    root: Path  # the unpacked skill folder in the cache (do not modify)
    digest: str  # manifest digest
    format: str
    annotations: Mapping[str, str] = field(default_factory=dict)


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


def _ensure_blob(target: Target | None, cache: Cache, desc: Descriptor) -> None:
    if cache.has_blob(desc.digest):
        return
    if target is None:
        raise NotFound(f"blob {desc.digest} is not in the cache (offline)")
    cache.put_blob(desc.digest, target.iter_blob(desc), desc.size)


def fetch_skill(
    target: Target | None,
    reference: str,
    cache: Cache,
    *,
    fallback_name: str,
    name: str | None = None,
) -> FetchedSkill:
    """Resolve ``reference`` (tag or digest), download and verify, unpack into the cache.

    ``target`` None means offline: everything must already be cached by digest.
    """
    desc, _obj, det = detect_skill(target, reference, cache, name=name)
    for layer in det.layers:
        _ensure_blob(target, cache, layer)

    result: dict[str, str] = {}

    def build(tmp: Path) -> None:
        work = tmp / ".work"
        skill_name, root = formats.unpack(
            det, lambda d: cache.open_blob(d.digest), work, fallback_name=fallback_name
        )
        result["name"] = skill_name
        for child in root.iterdir():
            child.rename(tmp / child.name)
        shutil.rmtree(work)

    root = cache.unpacked(desc.digest, build)
    skill_name = result.get("name") or formats.skill_name(root, det, fallback_name)
    return FetchedSkill(skill_name, root, desc.digest, det.format, dict(det.annotations))


@dataclass(frozen=True)
class Inspection:
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
        with cache.open_blob(det.config.digest) as fh:
            raw = fh.read()
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
                    "path": layer.annotations.get(formats.A_TITLE, ""),
                    "size": layer.size,
                    "mode": "0644",
                }
            )
            continue
        with cache.open_blob(layer.digest) as fh:
            try:
                files += [
                    {"path": p, "size": s, "mode": f"{m & 0o777:04o}"}
                    for p, s, m in archive.list_members(fh)
                ]
            except Exception as exc:  # tarfile raises several types
                raise FormatError(
                    f"content layer {layer.digest} is not a readable archive"
                ) from exc
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
