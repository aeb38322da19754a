"""Links from agents' skill folders to the installed skill: relative symlinks, or copies where
symlinks cannot be made. Written through the project boundary."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from ..boundary import Boundary
from ..errors import ProjectError
from ..skill.tree import FileRecord, tree_digest_of
from .materialise import materialise


def link_text(link_rel: str, skill_rel: str) -> str:
    """The relative symlink text from the link ``link_rel`` to the folder ``skill_rel``."""
    return posixpath.relpath("/" + skill_rel, "/" + posixpath.dirname(link_rel))


def place_link(
    boundary: Boundary,
    link_rel: str,
    skill_rel: str,
    *,
    owned: bool,
    source: Path,
    records: Sequence[FileRecord] | Callable[[], Sequence[FileRecord]],
    seen: tuple[os.stat_result, str | None] | None | bool = True,
) -> tuple[str | None, list[FileRecord] | None]:
    """Make ``link_rel`` a relative symlink to ``skill_rel``; (link text, copy records).

    An existing entry is replaced only when ``owned``, when it is a symlink already
    resolving to the skill, or when it is a folder holding exactly the skill's tree.
    Anything else raises ProjectError. Where symlinks cannot be made the skill is copied
    from ``source`` instead (``records``: its records, or what returns them, asked only
    then) and the copy's records are returned. ``seen``: what
    ``Boundary.lstat_entries`` found at ``link_rel`` (None: nothing), when the caller read
    many links at once; True (the default) reads it here.
    """
    text = link_text(link_rel, skill_rel)
    if seen is True:
        st = boundary.lstat(link_rel)
        found = boundary.readlink(link_rel) if st is not None and stat.S_ISLNK(st.st_mode) else None
    else:
        st, found = seen if isinstance(seen, tuple) else (None, None)
    if st is not None:
        if stat.S_ISLNK(st.st_mode) and found == text:
            return text, None
        if not owned and not _same_as_skill(boundary, link_rel, skill_rel, st):
            raise ProjectError(
                f"{boundary.root / link_rel} already exists and was not created by "
                "skillcrate; remove or rename it to install the link"
            )
    try:
        boundary.symlink(link_rel, text)
    except OSError:
        recs = records() if callable(records) else records  # no symlinks here: a copy
        return None, materialise(boundary, link_rel, source, recs)
    return text, None


def occupied_by_another(
    boundary: Boundary, link_rel: str, skill_rel: str, tree: str | None, owned: bool
) -> bool:
    """Whether something skillcrate may not replace is at ``link_rel`` (checked before
    anything is written): not ours, not a link to the skill, not a copy of its ``tree``."""
    if owned:  # skillcrate's own: replaced whatever is there now (nothing to lstat)
        return False
    st = boundary.lstat(link_rel)
    if st is None:
        return False
    if stat.S_ISLNK(st.st_mode):
        text = boundary.readlink(link_rel)
        return text != link_text(link_rel, skill_rel) and not _same_as_skill(
            boundary, link_rel, skill_rel, st
        )
    if stat.S_ISDIR(st.st_mode) and tree:
        try:
            return tree_digest_of(boundary.path(link_rel)) != tree
        except Exception:  # noqa: BLE001 - unreadable, a symlink inside: not the same tree
            return True
    return True


def _same_as_skill(boundary: Boundary, link_rel: str, skill_rel: str, st: os.stat_result) -> bool:
    link, skill = boundary.path(link_rel), boundary.path(skill_rel)
    if stat.S_ISLNK(st.st_mode):
        return os.path.realpath(link) == os.path.realpath(skill)
    if stat.S_ISDIR(st.st_mode):
        try:
            return tree_digest_of(link) == tree_digest_of(skill)
        except (OSError, ProjectError, ValueError):
            return False
        except Exception:  # noqa: BLE001 - UnsafePath and friends: not the same tree
            return False
    return False
