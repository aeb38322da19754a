"""skillcrate.signing.keys: cosign's key file formats, key loading and DER signatures."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from nacl.secret import SecretBox

from skillcrate.errors import SigningError, VerificationError
from skillcrate.trust.signing.keys import (
    COSIGN_KEY_PEM,
    SIGSTORE_KEY_PEM,
    PrivateKey,
    decrypt_envelope,
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    load_public_key,
    write_key_pair,
)

# go-securesystemslib encrypted/encrypted_test.go: passphrase "supersecret".
GO_DECRYPT_VECTOR = (
    b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},'
    b'"salt":"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g="},'
    b'"cipher":{"name":"nacl/secretbox","nonce":"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik"},'
    b'"ciphertext":"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ=="}'
)
# Its "Standard" KDF vector (N=65536, what cosign writes now); Marshal() JSON-encodes the
# plaintext, so the decrypted bytes are the JSON string of base64("reallyimportant").
GO_STANDARD_VECTOR = (
    b'{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},'
    b'"salt":"FhzPOt9/bJG4PTq6lQ6ecG6GzaOuOy/ynG5+yRiFlNs="},'
    b'"cipher":{"name":"nacl/secretbox","nonce":"aw1ng1jHaDz/tQ7V2gR9O2+IGQ8xJEuE"},'
    b'"ciphertext":"HycvuLZL4sYH0BrYTh4E/H20VtAW6u5zL5Pr+IBjYLYnCPzDkq8="}'
)
# Its TestUnsupportedKDFParameters vector.
GO_BAD_PARAMS_VECTOR = (
    b'{"kdf":{"name":"scrypt","params":{"N":99,"r":99,"p":99},'
    b'"salt":"cZFcQJdwPhPyhU1R4qkl0qVOIjZd4V/7LYYAavq166k="},'
    b'"cipher":{"name":"nacl/secretbox","nonce":"7vhRS7j0hEPBWV05skAdgLj81AkGeE7U"},'
    b'"ciphertext":"6WYU/YSXVbYzl/NzaeAzmjLyfFhOOjLc0d8/GFV0aBFdJvyCcXc="}'
)
PASSWORD = b"correct horse battery staple"


def _pem_body(pem: bytes) -> tuple[str, bytes]:
    m = re.match(rb"-----BEGIN ([A-Z ]+)-----\n(.*?)-----END \1-----\n$", pem, re.DOTALL)
    assert m, pem
    return m.group(1).decode(), base64.b64decode(b"".join(m.group(2).split()))


def _pem(kind: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode()
    lines = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def _envelope(
    plaintext: bytes,
    password: bytes,
    *,
    n: int = 32768,
    r: int = 8,
    p: int = 1,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> dict:
    """Build a go-securesystemslib envelope independently of the code under test."""
    salt = os.urandom(32) if salt is None else salt
    nonce = os.urandom(24) if nonce is None else nonce
    key = hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**28)
    ciphertext = SecretBox(key).encrypt(plaintext, nonce).ciphertext
    return {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return generate_key_pair()


@pytest.fixture(scope="module")
def encrypted(key: PrivateKey) -> bytes:
    return encrypt_private_key(key, PASSWORD)


# ----------------------------------------------------------------------------- key pairs


def test_generated_key_is_p256_and_key_id_hashes_the_spki(key: PrivateKey) -> None:
    pub = key.public_key()
    assert isinstance(pub.key.curve, ec.SECP256R1)
    der = pub.key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pub.key_id() == "sha256:" + hashlib.sha256(der).hexdigest()
    assert pub.pem().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert load_public_key(pub.pem()) == pub
    assert load_public_key(pub.pem()).key_id() == pub.key_id()
    assert generate_key_pair().public_key().key_id() != pub.key_id()


def test_public_key_source_is_a_label_not_identity(key: PrivateKey) -> None:
    loaded = load_public_key(key.public_key().pem(), source="keys/release.pub")
    assert loaded.source == "keys/release.pub"
    assert loaded.label() == "keys/release.pub"
    assert loaded == key.public_key()
    assert len({loaded, key.public_key(), generate_key_pair().public_key()}) == 2
    assert key.public_key().label() == key.public_key().key_id()
    assert repr(key) == f"PrivateKey(public={key.public_key().key_id()})"


def test_signatures_are_der_and_verify(key: PrivateKey) -> None:
    sig = key.sign(b"hello")
    decode_dss_signature(sig)  # parses as DER
    key.public_key().verify(sig, b"hello")
    with pytest.raises(VerificationError, match="does not verify"):
        key.public_key().verify(sig, b"hellO")
    with pytest.raises(VerificationError, match="does not verify"):
        generate_key_pair().public_key().verify(sig, b"hello")


def test_raw_r_s_signatures_are_refused(key: PrivateKey) -> None:
    r, s = decode_dss_signature(key.sign(b"hello"))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    with pytest.raises(VerificationError, match="raw r\\|\\|s"):
        key.public_key().verify(raw, b"hello")


def test_non_canonical_der_is_refused(key: PrivateKey) -> None:
    sig = key.sign(b"hello")
    with pytest.raises(VerificationError, match="not an ASN.1 DER"):
        key.public_key().verify(sig + b"\x00", b"hello")
    with pytest.raises(VerificationError, match="not an ASN.1 DER"):
        key.public_key().verify(b"", b"hello")


# ------------------------------------------------------------------- cosign's key format


def test_encrypted_key_is_cosigns_envelope(encrypted: bytes, key: PrivateKey) -> None:
    kind, body = _pem_body(encrypted)
    assert kind == SIGSTORE_KEY_PEM == "ENCRYPTED SIGSTORE PRIVATE KEY"
    assert all(len(line) <= 64 for line in encrypted.splitlines())
    env = json.loads(body)
    assert list(env) == ["kdf", "cipher", "ciphertext"]
    assert list(env["kdf"]) == ["name", "params", "salt"]
    assert env["kdf"]["name"] == "scrypt"
    assert env["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}
    assert list(env["kdf"]["params"]) == ["N", "r", "p"]
    assert len(base64.b64decode(env["kdf"]["salt"])) == 32
    assert env["cipher"]["name"] == "nacl/secretbox"
    assert len(base64.b64decode(env["cipher"]["nonce"])) == 24
    # Decrypt independently: the plaintext is the PKCS#8 DER of the key.
    box_key = hashlib.scrypt(
        PASSWORD,
        salt=base64.b64decode(env["kdf"]["salt"]),
        n=65536,
        r=8,
        p=1,
        dklen=32,
        maxmem=2**28,
    )
    plain = SecretBox(box_key).decrypt(
        base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"])
    )
    assert plain == key.pkcs8_der()


def test_encrypted_key_round_trips(encrypted: bytes, key: PrivateKey) -> None:
    loaded = load_private_key(encrypted, PASSWORD)
    assert loaded.public_key() == key.public_key()


def test_go_securesystemslib_vectors_decrypt() -> None:
    assert decrypt_envelope(GO_DECRYPT_VECTOR, b"supersecret") == b"reallyimportant"
    assert decrypt_envelope(GO_STANDARD_VECTOR, b"supersecret") == b'"cmVhbGx5aW1wb3J0YW50"'


def test_go_securesystemslib_unsupported_params_are_refused() -> None:
    with pytest.raises(SigningError, match="N=99 is not a power of 2"):
        decrypt_envelope(GO_BAD_PARAMS_VECTOR, b"supersecret")


@pytest.mark.parametrize("label", [SIGSTORE_KEY_PEM, COSIGN_KEY_PEM])
def test_cosign_key_built_elsewhere_loads(label: str, key: PrivateKey) -> None:
    """Older cosign wrote N=32768 and the ``ENCRYPTED COSIGN PRIVATE KEY`` label."""
    body = json.dumps(_envelope(key.pkcs8_der(), b"pw")).encode()
    loaded = load_private_key(_pem(label, body), b"pw")
    assert loaded.public_key() == key.public_key()


def test_empty_password_is_a_password(key: PrivateKey) -> None:
    body = json.dumps(_envelope(key.pkcs8_der(), b"")).encode()
    assert load_private_key(_pem(SIGSTORE_KEY_PEM, body), b"").public_key() == key.public_key()


def test_wrong_password_is_named(encrypted: bytes) -> None:
    with pytest.raises(SigningError) as info:
        load_private_key(encrypted, b"not it", source="cosign.key")
    assert str(info.value) == "wrong password for cosign.key"


def test_missing_password_for_encrypted_key(encrypted: bytes) -> None:
    with pytest.raises(SigningError, match="cosign.key is encrypted: a password is needed"):
        load_private_key(encrypted, None, source="cosign.key")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n": 3 * 2**10}, "not a power of 2"),
        ({"n": 2**21, "r": 1}, "above the limit"),
        ({"n": 1024, "r": 64, "p": 2}, "too large"),
        ({"n": 2**20, "r": 8}, "too large"),
    ],
)
def test_bad_scrypt_params_are_refused_before_deriving(change: dict, message: str) -> None:
    env = _envelope(b"x", b"pw", n=1024)  # sealed with small params, then claims others
    env["kdf"]["params"] = {
        "N": change.get("n", 1024),
        "r": change.get("r", 8),
        "p": change.get("p", 1),
    }
    with pytest.raises(SigningError, match=message):
        decrypt_envelope(json.dumps(env).encode(), b"pw")


@pytest.mark.parametrize(
    "params",
    [{"N": "1024", "r": 8, "p": 1}, {"N": 1024, "r": True, "p": 1}, {"N": 1024, "r": 8}, {}],
)
def test_malformed_scrypt_params_are_refused(params: dict) -> None:
    env = _envelope(b"x", b"pw", n=1024)
    env["kdf"]["params"] = params
    with pytest.raises(SigningError, match="scrypt parameters"):
        decrypt_envelope(json.dumps(env).encode(), b"pw")


def test_salt_length_is_checked() -> None:
    env = json.dumps(_envelope(b"secret", b"pw", n=1024, salt=os.urandom(16))).encode()
    with pytest.raises(SigningError, match="salt is 16 bytes, expected 32"):
        decrypt_envelope(env, b"pw")


def test_nonce_length_is_checked() -> None:
    env = _envelope(b"secret", b"pw", n=1024)
    env["cipher"]["nonce"] = base64.b64encode(os.urandom(12)).decode()
    with pytest.raises(SigningError, match="nonce is 12 bytes, expected 24"):
        decrypt_envelope(json.dumps(env).encode(), b"pw")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["kdf"].update(name="argon2"), "only scrypt"),
        (lambda e: e["cipher"].update(name="aes-gcm"), "only nacl/secretbox"),
        (lambda e: e.update(ciphertext="***"), "ciphertext is not valid base64"),
        (lambda e: e["kdf"].update(salt=5), "salt is not a base64 string"),
        (lambda e: e.pop("kdf"), "only scrypt"),
    ],
)
def test_malformed_envelopes_are_refused(mutate, message: str) -> None:  # noqa: ANN001
    env = _envelope(b"secret", b"pw", n=1024)
    mutate(env)
    with pytest.raises(SigningError, match=message):
        decrypt_envelope(json.dumps(env).encode(), b"pw")


def test_envelope_that_is_not_json_is_refused() -> None:
    with pytest.raises(SigningError, match="not JSON"):
        load_private_key(_pem(SIGSTORE_KEY_PEM, b"\x00garbage"), b"pw")
    with pytest.raises(SigningError, match="not a JSON object"):
        decrypt_envelope(b"[1, 2]", b"pw")


def test_tampered_ciphertext_reads_as_wrong_password(key: PrivateKey) -> None:
    env = _envelope(key.pkcs8_der(), b"pw", n=1024)
    raw = bytearray(base64.b64decode(env["ciphertext"]))
    raw[-1] ^= 1
    env["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SigningError, match="wrong password for k.key"):
        load_private_key(_pem(SIGSTORE_KEY_PEM, json.dumps(env).encode()), b"pw", source="k.key")


def test_encrypted_non_p256_key_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    der = other.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = _pem(SIGSTORE_KEY_PEM, json.dumps(_envelope(der, b"pw", n=1024)).encode())
    with pytest.raises(SigningError, match="not an ECDSA P-256 private key"):
        load_private_key(pem, b"pw")


# ------------------------------------------------------------------------ other PEM kinds


def _private_pem(key: object, fmt: serialization.PrivateFormat, enc: object | None = None) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, fmt, enc or serialization.NoEncryption()
    )


def test_plain_pkcs8_and_sec1_keys_load(key: PrivateKey) -> None:
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = _private_pem(key.key, fmt)
        assert load_private_key(pem, None).public_key() == key.public_key()
        # A password given for an unencrypted key is ignored, as cosign does.
        assert load_private_key(pem, b"unused").public_key() == key.public_key()


def test_encrypted_pkcs8_key_loads_and_checks_password(key: PrivateKey) -> None:
    pem = _private_pem(
        key.key,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_private_key(pem, b"pw").public_key() == key.public_key()
    with pytest.raises(SigningError, match="wrong password for x.pem"):
        load_private_key(pem, b"nope", source="x.pem")
    with pytest.raises(SigningError, match="a password is needed"):
        load_private_key(pem, None)


@pytest.mark.parametrize(
    "other",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: ed25519.Ed25519PrivateKey.generate(),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["p384", "ed25519", "rsa"],
)
def test_non_p256_keys_are_refused(other) -> None:  # noqa: ANN001
    k = other()
    with pytest.raises(SigningError, match="not an ECDSA P-256 private key"):
        load_private_key(_private_pem(k, serialization.PrivateFormat.PKCS8), None)
    pub = k.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(SigningError, match="not an ECDSA P-256 public key"):
        load_public_key(pub)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a PEM file"),
        (b"hello", "not a PEM file"),
        (_pem("CERTIFICATE", b"\x30\x00"), "'CERTIFICATE' is not a private key"),
        (_pem("PRIVATE KEY", b"\x30\x00"), "unreadable private key"),
    ],
)
def test_unreadable_private_keys(data: bytes, message: str) -> None:
    with pytest.raises(SigningError, match=message):
        load_private_key(data, None)


def test_unreadable_public_keys(key: PrivateKey) -> None:
    with pytest.raises(SigningError, match="is not a PUBLIC KEY"):
        load_public_key(_private_pem(key.key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(SigningError, match="unreadable public key"):
        load_public_key(_pem("PUBLIC KEY", b"\x30\x03\x02\x01\x00"), source="k.pub")
    with pytest.raises(SigningError, match="k.pub: not a PEM file"):
        load_public_key(b"ssh-ed25519 AAAA", source="k.pub")


def test_errors_are_one_line(encrypted: bytes) -> None:
    for call in (
        lambda: load_private_key(encrypted, b"bad"),
        lambda: load_private_key(b"x", None),
        lambda: load_public_key(b"x"),
        lambda: decrypt_envelope(GO_BAD_PARAMS_VECTOR, b"x"),
    ):
        with pytest.raises(SigningError) as info:
            call()
        assert "\n" not in str(info.value)


# -------------------------------------------------------------------------- key files


def test_write_key_pair(tmp_path: Path) -> None:
    key_path, pub_path = write_key_pair(tmp_path / "keys" / "cosign", PASSWORD)
    assert key_path == tmp_path / "keys" / "cosign.key"
    assert pub_path == tmp_path / "keys" / "cosign.pub"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    private = load_private_key(key_path.read_bytes(), PASSWORD)
    assert load_public_key(pub_path.read_bytes()) == private.public_key()
    assert key_path.read_bytes().startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    assert [p.name for p in sorted(key_path.parent.iterdir())] == ["cosign.key", "cosign.pub"]


@pytest.mark.parametrize("existing", ["release.key", "release.pub"])
def test_write_key_pair_never_overwrites(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("keep me")
    with pytest.raises(SigningError, match="already exists; refusing to overwrite"):
        write_key_pair(tmp_path / "release", PASSWORD)
    assert (tmp_path / existing).read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == [existing]
