"""A repository in a remote registry (OCI Distribution API), as a Target."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urljoin

from ..digests import digest_hex, sha256_digest, verify_bytes
from ..errors import AuthError, DigestMismatch, FormatError, NotFound, RegistryError
from ..names import TAG_RE
from .model import (
    ACCEPT_MANIFESTS,
    CHUNK,
    OCI_INDEX,
    BlobSource,
    Descriptor,
    canonical_json,
    manifest_media_type,
    parse_manifest,
    verified_chunks,
)
from .transport import Transport, iter_body, raise_for_status, read_limited, scope_for

MAX_MANIFEST = 4 * 1024 * 1024
MAX_LIST_PAGE = 4 * 1024 * 1024
MAX_PAGES = 100
MAX_TAGS = 50_000
MAX_REFERRERS = 10_000
_LINK_RE = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


class RegistryRepository:
    """One repository of a registry: manifests, blobs, tags, referrers."""

    def __init__(self, transport: Transport, repository: str) -> None:
        self.transport = transport
        self.repository = repository

    def describe(self) -> str:
        return f"{self.transport.host}/{self.repository}"

    # scopes -------------------------------------------------------------
    @property
    def _pull(self) -> str:
        return scope_for(self.repository, ("pull",))

    @property
    def _push(self) -> str:
        return scope_for(self.repository, ("pull", "push"))

    def _path(self, kind: str, ref: str = "") -> str:
        return f"/v2/{self.repository}/{kind}/{ref}" if ref else f"/v2/{self.repository}/{kind}/"

    # manifests ----------------------------------------------------------
    def resolve(self, reference: str) -> Descriptor:
        what = (
            f"{self.describe()}:{reference}"
            if ":" not in reference
            else (f"{self.describe()}@{reference}")
        )
        resp = self.transport.request(
            "HEAD",
            self._path("manifests", reference),
            scope=self._pull,
            headers={"Accept": ACCEPT_MANIFESTS},
        )
        raise_for_status(resp, what)
        digest = resp.headers.get("Docker-Content-Digest")
        mt = resp.headers.get("Content-Type", "").split(";")[0].strip()
        size = int(resp.headers.get("Content-Length") or -1)
        if not digest or size < 0 or (reference.startswith("sha256:") and digest != reference):
            desc, _ = self.fetch_manifest(reference)
            return desc
        digest_hex(digest, error=DigestMismatch)
        return Descriptor(mt, digest, size)

    def fetch_manifest(self, reference: str) -> tuple[Descriptor, bytes]:
        what = (
            f"{self.describe()}@{reference}"
            if reference.startswith("sha256:")
            else (f"{self.describe()}:{reference}")
        )
        resp = self.transport.request(
            "GET",
            self._path("manifests", reference),
            scope=self._pull,
            headers={"Accept": ACCEPT_MANIFESTS},
            stream=True,
        )
        try:
            raise_for_status(resp, what)
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_MANIFEST:
                raise FormatError(f"{what}: manifest larger than {MAX_MANIFEST} bytes")
            data = read_limited(resp, MAX_MANIFEST, f"manifest {what}")
        finally:
            resp.close()
        if reference.startswith("sha256:"):
            verify_bytes(data, reference, "manifest")
        header_digest = resp.headers.get("Docker-Content-Digest")
        digest = sha256_digest(data)
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatch(
                f"manifest {what}: registry says {header_digest}, bytes hash to {digest}"
            )
        obj = parse_manifest(data, f"manifest {what}")
        mt = manifest_media_type(obj, resp.headers.get("Content-Type", "").split(";")[0].strip())
        return Descriptor(
            mt, digest, len(data), artifact_type=obj.get("artifactType"), data=data
        ), data

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        digest = sha256_digest(data)
        ref = tag or digest
        resp = self.transport.request(
            "PUT",
            self._path("manifests", ref),
            scope=self._push,
            headers={"Content-Type": media_type},
            data=data,
        )
        raise_for_status(resp, f"push manifest {self.describe()}:{ref}")
        resp.close()
        got = resp.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise DigestMismatch(f"registry stored manifest as {got}, expected {digest}")
        obj = json.loads(data)
        return Descriptor(
            media_type, digest, len(data), artifact_type=obj.get("artifactType"), data=data
        )

    def tag(self, desc: Descriptor, tag: str) -> None:
        _, data = self.fetch_manifest(desc.digest)
        self.push_manifest(data, desc.media_type, tag)

    def untag(self, tag: str) -> None:
        resp = self.transport.request("DELETE", self._path("manifests", tag), scope=self._push)
        if resp.status_code in (400, 405):
            raise RegistryError(
                f"{self.describe()}: this registry cannot delete the tag {tag!r} without "
                "deleting the manifest (OCI tag deletion unsupported)",
                status=resp.status_code,
            )
        raise_for_status(resp, f"untag {self.describe()}:{tag}")
        resp.close()

    def delete_manifest(self, digest: str) -> None:
        resp = self.transport.request("DELETE", self._path("manifests", digest), scope=self._push)
        raise_for_status(resp, f"delete {self.describe()}@{digest}")
        resp.close()

    # blobs --------------------------------------------------------------
    def blob_exists(self, desc: Descriptor) -> bool:
        return self._blob_exists(desc, self._pull)

    def _blob_exists(self, desc: Descriptor, scope: str) -> bool:
        resp = self.transport.request("HEAD", self._path("blobs", desc.digest), scope=scope)
        if resp.status_code == 404:
            resp.close()
            return False
        raise_for_status(resp, f"blob {self.describe()}@{desc.digest}")
        resp.close()
        self.transport.note_blob(desc.digest, self.repository)
        return True

    def iter_blob(self, desc: Descriptor) -> Iterator[bytes]:
        """Stream a blob; the digest and size are checked as the last chunk passes."""
        digest_hex(desc.digest, error=DigestMismatch)
        what = f"blob {self.describe()}@{desc.digest}"
        resp = self.transport.request(
            "GET", self._path("blobs", desc.digest), scope=self._pull, stream=True
        )
        try:
            raise_for_status(resp, what)
            declared = resp.headers.get("Content-Length", "")
            if desc.size >= 0 and declared.isdigit() and int(declared) > desc.size:
                raise DigestMismatch(
                    f"{what}: the registry sends more than the declared {desc.size} bytes "
                    f"({declared})"
                )
            meter = self.transport.meter
            if meter is None:
                yield from verified_chunks(iter_body(resp, what, CHUNK), desc)
            else:
                meter.begin(desc.digest, self.repository.rsplit("/", 1)[-1], desc.size)
                try:
                    for chunk in verified_chunks(iter_body(resp, what, CHUNK), desc):
                        meter.advance(desc.digest, len(chunk))
                        yield chunk
                finally:
                    meter.end(desc.digest)
        finally:
            resp.close()
        self.transport.note_blob(desc.digest, self.repository)

    def _mount_source(self, digest: str) -> str | None:
        """A repository of this registry known to hold ``digest``: noted, pushed or pulled."""
        others = [r for r in self.transport.blob_repositories(digest) if r != self.repository]
        return others[-1] if others else None

    def push_blob(self, desc: Descriptor, source: BlobSource) -> None:
        """Upload a blob unless present: cross-repo mount when possible, else one streamed PUT.

        A mount is tried when this process has seen the blob in another repository of
        the same registry (pushed, pulled or noted); if the registry refuses it (no pull
        access to the source, unknown blob) the bytes are uploaded instead.
        """
        digest_hex(desc.digest, error=DigestMismatch)
        if self._blob_exists(desc, self._push):
            return
        what = f"push blob {self.describe()}@{desc.digest}"
        uploads = self._path("blobs", "uploads/")
        resp = None
        mount_from = self._mount_source(desc.digest)
        if mount_from:
            try:
                resp = self.transport.request(
                    "POST",
                    uploads,
                    scope=f"{self._push} {scope_for(mount_from, ('pull',))}",
                    params={"mount": desc.digest, "from": mount_from},
                )
            except AuthError:
                resp = None  # no pull access to the source repository: upload instead
            else:
                if resp.status_code == 201:
                    resp.close()
                    self.transport.note_blob(desc.digest, self.repository)
                    return
                if resp.status_code != 202:  # 202: mount declined, upload session started
                    resp.close()
                    resp = None
        if resp is None:
            resp = self.transport.request("POST", uploads, scope=self._push)
        raise_for_status(resp, what)
        location = resp.headers.get("Location")
        resp.close()  # an upload Location on another host gets no credentials (transport)
        if not location:
            raise RegistryError(f"{what}: registry gave no upload location")
        url = urljoin(self.transport.base + "/", location)
        sep = "&" if "?" in url else "?"
        resp = self.transport.request(
            "PUT",
            f"{url}{sep}digest={desc.digest}",
            scope=self._push,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(desc.size)},
            data=source,
        )
        raise_for_status(resp, what)
        resp.close()
        self.transport.note_blob(desc.digest, self.repository)

    # tags and referrers -------------------------------------------------
    def _next_page(self, resp_url: str, link: str) -> str | None:
        """The ``rel=next`` URL of a list answer, only on the registry's own origin."""
        m = _LINK_RE.search(link)
        if not m:
            return None
        url: str = urljoin(resp_url, m.group(1))
        if not self.transport.same_origin(url):
            raise FormatError(
                f"{self.describe()}: the registry links the next page to another host; "
                "refusing to follow it"
            )
        return url

    def tags(self) -> list[str]:
        """Every tag (pages followed, at most MAX_PAGES pages and MAX_TAGS tags); tags that
        are not valid OCI tags are dropped."""
        out: set[str] = set()
        path: str | None = f"/v2/{self.repository}/tags/list?n=1000"
        seen: set[str] = set()
        while path and path not in seen:
            if len(seen) >= MAX_PAGES:
                raise FormatError(f"{self.describe()}: more than {MAX_PAGES} pages of tags")
            seen.add(path)
            resp = self.transport.request("GET", path, scope=self._pull)
            try:
                raise_for_status(resp, f"repository {self.describe()}")
                raw = read_limited(resp, MAX_LIST_PAGE, f"{self.describe()}: tag list")
            finally:
                resp.close()
            body = parse_manifest(raw, f"{self.describe()}: tag list")
            tags = body.get("tags") or []
            if not isinstance(tags, list):
                raise FormatError(f"{self.describe()}: malformed tag list")
            out.update(t for t in tags if isinstance(t, str) and TAG_RE.match(t))
            if len(out) > MAX_TAGS:
                raise FormatError(f"{self.describe()}: more than {MAX_TAGS} tags")
            path = self._next_page(resp.url or self.transport.base, resp.headers.get("Link", ""))
        return sorted(out)

    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        """The referrers API (every page); on 404 the ``sha256-<hex>`` fallback index."""
        entries: list[dict[str, object]] = []
        path: str | None = self._path("referrers", desc.digest)
        params = {"artifactType": artifact_type} if artifact_type else None
        seen: set[str] = set()
        while path and path not in seen:
            seen.add(path)
            resp = self.transport.request(
                "GET", path, scope=self._pull, headers={"Accept": OCI_INDEX}, params=params
            )
            ctype = resp.headers.get("Content-Type", "")
            if len(seen) > MAX_PAGES:
                resp.close()
                raise FormatError(f"{self.describe()}: more than {MAX_PAGES} pages of referrers")
            if resp.status_code == 200 and ctype.startswith(OCI_INDEX):
                raw = read_limited(resp, MAX_MANIFEST, "referrers index")
                index = parse_manifest(raw, "referrers index")
            elif resp.status_code == 404 or (resp.status_code == 200 and not entries):
                resp.close()  # no referrers API: the OCI 1.1 tag schema
                try:
                    _, data = self.fetch_manifest(fallback_tag(desc.digest))
                except NotFound:
                    return []
                index = parse_manifest(data, "referrers fallback index")
                path = None
            else:
                raise_for_status(resp, f"referrers of {self.describe()}@{desc.digest}")
                raise FormatError(f"{self.describe()}: referrers answer is not an image index")
            listed = index.get("manifests") or []
            if not isinstance(listed, list):
                raise FormatError(f"{self.describe()}: malformed referrers index")
            entries.extend(m for m in listed if isinstance(m, dict))
            if len(entries) > MAX_REFERRERS:
                raise FormatError(f"{self.describe()}: more than {MAX_REFERRERS} referrers")
            if path is not None:
                path = self._next_page(
                    resp.url or self.transport.base, resp.headers.get("Link", "")
                )
                params = None
        found = [Descriptor.from_json(m) for m in entries]
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    def push_referrer(self, data: bytes, media_type: str, subject: Descriptor) -> Descriptor:
        """Push a manifest whose ``subject`` is ``subject``; maintain the fallback tag if needed."""
        digest = sha256_digest(data)
        resp = self.transport.request(
            "PUT",
            self._path("manifests", digest),
            scope=self._push,
            headers={"Content-Type": media_type},
            data=data,
        )
        raise_for_status(resp, f"push referrer {self.describe()}@{digest}")
        resp.close()
        obj = json.loads(data)
        desc = Descriptor(
            media_type,
            digest,
            len(data),
            annotations=obj.get("annotations") or {},
            artifact_type=obj.get("artifactType") or obj.get("config", {}).get("mediaType"),
        )
        if resp.headers.get("OCI-Subject") != subject.digest:
            self._update_fallback(subject, desc)
        return desc

    def _update_fallback(self, subject: Descriptor, desc: Descriptor) -> None:
        tag = fallback_tag(subject.digest)
        try:
            _, old = self.fetch_manifest(tag)
            index = parse_manifest(old, "referrers fallback index")
        except NotFound:
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        manifests = [m for m in index.get("manifests") or [] if m.get("digest") != desc.digest]
        manifests.append(desc.to_json())
        index["manifests"] = manifests
        self.push_manifest(canonical_json(index), OCI_INDEX, tag)


def fallback_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: ``sha256:<hex>`` → ``sha256-<hex>``."""
    return digest.replace(":", "-", 1)
