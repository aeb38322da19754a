"""Keyless (Sigstore/Fulcio) signatures for the trust policy: the ``sigstore`` extra.

A skills.json rule such as::

    "registry.internal/team/*": {
      "mode": "warn",
      "keyless": {"issuer": "https://token.actions.githubusercontent.com",
                  "identityRegexp": "^https://github.com/acme/"}
    }

is satisfied by a Sigstore bundle v0.3 referrer of the manifest (what
``cosign sign --new-bundle-format`` pushes after an OIDC login) when, **offline**:

* sigstore-python's ``Verifier.verify_dsse`` accepts the bundle against a pinned
  trusted root -- the rule's ``trustedRoot`` file, else the production root embedded
  in the installed sigstore-python (no TUF refresh, no network). That covers: a
  verified time (Rekor integrated time bound by its signed entry timestamp, or an
  RFC 3161 timestamp from a trusted TSA); the leaf certificate chaining to a trusted
  Fulcio CA *at that time*; its embedded SCT signed by a trusted CT log; KeyUsage
  digitalSignature and EKU codeSigning; the Rekor entry's Merkle inclusion proof and
  signed checkpoint (and inclusion promise when present) under a trusted Rekor key;
  the DSSE signature by the certificate's key; and the log entry matching the
  envelope (payload hash and signature);
* the certificate's OIDC issuer (Fulcio extension ``1.3.6.1.4.1.57264.1.8``, or the
  legacy ``.1.1``; every one present must agree) equals ``issuer`` exactly;
* one of its SANs (URI, email, or Fulcio's ``OtherName`` username) equals
  ``identity`` and/or is matched by ``identityRegexp`` (``re.search``, unanchored
  like cosign's ``--certificate-identity-regexp``: anchor it with ``^``);
* the envelope holds an in-toto statement with cosign's signing predicate whose
  subjects name the pinned manifest digest (sha256).

Not checked: revocation (Sigstore has none), and freshness of the embedded trusted
root (it is as recent as the installed sigstore-python; pass a ``trustedRoot`` file,
e.g. from ``cosign trusted-root create`` or a TUF refresh, for newer keys).

sigstore is imported when this module is: ``import skillcrate.keyless`` raises
ImportError without the extra, which ``policy.check`` turns into an install hint.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from cryptography.x509 import (
    Certificate,
    ExtensionNotFound,
    OtherName,
    RFC822Name,
    SubjectAlternativeName,
    UniformResourceIdentifier,
)
from cryptography.x509.oid import ObjectIdentifier

try:
    import sigstore

    if int(sigstore.__version__.split(".")[0]) < 4:
        raise ImportError(f"sigstore {sigstore.__version__} is too old (4.x needed)")
    from sigstore.errors import Error as SigstoreError
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
    from sigstore.verify.verifier import Verifier
except ImportError as exc:  # pragma: no cover - exercised by reimporting without sigstore
    raise ImportError(
        f"keyless verification needs sigstore-python (pip install 'skillcrate[sigstore]'): {exc}"
    ) from exc

from ..errors import SigningError, VerificationError
from .rules import Keyless
from .signing.bundle import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE, _check_statement
from .signing.store import FoundSignature, discover_signatures

if TYPE_CHECKING:
    from ..oci.model import Descriptor
    from ..oci.target import Target

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")  # raw UTF-8 (deprecated)
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")  # DER UTF8String
OID_OTHERNAME_USERNAME = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
PRODUCTION_TUF_URL = "https://tuf-repo-cdn.sigstore.dev"


# ------------------------------------------------------------------------ trusted root


def load_trusted_root(path: Path | None = None) -> TrustedRoot:
    """The trusted root in ``path`` (protobuf-specs JSON), else Sigstore's production
    root as embedded in sigstore-python, without any network access.

    Raise SigningError when it cannot be used: that is a broken policy, not a bad
    signature.
    """
    if path is None:
        return _production_root()
    try:
        return TrustedRoot.from_file(str(path))
    except OSError as e:
        raise SigningError(f'cannot read trusted root "{path}": {e.strerror or e}') from None
    except (SigstoreError, ValueError) as e:
        raise SigningError(f'"{path}" is not a Sigstore trusted root: {_short(e)}') from None


@functools.lru_cache(maxsize=1)
def _production_root() -> TrustedRoot:
    embedded = resources.files("sigstore._store").joinpath(
        quote(PRODUCTION_TUF_URL, safe=""), "trusted_root.json"
    )
    try:
        with resources.as_file(embedded) as file:
            return TrustedRoot.from_file(str(file))
    except (OSError, SigstoreError, ValueError):
        pass
    # Another packaging of sigstore-python: its offline TUF cache (no refresh).
    try:
        return ClientTrustConfig.production(offline=True).trusted_root
    except (OSError, SigstoreError, ValueError) as e:
        raise SigningError(
            f"no Sigstore production trusted root available offline: {_short(e)}",
            hints=['set "trustedRoot" in the trust rule to a trusted_root.json file'],
        ) from None


def _verifier(trusted_root: Path | None) -> Verifier:
    root = load_trusted_root(trusted_root)
    try:
        return Verifier(trusted_root=root)
    except (SigstoreError, ValueError) as e:
        where = f'"{trusted_root}"' if trusted_root else "the embedded trusted root"
        raise SigningError(f"{where} cannot verify bundles: {_short(e)}") from None


# ---------------------------------------------------------------------- identity policy


def _der_string(raw: bytes) -> str | None:
    """The text of a DER UTF8String/IA5String/PrintableString, else None."""
    if len(raw) < 2 or raw[0] not in (0x0C, 0x16, 0x13):
        return None
    length, offset = raw[1], 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(raw) < 2 + n:
            return None
        length, offset = int.from_bytes(raw[2 : 2 + n], "big"), 2 + n
    if len(raw) != offset + length:
        return None
    try:
        return raw[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _extension_bytes(cert: Certificate, oid: ObjectIdentifier) -> bytes | None:
    try:
        value = cert.extensions.get_extension_for_oid(oid).value
    except ExtensionNotFound:
        return None
    raw = getattr(value, "value", None)
    return raw if isinstance(raw, bytes) else None


def certificate_issuers(cert: Certificate) -> list[str]:
    """The OIDC issuer(s) Fulcio wrote into ``cert`` (v2 extension first)."""
    found: list[str] = []
    v2 = _extension_bytes(cert, OID_ISSUER_V2)
    if v2 is not None:
        found.append(_der_string(v2) or "<malformed issuer extension>")
    v1 = _extension_bytes(cert, OID_ISSUER_V1)
    if v1 is not None:
        try:
            found.append(v1.decode("utf-8"))
        except UnicodeDecodeError:
            found.append("<malformed issuer extension>")
    return found


def certificate_identities(cert: Certificate) -> list[str]:
    """The certificate's SAN identities: URIs, emails and Fulcio usernames."""
    try:
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except ExtensionNotFound:
        return []
    out = list(san.get_values_for_type(UniformResourceIdentifier))
    out += san.get_values_for_type(RFC822Name)
    for other in san.get_values_for_type(OtherName):
        if other.type_id == OID_OTHERNAME_USERNAME:
            text = _der_string(other.value)
            if text is None:
                try:
                    text = other.value.decode("utf-8")
                except UnicodeDecodeError:
                    continue
            out.append(text)
    return out


@dataclass
class _IdentityPolicy:
    """A sigstore ``VerificationPolicy``: issuer and identity of a :class:`Keyless` rule.

    Run by ``Verifier.verify_dsse`` after the certificate chain and SCT have been
    verified; remembers what matched for the label.
    """

    keyless: Keyless
    matched: str | None = None

    def verify(self, cert: Certificate) -> None:
        want = self.keyless
        issuers = certificate_issuers(cert)
        if not issuers:
            raise SigstoreVerificationError("certificate names no OIDC issuer")
        if any(i != want.issuer for i in issuers):
            shown = ", ".join(dict.fromkeys(issuers))
            raise SigstoreVerificationError(f"certificate issued for {shown}, not {want.issuer}")
        sans = certificate_identities(cert)
        rx = re.compile(want.identity_regexp) if want.identity_regexp else None
        for san in sans:
            if want.identity is not None and san != want.identity:
                continue
            if rx is not None and not rx.search(san):
                continue
            self.matched = san
            return
        shown = ", ".join(sans) or "none"
        expected = " and ".join(
            x
            for x in (
                want.identity and f"= {want.identity}",
                want.identity_regexp and f"~ {want.identity_regexp}",
            )
            if x
        )
        raise SigstoreVerificationError(f"identity {shown} does not match {expected}")


# --------------------------------------------------------------------------- verifying


def _short(exc: BaseException) -> str:
    text = " ".join(str(a) for a in exc.args if a) if exc.args else ""
    text = " ".join((text or type(exc).__name__).split())
    return text if len(text) <= 240 else text[:237] + "..."


def _malformed(exc: BaseException) -> str:
    """A one-line reason from a (pydantic) parse error, however deeply it is chained."""
    seen: BaseException | None = exc
    while seen is not None:
        errors = getattr(seen, "errors", None)
        if callable(errors):
            try:
                first = errors()[0]
                where = ".".join(str(x) for x in first.get("loc", ()))
                return _short(ValueError(f"{where}: {first.get('msg')}" if where else first["msg"]))
            except (TypeError, IndexError, KeyError, AttributeError):
                pass
        seen = seen.__cause__ or seen.__context__
    return _short(exc).splitlines()[0]


def _certificate_bundle(found: FoundSignature) -> str | None:
    """Why ``found`` is no keyless bundle (None: it is one worth verifying)."""
    if found.kind != "bundle":
        return "a cosign .sig signature; keyless identities are read from Sigstore bundles"
    try:
        material = json.loads(found.data).get("verificationMaterial") or {}
    except (ValueError, AttributeError):
        return "not a JSON Sigstore bundle"
    if isinstance(material, dict) and "publicKey" in material:
        return "signed with a key, not a keyless certificate"
    return None


def verify_bundle_keyless(
    verifier: Verifier, data: bytes, subject_digest: str, keyless: Keyless
) -> str:
    """Verify one keyless bundle; the label of its signer, or VerificationError."""
    policy = _IdentityPolicy(keyless)
    try:
        bundle = Bundle.from_json(data)
    except Exception as e:  # noqa: BLE001 - untrusted input: any failure is a rejection
        raise VerificationError(f"malformed Sigstore bundle: {_malformed(e)}") from None
    try:
        payload_type, payload = verifier.verify_dsse(bundle, policy)
    except Exception as e:  # noqa: BLE001 - untrusted input: any failure is a rejection
        message = _short(e)
        if message.startswith("failed to build timestamp certificate chain"):
            message = "untrusted certificate chain: no CA of the trusted root issued it"
        raise VerificationError(message) from None
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise VerificationError(f"DSSE payloadType {payload_type!r} is not {INTOTO_PAYLOAD_TYPE}")
    if policy.matched is None:  # sigstore skipped the identity policy: never accept that
        raise VerificationError("the certificate identity was not checked")
    label = f"{policy.matched} ({keyless.issuer})"
    stmt = _check_statement(payload, subject_digest, label)
    if stmt.predicate_type != COSIGN_SIGN_PREDICATE:
        raise VerificationError(
            f"predicateType {stmt.predicate_type}, not {COSIGN_SIGN_PREDICATE} (an attestation)"
        )
    return label


def verify_keyless(
    target: Target,
    subject: Descriptor,
    keyless: Keyless,
    *,
    problems: list[str] | None = None,
    trusted_root: Path | None = None,
) -> str | None:
    """The signer label (``"<SAN> (<issuer>)"``) of the first keyless bundle of
    ``subject`` that verifies against ``keyless``; None (reasons in ``problems``) if
    none does.

    ``trusted_root``: a trusted_root.json to pin (resolved by the caller); default:
    Sigstore's production root embedded in sigstore-python. Raises SigningError only
    when the trusted root itself is unusable.
    """
    notes: list[str] = problems if problems is not None else []
    verifier = _verifier(trusted_root)  # a broken root is reported even with no signature
    for found in discover_signatures(target, subject, problems=notes):
        why_not = _certificate_bundle(found)
        if why_not is not None:
            notes.append(f"{found.where}: {why_not}")
            continue
        try:
            return verify_bundle_keyless(verifier, found.data, subject.digest, keyless)
        except VerificationError as e:
            notes.append(f"{found.where}: {e}")
    return None


__all__ = [
    "certificate_identities",
    "certificate_issuers",
    "load_trusted_root",
    "verify_bundle_keyless",
    "verify_keyless",
]
