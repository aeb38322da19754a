"""Signatures and attestations on a Target: attach them, find them, verify them.

Two storage formats, both cosign's:

* **bundle**: a Sigstore bundle in an OCI 1.1 artifact manifest (``artifactType``
  :data:`BUNDLE_ARTIFACT_TYPE`, empty config, one layer, ``subject``), found through
  the referrers API or its ``sha256-<hex>`` fallback index (``push_referrer`` keeps it).
* **legacy**: simple-signing layers of the manifest tagged ``sha256-<hex>.sig``
  (attestations: DSSE layers under ``sha256-<hex>.att``), one layer per signature.

Discovery never trusts an index entry: each referrer manifest is opened, its digest
checked, its ``subject`` compared with the subject and its layers read for their
media type. A signature counts only once its signature verifies with a given key
*and* what it signs names the subject's digest.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ...digests import digest_hex, sha256_digest, verify_bytes
from ...errors import DigestMismatch, FormatError, NotFound, UsageError, VerificationError
from ...oci.model import (
    A_CREATED,
    A_TITLE,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
    created_timestamp,
    parse_manifest,
)
from ...oci.referrers import attach_bytes, open_referrer
from ...oci.target import Target
from .bundle import (
    BUNDLE_ARTIFACT_TYPE,
    BUNDLE_MEDIA_TYPE,
    BUNDLE_MEDIA_TYPES,
    COSIGN_SIGN_PREDICATE,
    VerifiedStatement,
    make_bundle,
    make_envelope,
    statement,
    verify_bundle,
    verify_envelope,
)
from .cosign import (
    DSSE_MEDIA_TYPE,
    OCI_IMAGE_CONFIG,
    PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    attestation_tag,
    legacy_tag,
    sign_payload,
    signature_image_config,
    simple_signing_payload,
    verify_simple_signing,
)
from .keys import PrivateKey, PublicKey

Kind = Literal["bundle", "legacy"]
MAX_SIGNATURE_BLOB = 16 * 1024 * 1024
A_BUNDLE_CONTENT = "dev.sigstore.bundle.content"
A_BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType"
_SKIPPABLE = (NotFound, DigestMismatch, FormatError)


@dataclass(frozen=True)
class FoundSignature:
    """One signature (or attestation) found for a subject, not yet verified."""

    kind: Kind
    data: bytes  # bundle JSON, simple-signing payload, or DSSE envelope (``.att``)
    signature: str | None  # legacy simple signing: the base64 layer annotation
    media_type: str  # of the layer holding ``data``
    manifest: str  # digest of the manifest holding it
    where: str  # human-readable location


@dataclass(frozen=True)
class Verified:
    """Which signature verified, with which key."""

    kind: Kind
    key_id: str
    key_source: str
    where: str
    statement: VerifiedStatement | None = None  # bundles and attestations


def _note(problems: list[str] | None, message: str) -> None:
    if problems is not None:
        problems.append(message)


# ----------------------------------------------------------------------------- attaching


def attach_bundle(target: Target, subject: Descriptor, bundle: bytes) -> Descriptor:
    """Push ``bundle`` as an OCI 1.1 referrer of ``subject``; the referrer's descriptor."""
    title = f"sha256-{digest_hex(sha256_digest(bundle), error=DigestMismatch)}.sigstore.json"
    layer = Descriptor.for_bytes(BUNDLE_MEDIA_TYPE, bundle, {A_TITLE: title})
    annotations = {A_BUNDLE_CONTENT: "dsse-envelope", A_CREATED: created_timestamp()}
    predicate_type = _unverified_predicate_type(bundle)
    if predicate_type:
        annotations[A_BUNDLE_PREDICATE] = predicate_type
    return attach_bytes(target, subject, BUNDLE_ARTIFACT_TYPE, [(layer, bundle)], annotations)


def _unverified_predicate_type(bundle: bytes) -> str | None:
    """The statement's predicateType, for the manifest annotation (our own bundle)."""
    try:
        env = json.loads(bundle)["dsseEnvelope"]
        value = json.loads(base64.b64decode(env["payload"]))["predicateType"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _existing_layers(target: Target, tag: str) -> tuple[Descriptor | None, list[dict[str, Any]]]:
    try:
        desc, data = target.fetch_manifest(tag)
    except NotFound:
        return None, []
    layers = parse_manifest(data, f"{target.describe()}:{tag}").get("layers") or []
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise FormatError(f"{target.describe()}:{tag}: malformed layers")
    return desc, list(layers)


def _same_layer(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return (
        old.get("digest") == new["digest"]
        and old.get("mediaType") == new["mediaType"]
        and (old.get("annotations") or {}) == (new.get("annotations") or {})
    )


def _append_layer(target: Target, tag: str, layer: Descriptor, blob: bytes) -> Descriptor:
    """Add ``layer`` to the manifest tagged ``tag``, keeping the layers already there."""
    existing, layers = _existing_layers(target, tag)
    new = layer.to_json()
    if existing is not None and any(_same_layer(old, new) for old in layers):
        return existing
    target.push_blob(layer, blob)
    layers.append(new)
    config = signature_image_config([str(x.get("digest", "")) for x in layers])
    config_desc = Descriptor.for_bytes(OCI_IMAGE_CONFIG, config)
    target.push_blob(config_desc, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": layers,
    }
    return target.push_manifest(canonical_json(manifest), OCI_MANIFEST, tag)


def attach_legacy(
    target: Target, subject: Descriptor, payload: bytes, signature_b64: str
) -> Descriptor:
    """Append a simple-signing layer to ``sha256-<hex>.sig`` (cosign's legacy format)."""
    layer = Descriptor.for_bytes(
        SIMPLESIGNING_MEDIA_TYPE, payload, {SIGNATURE_ANNOTATION: signature_b64}
    )
    return _append_layer(target, legacy_tag(subject.digest), layer, payload)


def attach_legacy_attestation(
    target: Target, subject: Descriptor, envelope: bytes, predicate_type: str
) -> Descriptor:
    """Append a DSSE envelope layer to ``sha256-<hex>.att`` (cosign's legacy attestations)."""
    annotations = {SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type}
    layer = Descriptor.for_bytes(DSSE_MEDIA_TYPE, envelope, annotations)
    return _append_layer(target, attestation_tag(subject.digest), layer, envelope)


def sign_manifest(
    target: Target,
    subject: Descriptor,
    key: PrivateKey,
    docker_reference: str,
    fmt: Literal["bundle", "legacy", "both"] = "bundle",
) -> list[Descriptor]:
    """Sign ``subject`` as cosign does; the manifests pushed (referrer and/or ``.sig``)."""
    if fmt not in ("bundle", "legacy", "both"):
        raise UsageError(f"unknown signature format {fmt!r} (bundle, legacy or both)")
    pushed: list[Descriptor] = []
    if fmt in ("bundle", "both"):
        stmt = statement(docker_reference, subject.digest, COSIGN_SIGN_PREDICATE, {})
        pushed.append(attach_bundle(target, subject, make_bundle(key, stmt)))
    if fmt in ("legacy", "both"):
        payload = simple_signing_payload(docker_reference, subject.digest)
        pushed.append(attach_legacy(target, subject, payload, sign_payload(key, payload)))
    return pushed


def attest(
    target: Target,
    subject: Descriptor,
    key: PrivateKey,
    predicate_type: str,
    predicate: Mapping[str, Any],
    legacy: bool = False,
    *,
    subject_name: str | None = None,
) -> Descriptor:
    """Attach a signed in-toto statement about ``subject``: a bundle, or a ``.att`` layer."""
    name = subject_name or target.describe()
    stmt = statement(name, subject.digest, predicate_type, predicate)
    if legacy:
        return attach_legacy_attestation(target, subject, make_envelope(key, stmt), predicate_type)
    return attach_bundle(target, subject, make_bundle(key, stmt))


# ----------------------------------------------------------------------------- discovery


def _read_blob(target: Target, desc: Descriptor, where: str) -> bytes:
    if not 0 <= desc.size <= MAX_SIGNATURE_BLOB:
        raise FormatError(f"{where}: layer of {desc.size} bytes (limit {MAX_SIGNATURE_BLOB})")
    return verify_bytes(b"".join(target.iter_blob(desc)), desc.digest, "signature layer")


def _bundles(
    target: Target, subject: Descriptor, problems: list[str] | None
) -> list[FoundSignature]:
    try:
        listed = target.referrers(subject)
    except _SKIPPABLE as exc:
        _note(problems, f"referrers of {subject.digest}: {exc}")
        return []
    found: list[FoundSignature] = []
    for desc in listed:
        where = f"{target.describe()}@{desc.digest}"
        try:
            referrer = open_referrer(target, desc, subject)
            if referrer is None:
                raise FormatError(
                    f"{where}: listed as a referrer but its subject is not {subject.digest}"
                )
            if referrer.artifact_type not in BUNDLE_MEDIA_TYPES:
                continue
            for layer in referrer.layers:
                if layer.media_type in BUNDLE_MEDIA_TYPES:
                    data = _read_blob(target, layer, where)
                    found.append(
                        FoundSignature("bundle", data, None, layer.media_type, desc.digest, where)
                    )
        except _SKIPPABLE as exc:
            _note(problems, f"skipped referrer {desc.digest}: {exc}")
    return found


def _legacy_layers(
    target: Target, tag: str, media_type: str, problems: list[str] | None
) -> list[FoundSignature]:
    try:
        manifest_desc, layers = _existing_layers(target, tag)
    except _SKIPPABLE as exc:
        _note(problems, f"{target.describe()}:{tag}: {exc}")
        return []
    found: list[FoundSignature] = []
    for i, layer in enumerate(layers):
        annotations = layer.get("annotations") or {}
        if layer.get("mediaType") != media_type or SIGNATURE_ANNOTATION not in annotations:
            continue
        where = f"{target.describe()}:{tag} layer {i + 1}"
        try:
            data = _read_blob(target, Descriptor.from_json(layer), where)
        except _SKIPPABLE as exc:
            _note(problems, f"skipped {where}: {exc}")
            continue
        signature = (
            str(annotations[SIGNATURE_ANNOTATION])
            if media_type == SIMPLESIGNING_MEDIA_TYPE
            else None
        )
        assert manifest_desc is not None
        found.append(
            FoundSignature("legacy", data, signature, media_type, manifest_desc.digest, where)
        )
    return found


def discover_signatures(
    target: Target, subject: Descriptor, *, problems: list[str] | None = None
) -> list[FoundSignature]:
    """Every signature stored for ``subject``: bundle referrers, then ``.sig`` layers.

    Referrers that cannot be read, or whose bytes do not match their digest, are
    skipped (with a line in ``problems``): another signature may still verify.
    """
    return _bundles(target, subject, problems) + _legacy_layers(
        target, legacy_tag(subject.digest), SIMPLESIGNING_MEDIA_TYPE, problems
    )


def discover_attestations(
    target: Target, subject: Descriptor, *, problems: list[str] | None = None
) -> list[FoundSignature]:
    """Every attestation stored for ``subject``: bundle referrers, then ``.att`` layers."""
    return _bundles(target, subject, problems) + _legacy_layers(
        target, attestation_tag(subject.digest), DSSE_MEDIA_TYPE, problems
    )


# ---------------------------------------------------------------------------- verifying


def verify_found(found: FoundSignature, key: PublicKey, subject: Descriptor) -> Verified:
    """Verify one found signature or attestation with ``key``; raise VerificationError."""
    stmt: VerifiedStatement | None = None
    if found.kind == "bundle":
        stmt = verify_bundle(key, found.data, subject.digest)
    elif found.media_type == DSSE_MEDIA_TYPE:
        stmt = verify_envelope(key, found.data, subject.digest)
    else:
        verify_simple_signing(key, found.data, found.signature or "", subject.digest)
    return Verified(found.kind, key.key_id(), key.label(), found.where, stmt)


def _verify_each(
    candidates: Sequence[FoundSignature],
    keys: Sequence[PublicKey],
    subject: Descriptor,
    predicate_type: str | None,
    problems: list[str] | None,
) -> list[Verified]:
    out: list[Verified] = []
    for found in candidates:
        for key in keys:
            try:
                verified = verify_found(found, key, subject)
            except VerificationError as exc:
                _note(problems, f"{found.where} with key {key.label()}: {exc}")
                continue
            pt = verified.statement.predicate_type if verified.statement else None
            if predicate_type is not None and pt is not None and pt != predicate_type:
                _note(problems, f"{found.where}: predicateType {pt}, not {predicate_type}")
                break
            out.append(verified)
            break
    return out


def verify_with_keys(
    target: Target,
    subject: Descriptor,
    keys: Sequence[PublicKey],
    *,
    problems: list[str] | None = None,
) -> Verified | None:
    """The first signature of ``subject`` that verifies with one of ``keys``, else None.

    Bundles count as signatures only with cosign's signing predicate
    (:data:`COSIGN_SIGN_PREDICATE`); attestations are checked by :func:`verify_attestations`.
    """
    for found in discover_signatures(target, subject, problems=problems):
        hits = _verify_each([found], keys, subject, COSIGN_SIGN_PREDICATE, problems)
        if hits:
            return hits[0]
    return None


def verify_attestations(
    target: Target,
    subject: Descriptor,
    keys: Sequence[PublicKey],
    predicate_type: str | None = None,
    *,
    problems: list[str] | None = None,
) -> list[Verified]:
    """Every attestation of ``subject`` that verifies with one of ``keys`` (``.statement`` set)."""
    candidates = discover_attestations(target, subject, problems=problems)
    return _verify_each(candidates, keys, subject, predicate_type, problems)
