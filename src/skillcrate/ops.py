"""A project's skills: add, remove, install, update, outdated, list, verify.

Every operation that changes the project holds the project lock (a file lock in
skillcrate's per-user state folder, keyed by the project's real path, so the project
itself never gains lock files) for its whole read-modify-write, so concurrent runs
(many agent sessions starting at once, eight ``add``s in parallel) serialise instead of
losing each other's changes.

``install`` works in phases, like uv and pdm: it first *plans* (which lock entries stay
pinned, which are resolved anew, which are pruned) and *prepares* every artifact into
the verified cache, touching nothing in the project; it checks the trust policy and
that every path it must write is free; only then does it *apply*: swap each skill
folder in atomically, make links, prune, and write the lock, the install state and the
``.gitignore`` block last. A failure before applying leaves the project as it was.

What skillcrate may replace or delete comes only from its own install state outside the
project (:mod:`skillcrate.state`), never from the lock; where it may write is confined
by :mod:`skillcrate.boundary`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .boundary import SKILLS_DIR, Boundary, skill_rel
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
from .installer import materialise as inst
from .installer.state import Artifact, InstallState, read_state, write_state
from .oci import ClientOptions, open_target
from .oci.model import Descriptor, Target, parse_manifest
from .project.files import LOCK_NAME, MANIFEST_NAME
from .project.lockfile import LockedSkill, LockedSource, Lockfile, load_lockfile, save_lockfile
from .project.manifest import Manifest, SkillSpec, load_manifest, new_manifest
from .publish import lifecycle
from .reference import Reference
from .skill.tree import FileRecord, scan_stat, tree_digest_of
from .trust import records as verified
from .trust.rules import TrustRule, rule_for, rules_for
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
    from .trust.policy import TrustCheck

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
    allow_link_dirs: tuple[str, ...] = ()  # link folders the user allowed (command line)
    allow_external: bool = False  # add collection members stored in other repositories

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @cached_property
    def boundary(self) -> Boundary:
        """Where this project may be written (see :mod:`skillcrate.boundary`)."""
        from .config import allowed_link_dirs

        return Boundary(self.root, link_dirs=(*self.allow_link_dirs, *allowed_link_dirs()))

    def lock(self):  # noqa: ANN201 - filelock.FileLock
        """The project's inter-process lock (held for every mutation).

        It lives in the per-user state folder, keyed by the project's real path, so
        every skillcrate process of the user agrees on it whatever its cache folder.
        """
        from filelock import FileLock

        from .config import state_dir
        from .installer.state import project_key

        path = state_dir() / "locks" / f"project-{project_key(self.root)}.lock"
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
            expect_tree=locked.tree,
        )
    except NotFound as exc:
        if project.offline:
            raise NotFound(
                f"{locked.name}: {locked.source.digest} is not in the cache",
                hints=["run `skillcrate install` once with the registry reachable"],
            ) from exc
        raise
    if locked.tree and fetched.tree != locked.tree:
        raise ProjectError(
            f"{locked.name}: content of {locked.source.ref} has tree {fetched.tree}, "
            f"but {LOCK_NAME} pins {locked.tree}",
            hints=["`skillcrate cache verify --remove` drops damaged cache entries"],
        )
    return fetched


def _lock_entry(
    spec: SkillSpec, resolved: Resolved, fetched: FetchedSkill, links: Sequence[str]
) -> LockedSkill:
    name = spec.name
    return LockedSkill(
        name=name,
        path=skill_rel(name),
        version=resolved.version,
        source=resolved.source,
        spec_source=spec.source,
        spec_version=spec.version,
        tree=fetched.tree,
        format=fetched.format,
        additional_installed_paths=link_paths(spec, links),
    )


def _parallel(items: Sequence, fn: Callable) -> list:  # noqa: ANN001
    """``fn`` over ``items`` on up to 8 threads; results in order (workers share nothing)."""
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

    def to_json(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "lockWritten": self.lock_written,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Prepared:
    """One skill ready to apply: its lock entry, and either fresh content or its records."""

    entry: LockedSkill
    fetched: FetchedSkill | None  # set when the folder must be (re)built
    records: tuple[FileRecord, ...] = ()  # the installed files, when it need not be

    @property
    def rebuild(self) -> bool:
        return self.fetched is not None


def installed_records(
    project: Project, entry: LockedSkill, state: InstallState | None
) -> list[FileRecord] | None:
    """The records of ``entry``'s installed folder if it holds exactly the lock's tree.

    Proven from skillcrate's own state: the recorded tree must be the lock's, the
    records must hash to it, and the folder must still ``lstat`` as recorded (else its
    files are hashed once and compared). None means it must be (re)built.
    """
    rel = skill_rel(entry.name)
    st = project.boundary.lstat(rel)  # UnsafePath when .agents or .agents/skills is a link
    if st is None or not _is_dir(st) or state is None or not entry.tree:
        return None
    art = state.artifacts.get(rel)
    recs = state.records_for(rel)
    if art is None or art.tree != entry.tree or recs is None:
        return None
    folder = project.boundary.path(rel)
    if scan_stat(str(folder)) == art.stat:
        return recs
    return inst.copy_records(folder, recs)


def _is_dir(st: os.stat_result) -> bool:
    import stat as stat_mod

    return stat_mod.S_ISDIR(st.st_mode)


def _preflight(project: Project, prepared: Iterable[Prepared], owned: set[str]) -> None:
    """Refuse before anything is written: a folder to build that is someone else's, or a
    link folder the boundary does not allow."""
    b = project.boundary
    for p in prepared:
        rel = skill_rel(p.entry.name)
        if p.rebuild:
            st = b.lstat(rel)
            if st is not None and rel not in owned and not _identical(b, rel, p.entry.tree):
                raise ProjectError(
                    f"{rel} already exists and was not installed by skillcrate; "
                    "choose another name with --name or move that folder",
                )
        for link in p.entry.additional_installed_paths:
            b.check_artifact(link)
            b.lstat(link)  # UnsafePath when the link folder (or a parent) is a symlink


def _identical(b: Boundary, rel: str, tree: str | None) -> bool:
    """An existing folder holding exactly the tree to install (replacing it loses nothing)."""
    if not tree:
        return False
    st = b.lstat(rel)
    if st is None or not _is_dir(st):
        return False
    try:
        return tree_digest_of(b.path(rel)) == tree
    except (SkillcrateError, OSError):
        return False


def _apply(
    project: Project,
    old_lock: Lockfile | None,
    prepared: dict[str, Prepared],
    state: InstallState | None,
    link_dirs: Sequence[str],
    *,
    write_lock: bool,
) -> InstallResult:
    """Make the project match the prepared entries; prune what skillcrate made before."""
    b = project.boundary
    result = InstallResult()
    owned = state.owned if state else set()
    for folder in (SKILLS_DIR, *link_dirs):
        b.clean_temp(folder)
    new_lock = Lockfile(skills=tuple(p.entry for p in prepared.values()))
    artifacts: dict[str, Artifact] = {}
    records: dict[str, list[FileRecord]] = {}
    # 1. skill folders (each swapped in atomically) and their links
    for entry in new_lock.skills:
        p = prepared[entry.name]
        rel = skill_rel(entry.name)
        if p.fetched is not None:
            recs = inst.materialise(b, rel, p.fetched.root, p.fetched.records)
            result.installed.append(entry.name)
        else:
            recs = list(p.records)
            result.unchanged.append(entry.name)
        artifacts[rel] = Artifact.for_folder(rel, entry.name, recs)
        records[rel] = recs
        for link in entry.additional_installed_paths:
            text, copy = inst.place_link(
                b, link, rel, owned=link in owned, source=b.path(rel), records=recs
            )
            if text is not None:
                artifacts[link] = Artifact(link, entry.name, link=text)
            else:
                assert copy is not None
                artifacts[link] = Artifact.for_folder(link, entry.name, copy)
                records[link] = copy
    # 2. what skillcrate made before and the new lock no longer has
    gone = set()
    for rel in sorted(owned - artifacts.keys()):
        if b.remove(rel):
            gone.add(state.artifacts[rel].skill if state else rel)
    new_names = set(new_lock.names())
    old_names = set(old_lock.names()) if old_lock else set()
    result.removed = sorted(n for n in (gone | old_names) - new_names)
    # 3. lock, state, .gitignore (last, like installer's RECORD)
    if write_lock:
        result.lock_written = save_lockfile(b.root / LOCK_NAME, new_lock)
    manifest_bytes = project.manifest_path.read_bytes() if project.manifest_path.exists() else b""
    lock_bytes = project.lock_path.read_bytes() if project.lock_path.exists() else b""
    write_state(b.root, inputs_digest(manifest_bytes, lock_bytes), artifacts, records)
    inst.update_gitignore(b, artifacts, keep_block=True)
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


def _link_dirs(project: Project, manifest: Manifest) -> list[str]:
    """Every link folder skills.json names, each checked against the boundary's rules."""
    b = project.boundary
    folders = [*manifest.links, *(d for s in manifest.skills for d in s.additional_base_paths)]
    return sorted({b.check_link_dir(d) for d in folders})


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
    link_dirs = _link_dirs(project, manifest)
    plan = plan_install(manifest, lock, force=force)
    state = read_state(project.boundary.root, records=True)

    def prepare_kept(item: tuple[SkillSpec, LockedSkill]) -> Prepared:
        spec, locked = item
        entry = replace(
            _with_links(locked, spec, manifest), spec_version=spec.version, spec_source=spec.source
        )
        records = installed_records(project, entry, state)
        if records is not None:
            return Prepared(entry, None, tuple(records))
        project.report(f"fetching {spec.name} {locked.version or locked.source.digest[:19]}")
        fetched = _fetch_locked(project, entry)
        if not entry.tree:  # e.g. migrated from a skills-oci lock
            entry = replace(entry, tree=fetched.tree, format=fetched.format)
        return Prepared(entry, fetched)

    def prepare_new(spec: SkillSpec) -> Prepared:
        res = (resolved or {}).get(spec.name)
        if res is None:
            project.report(f"resolving {spec.name} {spec_version(spec) or '*'}")
            res = resolve_spec(project, spec)
        project.report(f"fetching {spec.name} {res.version or res.digest[:19]}")
        target = project.online_target(res.ref, f"fetching {spec.name}")
        got = fetch_skill(
            target,
            res.digest,
            project.cache,
            fallback_name=spec.name,
            name=spec.name,
            from_blob=True,  # what the new lock entry records comes from the verified blob
        )
        entry = _lock_entry(spec, res, got, manifest.links)
        records = installed_records(project, entry, state)
        return Prepared(entry, None if records is not None else got, tuple(records or ()))

    kept = _parallel([*plan.keep, *plan.relock], prepare_kept)
    new = _parallel(plan.resolve, prepare_new)
    prepared = {p.entry.name: p for p in (*kept, *new)}
    trust_warnings = _apply_trust(project, manifest, prepared, frozen=frozen)
    _preflight(project, prepared.values(), state.owned if state else set())
    if save_manifest:
        manifest.save()
    result = _apply(project, lock, prepared, state, link_dirs, write_lock=not frozen)
    result.warnings.extend(trust_warnings)
    for spec in manifest.skills:
        p = prepared.get(spec.name)
        got = p.fetched if p else None
        if got is None or spec.name not in result.installed:
            continue
        deprecated = lifecycle.deprecation_warning(spec.name, p.entry.version, got.annotations)
        if deprecated:
            result.warnings.append(deprecated)
        if got.name != spec.name:
            result.warnings.append(
                f"{spec.name}: SKILL.md names the skill {got.name!r}; agents may expect the "
                f"folder to match (use --name {got.name})"
            )
    return result


# -------------------------------------------------------------------- trust
def check_trust(project: Project, entry: LockedSkill, rule: TrustRule) -> TrustCheck:
    """Apply ``rule`` to the manifest ``entry`` pins (network, or an ``oci:`` layout)."""
    from .trust.policy import check

    target = project.online_target(entry.source.reference(), f"verifying {entry.name}")
    subject, _ = get_manifest(target, entry.source.digest, project.cache)
    return check(target, subject, rule, project.root)


def entry_rules(manifest: Manifest, entry: LockedSkill) -> list[TrustRule]:
    """The trust rules an entry must pass: its own source's and its collection's."""
    if not manifest.trust:
        return []
    spec = manifest.get(entry.name)
    collection = spec.collection if spec else None
    return rules_for(manifest.trust, entry.source.name, collection)


def _apply_trust(
    project: Project,
    manifest: Manifest,
    prepared: dict[str, Prepared],
    *,
    frozen: bool,
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
            fp = verified.rule_fingerprint(rule, project.root)
            rec = None if frozen else verified.lookup(p.entry.source.digest, fp)
            if rec is not None:
                labels[name].append(rec["signedBy"])
            else:
                todo.append((name, rule, fp))
    if todo and project.offline and any(not prepared[n].entry.source.is_layout for n, _, _ in todo):
        names = ", ".join(sorted({n for n, _, _ in todo}))
        raise VerificationError(
            f"{names}: the trust policy needs the registry to check signatures (--offline)"
        )

    def one(item: tuple[str, TrustRule, str]) -> tuple[str, TrustRule, str, TrustCheck]:
        name, rule, fp = item
        project.report(f"verifying {name} against {rule.pattern}")
        return name, rule, fp, check_trust(project, prepared[name].entry, rule)

    warnings: list[str] = []
    failed: set[str] = set()
    for name, rule, fp, result in sorted(_parallel(todo, one), key=lambda r: (r[0], r[1].pattern)):
        entry = prepared[name].entry
        if result.ok:
            assert result.signed_by is not None
            verified.remember(entry.source.digest, fp, result.signed_by, result.kind, result.key_id)
            labels[name].append(result.signed_by)
            continue
        failed.add(name)
        if rule.mode == "enforce":
            from .trust.policy import refusal

            raise refusal(name, entry.source.ref, result)
        warnings.append(
            f"{name}: not verified by trust policy {rule.pattern!r} "
            f"({result.reason()}); installed anyway (mode warn)"
        )
    for name, p in list(prepared.items()):
        signed = None if name in failed or not labels[name] else " + ".join(labels[name])
        prepared[name] = replace(p, entry=replace(p.entry, signed_by=signed))
    return warnings


def link_paths(spec: SkillSpec, links: Sequence[str]) -> tuple[str, ...]:
    """Where a skill is linked: each link folder (top-level and per-skill) + its name."""
    from .boundary import check_relpath

    folders = (*links, *spec.additional_base_paths)
    return tuple(sorted({f"{check_relpath(d, 'link folder')}/{spec.name}" for d in folders}))


def _with_links(locked: LockedSkill, spec: SkillSpec, manifest: Manifest) -> LockedSkill:
    return replace(
        locked,
        additional_installed_paths=link_paths(spec, manifest.links),
        path=skill_rel(spec.name),
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
        inst.update_gitignore(project.boundary, [], keep_block=True)
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
                    _check_collection(project, manifest, resolved, members)
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


def _check_collection(
    project: Project,
    manifest: Manifest,
    resolved: Resolved,
    members: Sequence[tuple[Reference, str | None, str]],
) -> None:
    """A collection's own trust rule applies to its index; members elsewhere need consent.

    Each member is later checked under both its own rule and the collection's
    (:func:`entry_rules`), like any entry with a ``collection``.
    """
    rule = rule_for(manifest.trust, resolved.ref.name) if manifest.trust else None
    if rule is not None:
        from .trust.policy import check, refusal

        target = project.online_target(resolved.ref, f"verifying {resolved.ref}")
        subject, _ = get_manifest(target, resolved.digest, project.cache)
        result = check(target, subject, rule, project.root)
        if not result.ok:
            if rule.mode == "enforce":
                raise refusal("collection", f"{resolved.ref}@{resolved.digest}", result)
            project.report(f"warning: collection {resolved.ref} not verified: {result.reason()}")
    outside = sorted({str(m) for m, _, _ in members if m.policy_name != resolved.ref.policy_name})
    if outside and not project.allow_external:
        raise UsageError(
            f"the collection {resolved.ref} lists skills from other repositories: "
            f"{', '.join(outside)}",
            hints=[
                "pass --allow-external to add them (each is still checked under its own "
                "trust rule and the collection's)"
            ],
        )


def _collection_members(
    project: Project, resolved: Resolved
) -> list[tuple[Reference, str | None, str]] | None:
    """(repository, listed tag, manifest digest) of each skill when ``resolved`` is a
    collection; None when it is a single skill."""
    from .formats import detect, select_collection_entry
    from .publish.collection import member_source

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
        folder = project.root / skill_rel(s.name)
        description = ""
        try:
            from .skill.rules import read_skill

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
                skill_rel(s.name),
                folder.is_dir() and not folder.is_symlink(),
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
    project: Project, entry: LockedSkill, state: InstallState | None
) -> list[FileRecord] | None:
    """The files ``entry`` should have: from skillcrate's state or the cache, only when
    they hash to the lock's tree."""
    rel = skill_rel(entry.name)
    art = state.artifacts.get(rel) if state else None
    if state is not None and art is not None and art.tree == entry.tree:
        recs = state.records_for(rel)
        if recs is not None:
            return recs
    cached = project.cache.get_unpacked(entry.source.digest)
    if cached is not None and cached.tree == entry.tree:
        return list(cached.records)
    return None


def verify(project: Project) -> list[Drift]:
    """Offline check: every installed folder matches its lock ``tree``; names each difference."""
    from .errors import UnsafePath
    from .skill.tree import diff_tree

    manifest = project.load_manifest()
    lock = project.load_lock()
    if lock is None:
        return [Drift("-", f"{LOCK_NAME} is missing")]
    state = read_state(project.boundary.root, records=True)
    b = project.boundary
    drift: list[Drift] = []
    for entry in lock.skills:
        rel = skill_rel(entry.name)
        try:
            st = b.lstat(rel)
        except UnsafePath as exc:
            drift.append(Drift(entry.name, f"unsafe: {exc.message}", [rel]))
            continue
        if st is None or not _is_dir(st):
            drift.append(Drift(entry.name, "not installed", [rel]))
            continue
        folder = b.path(rel)
        expected = _expected_files(project, entry, state)
        if expected is not None:
            diff = diff_tree(folder, [r.tree_file() for r in expected])
            for kind, paths in (
                ("modified", diff.modified),
                ("extra", diff.extra),
                ("missing", diff.missing),
                ("mode changed", diff.mode_changed),
            ):
                if paths:
                    drift.append(Drift(entry.name, kind, [f"{rel}/{p}" for p in paths]))
        elif entry.tree:
            try:
                actual = tree_digest_of(folder)
            except SkillcrateError:
                actual = ""
            if actual != entry.tree:
                drift.append(Drift(entry.name, "modified (tree digest differs)", [rel]))
        spec = manifest.get(entry.name)
        links = link_paths(spec, manifest.links) if spec else entry.additional_installed_paths
        for link in links:
            try:
                present = b.lstat(link) is not None and b.path(link).is_dir()
            except SkillcrateError:
                present = False
            if not present:
                drift.append(Drift(entry.name, "link missing", [link]))
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
        for rule in entry_rules(manifest, entry):
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
