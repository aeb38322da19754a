"""OCI data model: descriptors, media types, digests, and the Target protocol."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from ..errors import DigestMismatch, FormatError

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
CHUNK = 64 * 1024


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise DigestMismatch(f"unsupported or malformed digest {digest!r}")
    return hexpart


@dataclass(frozen=True)
class Descriptor:
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


def verify_bytes(data: bytes, digest: str, what: str = "content") -> bytes:
    actual = sha256_digest(data)
    digest_hex(digest)
    if actual != digest:
        raise DigestMismatch(f"{what} {digest}: received bytes have digest {actual}")
    return data


def verified_chunks(
    chunks: Iterable[bytes], desc: Descriptor, what: str = "blob"
) -> Iterator[bytes]:
    """Yield ``chunks`` while hashing; raise DigestMismatch at the end (or on overflow)."""
    digest_hex(desc.digest)
    h = hashlib.sha256()
    n = 0
    for chunk in chunks:
        n += len(chunk)
        if desc.size >= 0 and n > desc.size:
            raise DigestMismatch(f"{what} {desc.digest}: more than the declared {desc.size} bytes")
        h.update(chunk)
        yield chunk
    if desc.size >= 0 and n != desc.size:
        raise DigestMismatch(f"{what} {desc.digest}: got {n} bytes, declared {desc.size}")
    actual = "sha256:" + h.hexdigest()
    if actual != desc.digest:
        raise DigestMismatch(f"{what} {desc.digest}: received bytes have digest {actual}")


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


class Target(Protocol):
    """One repository: a registry repository or an OCI image layout."""

    def resolve(self, reference: str) -> Descriptor: ...
    def fetch_manifest(self, reference: str) -> tuple[Descriptor, bytes]: ...
    def iter_blob(self, desc: Descriptor) -> Iterator[bytes]: ...
    def blob_exists(self, desc: Descriptor) -> bool: ...
    def push_blob(self, desc: Descriptor, source: BlobSource) -> None: ...
    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor: ...
    def tag(self, desc: Descriptor, tag: str) -> None: ...
    def untag(self, tag: str) -> None: ...
    def tags(self) -> list[str]: ...
    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> list[Descriptor]: ...
    def push_referrer(self, data: bytes, media_type: str, subject: Descriptor) -> Descriptor: ...
    def describe(self) -> str: ...
