"""cosign's legacy signature format: simple-signing payloads under ``sha256-<hex>.sig``.

The payload is the JSON of sigstore's ``payload.SimpleContainerImage``::

    {"critical":{"identity":{"docker-reference":"<repo>"},
                 "image":{"docker-manifest-digest":"sha256:<hex>"},
                 "type":"cosign container image signature"},
     "optional":null}

It is stored as a layer (media type :data:`SIMPLESIGNING_MEDIA_TYPE`) of an image
manifest tagged ``sha256-<hex>.sig``, with the base64 DER ECDSA-SHA256 signature in
the layer annotation :data:`SIGNATURE_ANNOTATION`; every new signature appends a layer.
Attestations use the ``.att`` tag, DSSE envelope layers and a ``predicateType``
annotation. cosign reads payloads with Go's ``encoding/json``, which matches keys
case-insensitively (``Docker-manifest-digest`` in cosign's own spec), so this module
does too — and refuses payloads where two keys fold to the same name.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...digests import digest_hex
from ...errors import DigestMismatch, VerificationError
from .keys import PrivateKey, PublicKey

SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PREDICATE_TYPE_ANNOTATION = "predicateType"
COSIGN_SIGNATURE_TYPE = "cosign container image signature"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
_ZERO_TIME = "0001-01-01T00:00:00Z"


def legacy_tag(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.sig`` (cosign's tag-based discovery)."""
    return f"sha256-{digest_hex(digest, error=DigestMismatch)}.sig"


def attestation_tag(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.att``."""
    return f"sha256-{digest_hex(digest, error=DigestMismatch)}.att"


def go_json(obj: Any) -> bytes:
    """JSON as Go's ``json.Marshal`` writes it: compact, HTML characters escaped.

    Map keys are sorted like Go maps; struct-like dicts keep the caller's order, so
    pass those already in Go's field order.
    """
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def _sorted_map(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted_map(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted_map(v) for v in value]
    return value


def simple_signing_payload(
    docker_reference: str, manifest_digest: str, annotations: Mapping[str, Any] | None = None
) -> bytes:
    """The bytes cosign signs for ``docker_reference@manifest_digest``."""
    digest_hex(manifest_digest, error=DigestMismatch)
    payload = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": None if annotations is None else _sorted_map(annotations),
    }
    return go_json(payload)


def sign_payload(key: PrivateKey, payload: bytes) -> str:
    """Base64 of the DER ECDSA-SHA256 signature over ``payload`` (the layer annotation)."""
    return base64.b64encode(key.sign(payload)).decode("ascii")


def signature_image_config(layer_digests: Sequence[str]) -> bytes:
    """The image config cosign writes for ``.sig``/``.att`` manifests: a history entry per layer."""
    config = {
        "architecture": "",
        "created": _ZERO_TIME,
        "history": [{"created": _ZERO_TIME} for _ in layer_digests],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
        "config": {},
    }
    return go_json(config)


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class SimpleSigning:
    """The claims of a verified simple-signing payload."""

    docker_reference: str
    digest: str
    optional: dict[str, Any] | None


class _Pairs(dict[str, Any]):
    """A JSON object that keeps its raw (key, value) pairs, to see duplicate keys."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _field(obj: Any, name: str, where: str) -> Any:
    """``obj[name]`` matched case-insensitively, like Go's encoding/json; None if absent."""
    if not isinstance(obj, _Pairs):
        raise VerificationError(f"simple-signing payload: {where} is not a JSON object")
    folded = name.casefold()
    hits = [v for k, v in obj.pairs if k.casefold() == folded]
    if len(hits) > 1:
        raise VerificationError(f"simple-signing payload: {where} has {name!r} more than once")
    return hits[0] if hits else None


def parse_simple_signing(payload: bytes) -> SimpleSigning:
    """Read the claims of a simple-signing payload (no signature check)."""
    try:
        obj = json.loads(payload, object_pairs_hook=_Pairs)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError("simple-signing payload is not valid JSON") from None
    critical = _field(obj, "critical", "the payload")
    kind = _field(critical, "type", "critical")
    if kind != COSIGN_SIGNATURE_TYPE:
        raise VerificationError(f"simple-signing payload: unknown critical.type {kind!r}")
    reference = _field(_field(critical, "identity", "critical"), "docker-reference", "identity")
    digest = _field(_field(critical, "image", "critical"), "docker-manifest-digest", "image")
    if not isinstance(reference, str):
        raise VerificationError("simple-signing payload: docker-reference is not a string")
    if not isinstance(digest, str):
        raise VerificationError("simple-signing payload: no docker-manifest-digest")
    optional = _field(obj, "optional", "the payload")
    if optional is not None and not isinstance(optional, dict):
        raise VerificationError("simple-signing payload: optional is not an object")
    return SimpleSigning(reference, digest, None if optional is None else dict(optional))


def decode_signature(signature_b64: str) -> bytes:
    try:
        return base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        raise VerificationError("signature is not valid base64") from None


def verify_simple_signing(
    pub: PublicKey, payload: bytes, signature_b64: str, expected_digest: str
) -> SimpleSigning:
    """Check the signature over ``payload`` and that it claims ``expected_digest``."""
    pub.verify(decode_signature(signature_b64), payload)
    claims = parse_simple_signing(payload)
    if claims.digest != expected_digest:
        raise VerificationError(
            f"signature is for {claims.digest}, not {expected_digest} (replayed signature?)"
        )
    return claims
