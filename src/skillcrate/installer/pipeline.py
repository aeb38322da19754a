"""The install pipeline (see docs/design.md, "Project operations"):

1. :func:`plan.plan_install` (pure): which lock entries stay, move, resolve anew or go;
2. :mod:`prepare` (parallel, values only): prove installed folders from skillcrate's own
   records, or fetch and verify what must be (re)built;
3. :mod:`trust`: the skills.json trust policy on every prepared entry;
4. :func:`apply.preflight` then :func:`apply.apply`: refuse what may not be written, then
   swap folders in, link, prune, and write the lock, the state and ``.gitignore`` last.

A failure before step 4 leaves the project as it was. With ``keep_going`` (the session
hook, ``install --keep-going``) a skill that fails in steps 2-4 is left out instead: its
previous lock entry and installed folder (if any) stay exactly as they were, the others
are installed, and the result lists each failure. The install state then does not count
as up to date, so the next run tries the failed skills again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import TypeVar

from .. import states as lifecycle
from .._threads import parallel
from ..boundary import SKILLS_DIR
from ..errors import FrozenLockfileError, ProjectError, SkillcrateError
from ..fetch import layers_cached
from ..project.context import Project
from ..project.files import LOCK_NAME, MANIFEST_NAME
from ..project.lockfile import LockedSkill, Lockfile
from ..project.manifest import Manifest, SkillSpec
from ..resolver import Resolved
from .apply import InstallResult, apply, link_dirs, preflight
from .plan import Plan, frozen_problems, plan_install, plan_solved, transitive_spec
from .prepare import Prepared, fetch_kept, prepare_new, proven_kept
from .state import read_state
from .trust import apply_trust

__all__ = ["InstallResult", "install_locked"]

T = TypeVar("T")
R = TypeVar("R")


class _Failed:
    """A skill that could not be prepared (keep-going mode): its name and the error."""

    def __init__(self, name: str, error: SkillcrateError) -> None:
        self.name, self.error = name, error


def _nothing_installed(failures: dict[str, SkillcrateError]) -> SkillcrateError:
    if len(failures) == 1:
        return next(iter(failures.values()))
    lines = [f"{name}: {exc.message.splitlines()[0]}" for name, exc in sorted(failures.items())]
    return ProjectError(f"no skill could be installed: {'; '.join(lines)}")


def _guarded(
    fn: Callable[[T], R], name_of: Callable[[T], str], keep_going: bool
) -> Callable[[T], R | _Failed]:
    if not keep_going:
        return fn

    def run(item: T) -> R | _Failed:
        try:
            return fn(item)
        except SkillcrateError as exc:
            return _Failed(name_of(item), exc)

    return run


def _plain(
    project: Project,
    manifest: Manifest,
    lock: Lockfile | None,
    plan: Plan,
    resolved: dict[str, Resolved],
    keep_going: bool,
) -> bool:
    """Whether the plan stands as it is, without a search: only skills.json entries move,
    and what they resolve to needs nothing, nor does anything locked need them
    (:func:`~skillcrate.solver.plain_picks`); ``resolved`` gains their picks. Keep-going:
    a failure leaves it to the search, which reports each skill."""
    from ..solver import plain_picks

    if plan.broken or any(s.name not in manifest for s in plan.resolve):
        return False
    try:
        picks = plain_picks(project, lock, plan.resolve, resolved)
    except SkillcrateError:
        if keep_going:
            return False
        raise
    if picks is None:
        return False
    resolved.update(picks)
    plan.graph.update({name: () for name in picks})
    return True


def _solve(
    project: Project,
    manifest: Manifest,
    lock: Lockfile | None,
    plan: Plan,
    force: Iterable[str],
    resolved: dict[str, Resolved],
    keep_going: bool,
) -> tuple[Plan, dict[str, SkillcrateError]]:
    """Resolve the whole tree (:mod:`skillcrate.solver`) and plan from it; ``resolved``
    gains every pin. Keep-going: a tree that cannot be solved leaves every skill that
    needed resolving as it was (the lock's tree is kept), and each is reported."""
    from ..solver import solve

    force = list(force)
    try:
        solution = solve(
            project, manifest, lock, force=force, resolved=resolved, keep_going=keep_going
        )
    except SkillcrateError as exc:
        if not keep_going:
            raise
        return replace(plan, resolve=[]), {s.name: exc for s in plan.resolve}
    resolved.update({name: pin.resolved for name, pin in solution.pins.items()})
    carried: set[str] = set()
    if lock and solution.failed:  # what the failed skills needed stays as it was
        carried = lock.closure(solution.failed)[0] - set(solution.pins)
    new = plan_solved(lock, solution.pins, force=force, carried=carried)
    for name in sorted(carried - set(solution.failed)):
        locked = lock.get(name) if lock else None
        assert locked is not None
        new.keep.append((transitive_spec(locked), locked))
        new.graph[name] = locked.dependencies
    return new, dict(solution.failed)


def _with_tree(plan: Plan, prepared: dict[str, Prepared]) -> dict[str, Prepared]:
    """Each entry with the names it needs and the names that need it (the plan's tree)."""
    required_by = plan.required_by()
    return {
        name: p
        if p.entry.dependencies == plan.graph.get(name, ())
        and p.entry.required_by == required_by.get(name, ())
        else replace(  # dataclasses.replace is slow: only on a change
            p,
            entry=replace(
                p.entry,
                dependencies=plan.graph.get(name, ()),
                required_by=required_by.get(name, ()),
            ),
        )
        for name, p in prepared.items()
    }


def install_locked(
    project: Project,
    *,
    frozen: bool = False,
    force: Iterable[str] = (),
    manifest: Manifest | None = None,
    save_manifest: bool = False,
    resolved: dict[str, Resolved] | None = None,
    keep_going: bool = False,
) -> InstallResult:
    """Make the project match its lock (the caller holds the project lock).

    ``keep_going``: install what can be installed and report the rest (never with
    ``frozen``, which stays all-or-nothing). Trees extracted for this install alone
    (:meth:`~skillcrate.cache.Cache.put_unpacked` without ``publish``) are moved in or,
    on any failure, removed.
    """
    with project.cache.private_scope():
        return _install_locked(
            project,
            frozen=frozen,
            force=force,
            manifest=manifest,
            save_manifest=save_manifest,
            resolved=resolved,
            keep_going=keep_going,
        )


def _install_locked(
    project: Project,
    *,
    frozen: bool,
    force: Iterable[str],
    manifest: Manifest | None,
    save_manifest: bool,
    resolved: dict[str, Resolved] | None,
    keep_going: bool,
) -> InstallResult:
    keep_going = keep_going and not frozen
    manifest = manifest or project.load_manifest()
    lock = project.load_lock()
    if frozen:
        problems = frozen_problems(manifest, lock)
        if problems:
            raise FrozenLockfileError(
                f"{MANIFEST_NAME} and {LOCK_NAME} disagree (--frozen):\n  " + "\n  ".join(problems),
                hints=["run `skillcrate install` and commit the updated lock"],
            )
    folders = link_dirs(project, manifest)
    plan = plan_install(manifest, lock, force=force)
    resolved = dict(resolved or {})
    unsolved: dict[str, SkillcrateError] = {}
    if plan.needs_solving and not _plain(project, manifest, lock, plan, resolved, keep_going):
        # the whole tree, locked pins preferred
        plan, unsolved = _solve(project, manifest, lock, plan, force, resolved, keep_going)
    state = read_state(project.boundary.root, records=True)
    # Folders the state proves are checked here (an lstat pass each: threads would cost
    # more than they save); only the ones to fetch go to the download threads.
    kept_items = [*plan.keep, *plan.relock]
    name_of: Callable[[tuple[SkillSpec, LockedSkill]], str] = lambda i: i[0].name  # noqa: E731
    entries = project.boundary.lstat_entries(SKILLS_DIR, (i[0].name for i in kept_items))
    prove = partial(proven_kept, project, manifest, state, folders=entries)
    proven = [_guarded(prove, name_of, keep_going)(item) for item in kept_items]
    kept = [p for p in proven if p is not None]
    fetch = _guarded(partial(fetch_kept, project, manifest), name_of, keep_going)
    to_fetch = [item for item, p in zip(kept_items, proven, strict=True) if p is None]
    # Nothing to wait for when the cache holds the tree or its blobs, or the skill is in an
    # oci: layout (read from disk): on the download threads it would only wait for the GIL
    # (a fresh clone of 20 skills: ~15 ms more from the cache, ~50 ms more from a layout).
    cache = project.cache
    local = [
        not item[1].source.registry
        or cache.has_unpacked(item[1].source.digest)
        or layers_cached(cache, item[1].source.digest)
        for item in to_fetch
    ]
    kept += [fetch(item) for item, here in zip(to_fetch, local, strict=True) if here]
    kept += parallel([item for item, here in zip(to_fetch, local, strict=True) if not here], fetch)
    new = parallel(
        plan.resolve,
        _guarded(
            partial(prepare_new, project, manifest, state, resolved),
            lambda s: s.name,
            keep_going,
        ),
    )
    failures = {p.name: p.error for p in (*kept, *new) if isinstance(p, _Failed)}
    failures.update(unsolved)
    prepared = _with_tree(plan, {p.entry.name: p for p in (*kept, *new) if isinstance(p, Prepared)})
    if frozen:
        from ..solver import closure_problems

        problems = closure_problems(project, [p.entry for p in prepared.values()])
        if problems:
            raise FrozenLockfileError(
                f"{LOCK_NAME} does not hold what its skills need (--frozen):\n  "
                + "\n  ".join(problems),
                hints=["run `skillcrate install` and commit the updated lock"],
            )
    trust_warnings = apply_trust(
        project, manifest, prepared, frozen=frozen, failures=failures if keep_going else None
    )
    preflight(
        project,
        prepared.values(),
        state.owned if state else set(),
        failures=failures if keep_going else None,
    )
    for name in failures:
        prepared.pop(name, None)
    if failures and not prepared and not plan.prune:
        raise _nothing_installed(failures)  # nothing to do but fail: write nothing at all
    if save_manifest:
        manifest.save()
    carried = [e for e in (lock.get(n) if lock else None for n in sorted(failures)) if e]
    result = apply(
        project,
        lock,
        prepared,
        state,
        folders,
        write_lock=not frozen,
        carried=carried,
        partial=bool(failures),
    )
    result.failed = {name: failures[name].message for name in sorted(failures)}
    result.warnings.extend(trust_warnings)
    for spec in [*manifest.skills, *(s for s in plan.resolve if s.name not in manifest)]:
        p = prepared.get(spec.name)
        got = p.fetched if p else None
        if p is None or got is None or spec.name not in result.installed:
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
