"""ECDSA P-256 signing keys in cosign's file formats.

A cosign private key file is a PEM block ``ENCRYPTED SIGSTORE PRIVATE KEY`` (older
cosign: ``ENCRYPTED COSIGN PRIVATE KEY``) whose body is the JSON envelope of
go-securesystemslib's ``encrypted`` package::

    {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64, 32 bytes>"},
     "cipher":{"name":"nacl/secretbox","nonce":"<b64, 24 bytes>"},
     "ciphertext":"<b64>"}

The plaintext is the PKCS#8 DER of the private key and the secretbox key is
``scrypt(password, salt, N, r, p, 32)``. Plain PKCS#8 ``PRIVATE KEY``, SEC 1
``EC PRIVATE KEY`` and PKCS#8 ``ENCRYPTED PRIVATE KEY`` PEMs are read too. Public
keys are PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo). Signatures are ASN.1 DER
ECDSA over SHA-256; raw ``r||s`` signatures are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ..._fs import atomic_write
from ...errors import SigningError, VerificationError

SIGSTORE_KEY_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_KEY_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
KDF_NAME = "scrypt"
CIPHER_NAME = "nacl/secretbox"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 65536, 8, 1
SALT_SIZE, NONCE_SIZE, BOX_KEY_SIZE = 32, 24, 32
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_MEMORY = 256 * 2**20  # 128 * N * r bytes
MAX_SCRYPT_RP = 64

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True, eq=False)
class PublicKey:
    """A P-256 public key; ``source`` labels where it came from (a path, "config", ...).

    Keys are equal (and hash alike) when their SubjectPublicKeyInfo is; ``source`` is
    only a label.
    """

    key: ec.EllipticCurvePublicKey
    source: str = ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.der() == other.der()

    def __hash__(self) -> int:
        return hash(self.der())

    def __repr__(self) -> str:
        return f"PublicKey({self.key_id()}, source={self.source!r})"

    def der(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def key_id(self) -> str:
        """``sha256:<hex>`` of the DER SubjectPublicKeyInfo: stable across file formats."""
        return "sha256:" + hashlib.sha256(self.der()).hexdigest()

    def label(self) -> str:
        return self.source or self.key_id()

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check a DER ECDSA-SHA256 ``signature`` over ``data``; raise VerificationError."""
        require_der(signature)
        try:
            self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise VerificationError(f"signature does not verify with key {self.label()}") from None


@dataclass(frozen=True, eq=False)
class PrivateKey:
    """A P-256 private key (compared by identity; its repr names only the public key id)."""

    key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:
        return f"PrivateKey(public={self.public_key().key_id()})"

    def public_key(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, data: bytes) -> bytes:
        """ASN.1 DER ECDSA signature over SHA-256(``data``)."""
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def pkcs8_der(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def require_der(signature: bytes) -> None:
    """Refuse anything but a canonical DER ECDSA signature (raw ``r||s`` included)."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        r = s = -1
    if r <= 0 or s <= 0 or encode_dss_signature(r, s) != signature:
        if len(signature) == 64:
            raise VerificationError(
                "signature is a raw r||s pair; only ASN.1 DER ECDSA signatures are accepted"
            )
        raise VerificationError("signature is not an ASN.1 DER ECDSA signature")


def generate_key_pair() -> PrivateKey:
    return PrivateKey(ec.generate_private_key(ec.SECP256R1()))


# ------------------------------------------------------------------ encrypted envelope


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SigningError(f"encrypted key: {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"encrypted key: {what} is not valid base64") from None


def _pem(kind: str, body: bytes) -> bytes:
    lines = "\n".join(textwrap.wrap(_b64(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode("ascii")


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password, salt=salt, n=n, r=r, p=p, dklen=BOX_KEY_SIZE, maxmem=128 * n * r + 2**22
    )


def encrypt_private_key(key: PrivateKey, password: bytes) -> bytes:
    """The PEM file cosign's ``generate-key-pair`` writes (``ENCRYPTED SIGSTORE PRIVATE KEY``)."""
    from nacl.secret import SecretBox

    salt, nonce = os.urandom(SALT_SIZE), os.urandom(NONCE_SIZE)
    box_key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = SecretBox(box_key).encrypt(key.pkcs8_der(), nonce).ciphertext
    envelope = {
        "kdf": {
            "name": KDF_NAME,
            "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": _b64(salt),
        },
        "cipher": {"name": CIPHER_NAME, "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return _pem(SIGSTORE_KEY_PEM, json.dumps(envelope, separators=(",", ":")).encode())


def _scrypt_params(kdf: Any) -> tuple[int, int, int]:
    params = kdf.get("params") if isinstance(kdf, dict) else None
    if not isinstance(params, dict):
        raise SigningError("encrypted key: missing scrypt parameters")
    values = [params.get(name) for name in ("N", "r", "p")]
    n, r, p = (v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in values)
    if min(n, r, p) <= 0:
        raise SigningError("encrypted key: scrypt parameters N, r, p must be positive integers")
    if n < 2 or n & (n - 1):
        raise SigningError(f"encrypted key: scrypt N={n} is not a power of 2")
    if n > MAX_SCRYPT_N:
        raise SigningError(f"encrypted key: scrypt N={n} is above the limit {MAX_SCRYPT_N}")
    if r * p > MAX_SCRYPT_RP or 128 * n * r > MAX_SCRYPT_MEMORY:
        raise SigningError(f"encrypted key: scrypt r={r}, p={p} (N={n}) are too large")
    return n, r, p


def decrypt_envelope(envelope: bytes, password: bytes, source: str = "the private key") -> bytes:
    """Open a go-securesystemslib ``encrypted`` envelope; the plaintext bytes."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        obj = json.loads(envelope)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SigningError(f"{source}: encrypted key body is not JSON") from None
    if not isinstance(obj, dict):
        raise SigningError(f"{source}: encrypted key body is not a JSON object")
    kdf, cipher = obj.get("kdf"), obj.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("name") != KDF_NAME:
        raise SigningError(f"{source}: unsupported key derivation (only scrypt)")
    if not isinstance(cipher, dict) or cipher.get("name") != CIPHER_NAME:
        raise SigningError(f"{source}: unsupported cipher (only nacl/secretbox)")
    n, r, p = _scrypt_params(kdf)
    salt = _unb64(kdf.get("salt"), "salt")
    nonce = _unb64(cipher.get("nonce"), "nonce")
    ciphertext = _unb64(obj.get("ciphertext"), "ciphertext")
    if len(salt) != SALT_SIZE:
        raise SigningError(f"{source}: scrypt salt is {len(salt)} bytes, expected {SALT_SIZE}")
    if len(nonce) != NONCE_SIZE:
        raise SigningError(f"{source}: secretbox nonce is {len(nonce)} bytes, expected 24")
    box_key = _scrypt(password, salt, n, r, p)
    try:
        return SecretBox(box_key).decrypt(ciphertext, nonce)
    except CryptoError:
        raise SigningError(f"wrong password for {source}") from None


# ------------------------------------------------------------------------------ loading


def _pem_block(data: bytes, source: str) -> tuple[str, bytes, bytes]:
    """(type, DER body, whole block) of the first PEM block in ``data``."""
    m = _PEM_RE.search(data)
    if not m:
        raise SigningError(f"{source}: not a PEM file")
    kind, body = m.group(1).decode("ascii"), m.group(2)
    lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
    if any(b":" in ln for ln in lines):  # RFC 1421 headers (Proc-Type: ...)
        return kind, b"", m.group(0)
    try:
        der = base64.b64decode(b"".join(lines), validate=True)
    except (binascii.Error, ValueError):
        raise SigningError(f"{source}: PEM block {kind} is not valid base64") from None
    return kind, der, m.group(0)


def _p256_private(key: object, source: str) -> PrivateKey:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningError(f"{source}: not an ECDSA P-256 private key")
    return PrivateKey(key)


def load_private_key(
    data: bytes, password: bytes | None, *, source: str = "the private key"
) -> PrivateKey:
    """Read a cosign key file (encrypted) or a plain PKCS#8 / SEC 1 EC PEM."""
    kind, der, block = _pem_block(data, source)
    if kind in (SIGSTORE_KEY_PEM, COSIGN_KEY_PEM):
        if password is None:
            raise SigningError(f"{source} is encrypted: a password is needed")
        plaintext = decrypt_envelope(der, password, source)
        try:
            key = serialization.load_der_private_key(plaintext, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SigningError(f"{source}: decrypted key is not PKCS#8") from None
        return _p256_private(key, source)
    if kind not in ("PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"):
        raise SigningError(f"{source}: PEM block {kind!r} is not a private key")
    encrypted = kind == "ENCRYPTED PRIVATE KEY" or not der
    if encrypted and password is None:
        raise SigningError(f"{source} is encrypted: a password is needed")
    try:
        key = serialization.load_pem_private_key(block, password=password if encrypted else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        message = str(exc).lower()
        if encrypted and ("password" in message or "decrypt" in message):
            raise SigningError(f"wrong password for {source}") from None
        raise SigningError(f"{source}: unreadable private key ({exc})") from None
    return _p256_private(key, source)


def load_public_key(data: bytes, *, source: str = "") -> PublicKey:
    """Read a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) holding an ECDSA P-256 key."""
    what = source or "public key"
    kind, der, _ = _pem_block(data, what)
    if kind != "PUBLIC KEY":
        raise SigningError(f"{what}: PEM block {kind!r} is not a PUBLIC KEY")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SigningError(f"{what}: unreadable public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningError(f"{what}: not an ECDSA P-256 public key")
    return PublicKey(key, source)


def write_key_pair(prefix: Path, password: bytes) -> tuple[Path, Path]:
    """Write ``<prefix>.key`` (encrypted, mode 0600) and ``<prefix>.pub``; never overwrite."""
    prefix = Path(prefix)
    key_path = prefix.with_name(prefix.name + ".key")
    pub_path = prefix.with_name(prefix.name + ".pub")
    for path in (key_path, pub_path):
        if path.exists() or path.is_symlink():
            raise SigningError(f"{path} already exists; refusing to overwrite it")
    key = generate_key_pair()
    atomic_write(key_path, encrypt_private_key(key, password), mode=0o600)
    atomic_write(pub_path, key.public_key().pem(), mode=0o644)
    return key_path, pub_path
