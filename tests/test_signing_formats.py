"""Signature formats without a registry: cosign simple signing, DSSE, Sigstore bundles."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from skillcrate.errors import DigestMismatch, VerificationError
from skillcrate.trust.signing.bundle import (
    BUNDLE_ARTIFACT_TYPE,
    BUNDLE_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    INTOTO_PAYLOAD_TYPE,
    make_bundle,
    make_envelope,
    pae,
    statement,
    verify_bundle,
    verify_envelope,
)
from skillcrate.trust.signing.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    attestation_tag,
    legacy_tag,
    parse_simple_signing,
    sign_payload,
    signature_image_config,
    simple_signing_payload,
    verify_simple_signing,
)
from skillcrate.trust.signing.keys import PrivateKey, generate_key_pair

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
REF = "registry.example/skills/hello"


@pytest.fixture
def key() -> PrivateKey:
    return generate_key_pair()


def _raw_rs(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --------------------------------------------------------------------------- constants


def test_constants_match_cosign() -> None:
    assert SIMPLESIGNING_MEDIA_TYPE == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert SIGNATURE_ANNOTATION == "dev.cosignproject.cosign/signature"
    assert BUNDLE_MEDIA_TYPE == BUNDLE_ARTIFACT_TYPE
    assert BUNDLE_ARTIFACT_TYPE == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert legacy_tag(DIGEST) == "sha256-" + "ab" * 32 + ".sig"
    assert attestation_tag(DIGEST) == "sha256-" + "ab" * 32 + ".att"
    with pytest.raises(DigestMismatch):
        legacy_tag("sha256:abc")


# ---------------------------------------------------------------------- simple signing


def test_simple_signing_payload_is_cosigns_bytes() -> None:
    assert simple_signing_payload(REF, DIGEST) == (
        b'{"critical":{"identity":{"docker-reference":"registry.example/skills/hello"},'
        b'"image":{"docker-manifest-digest":"' + DIGEST.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )


def test_simple_signing_annotations_like_go() -> None:
    """Go sorts map keys and escapes <, > and & in strings."""
    payload = simple_signing_payload(REF, DIGEST, {"z": "1", "a": "<b>&", "m": {"y": 1, "x": 2}})
    assert payload.endswith(b'"optional":{"a":"\\u003cb\\u003e\\u0026","m":{"x":2,"y":1},"z":"1"}}')
    assert parse_simple_signing(payload).optional == {"a": "<b>&", "m": {"x": 2, "y": 1}, "z": "1"}


def test_simple_signing_round_trip(key: PrivateKey) -> None:
    payload = simple_signing_payload(REF, DIGEST, {"by": "ci"})
    sig = sign_payload(key, payload)
    decode_dss_signature(base64.b64decode(sig))
    claims = verify_simple_signing(key.public_key(), payload, sig, DIGEST)
    assert (claims.docker_reference, claims.digest, claims.optional) == (REF, DIGEST, {"by": "ci"})


def test_simple_signing_wrong_key(key: PrivateKey) -> None:
    payload = simple_signing_payload(REF, DIGEST)
    sig = sign_payload(key, payload)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_simple_signing(generate_key_pair().public_key(), payload, sig, DIGEST)


def test_simple_signing_replayed_onto_another_digest(key: PrivateKey) -> None:
    payload = simple_signing_payload(REF, DIGEST)
    sig = sign_payload(key, payload)
    with pytest.raises(VerificationError, match=f"is for {DIGEST}, not {OTHER}"):
        verify_simple_signing(key.public_key(), payload, sig, OTHER)


def test_simple_signing_tampered_payload(key: PrivateKey) -> None:
    payload = simple_signing_payload(REF, DIGEST)
    sig = sign_payload(key, payload)
    forged = payload.replace(DIGEST.encode(), OTHER.encode())
    with pytest.raises(VerificationError, match="does not verify"):
        verify_simple_signing(key.public_key(), forged, sig, OTHER)


def test_simple_signing_raw_r_s_refused(key: PrivateKey) -> None:
    payload = simple_signing_payload(REF, DIGEST)
    raw = _b64(_raw_rs(key.sign(payload)))
    with pytest.raises(VerificationError, match="raw r\\|\\|s"):
        verify_simple_signing(key.public_key(), payload, raw, DIGEST)


def test_simple_signing_bad_base64(key: PrivateKey) -> None:
    with pytest.raises(VerificationError, match="not valid base64"):
        verify_simple_signing(key.public_key(), b"{}", "not base64!", DIGEST)


def test_simple_signing_keys_match_case_insensitively(key: PrivateKey) -> None:
    """cosign's own spec example spells ``Docker-manifest-digest``; Go's json accepts it."""
    payload = json.dumps(
        {
            "Critical": {
                "Identity": {"Docker-Reference": REF},
                "image": {"Docker-manifest-digest": DIGEST},
                "TYPE": "cosign container image signature",
            },
            "Optional": {"creator": "atomic"},
        }
    ).encode()
    claims = verify_simple_signing(key.public_key(), payload, sign_payload(key, payload), DIGEST)
    assert claims.digest == DIGEST
    assert claims.optional == {"creator": "atomic"}


def test_simple_signing_ambiguous_keys_refused(key: PrivateKey) -> None:
    """Two keys folding to one name: Go would take the last; refuse instead."""
    payload = (
        b'{"critical":{"identity":{"docker-reference":"r"},"image":{'
        b'"docker-manifest-digest":"' + OTHER.encode() + b'",'
        b'"Docker-Manifest-Digest":"' + DIGEST.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )
    with pytest.raises(VerificationError, match="more than once"):
        verify_simple_signing(key.public_key(), payload, sign_payload(key, payload), DIGEST)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "is not a JSON object"),
        (b'{"critical":{"type":"something else"}}', "unknown critical.type"),
        (
            b'{"critical":{"type":"cosign container image signature","identity":'
            b'{"docker-reference":"r"},"image":{}}}',
            "no docker-manifest-digest",
        ),
        (
            b'{"critical":{"type":"cosign container image signature","identity":'
            b'{"docker-reference":"r"},"image":{"docker-manifest-digest":"'
            + DIGEST.encode()
            + b'"}},'
            b'"optional":"x"}',
            "optional is not an object",
        ),
    ],
)
def test_simple_signing_malformed_payloads(key: PrivateKey, payload: bytes, message: str) -> None:
    with pytest.raises(VerificationError, match=message):
        verify_simple_signing(key.public_key(), payload, sign_payload(key, payload), DIGEST)


def test_signature_image_config_is_cosigns() -> None:
    config = signature_image_config([DIGEST, OTHER])
    assert config == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z","history":'
        b'[{"created":"0001-01-01T00:00:00Z"},{"created":"0001-01-01T00:00:00Z"}],'
        b'"os":"","rootfs":{"type":"layers","diff_ids":["'
        + DIGEST.encode()
        + b'","'
        + OTHER.encode()
        + b'"]},"config":{}}'
    )


# ---------------------------------------------------------------- in-toto and DSSE PAE


def test_statement_v1() -> None:
    stmt = json.loads(statement(REF, DIGEST, COSIGN_SIGN_PREDICATE, {}))
    assert stmt == {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": REF, "digest": {"sha256": "ab" * 32}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    }
    assert list(stmt) == ["_type", "subject", "predicateType", "predicate"]


def test_pae_matches_the_dsse_spec_example() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


# ------------------------------------------------------------------------------ bundles


def _bundle(key: PrivateKey, digest: str = DIGEST) -> dict[str, Any]:
    return json.loads(make_bundle(key, statement(REF, digest, COSIGN_SIGN_PREDICATE, {})))


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode()


def test_bundle_layout(key: PrivateKey) -> None:
    bundle = _bundle(key)
    assert list(bundle) == ["mediaType", "verificationMaterial", "dsseEnvelope"]
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert bundle["verificationMaterial"] == {
        "publicKey": {"hint": key.public_key().key_id()},
        "tlogEntries": [],
    }
    env = bundle["dsseEnvelope"]
    assert env["payloadType"] == "application/vnd.in-toto+json"
    assert [list(s) for s in env["signatures"]] == [["sig", "keyid"]]
    payload = base64.b64decode(env["payload"])
    assert json.loads(payload)["subject"][0]["digest"] == {"sha256": "ab" * 32}
    sig = base64.b64decode(env["signatures"][0]["sig"])
    key.public_key().verify(sig, pae(INTOTO_PAYLOAD_TYPE, payload))


def test_bundle_round_trip(key: PrivateKey) -> None:
    result = verify_bundle(key.public_key(), _dump(_bundle(key)), DIGEST)
    assert result.predicate_type == COSIGN_SIGN_PREDICATE
    assert result.predicate == {}
    assert result.key_id == key.public_key().key_id()
    assert result.subjects == [{"name": REF, "digest": {"sha256": "ab" * 32}}]


def test_bundle_wrong_key(key: PrivateKey) -> None:
    with pytest.raises(VerificationError, match="does not verify"):
        verify_bundle(generate_key_pair().public_key(), _dump(_bundle(key)), DIGEST)


def test_bundle_replayed_onto_another_digest(key: PrivateKey) -> None:
    with pytest.raises(VerificationError, match=f"about {DIGEST}, not {OTHER}"):
        verify_bundle(key.public_key(), _dump(_bundle(key)), OTHER)


def _tamper_payload(bundle: dict[str, Any]) -> None:
    env = bundle["dsseEnvelope"]
    payload = base64.b64decode(env["payload"]).replace(b"cosign/sign", b"cosign/SIGN")
    env["payload"] = _b64(payload)


def _tamper_subject(bundle: dict[str, Any]) -> None:
    env = bundle["dsseEnvelope"]
    stmt = json.loads(base64.b64decode(env["payload"]))
    stmt["subject"][0]["digest"]["sha256"] = "cd" * 32
    env["payload"] = _b64(json.dumps(stmt).encode())


def _tamper_signature(bundle: dict[str, Any]) -> None:
    sig = bytearray(base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 1
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = _b64(bytes(sig))


def _raw_signature(bundle: dict[str, Any]) -> None:
    entry = bundle["dsseEnvelope"]["signatures"][0]
    entry["sig"] = _b64(_raw_rs(base64.b64decode(entry["sig"])))


def _two_signatures(bundle: dict[str, Any]) -> None:
    sigs = bundle["dsseEnvelope"]["signatures"]
    sigs.append(dict(sigs[0]))


def _certificate(bundle: dict[str, Any]) -> None:
    bundle["verificationMaterial"] = {"certificate": {"rawBytes": "MAA="}, "tlogEntries": []}


def _message_signature(bundle: dict[str, Any]) -> None:
    env = bundle.pop("dsseEnvelope")
    bundle["messageSignature"] = {
        "messageDigest": {"algorithm": "SHA2_256", "digest": _b64(bytes(32))},
        "signature": env["signatures"][0]["sig"],
    }


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_tamper_payload, "does not verify"),
        (_tamper_subject, "does not verify"),
        (_tamper_signature, "does not verify|not an ASN.1 DER"),
        (_raw_signature, "raw r\\|\\|s"),
        (_two_signatures, "exactly one signature"),
        (lambda b: b.update(mediaType="application/json"), "unsupported Sigstore bundle"),
        (lambda b: b.pop("mediaType"), "unsupported Sigstore bundle"),
        (lambda b: b["dsseEnvelope"].update(payloadType="text/plain"), "payloadType"),
        (lambda b: b["dsseEnvelope"].update(payload=""), "DSSE payload is missing"),
        (lambda b: b["dsseEnvelope"].update(payload="%%%"), "not valid base64"),
        (lambda b: b["dsseEnvelope"].update(signatures=[]), "exactly one signature"),
        (lambda b: b.pop("verificationMaterial"), "no verificationMaterial"),
        (_certificate, "keyless"),
        (_message_signature, "no DSSE envelope"),
    ],
    ids=[
        "payload",
        "subject",
        "signature",
        "raw-r-s",
        "two-signatures",
        "media-type",
        "no-media-type",
        "payload-type",
        "empty-payload",
        "payload-base64",
        "no-signatures",
        "no-material",
        "certificate",
        "message-signature",
    ],
)
def test_tampered_bundles_are_refused(
    key: PrivateKey, tamper: Callable[[dict[str, Any]], Any], message: str
) -> None:
    bundle = _bundle(key)
    tamper(bundle)
    with pytest.raises(VerificationError, match=message):
        verify_bundle(key.public_key(), _dump(bundle), DIGEST)


def test_payload_type_is_checked_even_when_signed(key: PrivateKey) -> None:
    """A valid signature over another payload type is still not an in-toto statement."""
    stmt = statement(REF, DIGEST, COSIGN_SIGN_PREDICATE, {})
    bundle = _bundle(key)
    bundle["dsseEnvelope"]["payloadType"] = "application/json"
    bundle["dsseEnvelope"]["signatures"][0]["sig"] = _b64(key.sign(pae("application/json", stmt)))
    with pytest.raises(VerificationError, match="payloadType 'application/json'"):
        verify_bundle(key.public_key(), _dump(bundle), DIGEST)


def test_signed_non_statement_is_refused(key: PrivateKey) -> None:
    bundle = json.loads(make_bundle(key, b'{"_type":"https://example.com/other"}'))
    with pytest.raises(VerificationError, match="not an in-toto statement"):
        verify_bundle(key.public_key(), _dump(bundle), DIGEST)


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"null"])
def test_bundle_that_is_not_a_json_object(key: PrivateKey, data: bytes) -> None:
    with pytest.raises(VerificationError, match="Sigstore bundle is not"):
        verify_bundle(key.public_key(), data, DIGEST)


def test_bundle_base64_variants_are_read(key: PrivateKey) -> None:
    """Protobuf JSON readers accept URL-safe and unpadded base64 for bytes fields."""
    bundle = _bundle(key)
    env = bundle["dsseEnvelope"]
    for field in ("payload",):
        env[field] = env[field].replace("+", "-").replace("/", "_").rstrip("=")
    sig = env["signatures"][0]
    sig["sig"] = sig["sig"].replace("+", "-").replace("/", "_").rstrip("=")
    assert verify_bundle(key.public_key(), _dump(bundle), DIGEST).predicate == {}


def test_legacy_bundle_media_type_spelling_is_read(key: PrivateKey) -> None:
    bundle = _bundle(key)
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3"
    verify_bundle(key.public_key(), _dump(bundle), DIGEST)


def test_statement_with_several_subjects(key: PrivateKey) -> None:
    stmt = json.loads(statement(REF, OTHER, "https://example.com/p", {"k": 1}))
    stmt["subject"].append({"name": "second", "digest": {"sha256": "ab" * 32}})
    bundle = make_bundle(key, json.dumps(stmt).encode())
    assert verify_bundle(key.public_key(), bundle, DIGEST).predicate == {"k": 1}
    assert verify_bundle(key.public_key(), bundle, OTHER).predicate_type == "https://example.com/p"


# ------------------------------------------------------------------ standalone envelopes


def test_envelope_round_trip_and_refusals(key: PrivateKey) -> None:
    env = make_envelope(key, statement(REF, DIGEST, "https://slsa.dev/provenance/v1", {"a": 1}))
    obj = json.loads(env)
    assert list(obj) == ["payloadType", "payload", "signatures"]
    assert obj["signatures"][0]["keyid"] == ""
    result = verify_envelope(key.public_key(), env, DIGEST)
    assert (result.predicate_type, result.predicate) == ("https://slsa.dev/provenance/v1", {"a": 1})
    with pytest.raises(VerificationError, match="not .*replayed"):
        verify_envelope(key.public_key(), env, OTHER)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_envelope(generate_key_pair().public_key(), env, DIGEST)
    _tamper_subject(wrapper := {"dsseEnvelope": obj})
    with pytest.raises(VerificationError, match="does not verify"):
        verify_envelope(key.public_key(), _dump(wrapper["dsseEnvelope"]), DIGEST)


def test_envelope_with_several_signatures_needs_one_good(key: PrivateKey) -> None:
    env = json.loads(make_envelope(key, statement(REF, DIGEST, "p", {})))
    other = json.loads(make_envelope(generate_key_pair(), statement(REF, DIGEST, "p", {})))
    env["signatures"] = other["signatures"] + env["signatures"]
    assert verify_envelope(key.public_key(), _dump(env), DIGEST).predicate_type == "p"
    env["signatures"] = other["signatures"]
    with pytest.raises(VerificationError, match="does not verify"):
        verify_envelope(key.public_key(), _dump(env), DIGEST)
