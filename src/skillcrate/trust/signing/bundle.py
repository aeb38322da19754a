"""DSSE envelopes of in-toto statements, and Sigstore bundles v0.3 holding them.

Key-based and offline: a bundle carries ``verificationMaterial.publicKey.hint`` (the
key id), no transparency-log entries, and a DSSE envelope whose one signature is a
DER ECDSA-SHA256 signature over the DSSE pre-authentication encoding (PAE) of an
in-toto Statement v1. This is what ``cosign sign --new-bundle-format --key`` makes,
with predicate type :data:`COSIGN_SIGN_PREDICATE` and an empty predicate.
Field names follow sigstore/protobuf-specs' JSON mapping (lowerCamelCase; bytes in
base64), as sigstore-js and sigstore-go read and write them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...digests import digest_hex
from ...errors import DigestMismatch, VerificationError
from ...oci.model import canonical_json
from .keys import PrivateKey, PublicKey

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_ARTIFACT_TYPE = BUNDLE_MEDIA_TYPE
BUNDLE_MEDIA_TYPES = (BUNDLE_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.3")
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def statement(
    subject_name: str, digest: str, predicate_type: str, predicate: Mapping[str, Any]
) -> bytes:
    """An in-toto Statement v1 about one subject (``digest`` is ``sha256:<hex>``)."""
    return canonical_json(
        {
            "_type": STATEMENT_V1,
            "subject": [
                {
                    "name": subject_name,
                    "digest": {"sha256": digest_hex(digest, error=DigestMismatch)},
                }
            ],
            "predicateType": predicate_type,
            "predicate": dict(predicate),
        }
    )


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <payload>``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    """Protobuf-JSON bytes: standard or URL-safe base64, padding optional."""
    if not isinstance(value, str) or not value:
        raise VerificationError(f"{what} is missing or not a base64 string")
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what} is not valid base64") from None


def _envelope(key: PrivateKey, statement_bytes: bytes) -> dict[str, Any]:
    signature = key.sign(pae(INTOTO_PAYLOAD_TYPE, statement_bytes))
    return {
        "payload": _b64(statement_bytes),
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": _b64(signature), "keyid": key.public_key().key_id()}],
    }


def make_envelope(key: PrivateKey, statement_bytes: bytes) -> bytes:
    """A standalone DSSE envelope (the layer of a cosign ``.att`` manifest)."""
    env = _envelope(key, statement_bytes)
    return canonical_json(
        {
            "payloadType": env["payloadType"],
            "payload": env["payload"],
            "signatures": [{"keyid": "", "sig": env["signatures"][0]["sig"]}],
        }
    )


def make_bundle(key: PrivateKey, statement_bytes: bytes) -> bytes:
    """A Sigstore bundle v0.3: public-key hint, no tlog entries, one DSSE envelope."""
    return canonical_json(
        {
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {
                "publicKey": {"hint": key.public_key().key_id()},
                "tlogEntries": [],
            },
            "dsseEnvelope": _envelope(key, statement_bytes),
        }
    )


# --------------------------------------------------------------------------- verifying


@dataclass(frozen=True)
class VerifiedStatement:
    """A statement whose signature checked out and whose subjects include the digest."""

    predicate_type: str
    predicate: Any
    subjects: list[dict[str, Any]]
    key_id: str
    statement: dict[str, Any] = field(repr=False)


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerificationError(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise VerificationError(f"{what} is not a JSON object")
    return obj


def _check_statement(payload: bytes, expected_digest: str, key_id: str) -> VerifiedStatement:
    stmt = _json_object(payload, "in-toto statement")
    if stmt.get("_type") not in STATEMENT_TYPES:
        raise VerificationError(f"not an in-toto statement (_type {stmt.get('_type')!r})")
    subjects = stmt.get("subject")
    predicate_type = stmt.get("predicateType")
    if not isinstance(subjects, list) or not isinstance(predicate_type, str):
        raise VerificationError("in-toto statement lacks subject or predicateType")
    want = digest_hex(expected_digest, error=DigestMismatch)
    claimed = [
        s["digest"].get("sha256")
        for s in subjects
        if isinstance(s, dict) and isinstance(s.get("digest"), dict)
    ]
    if want not in claimed:
        shown = ", ".join(f"sha256:{c}" for c in claimed if isinstance(c, str)) or "nothing"
        raise VerificationError(
            f"statement is about {shown}, not {expected_digest} (replayed signature?)"
        )
    return VerifiedStatement(predicate_type, stmt.get("predicate"), subjects, key_id, stmt)


def _verify_dsse(
    pub: PublicKey, env: Any, expected_digest: str, *, single: bool
) -> VerifiedStatement:
    if not isinstance(env, dict):
        raise VerificationError("DSSE envelope is not a JSON object")
    payload_type = env.get("payloadType")
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationError(f"DSSE payloadType {payload_type!r} is not {INTOTO_PAYLOAD_TYPE}")
    payload = _unb64(env.get("payload"), "DSSE payload")
    signatures = env.get("signatures")
    if not isinstance(signatures, list) or not signatures or (single and len(signatures) != 1):
        raise VerificationError(
            "DSSE envelope must hold exactly one signature"
            if single
            else "DSSE envelope has no signatures"
        )
    message = pae(payload_type, payload)
    error: VerificationError | None = None
    for entry in signatures:
        try:
            sig = _unb64(entry.get("sig") if isinstance(entry, dict) else None, "DSSE signature")
            pub.verify(sig, message)
        except VerificationError as exc:
            error = error or exc
            continue
        return _check_statement(payload, expected_digest, pub.key_id())
    assert error is not None
    raise error


def verify_envelope(pub: PublicKey, envelope: bytes, expected_digest: str) -> VerifiedStatement:
    """Verify a standalone DSSE envelope (cosign ``.att`` layer) about ``expected_digest``."""
    return _verify_dsse(pub, _json_object(envelope, "DSSE envelope"), expected_digest, single=False)


def verify_bundle(pub: PublicKey, bundle: bytes, expected_digest: str) -> VerifiedStatement:
    """Verify a key-based Sigstore bundle v0.3 about ``expected_digest`` with ``pub``.

    Transparency-log entries, if any, are not checked (there is no trust root offline).
    """
    obj = _json_object(bundle, "Sigstore bundle")
    media_type = obj.get("mediaType")
    if media_type not in BUNDLE_MEDIA_TYPES:
        raise VerificationError(f"unsupported Sigstore bundle mediaType {media_type!r}")
    material = obj.get("verificationMaterial")
    if not isinstance(material, dict):
        raise VerificationError("Sigstore bundle has no verificationMaterial")
    if "publicKey" not in material:
        raise VerificationError(
            "Sigstore bundle is signed with a certificate (keyless); only key-based "
            "bundles are supported"
        )
    if "dsseEnvelope" not in obj:
        raise VerificationError("Sigstore bundle holds no DSSE envelope (message signature?)")
    return _verify_dsse(pub, obj["dsseEnvelope"], expected_digest, single=True)
