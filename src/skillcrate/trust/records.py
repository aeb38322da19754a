"""Verification records: which manifest digests passed which trust rule, kept outside projects.

The lock's ``signedBy`` is written by whoever last changed the lock, so it is only a
hint. Skipping a signature check is allowed only when skillcrate itself verified exactly
that manifest digest under exactly that rule before, as recorded here::

    <state>/trust-v1/<hex of the manifest digest>.json
        {"<rule fingerprint>": {"signedBy": "keys/acme.pub", "kind": "bundle", "keyId": "…"}}

The fingerprint (:func:`rule_fingerprint`) covers what decides the outcome: the bytes of
every key file, and a keyless rule's issuer, identity, identity regexp and trusted
root's bytes. Changing a key file, or the rule, therefore means verifying again.
Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .._fs import atomic_write
from ..config import state_dir
from ..digests import digest_hex
from ..errors import SigningError
from .rules import TrustRule


def _file_digest(root: Path, rel: str, rule: TrustRule) -> str:
    try:
        return hashlib.sha256((root / rel).read_bytes()).hexdigest()
    except OSError as exc:
        raise SigningError(
            f'trust policy {rule.pattern!r}: cannot read "{rel}": {exc.strerror or exc}'
        ) from None


def rule_fingerprint(rule: TrustRule, root: Path) -> str:
    """A digest of everything the outcome of ``rule`` depends on (key bytes, identities)."""
    doc: dict[str, Any] = {"keys": sorted(_file_digest(root, k, rule) for k in rule.keys)}
    if rule.keyless is not None:
        kl = rule.keyless
        doc["keyless"] = {
            "issuer": kl.issuer,
            "identity": kl.identity,
            "identityRegexp": kl.identity_regexp,
            "trustedRoot": _file_digest(root, kl.trusted_root, rule) if kl.trusted_root else None,
        }
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()


def _path(digest: str) -> Path:
    return state_dir() / "trust-v1" / f"{digest_hex(digest)}.json"


def lookup(digest: str, fingerprint: str) -> dict[str, Any] | None:
    """The record of ``digest`` passing the rule with ``fingerprint``, or None."""
    try:
        data = json.loads(_path(digest).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    entry = data.get(fingerprint) if isinstance(data, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("signedBy"), str):
        return None
    return entry


def remember(
    digest: str, fingerprint: str, signed_by: str, kind: str | None, key_id: str | None
) -> None:
    """Record that ``digest`` passed the rule with ``fingerprint``."""
    path = _path(digest)
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError, RecursionError):
        data = {}
    data[fingerprint] = {"signedBy": signed_by, "kind": kind, "keyId": key_id}
    atomic_write(path, json.dumps(data, sort_keys=True, indent=1) + "\n")
