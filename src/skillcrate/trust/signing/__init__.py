"""Signing and verifying skills the way cosign does, offline and key-based.

* :mod:`.keys`: ECDSA P-256 key pairs in cosign's encrypted key format.
* :mod:`.cosign`: the legacy simple-signing payload (``sha256-<hex>.sig`` tags).
* :mod:`.bundle`: in-toto statements in DSSE envelopes, in Sigstore bundles v0.3.
* :mod:`.store`: attaching, discovering and verifying them on a Target.
"""

from __future__ import annotations

from .bundle import (
    BUNDLE_ARTIFACT_TYPE,
    BUNDLE_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    VerifiedStatement,
    make_bundle,
    statement,
    verify_bundle,
)
from .cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    legacy_tag,
    sign_payload,
    simple_signing_payload,
    verify_simple_signing,
)
from .keys import (
    PrivateKey,
    PublicKey,
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    load_public_key,
    write_key_pair,
)
from .store import (
    FoundSignature,
    Verified,
    attach_bundle,
    attach_legacy,
    attest,
    discover_attestations,
    discover_signatures,
    sign_manifest,
    verify_attestations,
    verify_with_keys,
)

__all__ = [
    "BUNDLE_ARTIFACT_TYPE",
    "BUNDLE_MEDIA_TYPE",
    "COSIGN_SIGN_PREDICATE",
    "SIGNATURE_ANNOTATION",
    "SIMPLESIGNING_MEDIA_TYPE",
    "FoundSignature",
    "PrivateKey",
    "PublicKey",
    "Verified",
    "VerifiedStatement",
    "attach_bundle",
    "attach_legacy",
    "attest",
    "discover_attestations",
    "discover_signatures",
    "encrypt_private_key",
    "generate_key_pair",
    "legacy_tag",
    "load_private_key",
    "load_public_key",
    "make_bundle",
    "sign_manifest",
    "sign_payload",
    "simple_signing_payload",
    "statement",
    "verify_attestations",
    "verify_bundle",
    "verify_simple_signing",
    "verify_with_keys",
    "write_key_pair",
]
