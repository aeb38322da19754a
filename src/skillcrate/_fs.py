"""Filesystem primitives every write in skillcrate goes through."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path, PurePosixPath

from .errors import UnsafePath


def atomic_write(path: Path, data: str | bytes, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and ``os.replace``.

    A reader sees either the old file or the new one, never a partial write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy the file ``src`` to ``dest`` through a temp file beside it and ``os.replace``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as fh:
            shutil.copyfileobj(fh, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def staging_dir(dest: Path) -> Path:
    """A fresh empty folder beside ``dest`` (same filesystem, so a rename is atomic)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".staging", dir=dest.parent))


def replace_dir(staging: Path, dest: Path) -> None:
    """Swap the finished folder ``staging`` in at ``dest``.

    The old ``dest`` (if any) is renamed aside first and removed only after the
    new one is in place, so a crash leaves either the old tree or the new one.
    """
    dest = Path(dest)
    old: Path | None = None
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except BaseException:
        if old is not None:
            os.rename(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_tree(path: Path) -> None:
    """Remove a folder, file or symlink if present (never follows a symlink)."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def safe_member_path(member: str) -> PurePosixPath:
    """Validate a relative archive path: no absolute paths, no ``..``, no empty parts."""
    if not member or member.startswith("/") or member.startswith("\\") or "\x00" in member:
        raise UnsafePath(f"unsafe path in archive: {member!r} (absolute or empty)")
    if len(member) >= 2 and member[1] == ":":
        raise UnsafePath(f"unsafe path in archive: {member!r} (drive letter)")
    parts = [p for p in member.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"unsafe path in archive: {member!r} (contains '..')")
    if not parts:
        raise UnsafePath(f"unsafe path in archive: {member!r} (empty)")
    return PurePosixPath(*parts)


def safe_join(root: Path, member: str) -> Path:
    """Join a relative archive path under ``root``; raise UnsafePath if it would escape."""
    rel = safe_member_path(member)
    target = Path(root, *rel.parts)
    root_resolved = Path(root).resolve()
    parent_resolved = target.parent.resolve()
    if parent_resolved != root_resolved and root_resolved not in parent_resolved.parents:
        raise UnsafePath(f"unsafe path in archive: {member!r} escapes the destination")
    return target
