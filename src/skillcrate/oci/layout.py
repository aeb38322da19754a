"""An OCI image layout on disk (``oci:PATH``) as a Target — the format skopeo and ORAS write.

One layout is one repository: ``oci-layout``, ``index.json`` (entries tagged by the
``org.opencontainers.image.ref.name`` annotation) and ``blobs/sha256/<hex>``.
Writes are atomic and serialised by a lock in skillcrate's per-user state folder
(:func:`skillcrate._flock.state_lock`, keyed by the layout's real path), so committed
layouts never pick up lock files and nobody else's files can hold a write off.

A layout committed to a project is read like a registry nobody here controls: files are
opened with ``O_NOFOLLOW | O_NONBLOCK`` and must be regular files (a symlink to
``/dev/zero`` or a FIFO is refused, never read or waited on), of the declared size, read
with a bound (:data:`MAX_MANIFEST` for ``index.json`` and manifests), and hashed.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .._fs import atomic_write
from ..digests import digest_hex, sha256_digest, verify_bytes
from ..errors import DigestMismatch, FormatError, NotFound
from ..names import TAG_RE
from .model import (
    CHUNK,
    OCI_INDEX,
    REF_NAME,
    BlobSource,
    Descriptor,
    manifest_media_type,
    open_source,
    parse_manifest,
    verified_chunks,
)

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Any

LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'
MAX_MANIFEST = 4 * 1024 * 1024
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _open_regular(path: Path, what: str) -> tuple[int, int]:
    """(fd, size) of the regular file ``path``; NotFound when absent, FormatError otherwise."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        raise NotFound(f"{what}: missing") from None
    except OSError as exc:
        raise FormatError(f"{what}: {path} is not a regular file ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FormatError(f"{what}: {path} is not a regular file")
    return fd, st.st_size


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing links, devices, FIFOs and big files."""
    fd, size = _open_regular(path, what)
    with os.fdopen(fd, "rb") as fh:
        if size > limit:
            raise FormatError(f"{what}: {path} is larger than {limit} bytes")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise FormatError(f"{what}: {path} is larger than {limit} bytes")
    return data


def _tag_matches(annotation: str, tag: str) -> bool:
    return annotation == tag or annotation.endswith(":" + tag)


class LayoutRepository:
    """Read and write an OCI image layout folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return f"oci:{self.root}"

    # layout files -------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / "index.json").is_file()

    def _lock(self) -> AbstractContextManager[None]:
        from .._flock import state_lock
        from ..fastpath import project_key

        return state_lock(f"layout-{project_key(self.root)}", self.describe())

    def _read_index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = read_regular(path, MAX_MANIFEST, f"{self.describe()}: index.json")
        except NotFound:
            if not self.root.exists():
                raise NotFound(f"{self.describe()}: no such folder") from None
            raise NotFound(f"{self.describe()}: not an OCI image layout (no index.json)") from None
        obj = parse_manifest(data, f"{path}")
        if not isinstance(obj.get("manifests", []), list):
            raise FormatError(f"{path}: 'manifests' is not a list")
        return obj

    def _write_index(self, index: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / "oci-layout").exists():
            atomic_write(self.root / "oci-layout", LAYOUT_FILE)
        atomic_write(self.root / "index.json", json.dumps(index, indent=2) + "\n")

    def _blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest_hex(digest, error=DigestMismatch)

    # manifests ----------------------------------------------------------
    def _entries(self) -> list[dict[str, Any]]:
        return [m for m in self._read_index().get("manifests", []) if isinstance(m, dict)]

    def resolve(self, reference: str) -> Descriptor:
        if reference.startswith("sha256:"):
            for m in self._entries():
                if m.get("digest") == reference:
                    return Descriptor.from_json(m)
            path = self._blob_path(reference)
            if path.is_file() and not path.is_symlink():
                data = read_regular(path, MAX_MANIFEST, f"{self.describe()}@{reference}")
                obj = parse_manifest(data, f"{self.describe()}@{reference}")
                return Descriptor(
                    manifest_media_type(obj),
                    reference,
                    len(data),
                    artifact_type=obj.get("artifactType"),
                )
            raise NotFound(f"{self.describe()}@{reference}: not found")
        matches = [
            m
            for m in self._entries()
            if _tag_matches(str((m.get("annotations") or {}).get(REF_NAME, "")), reference)
        ]
        if not matches:
            raise NotFound(f"{self.describe()}:{reference}: tag not found")
        return Descriptor.from_json(matches[-1])

    def fetch_manifest(self, reference: str) -> tuple[Descriptor, bytes]:
        desc = self.resolve(reference)
        try:
            data = read_regular(
                self._blob_path(desc.digest), MAX_MANIFEST, f"{self.describe()}@{desc.digest}"
            )
        except NotFound:
            raise NotFound(f"{self.describe()}@{desc.digest}: manifest blob missing") from None
        verify_bytes(data, desc.digest, "manifest")
        obj = parse_manifest(data, f"manifest {self.describe()}@{desc.digest}")
        mt = manifest_media_type(obj, desc.media_type)
        return Descriptor(
            mt, desc.digest, len(data), dict(desc.annotations), obj.get("artifactType"), data
        ), data

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        desc = Descriptor.for_bytes(media_type, data)
        obj = parse_manifest(data)
        desc = Descriptor(
            media_type, desc.digest, desc.size, artifact_type=obj.get("artifactType"), data=data
        )
        with self._lock():
            self._write_blob_bytes(desc.digest, data)
            try:
                index = self._read_index()
            except NotFound:
                index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
            self._set_entry(index, desc, tag)
            self._write_index(index)
        return desc

    def _set_entry(self, index: dict[str, Any], desc: Descriptor, tag: str | None) -> None:
        entries = [m for m in index.get("manifests", []) if isinstance(m, dict)]
        if tag:
            entries = [
                m
                for m in entries
                if not _tag_matches(str((m.get("annotations") or {}).get(REF_NAME, "")), tag)
            ]
            ann = {REF_NAME: tag}
        else:
            if any(m.get("digest") == desc.digest for m in entries):
                index["manifests"] = entries
                return
            ann = {}
        entry = {"mediaType": desc.media_type, "digest": desc.digest, "size": desc.size}
        if desc.artifact_type:
            entry["artifactType"] = desc.artifact_type
        if ann:
            entry["annotations"] = ann
        # an untagged entry for the same digest is superseded by a tagged one
        entries = [
            m
            for m in entries
            if not (
                m.get("digest") == desc.digest and not (m.get("annotations") or {}).get(REF_NAME)
            )
        ]
        entries.append(entry)
        index["manifests"] = entries

    def tag(self, desc: Descriptor, tag: str) -> None:
        with self._lock():
            if not self._blob_path(desc.digest).is_file():
                raise NotFound(f"{self.describe()}@{desc.digest}: manifest not in layout")
            index = self._read_index()
            self._set_entry(index, desc, tag)
            self._write_index(index)

    def untag(self, tag: str) -> None:
        with self._lock():
            index = self._read_index()
            before = len(index.get("manifests", []))
            kept = [
                m
                for m in index.get("manifests", [])
                if not _tag_matches(str((m.get("annotations") or {}).get(REF_NAME, "")), tag)
            ]
            if len(kept) == before:
                raise NotFound(f"{self.describe()}:{tag}: tag not found")
            index["manifests"] = kept
            self._write_index(index)

    def tags(self) -> list[str]:
        out = set()
        for m in self._entries():
            name = str((m.get("annotations") or {}).get(REF_NAME, ""))
            if name:
                tag = name.rsplit(":", 1)[-1] if "/" in name or name.count(":") else name
                if TAG_RE.match(tag):
                    out.add(tag)
        return sorted(out)

    # blobs --------------------------------------------------------------
    def blob_exists(self, desc: Descriptor) -> bool:
        return self._blob_path(desc.digest).is_file()

    def iter_blob(self, desc: Descriptor) -> Iterator[bytes]:
        path = self._blob_path(desc.digest)
        try:
            fd, size = _open_regular(path, f"{self.describe()}: blob {desc.digest}")
        except NotFound:
            raise NotFound(f"{self.describe()}: blob {desc.digest} missing") from None
        with os.fdopen(fd, "rb") as fh:
            if desc.size >= 0 and size != desc.size:
                raise DigestMismatch(
                    f"{self.describe()}: blob {desc.digest} has {size} bytes, not {desc.size}"
                )
            yield from verified_chunks(iter(lambda: fh.read(CHUNK), b""), desc)

    def _write_blob_bytes(self, digest: str, data: bytes) -> None:
        path = self._blob_path(digest)
        if path.is_file():
            return
        verify_bytes(data, digest, "blob")
        atomic_write(path, data)

    def push_blob(self, desc: Descriptor, source: BlobSource) -> None:
        path = self._blob_path(desc.digest)
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ingest-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out, open_source(source) as src:
                for chunk in verified_chunks(iter(lambda: src.read(CHUNK), b""), desc):
                    out.write(chunk)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # referrers ----------------------------------------------------------
    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        found: list[Descriptor] = []
        for m in self._entries():
            try:
                path = self._blob_path(str(m.get("digest", "")))
                data = read_regular(path, MAX_MANIFEST, f"{self.describe()}: referrer")
                obj = json.loads(data)
            except (OSError, ValueError, RecursionError, FormatError, NotFound, DigestMismatch):
                continue
            if not isinstance(obj, dict):
                continue
            if (obj.get("subject") or {}).get("digest") != desc.digest:
                continue
            at = obj.get("artifactType") or (obj.get("config") or {}).get("mediaType")
            if artifact_type and at != artifact_type:
                continue
            found.append(
                Descriptor(
                    manifest_media_type(obj),
                    sha256_digest(data),
                    len(data),
                    obj.get("annotations") or {},
                    at,
                )
            )
        return found

    def push_referrer(self, data: bytes, media_type: str, subject: Descriptor) -> Descriptor:
        return self.push_manifest(data, media_type, None)
