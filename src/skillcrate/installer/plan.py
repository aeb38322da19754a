"""Planning an install (pure): which lock entries stay, move, resolve anew or go."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..boundary import skill_rel
from ..errors import SkillcrateError
from ..project.files import LOCK_NAME, MANIFEST_NAME
from ..project.lockfile import LockedSkill, Lockfile
from ..project.manifest import Manifest, SkillSpec
from ..versions import classify_spec, satisfies

if TYPE_CHECKING:
    pass

from ..resolver import spec_version


@dataclass
class Plan:
    """What install will do, decided before anything in the project changes."""

    keep: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)
    resolve: list[SkillSpec] = field(default_factory=list)
    prune: list[LockedSkill] = field(default_factory=list)
    relock: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)  # spec text moved


def same_source(spec: SkillSpec, locked: LockedSkill) -> bool:
    """Whether the lock fetches from the repository skills.json names (canonically)."""
    try:
        return spec.reference().policy_name == locked.source.reference().policy_name
    except SkillcrateError:
        return False


def _lock_satisfies(spec: SkillSpec, locked: LockedSkill) -> bool:
    """Whether a lock entry still fits its (possibly edited) skills.json entry."""
    if not same_source(spec, locked):
        return False
    if locked.resolved_from(spec.source, spec.version):
        return True
    version = spec_version(spec)
    kind = classify_spec(version)
    if kind.kind == "digest":
        return locked.source.digest == kind.text
    if not locked.version:
        return False
    return satisfies(kind, locked.version)


def plan_install(manifest: Manifest, lock: Lockfile | None, *, force: Iterable[str] = ()) -> Plan:
    """Pure: compare skills.json with the lock."""
    plan = Plan()
    forced = set(force)
    wanted = {s.name for s in manifest.skills}
    for spec in manifest.skills:
        locked = lock.get(spec.name) if lock else None
        if locked is None or spec.name in forced or not _lock_satisfies(spec, locked):
            plan.resolve.append(spec)
        elif locked.resolved_from(spec.source, spec.version) and same_source(spec, locked):
            plan.keep.append((spec, locked))
        else:
            plan.relock.append((spec, locked))
    if lock:
        plan.prune = [s for s in lock.skills if s.name not in wanted]
    return plan


def frozen_problems(manifest: Manifest, lock: Lockfile | None) -> list[str]:
    """Every way skills.json and the lock disagree, one line each (empty: in sync)."""
    if lock is None:
        return [f"{LOCK_NAME} is missing"] if manifest.skills else []
    out: list[str] = []
    if lock.migrated:
        out.append(f"{LOCK_NAME} is in the skills-oci format and must be rewritten")
    for spec in manifest.skills:
        locked = lock.get(spec.name)
        if locked is None:
            out.append(f"+ {spec.name}: in {MANIFEST_NAME} but not in {LOCK_NAME}")
        elif not same_source(spec, locked):
            out.append(
                f"~ {spec.name}: {MANIFEST_NAME} names {spec.reference().with_tag(None)}, "
                f"but {LOCK_NAME} fetches from {locked.source.name}"
            )
        elif not locked.resolved_from(spec.source, spec.version):
            want = f"{spec.source} {spec.version or '*'}"
            have = f"{locked.spec_source} {locked.spec_version or '*'} (locked {locked.version})"
            out.append(f"~ {spec.name}: {MANIFEST_NAME} wants {want}, {LOCK_NAME} has {have}")
    names = set(manifest.names())
    for locked in lock.skills:
        if locked.name not in names:
            out.append(f"- {locked.name}: in {LOCK_NAME} but not in {MANIFEST_NAME}")
    return out


def link_paths(spec: SkillSpec, links: Sequence[str]) -> tuple[str, ...]:
    """Where a skill is linked: each link folder (top-level and per-skill) + its name."""
    from ..boundary import check_relpath

    folders = (*links, *spec.additional_base_paths)
    return tuple(sorted({f"{check_relpath(d, 'link folder')}/{spec.name}" for d in folders}))


def with_links(locked: LockedSkill, spec: SkillSpec, manifest: Manifest) -> LockedSkill:
    return replace(
        locked,
        additional_installed_paths=link_paths(spec, manifest.links),
        path=skill_rel(spec.name),
    )
