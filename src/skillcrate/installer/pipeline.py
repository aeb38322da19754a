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
from functools import partial
from typing import TypeVar

from .. import states as lifecycle
from ..boundary import SKILLS_DIR
from ..errors import FrozenLockfileError, ProjectError, SkillcrateError
from ..project.context import Project
from ..project.files import LOCK_NAME, MANIFEST_NAME
from ..project.lockfile import LockedSkill
from ..project.manifest import Manifest, SkillSpec
from ..resolver import Resolved
from .apply import InstallResult, apply, link_dirs, preflight
from .plan import frozen_problems, plan_install
from .prepare import Prepared, fetch_kept, parallel, prepare_new, proven_kept
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
    ``frozen``, which stays all-or-nothing).
    """
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
    state = read_state(project.boundary.root, records=True)
    # Folders the state proves are checked here (an lstat pass each: threads would cost
    # more than they save); only the ones to fetch go to the download threads.
    kept_items = [*plan.keep, *plan.relock]
    name_of: Callable[[tuple[SkillSpec, LockedSkill]], str] = lambda i: i[0].name  # noqa: E731
    entries = project.boundary.lstat_entries(SKILLS_DIR, (i[0].name for i in kept_items))
    prove = partial(proven_kept, project, manifest, state, folders=entries)
    proven = [_guarded(prove, name_of, keep_going)(item) for item in kept_items]
    kept = [p for p in proven if p is not None]
    kept += parallel(
        [item for item, p in zip(kept_items, proven, strict=True) if p is None],
        _guarded(partial(fetch_kept, project, manifest), name_of, keep_going),
    )
    new = parallel(
        plan.resolve,
        _guarded(
            partial(prepare_new, project, manifest, state, resolved or {}),
            lambda s: s.name,
            keep_going,
        ),
    )
    failures = {p.name: p.error for p in (*kept, *new) if isinstance(p, _Failed)}
    prepared = {p.entry.name: p for p in (*kept, *new) if isinstance(p, Prepared)}
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
    for spec in manifest.skills:
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
