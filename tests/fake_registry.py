"""An in-process OCI Distribution registry with the OCI 1.1 referrers API, for tests.

The real test registry (Debian's ``docker-registry``, CNCF Distribution 2.8) has no referrers
API, so clients fall back to the ``sha256-<hex>`` tag schema there. :class:`ReferrersRegistry`
is the other half: a small, spec-correct (distribution-spec v1.1) fake that does have it, so
tests can exercise the API path. It is a fake *for the referrers API*; blobs, uploads, manifests
and tags are implemented only as far as a client needs them around that.

* ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (free port), a background thread, no auth,
  everything in memory per repository.
* ``GET /v2/``; blobs (``HEAD``/``GET``/``DELETE``), uploads (monolithic ``POST ?digest=``,
  ``POST`` + ``PATCH`` chunks + ``PUT ?digest=``, cross-repository ``POST ?mount=&from=``);
  manifests (``PUT``/``GET``/``HEAD``/``DELETE`` by tag or digest); ``tags/list`` with
  ``n``/``last`` pagination; ``GET /v2/<name>/referrers/<digest>`` with the ``artifactType``
  filter.
* ``PUT`` of a manifest with a ``subject`` answers ``OCI-Subject: <subject digest>``: that is
  how a client learns the registry supports referrers (and so writes no fallback tag).
* Errors use the OCI JSON error format. Every request is logged (:attr:`requests`,
  :attr:`records`) before its answer is sent.

Switches (plain attributes; change them any time, also while running):

* ``referrers_api`` (True): False makes the registry behave like Distribution 2.8 here: the
  referrers endpoint answers a plain-text 404 and no ``OCI-Subject`` header is sent.
* ``require_index_children`` (True): an index may only list manifests stored in the same
  repository (``MANIFEST_BLOB_UNKNOWN`` otherwise), like registries that refuse
  cross-repository indexes. False accepts any child digest.
* ``referrers_page_size`` (None): when set, referrers answers hold at most that many
  descriptors and a ``Link: <...>; rel="next"`` header points at the next page.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import pytest

from helpers import QuietHTTPServer

LOOPBACK = "127.0.0.1"
STOP_TIMEOUT = 3.0
MAX_MANIFEST = 4 * 1024 * 1024

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_RANGE_RE = re.compile(r"^(?:bytes )?(\d+)-(\d+)$")
_HASHES = {"sha256": 64, "sha512": 128}
_ROUTES = [
    ("upload", re.compile(r"^/v2/(?P<name>.+?)/blobs/uploads/(?P<session>[^/]*)$")),
    ("blob", re.compile(r"^/v2/(?P<name>.+?)/blobs/(?P<digest>[^/]+)$")),
    ("manifest", re.compile(r"^/v2/(?P<name>.+?)/manifests/(?P<reference>[^/]+)$")),
    ("tags", re.compile(r"^/v2/(?P<name>.+?)/tags/list$")),
    ("referrers", re.compile(r"^/v2/(?P<name>.+?)/referrers/(?P<digest>[^/]+)$")),
]
_Params = dict[str, list[str]]
_Headers = Mapping[str, str]
_METHODS = {
    "upload": {"POST", "GET", "PATCH", "PUT", "DELETE"},
    "blob": {"GET", "HEAD", "DELETE"},
    "manifest": {"GET", "HEAD", "PUT", "DELETE"},
    "tags": {"GET"},
    "referrers": {"GET"},
}


# ------------------------------------------------------------------------ request log


class Request(NamedTuple):
    """One request as (method, path); the path has no query string."""

    method: str
    path: str


@dataclass(frozen=True)
class RequestRecord:
    """Everything about one request, for detailed assertions."""

    method: str
    path: str  # without the query string
    query: str  # raw query string ("" if none)
    status: int
    headers: Mapping[str, str]  # request headers
    body_size: int

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)


# ------------------------------------------------------------------------------ storage


@dataclass
class _Manifest:
    data: bytes
    media_type: str
    subject: str | None
    artifact_type: str | None
    annotations: dict[str, str]


@dataclass
class _Repository:
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, _Manifest] = field(default_factory=dict)  # digest -> manifest
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest


@dataclass
class _Upload:
    repository: str
    data: bytearray = field(default_factory=bytearray)


class _Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes = b""


class _Error(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        more: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.headers = dict(headers or {})
        first: dict[str, Any] = {"code": code, "message": message}
        if detail is not None:
            first["detail"] = detail
        self.errors = [first, *(more or [])]

    def response(self) -> _Response:
        body = json.dumps({"errors": self.errors}).encode()
        return _Response(self.status, {**self.headers, "Content-Type": "application/json"}, body)


def _digest_of(algorithm: str, data: bytes) -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _check_digest(text: str | None) -> str:
    """``text`` if it is a sha256/sha512 digest, else 400 DIGEST_INVALID."""
    algorithm, _, encoded = (text or "").partition(":")
    length = _HASHES.get(algorithm)
    if length is None or len(encoded) != length or encoded.strip("0123456789abcdef"):
        raise _Error(400, "DIGEST_INVALID", f"invalid or unsupported digest {text!r}")
    return str(text)


def _is_digest(reference: str) -> bool:
    return ":" in reference


def _check_reference(reference: str) -> str:
    if _is_digest(reference):
        return _check_digest(reference)
    if not _TAG_RE.match(reference):
        raise _Error(400, "MANIFEST_INVALID", f"invalid tag {reference!r}")
    return reference


def _accepts(accept: str, media_type: str) -> bool:
    """Loose ``Accept`` check: no header, a wildcard, or the type listed (parameters ignored)."""
    if not accept.strip():
        return True
    listed = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(listed & {"*/*", "application/*", media_type.lower()})


# ----------------------------------------------------------------------------- server


class _HTTPServer(QuietHTTPServer):
    daemon_threads = True
    owner: ReferrersRegistry


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        owner = self.server.owner
        resp = owner._handle(self.command, unquote(url.path), url.query, self.headers, body)
        owner._log(self.command, unquote(url.path), url.query, resp.status, self.headers, body)
        self.send_response(resp.status)
        headers = {"Docker-Distribution-API-Version": "registry/2.0", **resp.headers}
        headers.setdefault("Content-Length", str(len(resp.body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and resp.status not in (204, 304):
            self.wfile.write(resp.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class ReferrersRegistry:
    """In-memory OCI registry on 127.0.0.1 that implements the OCI 1.1 referrers API.

    Addresses like :class:`registry_server.RegistryServer`: ``host`` (``127.0.0.1:<port>``),
    ``port``, ``url``. ``start()`` picks a free port the first time and reuses it (and the
    storage) on later starts; ``stop()`` also cuts open keep-alive connections.
    """

    def __init__(
        self,
        *,
        referrers_api: bool = True,
        require_index_children: bool = True,
        referrers_page_size: int | None = None,
    ) -> None:
        self.referrers_api = referrers_api
        self.require_index_children = require_index_children
        self.referrers_page_size = referrers_page_size
        self.referrers_status: int | None = None  # answer the referrers API with this status
        self.errors: list[str] = []  # tracebacks of internal errors (answered with 500)
        self._repos: dict[str, _Repository] = {}
        self._uploads: dict[str, _Upload] = {}
        self._records: list[RequestRecord] = []
        self._lock = threading.RLock()
        self._port: int | None = None
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((LOOPBACK, self._port or 0), _Handler)
        httpd.owner = self
        self._port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"referrers-registry-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open connections. Safe to call repeatedly."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("referrers registry was never started")
        return self._port

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def __repr__(self) -> str:
        where = self.host if self._port is not None else "unstarted"
        return f"<ReferrersRegistry {where} running={self.running}>"

    # request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Snapshot of (method, path) for every request, oldest first (no query strings)."""
        with self._lock:
            return [Request(r.method, r.path) for r in self._records]

    @property
    def records(self) -> list[RequestRecord]:
        """Snapshot of the detailed log (query, status, request headers, body size)."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the request log (storage is kept)."""
        with self._lock:
            self._records.clear()

    # storage inspection ------------------------------------------------------------

    def repositories(self) -> list[str]:
        with self._lock:
            return sorted(self._repos)

    def tags(self, repository: str) -> list[str]:
        """Tags of ``repository`` (sorted; empty if it does not exist)."""
        with self._lock:
            repo = self._repos.get(repository)
            return sorted(repo.tags) if repo else []

    def blob(self, repository: str, digest: str) -> bytes | None:
        with self._lock:
            repo = self._repos.get(repository)
            return repo.blobs.get(digest) if repo else None

    def manifest(self, repository: str, reference: str) -> bytes | None:
        """Stored bytes of a manifest by tag or digest (None if absent)."""
        with self._lock:
            repo = self._repos.get(repository)
            if repo is None:
                return None
            digest = reference if _is_digest(reference) else repo.tags.get(reference)
            found = repo.manifests.get(digest or "")
            return found.data if found else None

    # internals ---------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _log(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        record = RequestRecord(method, path, query, status, dict(headers.items()), len(body))
        with self._lock:
            self._records.append(record)

    def _handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        params = parse_qs(query, keep_blank_values=True)
        try:
            with self._lock:
                return self._route(method, path, params, headers, body)
        except _Error as err:
            return err.response()
        except Exception:  # noqa: BLE001 - a bug in the fake: answer 500 and keep it
            self.errors.append(traceback.format_exc())
            return _Error(500, "UNKNOWN", "internal error in the fake registry").response()

    def _route(
        self,
        method: str,
        path: str,
        params: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Response:
        if path in ("/v2", "/v2/"):
            if method not in ("GET", "HEAD"):
                raise _Error(405, "UNSUPPORTED", f"{method} {path}")
            return _Response(200, {"Content-Type": "application/json"}, b"{}")
        for kind, pattern in _ROUTES:
            m = pattern.match(path)
            if m is None:
                continue
            name = m.group("name")
            if not _NAME_RE.match(name):
                raise _Error(400, "NAME_INVALID", f"invalid repository name {name!r}")
            if method not in _METHODS[kind]:
                raise _Error(405, "UNSUPPORTED", f"{method} is not supported on {path}")
            args = {k: v for k, v in m.groupdict().items() if k != "name"}
            handler = getattr(self, f"_{kind}")
            return handler(method, name, params, headers, body, **args)
        raise _Error(404, "UNSUPPORTED", f"no such endpoint: {path}")

    def _repo(self, name: str, *, create: bool = False) -> _Repository | None:
        if create:
            return self._repos.setdefault(name, _Repository())
        return self._repos.get(name)

    # blobs -------------------------------------------------------------------------

    def _blob(
        self,
        method: str,
        name: str,
        params: _Params,
        headers: _Headers,
        body: bytes,
        *,
        digest: str,
    ) -> _Response:
        _check_digest(digest)
        repo = self._repo(name)
        if repo is None or digest not in repo.blobs:
            raise _Error(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
        if method == "DELETE":
            del repo.blobs[digest]
            return _Response(202, {})
        data = repo.blobs[digest]
        hdrs = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
        return _Response(200, {**hdrs, "Content-Length": str(len(data))}, data)

    def _store_blob(self, name: str, digest: str, data: bytes) -> _Response:
        algorithm = digest.split(":", 1)[0]
        actual = _digest_of(algorithm, data)
        if actual != digest:
            raise _Error(
                400,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                {"digest": digest, "actual": actual},
            )
        repo = self._repo(name, create=True)
        assert repo is not None
        repo.blobs[digest] = data
        location = f"/v2/{name}/blobs/{digest}"
        return _Response(201, {"Location": location, "Docker-Content-Digest": digest})

    def _session_response(self, status: int, name: str, session: str) -> _Response:
        size = len(self._uploads[session].data)
        return _Response(
            status,
            {
                "Location": f"/v2/{name}/blobs/uploads/{session}",
                "Range": f"0-{max(size - 1, 0)}",
                "Docker-Upload-UUID": session,
            },
        )

    def _new_session(self, name: str) -> _Response:
        session = uuid.uuid4().hex
        self._uploads[session] = _Upload(name)
        return self._session_response(202, name, session)

    def _append_chunk(
        self, name: str, session: str, upload: _Upload, headers: _Headers, body: bytes
    ) -> None:
        content_range = headers.get("Content-Range")
        if content_range:
            m = _RANGE_RE.match(content_range.strip())
            start, end = (int(m.group(1)), int(m.group(2))) if m else (-1, -1)
            if start != len(upload.data) or end - start + 1 != len(body):
                resp = self._session_response(416, name, session)
                raise _Error(
                    416,
                    "BLOB_UPLOAD_INVALID",
                    f"chunk range {content_range!r} does not continue at {len(upload.data)}",
                    headers=resp.headers,
                )
        upload.data += body

    def _upload(
        self,
        method: str,
        name: str,
        params: _Params,
        headers: _Headers,
        body: bytes,
        *,
        session: str,
    ) -> _Response:
        if method == "POST":
            if session:
                raise _Error(405, "UNSUPPORTED", "POST starts a new upload at .../uploads/")
            if "mount" in params:
                digest = _check_digest(params["mount"][0])
                source = self._repo((params.get("from") or [""])[0])
                if source is not None and digest in source.blobs:
                    return self._store_blob(name, digest, source.blobs[digest])
                return self._new_session(name)
            if "digest" in params:
                return self._store_blob(name, _check_digest(params["digest"][0]), body)
            return self._new_session(name)

        upload = self._uploads.get(session)
        if upload is None or upload.repository != name:
            raise _Error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        if method == "GET":
            return self._session_response(204, name, session)
        if method == "DELETE":
            del self._uploads[session]
            return _Response(204, {})
        if method == "PATCH":
            self._append_chunk(name, session, upload, headers, body)
            return self._session_response(202, name, session)
        # PUT: optional last chunk, then close the session
        digest = _check_digest((params.get("digest") or [""])[0])
        self._append_chunk(name, session, upload, headers, body)
        del self._uploads[session]  # closed, whether or not the digest matches
        return self._store_blob(name, digest, bytes(upload.data))

    # manifests ---------------------------------------------------------------------

    def _manifest(
        self,
        method: str,
        name: str,
        params: _Params,
        headers: _Headers,
        body: bytes,
        *,
        reference: str,
    ) -> _Response:
        reference = _check_reference(reference)
        if method == "PUT":
            return self._put_manifest(name, reference, headers, body)
        repo = self._repo(name)
        digest = None
        if repo is not None:
            digest = reference if _is_digest(reference) else repo.tags.get(reference)
        found = repo.manifests.get(digest) if repo is not None and digest else None
        if repo is None or digest is None or found is None:
            raise _Error(404, "MANIFEST_UNKNOWN", "manifest unknown", {"reference": reference})
        if method == "DELETE":
            if _is_digest(reference):
                del repo.manifests[digest]
                for tag in [t for t, d in repo.tags.items() if d == digest]:
                    del repo.tags[tag]
            else:
                del repo.tags[reference]
            return _Response(202, {})
        if not _accepts(headers.get("Accept", ""), found.media_type):
            raise _Error(
                404,
                "MANIFEST_UNKNOWN",
                f"manifest is a {found.media_type}, which the Accept header does not list",
            )
        hdrs = {
            "Content-Type": found.media_type,
            "Docker-Content-Digest": digest,
            "Content-Length": str(len(found.data)),
        }
        return _Response(200, hdrs, found.data)

    def _put_manifest(
        self, name: str, reference: str, headers: Mapping[str, str], body: bytes
    ) -> _Response:
        if len(body) > MAX_MANIFEST:
            raise _Error(413, "SIZE_INVALID", f"manifest larger than {MAX_MANIFEST} bytes")
        try:
            obj = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Error(400, "MANIFEST_INVALID", f"manifest is not JSON: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("schemaVersion") != 2:
            raise _Error(400, "MANIFEST_INVALID", "manifest must be an object, schemaVersion 2")
        header_type = headers.get("Content-Type", "").split(";")[0].strip()
        body_type = obj.get("mediaType")
        if header_type and body_type and header_type != body_type:
            raise _Error(
                400,
                "MANIFEST_INVALID",
                f"Content-Type {header_type!r} does not match mediaType {body_type!r}",
            )
        media_type = header_type or body_type or (OCI_INDEX if "manifests" in obj else OCI_MANIFEST)

        repo = self._repo(name) or _Repository()
        if media_type in IMAGE_MANIFEST_TYPES:
            config = obj.get("config")
            if not isinstance(config, dict):
                raise _Error(400, "MANIFEST_INVALID", "image manifest without a config")
            missing = self._missing(repo.blobs, [config, *self._list(obj, "layers")])
        elif media_type == OCI_ARTIFACT_MANIFEST:
            missing = self._missing(repo.blobs, self._list(obj, "blobs"))
        elif media_type in INDEX_TYPES:
            children = self._list(obj, "manifests")
            missing = self._missing(
                repo.manifests if self.require_index_children else None, children
            )
        else:
            raise _Error(400, "MANIFEST_INVALID", f"unsupported manifest type {media_type!r}")
        if missing:
            errors = [
                {
                    "code": "MANIFEST_BLOB_UNKNOWN",
                    "message": "blob unknown to registry",
                    "detail": {"digest": d},
                }
                for d in missing
            ]
            err = _Error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
            err.errors = errors
            raise err

        subject = obj.get("subject")
        subject_digest = None
        if subject is not None:
            if not isinstance(subject, dict):
                raise _Error(400, "MANIFEST_INVALID", "subject must be a descriptor")
            subject_digest = _check_digest(subject.get("digest"))

        if _is_digest(reference):
            digest = reference
            algorithm = digest.split(":", 1)[0]
            if _digest_of(algorithm, body) != digest:
                raise _Error(
                    400,
                    "DIGEST_INVALID",
                    "manifest does not match the digest it was pushed as",
                    {"digest": digest, "actual": _digest_of(algorithm, body)},
                )
        else:
            digest = _digest_of("sha256", body)

        artifact_type = obj.get("artifactType")
        if not artifact_type and media_type in IMAGE_MANIFEST_TYPES:
            artifact_type = obj["config"].get("mediaType")
        annotations = obj.get("annotations")
        repo = self._repo(name, create=True)
        assert repo is not None
        if digest not in repo.manifests:  # keep the first push's place in the order
            repo.manifests[digest] = _Manifest(
                body,
                media_type,
                subject_digest,
                artifact_type if isinstance(artifact_type, str) else None,
                dict(annotations) if isinstance(annotations, dict) else {},
            )
        if not _is_digest(reference):
            repo.tags[reference] = digest
        hdrs = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        if subject_digest and self.referrers_api:
            hdrs["OCI-Subject"] = subject_digest
        return _Response(201, hdrs)

    @staticmethod
    def _list(obj: Mapping[str, Any], key: str) -> list[Any]:
        value = obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _Error(400, "MANIFEST_INVALID", f"{key} must be a list")
        return value

    @staticmethod
    def _missing(have: Mapping[str, Any] | None, descriptors: list[Any]) -> list[str]:
        """Digests of ``descriptors`` not in ``have`` (None: only check the descriptors)."""
        missing = []
        for desc in descriptors:
            if not isinstance(desc, dict):
                raise _Error(400, "MANIFEST_INVALID", "descriptor must be an object")
            digest = _check_digest(desc.get("digest"))
            if have is not None and digest not in have and digest not in missing:
                missing.append(digest)
        return missing

    # tags --------------------------------------------------------------------------

    def _tags(
        self, method: str, name: str, params: _Params, headers: _Headers, body: bytes
    ) -> _Response:
        repo = self._repo(name)
        if repo is None:
            raise _Error(404, "NAME_UNKNOWN", "repository name not known to registry")
        tags = sorted(repo.tags)
        last = (params.get("last") or [None])[0]
        if last is not None:
            tags = [t for t in tags if t > last]
        hdrs = {"Content-Type": "application/json"}
        if "n" in params:
            try:
                n = int(params["n"][0])
            except ValueError:
                n = -1
            if n < 0:
                raise _Error(400, "UNSUPPORTED", f"invalid n {params['n'][0]!r}")
            page = tags[:n]
            if n and len(tags) > n:
                query = urlencode({"n": n, "last": page[-1]})
                hdrs["Link"] = f'</v2/{name}/tags/list?{query}>; rel="next"'
            tags = page
        return _Response(200, hdrs, json.dumps({"name": name, "tags": tags}).encode())

    # referrers ---------------------------------------------------------------------

    def _referrers(
        self,
        method: str,
        name: str,
        params: _Params,
        headers: _Headers,
        body: bytes,
        *,
        digest: str,
    ) -> _Response:
        if self.referrers_status is not None:
            return _Response(self.referrers_status, {"Content-Type": "text/plain"}, b"broken\n")
        if not self.referrers_api:  # what Distribution 2.8 answers
            return _Response(404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 not found\n")
        _check_digest(digest)
        repo = self._repo(name)
        wanted = [t for t in params.get("artifactType", []) if t]
        found: list[dict[str, Any]] = []
        for mdigest, man in repo.manifests.items() if repo is not None else ():
            if man.subject != digest:
                continue
            if wanted and man.artifact_type not in wanted:
                continue
            desc: dict[str, Any] = {
                "mediaType": man.media_type,
                "digest": mdigest,
                "size": len(man.data),
            }
            if man.artifact_type:
                desc["artifactType"] = man.artifact_type
            if man.annotations:
                desc["annotations"] = dict(man.annotations)
            found.append(desc)
        hdrs = {"Content-Type": OCI_INDEX}
        if wanted:
            hdrs["OCI-Filters-Applied"] = "artifactType"
        size = self.referrers_page_size
        if size:
            last = (params.get("last") or [None])[0]
            if last is not None:
                digests = [d["digest"] for d in found]
                found = found[digests.index(last) + 1 :] if last in digests else []
            if len(found) > size:
                found = found[:size]
                query = urlencode(
                    [*(("artifactType", t) for t in wanted), ("last", found[-1]["digest"])]
                )
                hdrs["Link"] = f'</v2/{name}/referrers/{quote(digest)}?{query}>; rel="next"'
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": found}
        return _Response(200, hdrs, json.dumps(index).encode())


# ----------------------------------------------------------------------------- fixture


@pytest.fixture
def referrers_registry() -> Iterator[ReferrersRegistry]:
    """A fresh in-memory registry with the OCI 1.1 referrers API (per test, on 127.0.0.1).

    ``.host`` / ``.url`` / ``.port`` like the real registry fixtures; ``.requests`` logs
    (method, path); switches ``referrers_api``, ``require_index_children``,
    ``referrers_page_size``. Fails the test at teardown if the fake itself crashed.
    """
    with ReferrersRegistry() as server:
        yield server
    if server.errors:
        pytest.fail("the fake registry crashed:\n" + "\n".join(server.errors), pytrace=False)
