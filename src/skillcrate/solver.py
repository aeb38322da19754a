"""The dependency tree: the skills skills.json names and every skill they need, resolved
to one version per name (agents read one flat ``.agents/skills``).

resolvelib (pip's backtracking resolver) searches; this module is its provider:

- an *identifier* is a skill name, so each name gets exactly one version;
- a *requirement* is a name, a source, a version spec and who asks: a skills.json entry
  (``parent`` None) or a dependency a candidate declares;
- a *candidate* is a tag of a source pinned to its manifest digest. Candidates come
  newest first, with the locked pin first of all (unless the name is being updated), so
  a lock stays as it is wherever it still fits; draft, testing and archived versions
  follow :func:`~skillcrate.resolver.resolve_spec`'s rules;
- a candidate's dependencies come from its manifest annotation
  (``io.skillcrate.dependencies``, no layer download) or, for a format with no room for
  it, from the ``skills.json`` inside its layer.

Every requirement on a name must name the same repository (canonically) and be
satisfied by the one candidate; a skills.json entry is a requirement like the others, so
it wins only when it satisfies the skills that need it. Before resolvelib runs, the best
candidate of each requirement and its dependencies are fetched level by level on up to 8
threads (values returned; the memo is filled on this thread), so when the newest
versions fit nothing more is asked; backtracking reads older candidates as it needs them.
Conflicts and cycles are :class:`~skillcrate.errors.DependencyError` naming each path
from skills.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from . import states as lifecycle
from ._threads import parallel
from .errors import DependencyError, FormatError, NotFound, SkillcrateError
from .fetch import detect_skill, fetch_skill, get_manifest
from .formats import A_DEPENDENCIES
from .oci.model import parse_manifest
from .project.context import Project
from .project.files import LOCK_NAME, MANIFEST_NAME
from .project.lockfile import LockedSkill, Lockfile
from .project.manifest import Manifest, SkillSpec
from .reference import Reference
from .resolver import Resolved, resolve_spec
from .skill.dependencies import FILE, Dependency, from_annotation, read_folder
from .versions import (
    Spec,
    asks_for_prerelease,
    candidate_tags,
    classify_spec,
    parse_semver,
    satisfies,
    sort_tags,
)

MAX_ROUNDS = 2000


@dataclass(frozen=True)
class Requirement:
    """A name wanted from a source at a version spec, by skills.json or by a skill."""

    name: str
    source: str
    version: str | None = None
    parent: str | None = None  # the dependent's name; None: skills.json

    repository: Reference = field(init=False, compare=False, repr=False)  # no tag or digest
    policy: str = field(init=False, compare=False, repr=False)  # its canonical name
    wanted: str | None = field(init=False, compare=False, repr=False)  # the effective spec

    def __post_init__(self) -> None:
        """Parsed once, on the thread that makes it (workers only read requirements)."""
        ref = Reference.parse(self.source)
        object.__setattr__(self, "repository", ref.with_tag(None))
        object.__setattr__(self, "policy", self.repository.policy_name)
        # ``version``, else a tag or digest written in ``source``
        object.__setattr__(self, "wanted", self.version or ref.digest or ref.tag)

    def spec(self) -> Spec:
        return classify_spec(self.wanted)

    def as_spec(self) -> SkillSpec:
        return SkillSpec(name=self.name, source=self.source, version=self.version)


@dataclass(frozen=True)
class Candidate:
    """One version of a skill: a repository, the tag it was found by, its manifest digest."""

    name: str
    ref: Reference  # the repository, without tag or digest
    tag: str | None
    digest: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.tag or self.digest[:19]}"

    policy: str = field(init=False, compare=False, repr=False)  # the repository's canonical name

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", self.ref.policy_name)

    def resolved(self) -> Resolved:
        return Resolved(self.ref, self.tag, self.digest, self.tag or "")

    @classmethod
    def locked(cls, entry: LockedSkill) -> Candidate:
        """The version a lock entry pins."""
        src = entry.source
        return cls(entry.name, src.reference().with_tag(None), src.tag, src.digest)


@dataclass(frozen=True)
class Pin:
    """One skill of the solution: what it was asked as, what it resolved to, what it needs."""

    spec: SkillSpec  # the skills.json entry; for a transitive skill, the dependency's source
    resolved: Resolved
    dependencies: tuple[str, ...] = ()


@dataclass
class Solution:
    """The dependency solver's pins, the skills it could not resolve, and its timings."""

    pins: dict[str, Pin] = field(default_factory=dict)
    failed: dict[str, SkillcrateError] = field(default_factory=dict)  # keep-going: roots left out
    fetch_seconds: float = 0.0  # reading candidates and their dependencies before the search
    resolve_seconds: float = 0.0  # resolvelib's search (and what backtracking had to read)


def declared_dependencies(
    project: Project, ref: Reference, digest: str, name: str
) -> tuple[Dependency, ...]:
    """What the skill at ``digest`` needs: its manifest annotation, else (formats without
    room for it) the ``skills.json`` in its layer. Cached manifests and trees are used."""
    target = project.target(ref)
    where = f"{name} ({ref.name}@{digest[:19]})"
    _desc, _obj, det = detect_skill(target, digest, project.cache, name=name)
    text = det.annotations.get(A_DEPENDENCIES)
    if text is not None:
        return from_annotation(text, where)
    if det.format == "agentskills":  # skillcrate's own format always records them
        return ()
    fetched = fetch_skill(target, digest, project.cache, fallback_name=name, name=name)
    declared = read_folder(fetched.root)
    if declared is None:
        return ()
    if declared.errors:
        raise FormatError(f"{where}: {FILE}: {declared.errors[0]}")
    return declared.dependencies


def satisfied(req: Requirement, cand: Candidate, *, pre: bool = False) -> bool:
    """Whether ``cand`` is what ``req`` asks for (``pre``: ranges may pick prereleases)."""
    if req.policy != cand.policy:
        return False
    kind = req.spec()
    if kind.kind == "digest":
        return cand.digest == kind.text
    if cand.tag is None:  # pinned by digest: satisfies only "any version"
        return kind.kind == "latest"
    if kind.kind == "tag":
        return cand.tag == kind.text
    if kind.kind == "range":
        assert kind.range is not None
        if cand.tag == kind.text:  # a spec that is a tag's name (`1`, `v1`)
            return True
        version = parse_semver(cand.tag)
        return version is not None and kind.range.test(version, include_prerelease=pre)
    return satisfies(kind, cand.tag) or (kind.kind == "latest" and pre)


def closure_problems(project: Project, entries: Sequence[LockedSkill]) -> list[str]:
    """``--frozen``: what each locked skill declares it needs is exactly its lock
    ``dependencies``, each held from the declared repository at a version the declared
    range allows. A manifest that is neither cached nor reachable (``--offline``) is
    checked by name only (:func:`~skillcrate.installer.plan.frozen_problems`)."""
    held = {e.name: e for e in entries}

    def one(entry: LockedSkill) -> tuple[LockedSkill, tuple[Dependency, ...] | None]:
        pin = Candidate.locked(entry)
        try:
            return entry, declared_dependencies(project, pin.ref, pin.digest, entry.name)
        except NotFound:
            if project.offline:
                return entry, None
            raise

    out: list[str] = []
    for entry, deps in parallel(list(entries), one):
        if deps is None:
            continue
        names = tuple(sorted(d.name for d in deps))
        if names != tuple(sorted(entry.dependencies)):
            out.append(
                f"~ {entry.name}: needs {', '.join(names) or 'nothing'}, but {LOCK_NAME} "
                f"records {', '.join(entry.dependencies) or 'nothing'}"
            )
        for dep in deps:
            have = held.get(dep.name)
            if have is None:
                continue
            req = Requirement(dep.name, dep.source, dep.version, entry.name)
            cand = Candidate.locked(have)
            if req.policy != cand.policy:
                out.append(
                    f"~ {dep.name}: {entry.name} needs it from {req.repository.name}, but "
                    f"{LOCK_NAME} fetches it from {have.source.name}"
                )
            elif not satisfied(req, cand, pre=project.pre):
                out.append(
                    f"~ {dep.name}: {entry.name} needs {dep.version or '*'}, but {LOCK_NAME} "
                    f"pins {have.version or have.source.digest}"
                )
    return sorted(out)


def requirements_on(project: Project, lock: Lockfile, name: str) -> list[Requirement]:
    """What the locked skills that need ``name`` ask of it (their manifests, cached)."""
    out = []
    entry = lock.get(name)
    for parent in entry.required_by if entry else ():
        held = lock.get(parent)
        if held is None:
            continue
        pin = Candidate.locked(held)
        for dep in declared_dependencies(project, pin.ref, pin.digest, parent):
            if dep.name == name:
                out.append(Requirement(dep.name, dep.source, dep.version, parent))
    return out


def newest_fitting(
    project: Project, reqs: Sequence[Requirement], tags: Sequence[str] | None = None
) -> Candidate | None:
    """The newest selectable candidate every one of ``reqs`` (one name) accepts, or None
    (``tags``: the repository's tags, when the caller has listed them already)."""
    if not reqs or len({r.policy for r in reqs}) != 1:
        return None
    provider = _Provider(project, {}, ())
    if tags is not None:
        provider.tags[reqs[0].repository.name] = list(tags)
    try:
        for cand in provider._all(reqs[0].name, reqs):
            if all(satisfied(r, cand, pre=project.pre) for r in reqs):
                return cand
    except NotFound:
        return None
    return None


def _key(req: Requirement) -> tuple[str, str, str]:
    return (req.name, req.policy, req.wanted or "")


class _Provider:
    """resolvelib's provider interface (``AbstractProvider``, duck-typed so that resolvelib
    is imported only when a search runs)."""

    def __init__(
        self, project: Project, preferred: Mapping[str, Candidate], roots: Iterable[str]
    ) -> None:
        self.project = project
        self.preferred = preferred
        self.roots = frozenset(roots)
        self.best: dict[tuple[str, str, str], Candidate] = {}  # a requirement's first pick
        self.deps: dict[str, tuple[Dependency, ...]] = {}  # by manifest digest
        self.tags: dict[str, list[str]] = {}  # by repository
        self.status: dict[tuple[str, str], tuple[str, str]] = {}  # (repo, tag) → digest, state
        self.asked: dict[str, dict[str, Requirement]] = {}  # dependent → its requirements
        self.labels: dict[str, str] = {}  # name → the candidate last asked for its dependencies

    # --- the resolvelib provider ------------------------------------------------------

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.name

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, bool, str]:
        causes = {c.requirement.name for c in backtrack_causes}
        direct = any(info.parent is None for info in information[identifier])
        return (identifier not in causes, not direct, identifier)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Iterable[str]:
        return identifiers

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {c.digest for c in incompatibilities[identifier]}

        def matches() -> Iterator[Candidate]:
            if len({r.policy for r in reqs}) != 1:
                return  # two sources claim one name: nothing satisfies both
            seen = set(bad)
            for cand in self._ordered(identifier, reqs):
                if cand.digest not in seen and all(self.is_satisfied_by(r, cand) for r in reqs):
                    seen.add(cand.digest)
                    yield cand

        return matches

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return satisfied(requirement, candidate, pre=self.project.pre)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps = self._dependencies(candidate)
        asked = {d.name: Requirement(d.name, d.source, d.version, candidate.name) for d in deps}
        self.asked[candidate.name] = asked
        self.labels[candidate.name] = candidate.label
        return list(asked.values())

    # --- candidates ---------------------------------------------------------------------

    def _dependencies(self, cand: Candidate) -> tuple[Dependency, ...]:
        if cand.digest not in self.deps:
            self.deps[cand.digest] = declared_dependencies(
                self.project, cand.ref, cand.digest, cand.name
            )
        return self.deps[cand.digest]

    def _ordered(self, name: str, reqs: Sequence[Requirement]) -> Iterator[Candidate]:
        """Candidates best first: the locked pin, each requirement's first pick, then all."""
        pref = self.preferred.get(name)
        if pref is not None:
            yield pref
        for r in reqs:
            best = self.best.get(_key(r))
            if best is not None:
                yield best
        try:
            yield from self._all(name, reqs)
        except SkillcrateError as exc:
            if any(r.parent is None for r in reqs):
                raise
            raise type(exc)(f"{self.path(reqs[0])}: {exc.message}", hints=exc.hints()) from None

    def _all(self, name: str, reqs: Sequence[Requirement]) -> Iterator[Candidate]:
        ref = reqs[0].repository
        kinds = [r.spec() for r in reqs]
        pinned = [
            r for r, k in zip(reqs, kinds, strict=True) if k.kind in ("digest", "exact", "tag")
        ]
        if pinned:  # one tag or digest: what resolve_spec finds (with its errors)
            for r in pinned:
                yield self._first(r)
            return
        tags = self._tags(ref)
        named = [k.text for k in kinds if k.kind == "range" and k.text in tags]
        if named:
            for r in reqs:
                yield self._first(r)
            return
        pre = self.project.pre or any(asks_for_prerelease(k) for k in kinds)
        wanted: list[str] = []
        for k in kinds:
            wanted += candidate_tags(k, tags, include_prerelease=self.project.pre)
        for tag in sort_tags(wanted):
            digest, status = self._state(ref, tag)
            if not lifecycle.is_hidden(status, pre=pre):
                yield Candidate(name, ref, tag, digest)

    def _first(self, req: Requirement) -> Candidate:
        key = _key(req)
        if key not in self.best:
            self.best[key] = _pick(self.project, req)
        return self.best[key]

    def _tags(self, ref: Reference) -> list[str]:
        if ref.name not in self.tags:
            self.tags[ref.name] = list(self.project.online_target(ref, "resolving").tags())
        return self.tags[ref.name]

    def _state(self, ref: Reference, tag: str) -> tuple[str, str]:
        if (ref.name, tag) not in self.status:
            target = self.project.online_target(ref, "resolving")
            desc, data = get_manifest(target, tag, self.project.cache)
            status = lifecycle.status_of(parse_manifest(data).get("annotations"))
            self.status[(ref.name, tag)] = (desc.digest, status)
        return self.status[(ref.name, tag)]

    # --- explanations -------------------------------------------------------------------

    def chain(self, name: str | None) -> list[str]:
        """The way from skills.json to ``name``'s candidate: labels, skills.json first."""
        if name is None:
            return [MANIFEST_NAME]
        return self._chain_from(name, frozenset()) or [MANIFEST_NAME, self.labels.get(name, name)]

    def _chain_from(self, name: str, seen: frozenset[str]) -> list[str] | None:
        label = self.labels.get(name, name)
        if name in self.roots:
            return [MANIFEST_NAME, label]
        for parent in sorted(p for p, kids in self.asked.items() if name in kids):
            if parent not in seen:
                up = self._chain_from(parent, seen | {name})
                if up is not None:
                    return [*up, label]
        return None

    def path(self, req: Requirement) -> str:
        """``skills.json → review 1.2.0 → testing ^1.0.0`` for one requirement."""
        want = f"{req.name} {req.wanted or '*'}"
        return " → ".join([*self.chain(req.parent), want])


def _pick(project: Project, req: Requirement) -> Candidate:
    """The candidate resolve_spec picks for one requirement on its own (network)."""
    res = resolve_spec(project, req.as_spec())
    return Candidate(req.name, res.ref, res.tag, res.digest)


def _probe(
    provider: _Provider, req: Requirement
) -> tuple[Requirement, Candidate | None, tuple[Dependency, ...], SkillcrateError | None]:
    """Worker: a requirement's first pick and what it needs (values only)."""
    try:
        pref = provider.preferred.get(req.name)
        if pref is not None and provider.is_satisfied_by(req, pref):
            cand = pref
        else:
            cand = _pick(provider.project, req)
        deps = provider.deps.get(cand.digest)
        if deps is None:
            deps = declared_dependencies(provider.project, cand.ref, cand.digest, cand.name)
        return req, cand, deps, None
    except SkillcrateError as exc:
        return req, None, (), exc


def _warm(provider: _Provider, roots: Sequence[Requirement]) -> dict[str, SkillcrateError]:
    """Fill the memo level by level (threads); the roots that fail, by name."""
    failed: dict[str, SkillcrateError] = {}
    seen: set[tuple[str, str, str]] = set()
    level = list(roots)
    while level:
        todo = []
        for r in level:
            if _key(r) not in seen:
                seen.add(_key(r))
                todo.append(r)
        following: list[Requirement] = []
        for req, cand, deps, error in parallel(todo, lambda r: _probe(provider, r)):
            if cand is None:
                if req.parent is None and error is not None:
                    failed[req.name] = error
                continue  # a dependency's error is reported by the resolver, with its path
            if cand is not provider.preferred.get(req.name):
                provider.best[_key(req)] = cand
            provider.deps[cand.digest] = deps
            following += [Requirement(d.name, d.source, d.version, req.name) for d in deps]
        level = following
    return failed


def _conflict(provider: _Provider, causes: Iterable[Any]) -> DependencyError:
    """npm/uv-style: which skills want what of one name, through which paths."""
    by_name: dict[str, list[Requirement]] = {}
    for info in causes:
        by_name.setdefault(info.requirement.name, []).append(info.requirement)
    name = sorted(by_name)[0]
    reqs = sorted(set(by_name[name]), key=lambda r: (r.parent or "", r.source, r.wanted or ""))
    sources = sorted({r.policy for r in reqs})
    lines = []
    for r in reqs:
        line = provider.path(r)
        if len(sources) > 1:
            line += f" (from {r.repository.name})"
        lines.append(line)
    if len(sources) > 1:
        head = f"two sources claim the skill name {name}:"
        hint = "a project can hold one skill per name; depend on one source"
    else:
        repo = reqs[0].repository
        head = f"no version of {repo.name} satisfies every skill that needs {name}:"
        shown = sort_tags(provider.tags.get(repo.name, []))
        tail = f" (available: {', '.join(shown[:8])}{', …' if len(shown) > 8 else ''})"
        head = head if not shown else head[:-1] + tail + ":"
        hint = "widen a range, or update the skill that pins the older version"
    return DependencyError(head + "".join(f"\n  {line}" for line in lines), hints=[hint])


def _cycle(provider: _Provider, graph: Mapping[str, Sequence[str]]) -> DependencyError | None:
    """The first dependency cycle in ``graph`` (names → names), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if state.get(child) == 1:
                return [*stack[stack.index(child) :], child]
            if child not in state:
                found = visit(child)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                shown = " → ".join(provider.labels.get(n, n) for n in found)
                return DependencyError(
                    f"dependency cycle: {shown}",
                    hints=["skills may not need each other in a circle; drop one dependency"],
                )
    return None


def plain_picks(
    project: Project,
    lock: Lockfile | None,
    specs: Sequence[SkillSpec],
    resolved: Mapping[str, Resolved],
) -> dict[str, Resolved] | None:
    """The picks for ``specs`` (skills.json entries that must be resolved) when the tree
    needs no search: each resolves on its own (:func:`~skillcrate.resolver.resolve_spec`,
    or ``resolved``) to a version that needs nothing, no locked skill needs it, and the
    lock entry it replaces needed nothing. None otherwise: then :func:`solve`. Errors
    are resolve_spec's (a failure of one spec fails the call)."""
    needed = {d for e in lock.skills for d in e.dependencies} if lock else set()
    for spec in specs:
        old = lock.get(spec.name) if lock else None
        if spec.name in needed or (old is not None and old.dependencies):
            return None

    def one(spec: SkillSpec) -> tuple[str, Resolved, tuple[Dependency, ...]]:
        res = resolved.get(spec.name)
        if res is None:
            project.report(f"resolving {spec.name} {spec.version or '*'}")
            res = resolve_spec(project, spec)
        return spec.name, res, declared_dependencies(project, res.ref, res.digest, spec.name)

    picks = parallel(list(specs), one)
    if any(deps for _, _, deps in picks):
        return None
    return {name: res for name, res, _ in picks}


def solve(
    project: Project,
    manifest: Manifest,
    lock: Lockfile | None,
    *,
    force: Iterable[str] = (),
    resolved: Mapping[str, Resolved] | None = None,
    keep_going: bool = False,
) -> Solution:
    """Resolve skills.json and everything it needs to one pin per name (see the module)."""
    forced = set(force)
    preferred: dict[str, Candidate] = {}
    for entry in lock.skills if lock else ():
        if entry.name not in forced:
            preferred[entry.name] = Candidate.locked(entry)
    for name, res in (resolved or {}).items():
        preferred[name] = Candidate(name, res.ref, res.tag, res.digest)
    roots = [Requirement(s.name, s.source, s.version) for s in manifest.skills]
    provider = _Provider(project, preferred, (r.name for r in roots))
    started = time.perf_counter()
    failed = _warm(provider, roots)
    warmed = time.perf_counter()
    if failed and not keep_going:
        raise failed[next(r.name for r in roots if r.name in failed)]
    wanted = [r for r in roots if r.name not in failed]
    if not wanted:
        return Solution({}, failed)
    from resolvelib import BaseReporter, Resolver
    from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

    try:
        search: Any = Resolver(cast("Any", provider), BaseReporter())
        result = search.resolve(wanted, max_rounds=MAX_ROUNDS)
    except ResolutionImpossible as exc:
        raise _conflict(provider, exc.causes) from None
    except ResolutionTooDeep:
        raise DependencyError(
            f"gave up resolving after {MAX_ROUNDS} rounds of backtracking",
            hints=["narrow the ranges in skills.json"],
        ) from None
    searched = time.perf_counter()
    graph = {
        name: tuple(sorted(d.name for d in provider._dependencies(cand)))
        for name, cand in result.mapping.items()
    }
    for name, cand in result.mapping.items():
        provider.labels[name] = cand.label
    cycle = _cycle(provider, graph)
    if cycle is not None:
        raise cycle
    specs = {s.name: s for s in manifest.skills}
    pins: dict[str, Pin] = {}
    for name, cand in sorted(result.mapping.items()):
        spec = specs.get(name)
        if spec is None:  # transitive: the source its dependents name, no version of its own
            spec = SkillSpec(name=name, source=cand.ref.name)
        pins[name] = Pin(spec, cand.resolved(), graph[name])
    return Solution(pins, failed, warmed - started, searched - warmed)
