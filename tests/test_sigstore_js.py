"""Cross-check with Sigstore's own JavaScript libraries (sigstore-js), offline.

* A bundle skillcrate makes is parsed by ``@sigstore/bundle`` and verified by
  ``@sigstore/verify`` with the public key (no transparency log, no timestamps).
* A bundle ``@sigstore/sign``'s ``DSSEBundleBuilder`` makes with a key is verified by
  :func:`skillcrate.signing.bundle.verify_bundle`.

The packages are pinned in ``tests/js/package.json`` and installed by ``make js-deps``
(``make test`` runs it when node and npm exist). The tests skip when node or
``tests/js/node_modules`` is missing; under ``CI=true`` a missing ``node_modules`` is a
failure when node exists. Nothing here touches the network.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from skillcrate.errors import VerificationError
from skillcrate.trust.signing.bundle import (
    BUNDLE_MEDIA_TYPE,
    COSIGN_SIGN_PREDICATE,
    INTOTO_PAYLOAD_TYPE,
    make_bundle,
    statement,
    verify_bundle,
)
from skillcrate.trust.signing.keys import PrivateKey, generate_key_pair

JS_DIR = Path(__file__).parent / "js"
PACKAGES = ("@sigstore/bundle", "@sigstore/sign", "@sigstore/verify")
DIGEST = "sha256:" + "5e" * 32

# Runs with cwd=tests/js, so require() resolves tests/js/node_modules. Reads one JSON
# request on stdin, writes one JSON answer on stdout.
SCRIPT = r"""
const crypto = require('crypto');
const fs = require('fs');
const req = JSON.parse(fs.readFileSync(0, 'utf8'));

async function verify() {
  const { bundleFromJSON } = require('@sigstore/bundle');
  const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
  const bundle = bundleFromJSON(req.bundle);
  const der = crypto.createPublicKey(req.publicKey).export({ format: 'der', type: 'spki' });
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    { [req.hint]: { rawBytes: der } },
  );
  const verifier = new Verifier(trust, {
    tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0,
  });
  verifier.verify(toSignedEntity(bundle));
  const env = bundle.content.dsseEnvelope;
  return { ok: true, payloadType: env.payloadType,
           payload: Buffer.from(env.payload).toString('base64') };
}

async function sign() {
  const { DSSEBundleBuilder } = require('@sigstore/sign');
  const { bundleToJSON } = require('@sigstore/bundle');
  const priv = crypto.createPrivateKey(req.privateKey);
  const pub = crypto.createPublicKey(priv).export({ format: 'pem', type: 'spki' });
  const signer = {
    sign: async (data) => ({
      signature: crypto.sign('sha256', data, priv),
      key: { $case: 'publicKey', publicKey: pub, hint: req.hint },
    }),
  };
  const builder = new DSSEBundleBuilder({ signer, witnesses: [] });
  const bundle = await builder.create({
    data: Buffer.from(req.payload, 'base64'), type: req.payloadType,
  });
  return { ok: true, bundle: bundleToJSON(bundle) };
}

(req.mode === 'sign' ? sign() : verify())
  .then((out) => process.stdout.write(JSON.stringify(out)))
  .catch((e) => {
    const out = { ok: false, code: e.code || null, error: String(e.message || e) };
    process.stdout.write(JSON.stringify(out));
  });
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if not path:
        pytest.skip("node is not installed: the sigstore-js cross-check needs it")
    missing = [p for p in PACKAGES if not (JS_DIR / "node_modules" / p / "package.json").is_file()]
    if missing:
        message = f"{', '.join(missing)} not installed in tests/js (run `make js-deps`)"
        if _in_ci():
            pytest.fail(f"{message}; CI=true and node exists, so this is an error", pytrace=False)
        pytest.skip(message)
    return path


def _run(node: str, request: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [node, "-e", SCRIPT],
        cwd=JS_DIR,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _js_verify(node: str, key: PrivateKey, bundle: bytes) -> dict[str, Any]:
    return _run(
        node,
        {
            "mode": "verify",
            "bundle": json.loads(bundle),
            "publicKey": key.public_key().pem().decode(),
            "hint": key.public_key().key_id(),
        },
    )


def _private_pem(key: PrivateKey) -> str:
    return key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def key() -> PrivateKey:
    return generate_key_pair()


def test_sigstore_js_verifies_our_bundle(node: str, key: PrivateKey) -> None:
    stmt = statement("registry.example/skills/hello", DIGEST, COSIGN_SIGN_PREDICATE, {})
    out = _js_verify(node, key, make_bundle(key, stmt))
    assert out["ok"], out
    assert out["payloadType"] == INTOTO_PAYLOAD_TYPE
    assert base64.b64decode(out["payload"]) == stmt


def test_sigstore_js_refuses_our_bundle_when_tampered(node: str, key: PrivateKey) -> None:
    """The JS check is a real one: a changed statement or another key fails there too."""
    stmt = statement("registry.example/skills/hello", DIGEST, COSIGN_SIGN_PREDICATE, {})
    bundle = json.loads(make_bundle(key, stmt))
    forged = stmt.replace(b"5e5e", b"5e5f", 1)
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(forged).decode()
    out = _js_verify(node, key, json.dumps(bundle).encode())
    assert not out["ok"] and out["code"] == "SIGNATURE_ERROR", out

    other = generate_key_pair()
    out = _run(
        node,
        {
            "mode": "verify",
            "bundle": json.loads(make_bundle(key, stmt)),
            "publicKey": other.public_key().pem().decode(),
            "hint": key.public_key().key_id(),
        },
    )
    assert not out["ok"] and out["code"] == "SIGNATURE_ERROR", out


def test_we_verify_a_bundle_made_by_sigstore_js(node: str, key: PrivateKey) -> None:
    stmt = statement(
        "registry.example/skills/hello", DIGEST, "https://slsa.dev/provenance/v1", {"a": 1}
    )
    out = _run(
        node,
        {
            "mode": "sign",
            "privateKey": _private_pem(key),
            "hint": key.public_key().key_id(),
            "payload": base64.b64encode(stmt).decode(),
            "payloadType": INTOTO_PAYLOAD_TYPE,
        },
    )
    assert out["ok"], out
    bundle = out["bundle"]
    assert bundle["mediaType"] == BUNDLE_MEDIA_TYPE
    assert bundle["verificationMaterial"]["publicKey"] == {"hint": key.public_key().key_id()}
    data = json.dumps(bundle).encode()

    result = verify_bundle(key.public_key(), data, DIGEST)
    assert (result.predicate_type, result.predicate) == ("https://slsa.dev/provenance/v1", {"a": 1})
    with pytest.raises(VerificationError, match="does not verify"):
        verify_bundle(generate_key_pair().public_key(), data, DIGEST)
    with pytest.raises(VerificationError, match="replayed"):
        verify_bundle(key.public_key(), data, "sha256:" + "00" * 32)


def test_sigstore_js_bundle_with_another_payload_type_is_refused(
    node: str, key: PrivateKey
) -> None:
    out = _run(
        node,
        {
            "mode": "sign",
            "privateKey": _private_pem(key),
            "hint": "k",
            "payload": base64.b64encode(b"{}").decode(),
            "payloadType": "application/json",
        },
    )
    assert out["ok"], out
    with pytest.raises(VerificationError, match="payloadType"):
        verify_bundle(key.public_key(), json.dumps(out["bundle"]).encode(), DIGEST)
