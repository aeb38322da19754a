"""Preparing an install: fetch what must be (re)built into the verified cache, or prove
from skillcrate's own records that the installed folder already holds the lock's tree.
Nothing in the project changes here. Workers return values; they share no state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ..boundary import skill_rel
from ..errors import NotFound, ProjectError
from ..fastpath import folder_unchanged, scan_with_dirs
from ..fetch import FetchedSkill, fetch_skill
from ..project.context import Project
from ..project.files import LOCK_NAME
from ..project.lockfile import LockedSkill
from ..project.manifest import Manifest, SkillSpec
from ..resolver import Resolved, resolve_spec, spec_version
from ..skill.tree import FileRecord
from . import materialise as inst
from .plan import link_paths, with_links
from .state import Artifact, InstallState, StoredRecords


@dataclass(frozen=True)
class Prepared:
    """One skill ready to apply: its lock entry, and either fresh content or its records."""

    entry: LockedSkill
    fetched: FetchedSkill | None  # set when the folder must be (re)built
    # the installed files, when it need not be; as stored when proven as recorded
    records: tuple[FileRecord, ...] | StoredRecords = ()
    dirs: str | None = None  # their folders' stat lines, taken before they were proven
    recorded: Artifact | None = None  # the state's record, when the folder still matches it

    @property
    def rebuild(self) -> bool:
        return self.fetched is not None


def installed_records(
    project: Project,
    entry: LockedSkill,
    state: InstallState | None,
    folders: Mapping[str, tuple[os.stat_result, str | None]] | None = None,
) -> tuple[tuple[FileRecord, ...] | StoredRecords, str | None, Artifact | None] | None:
    """The records of ``entry``'s installed folder if it holds exactly the lock's tree,
    with its folder stat lines (from the same walk,
    :func:`~skillcrate.fastpath.scan_with_dirs`: each folder's line is taken before its
    files, so a change made while they are checked shows at the next no-op check) and,
    when the folder still ``lstat``s as the state recorded it, that record (it stands).

    Proven from skillcrate's own state: the recorded tree must be the lock's and the
    folder must still ``lstat`` as recorded: first by the recorded paths alone, as the
    no-op check does (then the recorded folder lines stand, and the records are returned
    as stored, unparsed: :class:`~skillcrate.installer.state.StoredRecords`), else by a
    walk, and then its records must hash to the tree (else its files are hashed once and
    compared). None means it must be (re)built. ``folders``: the ``lstat`` of
    ``.agents/skills``' entries by name (``Boundary.lstat_entries``), when the caller
    took them for many skills at once.
    """
    rel = skill_rel(entry.name)
    if folders is not None:  # the lstat of every .agents/skills entry, taken at once
        found = folders.get(entry.name)
        st = found[0] if found else None
    else:
        st = project.boundary.lstat(rel)  # UnsafePath when .agents or .agents/skills is a link
    if st is None or not is_dir(st) or state is None or not entry.tree:
        return None
    art = state.artifacts.get(rel)
    if art is None or art.tree != entry.tree:
        return None
    folder = project.boundary.path(rel)
    stored = state.stored(rel) if art.skill == entry.name else None
    if stored is not None and folder_unchanged(str(folder), art):
        # what the no-op check does: lstat, no listing; the records are carried as stored
        return stored, art.dirs, art
    recs = state.records_for(rel)
    if recs is None:
        return None
    now, dirs = scan_with_dirs(str(folder))
    if now == art.stat:
        return tuple(recs), dirs, None
    copied = inst.copy_records(folder, recs)
    return (tuple(copied), dirs, None) if copied is not None else None


def is_dir(st: os.stat_result) -> bool:
    import stat as stat_mod

    return stat_mod.S_ISDIR(st.st_mode)


def fetch_locked(project: Project, locked: LockedSkill) -> FetchedSkill:
    target = project.target(locked.source.reference())
    try:
        fetched = fetch_skill(
            target,
            locked.source.digest,
            project.cache,
            fallback_name=locked.name,
            name=locked.name,
            expect_tree=locked.tree,
            read_name=False,  # the folder is the lock entry's name
            private=True,  # a tree extracted while it downloads is moved in, not copied
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


def lock_entry(
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


def _kept_entry(manifest: Manifest, item: tuple[SkillSpec, LockedSkill]) -> LockedSkill:
    spec, locked = item
    linked = with_links(locked, spec, manifest)
    if linked.spec_version == spec.version and linked.spec_source == spec.source:
        return linked  # dataclasses.replace is slow: only on a change
    return replace(linked, spec_version=spec.version, spec_source=spec.source)


def proven_kept(
    project: Project,
    manifest: Manifest,
    state: InstallState | None,
    item: tuple[SkillSpec, LockedSkill],
    folders: Mapping[str, tuple[os.stat_result, str | None]] | None = None,
) -> Prepared | None:
    """A kept entry whose installed folder is proven from the state (one ``lstat`` pass,
    cheap enough to run on the main thread); None when it must be fetched."""
    entry = _kept_entry(manifest, item)
    proven = installed_records(project, entry, state, folders)
    return None if proven is None else Prepared(entry, None, *proven)


def fetch_kept(
    project: Project, manifest: Manifest, item: tuple[SkillSpec, LockedSkill]
) -> Prepared:
    """A kept entry's content from the cache (or its store), for a folder to (re)build."""
    spec, locked = item
    entry = _kept_entry(manifest, item)
    project.report(f"fetching {spec.name} {locked.version or locked.source.digest[:19]}")
    fetched = fetch_locked(project, entry)
    if not entry.tree:  # e.g. migrated from a skills-oci lock
        entry = replace(entry, tree=fetched.tree, format=fetched.format)
    return Prepared(entry, fetched)


def prepare_new(
    project: Project,
    manifest: Manifest,
    state: InstallState | None,
    resolved: dict[str, Resolved],
    spec: SkillSpec,
) -> Prepared:
    """A new or changed entry: resolve it (unless already resolved), fetch from the blob."""
    res = resolved.get(spec.name)
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
        private=True,  # a tree extracted while it downloads is moved in, not copied
    )
    entry = lock_entry(spec, res, got, manifest.links)
    proven = installed_records(project, entry, state)
    if proven is not None:
        return Prepared(entry, None, *proven)
    return Prepared(entry, got)
