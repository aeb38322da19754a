"""The content-addressed cache shared by every project on the machine.

Layout under the root (``$SKILLCRATE_CACHE_DIR``, else the platform cache folder)::

    CACHEDIR.TAG                    marks the folder as a cache for backup tools
    .gitignore                      ``*``: never committed by accident
    blobs-v1/sha256/<hex>           verified blob bytes, read-only (0444)
    manifests-v1/sha256/<hex>       raw manifest bytes, verified again on every read
    unpacked-v2/<hex>/tree/         an unpacked skill tree, keyed by its manifest digest
    unpacked-v2/<hex>/meta.json     its name, format, tree digest and file records
    tmp/                            in-progress writes, renamed into place when complete,
                                    and trees unpacked for one project (moved into it)

Every entry appears with one ``os.replace``/``os.rename`` from ``tmp/`` (same
filesystem), so readers never see a partial entry and two processes writing the
same digest at once both succeed with one valid result. Only this module builds
paths inside the cache, and only from digests that match ``sha256:<64 lowercase
hex>``; anything else raises :class:`~skillcrate.errors.InvalidReference`.

The cache is shared with every other project and program of the user, so what is read
back from it is checked: manifests are re-hashed on every read; a blob is hashed while
it is extracted (unless this process just verified it); an unpacked tree is used only
while a ``lstat`` pass still matches the records made when it was extracted
(:func:`skillcrate.tree.scan_stat`), otherwise it is re-derived from its blob.
A tree unpacked while its blob downloads can stay this process's own
(:meth:`Cache.put_unpacked` without ``publish``): the project that needed it moves it
in, so the payload is written once here (the blob) and once there.

Durability without an fsync per entry: nothing here is fsynced where the Linux boot id
is available. A process that is killed loses nothing the kernel was given; only a crash
or power loss does, and that means a new boot. Blobs and manifests are re-hashed by every
other process anyway; an unpacked entry records the boot it was written in and, read
during a later boot, is hashed once against its tree before it is used again. Without a
boot id (not Linux) the files of an unpacked entry are fsynced before it appears.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from . import _json
from ._fs import DIR_FLAGS, atomic_write, boot_id
from .digests import ChunkReader, digest_hex, reads_ahead
from .errors import DigestMismatch, FormatError, InvalidReference, NotFound
from .skill.tree import FileRecord, records_tree, scan_stat, stat_digest, tree_files

__all__ = [
    "CHUNK_SIZE",
    "BlobIngest",
    "Cache",
    "CacheEntry",
    "CacheProblem",
    "PrivateTree",
    "Unpacked",
]

CHUNK_SIZE = 1024 * 1024
"""Bytes read per step while streaming a blob into the cache."""

STALE_TMP_SECONDS = 3600
"""``prune`` removes ``tmp/`` entries older than this (an interrupted write)."""

_HEX_RE = re.compile(r"[0-9a-f]{64}")

_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by skillcrate.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)

_BLOBS = ("blobs-v1", "sha256")
_MANIFESTS = ("manifests-v1", "sha256")
_UNPACKED = "unpacked-v2"
_OLD_UNPACKED = ("unpacked-v1",)
_TMP = "tmp"


@dataclass(frozen=True)
class Unpacked:
    """An unpacked skill in the cache: its tree folder and what was recorded at extraction."""

    root: Path  # the skill's files (do not modify)
    name: str
    format: str
    tree: str
    records: tuple[FileRecord, ...]
    own_name: bool = True  # the name came from SKILL.md (not from a fallback)


class PrivateTree:
    """A tree this process unpacked in ``tmp/`` for one project (``Cache.put_unpacked``
    without ``publish``): its folder ``work``, that folder's (st_dev, st_ino) when made, and
    the path of the tree's root below it."""

    __slots__ = ("ident", "root", "tree", "work")

    def __init__(
        self, work: Path, ident: tuple[int, int], root: tuple[str, ...], tree: Unpacked
    ) -> None:
        self.work, self.ident, self.root, self.tree = work, ident, root, tree

    @contextlib.contextmanager
    def root_parent(self) -> Iterator[tuple[int, str]]:
        """``(fd, name)``: the folder holding the tree's root, and the root's name in it,
        for a rename relative to that fd. Opened from ``work`` (which must still be the
        folder this process made) one component at a time without following a symlink,
        so what is moved is the tree made here, whatever was done to ``tmp/`` meanwhile.
        DigestMismatch when that cannot be told."""
        try:
            fd = os.open(self.work, DIR_FLAGS)
        except OSError as exc:
            raise DigestMismatch(f"extracted tree {self.work}: gone or replaced ({exc})") from None
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != self.ident:
                raise DigestMismatch(f"extracted tree {self.work}: replaced by another folder")
            for part in self.root[:-1]:
                try:
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise DigestMismatch(
                        f"extracted tree {self.work}: {part} was replaced ({exc.strerror})"
                    ) from None
                os.close(fd)
                fd = child
            yield fd, self.root[-1]
        finally:
            os.close(fd)


@dataclass(frozen=True)
class CacheEntry:
    """One cache entry: ``kind`` is ``blob``, ``manifest`` or ``unpacked``; ``size`` in bytes."""

    kind: str
    digest: str
    size: int
    path: Path


@dataclass(frozen=True)
class CacheProblem:
    """A corrupt or unexpected cache entry found by :meth:`Cache.verify`."""

    kind: str
    digest: str
    path: Path
    message: str
    removed: bool = False


class Cache:
    """The content-addressed cache rooted at ``root`` (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            env = os.environ.get("SKILLCRATE_CACHE_DIR")
            if env:
                root = Path(env)
            else:
                from .config import user_folder

                root = user_folder("cache")
        self.root = Path(root).expanduser().absolute()
        self._initialised = False
        self._init_lock = threading.Lock()  # the install's workers share one Cache
        self._verified: set[str] = set()  # blobs this process hashed as they arrived
        self._derived: set[str] = set()  # unpacked entries this process built from blobs
        # Trees this process extracted from a verified blob for one project (put_unpacked
        # with publish=False): key -> (its folder in tmp/, the tree), until taken or dropped.
        self._private: dict[str, PrivateTree] = {}
        self._private_taken: list[Path] = []
        self._private_lock = threading.Lock()
        self._boot_id: str | None = None  # read once, when first needed ("" = none)

    @classmethod
    def default(cls) -> Cache:
        """The cache at ``$SKILLCRATE_CACHE_DIR`` or the platform's user cache folder."""
        return cls()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -- paths (the only place cache paths are built) ---------------------------

    @property
    def tmp_dir(self) -> Path:
        """Folder for in-progress writes (same filesystem as every entry)."""
        return self.root / _TMP

    def blob_path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it is present)."""
        return self.root.joinpath(*_BLOBS, digest_hex(digest, error=InvalidReference))

    def manifest_path(self, digest: str) -> Path:
        """Where the manifest ``digest`` lives (whether or not it is present)."""
        return self.root.joinpath(*_MANIFESTS, digest_hex(digest, error=InvalidReference))

    def unpacked_path(self, key: str) -> Path:
        """Where the unpacked entry keyed by the digest ``key`` lives (``tree/``, ``meta.json``)."""
        return self.root / _UNPACKED / digest_hex(key, error=InvalidReference)

    # -- blobs ------------------------------------------------------------------

    def has_blob(self, digest: str) -> bool:
        """Whether the blob ``digest`` is in the cache."""
        return self.blob_path(digest).is_file()

    def remove_blob(self, digest: str) -> None:
        """Delete the cached blob ``digest`` (it no longer matches its digest)."""
        _unlink_quietly(self.blob_path(digest))
        self._verified.discard(digest)

    def open_blob(self, digest: str) -> BinaryIO:
        """Open the cached blob ``digest`` for reading; raise NotFound when absent."""
        path = self.blob_path(digest)
        try:
            return open(path, "rb")  # the caller closes it
        except FileNotFoundError:
            raise NotFound(f"blob {digest} is not in the cache ({path})") from None

    def open_verified(self, digest: str, size: int) -> BinaryIO:
        """Open the blob so that reading it to the end proves its size and digest.

        A blob this process streamed in (and hashed then) is opened plainly; any other
        one is wrapped in a :class:`~skillcrate.digests.ChunkReader` over the file whose
        ``finish()`` the reader calls once done (a ``size`` below 0 is unknown: only the
        digest is checked). A large one (:func:`~skillcrate.digests.reads_ahead`) is read
        and hashed on a worker thread while the caller extracts it; whichever thread
        reads it closes the file.
        """
        fh = self.open_blob(digest)
        if digest in self._verified:
            return fh
        return ChunkReader(  # type: ignore[return-value]
            digest,
            size if size >= 0 else None,
            _FileChunks(fh),
            ahead=reads_ahead(size),
            what="cached blob",
        )

    def put_blob(
        self,
        digest: str,
        stream: BinaryIO | Iterable[bytes] | bytes,
        size: int | None = None,
        *,
        source_verifies: bool = False,
    ) -> Path:
        """Stream ``stream`` into the cache as ``digest`` and return the blob's path.

        The bytes are written to a temp file under ``tmp/`` and hashed on the way, unless
        ``source_verifies``: the stream itself raises DigestMismatch before it ends when
        its bytes do not match (what every ``Fetcher.iter_blob`` does), so hashing them
        again here would only cost time. On a size or digest mismatch the temp file is
        removed and DigestMismatch raised; otherwise the file is made read-only and
        renamed into place. A blob already present is trusted and ``stream`` is not read.
        """
        dest = self.blob_path(digest)
        if dest.is_file():
            return dest
        with self.ingest_blob(
            digest, _chunks(stream), size, source_verifies=source_verifies
        ) as ing:
            ing.finish()
        return dest

    def ingest_blob(
        self,
        digest: str,
        chunks: Iterable[bytes],
        size: int | None,
        *,
        source_verifies: bool = False,
        ahead: bool = False,
    ) -> BlobIngest:
        """A reader over ``chunks`` that stores them as the blob ``digest`` while it is read.

        Extract from it and call ``finish()`` once done: the rest is read, size and digest
        are checked, and the blob appears in the cache. Closing it unfinished (an error
        while extracting) removes the partial file. One pass over the bytes for both the
        cache and the extraction. No fsync: a blob is re-hashed whenever a process other
        than the one that stored it reads it, so a file torn by a power loss is noticed
        and fetched again. ``ahead``: take (download, store) the chunks on a worker thread
        while the caller extracts (see :class:`~skillcrate.digests.ChunkReader`).
        """
        dest = self.blob_path(digest)
        self._ensure_root()
        dest.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # loads only when the cache is written to

        fd, tmp_name = tempfile.mkstemp(prefix=f"blob-{dest.name[:16]}-", dir=self.tmp_dir)

        def published() -> None:
            self._verified.add(digest)

        return BlobIngest(
            digest,
            size,
            iter(chunks),
            fd,
            Path(tmp_name),
            dest,
            source_verifies,
            published,
            ahead=ahead,
        )

    def _ingest(self, kind: str, digest: str, dest: Path, data: bytes) -> Path:
        """Check ``data`` against ``digest`` and publish it read-only at ``dest``.

        No fsync: manifests are re-hashed on every read (a torn file is dropped).
        """
        actual = f"sha256:{hashlib.sha256(data).hexdigest()}"
        if actual != digest:
            raise DigestMismatch(f"{kind} {digest}: content has digest {actual}")
        self._ensure_root()
        dest.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # loads only when the cache is written to

        fd, tmp_name = tempfile.mkstemp(prefix=f"{kind}-{dest.name[:16]}-", dir=self.tmp_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o444)
            _publish_file(tmp, dest)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return dest

    # -- manifests --------------------------------------------------------------

    def put_manifest(self, digest: str, data: bytes) -> Path:
        """Store the raw manifest ``data`` as ``digest`` after checking its sha256."""
        return self._ingest("manifest", digest, self.manifest_path(digest), bytes(data))

    def get_manifest(self, digest: str) -> bytes | None:
        """The cached manifest ``digest``, re-verified; None when absent or corrupt (deleted)."""
        path = self.manifest_path(digest)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if f"sha256:{hashlib.sha256(data).hexdigest()}" != digest:
            _unlink_quietly(path)
            return None
        return data

    def has_manifest(self, digest: str) -> bool:
        """Whether a manifest file for ``digest`` is present (not re-verified)."""
        return self.manifest_path(digest).is_file()

    # -- unpacked trees ---------------------------------------------------------

    def has_unpacked(self, key: str) -> bool:
        """Whether an unpacked entry keyed by ``key`` is present (not checked)."""
        return (self.unpacked_path(key) / "meta.json").is_file()

    def get_unpacked(self, key: str) -> Unpacked | None:
        """The unpacked entry for ``key`` if present and unchanged since extraction.

        Unchanged means its meta parses, its records hash to its tree digest, and a
        ``lstat`` pass over the tree matches the records; an entry written during another
        boot must also hash to its tree once. A damaged entry is removed (it is
        re-derived from its verified blob by the caller) and None returned.
        """
        entry = self.unpacked_path(key)
        try:
            raw = (entry / "meta.json").read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            return None
        try:
            meta = _json.loads(raw, str(entry / "meta.json"))
            unpacked = _unpacked_from_meta(entry, meta)
        except (FormatError, ValueError, KeyError, TypeError):
            unpacked = None
        if unpacked is not None and scan_stat(str(unpacked.root)) == meta.get("stat"):
            if meta.get("boot") == self._boot() or self._survived_reboot(entry, meta):
                return unpacked
        _remove_any(entry)
        return None

    def _boot(self) -> str | None:
        if self._boot_id is None:
            self._boot_id = boot_id() or ""
        return self._boot_id or None

    def _survived_reboot(self, entry: Path, meta: dict[str, Any]) -> bool:
        """Whether an entry written during another boot still holds its tree (hashed once).

        Entries are written without fsync (see :meth:`put_unpacked`), so after a crash
        or power loss a file may have its size and times but not its bytes. Once its
        files hash to the tree again, the entry is stamped with this boot.
        """
        if self._boot() is None:
            return True  # no boot id here: entries were fsynced when written
        if _check_unpacked(entry) is not None:  # what `cache verify` checks: the files' hash
            return False
        meta = {**meta, "boot": self._boot()}
        atomic_write(entry / "meta.json", json.dumps(meta, separators=(",", ":")) + "\n")
        return True

    def put_unpacked(
        self,
        key: str,
        fmt: str,
        build: Callable[[Path], tuple[str, Path, list[FileRecord], bool]],
        *,
        replace: bool = False,
        publish: bool = True,
    ) -> Unpacked:
        """Build the unpacked entry for ``key``; ``build(tmp)`` extracts into the empty ``tmp``.

        Without ``publish`` the tree stays this process's own, in ``tmp/``, for one
        project to take (:meth:`take_private`: moved, not copied, so the payload is
        written once into the cache, as its blob, and once into the project); no other
        process sees it, and :meth:`drop_private` removes what was not taken.

        ``build`` returns (skill name, skill root inside ``tmp``, records of the files
        below that root, whether the name came from SKILL.md). The root is renamed to
        ``tree/`` beside a ``meta.json``, and the entry renamed into place, so readers
        never see a partial one. If another process
        finished first, theirs is used when it holds the same tree; with ``replace``, an
        entry holding another tree (damaged, or planted) is replaced by ours.
        """
        if not publish:
            return self._put_private(key, fmt, build)
        dest = self.unpacked_path(key)
        self._ensure_root()
        dest.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # loads only when the cache is written to

        work = Path(tempfile.mkdtemp(prefix=f"unpack-{dest.name[:16]}-", dir=self.tmp_dir))
        try:
            name, root, records, own_name = build(work / "x")
            os.rename(root, work / "tree")
            if (work / "x").exists():
                _rmtree(work / "x")
            boot = self._boot()
            if boot is None:
                _fsync_files(work / "tree", records)
            meta = {
                "name": name,
                "ownName": own_name,
                "format": fmt,
                "tree": records_tree(records),
                "stat": stat_digest(records),
                "boot": boot,
                "files": [r.to_json() for r in records],
            }
            text = json.dumps(meta, separators=(",", ":")) + "\n"
            atomic_write(work / "meta.json", text, durable=boot is None)
            os.chmod(work, 0o755)
            try:
                os.rename(work, dest)
            except OSError:
                if not dest.exists():
                    raise
                theirs = self.get_unpacked(key)  # removes a damaged entry
                if theirs is None:
                    os.rename(work, dest)
                elif theirs.tree == meta["tree"] or not replace:
                    _rmtree(work)  # another process won the race with the same tree: use it
                else:  # an intact-looking entry with another tree: planted, replace it
                    import tempfile  # loads only when the cache is written to

                    aside = Path(tempfile.mkdtemp(prefix="old-", dir=self.tmp_dir))
                    os.rename(dest, aside / "entry")
                    os.rename(work, dest)
                    _rmtree(aside)
        except BaseException:
            if work.exists():
                _rmtree(work)
            raise
        got = self.get_unpacked(key)
        if got is None:
            raise DigestMismatch(f"unpacked tree {dest} changed while it was being stored")
        self._derived.add(key)
        return got

    def derived(self, key: str) -> bool:
        """Whether this process built the unpacked entry ``key`` from its verified blob."""
        return key in self._derived

    def _put_private(
        self, key: str, fmt: str, build: Callable[[Path], tuple[str, Path, list[FileRecord], bool]]
    ) -> Unpacked:
        hexpart = digest_hex(key, error=InvalidReference)
        have = self.private(key)
        if have is not None:
            return have
        self._ensure_root()
        import tempfile  # loads only when the cache is written to

        work = Path(tempfile.mkdtemp(prefix=f"own-{hexpart[:16]}-", dir=self.tmp_dir))
        try:
            st = os.lstat(work)
            name, root, records, own_name = build(work / "x")
        except BaseException:
            _rmtree(work)
            raise
        tree = Unpacked(root, name, fmt, records_tree(records), tuple(records), own_name)
        mine = PrivateTree(work, (st.st_dev, st.st_ino), root.relative_to(work).parts, tree)
        with self._private_lock:
            theirs = self._private.get(key)
            if theirs is None:
                self._private[key] = mine
        if theirs is not None:  # another worker extracted the same tree first
            _rmtree(work)
            return theirs.tree
        return tree

    def private(self, key: str) -> Unpacked | None:
        """The tree this process extracted for ``key`` without publishing it, if not taken."""
        with self._private_lock:
            have = self._private.get(key)
        return have.tree if have is not None else None

    def take_private(self, key: str) -> PrivateTree | None:
        """Claim the private tree of ``key``, once, for the caller that moves its root away
        (:meth:`private` no longer returns it); None when there is none or it was taken.
        Its folder in ``tmp/`` goes with :meth:`drop_private`."""
        with self._private_lock:
            have = self._private.pop(key, None)
            if have is not None:
                self._private_taken.append(have.work)
        return have

    @contextlib.contextmanager
    def private_scope(self) -> Iterator[None]:
        """Private trees made inside the block are gone after it (:meth:`drop_private`)."""
        try:
            yield
        finally:
            self.drop_private()

    def drop_private(self) -> None:
        """Remove the private trees' folders: what was taken (its tree moved out) and
        what nobody took (an install that failed or was refused)."""
        with self._private_lock:
            left = [p.work for p in self._private.values()] + self._private_taken
            self._private.clear()
            self._private_taken.clear()
        for work in left:  # best effort, never through a symlink put there: prune ends it
            with contextlib.suppress(OSError):
                _remove_any(work)

    # -- maintenance ------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every blob, manifest and unpacked tree, sorted by kind then digest."""
        found: list[CacheEntry] = []
        for kind, path in self._iter_entries():
            hexpart = path.name
            if not _HEX_RE.fullmatch(hexpart):
                continue
            size = _tree_size(path / "tree") if kind == "unpacked" else _lsize(path)
            found.append(CacheEntry(kind, f"sha256:{hexpart}", size, path))
        found.sort(key=lambda e: (e.kind, e.digest))
        return found

    def verify(self, *, remove: bool = False) -> list[CacheProblem]:
        """Re-hash every blob and manifest; report (and with ``remove``, delete) bad entries.

        Files with names that are not a sha256 hex digest are reported as unexpected.
        Unpacked trees are re-hashed against the tree digest recorded when they were
        extracted.
        """
        problems: list[CacheProblem] = []
        for kind, path in self._iter_entries():
            message = _check_unpacked(path) if kind == "unpacked" else _check_entry(kind, path)
            if message is None:
                continue
            digest = f"sha256:{path.name}" if _HEX_RE.fullmatch(path.name) else ""
            removed = False
            if remove:
                _remove_any(path)
                removed = True
            problems.append(CacheProblem(kind, digest, path, message, removed))
        return problems

    def clean(self) -> int:
        """Remove every entry and temp file (keeps the root and its marker files); bytes freed.

        Only skillcrate's own sub-folders are removed, so a mistaken
        ``SKILLCRATE_CACHE_DIR`` never wipes unrelated files.
        """
        freed = 0
        for name in (_BLOBS[0], _MANIFESTS[0], _UNPACKED, *_OLD_UNPACKED, _TMP):
            path = self.root / name
            if path.exists() or path.is_symlink():
                freed += _tree_size(path)
                _remove_any(path)
        return freed

    def prune(self, keep: set[str], *, now: float | None = None) -> int:
        """Remove entries whose digest is not in ``keep`` and stale temp files; bytes freed."""
        freed = 0
        for kind, path in self._iter_entries():
            digest = f"sha256:{path.name}" if _HEX_RE.fullmatch(path.name) else None
            if digest is not None and digest in keep:
                continue
            freed += _tree_size(path / "tree") if kind == "unpacked" else _lsize(path)
            _remove_any(path)
        for old in _OLD_UNPACKED:
            if (self.root / old).exists():
                freed += _tree_size(self.root / old)
                _remove_any(self.root / old)
        cutoff = (time.time() if now is None else now) - STALE_TMP_SECONDS
        for path in _listdir(self.tmp_dir):
            try:
                mtime = path.lstat().st_mtime
            except FileNotFoundError:
                continue
            if mtime < cutoff:
                freed += _tree_size(path)
                _remove_any(path)
        return freed

    def size(self) -> int:
        """Total bytes of every file under the root."""
        return _tree_size(self.root) if self.root.is_dir() else 0

    # -- internals --------------------------------------------------------------

    def _ensure_root(self) -> None:
        """Create the root with ``CACHEDIR.TAG``, ``.gitignore`` and ``tmp/`` on first use.

        Once per Cache, by the first of the install's workers to get here (the others wait
        for it, not write the markers again). The markers are written without fsync: a
        marker lost to a crash is written again on the next use."""
        if not self._initialised:
            with self._init_lock:
                if not self._initialised:
                    self.root.mkdir(parents=True, exist_ok=True)
                    for name, text in (("CACHEDIR.TAG", _CACHEDIR_TAG), (".gitignore", "*\n")):
                        if not (self.root / name).exists():
                            atomic_write(self.root / name, text, durable=False)
                    self.tmp_dir.mkdir(exist_ok=True)
                    self._initialised = True
                    return
        self.tmp_dir.mkdir(parents=True, exist_ok=True)  # gone after a clean()

    def _iter_entries(self) -> Iterator[tuple[str, Path]]:
        """Yield ``(kind, path)`` for every item in the blob, manifest and unpacked folders."""
        for kind, folder in (
            ("blob", self.root.joinpath(*_BLOBS)),
            ("manifest", self.root.joinpath(*_MANIFESTS)),
            ("unpacked", self.root / _UNPACKED),
        ):
            for path in sorted(_listdir(folder)):
                yield kind, path


class BlobIngest(ChunkReader):
    """A read-only file object over a blob's incoming chunks that stores them as it reads.

    Made by :meth:`Cache.ingest_blob`. Every chunk is written to the temp file as it is
    taken (and hashed, unless the source verifies itself), on the read-ahead worker when
    there is one; :meth:`finish` reads the rest, checks size and digest and publishes the
    blob; :meth:`close` before that discards it. The temp file is discarded once, by
    whichever thread is last to hold it: the reader's :meth:`close`, or the worker that
    gives up (an error, or a stop while the reader no longer waits).
    """

    def __init__(
        self,
        digest: str,
        size: int | None,
        chunks: Iterator[bytes],
        fd: int,
        tmp: Path,
        dest: Path,
        source_verifies: bool,
        published: Callable[[], None],
        ahead: bool = False,
    ) -> None:
        self._fd, self._tmp, self._dest = fd, tmp, dest
        self._published = published
        self._closed = False
        self._closing = threading.Lock()  # this file's: the reader or the worker discards
        super().__init__(digest, size, chunks, source_verifies=source_verifies, ahead=ahead)

    def _store(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self._fd, view) :]

    def _given_up(self) -> None:
        self._discard()

    def _discard(self) -> None:
        with self._closing:
            if self._closed:
                return
            self._closed = True
            os.close(self._fd)
        _unlink_quietly(self._tmp)

    def finish(self) -> None:
        """Read what is left, check size and digest, and publish the blob read-only."""
        super().finish()
        with self._closing:
            os.close(self._fd)
            self._closed = True
        try:
            os.chmod(self._tmp, 0o444)
            _publish_file(self._tmp, self._dest)
        except BaseException:
            _unlink_quietly(self._tmp)
            raise
        self._published()

    def close(self) -> bool:
        """Discard the partial blob unless :meth:`finish` published it. A read-ahead
        worker still stuck in a read keeps its file open until the read returns (then
        closes it): its name is removed now, so nothing is left in ``tmp/``."""
        stopped = super().close()
        if stopped:
            self._discard()
        elif not self._closed:
            _unlink_quietly(self._tmp)
        return stopped

    def __enter__(self) -> BlobIngest:
        return self


# -- helpers --------------------------------------------------------------------


class _FileChunks:
    """The bytes of ``fh`` in chunks; the file is closed at their end or by :meth:`close`
    (also before the first chunk, which a generator's ``with`` would not do)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh

    def __iter__(self) -> _FileChunks:
        return self

    def __next__(self) -> bytes:
        chunk = self._fh.read(CHUNK_SIZE)
        if not chunk:
            self._fh.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._fh.close()


def _chunks(stream: BinaryIO | Iterable[bytes] | bytes) -> Iterator[bytes]:
    """Yield the bytes of a file object, an iterable of chunks or a bytes value."""
    if isinstance(stream, bytes | bytearray | memoryview):
        data = memoryview(stream)
        for start in range(0, len(data), CHUNK_SIZE):
            yield bytes(data[start : start + CHUNK_SIZE])
        return
    read: Any = getattr(stream, "read", None)
    if callable(read):
        while True:
            chunk = read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk
    else:
        for chunk in stream:
            if chunk:
                yield bytes(chunk)


def _fsync_files(root: Path, records: Iterable[FileRecord]) -> None:
    """Force the recorded files below ``root`` to disk (where no boot id is available)."""
    for r in records:
        fd = os.open(root.joinpath(*r.path.split("/")), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _publish_file(tmp: Path, dest: Path) -> None:
    """Rename the verified ``tmp`` onto ``dest``; an identical file already there also wins."""
    try:
        os.replace(tmp, dest)
    except PermissionError:
        # Windows refuses to replace a read-only file: the same digest is already there.
        if not dest.is_file():
            raise
        _unlink_quietly(tmp)


def _check_entry(kind: str, path: Path) -> str | None:
    """A one-line problem for a blob or manifest file, or None when it is sound."""
    label = "blob" if kind == "blob" else "manifest"
    if not _HEX_RE.fullmatch(path.name):
        return f"unexpected {label} entry {path}: name is not a sha256 digest"
    if path.is_symlink() or not path.is_file():
        return f"unexpected {label} entry {path}: not a regular file"
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
                hasher.update(chunk)
    except OSError as exc:
        return f"{label} sha256:{path.name}: unreadable ({exc.strerror or exc})"
    if hasher.hexdigest() != path.name:
        return f"{label} sha256:{path.name}: content has digest sha256:{hasher.hexdigest()}"
    return None


def _unpacked_from_meta(entry: Path, meta: object) -> Unpacked | None:
    if not isinstance(meta, dict):
        return None
    records = tuple(FileRecord.from_json(r) for r in meta["files"])
    tree = meta["tree"]
    if not isinstance(tree, str) or records_tree(records) != tree:
        return None
    name, fmt = meta["name"], meta["format"]
    if not isinstance(name, str) or not isinstance(fmt, str):
        return None
    return Unpacked(entry / "tree", name, fmt, tree, records, meta.get("ownName") is True)


def _check_unpacked(path: Path) -> str | None:
    """A one-line problem for an unpacked entry, or None when its files hash to its tree."""
    if not _HEX_RE.fullmatch(path.name):
        return f"unexpected unpacked entry {path}: name is not a sha256 digest"
    try:
        meta = _json.loads((path / "meta.json").read_bytes(), str(path / "meta.json"))
        unpacked = _unpacked_from_meta(path, meta)
    except (OSError, FormatError, ValueError, KeyError, TypeError) as exc:
        return f"unpacked sha256:{path.name}: unreadable record ({exc})"
    if unpacked is None:
        return f"unpacked sha256:{path.name}: its record is inconsistent"
    from .skill.tree import tree_digest

    try:
        actual = tree_digest(tree_files(unpacked.root))
    except Exception as exc:  # noqa: BLE001 - UnsafePath, NotFound, OSError: all damage
        return f"unpacked sha256:{path.name}: {exc}"
    if actual != unpacked.tree:
        return f"unpacked sha256:{path.name}: files have tree {actual}, recorded {unpacked.tree}"
    return None


def _listdir(folder: Path) -> list[Path]:
    """The children of ``folder``, or nothing when it does not exist."""
    try:
        with os.scandir(folder) as it:
            return [Path(entry.path) for entry in it]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _lsize(path: Path) -> int:
    """Size of a file without following symlinks (0 when gone)."""
    try:
        return path.lstat().st_size
    except FileNotFoundError:
        return 0


def _tree_size(path: Path) -> int:
    """Total size of the files under ``path`` (or of ``path`` itself when it is a file)."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            total += _lsize(Path(dirpath, name))
    return total


def _unlink_quietly(path: Path) -> None:
    """Remove a file if present, clearing a read-only flag where the OS insists."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
        path.unlink()


def _remove_any(path: Path) -> None:
    """Remove a file, symlink or folder (with read-only files) if present."""
    if path.is_symlink() or not path.is_dir():
        _unlink_quietly(path)
    else:
        _rmtree(path)


def _rmtree(path: Path) -> None:
    """``shutil.rmtree`` that also removes read-only entries (Windows, read-only folders)."""

    def retry(func: Callable[..., object], name: str, exc: object) -> None:
        if not os.path.lexists(name):
            return  # removed concurrently
        if func in (os.unlink, os.remove, os.rmdir):
            for target in (os.path.dirname(name), name):
                if not os.path.islink(target):
                    os.chmod(target, stat.S_IRWXU)
            func(name)
            return
        raise exc[1] if isinstance(exc, tuple) else exc  # type: ignore[misc]

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
