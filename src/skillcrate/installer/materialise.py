"""Materialise skills from the cache into a project: folders, links, the ``.gitignore`` block.

Every write goes through :class:`skillcrate.boundary.Boundary`, so nothing here can
reach outside ``.agents/skills/<name>``, the link folders, or ``.gitignore``.

Copies, not hard links
----------------------
``materialise`` gives each project its own copy of every file: a copy-on-write clone
(``FICLONE``) where the file system supports it (btrfs, XFS, bcachefs), else a kernel
copy (``copy_file_range``/``sendfile``), keeping the executable bit. Hard links to the
cache are not used: a read-only mode does not stop root, ``chmod`` + save in an editor,
or tools that rewrite in place, and one such edit would silently corrupt the shared
cache for every project. Installed files are ordinary writable files. Their mtime is set
two seconds into the past, so any later edit is guaranteed to change it and the
stat-only freshness check cannot miss it. File hashes are not recomputed: they come
from the cache's records (checked there), so each byte is hashed once, when unpacked.

Stdlib only: the install path must not import registry or YAML code.
"""

from __future__ import annotations

import os
import posixpath
import stat
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .._fs import copy_fd
from ..boundary import SKILLS_DIR, TEMP_PREFIX, Boundary, create_file_at, open_dir_at
from ..errors import DigestMismatch, ProjectError
from ..skill.tree import FileRecord, is_exec, tree_digest_of, walk_strict

try:  # Linux only; elsewhere we simply copy
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "GITIGNORE_END",
    "GITIGNORE_START",
    "copy_records",
    "link_text",
    "materialise",
    "place_link",
    "update_gitignore",
]

GITIGNORE_START = "# >>> skillcrate managed (do not edit) >>>"
GITIGNORE_END = "# <<< skillcrate managed <<<"
TEMP_PATTERN = f"{TEMP_PREFIX}*"
"""The .gitignore pattern (unanchored) for skillcrate's temporary names anywhere."""

_FICLONE = 0x40049409  # _IOW(0x94, 9, int) from <linux/fs.h>
_MTIME_BACKDATE_S = 2


# ------------------------------------------------------------------------ materialising


def materialise(
    boundary: Boundary, rel: str, source: Path, records: Sequence[FileRecord]
) -> list[FileRecord]:
    """Install a copy of the cache tree ``source`` at the artifact ``rel``, atomically.

    ``records`` are the cache's records of ``source`` (their hashes are carried over).
    The tree is built in a staging folder beside ``rel`` and swapped in; on any failure
    the staging folder is removed and a previous folder is left intact. Returns the
    records of the installed files. The caller decides that ``rel`` may be replaced.
    DigestMismatch when ``source`` no longer matches ``records``.
    """
    stamp_ns = (time.time_ns() // 1_000_000_000 - _MTIME_BACKDATE_S) * 1_000_000_000
    return boundary.replace_tree(rel, lambda fd: _copy_tree(Path(source), fd, records, stamp_ns))


def _copy_tree(
    source: Path, dest_fd: int, records: Sequence[FileRecord], stamp_ns: int
) -> list[FileRecord]:
    by_path = {r.path: r for r in records}
    out: list[FileRecord] = []
    fds: dict[str, int] = {"": dest_fd}
    try:
        for rel, full, st in walk_strict(source, dirs=True):
            parent, _, base = rel.rpartition("/")
            if stat.S_ISDIR(st.st_mode):
                fds[rel] = open_dir_at(fds[parent], base, create=True)
                continue
            rec = by_path.get(rel)
            if rec is None or rec.size != st.st_size or rec.executable != is_exec(st.st_mode):
                raise DigestMismatch(f"cached tree {source}: {rel} does not match its record")
            out.append(_copy_file(full, fds[parent], base, rec, stamp_ns))
    finally:
        for key, fd in fds.items():
            if key:
                os.close(fd)
    if len(out) != len(by_path):
        raise DigestMismatch(f"cached tree {source}: files are missing")
    return out


def _copy_file(src: str, parent: int, name: str, rec: FileRecord, stamp_ns: int) -> FileRecord:
    """Clone or copy ``src`` into the new file ``name`` (0666/0777 minus the umask)."""
    with open(src, "rb") as fin:
        fd = create_file_at(parent, name, rec.executable)
        try:
            if not _reflink(fin.fileno(), fd):
                copy_fd(fin.fileno(), fd)
            os.utime(fd, ns=(stamp_ns, stamp_ns))
            st = os.fstat(fd)
        finally:
            os.close(fd)
    if st.st_size != rec.size:
        raise DigestMismatch(f"{src}: copied {st.st_size} bytes, expected {rec.size}")
    return FileRecord(
        rec.path, rec.sha256, is_exec(st.st_mode), st.st_size, st.st_mtime_ns, st.st_ctime_ns
    )


def _reflink(src_fd: int, dst_fd: int) -> bool:
    """Try a Linux ``FICLONE``; False when the file system cannot share extents."""
    if fcntl is None or not sys.platform.startswith("linux"):
        return False
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError:
        return False
    return True


def copy_records(folder: Path, records: Sequence[FileRecord]) -> list[FileRecord] | None:
    """Fresh records for ``folder`` whose content still matches ``records`` (by hash).

    Used when files were only touched (same content, new mtime or ctime): their hashes
    are checked once and the new stat values recorded. None when anything differs.
    """
    from ..skill.tree import diff_tree

    if not diff_tree(folder, [r.tree_file() for r in records]).clean:
        return None
    out: list[FileRecord] = []
    for r in records:
        st = os.lstat(folder.joinpath(*r.path.split("/")))
        out.append(
            FileRecord(r.path, r.sha256, r.executable, r.size, st.st_mtime_ns, st.st_ctime_ns)
        )
    return out


# ------------------------------------------------------------------------------- links


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
    records: Sequence[FileRecord],
) -> tuple[str | None, list[FileRecord] | None]:
    """Make ``link_rel`` a relative symlink to ``skill_rel``; (link text, copy records).

    An existing entry is replaced only when ``owned``, when it is a symlink already
    resolving to the skill, or when it is a folder holding exactly the skill's tree.
    Anything else raises ProjectError. Where symlinks cannot be made the skill is copied
    from ``source`` instead and the copy's records are returned.
    """
    text = link_text(link_rel, skill_rel)
    st = boundary.lstat(link_rel)
    if st is not None:
        if stat.S_ISLNK(st.st_mode) and boundary.readlink(link_rel) == text:
            return text, None
        if not owned and not _same_as_skill(boundary, link_rel, skill_rel, st):
            raise ProjectError(
                f"{boundary.root / link_rel} already exists and was not created by "
                "skillcrate; remove or rename it to install the link"
            )
    try:
        boundary.symlink(link_rel, text)
    except OSError:
        return None, materialise(boundary, link_rel, source, records)  # no symlinks here
    return text, None


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


# ---------------------------------------------------------------------------- .gitignore


def _escape_pattern(rel: str) -> str:
    """A path as a literal gitignore pattern: glob characters and a trailing space escaped."""
    out = "".join("\\" + c if c in "\\*?[" else c for c in rel)
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def update_gitignore(boundary: Boundary, paths: Iterable[str], *, keep_block: bool = False) -> bool:
    """Rewrite the managed block of ``.gitignore`` to list ``paths``; True if changed.

    Each path becomes an anchored, escaped pattern: ``/.agents/skills/review/`` for a real
    folder, no trailing slash for anything else (git never matches a symlink with a
    ``dir/`` pattern). Whenever the block is present it also ignores skillcrate's
    temporary names (:data:`TEMP_PATTERN`). Entries are sorted and deduplicated;
    ``.agents/skills`` itself is never listed. The rest of the file is kept byte for byte
    (its line endings and a missing final newline too). With no paths (and not
    ``keep_block``) the block is removed, and a file left empty is deleted.
    """
    st = boundary.lstat(".gitignore")
    raw = None
    if st is not None and stat.S_ISREG(st.st_mode):
        raw = boundary.path(".gitignore").read_bytes()
    text = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
    patterns = _gitignore_patterns(boundary, paths)
    if keep_block or patterns:
        patterns = sorted({*patterns, TEMP_PATTERN})
    new_text = _render_gitignore(text, patterns, boundary.root / ".gitignore")
    if raw is not None and new_text == text:
        return False
    if raw is None and not new_text:
        return False
    if not new_text:
        boundary.remove(".gitignore")
        return True
    boundary.write_file(".gitignore", new_text.encode("utf-8", "surrogateescape"))
    return True


def _gitignore_patterns(boundary: Boundary, paths: Iterable[str]) -> list[str]:
    from ..boundary import check_relpath

    patterns: set[str] = set()
    for path in paths:
        rel = check_relpath(path)
        if rel == SKILLS_DIR:
            continue
        st = boundary.lstat(rel)
        is_dir = st is not None and stat.S_ISDIR(st.st_mode)
        if st is None and str(path).endswith("/"):
            is_dir = True
        escaped = _escape_pattern(rel)
        patterns.add(f"/{escaped}/" if is_dir else f"/{escaped}")
    return sorted(patterns)


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept (``\\r`` stays part of the line); only ``\\n`` splits."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _render_gitignore(text: str, patterns: list[str], path: Path) -> str:
    """``text`` with its managed block replaced by one listing ``patterns`` (or removed)."""
    lines = _split_lines(text)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    start = end = None
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if start is None and bare == GITIGNORE_START:
            start = i
        elif start is not None and bare == GITIGNORE_END:
            end = i
            break
    if start is not None and end is None:
        raise ProjectError(f"{path}: skillcrate block start marker has no end marker")
    block = [GITIGNORE_START, *patterns, GITIGNORE_END] if patterns else []
    if start is None or end is None:
        if not block:
            return text
        prefix = text
        if prefix and not prefix.endswith("\n"):
            # No final newline: separate, and let the block inherit the missing newline.
            return prefix + eol + eol.join(block)
        return prefix + "".join(line + eol for line in block)
    prefix = "".join(lines[:start])
    suffix = "".join(lines[end + 1 :])
    had_final_newline = lines[end].endswith("\n")
    if not block:
        if not suffix and not had_final_newline:
            if prefix.endswith("\r\n"):
                prefix = prefix[:-2]
            elif prefix.endswith("\n"):
                prefix = prefix[:-1]
        return prefix + suffix
    rendered = "".join(line + eol for line in block)
    if not suffix and not had_final_newline:
        rendered = rendered[: -len(eol)]
    return prefix + rendered + suffix
