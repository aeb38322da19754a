"""A fake Sigstore instance, offline: keyless bundles that sigstore-python accepts.

:class:`FakeSigstore` holds what a real instance has -- a Fulcio-like root CA, a CT
log key and a Rekor key -- and writes them as a ``trusted_root.json`` in the
protobuf-specs JSON shape. :meth:`FakeSigstore.bundle` then makes what
``cosign sign --new-bundle-format`` makes after an OIDC login:

* a short-lived leaf certificate (empty subject, critical SAN with the identity,
  KeyUsage digitalSignature, EKU codeSigning, the issuer in Fulcio's extensions
  ``1.3.6.1.4.1.57264.1.1`` (raw) and ``.1.8`` (DER UTF8String)) with one embedded
  precertificate SCT signed by the CT key;
* a DSSE envelope of the in-toto statement, signed by the leaf's key;
* a Rekor v1 ``dsse/0.0.1`` entry for it: canonicalized body, integrated time, a
  signed entry timestamp (inclusion promise) and an inclusion proof in a one-leaf
  tree with a checkpoint signed by the Rekor key.

Nothing here touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
INTOTO = "application/vnd.in-toto+json"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def log_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key id: SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki(key)).digest()


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + _der_length(len(raw)) + raw


def der_octets(raw: bytes) -> bytes:
    return b"\x04" + _der_length(len(raw)) + raw


def pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _canonical(obj: Any) -> bytes:
    """RFC 8785 for the plain ASCII objects used here: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _public_key_json(key: ec.EllipticCurvePublicKey, start: datetime) -> dict[str, Any]:
    return {
        "rawBytes": b64(spki(key)),
        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        "validFor": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }


@dataclass
class Leaf:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


@dataclass
class FakeSigstore:
    """One fake Sigstore instance (CA + CT log + Rekor), made fresh for each object."""

    name: str = "fake-sigstore"
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __post_init__(self) -> None:
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{self.name} root"),
            ]
        )
        ca_pub = self.ca_key.public_key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=1))
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_pub), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )

    # ------------------------------------------------------------------ trusted root

    def trusted_root(self) -> dict[str, Any]:
        start = self.now - timedelta(days=1)
        tlog = {
            "baseUrl": "https://rekor.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": _public_key_json(self.rekor_key.public_key(), start),
            "logId": {"keyId": b64(log_id(self.rekor_key.public_key()))},
        }
        ctlog = {
            "baseUrl": "https://ctfe.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": _public_key_json(self.ct_key.public_key(), start),
            "logId": {"keyId": b64(log_id(self.ct_key.public_key()))},
        }
        ca = {
            "subject": {"organization": self.name, "commonName": f"{self.name} root"},
            "uri": "https://fulcio.invalid",
            "certChain": {
                "certificates": [
                    {"rawBytes": b64(self.ca_cert.public_bytes(serialization.Encoding.DER))}
                ]
            },
            "validFor": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
        }
        return {
            "mediaType": TRUSTED_ROOT_TYPE,
            "tlogs": [tlog],
            "certificateAuthorities": [ca],
            "ctlogs": [ctlog],
            "timestampAuthorities": [],
        }

    def write_trusted_root(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.trusted_root(), indent=2))
        return path

    # ------------------------------------------------------------------ certificates

    def _leaf_builder(
        self,
        key: ec.EllipticCurvePrivateKey,
        identity: str,
        issuer: str | None,
        *,
        email: bool,
        legacy_issuer: bool,
        v2_issuer: bool,
        serial: int,
    ) -> x509.CertificateBuilder:
        san: x509.GeneralName = (
            x509.RFC822Name(identity) if email else x509.UniformResourceIdentifier(identity)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(self.now - timedelta(minutes=1))
            .not_valid_after(self.now + timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        )
        if issuer is not None:
            if legacy_issuer:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(OID_ISSUER_V1, issuer.encode()), critical=False
                )
            if v2_issuer:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(OID_ISSUER_V2, der_utf8(issuer)), critical=False
                )
        return builder

    def _sct_list(self, tbs_precert: bytes, timestamp_ms: int) -> bytes:
        """A TLS-encoded SignedCertificateTimestampList with one precert SCT (RFC 6962)."""
        issuer_key_hash = log_id(self.ca_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, 1)
            + issuer_key_hash
            + len(tbs_precert).to_bytes(3, "big")
            + tbs_precert
            + struct.pack("!H", 0)
        )
        signature = _sign(self.ct_key, signed)
        sct = (
            bytes([0])
            + log_id(self.ct_key.public_key())
            + struct.pack("!QH", timestamp_ms, 0)
            + bytes([4, 3])  # sha256, ecdsa
            + struct.pack("!H", len(signature))
            + signature
        )
        one = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(one)) + one

    def issue(
        self,
        identity: str,
        issuer: str | None = GITHUB_ISSUER,
        *,
        email: bool = False,
        legacy_issuer: bool = True,
        v2_issuer: bool = True,
        sct: bool = True,
    ) -> Leaf:
        """A Fulcio-like leaf certificate for ``identity`` from ``issuer``."""
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()

        def build(extra: x509.UnrecognizedExtension | None) -> x509.Certificate:
            builder = self._leaf_builder(
                key,
                identity,
                issuer,
                email=email,
                legacy_issuer=legacy_issuer,
                v2_issuer=v2_issuer,
                serial=serial,
            )
            if extra is not None:
                builder = builder.add_extension(extra, critical=False)
            return builder.sign(self.ca_key, hashes.SHA256())

        precert = build(None)
        if not sct:
            return Leaf(key, precert)
        # The SCT is last, so the TBS without it is exactly the precertificate's TBS.
        tbs = precert.tbs_certificate_bytes
        ms = int(self.now.timestamp() * 1000)
        cert = build(x509.UnrecognizedExtension(OID_SCT_LIST, der_octets(self._sct_list(tbs, ms))))
        assert cert.tbs_precertificate_bytes == tbs
        return Leaf(key, cert)

    # ------------------------------------------------------------------ log entries

    def _tlog_entry(self, envelope: dict[str, Any], cert: x509.Certificate) -> dict[str, Any]:
        payload = base64.b64decode(envelope["payload"])
        pem = cert.public_bytes(serialization.Encoding.PEM)
        body = _canonical(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(_canonical(envelope)).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [
                        {"signature": s["sig"], "verifier": b64(pem)}
                        for s in envelope["signatures"]
                    ],
                },
            }
        )
        rekor_pub = self.rekor_key.public_key()
        lid = log_id(rekor_pub)
        integrated = int(self.now.timestamp())
        set_payload = _canonical(
            {
                "body": b64(body),
                "integratedTime": integrated,
                "logID": lid.hex(),
                "logIndex": 0,
            }
        )
        root = hashlib.sha256(b"\x00" + body).digest()  # a one-leaf tree: root = leaf hash
        note = f"{self.name} - 1234567890\n1\n{b64(root)}\n"
        note_sig = lid[:4] + _sign(self.rekor_key, note.encode())
        checkpoint = f"{note}\n\u2014 {self.name} {b64(note_sig)}\n"
        return {
            "logIndex": "0",
            "logId": {"keyId": b64(lid)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": b64(_sign(self.rekor_key, set_payload))},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": b64(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(body),
        }

    # ------------------------------------------------------------------ bundles

    def bundle(
        self,
        statement: bytes,
        identity: str,
        issuer: str | None = GITHUB_ISSUER,
        *,
        ca: FakeSigstore | None = None,
        tamper: str | None = None,
        **issue_options: Any,
    ) -> bytes:
        """A keyless Sigstore bundle v0.3 of ``statement``.

        ``ca``: another instance whose CA issues the certificate (this one still logs it).
        ``tamper``: ``"signature"`` swaps in a signature by another key, ``"payload"``
        changes the statement after signing; either way the signature no longer matches.
        """
        leaf = (ca or self).issue(identity, issuer, **issue_options)
        signature = _sign(leaf.key, pae(INTOTO, statement))
        envelope = {
            "payload": b64(statement),
            "payloadType": INTOTO,
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        }
        entry = self._tlog_entry(envelope, leaf.cert)
        if tamper == "signature":
            other = ec.generate_private_key(ec.SECP256R1())
            envelope = dict(
                envelope,
                signatures=[{"sig": b64(_sign(other, pae(INTOTO, statement))), "keyid": ""}],
            )
        elif tamper == "payload":
            doctored = statement.replace(b'"predicate":{}', b'"predicate":{"x":1}')
            assert doctored != statement
            envelope = dict(envelope, payload=b64(doctored))
        elif tamper is not None:
            raise ValueError(f"unknown tamper {tamper!r}")
        bundle = {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {
                "certificate": {
                    "rawBytes": b64(leaf.cert.public_bytes(serialization.Encoding.DER))
                },
                "tlogEntries": [entry],
                "timestampVerificationData": {},
            },
            "dsseEnvelope": envelope,
        }
        return json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
