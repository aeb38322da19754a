"""skillcrate.signing.store on real targets: attach, discover and verify signatures.

Every test runs on three targets: the real Distribution registry (no referrers API, so
bundles are found through the ``sha256-<hex>`` fallback index), an in-process registry
*with* the referrers API (``referrers_registry`` from ``fake_registry.py``), and an
``oci:`` image layout.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillcrate.errors import UsageError
from skillcrate.oci import open_target
from skillcrate.oci.layout import LayoutRepository
from skillcrate.oci.model import (
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
    parse_manifest,
)
from skillcrate.oci.registry import RegistryRepository, fallback_tag
from skillcrate.oci.target import Target
from skillcrate.reference import Reference
from skillcrate.trust.signing.bundle import (
    BUNDLE_ARTIFACT_TYPE,
    COSIGN_SIGN_PREDICATE,
    make_bundle,
    statement,
)
from skillcrate.trust.signing.cosign import (
    DSSE_MEDIA_TYPE,
    OCI_IMAGE_CONFIG,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    attestation_tag,
    legacy_tag,
    sign_payload,
    simple_signing_payload,
)
from skillcrate.trust.signing.keys import PrivateKey, generate_key_pair, load_public_key
from skillcrate.trust.signing.store import (
    attach_bundle,
    attach_legacy,
    attest,
    discover_attestations,
    discover_signatures,
    sign_manifest,
    verify_attestations,
    verify_with_keys,
)

from helpers import push_subject

SLSA = "https://slsa.dev/provenance/v1"
TARGET_KINDS = ["distribution", "referrers-api", "layout"]


@pytest.fixture(params=TARGET_KINDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    kind = request.param
    if kind == "layout":
        return open_target(Reference.parse(f"oci:{tmp_path / 'layout'}"))
    if kind == "distribution":
        server = request.getfixturevalue("registry")
        repo = request.getfixturevalue("repo_name")
    else:
        try:
            server = request.getfixturevalue("referrers_registry")
        except pytest.FixtureLookupError:
            pytest.skip("tests/fake_registry.py's referrers_registry fixture is not available")
        repo = "test/signing"
    return open_target(Reference.parse(f"{server.host}/{repo}"))


@pytest.fixture
def key() -> PrivateKey:
    return generate_key_pair()


def _manifest(target: Target, reference: str) -> dict:
    return parse_manifest(target.fetch_manifest(reference)[1])


def _ref(target: Target) -> str:
    return target.describe()


# ----------------------------------------------------------------------------- bundles


def test_bundle_round_trip(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    [referrer] = sign_manifest(target, subject, key, _ref(target))
    manifest = _manifest(target, referrer.digest)
    assert manifest["artifactType"] == BUNDLE_ARTIFACT_TYPE
    empty = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON).to_json()
    assert manifest["config"] == {**empty, "data": "e30="}  # the OCI empty descriptor, inlined
    assert manifest["subject"] == {
        "mediaType": OCI_MANIFEST,
        "digest": subject.digest,
        "size": subject.size,
    }
    [layer] = manifest["layers"]
    assert layer["mediaType"] == BUNDLE_ARTIFACT_TYPE
    assert manifest["annotations"]["dev.sigstore.bundle.predicateType"] == COSIGN_SIGN_PREDICATE

    [found] = discover_signatures(target, subject)
    assert (found.kind, found.manifest, found.signature) == ("bundle", referrer.digest, None)
    verified = verify_with_keys(target, subject, [key.public_key()])
    assert verified is not None
    assert (verified.kind, verified.key_id) == ("bundle", key.public_key().key_id())
    assert verified.statement is not None
    assert verified.statement.predicate_type == COSIGN_SIGN_PREDICATE


def test_bundle_storage_per_registry_kind(
    request: pytest.FixtureRequest, target: Target, key: PrivateKey
) -> None:
    """No referrers API → a fallback index tag; with it → no such tag."""
    subject = push_subject(target)
    [referrer] = sign_manifest(target, subject, key, _ref(target))
    kind = request.node.callspec.params["target"]
    if kind == "layout":
        assert isinstance(target, LayoutRepository)
        assert fallback_tag(subject.digest) not in target.tags()
    elif kind == "distribution":
        index = _manifest(target, fallback_tag(subject.digest))
        assert index["mediaType"] == OCI_INDEX
        assert [m["digest"] for m in index["manifests"]] == [referrer.digest]
        assert index["manifests"][0]["artifactType"] == BUNDLE_ARTIFACT_TYPE
    else:
        assert fallback_tag(subject.digest) not in target.tags()


def test_legacy_round_trip(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    [sig_manifest] = sign_manifest(target, subject, key, "reg.example/skills/x", fmt="legacy")
    assert legacy_tag(subject.digest) in target.tags()
    manifest = _manifest(target, legacy_tag(subject.digest))
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == OCI_IMAGE_CONFIG
    config = b"".join(target.iter_blob(Descriptor.from_json(manifest["config"])))
    assert json.loads(config)["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    [layer] = manifest["layers"]
    assert layer["mediaType"] == SIMPLESIGNING_MEDIA_TYPE
    assert set(layer["annotations"]) == {SIGNATURE_ANNOTATION}

    [found] = discover_signatures(target, subject)
    assert found.kind == "legacy"
    assert found.signature == layer["annotations"][SIGNATURE_ANNOTATION]
    assert found.manifest == sig_manifest.digest
    assert json.loads(found.data)["critical"]["identity"]["docker-reference"] == (
        "reg.example/skills/x"
    )
    verified = verify_with_keys(target, subject, [key.public_key()])
    assert verified is not None and verified.kind == "legacy"
    assert verified.statement is None


def test_both_formats(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    assert len(sign_manifest(target, subject, key, _ref(target), fmt="both")) == 2
    assert sorted(f.kind for f in discover_signatures(target, subject)) == ["bundle", "legacy"]
    with pytest.raises(UsageError):
        sign_manifest(target, subject, key, _ref(target), fmt="pgp")  # type: ignore[arg-type]


def test_second_legacy_signature_keeps_the_first(target: Target) -> None:
    subject = push_subject(target)
    alice, bob = generate_key_pair(), generate_key_pair()
    sign_manifest(target, subject, alice, _ref(target), fmt="legacy")
    first = _manifest(target, legacy_tag(subject.digest))["layers"]
    sign_manifest(target, subject, bob, _ref(target), fmt="legacy")
    layers = _manifest(target, legacy_tag(subject.digest))["layers"]
    assert len(layers) == 2 and layers[0] == first[0]
    for who in (alice, bob):
        verified = verify_with_keys(target, subject, [who.public_key()])
        assert verified is not None and verified.key_id == who.public_key().key_id()
        assert verified.where.endswith(f"layer {1 if who is alice else 2}")


def test_attaching_the_same_legacy_signature_twice_is_a_no_op(
    target: Target, key: PrivateKey
) -> None:
    subject = push_subject(target)
    payload = simple_signing_payload(_ref(target), subject.digest)
    signature = sign_payload(key, payload)
    first = attach_legacy(target, subject, payload, signature)
    again = attach_legacy(target, subject, payload, signature)
    assert again.digest == first.digest
    assert len(_manifest(target, legacy_tag(subject.digest))["layers"]) == 1


def test_existing_cosign_layers_and_annotations_are_kept(target: Target, key: PrivateKey) -> None:
    """A ``.sig`` manifest another tool wrote (extra annotations, Docker-style) survives."""
    subject = push_subject(target)
    other = generate_key_pair()
    payload = simple_signing_payload("docker.io/x/y", subject.digest, {"creator": "cosign"})
    annotations = {
        SIGNATURE_ANNOTATION: sign_payload(other, payload),
        "dev.sigstore.cosign/bundle": '{"SignedEntryTimestamp":"..."}',
    }
    layer = Descriptor.for_bytes(SIMPLESIGNING_MEDIA_TYPE, payload, annotations)
    target.push_blob(layer, payload)
    config = b'{"architecture":"","created":"2023-02-17T09:25:33Z","os":"","config":{}}'
    config_desc = Descriptor.for_bytes(OCI_IMAGE_CONFIG, config)
    target.push_blob(config_desc, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc.to_json(),
        "layers": [layer.to_json()],
    }
    target.push_manifest(canonical_json(manifest), OCI_MANIFEST, legacy_tag(subject.digest))

    sign_manifest(target, subject, key, _ref(target), fmt="legacy")
    layers = _manifest(target, legacy_tag(subject.digest))["layers"]
    assert layers[0] == layer.to_json()
    assert len(layers) == 2
    assert verify_with_keys(target, subject, [other.public_key()]) is not None
    assert verify_with_keys(target, subject, [key.public_key()]) is not None


# ------------------------------------------------------------------------- refusals


def test_unsigned_digest(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    signed = push_subject(target, b"another skill", tag="2.0.0")
    sign_manifest(target, signed, key, _ref(target), fmt="both")
    problems: list[str] = []
    assert discover_signatures(target, subject, problems=problems) == []
    assert verify_with_keys(target, subject, [key.public_key()], problems=problems) is None
    assert problems == []


def test_wrong_key(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    sign_manifest(target, subject, key, _ref(target), fmt="both")
    stranger = generate_key_pair().public_key()
    problems: list[str] = []
    assert verify_with_keys(target, subject, [stranger], problems=problems) is None
    assert len(problems) == 2 and all("does not verify" in p for p in problems)
    # Any one of several keys is enough.
    verified = verify_with_keys(target, subject, [stranger, key.public_key()])
    assert verified is not None and verified.key_id == key.public_key().key_id()


def test_key_source_label_is_reported(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    sign_manifest(target, subject, key, _ref(target))
    pub = load_public_key(key.public_key().pem(), source="keys/team.pub")
    verified = verify_with_keys(target, subject, [pub])
    assert verified is not None and verified.key_source == "keys/team.pub"


def test_signatures_replayed_onto_another_digest(target: Target, key: PrivateKey) -> None:
    """Signatures copied from one skill onto another never verify for the other."""
    signed = push_subject(target, b"signed skill", tag="1.0.0")
    victim = push_subject(target, b"evil skill", tag="1.0.1")
    stmt = statement(_ref(target), signed.digest, COSIGN_SIGN_PREDICATE, {})
    attach_bundle(target, victim, make_bundle(key, stmt))
    payload = simple_signing_payload(_ref(target), signed.digest)
    attach_legacy(target, victim, payload, sign_payload(key, payload))

    assert len(discover_signatures(target, victim)) == 2
    problems: list[str] = []
    assert verify_with_keys(target, victim, [key.public_key()], problems=problems) is None
    assert len(problems) == 2 and all("replayed" in p for p in problems)


def test_attestations_are_not_signatures(target: Target, key: PrivateKey) -> None:
    subject = push_subject(target)
    attest(target, subject, key, SLSA, {"buildType": "x"})
    problems: list[str] = []
    assert verify_with_keys(target, subject, [key.public_key()], problems=problems) is None
    assert any(f"predicateType {SLSA}" in p for p in problems)


def test_tampered_bundle_blob_is_skipped(tmp_path: Path, key: PrivateKey) -> None:
    target = open_target(Reference.parse(f"oci:{tmp_path / 'layout'}"))
    subject = push_subject(target)
    [referrer] = sign_manifest(target, subject, key, "x")
    layer = _manifest(target, referrer.digest)["layers"][0]
    blob = tmp_path / "layout" / "blobs" / "sha256" / layer["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes().replace(b'"tlogEntries":[]', b'"tlogEntries":{}'))
    problems: list[str] = []
    assert discover_signatures(target, subject, problems=problems) == []
    assert verify_with_keys(target, subject, [key.public_key()]) is None
    assert any("received bytes have digest" in p for p in problems)


def test_tampered_legacy_payload_blob_is_skipped(tmp_path: Path, key: PrivateKey) -> None:
    target = open_target(Reference.parse(f"oci:{tmp_path / 'layout'}"))
    subject = push_subject(target)
    sign_manifest(target, subject, key, "x", fmt="legacy")
    layer = _manifest(target, legacy_tag(subject.digest))["layers"][0]
    blob = tmp_path / "layout" / "blobs" / "sha256" / layer["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes() + b" ")
    problems: list[str] = []
    assert verify_with_keys(target, subject, [key.public_key()], problems=problems) is None
    assert any("skipped" in p and "layer 1" in p for p in problems)


# ------------------------------------------------- the fallback index is not trusted


def _distribution(registry: object, repo_name: str) -> RegistryRepository:
    target = open_target(Reference.parse(f"{registry.host}/{repo_name}"))  # type: ignore[attr-defined]
    assert isinstance(target, RegistryRepository)
    return target


def _rewrite_index(target: RegistryRepository, subject: Descriptor, manifests: list) -> None:
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    target.push_manifest(canonical_json(index), OCI_INDEX, fallback_tag(subject.digest))


def test_index_artifact_type_is_not_trusted(registry: object, repo_name: str) -> None:
    """Some writers record the config media type as artifactType: open the manifest."""
    target = _distribution(registry, repo_name)
    key = generate_key_pair()
    subject = push_subject(target)
    [referrer] = sign_manifest(target, subject, key, "x")
    entry = referrer.to_json() | {"artifactType": OCI_EMPTY}
    _rewrite_index(target, subject, [entry])
    assert [f.manifest for f in discover_signatures(target, subject)] == [referrer.digest]
    assert verify_with_keys(target, subject, [key.public_key()]) is not None


def test_index_entries_about_other_subjects_are_skipped(registry: object, repo_name: str) -> None:
    target = _distribution(registry, repo_name)
    key = generate_key_pair()
    subject = push_subject(target)
    other = push_subject(target, b"other", tag="other")
    [foreign] = sign_manifest(target, other, key, "x")
    _rewrite_index(target, subject, [foreign.to_json()])
    problems: list[str] = []
    assert discover_signatures(target, subject, problems=problems) == []
    assert any("its subject is not" in p for p in problems)


def test_index_entries_claiming_bundles_that_are_not(registry: object, repo_name: str) -> None:
    """A listed manifest whose own artifactType is something else is no signature."""
    target = _distribution(registry, repo_name)
    key = generate_key_pair()
    subject = push_subject(target)
    stmt = statement("x", subject.digest, COSIGN_SIGN_PREDICATE, {})
    bundle = make_bundle(key, stmt)
    layer = Descriptor.for_bytes(BUNDLE_ARTIFACT_TYPE, bundle)
    empty = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON)
    target.push_blob(layer, bundle)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": empty.to_json(),
        "layers": [layer.to_json()],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": subject.size},
    }
    pushed = target.push_manifest(canonical_json(manifest), OCI_MANIFEST)
    _rewrite_index(target, subject, [pushed.to_json() | {"artifactType": BUNDLE_ARTIFACT_TYPE}])
    assert discover_signatures(target, subject) == []


def test_deleted_referrer_manifest_is_skipped(registry: object, repo_name: str) -> None:
    """The fallback index still lists a deleted referrer: skip it, keep looking."""
    target = _distribution(registry, repo_name)
    key = generate_key_pair()
    subject = push_subject(target)
    [gone] = sign_manifest(target, subject, generate_key_pair(), "x")
    sign_manifest(target, subject, key, "x")
    target.delete_manifest(gone.digest)
    assert len(_manifest(target, fallback_tag(subject.digest))["manifests"]) == 2
    problems: list[str] = []
    verified = verify_with_keys(target, subject, [key.public_key()], problems=problems)
    assert verified is not None
    assert problems == [f"skipped referrer {gone.digest}: " + problems[0].split(": ", 1)[1]]
    assert "not found" in problems[0]


# ------------------------------------------------------------------------ attestations


@pytest.mark.parametrize("legacy", [False, True], ids=["bundle", "att-tag"])
def test_attestations_round_trip(target: Target, key: PrivateKey, legacy: bool) -> None:
    subject = push_subject(target)
    attest(target, subject, key, SLSA, {"buildType": "x"}, legacy=legacy, subject_name="skill")
    if legacy:
        [layer] = _manifest(target, attestation_tag(subject.digest))["layers"]
        assert layer["mediaType"] == DSSE_MEDIA_TYPE
        assert layer["annotations"] == {SIGNATURE_ANNOTATION: "", "predicateType": SLSA}
    [found] = discover_attestations(target, subject)
    assert found.kind == ("legacy" if legacy else "bundle")
    [verified] = verify_attestations(target, subject, [key.public_key()], SLSA)
    assert verified.statement is not None
    assert verified.statement.predicate == {"buildType": "x"}
    assert verified.statement.subjects[0]["name"] == "skill"
    assert verify_attestations(target, subject, [key.public_key()], "https://other/v1") == []
    assert verify_attestations(target, subject, [generate_key_pair().public_key()]) == []
