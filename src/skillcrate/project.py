"""A project's skills: add, remove, install, update, outdated, list, verify.

Every operation that changes the project holds the project lock (a file lock
kept in the cache folder, keyed by the project's path, so the project itself
never gains lock files) for its whole read-modify-write, so
concurrent runs (many agent sessions starting at once, eight ``add``s in
parallel) serialise instead of losing each other's changes.

``install`` works in two phases, like uv and pdm: it first *plans* (which lock
entries stay pinned, which are resolved anew, which are pruned) and *fetches*
every artifact into the verified cache, touching nothing in the project; only
then does it *apply*: swap each skill folder in atomically, make links, prune,
and write the lock, the install state and the ``.gitignore`` block last. A
failure while fetching therefore leaves the previous ``.agents/skills/`` intact.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import install as inst
from . import lifecycle
from .cache import Cache
from .errors import (
    FrozenLockfileError,
    ManifestError,
    NoMatchingVersion,
    NotFound,
    ProjectError,
    SkillcrateError,
    UsageError,
    VerificationError,
)
from .fastpath import inputs_digest
from .fetch import FetchedSkill, fetch_skill, get_manifest
from .formats import AS_ARTIFACT
from .lockfile import (
    LockedSkill,
    LockedSource,
    Lockfile,
    load_lockfile,
    save_lockfile,
)
from .manifest import Manifest, SkillSpec, load_manifest, new_manifest
from .oci import ClientOptions, open_target
from .oci.model import Descriptor, Target, parse_manifest
from .project_dir import LOCK_NAME, MANIFEST_NAME
from .reference import Reference
from .trust import TrustRule, rule_for
from .versions import (
    Spec,
    asks_for_prerelease,
    candidate_tags,
    caret_spec,
    classify_spec,
    parse_semver,
    require_tag,
    satisfies,
)

if TYPE_CHECKING:
    from .policy import TrustCheck

MAX_PARALLEL = 8

Reporter = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ------------------------------------------------------------------ context
@dataclass
class Project:
    """A project folder and how to reach registries and the cache from it."""

    root: Path
    cache: Cache = field(default_factory=Cache)
    options: ClientOptions = field(default_factory=ClientOptions)
    offline: bool = False
    report: Reporter = _quiet
    pre: bool = False  # let ranges pick prereleases and draft/testing versions (--pre)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    def lock(self):  # noqa: ANN201 - filelock.FileLock
        """The project's inter-process lock (held for every mutation)."""
        import hashlib

        from filelock import FileLock

        key = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:32]
        path = self.cache.root / "locks" / f"project-{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=600)

    def load_manifest(self) -> Manifest:
        if not self.manifest_path.is_file():
            raise ManifestError(
                f"no {MANIFEST_NAME} in {self.root}",
                hints=["run `skillcrate init` or `skillcrate add REF` to create one"],
            )
        return load_manifest(self.manifest_path)

    def load_lock(self) -> Lockfile | None:
        return load_lockfile(self.lock_path)

    def target(self, ref: Reference) -> Target | None:
        """The store for ``ref``; None for a registry when offline (cache only).

        ``oci:`` layouts are local folders, so they stay readable offline.
        """
        if self.offline and not ref.layout:
            return None
        return open_target(ref, replace(self.options, base_dir=self.root))

    def online_target(self, ref: Reference, why: str) -> Target:
        target = self.target(ref)
        if target is None:
            raise NotFound(f"{why}: needs the registry, but --offline was given")
        return target


# --------------------------------------------------------------- resolving
@dataclass(frozen=True)
class Resolved:
    ref: Reference  # without tag/digest
    tag: str | None
    digest: str
    version: str  # the tag when it names a version; "" when pinned by digest

    @property
    def source(self) -> LockedSource:
        return LockedSource.from_reference(self.ref.with_tag(self.tag), self.digest)


def spec_version(spec: SkillSpec) -> str | None:
    """The effective version spec: ``version``, else a tag or digest written in ``source``."""
    if spec.version:
        return spec.version
    ref = spec.reference()
    return ref.digest or ref.tag


def resolve_spec(project: Project, spec: SkillSpec) -> Resolved:
    """skills.json entry → tag → manifest digest (network; never consults the lock)."""
    ref = spec.reference()
    base = ref.with_tag(None)
    version = spec_version(spec)
    target = project.online_target(base, f"resolving {spec.name}")
    kind = classify_spec(version)
    if kind.kind == "digest":
        desc = target.resolve(kind.text)
        return Resolved(base, None, desc.digest, "")
    if kind.kind in ("exact", "tag"):
        tag = kind.text
        try:
            desc = target.resolve(tag)
        except NotFound:
            if kind.kind == "exact" and not tag.startswith("v"):
                tag = "v" + tag
                desc = target.resolve(tag)
            else:
                raise NotFound(
                    f"{spec.name}: {base}:{kind.text} not found",
                    hints=[f"`skillcrate versions {base}` lists the published tags"],
                ) from None
        return Resolved(base, tag, desc.digest, tag)
    tag, desc = pick_selectable(project, target, kind, target.tags(), source=str(base))
    return Resolved(base, tag, desc.digest, tag)


def pick_selectable(
    project: Project, target: Target, kind: Spec, tags: Sequence[str], *, source: str
) -> tuple[str, Descriptor]:
    """The best tag ``kind`` selects whose lifecycle state a range may pick.

    Draft and testing versions need ``--pre`` (or a spec naming a prerelease);
    archived ones are never picked by a range. Each candidate's manifest is read
    (and cached) newest first until one qualifies, so usually one request.
    """
    pre = project.pre or asks_for_prerelease(kind)
    skipped: list[str] = []
    for tag in candidate_tags(kind, tags, include_prerelease=project.pre):
        desc, data = get_manifest(target, tag, project.cache)
        status = lifecycle.status_of(parse_manifest(data).get("annotations"))
        if lifecycle.is_hidden(status, pre=pre):
            skipped.append(f"{tag} is {status}")
            continue
        return tag, desc
    if skipped:
        raise NoMatchingVersion(
            f"no selectable version of {source} matches {kind} ({'; '.join(skipped[:5])})",
            hints=["--pre lets add/update pick draft and testing versions"]
            if any("archived" not in s for s in skipped) and not project.pre
            else [],
        )
    require_tag(kind, tags, source=source)  # raises the usual "no tag matches" error
    raise AssertionError("unreachable")


def selectable_tag(project: Project, target: Target, kind: Spec, tags: Sequence[str]) -> str:
    """Like :func:`pick_selectable`, but "" instead of an error when nothing qualifies."""
    try:
        return pick_selectable(project, target, kind, tags, source="")[0]
    except NoMatchingVersion:
        return ""


# ----------------------------------------------------------------- planning
@dataclass
class Plan:
    """What install will do, decided before anything in the project changes."""

    keep: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)
    resolve: list[SkillSpec] = field(default_factory=list)
    prune: list[LockedSkill] = field(default_factory=list)
    relock: list[tuple[SkillSpec, LockedSkill]] = field(default_factory=list)  # spec text moved

    @property
    def lock_changes(self) -> bool:
        return bool(self.resolve or self.prune or self.relock)


def _lock_satisfies(spec: SkillSpec, locked: LockedSkill) -> bool:
    """Whether a lock entry still fits its (possibly edited) skills.json entry."""
    if locked.resolved_from(spec.source, spec.version):
        return True
    try:
        same_source = spec.reference().with_tag(None) == (locked.source.reference().with_tag(None))
    except SkillcrateError:
        return False
    if not same_source:
        return False
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
        elif locked.resolved_from(spec.source, spec.version):
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
        elif not locked.resolved_from(spec.source, spec.version):
            want = f"{spec.source} {spec.version or '*'}"
            have = f"{locked.spec_source} {locked.spec_version or '*'} (locked {locked.version})"
            out.append(f"~ {spec.name}: {MANIFEST_NAME} wants {want}, {LOCK_NAME} has {have}")
    names = set(manifest.names())
    for locked in lock.skills:
        if locked.name not in names:
            out.append(f"- {locked.name}: in {LOCK_NAME} but not in {MANIFEST_NAME}")
    return out


# ----------------------------------------------------------------- fetching
def _fetch_locked(project: Project, locked: LockedSkill) -> FetchedSkill:
    target = project.target(locked.source.reference())
    try:
        fetched = fetch_skill(
            target,
            locked.source.digest,
            project.cache,
            fallback_name=locked.name,
            name=locked.name,
        )
    except NotFound as exc:
        if project.offline:
            raise NotFound(
                f"{locked.name}: {locked.source.digest} is not in the cache",
                hints=["run `skillcrate install` once with the registry reachable"],
            ) from exc
        raise
    if locked.tree:
        actual = _tree_of(fetched.root)
        if actual != locked.tree:
            raise ProjectError(
                f"{locked.name}: content of {locked.source.ref} has tree {actual}, "
                f"but {LOCK_NAME} pins {locked.tree}",
                hints=["`skillcrate cache verify --remove` drops damaged cache entries"],
            )
    return fetched


def _tree_of(root: Path) -> str:
    return inst.tree_digest(inst.tree_files(root))


def _lock_entry(
    spec: SkillSpec, resolved: Resolved, fetched: FetchedSkill, links: Sequence[str]
) -> LockedSkill:
    name = spec.name
    return LockedSkill(
        name=name,
        path=f"{inst.SKILLS_DIR}/{name}",
        version=resolved.version,
        source=resolved.source,
        spec_source=spec.source,
        spec_version=spec.version,
        tree=_tree_of(fetched.root),
        format=fetched.format,
        additional_installed_paths=link_paths(spec, links),
    )


def _parallel(items: Sequence, fn: Callable) -> list:  # noqa: ANN001
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(items))) as pool:
        return list(pool.map(fn, items))


# ----------------------------------------------------------------- applying
@dataclass
class InstallResult:
    installed: list[str] = field(default_factory=list)  # new or changed on disk
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    lock_written: bool = False
    warnings: list[str] = field(default_factory=list)
    noop: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.installed or self.removed or self.lock_written)

    def to_json(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "lockWritten": self.lock_written,
            "warnings": self.warnings,
        }


def _owned(state: inst.InstallState | None, lock: Lockfile | None) -> set[str]:
    owned = set(state.owned if state else [])
    for s in lock.skills if lock else ():
        owned.add(s.path)
        owned.update(s.additional_installed_paths)
    return owned


def _needs_materialise(
    project: Project, entry: LockedSkill, state: inst.InstallState | None
) -> bool:
    dest = project.root / entry.path
    if not dest.is_dir() or dest.is_symlink():
        return True
    rec = state.skills.get(entry.name) if state else None
    if rec is None or rec.tree != entry.tree:
        return True
    return not _tree_intact(dest, rec)


def _tree_intact(dest: Path, rec: inst.SkillState) -> bool:
    return inst.diff_tree(dest, rec.tree_files()).clean


def check_name_free(project: Project, name: str, owned: set[str]) -> None:
    """Refuse a skill folder that exists but was not made by skillcrate."""
    rel = f"{inst.SKILLS_DIR}/{name}"
    path = project.root / rel
    if os.path.lexists(path) and rel not in owned:
        raise ProjectError(
            f"{rel} already exists and was not installed by skillcrate; "
            f"choose another name with --name or move that folder",
        )


def _apply(
    project: Project,
    old_lock: Lockfile | None,
    new_lock: Lockfile,
    fetched: dict[str, FetchedSkill],
    needs: dict[str, bool],
    state: inst.InstallState | None,
    *,
    write_lock: bool,
) -> InstallResult:
    """Make the project match ``new_lock``; ``needs`` says which folders to (re)build."""
    result = InstallResult()
    owned = _owned(state, old_lock)
    new_names = set(new_lock.names())
    skills_state: dict[str, inst.SkillState] = {}
    # 1. skill folders (each swapped in atomically) and their links
    for entry in new_lock.skills:
        dest = project.root / entry.path
        if needs[entry.name]:
            check_name_free(project, entry.name, owned)
            inst.materialise(fetched[entry.name].root, dest)
            result.installed.append(entry.name)
        else:
            result.unchanged.append(entry.name)
        owned.add(entry.path)
        links = []
        for rel in entry.additional_installed_paths:
            link_dir, _, lname = rel.rpartition("/")
            links.append(inst.link_skill(project.root, link_dir, lname, dest, owned=owned))
            owned.add(rel)
        skills_state[entry.name] = inst.record_skill(dest, project=project.root, links=links)
    # 2. links that entries no longer have, and removed skills
    for old in old_lock.skills if old_lock else ():
        keep = set()
        new_entry = new_lock.get(old.name)
        if new_entry is not None:
            keep = {new_entry.path, *new_entry.additional_installed_paths}
        for rel in (old.path, *old.additional_installed_paths):
            if rel not in keep and inst.remove_owned(project.root, rel, owned):
                owned.discard(rel)
        if old.name not in new_names:
            result.removed.append(old.name)
    # 3. lock, state, .gitignore (last, like installer's RECORD)
    if write_lock:
        result.lock_written = save_lockfile(project.lock_path, new_lock)
    manifest_bytes = project.manifest_path.read_bytes() if project.manifest_path.exists() else b""
    lock_bytes = project.lock_path.read_bytes() if project.lock_path.exists() else b""
    current_owned = sorted(p for p in owned if os.path.lexists(project.root / p))
    inst.write_state(
        project.root,
        inst.InstallState(
            lock=inputs_digest(manifest_bytes, lock_bytes), skills=skills_state, owned=current_owned
        ),
    )
    ignored = [p for s in new_lock.skills for p in (s.path, *s.additional_installed_paths)]
    inst.update_gitignore(project.root, [inst.STATE_FILE, *ignored])
    return result


# ------------------------------------------------------------------ install
def install(
    project: Project,
    *,
    frozen: bool = False,
    force: Iterable[str] = (),
    manifest: Manifest | None = None,
) -> InstallResult:
    """Make ``.agents/skills`` match the lock, resolving only what the lock cannot answer."""
    with project.lock():
        return _install_locked(project, frozen=frozen, force=force, manifest=manifest)


def _install_locked(
    project: Project,
    *,
    frozen: bool = False,
    force: Iterable[str] = (),
    manifest: Manifest | None = None,
    save_manifest: bool = False,
    resolved: dict[str, Resolved] | None = None,
) -> InstallResult:
    manifest = manifest or project.load_manifest()
    lock = project.load_lock()
    if frozen:
        problems = frozen_problems(manifest, lock)
        if problems:
            raise FrozenLockfileError(
                f"{MANIFEST_NAME} and {LOCK_NAME} disagree (--frozen):\n  " + "\n  ".join(problems),
                hints=["run `skillcrate install` and commit the updated lock"],
            )
    plan = plan_install(manifest, lock, force=force)
    entries: dict[str, LockedSkill] = {}
    fetched: dict[str, FetchedSkill] = {}
    needs: dict[str, bool] = {}  # decided once per skill: does its folder need (re)building?
    state = inst.read_state(project.root)

    def fetch_kept(item: tuple[SkillSpec, LockedSkill]) -> None:
        spec, locked = item
        locked = _with_links(locked, spec, manifest)
        entry = replace(locked, spec_version=spec.version, spec_source=spec.source)
        need = _needs_materialise(project, entry, state)
        if need:
            project.report(f"fetching {spec.name} {locked.version or locked.source.digest[:19]}")
            fetched[spec.name] = got = _fetch_locked(project, locked)
            if not locked.tree:  # e.g. migrated from a skills-oci lock
                entry = replace(entry, tree=_tree_of(got.root), format=got.format)
                need = _needs_materialise(project, entry, state)
        entries[spec.name], needs[spec.name] = entry, need

    def fetch_new(spec: SkillSpec) -> None:
        res = (resolved or {}).get(spec.name)
        if res is None:
            project.report(f"resolving {spec.name} {spec_version(spec) or '*'}")
            res = resolve_spec(project, spec)
        project.report(f"fetching {spec.name} {res.version or res.digest[:19]}")
        target = project.online_target(res.ref, f"fetching {spec.name}")
        got = fetch_skill(
            target, res.digest, project.cache, fallback_name=spec.name, name=spec.name
        )
        fetched[spec.name] = got
        entries[spec.name] = entry = _lock_entry(spec, res, got, manifest.links)
        needs[spec.name] = _needs_materialise(project, entry, state)

    _parallel([*plan.keep, *plan.relock], fetch_kept)
    _parallel(plan.resolve, fetch_new)
    trust_warnings = _apply_trust(
        project, manifest, entries, {s.name for s in plan.resolve}, frozen=frozen
    )
    new_lock = Lockfile(skills=tuple(entries.values()))
    if save_manifest:
        manifest.save()
    result = _apply(project, lock, new_lock, fetched, needs, state, write_lock=not frozen)
    result.warnings.extend(trust_warnings)
    for spec in manifest.skills:
        got = fetched.get(spec.name)
        if got is None or spec.name not in result.installed:
            continue
        entry = new_lock.get(spec.name)
        deprecated = lifecycle.deprecation_warning(
            spec.name, entry.version if entry else "", got.annotations
        )
        if deprecated:
            result.warnings.append(deprecated)
        if got.name != spec.name:
            result.warnings.append(
                f"{spec.name}: SKILL.md names the skill {got.name!r}; agents may expect the "
                f"folder to match (use --name {got.name})"
            )
    return result


def _needs_check(rule: TrustRule, entry: LockedSkill, *, new: bool, frozen: bool) -> bool:
    """Whether a lock entry must be (re)verified: new, --frozen, or not verified by a key
    the rule still lists (a keyless identity recorded earlier is trusted like the lock)."""
    if new or frozen or not entry.signed_by:
        return True
    return not rule.keyless and entry.signed_by not in rule.keys


def check_trust(project: Project, entry: LockedSkill, rule: TrustRule) -> TrustCheck:
    """Apply ``rule`` to the manifest ``entry`` pins (network, or an ``oci:`` layout)."""
    from .policy import check

    target = project.online_target(entry.source.reference(), f"verifying {entry.name}")
    subject, _ = get_manifest(target, entry.source.digest, project.cache)
    return check(target, subject, rule, project.root)


def _apply_trust(
    project: Project,
    manifest: Manifest,
    entries: dict[str, LockedSkill],
    new: set[str],
    *,
    frozen: bool,
) -> list[str]:
    """Verify entries under skills.json's trust policy before anything is written.

    Records ``signedBy`` in ``entries``; raises for an ``enforce`` rule that nothing
    satisfies; returns warnings for ``warn`` rules.
    """
    rules = manifest.trust
    todo: list[tuple[str, TrustRule]] = []
    for name, entry in list(entries.items()):
        rule = rule_for(rules, entry.source.name, entry.spec_source) if rules else None
        if rule is None:
            entries[name] = replace(entry, signed_by=None)
        elif _needs_check(rule, entry, new=name in new, frozen=frozen):
            todo.append((name, rule))
    if not todo:
        return []
    if project.offline and any(not entries[n].source.is_layout for n, _ in todo):
        names = ", ".join(n for n, _ in todo)
        raise VerificationError(
            f"{names}: the trust policy needs the registry to check signatures (--offline)"
        )

    def one(item: tuple[str, TrustRule]) -> tuple[str, TrustCheck]:
        name, rule = item
        project.report(f"verifying {name} against {rule.pattern}")
        return name, check_trust(project, entries[name], rule)

    warnings: list[str] = []
    for name, result in sorted(_parallel(todo, one)):
        entry = entries[name]
        if result.ok:
            entries[name] = replace(entry, signed_by=result.signed_by)
            continue
        entries[name] = replace(entry, signed_by=None)
        if result.rule.mode == "enforce":
            from .policy import refusal

            raise refusal(name, entry.source.ref, result)
        warnings.append(
            f"{name}: not verified by trust policy {result.rule.pattern!r} "
            f"({result.reason()}); installed anyway (mode warn)"
        )
    return warnings


def link_paths(spec: SkillSpec, links: Sequence[str]) -> tuple[str, ...]:
    """Where a skill is linked: each link folder (top-level and per-skill) + its name."""
    folders = (*links, *spec.additional_base_paths)
    return tuple(sorted({f"{d.rstrip('/')}/{spec.name}" for d in folders}))


def _with_links(locked: LockedSkill, spec: SkillSpec, manifest: Manifest) -> LockedSkill:
    return replace(
        locked,
        additional_installed_paths=link_paths(spec, manifest.links),
        path=f"{inst.SKILLS_DIR}/{spec.name}",
    )


# ---------------------------------------------------------------- init/add
def init(project: Project) -> bool:
    """Create skills.json (if absent) and the .gitignore block; True when created."""
    with project.lock():
        created = False
        if not project.manifest_path.exists():
            new_manifest(project.manifest_path).save()
            created = True
        else:
            project.load_manifest()  # refuse to continue on a malformed file
        inst.update_gitignore(project.root, [inst.STATE_FILE])
        return created


@dataclass(frozen=True)
class AddRequest:
    ref: str
    version: str | None = None
    name: str | None = None
    exact: bool = False


def _saved_source(project: Project, ref: Reference, cwd: Path) -> str:
    """``source`` as saved in skills.json: no tag/digest; layout paths relative to the project."""
    if ref.layout:
        path = Path(ref.repository)
        if not path.is_absolute():
            path = Path(os.path.relpath((cwd / path).absolute(), project.root))
            text = path.as_posix()
            if not text.startswith("."):
                text = "./" + text
            return f"oci:{text}"
        return f"oci:{path.as_posix()}"
    return ref.name


def _saved_version(req: AddRequest, ref: Reference, resolved: Resolved) -> str | None:
    if req.version:
        return req.version
    if ref.digest:
        return ref.digest
    tag = resolved.tag
    if tag and parse_semver(tag) is not None:
        return tag if req.exact else caret_spec(tag)
    return tag


def add(
    project: Project, requests: Sequence[AddRequest], *, cwd: Path | None = None
) -> InstallResult:
    """Resolve each reference, save it to skills.json (``^X.Y.Z`` by default), lock, install."""
    cwd = cwd or Path.cwd()
    if len(requests) > 1 and any(r.name for r in requests):
        raise UsageError("--name can only be used with a single reference")
    with project.lock():
        if project.manifest_path.exists():
            manifest = project.load_manifest()
        else:
            manifest = new_manifest(project.manifest_path)
        lock = project.load_lock()
        owned = _owned(inst.read_state(project.root), lock)
        added: dict[str, Resolved] = {}

        def add_one(spec: SkillSpec, resolved: Resolved, fallback: str, req: AddRequest) -> None:
            name = spec.name
            if not name:
                target = project.online_target(resolved.ref, f"fetching {req.ref}")
                name = fetch_skill(
                    target, resolved.digest, project.cache, fallback_name=fallback
                ).name
            if name in manifest or name in added:
                have = manifest.get(name)
                raise ProjectError(
                    f"{name} is already in {MANIFEST_NAME}"
                    + (f" (from {have.source})" if have else ""),
                    hints=[
                        f"`skillcrate update {name}` moves it within its range; "
                        "use --name to add it under another name"
                    ],
                )
            check_name_free(project, name, owned)
            manifest.add(replace(spec, name=name))
            added[name] = resolved

        for req in requests:
            ref = Reference.parse(req.ref)
            source = _saved_source(project, ref, cwd)
            base = Reference.parse(source)
            version = req.version or ref.digest or ref.tag
            probe = SkillSpec(name=req.name or "probe", source=source, version=version)
            resolved = resolve_spec(project, probe)
            if not req.name:
                members = _collection_members(project, resolved)
                if members is not None:
                    collection = str(base.with_tag(resolved.tag).with_digest(None))
                    for member_base, tag, digest in members:
                        res = Resolved(member_base, tag, digest, tag or "")
                        same = member_base == resolved.ref
                        saved = caret_spec(tag) if tag and parse_semver(tag) else tag or digest
                        member = SkillSpec(
                            name="",
                            source=source if same else member_base.name,
                            version=saved,
                            collection=collection,
                        )
                        add_one(member, res, member_base.last_segment, req)
                    continue
            if req.exact and resolved.tag and parse_semver(resolved.tag) is None:
                raise UsageError(
                    f"--exact needs a version tag, but {req.ref} resolved to "
                    f"the tag {resolved.tag!r}"
                )
            saved = _saved_version(req, ref, resolved)
            spec = SkillSpec(name=req.name or "", source=source, version=saved)
            add_one(spec, resolved, base.last_segment, req)
        return _install_locked(
            project, manifest=manifest, save_manifest=True, force=added, resolved=added
        )


def _collection_members(
    project: Project, resolved: Resolved
) -> list[tuple[Reference, str | None, str]] | None:
    """(repository, listed tag, manifest digest) of each skill when ``resolved`` is a
    collection; None when it is a single skill."""
    from .collection import member_source
    from .formats import detect, select_collection_entry

    target = project.online_target(resolved.ref, f"reading {resolved.ref}")
    desc, data = get_manifest(target, resolved.digest, project.cache)
    det = detect(parse_manifest(data), desc.media_type)
    if not det.is_collection:
        return None
    entries = [e for e in det.entries if e.artifact_type in (AS_ARTIFACT, None)]
    if not entries:
        select_collection_entry(det, None)  # raises: a collection without skills
    return [(*member_source(resolved.ref, e), e.digest) for e in entries]


def _require_known(manifest: Manifest, names: Sequence[str]) -> None:
    """Refuse names skills.json does not list, naming the ones it does."""
    unknown = [n for n in names if n not in manifest]
    if unknown:
        known = ", ".join(manifest.names()) or "none"
        raise ProjectError(f"not in {MANIFEST_NAME}: {', '.join(unknown)} (known: {known})")


# ------------------------------------------------------------------- remove
def remove(project: Project, names: Sequence[str]) -> InstallResult:
    """Drop skills from skills.json and the lock, and delete what skillcrate installed."""
    with project.lock():
        manifest = project.load_manifest()
        _require_known(manifest, names)
        for n in names:
            manifest.remove(n)
        return _install_locked(project, manifest=manifest, save_manifest=True)


# ------------------------------------------------------------------- update
def update(project: Project, names: Sequence[str] = (), *, latest: bool = False) -> InstallResult:
    """Re-resolve within ranges (all or ``names``); ``latest`` also moves ranges forward."""
    with project.lock():
        manifest = project.load_manifest()
        chosen = list(names) or manifest.names()
        _require_known(manifest, chosen)
        if latest:
            for name in chosen:
                spec = manifest.get(name)
                assert spec is not None
                kind = classify_spec(spec_version(spec))
                if kind.kind in ("digest", "tag", "latest"):
                    continue  # a digest, a non-version tag or "*": nothing to move
                target = project.online_target(spec.reference(), f"updating {name}")
                newest = selectable_tag(project, target, classify_spec(None), target.tags())
                if newest and parse_semver(newest) is not None:
                    manifest.set_version(name, moved_spec(kind.text, kind.kind, newest))
        return _install_locked(project, manifest=manifest, save_manifest=latest, force=chosen)


def moved_spec(spec: str, kind: str, newest: str) -> str:
    """The spec ``update --latest`` saves: same style (exact, ``~`` or ``^``), newest version."""
    if kind == "exact":
        return newest
    if spec.startswith("~") and "||" not in spec and " " not in spec.strip():
        return "~" + caret_spec(newest)[1:]
    return caret_spec(newest)


# ----------------------------------------------------------------- outdated
@dataclass(frozen=True)
class Outdated:
    name: str
    spec: str
    current: str
    wanted: str
    latest: str
    source: str

    @property
    def is_outdated(self) -> bool:
        return self.current != self.wanted or (bool(self.latest) and self.current != self.latest)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "current": self.current,
            "wanted": self.wanted,
            "latest": self.latest,
            "source": self.source,
            "outdated": self.is_outdated,
        }


def outdated(project: Project) -> list[Outdated]:
    """current (locked) / wanted (highest in range) / latest (highest published) per skill."""
    manifest = project.load_manifest()
    lock = project.load_lock()

    def one(spec: SkillSpec) -> Outdated:
        locked = lock.get(spec.name) if lock else None
        current = (locked.version or locked.source.digest) if locked else ""
        version = spec_version(spec)
        kind = classify_spec(version)
        if kind.kind == "digest":
            return Outdated(spec.name, kind.text, current, kind.text, kind.text, spec.source)
        target = project.online_target(spec.reference(), f"checking {spec.name}")
        tags = target.tags()
        wanted = selectable_tag(project, target, kind, tags)
        newest = selectable_tag(project, target, classify_spec(None), tags)
        if kind.kind == "tag":
            newest = wanted
        return Outdated(spec.name, version or "*", current, wanted, newest, spec.source)

    return _parallel(manifest.skills, one)


# ------------------------------------------------------------- list/verify
@dataclass(frozen=True)
class Listed:
    name: str
    version: str
    digest: str
    description: str
    path: str
    installed: bool
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "description": self.description,
            "path": self.path,
            "installed": self.installed,
            "source": self.source,
        }


def list_skills(project: Project) -> list[Listed]:
    lock = project.load_lock()
    if lock is None:
        project.load_manifest()
        return []
    out = []
    for s in lock.skills:
        folder = project.root / s.path
        description = ""
        try:
            from .skill import read_skill

            description = read_skill(folder).description
        except SkillcrateError:
            pass
        except OSError:
            pass
        out.append(
            Listed(
                s.name,
                s.version,
                s.source.digest,
                " ".join(description.split()),
                s.path,
                folder.is_dir(),
                s.source.name,
            )
        )
    return out


@dataclass
class Drift:
    name: str
    problem: str  # "not installed" | "modified" | ...
    paths: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "problem": self.problem, "paths": self.paths}


def _expected_files(
    project: Project, entry: LockedSkill, state: inst.InstallState | None
) -> list[inst.TreeFile] | None:
    rec = state.skills.get(entry.name) if state else None
    if rec is not None and rec.tree == entry.tree:
        return rec.tree_files()
    cached = project.cache.unpacked_path(entry.source.digest)
    if cached.is_dir():
        files = inst.tree_files(cached)
        if inst.tree_digest(files) == entry.tree:
            return files
    return None


def verify(project: Project) -> list[Drift]:
    """Offline check: every installed folder matches its lock ``tree``; names each difference."""
    project.load_manifest()
    lock = project.load_lock()
    if lock is None:
        return [Drift("-", f"{LOCK_NAME} is missing")]
    state = inst.read_state(project.root)
    drift: list[Drift] = []
    for entry in lock.skills:
        folder = project.root / entry.path
        if not folder.is_dir():
            drift.append(Drift(entry.name, "not installed", [entry.path]))
            continue
        expected = _expected_files(project, entry, state)
        if expected is not None:
            diff = inst.diff_tree(folder, expected)
            for kind, paths in (
                ("modified", diff.modified),
                ("extra", diff.extra),
                ("missing", diff.missing),
                ("mode changed", diff.mode_changed),
            ):
                if paths:
                    drift.append(Drift(entry.name, kind, [f"{entry.path}/{p}" for p in paths]))
        elif entry.tree and _tree_of(folder) != entry.tree:
            drift.append(Drift(entry.name, "modified (tree digest differs)", [entry.path]))
        for rel in entry.additional_installed_paths:
            if not os.path.lexists(project.root / rel) or not (project.root / rel).exists():
                drift.append(Drift(entry.name, "link missing", [rel]))
    return drift


@dataclass(frozen=True)
class SignatureReport:
    name: str
    source: str
    result: TrustCheck

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, **self.result.to_json()}


def verify_signatures(project: Project) -> list[SignatureReport]:
    """Every locked skill whose source has a trust rule, checked against the lock's digest."""
    manifest = project.load_manifest()
    lock = project.load_lock()
    rules = manifest.trust
    todo = []
    for entry in lock.skills if lock and rules else ():
        rule = rule_for(rules, entry.source.name, entry.spec_source)
        if rule is not None:
            todo.append((entry, rule))

    def one(item: tuple[LockedSkill, TrustRule]) -> SignatureReport:
        entry, rule = item
        return SignatureReport(entry.name, entry.source.ref, check_trust(project, entry, rule))

    return _parallel(todo, one)


def known_digests(project: Project) -> set[str]:
    """Digests the lock pins (for ``cache prune`` of one project)."""
    lock = project.load_lock()
    return {s.source.digest for s in lock.skills} if lock else set()


def cache_keep_set(project: Project, cache: Cache) -> set[str]:
    """Every digest the lock needs: manifests, their blobs, and unpacked trees."""
    import json

    keep: set[str] = set()
    for digest in known_digests(project):
        keep.add(digest)
        data = cache.get_manifest(digest)
        if data is None:
            continue
        try:
            obj = json.loads(data)
        except ValueError:
            continue
        for d in [obj.get("config") or {}, *(obj.get("layers") or []), *(obj.get("blobs") or [])]:
            if isinstance(d, dict) and d.get("digest"):
                keep.add(str(d["digest"]))
    return keep
