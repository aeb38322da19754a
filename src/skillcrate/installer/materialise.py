"""Materialise skills from the cache into a project: each skill folder, built and swapped in.

Every write goes through :class:`skillcrate.boundary.Boundary`, so nothing here can
reach outside ``.agents/skills/<name>``, the link folders, or ``.gitignore``.

Copies, not hard links
----------------------
``materialise`` gives each project its own copy of every file: a copy-on-write clone
(``FICLONE``) where the file system supports it (btrfs, XFS, bcachefs), else a kernel
copy (``copy_file_range``/``sendfile``), keeping the executable bit. A tree this process
extracted for this one project from a verified blob (``add``, and an install that finds
no unpacked tree in the cache) is moved in instead, where the cache and the project
share a file system: the payload is then written once into the cache (its blob) and
once into the project. Hard links to the
cache are not used: a read-only mode does not stop root, ``chmod`` + save in an editor,
or tools that rewrite in place, and one such edit would silently corrupt the shared
cache for every project. Installed files are ordinary writable files. Their mtime (and
their folders') is set two seconds into the past, so any later edit (or entry added to a
folder) is guaranteed to change it and the stat-only freshness check cannot miss it.
File hashes are not recomputed: they come from the cache's records (checked there), so
each byte is hashed once, when unpacked.

Stdlib only: the install path must not import registry or YAML code.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs import copy_fd
from ..boundary import Boundary, create_file_at, open_dir_at
from ..errors import DigestMismatch
from ..skill.tree import FileRecord, is_exec, walk_strict

if TYPE_CHECKING:
    from ..cache import PrivateTree

try:  # Linux only; elsewhere we simply copy
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["copy_records", "materialise"]

_FICLONE = 0x40049409  # _IOW(0x94, 9, int) from <linux/fs.h>
_MTIME_BACKDATE_S = 2


# ------------------------------------------------------------------------ materialising


def materialise(
    boundary: Boundary,
    rel: str,
    source: Path,
    records: Sequence[FileRecord],
    *,
    move: PrivateTree | None = None,
) -> list[FileRecord]:
    """Install a copy of the cache tree ``source`` at the artifact ``rel``, atomically.

    ``records`` are the cache's records of ``source`` (their hashes are carried over).
    The tree is built in a staging folder beside ``rel`` and swapped in; on any failure
    the staging folder is removed and a previous folder is left intact. Returns the
    records of the installed files. The caller decides that ``rel`` may be replaced.
    DigestMismatch when ``source`` no longer matches ``records``.

    ``move``: ``source`` is this process's own tree (extracted for this project, see
    :meth:`skillcrate.cache.Cache.put_unpacked`): it is renamed into the staging folder
    (relative to the folder this process made, :meth:`PrivateTree.root_parent`) instead
    of copied, where the file systems allow, and its files must then still ``lstat`` as
    recorded when they were written (size, mode, mtime and ctime: a change made to them
    in ``tmp/`` meanwhile shows in the ctime).
    """
    stamp_ns = (time.time_ns() // 1_000_000_000 - _MTIME_BACKDATE_S) * 1_000_000_000
    if move is not None:
        with move.root_parent() as where:
            moved = boundary.move_tree_in(
                rel, where, lambda fd: _stamp_moved(fd, records, stamp_ns)
            )
        if moved is not None:
            return moved
    return boundary.replace_tree(rel, lambda fd: _copy_tree(Path(source), fd, records, stamp_ns))


def _stamp_moved(top: int, records: Sequence[FileRecord], stamp_ns: int) -> list[FileRecord]:
    """Check the moved tree at ``top`` against ``records`` (nothing more, nothing changed),
    backdate its files and folders like copies, and return the installed records."""
    by_path = {r.path: r for r in records}
    found: dict[str, FileRecord] = {}

    def visit(fd: int, prefix: str) -> None:
        with os.scandir(fd) as it:
            entries = list(it)
        for item in entries:
            rel = prefix + item.name
            st = item.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                child = open_dir_at(fd, item.name, create=False)
                try:
                    visit(child, rel + "/")
                    os.utime(child, ns=(stamp_ns, stamp_ns))
                finally:
                    os.close(child)
                continue
            rec = by_path.get(rel)
            if rec is None or not stat.S_ISREG(st.st_mode) or not rec.still(st):
                raise DigestMismatch(f"extracted tree: {rel} changed before it was installed")
            os.utime(item.name, ns=(stamp_ns, stamp_ns), dir_fd=fd, follow_symlinks=False)
            now = os.stat(item.name, dir_fd=fd, follow_symlinks=False)
            found[rel] = FileRecord(
                rel, rec.sha256, rec.executable, now.st_size, now.st_mtime_ns, now.st_ctime_ns
            )

    visit(top, "")
    os.utime(top, ns=(stamp_ns, stamp_ns))
    if len(found) != len(by_path):
        raise DigestMismatch("extracted tree: files are missing")
    return [found[r.path] for r in records]


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
        for fd in fds.values():  # backdated like the files (see fastpath.dir_stat)
            os.utime(fd, ns=(stamp_ns, stamp_ns))
    finally:
        for key, fd in fds.items():
            if key:
                os.close(fd)
    if len(out) != len(by_path):
        raise DigestMismatch(f"cached tree {source}: files are missing")
    return out


def _copy_file(src: str, parent: int, name: str, rec: FileRecord, stamp_ns: int) -> FileRecord:
    """Clone or copy ``src`` into the new file ``name`` (0666/0777 minus the umask).

    ``src`` must still ``fstat`` as its record says, before and after the copy: the
    records' hashes are carried over, so a change made to the cache's file since its
    tree was checked (it shows in the ctime) is refused, not installed.
    """
    with open(src, "rb") as fin:
        was = os.fstat(fin.fileno())
        if not rec.still(was):
            raise DigestMismatch(f"cached tree: {rec.path} changed before it was installed")
        fd = create_file_at(parent, name, rec.executable)
        try:
            if not _reflink(fin.fileno(), fd):
                copy_fd(fin.fileno(), fd)
            os.utime(fd, ns=(stamp_ns, stamp_ns))
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if os.fstat(fin.fileno()).st_ctime_ns != was.st_ctime_ns:
            raise DigestMismatch(f"cached tree: {rec.path} changed while it was installed")
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


# ---------------------------------------------------------------------------- .gitignore
