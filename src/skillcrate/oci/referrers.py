"""Referrers: artifacts that point at a skill through ``subject`` (SBOMs, signatures, ...).

``attach`` builds an OCI 1.1 artifact manifest (empty config, one layer, ``subject``)
and pushes it with :meth:`Target.push_referrer`, which keeps the ``sha256-<hex>``
tag-schema index up to date on registries without the referrers API.
``discover`` lists them: the referrers API first, that fallback index otherwise.
Listed entries are checked against the manifests they name: some writers record the
config media type as ``artifactType`` in the fallback index, so the manifest is the
truth, not the index entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..digests import verify_bytes
from ..errors import UsageError
from .model import (
    A_CREATED,
    A_TITLE,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
    created_timestamp,
    parse_manifest,
)
from .target import Target

DEFAULT_LAYER_TYPE = "application/octet-stream"


def artifact_manifest(
    subject: Descriptor,
    artifact_type: str,
    layers: list[Descriptor],
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """An OCI image manifest for an artifact referring to ``subject`` (empty config)."""
    if not artifact_type or "/" not in artifact_type:
        raise UsageError(f"artifact type {artifact_type!r} is not a media type (type/subtype)")
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {**Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON).to_json(), "data": "e30="},
        "layers": [layer.to_json() for layer in layers],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return canonical_json(manifest)


def attach_bytes(
    target: Target,
    subject: Descriptor,
    artifact_type: str,
    blobs: list[tuple[Descriptor, bytes]],
    annotations: Mapping[str, str] | None = None,
) -> Descriptor:
    """Push ``blobs`` and an artifact manifest referring to ``subject``; its descriptor."""
    empty = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON)
    target.push_blob(empty, EMPTY_JSON)
    for desc, data in blobs:
        target.push_blob(desc, data)
    data = artifact_manifest(subject, artifact_type, [d for d, _ in blobs], annotations)
    return target.push_referrer(data, OCI_MANIFEST, subject)


def attach_file(
    target: Target,
    subject: Descriptor,
    path: Path,
    artifact_type: str,
    *,
    media_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Descriptor:
    """Attach one file (an SBOM, a report) to ``subject``; the layer is titled by its name."""
    data = Path(path).read_bytes()
    layer = Descriptor.for_bytes(
        media_type or DEFAULT_LAYER_TYPE, data, annotations={A_TITLE: Path(path).name}
    )
    ann = {A_CREATED: created_timestamp(env), **(annotations or {})}
    return attach_bytes(target, subject, artifact_type, [(layer, data)], ann)


@dataclass(frozen=True)
class Referrer:
    """One artifact that refers to a subject, as its manifest says."""

    digest: str
    media_type: str
    artifact_type: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[Descriptor, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "mediaType": self.media_type,
            "artifactType": self.artifact_type,
            "size": self.size,
            "annotations": dict(self.annotations),
            "layers": [layer.to_json() for layer in self.layers],
        }


def open_referrer(target: Target, entry: Descriptor, subject: Descriptor) -> Referrer | None:
    """Read the manifest an index entry names; None if it does not refer to ``subject``."""
    _, data = target.fetch_manifest(entry.digest)
    verify_bytes(data, entry.digest, "referrer manifest")
    obj = parse_manifest(data, f"referrer {entry.digest}")
    if (obj.get("subject") or {}).get("digest") != subject.digest:
        return None
    artifact_type = obj.get("artifactType") or (obj.get("config") or {}).get("mediaType", "")
    raw_layers = obj.get("layers") or obj.get("blobs") or []
    return Referrer(
        digest=entry.digest,
        media_type=str(obj.get("mediaType") or entry.media_type),
        artifact_type=str(artifact_type),
        size=len(data),
        annotations=dict(obj.get("annotations") or {}),
        layers=tuple(Descriptor.from_json(x) for x in raw_layers if isinstance(x, dict)),
    )


def discover(
    target: Target, subject: Descriptor, artifact_type: str | None = None
) -> list[Referrer]:
    """Every artifact referring to ``subject`` (optionally of one type), oldest first."""
    out: list[Referrer] = []
    seen: set[str] = set()
    for entry in target.referrers(subject):
        if entry.digest in seen:
            continue
        seen.add(entry.digest)
        ref = open_referrer(target, entry, subject)
        if ref is None or (artifact_type and ref.artifact_type != artifact_type):
            continue
        out.append(ref)
    out.sort(key=lambda r: (r.annotations.get(A_CREATED, ""), r.digest))
    return out
