"""OCI data model: descriptors, media types and manifest parsing (pure values, no I/O)."""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..digests import sha256_digest
from ..digests import verified_chunks as _verified_chunks
from ..errors import FormatError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_JSON = b"{}"
MANIFEST_TYPES = (
    OCI_MANIFEST,
    OCI_INDEX,
    OCI_ARTIFACT_MANIFEST,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
)
ACCEPT_MANIFESTS = ", ".join(MANIFEST_TYPES)
REF_NAME = "org.opencontainers.image.ref.name"
# OCI image-spec annotations (annotations.md), used by every kind of artifact
A_CREATED = "org.opencontainers.image.created"
A_TITLE = "org.opencontainers.image.title"
A_VERSION = "org.opencontainers.image.version"
A_DESCRIPTION = "org.opencontainers.image.description"
A_LICENSES = "org.opencontainers.image.licenses"
A_SOURCE = "org.opencontainers.image.source"
A_REVISION = "org.opencontainers.image.revision"
CHUNK = 1024 * 1024
"""Bytes per step when streaming a blob (1 MiB: fewer Python-level steps per byte)."""


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (media type, digest, size), with its bytes when known."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    data: bytes | None = None  # embedded content, when known (small blobs, manifests)

    @classmethod
    def for_bytes(
        cls,
        media_type: str,
        data: bytes,
        annotations: Mapping[str, str] | None = None,
        artifact_type: str | None = None,
    ) -> Descriptor:
        return cls(
            media_type, sha256_digest(data), len(data), dict(annotations or {}), artifact_type, data
        )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Descriptor:
        try:
            return cls(
                media_type=str(obj.get("mediaType", "")),
                digest=str(obj["digest"]),
                size=int(obj["size"]),
                annotations=dict(obj.get("annotations") or {}),
                artifact_type=obj.get("artifactType"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FormatError(f"malformed descriptor: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def verified_chunks(
    chunks: Iterable[bytes], desc: Descriptor, what: str = "blob"
) -> Iterator[bytes]:
    """Yield ``chunks`` while checking them against ``desc`` (:func:`digests.verified_chunks`)."""
    return _verified_chunks(chunks, desc.digest, desc.size, what)


def canonical_json(obj: Any) -> bytes:
    """Compact JSON with the caller's key order (stable bytes → stable digest)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_manifest(data: bytes, where: str = "manifest") -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise FormatError(f"{where} is not valid JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{where} is not a JSON object")
    return obj


def manifest_media_type(obj: Mapping[str, Any], fallback: str = "") -> str:
    mt = obj.get("mediaType") or fallback
    if not mt:
        mt = OCI_INDEX if "manifests" in obj else OCI_MANIFEST
    return str(mt)


BlobSource = bytes | Path


def open_source(source: BlobSource) -> BinaryIO:
    import io

    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source)
    return open(source, "rb")


def created_timestamp(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    sde = env.get("SOURCE_DATE_EPOCH")
    if sde and sde.strip().isdigit():
        t = _dt.datetime.fromtimestamp(int(sde), _dt.UTC)
    else:
        t = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
