"""The install pipeline (see docs/design.md, "Project operations"):

1. :func:`plan.plan_install` (pure): which lock entries stay, move, resolve anew or go;
2. :mod:`prepare` (parallel, values only): prove installed folders from skillcrate's own
   records, or fetch and verify what must be (re)built;
3. :mod:`trust`: the skills.json trust policy on every prepared entry;
4. :func:`apply.preflight` then :func:`apply.apply`: refuse what may not be written, then
   swap folders in, link, prune, and write the lock, the state and ``.gitignore`` last.

A failure before step 4 leaves the project as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from .. import states as lifecycle
from ..errors import FrozenLockfileError
from ..project.context import Project
from ..project.files import LOCK_NAME, MANIFEST_NAME
from ..project.manifest import Manifest
from ..resolver import Resolved
from .apply import InstallResult, apply, link_dirs, preflight
from .plan import frozen_problems, plan_install
from .prepare import parallel, prepare_kept, prepare_new
from .state import read_state
from .trust import apply_trust

__all__ = ["InstallResult", "install_locked"]


def install_locked(
    project: Project,
    *,
    frozen: bool = False,
    force: Iterable[str] = (),
    manifest: Manifest | None = None,
    save_manifest: bool = False,
    resolved: dict[str, Resolved] | None = None,
) -> InstallResult:
    """Make the project match its lock (the caller holds the project lock)."""
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
    kept = parallel([*plan.keep, *plan.relock], partial(prepare_kept, project, manifest, state))
    new = parallel(plan.resolve, partial(prepare_new, project, manifest, state, resolved or {}))
    prepared = {p.entry.name: p for p in (*kept, *new)}
    trust_warnings = apply_trust(project, manifest, prepared, frozen=frozen)
    preflight(project, prepared.values(), state.owned if state else set())
    if save_manifest:
        manifest.save()
    result = apply(project, lock, prepared, state, folders, write_lock=not frozen)
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
