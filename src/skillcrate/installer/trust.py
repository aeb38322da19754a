"""Applying skills.json's trust policy to the prepared entries, before anything is written."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import SkillcrateError, VerificationError
from ..fetch import get_manifest
from ..project.lockfile import LockedSkill
from ..project.manifest import Manifest
from ..trust import records as verified
from ..trust.rules import TrustRule, rules_for

if TYPE_CHECKING:
    from ..trust.policy import TrustCheck

from .._threads import parallel
from ..project.context import Project
from .prepare import Prepared


def check_trust(project: Project, entry: LockedSkill, rule: TrustRule) -> TrustCheck:
    """Apply ``rule`` to the manifest ``entry`` pins (network, or an ``oci:`` layout)."""
    from ..trust.policy import check

    target = project.online_target(entry.source.reference(), f"verifying {entry.name}")
    subject, _ = get_manifest(target, entry.source.digest, project.cache)
    return check(target, subject, rule, project.base_dir)


def entry_rules(manifest: Manifest, entry: LockedSkill) -> list[TrustRule]:
    """The trust rules an entry must pass: its own source's and its collection's."""
    if not manifest.trust:
        return []
    spec = manifest.get(entry.name)
    collection = spec.collection if spec else None
    return rules_for(manifest.trust, entry.source.name, collection)


def apply_trust(
    project: Project,
    manifest: Manifest,
    prepared: dict[str, Prepared],
    *,
    frozen: bool,
    failures: dict[str, SkillcrateError] | None = None,
) -> list[str]:
    """Verify entries under skills.json's trust policy before anything is written.

    A digest is taken as verified only when skillcrate's own records (:mod:`verified`)
    say it passed exactly this rule before (never because the lock says ``signedBy``);
    ``--frozen`` re-verifies everything. Records ``signedBy`` in the entries; raises for
    an ``enforce`` rule that nothing satisfies; returns warnings for ``warn`` rules.
    """
    labels: dict[str, list[str]] = {}
    todo: list[tuple[str, TrustRule, str]] = []
    for name, p in prepared.items():
        labels[name] = []
        for rule in entry_rules(manifest, p.entry):
            fp = verified.rule_fingerprint(rule, project.base_dir)
            rec = None if frozen else verified.lookup(p.entry.source.digest, fp)
            if rec is not None:
                labels[name].append(rec["signedBy"])
            else:
                todo.append((name, rule, fp))
    if todo and project.offline and any(not prepared[n].entry.source.is_layout for n, _, _ in todo):
        names = ", ".join(sorted({n for n, _, _ in todo}))
        error = VerificationError(
            f"{names}: the trust policy needs the registry to check signatures (--offline)"
        )
        if failures is None:
            raise error
        for name, _, _ in todo:
            failures[name] = error
        todo = []

    def one(item: tuple[str, TrustRule, str]) -> tuple[str, TrustRule, str, TrustCheck]:
        name, rule, fp = item
        project.report(f"verifying {name} against {rule.pattern}")
        return name, rule, fp, check_trust(project, prepared[name].entry, rule)

    warnings: list[str] = []
    failed: set[str] = set()
    for name, rule, fp, result in sorted(parallel(todo, one), key=lambda r: (r[0], r[1].pattern)):
        entry = prepared[name].entry
        if result.ok:
            assert result.signed_by is not None
            verified.remember(entry.source.digest, fp, result.signed_by, result.kind, result.key_id)
            labels[name].append(result.signed_by)
            continue
        failed.add(name)
        if rule.mode == "enforce":
            from ..trust.policy import refusal

            if failures is None:
                raise refusal(name, entry.source.ref, result)
            failures.setdefault(name, refusal(name, entry.source.ref, result))
            continue
        warnings.append(
            f"{name}: not verified by trust policy {rule.pattern!r} "
            f"({result.reason()}); installed anyway (mode warn)"
        )
    for name, p in list(prepared.items()):
        signed = None if name in failed or not labels[name] else " + ".join(labels[name])
        if p.entry.signed_by != signed:  # dataclasses.replace is slow: only on a change
            prepared[name] = replace(p, entry=replace(p.entry, signed_by=signed))
    return warnings
