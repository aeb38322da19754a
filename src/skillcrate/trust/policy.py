"""Apply a skills.json trust rule to one pinned manifest: find its signatures, verify.

A rule passes when one signature (a Sigstore bundle referrer or a cosign ``.sig``
layer) verifies with one of the rule's keys -- or, with the ``sigstore`` extra, a
keyless bundle matches its issuer and identity -- and that signature's digest claim
equals the pinned manifest digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SigningError, SkillcrateError, VerificationError
from ..oci.model import Descriptor
from ..oci.target import Target
from .rules import TrustRule
from .signing.keys import PublicKey, load_public_key
from .signing.store import verify_with_keys


@dataclass(frozen=True)
class TrustCheck:
    """The outcome of one rule on one manifest."""

    rule: TrustRule
    digest: str
    signed_by: str | None  # the key path or identity that verified; None: nothing did
    kind: str | None = None  # bundle | legacy | keyless
    key_id: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.signed_by is not None

    def reason(self) -> str:
        """Why nothing verified, in one line."""
        if not self.problems:
            return "no signature found"
        shown = "; ".join(dict.fromkeys(self.problems))
        return shown if len(shown) < 300 else shown[:297] + "..."

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.rule.pattern,
            "mode": self.rule.mode,
            "digest": self.digest,
            "verified": self.ok,
            "signedBy": self.signed_by,
            "kind": self.kind,
            "keyId": self.key_id,
            "problems": list(dict.fromkeys(self.problems)),
        }


def load_keys(rule: TrustRule, root: Path) -> list[PublicKey]:
    """The rule's public keys; paths are relative to the project folder."""
    keys = []
    for rel in rule.keys:
        path = root / rel
        try:
            data = path.read_bytes()
        except OSError as e:
            raise SigningError(
                f'trust policy {rule.pattern!r}: cannot read key "{rel}": {e.strerror or e}'
            ) from None
        key = load_public_key(data, source=rel)
        keys.append(key)
    return keys


def check(target: Target, subject: Descriptor, rule: TrustRule, root: Path) -> TrustCheck:
    """Verify ``subject`` (a manifest descriptor) against ``rule``; never raises for a
    bad or missing signature (that is the result), only for an unusable policy."""
    problems: list[str] = []
    keys = load_keys(rule, root)
    if keys:
        found = verify_with_keys(target, subject, keys, problems=problems)
        if found is not None:
            return TrustCheck(rule, subject.digest, found.key_source, found.kind, found.key_id)
    if rule.keyless is not None:
        try:
            from .keyless import verify_keyless
        except ImportError:
            raise SigningError(
                f"trust policy {rule.pattern!r} uses keyless verification, which needs "
                "the sigstore extra",
                hints=["pip install 'skillcrate[sigstore]'"],
            ) from None
        try:
            kl = rule.keyless
            identity = verify_keyless(
                target,
                subject,
                kl,
                problems=problems,
                trusted_root=root / kl.trusted_root if kl.trusted_root else None,
            )
        except VerificationError as e:
            problems.append(str(e))
            identity = None
        if identity:
            return TrustCheck(rule, subject.digest, identity, "keyless")
    return TrustCheck(rule, subject.digest, None, problems=tuple(problems))


def refusal(name: str, ref: str, result: TrustCheck) -> SkillcrateError:
    return VerificationError(
        f"{name}: {ref} is not signed as trust policy {result.rule.pattern!r} requires "
        f"({result.reason()})",
        hints=[
            "sign it with `skillcrate sign REF --key cosign.key`, or change the "
            '"trust" rule in skills.json (mode "warn" installs with a warning)'
        ],
    )
