"""Deterministic skill archives and safe extraction.

Packing: entries sorted by path (a folder before its children), mtime 0, uid/gid 0,
empty user/group names, mode 0755 for folders and executables and 0644 for other
files; only folders and regular files (a symlink to a file is packed as that file, other
links are refused); gzip with mtime 0 and no file name. The same folder gives the same
bytes on every run and machine.

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
from typing import IO, BinaryIO

from .._fs import cannot_write, safe_member_path
from ..errors import FormatError, UnsafePath, ValidationError
from .ignore import IgnoreRules
from .tree import FileRecord, TreeFile, check_tree_path, tree_digest

MAX_EXTRACT = 256 * 1024 * 1024
MAX_ENTRIES = 100_000
# The stream buffer and read size of extraction. tarfile's stream reader joins and slices
# its buffer on every read, and each piece passes zlib, the file and sha256 in turn: pieces
# that stay in the CPU cache make a 200 MiB layer extract in ~270 ms with hashing (~140 ms
# without), 1 MiB pieces in ~650-920 ms (~430-490 ms); 32-128 KiB measured alike.
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """One folder or file of a skill's tree, as it goes into the layer."""

    rel: str  # POSIX path relative to the skill folder
    is_dir: bool
    executable: bool
    path: Path  # what is read: the file itself, or the file a symlink points to
    link: str = ""  # the symlink's target as written, when ``rel`` is a dereferenced link
    size: int = 0  # bytes of a file when collected


def limit_problem(entries: list[Entry]) -> str | None:
    """Why consumers could not extract these entries (past the size or entry cap), or None.

    The rule extraction applies (:class:`Budget`), checked before anything is packed. One
    entry is kept for the folder the image format wraps the files in.
    """
    total = sum(e.size for e in entries)
    if total > MAX_EXTRACT:
        return (
            f"the files add up to {total / (1024 * 1024):.1f} MiB, past the "
            f"{MAX_EXTRACT // (1024 * 1024)} MiB a consumer extracts"
        )
    if len(entries) + 1 > MAX_ENTRIES:
        return f"{len(entries)} files and folders, past the {MAX_ENTRIES} a consumer extracts"
    return None


def collect(folder: Path, problems: list[tuple[str, str]] | None = None) -> list[Entry]:
    """The folder's packable entries, sorted, after ignore rules.

    A symlink to a file is packed as that file (``Entry.link`` says so; the caller warns);
    a dangling link, a link to a folder and anything but files and folders are refused:
    ValidationError at the first, or, with ``problems``, each appended as
    ``(rel, message)`` and skipped.
    """
    folder = Path(folder)
    rules = IgnoreRules.for_folder(folder)
    out: list[Entry] = []

    def refuse(rel: str, message: str) -> None:
        if problems is None:
            raise ValidationError(f"{rel}: {message}")
        problems.append((rel, message))

    def walk(d: Path, rel_dir: str) -> None:
        with os.scandir(d) as it:
            items = sorted(it, key=lambda e: e.name)
        for e in items:
            rel = f"{rel_dir}{e.name}"
            st = os.lstat(e.path)
            link = ""
            if stat.S_ISLNK(st.st_mode):
                link = os.readlink(e.path)
                try:
                    st = os.stat(e.path)
                except OSError:
                    if not rules.ignored(rel, False):
                        refuse(rel, f"symbolic link to {link!r} points at nothing")
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if not rules.ignored(rel, True):
                        refuse(
                            rel,
                            f"symbolic link to the folder {link!r} cannot be packed; "
                            "copy the folder into the skill instead",
                        )
                    continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if rules.ignored(rel, is_dir):
                continue
            if is_dir:
                out.append(Entry(rel, True, True, Path(e.path)))
                walk(Path(e.path), rel + "/")
            elif stat.S_ISREG(st.st_mode):
                source = Path(os.path.realpath(e.path)) if link else Path(e.path)
                out.append(Entry(rel, False, bool(st.st_mode & 0o111), source, link, st.st_size))
            else:
                refuse(rel, "only regular files and folders can be packed")

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


class _HashingReader:
    """A file read by ``tarfile.addfile``, hashed as it passes (each byte read once)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.hash = raw, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        return data


def write_tar(folder: Path, prefix: str | None, out: BinaryIO) -> list[TreeFile]:
    """Stream a deterministic tar of ``folder`` into ``out`` (paths under ``prefix/`` if given);
    the tree files it holds (their tree digest is what an install of it records).

    File contents are copied in chunks, so memory stays flat whatever the sizes, and
    hashed as they are copied.
    """
    entries = collect(folder)
    files: list[TreeFile] = []
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
                reader = _HashingReader(fh)
                tar.addfile(_info(name, is_dir=False, executable=e.executable, size=size), reader)
            files.append(TreeFile(e.rel, e.executable, size, reader.hash.hexdigest()))
    return files


@dataclass(frozen=True)
class Layer:
    """A packed layer: its compressed digest and size, its diff_id and the tree digest."""

    digest: str  # of the gzip'd bytes: the same for the same skillcrate and zlib
    size: int
    diff_id: str  # digest of the uncompressed tar: the same whatever the zlib
    tree: str  # tree digest of the files (skill.tree): what an install records


# Level 9, chosen by measurement (benchmarks/gzip_levels.py, docs/formats.md): on text
# skills it makes layers ~1% smaller than level 6 for ~2x the compression time (~7 ms
# per skill), on incompressible assets every level takes the same time; changing it
# would change every layer digest (and refuse re-pushes of unchanged versions).
GZIP_LEVEL = 9


def write_layer(folder: Path, prefix: str | None, out: BinaryIO) -> Layer:
    """Stream the gzip'd deterministic tar into ``out`` in one pass, hashing both forms
    and each file."""
    gz_out = HashingWriter(out)
    with gzip.GzipFile(
        filename="", mode="wb", fileobj=gz_out, mtime=0, compresslevel=GZIP_LEVEL
    ) as gz:
        tar_out = HashingWriter(gz)  # type: ignore[arg-type]
        files = write_tar(folder, prefix, tar_out)  # type: ignore[arg-type]
    return Layer(gz_out.digest, gz_out.size, tar_out.digest, tree_digest(files))


def build_tar(folder: Path, prefix: str | None) -> bytes:
    """An uncompressed, deterministic tar of ``folder``, in memory (small folders, tests)."""
    buf = io.BytesIO()
    write_tar(folder, prefix, buf)
    return buf.getvalue()


def gzip_bytes(data: bytes, level: int = GZIP_LEVEL) -> bytes:
    """``data`` gzip'd as a layer is (``level``: another level, to measure it)."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=level) as gz:
        gz.write(data)
    return out.getvalue()


def list_members(fileobj: BinaryIO) -> Iterator[tuple[str, int, int]]:
    """(path, size, mode) for each regular file in a tar or tar.gz stream."""
    with tarfile.open(fileobj=fileobj, mode="r|*", bufsize=_CHUNK) as tar:
        for m in tar:
            if m.isfile():
                yield m.name, m.size, m.mode


class Budget:
    """What one extraction may still write: bytes (``limit``) and entries."""

    def __init__(self, limit: int = MAX_EXTRACT, entries: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self.left = limit
        self.entries = entries

    def take(self, size: int, name: str) -> None:
        self.entries -= 1
        if self.entries < 0:
            raise FormatError(f"archive has more than {MAX_ENTRIES} entries")
        self.left -= size
        if self.left < 0:
            raise FormatError(f"archive expands past the {self.limit // (1024 * 1024)} MiB limit")


class Folders:
    """The folders of one extraction below ``dest``, made one level at a time: each is
    ``lstat``-ed as a real folder (not a symlink) before anything is made in it, so a
    symlink planted on the way (nothing in an archive can make one) is refused before it
    can lead a ``mkdir`` out of ``dest``. Each folder is proven once, not once per member."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self._known = {""}

    def make(self, parts: tuple[str, ...], member: str) -> Path:
        """``dest/parts`` as a folder (made when missing); UnsafePath if it leads out."""
        path = Path(self.dest, *parts)
        if "/".join(parts) in self._known:
            return path
        for i in range(1, len(parts) + 1):
            key = "/".join(parts[:i])
            if key in self._known:
                continue
            here = os.path.join(self.dest, *parts[:i])
            try:
                os.mkdir(here)
            except FileExistsError:
                pass  # made by an earlier member, or something else is there: checked next
            except NotADirectoryError:  # the archive made a file on the way
                raise UnsafePath(f"archive member {member!r} is below a file") from None
            except OSError as exc:
                raise cannot_write(Path(here), exc) from exc
            try:
                mode = os.lstat(here).st_mode
            except OSError as exc:
                raise cannot_write(Path(here), exc) from exc
            if stat.S_ISLNK(mode):
                raise UnsafePath(f"unsafe path in archive: {member!r} escapes the destination")
            if not stat.S_ISDIR(mode):
                raise UnsafePath(f"archive member {member!r} is below a file")
            self._known.add(key)
        return path


def write_file(
    dest: Path,
    name: str,
    src: IO[bytes],
    size: int | None,
    executable: bool,
    budget: Budget,
    *,
    hash_files: bool = True,
    folders: Folders | None = None,
    umask: bool = False,
) -> FileRecord:
    """Write one archive member below ``dest`` (hashing as it goes); its record.

    ``name`` is relative to ``dest``; ``size`` is what the archive declares (None: read
    to the end, still within the budget). Without ``hash_files`` the record's sha256 is
    empty (for a copy nobody records: ``pull``). ``folders``: the extraction's folders
    (one per extraction, so each is proven once). The file is 0644 (0755 when
    ``executable``); with ``umask``, 0666 (0777) minus the umask, as the OS applies it:
    the mode of a file created in a project (a tree extracted to be moved into one).
    """
    member = safe_member_path(name)
    rel = str(member)
    check_tree_path(rel, name)
    parent = (folders or Folders(dest)).make(member.parts[:-1], name)
    target = parent / member.parts[-1]
    budget.take(size or 0, name)
    hasher = hashlib.sha256() if hash_files else None
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, (0o777 if executable else 0o666) if umask else 0o600)
    except FileExistsError:
        raise UnsafePath(f"archive contains {name!r} twice") from None
    except OSError as exc:
        raise cannot_write(target, exc) from exc
    try:
        while chunk := src.read(_CHUNK):  # an OSError here is the stream's (bad gzip)
            written += len(chunk)
            if size is None:
                budget.take(len(chunk), name)
            if hasher is not None:
                hasher.update(chunk)
            view = memoryview(chunk)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:  # ENOSPC, EDQUOT, EIO: the file system's, not the archive's
                raise cannot_write(target, exc) from exc
        try:
            if not umask:
                os.fchmod(fd, 0o755 if executable else 0o644)
            st = os.fstat(fd)
        except OSError as exc:
            raise cannot_write(target, exc) from exc
    finally:
        os.close(fd)
    digest = hasher.hexdigest() if hasher is not None else ""
    return FileRecord(rel, digest, executable, written, st.st_mtime_ns, st.st_ctime_ns)


def extract(
    fileobj: BinaryIO,
    dest: Path,
    *,
    limit: int = MAX_EXTRACT,
    budget: Budget | None = None,
    hash_files: bool = True,
    umask: bool = False,
) -> list[FileRecord]:
    """Safely extract a tar/tar.gz stream into ``dest``; the records of the files written.

    Modes are normalised (0755 folders and executables, 0644 files; with ``umask``,
    0777 and 0666 minus the umask, see :func:`write_file`); links, devices,
    FIFOs, absolute or ``..`` paths and duplicate names are refused, and so is an archive
    that expands past the budget (256 MiB, 100,000 entries by default).
    """
    budget = budget or Budget(limit)
    dest.mkdir(parents=True, exist_ok=True)
    folders = Folders(dest)
    records: list[FileRecord] = []
    try:
        # A 64 KiB stream buffer (see _CHUNK): tarfile's default (10 KiB) costs more per byte.
        tar = tarfile.open(fileobj=fileobj, mode="r|*", bufsize=_CHUNK)
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
                if m.isdir():
                    budget.take(0, name)
                    target = folders.make(safe_member_path(name).parts, name)
                    if not umask:
                        os.chmod(target, 0o755)
                    continue
                src = tar.extractfile(m)
                if src is None:
                    raise FormatError(f"cannot read {name!r} from archive")
                executable = bool(m.mode & 0o111)
                records.append(
                    write_file(
                        dest,
                        name,
                        src,
                        m.size,
                        executable,
                        budget,
                        hash_files=hash_files,
                        folders=folders,
                        umask=umask,
                    )
                )
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"content layer is a damaged archive: {exc}") from exc
    return records
