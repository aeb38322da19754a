"""Deterministic skill archives and safe extraction.

Packing: entries sorted by path (a folder before its children), mtime 0, uid/gid 0,
empty user/group names, mode 0755 for folders and executables and 0644 for other
files; only folders and regular files (a symlink is refused); gzip with mtime 0 and
no file name. The same folder gives the same bytes on every run and machine.

Extraction refuses absolute paths, ``..``, links, devices and FIFOs, and stops when
the extracted size passes a limit (256 MiB per skill by default).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ._fs import safe_join, safe_member_path
from .errors import FormatError, UnsafePath, ValidationError
from .ignore import IgnoreRules

MAX_EXTRACT = 256 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    rel: str  # POSIX path relative to the skill folder
    is_dir: bool
    executable: bool
    path: Path


def collect(folder: Path) -> list[Entry]:
    """The folder's packable entries, sorted, after ignore rules; refuses symlinks."""
    folder = Path(folder)
    rules = IgnoreRules.for_folder(folder)
    out: list[Entry] = []

    def walk(d: Path, rel_dir: str) -> None:
        with os.scandir(d) as it:
            items = sorted(it, key=lambda e: e.name)
        for e in items:
            rel = f"{rel_dir}{e.name}"
            st = os.lstat(e.path)
            if stat.S_ISLNK(st.st_mode):
                raise ValidationError(
                    f"{rel}: symbolic links cannot be packed; replace it with the file itself"
                )
            is_dir = stat.S_ISDIR(st.st_mode)
            if rules.ignored(rel, is_dir):
                continue
            if is_dir:
                out.append(Entry(rel, True, True, Path(e.path)))
                walk(Path(e.path), rel + "/")
            elif stat.S_ISREG(st.st_mode):
                out.append(Entry(rel, False, bool(st.st_mode & 0o111), Path(e.path)))
            else:
                raise ValidationError(f"{rel}: only regular files and folders can be packed")

    walk(folder, "")
    out.sort(key=lambda e: PurePosixPath(e.rel).parts)
    return out


def _info(name: str, *, is_dir: bool, executable: bool, size: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    ti.mode = 0o755 if (is_dir or executable) else 0o644
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.size = 0 if is_dir else size
    return ti


class HashingWriter:
    """A write-only file object that hashes and counts what passes through to ``out``."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.out.flush()

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def write_tar(folder: Path, prefix: str | None, out: BinaryIO) -> None:
    """Stream a deterministic tar of ``folder`` into ``out`` (paths under ``prefix/`` if given).

    File contents are copied in chunks, so memory stays flat whatever the sizes.
    """
    entries = collect(folder)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if prefix:
            tar.addfile(_info(prefix + "/", is_dir=True, executable=True))
        for e in entries:
            name = f"{prefix}/{e.rel}" if prefix else e.rel
            if e.is_dir:
                tar.addfile(_info(name + "/", is_dir=True, executable=True))
                continue
            with open(e.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                tar.addfile(_info(name, is_dir=False, executable=e.executable, size=size), fh)


@dataclass(frozen=True)
class Layer:
    digest: str  # of the gzip'd bytes
    size: int
    diff_id: str  # digest of the uncompressed tar


def write_layer(folder: Path, prefix: str | None, out: BinaryIO) -> Layer:
    """Stream the gzip'd deterministic tar into ``out`` in one pass, hashing both forms."""
    gz_out = HashingWriter(out)
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz_out, mtime=0, compresslevel=9) as gz:
        tar_out = HashingWriter(gz)  # type: ignore[arg-type]
        write_tar(folder, prefix, tar_out)  # type: ignore[arg-type]
    return Layer(gz_out.digest, gz_out.size, tar_out.digest)


def build_tar(folder: Path, prefix: str | None) -> bytes:
    """An uncompressed, deterministic tar of ``folder``, in memory (small folders, tests)."""
    buf = io.BytesIO()
    write_tar(folder, prefix, buf)
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def list_members(fileobj: BinaryIO) -> Iterator[tuple[str, int, int]]:
    """(path, size, mode) for each regular file in a tar or tar.gz stream."""
    with tarfile.open(fileobj=fileobj, mode="r:*") as tar:
        for m in tar:
            if m.isfile():
                yield m.name, m.size, m.mode


def extract(fileobj: BinaryIO, dest: Path, *, limit: int = MAX_EXTRACT) -> None:
    """Safely extract a tar/tar.gz stream into ``dest`` (normalised modes, no links)."""
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|*")
    except tarfile.TarError as exc:
        raise FormatError(f"content layer is not a readable tar archive: {exc}") from exc
    with tar:
        try:
            for m in tar:
                name = m.name
                if m.issym() or m.islnk():
                    raise UnsafePath(f"refusing link in archive: {name!r} -> {m.linkname!r}")
                if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
                    raise UnsafePath(f"refusing device or FIFO in archive: {name!r}")
                if not (m.isdir() or m.isfile()):
                    raise UnsafePath(f"refusing unsupported member type in archive: {name!r}")
                if name in (".", "./"):
                    continue
                safe_member_path(name)
                target = safe_join(dest, name)
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    os.chmod(target, 0o755)
                    continue
                total += m.size
                if total > limit:
                    raise FormatError(
                        f"archive expands past the {limit // (1024 * 1024)} MiB limit"
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:
                    raise FormatError(f"cannot read {name!r} from archive")
                if target.exists() or target.is_symlink():
                    raise UnsafePath(f"archive contains {name!r} twice")
                with open(target, "wb") as out:
                    while chunk := src.read(64 * 1024):
                        out.write(chunk)
                os.chmod(target, 0o755 if m.mode & 0o111 else 0o644)
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"content layer is a damaged archive: {exc}") from exc
