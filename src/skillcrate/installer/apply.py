"""Applying a prepared install: preflight, swap folders in, link, prune, write lock and state."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..boundary import SKILLS_DIR, Boundary, skill_rel
from ..errors import ProjectError, SkillcrateError
from ..fastpath import LOCK_NAME, MANIFEST_NAME, dir_stat, inputs_blob
from ..project.lockfile import LockedSkill, Lockfile, save_lockfile
from ..project.manifest import Manifest
from ..skill.tree import FileRecord, hashed_records, records_tree, tree_digest_of
from . import gitignore, links
from . import materialise as inst
from .state import Artifact, InstallState, StoredRecords, folder_artifact, write_state

if TYPE_CHECKING:
    pass

from ..project.context import Project
from .prepare import Prepared, is_dir


@dataclass
class InstallResult:
    """What an install, add, remove or update did, for the CLI to print."""

    installed: list[str] = field(default_factory=list)  # new or changed on disk
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    lock_written: bool = False
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # keep-going: name -> why
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # installed: (was, now)

    def to_json(self) -> dict[str, Any]:
        return {
            "installed": self.installed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failed": [{"name": n, "error": e} for n, e in self.failed.items()],
            "versions": {n: {"from": a or None, "to": b} for n, (a, b) in self.versions.items()},
            "lockWritten": self.lock_written,
            "warnings": self.warnings,
        }


def preflight(
    project: Project,
    prepared: Iterable[Prepared],
    owned: set[str],
    *,
    failures: dict[str, SkillcrateError] | None = None,
) -> None:
    """Refuse before anything is written: a folder to build that is someone else's, or a
    link folder the boundary does not allow. With ``failures``, record instead of raising."""
    folders: dict[str, SkillcrateError | None] = {}  # each link folder's problem, once
    for p in prepared:
        try:
            _preflight_one(project, p, owned, folders)
        except SkillcrateError as exc:
            if failures is None:
                raise
            failures.setdefault(p.entry.name, exc)


def _preflight_one(
    project: Project, p: Prepared, owned: set[str], folders: dict[str, SkillcrateError | None]
) -> None:
    b = project.boundary
    rel = skill_rel(p.entry.name)
    if p.rebuild:
        st = b.lstat(rel)
        if st is not None and rel not in owned and not _identical(b, rel, p.entry.tree):
            raise ProjectError(
                f"{rel} already exists and was not installed by skillcrate; "
                "choose another name with --name or move that folder",
            )
    for link in p.entry.additional_installed_paths:
        folder = b.check_artifact(link).rpartition("/")[0]
        if folder not in folders:  # UnsafePath when it (or one above it) is a symlink
            try:
                b.lstat_entries(folder, ())
                folders[folder] = None
            except SkillcrateError as exc:
                folders[folder] = exc
        problem = folders[folder]
        if problem is not None:
            raise problem
        if links.occupied_by_another(b, link, rel, p.entry.tree, owned=link in owned):
            raise ProjectError(
                f"{b.root / link} already exists and was not created by skillcrate; "
                "remove or rename it to install the link"
            )


def _identical(b: Boundary, rel: str, tree: str | None) -> bool:
    """An existing folder holding exactly the tree to install (replacing it loses nothing)."""
    if not tree:
        return False
    st = b.lstat(rel)
    if st is None or not is_dir(st):
        return False
    try:
        return tree_digest_of(b.path(rel)) == tree
    except (SkillcrateError, OSError):
        return False


def apply(
    project: Project,
    old_lock: Lockfile | None,
    prepared: dict[str, Prepared],
    state: InstallState | None,
    link_dirs: Sequence[str],
    *,
    write_lock: bool,
    carried: Sequence[LockedSkill] = (),
    partial: bool = False,
) -> InstallResult:
    """Make the project match the prepared entries; prune what skillcrate made before.

    ``carried``: old lock entries of skills that failed (keep-going), kept verbatim with
    whatever skillcrate had installed for them.
    """
    b = project.boundary
    result = InstallResult()
    owned = state.owned if state else set()
    for folder in (SKILLS_DIR, *link_dirs):
        b.clean_temp(folder)
    if not project.is_global:  # the project files a killed run was writing
        b.clean_temp_files((MANIFEST_NAME, LOCK_NAME, gitignore.GITIGNORE_NAME))
    new_lock = Lockfile(skills=(*(p.entry for p in prepared.values()), *carried))
    artifacts: dict[str, Artifact] = {}
    records: dict[str, Sequence[FileRecord] | StoredRecords] = {}
    kept_names = {e.name for e in carried}
    if state is not None:  # what a failed skill had stays as it was
        for rel, art in state.artifacts.items():
            if art.skill in kept_names:
                artifacts[rel] = art
                failed_recs = state.records_for(rel)
                if failed_recs is not None:
                    records[rel] = failed_recs
    # 1. skill folders (each swapped in atomically) and their links; what is at the links
    # is read folder by folder first (one open each, not three per link)
    seen = _links_seen(b, [p.entry for p in prepared.values()])
    roots = Counter(p.fetched.root for p in prepared.values() if p.fetched is not None)
    for entry in new_lock.skills:
        if entry.name in kept_names:
            continue
        p = prepared[entry.name]
        rel = skill_rel(entry.name)
        recs: Sequence[FileRecord] | StoredRecords
        if p.fetched is not None:
            got = p.fetched  # this process's own tree: moved into the last folder it makes
            roots[got.root] -= 1
            last = got.private and not roots[got.root]
            move = project.cache.take_private(got.digest) if last else None
            recs = inst.materialise(b, rel, got.root, got.records, move=move)
            dirs = dir_stat(str(b.path(rel)))
            result.installed.append(entry.name)
            was = old_lock.get(entry.name) if old_lock else None
            result.versions[entry.name] = (_shown(was) if was else "", _shown(entry))
        else:
            recs, dirs = p.records, p.dirs
            result.unchanged.append(entry.name)
        # records as stored are parsed only when needed: a link that must be a copy
        file_records = functools.cache(functools.partial(_parsed, b, state, entry, recs))
        if p.fetched is None and p.recorded is not None and p.recorded.skill == entry.name:
            artifacts[rel] = p.recorded  # proven as recorded: no digest to compute again
        else:
            artifacts[rel] = folder_artifact(rel, entry.name, file_records(), dirs)
        for link in entry.additional_installed_paths:
            text, copy = links.place_link(
                b,
                link,
                rel,
                owned=link in owned,
                source=b.path(rel),
                records=file_records,
                seen=seen[link],
            )
            if text is not None:
                artifacts[link] = Artifact(link, entry.name, link=text)
            else:
                assert copy is not None
                artifacts[link] = folder_artifact(
                    link, entry.name, copy, dir_stat(str(b.path(link)))
                )
                records[link] = copy
        records[rel] = file_records() if file_records.cache_info().currsize else recs
    # 2. what skillcrate made before and the new lock no longer has
    gone = set()
    for rel in sorted(owned - artifacts.keys()):
        if b.remove(rel):
            gone.add(state.artifacts[rel].skill if state else rel)
    new_names = set(new_lock.names())
    old_names = set(old_lock.names()) if old_lock else set()
    result.removed = sorted(n for n in (gone | old_names) - new_names)
    # 3. lock, .gitignore, then the state: the mark that the install finished (last, like
    # installer's RECORD), so a run killed before it leaves the no-op check failing and
    # the next install does it all again
    if write_lock:
        result.lock_written = save_lockfile(project.lock_path, new_lock)
    if not project.is_global:  # the home folder is no repository of skillcrate's to mind
        folders = {rel: art.link is None for rel, art in artifacts.items()}
        gitignore.update_gitignore(b, folders, keep_block=True)
    manifest_bytes = project.manifest_path.read_bytes() if project.manifest_path.exists() else b""
    lock_bytes = project.lock_path.read_bytes() if project.lock_path.exists() else b""
    # partial: never "up to date", so the next run (session start) tries the failures again
    inputs = None if partial else inputs_blob(manifest_bytes, lock_bytes)
    write_state(b.root, inputs, artifacts, records)
    return result


def _parsed(
    b: Boundary,
    state: InstallState | None,
    entry: LockedSkill,
    records: Sequence[FileRecord] | StoredRecords,
) -> Sequence[FileRecord]:
    """``records``; when they are as stored, parsed and checked against the recorded tree,
    else (damaged) made again by hashing the folder, which must then hold the lock's tree."""
    if not isinstance(records, StoredRecords):
        return records
    rel = skill_rel(entry.name)
    parsed = state.records_for(rel) if state is not None else None
    if parsed is not None:
        return parsed
    fresh = hashed_records(b.path(rel))
    if records_tree(fresh) != entry.tree:
        raise ProjectError(
            f"{rel} changed while it was installed: it no longer holds {entry.tree}",
            hints=["run `skillcrate install` again"],
        )
    return fresh


def _links_seen(
    b: Boundary, entries: Sequence[LockedSkill]
) -> dict[str, tuple[os.stat_result, str | None] | None]:
    """``lstat`` and symlink text at each link path of ``entries`` (None: nothing there)."""
    by_folder: dict[str, list[str]] = {}
    for entry in entries:
        for link in entry.additional_installed_paths:
            folder, _, name = link.rpartition("/")
            by_folder.setdefault(folder, []).append(name)
    out: dict[str, tuple[os.stat_result, str | None] | None] = {}
    for folder, names in by_folder.items():
        found = b.lstat_entries(folder, names)
        for name in names:
            out[f"{folder}/{name}"] = found.get(name)
    return out


def _shown(entry: LockedSkill) -> str:
    """A lock entry's version as people read it: the tag, else a short digest."""
    return entry.version or entry.source.digest[:19]


def link_dirs(project: Project, manifest: Manifest) -> list[str]:
    """Every link folder skills.json names, each checked against the boundary's rules."""
    b = project.boundary
    folders = [*manifest.links, *(d for s in manifest.skills for d in s.additional_base_paths)]
    return sorted({b.check_link_dir(d) for d in folders})
