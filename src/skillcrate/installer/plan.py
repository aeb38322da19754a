"""Planning an install (pure): which lock entries stay, move, resolve anew or go."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..boundary import skill_rel
from ..errors import SkillcrateError
from ..project.files import LOCK_NAME, MANIFEST_NAME
from ..project.lockfile import LockedSkill, Lockfile
from ..project.manifest import Manifest, SkillSpec
from ..versions import classify_spec, satisfies

if TYPE_CHECKING:
    from ..solver import Pin

from ..resolver import spec_version


@dataclass
class Plan:
    """What install will do, decided before anything in the project changes."""

    keep: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)
    resolve: list[SkillSpec] = field(default_factory=list)
    prune: list[LockedSkill] = field(default_factory=list)
    relock: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)  # spec text moved
    graph: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name → what it needs
    broken: list[str] = field(default_factory=list)  # the lock's tree misses these: solve

    @property
    def needs_solving(self) -> bool:
        return bool(self.resolve or self.broken)

    def required_by(self) -> dict[str, tuple[str, ...]]:
        """The inverse of :attr:`graph`: name → the skills that need it, sorted."""
        return inverse(self.graph)


def inverse(graph: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """name → what it needs, turned into name → the names that need it (sorted)."""
    out: dict[str, set[str]] = {}
    for parent, kids in graph.items():
        for kid in kids:
            out.setdefault(kid, set()).add(parent)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def transitive_spec(locked: LockedSkill) -> SkillSpec:
    """The entry a transitive lock entry stands for: its source, no version of its own."""
    return SkillSpec(name=locked.name, source=locked.spec_source or locked.source.name)


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
        reach, missing = lock.closure(wanted)
        plan.broken = [f"{parent} needs {dep}" for parent, dep in missing]
        for locked in lock.skills:
            if locked.name in wanted:
                continue
            if locked.name in reach and locked.name not in forced:
                plan.keep.append((transitive_spec(locked), locked))
            elif locked.name in reach:
                plan.resolve.append(transitive_spec(locked))
            else:
                plan.prune.append(locked)
        plan.graph = {e.name: e.dependencies for e in lock.skills if e.name in reach}
    return plan


def plan_solved(
    lock: Lockfile | None,
    pins: Mapping[str, Pin],
    *,
    force: Iterable[str] = (),
    carried: Iterable[str] = (),
) -> Plan:
    """Pure: the plan for a solved tree. A pin the lock already holds is kept (its spec
    text may have moved); the rest are resolved anew; lock entries the tree no longer
    has are pruned, except ``carried`` ones (keep-going failures, left as they were)."""
    plan = Plan()
    forced = set(force)
    for name, pin in pins.items():
        locked = lock.get(name) if lock else None
        if (
            locked is None
            or name in forced
            or locked.source.digest != pin.resolved.digest
            or not same_source(pin.spec, locked)
        ):
            plan.resolve.append(pin.spec)
        elif locked.resolved_from(pin.spec.source, pin.spec.version):
            plan.keep.append((pin.spec, locked))
        else:
            plan.relock.append((pin.spec, locked))
        plan.graph[name] = pin.dependencies
    kept = set(pins) | set(carried)
    plan.prune = [s for s in (lock.skills if lock else ()) if s.name not in kept]
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
    reach, missing = lock.closure(names)
    out += [
        f"+ {dep}: {parent} needs {dep}, but {LOCK_NAME} does not hold it"
        for parent, dep in missing
    ]
    for locked in lock.skills:
        if locked.name not in reach:
            out.append(f"- {locked.name}: in {LOCK_NAME} but not in {MANIFEST_NAME}")
    entries = {e.name: e for e in lock.skills if e.name in reach}
    needers = inverse({name: entry.dependencies for name, entry in entries.items()})
    for name, entry in sorted(entries.items()):
        needed_by = needers.get(name, ())
        if entry.required_by != needed_by:
            out.append(
                f"~ {name}: {LOCK_NAME} says it is required by "
                f"{', '.join(entry.required_by) or 'nothing'}, "
                f"but {', '.join(needed_by) or 'nothing'} needs it"
            )
    return out


def link_paths(spec: SkillSpec, links: Sequence[str]) -> tuple[str, ...]:
    """Where a skill is linked: each link folder (top-level and per-skill) + its name."""
    from ..boundary import check_relpath

    folders = (*links, *spec.additional_base_paths)
    return tuple(sorted({f"{check_relpath(d, 'link folder')}/{spec.name}" for d in folders}))


def with_links(locked: LockedSkill, spec: SkillSpec, manifest: Manifest) -> LockedSkill:
    paths, rel = link_paths(spec, manifest.links), skill_rel(spec.name)
    if locked.additional_installed_paths == paths and locked.path == rel:
        return locked  # dataclasses.replace is slow: only on a change
    return replace(locked, additional_installed_paths=paths, path=rel)
