"""The trust policy in skills.json: who may publish what.

::

    "trust": {
      "ghcr.io/acme/skills/*": {"mode": "enforce", "keys": ["keys/acme.pub"]},
      "registry.internal/team/*": {
        "mode": "warn",
        "keyless": {"issuer": "https://token.actions.githubusercontent.com",
                    "identityRegexp": "^https://github.com/acme/"}
      }
    }

A pattern is a glob over a source's ``registry/repository`` (or its ``oci:PATH``);
``*`` also crosses ``/``. When several match, the longest pattern wins. Patterns and
sources are both compared in their canonical form
(:func:`skillcrate.reference.canonical_name`): hosts lowercased and IDNA-encoded, default
ports dropped, loopback spellings (``localhost``, ``127.1``, ``[::1]``) and Docker Hub's
aliases folded, so a rule cannot be side-stepped by spelling a host differently.
``enforce`` refuses an unsigned or wrongly signed skill before anything is written;
``warn`` installs it with a warning; a source no rule matches is not checked.
Key paths, and a keyless rule's ``trustedRoot`` (a Sigstore ``trusted_root.json``;
default: the production root shipped with sigstore-python, used offline), are
relative to the project folder.

Pure and stdlib-only: skills.json validation (on the hot path) uses it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..reference import canonical_name

MODES = ("enforce", "warn")


@dataclass(frozen=True)
class Keyless:
    """A keyless (Sigstore) identity a signature's certificate must carry."""

    issuer: str
    identity: str | None = None  # exact subject (SAN)
    identity_regexp: str | None = None
    trusted_root: str | None = None  # a Sigstore trusted_root.json, relative to the project

    def label(self) -> str:
        who = self.identity or f"~{self.identity_regexp}"
        return f"{who} ({self.issuer})"


@dataclass(frozen=True)
class TrustRule:
    """A trust rule: the sources it covers, its mode and the keys or identity it requires."""

    pattern: str
    mode: str
    keys: tuple[str, ...] = ()
    keyless: Keyless | None = None

    def matches(self, source: str) -> bool:
        """Whether the source (a reference name) falls under this rule, canonically."""
        return fnmatch.fnmatchcase(canonical_name(source), canonical_name(self.pattern))

    def describe(self) -> str:
        parts = list(self.keys)
        if self.keyless:
            parts.append(self.keyless.label())
        return f"{self.pattern} ({self.mode}: {', '.join(parts)})"


def _type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def rule_problems(pattern: object, rule: object) -> list[tuple[tuple[Any, ...], str]]:
    """Every problem of one ``trust`` entry: (path below the entry, message)."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if not isinstance(pattern, str) or not pattern.strip():
        return [((), "a trust pattern must be a non-empty string")]
    if not isinstance(rule, dict):
        return [((), f"must be an object, not {_type(rule)}")]
    mode = rule.get("mode", "enforce")
    if mode not in MODES:
        out.append((("mode",), f'"mode" must be one of {", ".join(MODES)}, not {mode!r}'))
    keys = rule.get("keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        out.append((("keys",), '"keys" must be an array of key file paths'))
    keyless = rule.get("keyless")
    if keyless is not None:
        if not isinstance(keyless, dict):
            out.append((("keyless",), f'"keyless" must be an object, not {_type(keyless)}'))
        else:
            if not isinstance(keyless.get("issuer"), str) or not keyless.get("issuer"):
                out.append((("keyless", "issuer"), '"keyless" needs an "issuer" URL'))
            ident, rx = keyless.get("identity"), keyless.get("identityRegexp")
            if not ident and not rx:
                out.append((("keyless",), '"keyless" needs "identity" or "identityRegexp"'))
            root = keyless.get("trustedRoot")
            if root is not None and (not isinstance(root, str) or not root):
                out.append((("keyless", "trustedRoot"), '"trustedRoot" must be a file path'))
            if rx is not None:
                try:
                    re.compile(str(rx))
                except re.error as e:
                    out.append((("keyless", "identityRegexp"), f"invalid regexp: {e}"))
    if not keys and keyless is None and not out:
        out.append(((), 'a rule needs "keys" or "keyless"'))
    return out


def parse_trust(data: Mapping[str, Any] | None) -> tuple[TrustRule, ...]:
    """Rules from an already validated ``trust`` object."""
    rules = []
    for pattern, rule in (data or {}).items():
        kl = rule.get("keyless")
        keyless = (
            Keyless(
                kl["issuer"], kl.get("identity"), kl.get("identityRegexp"), kl.get("trustedRoot")
            )
            if kl
            else None
        )
        rules.append(
            TrustRule(pattern, rule.get("mode", "enforce"), tuple(rule.get("keys", [])), keyless)
        )
    return tuple(rules)


def rule_for(rules: tuple[TrustRule, ...], *sources: str) -> TrustRule | None:
    """The most specific rule matching any of ``sources`` (longest pattern), or None."""
    found = [r for r in rules if any(r.matches(s) for s in sources)]
    return max(found, key=lambda r: len(canonical_name(r.pattern))) if found else None


def rules_for(rules: tuple[TrustRule, ...], *sources: str | None) -> list[TrustRule]:
    """The rule of each source (the skill's own, then e.g. its collection's), deduplicated."""
    out: list[TrustRule] = []
    for source in sources:
        rule = rule_for(rules, source) if source else None
        if rule is not None and rule not in out:
            out.append(rule)
    return out
