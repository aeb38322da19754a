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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .boundary import skill_rel
from .cache import Cache
from .errors import ProjectError, SkillcrateError, UsageError
from .fetch import fetch_skill, get_manifest
from .formats import AS_ARTIFACT
from .installer import gitignore
from .installer.state import InstallState, read_state
from .oci.model import parse_manifest
from .project.files import LOCK_NAME, MANIFEST_NAME
from .project.lockfile import LockedSkill, Lockfile
from .project.manifest import Manifest, SkillSpec, new_manifest
from .reference import Reference
from .skill.tree import FileRecord, tree_digest_of
from .trust.rules import TrustRule, rule_for
from .versions import caret_spec, classify_spec, parse_semver

if TYPE_CHECKING:
    from .trust.policy import TrustCheck

from ._threads import parallel
from .installer.apply import InstallResult
from .installer.pipeline import install_locked
from .installer.plan import link_paths
from .installer.prepare import is_dir
from .installer.trust import check_trust, entry_rules
from .project.context import Project
from .resolver import Resolved, resolve_spec, selectable_tag, spec_version


def install(
    project: Project,
    *,
    frozen: bool = False,
    force: Iterable[str] = (),
    manifest: Manifest | None = None,
    keep_going: bool = False,
) -> InstallResult:
    """Make ``.agents/skills`` match the lock, resolving only what the lock cannot answer.

    ``keep_going``: install every skill that can be, keep the others as they were, and
    list them in ``result.failed`` (``frozen`` stays all-or-nothing).
    """
    with project.lock():
        return install_locked(
            project, frozen=frozen, force=force, manifest=manifest, keep_going=keep_going
        )


def init(project: Project) -> bool:
    """Create skills.json (if absent) and the .gitignore block; True when created."""
    with project.lock():
        created = False
        if not project.manifest_path.exists():
            project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
            new_manifest(project.manifest_path).save()
            created = True
        else:
            project.load_manifest()  # refuse to continue on a malformed file
        if not project.is_global:
            gitignore.update_gitignore(project.boundary, {}, keep_block=True)
        return created


@dataclass(frozen=True)
class AddRequest:
    """One skill named on ``add``'s command line, with its version range and name."""

    ref: str
    version: str | None = None
    name: str | None = None
    exact: bool = False


def _saved_source(project: Project, ref: Reference, cwd: Path) -> str:
    """``source`` as saved in skills.json: no tag/digest; layout paths relative to the project."""
    if not ref.layout:
        return ref.name
    path = Path(ref.repository)
    if project.is_global:  # the user-level skills.json: no folder to be relative to
        text = (cwd / path).absolute().as_posix()
    elif not path.is_absolute():
        text = Path(os.path.relpath((cwd / path).absolute(), project.root)).as_posix()
        if not text.startswith("."):
            text = "./" + text
    else:
        text = path.as_posix()
    if Reference.parse(f"oci:{text}").repository != text:  # `oci:dir:v1` reads as a tag
        raise UsageError(
            f"{ref}: the layout folder {ref.repository} ends in ':{text.rsplit(':', 1)[1]}', "
            f"which {MANIFEST_NAME} would read as a tag; rename the folder"
        )
    return f"oci:{text}"


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
    with project.lock(), project.cache.private_scope():  # the probes' trees, if not moved in
        if project.manifest_path.exists():
            manifest = project.load_manifest()
        else:
            manifest = new_manifest(project.manifest_path)
        added: dict[str, Resolved] = {}

        def add_one(spec: SkillSpec, resolved: Resolved, fallback: str, req: AddRequest) -> None:
            name = spec.name
            if not name:
                target = project.online_target(resolved.ref, f"fetching {req.ref}")
                name = fetch_skill(  # extracted once: the install moves this tree in
                    target, resolved.digest, project.cache, fallback_name=fallback, private=True
                ).name
            have = manifest.get(name)
            if have is not None and name not in added and _same_entry_source(have, spec):
                # npm/uv/cargo: adding what is there again rewrites its spec (or does nothing)
                if have.version != spec.version:
                    manifest.set_version(name, spec.version)
                    added[name] = resolved
                return
            if have is not None or name in added:
                raise ProjectError(
                    f"{name} is already in {MANIFEST_NAME}"
                    + (f" (from {have.source})" if have else ""),
                    hints=[
                        f"`skillcrate remove {name}` first to take it from another source; "
                        "or use --name to add it under another name"
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
            version = _saved_version(req, ref, resolved)
            spec = SkillSpec(name=req.name or "", source=source, version=version)
            add_one(spec, resolved, base.last_segment, req)
        return install_locked(
            project, manifest=manifest, save_manifest=True, force=added, resolved=added
        )


def _same_entry_source(have: SkillSpec, spec: SkillSpec) -> bool:
    """Whether ``spec`` names the repository of the existing entry ``have`` (and neither
    came from a collection, whose entries are managed as one)."""
    if have.collection or spec.collection:
        return False
    try:
        return have.reference().policy_name == spec.reference().policy_name
    except SkillcrateError:
        return False


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
        result = check(target, subject, rule, project.base_dir)
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


def require_known(manifest: Manifest, names: Sequence[str], lock: Lockfile | None = None) -> None:
    """Refuse names skills.json does not list, naming the ones it does; with ``lock``, a
    skill that is there because others need it is refused naming them."""
    unknown = [n for n in names if n not in manifest]
    if not unknown:
        return
    needed = [e for e in (lock.get(n) if lock else None for n in unknown) if e is not None]
    if needed:
        entry = needed[0]
        raise ProjectError(
            f"{entry.name} is not in {MANIFEST_NAME}: it is installed because "
            f"{', '.join(entry.required_by) or 'another skill'} needs it",
            hints=[
                f"`skillcrate why {entry.name}` shows the way; removing what needs it "
                "removes it too"
            ],
        )
    known = ", ".join(manifest.names()) or "none"
    raise ProjectError(f"not in {MANIFEST_NAME}: {', '.join(unknown)} (known: {known})")


def remove(project: Project, names: Sequence[str]) -> InstallResult:
    """Drop skills from skills.json and the lock, and delete what skillcrate installed;
    the skills they needed that nothing else needs go with them."""
    with project.lock():
        manifest = project.load_manifest()
        require_known(manifest, names, project.load_lock())
        for n in names:
            manifest.remove(n)
        return install_locked(project, manifest=manifest, save_manifest=True)


def update(project: Project, names: Sequence[str] = (), *, latest: bool = False) -> InstallResult:
    """Re-resolve within ranges (all or ``names``, transitive skills included); ``latest``
    also moves the ranges skills.json writes forward."""
    with project.lock():
        manifest = project.load_manifest()
        lock = project.load_lock()
        transitive = [n for n in (lock.names() if lock else []) if n not in manifest]
        chosen = list(names) or [*manifest.names(), *transitive]
        require_known(manifest, [n for n in chosen if n not in transitive])
        if latest:
            for name in chosen:
                spec = manifest.get(name)
                if spec is None:
                    continue  # transitive: its dependents' ranges decide
                kind = classify_spec(spec_version(spec))
                if kind.kind in ("digest", "tag", "latest"):
                    continue  # a digest, a non-version tag or "*": nothing to move
                target = project.online_target(spec.reference(), f"updating {name}")
                newest = selectable_tag(project, target, classify_spec(None), target.tags())
                if newest and parse_semver(newest) is not None:
                    manifest.set_version(name, moved_spec(kind.text, kind.kind, newest))
        return install_locked(project, manifest=manifest, save_manifest=latest, force=chosen)


def moved_spec(spec: str, kind: str, newest: str) -> str:
    """The spec ``update --latest`` saves: same style (exact, ``~`` or ``^``), newest version."""
    if kind == "exact":
        return newest
    if spec.startswith("~") and "||" not in spec and " " not in spec.strip():
        return "~" + caret_spec(newest)[1:]
    return caret_spec(newest)


@dataclass(frozen=True)
class Outdated:
    """One row of ``outdated``: the locked version, the newest the range allows, the newest."""

    name: str
    spec: str
    current: str
    wanted: str
    latest: str
    source: str
    tracking: bool = False  # the spec follows a tag (latest, stable, v1): compare digests
    required_by: tuple[str, ...] = ()  # the locked skills that need it

    @property
    def is_outdated(self) -> bool:
        if self.tracking:  # outdated when the tag now points at other content
            return self.current != self.wanted
        return self.current != self.wanted or (bool(self.latest) and self.current != self.latest)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "current": self.current,
            "wanted": self.wanted,
            "latest": self.latest,
            "source": self.source,
            "tracking": self.tracking,
            "requiredBy": list(self.required_by),
            "outdated": self.is_outdated,
        }


def outdated(project: Project) -> list[Outdated]:
    """current (locked) / wanted (highest in range) / latest (highest published) per skill."""
    manifest = project.load_manifest()
    lock = project.load_lock()

    def one(spec: SkillSpec) -> Outdated:
        locked = lock.get(spec.name) if lock else None
        current = (locked.version or locked.source.digest) if locked else ""
        needs = locked.required_by if locked else ()
        version = spec_version(spec)
        kind = classify_spec(version)
        if kind.kind == "digest":
            return Outdated(
                spec.name, kind.text, current, kind.text, kind.text, spec.source, required_by=needs
            )
        target = project.online_target(spec.reference(), f"checking {spec.name}")
        tags = target.tags()
        newest = selectable_tag(project, target, classify_spec(None), tags)
        if kind.kind == "tag" or (kind.kind == "range" and kind.text in tags):
            # a tag is followed, not a version: show where it pointed and where it points
            tag = kind.text
            now = target.resolve(tag).digest
            have = f"{tag}@{locked.source.digest[7:19]}" if locked else ""
            want = f"{tag}@{now[7:19]}"
            latest = want if kind.kind == "tag" else newest
            return Outdated(
                spec.name, tag, have, want, latest, spec.source, tracking=True, required_by=needs
            )
        wanted = selectable_tag(project, target, kind, tags)
        return Outdated(
            spec.name, version or "*", current, wanted, newest, spec.source, required_by=needs
        )

    def transitive(entry: LockedSkill) -> Outdated:
        """A skill that is there because others need it: wanted fits all of them."""
        from .solver import newest_fitting, requirements_on

        reqs = requirements_on(project, lock, entry.name) if lock else []
        target = project.online_target(entry.source.reference(), f"checking {entry.name}")
        tags = target.tags()
        newest = selectable_tag(project, target, classify_spec(None), tags)
        best = newest_fitting(project, reqs, tags)
        specs = ", ".join(sorted({f"{r.wanted or '*'}" for r in reqs})) or "*"
        return Outdated(
            entry.name,
            specs,
            entry.version or entry.source.digest,
            (best.tag or best.digest) if best else "",
            newest,
            entry.spec_source,
            required_by=entry.required_by,
        )

    rows = parallel(manifest.skills, one)
    others = [e for e in (lock.skills if lock else ()) if e.name not in manifest]
    return rows + parallel(others, transitive)


@dataclass(frozen=True)
class Listed:
    """One row of ``list``: a locked skill and whether it is installed."""

    name: str
    version: str
    digest: str
    description: str
    path: str
    installed: bool
    source: str
    direct: bool = True  # listed in skills.json (else there because other skills need it)
    dependencies: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "description": self.description,
            "path": self.path,
            "installed": self.installed,
            "source": self.source,
            "direct": self.direct,
            "dependencies": list(self.dependencies),
            "requiredBy": list(self.required_by),
        }


def list_skills(project: Project) -> list[Listed]:
    manifest = project.load_manifest()
    lock = project.load_lock()
    if lock is None:
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
                s.name in manifest,
                s.dependencies,
                s.required_by,
            )
        )
    return out


@dataclass(frozen=True)
class TreeNode:
    """One skill in ``list --tree``: what it needs, each shown once (npm's "deduped")."""

    name: str
    version: str
    children: tuple[TreeNode, ...] = ()
    deduped: bool = False  # shown in full elsewhere in the tree
    missing: bool = False  # the lock names it but does not hold it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.deduped or self.missing:
            out["deduped" if self.deduped else "missing"] = True
        out["dependencies"] = [c.to_json() for c in self.children]
        return out

    def lines(self, prefix: str = "", last: bool = True, top: bool = True) -> list[str]:
        note = " (deduped)" if self.deduped else " (missing from the lock)" if self.missing else ""
        label = f"{self.name} {self.version}".rstrip() + note
        out = [label if top else f"{prefix}{'└── ' if last else '├── '}{label}"]
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, child in enumerate(self.children):
            out += child.lines(inner, i == len(self.children) - 1, False)
        return out


def _locked_version(entry: LockedSkill) -> str:
    return entry.version or entry.source.digest[:19]


def tree(project: Project) -> list[TreeNode]:
    """The lock's dependency tree from each skills.json entry (offline)."""
    manifest = project.load_manifest()
    lock = project.load_lock()
    shown: set[str] = set()

    def node(name: str, path: tuple[str, ...]) -> TreeNode:
        entry = lock.get(name) if lock else None
        if entry is None:
            return TreeNode(name, "", missing=True)
        if name in shown or name in path:
            return TreeNode(name, _locked_version(entry), deduped=True)
        shown.add(name)
        kids = tuple(node(d, (*path, name)) for d in entry.dependencies)
        return TreeNode(name, _locked_version(entry), kids)

    return [node(name, ()) for name in manifest.names() if lock and lock.get(name)]


@dataclass(frozen=True)
class Why:
    """Why a skill is installed: each way from skills.json to it (npm's ``explain``)."""

    name: str
    version: str
    direct: bool
    paths: tuple[tuple[str, ...], ...]  # names from a skills.json entry to this skill
    labels: Mapping[str, str] = field(default_factory=dict)  # name → "name version"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "direct": self.direct,
            "paths": [list(p) for p in self.paths],
        }

    def lines(self) -> list[str]:
        out = [f"{self.name} {self.version}"]
        for path in self.paths:
            out.append("  " + " → ".join([MANIFEST_NAME, *(self.labels[n] for n in path)]))
        return out


def why(project: Project, name: str) -> Why:
    """Every path from skills.json to ``name`` through the lock's ``requiredBy`` (offline)."""
    manifest = project.load_manifest()
    lock = project.load_lock()
    entry = lock.get(name) if lock else None
    if entry is None or lock is None:
        known = ", ".join(lock.names() if lock else []) or "none"
        raise ProjectError(f"{name} is not in {LOCK_NAME} (installed: {known})")
    paths: list[tuple[str, ...]] = []

    def up(here: str, tail: tuple[str, ...]) -> None:
        if len(paths) >= 100:
            return
        if here in manifest:
            paths.append((here, *tail))
        held = lock.get(here)
        for parent in held.required_by if held else ():
            if parent not in tail and parent != here:
                up(parent, (here, *tail))

    up(name, ())
    labels = {e.name: f"{e.name} {_locked_version(e)}" for e in lock.skills}
    paths.sort(key=lambda p: (len(p), p))
    return Why(name, _locked_version(entry), name in manifest, tuple(paths), labels)


@dataclass
class Drift:
    """A skill whose installed folder differs from the lock (``verify``)."""

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
        if st is None or not is_dir(st):
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
    """One skill's signature check under its trust rule (``verify``)."""

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

    return parallel(todo, one)


def known_digests(project: Project) -> set[str]:
    """Digests the lock pins (for ``cache prune`` of one project)."""
    lock = project.load_lock()
    return {s.source.digest for s in lock.skills} if lock else set()


def live_projects(project: Project) -> list[Path]:
    """This project and every other one skillcrate installed into that still exists."""
    from .installer.state import known_projects

    roots = [project.root, *known_projects()]
    return sorted({Path(os.path.realpath(r)) for r in roots})


def pinned_by(roots: Sequence[Path]) -> set[str]:
    """Manifest digests the locks of ``roots`` pin; a lock that does not parse is skipped."""
    from .config import global_dir
    from .project.lockfile import load_lockfile

    out: set[str] = set()
    for path in [*(root / LOCK_NAME for root in roots), global_dir() / LOCK_NAME]:
        try:  # the user-level lock (-g) is not in its root (the home folder): always read it
            lock = load_lockfile(path)
        except SkillcrateError:
            continue
        if lock is not None:
            out |= {s.source.digest for s in lock.skills}
    return out


def cache_keep_set(project: Project, cache: Cache, roots: Sequence[Path] = ()) -> set[str]:
    """Every digest this project's lock and the locks of the other ``roots`` need:
    manifests, their blobs, and unpacked trees.

    This project's lock must parse (a malformed one stops ``prune``: nothing it pins is
    lost); another project's lock that does not parse is skipped.
    """
    import json

    keep: set[str] = set()
    own = Path(os.path.realpath(project.root))
    digests = known_digests(project) | pinned_by([r for r in roots if r != own])
    for digest in digests:
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


@dataclass
class Mirrored:
    """One repository state ``mirror`` copied (or found already there)."""

    name: str  # the skill (or collection) it is for
    source: str  # canonical reference with digest
    dest: str  # where it went
    copied: Any  # publish.mirror.Copied

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "dest": self.dest,
            "copied": self.copied.to_json(),
        }


def mirror_sources(project: Project, refs: Sequence[str] = ()) -> list[tuple[str, Reference]]:
    """What ``mirror`` copies: ``(name, reference with digest or tag)``.

    Without ``refs``: every registry skill the lock pins (by digest, with its tag) and
    every collection skills.json names (by its tag: the lock does not pin collections).
    ``oci:`` layout sources are left out: they travel with the project.
    """
    if refs:
        out = []
        for text in refs:
            ref = Reference.parse(text)
            if ref.layout:
                raise UsageError(f"{text}: mirror copies from registries; {text} is a folder")
            if not ref.reference:
                raise UsageError(f"{text}: give a tag or a digest (e.g. {text}:1.0.0)")
            out.append((ref.repository.rsplit("/", 1)[-1], ref))
        return out
    lock = project.load_lock()
    if lock is None:
        raise ProjectError(
            f"no {LOCK_NAME} in {project.root}", hints=["run `skillcrate install` first"]
        )
    out = []
    for entry in lock.skills:
        if entry.source.is_layout:
            continue
        base = Reference(registry=entry.source.registry, repository=entry.source.repository)
        out.append(
            (
                entry.name,
                replace(
                    base, tag=entry.source.tag or entry.version or None, digest=entry.source.digest
                ),
            )
        )
    seen: set[str] = set()
    for spec in project.load_manifest().skills:
        if spec.collection and spec.collection not in seen:
            seen.add(spec.collection)
            ref = Reference.parse(spec.collection)
            if not ref.layout:
                out.append((f"collection {ref.name}", ref))
    return out


def mirror_dest(dest: str, ref: Reference) -> Reference:
    """Where ``ref``'s repository goes under ``dest`` (a registry prefix or ``oci:DIR``)."""
    if dest.startswith("oci:"):
        return Reference(
            registry="", repository=f"{dest[4:].rstrip('/')}/{ref.repository}", layout=True
        )
    prefix = Reference.parse(dest.rstrip("/") + "/x")  # validates the host and the path
    path = prefix.repository[: -len("x")]
    return Reference(registry=prefix.registry, repository=f"{path}{ref.repository}")


def mirror(project: Project, dest: str, refs: Sequence[str] = ()) -> list[Mirrored]:
    """Copy what the lock pins (or ``refs``) to ``dest``: see :mod:`skillcrate.publish.mirror`."""
    from .publish.mirror import mirror_skill

    sources = mirror_sources(project, refs)
    claimed: dict[str, str] = {}
    for _name, ref in sources:
        there = mirror_dest(dest, ref).name
        if claimed.setdefault(there, ref.name) != ref.name:
            raise UsageError(
                f"{claimed[there]} and {ref.name} would both be copied to {there}",
                hints=["mirror each registry to a prefix of its own (REF arguments)"],
            )
    out: list[Mirrored] = []
    for name, ref in sources:
        to = mirror_dest(dest, ref)
        source = project.online_target(ref, f"mirroring {name}")
        target = project.client.open(to, project.root)
        digest = ref.digest or source.resolve(ref.tag or "latest").digest
        tags = [ref.tag] if ref.tag else []
        copied = mirror_skill(source, target, digest, tags, project.cache, report=project.report)
        out.append(Mirrored(name, f"{ref.name}@{digest}", to.name, copied))
    return out


SELF_SKILL = "skillcrate"
SELF_VENDOR = ".agents/vendor/skillcrate"  # the layout add --self writes (committed with it)
SELF_EPOCH = "1767225600"  # 2026-01-01: fixed, so the same skillcrate packs the same digest


def self_skill_folder() -> Path:
    """The skill about skillcrate that ships with the package (``data/skillcrate``)."""
    return Path(__file__).resolve().parent / "data" / SELF_SKILL


def vendor_self(project: Project) -> Reference:
    """Write the shipped skillcrate skill as an OCI layout into the project (under
    ``.agents/vendor/skillcrate``; for ``-g`` in the user-level folder), tagged with this
    skillcrate's version; the reference to add. The same version writes the same digest,
    so running it again changes nothing. A symlink on the way is refused: the layout is
    only ever written inside the project."""
    from . import __version__
    from .formats import pack
    from .oci.layout import LayoutRepository
    from .publish.push import push_packed

    dest = project.base_dir.joinpath(*SELF_VENDOR.split("/"))
    here = project.base_dir
    for part in SELF_VENDOR.split("/"):
        here = here / part
        if here.is_symlink():
            raise ProjectError(
                f"{here} is a symbolic link; skillcrate writes its own skill only inside "
                f"{project.base_dir}",
                hints=["remove the link, or add the skill from a registry instead"],
            )
    env = {"SOURCE_DATE_EPOCH": SELF_EPOCH}
    packed = pack(self_skill_folder(), tag=__version__, env=env, git=False)
    push_packed(LayoutRepository(dest), packed, [__version__])
    where = str(dest) if project.is_global else "./" + SELF_VENDOR  # saved as in skills.json
    return Reference(registry="", repository=where, tag=__version__, layout=True)
