"""The in-process referrers registry (``fake_registry.py``), through raw HTTP and skillcrate.

The fake exists so signing/attach/discover tests can use the OCI 1.1 referrers API, which the
real test registry (Distribution 2.8) lacks. These tests pin down that it is spec-correct and
that skillcrate's client takes the API path against it and the ``sha256-<hex>`` tag-schema
fallback against Distribution.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from skillcrate.cache import Cache
from skillcrate.errors import NotFound
from skillcrate.formats import pack
from skillcrate.oci import Client
from skillcrate.oci.model import EMPTY_JSON, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Descriptor
from skillcrate.oci.registry import RegistryRepository, fallback_tag
from skillcrate.publish.push import pull_to, push_packed
from skillcrate.reference import Reference

from fake_registry import ReferrersRegistry, Request
from helpers import make_skill, tree_of
from registry_server import RegistryServer

SIG_TYPE = "application/vnd.example.signature.v1"
SBOM_TYPE = "application/vnd.example.sbom.v1"
TIMEOUT = 5.0


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _one_client() -> Iterator[None]:
    """Each test is one "process": one client, whose transports remember pushed blobs."""
    global _client  # noqa: PLW0603 - the tests' stand-in for one process
    _client = Client()
    yield


_client = Client()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _target(host: str, repo: str) -> RegistryRepository:
    target = _client.open(Reference.parse(f"{host}/{repo}"))
    assert isinstance(target, RegistryRepository)
    return target


class _Raw:
    """Raw HTTP to one registry (no skillcrate code involved)."""

    def __init__(self, server: ReferrersRegistry | RegistryServer) -> None:
        self.url = server.url

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        return requests.request(method, url, timeout=TIMEOUT, allow_redirects=False, **kwargs)

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = _sha(data)
        resp = self("POST", f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data)
        assert resp.status_code == 201, resp.text
        return digest

    def put_manifest(
        self, repo: str, ref: str, obj: Any, media_type: str = OCI_MANIFEST
    ) -> requests.Response:
        data = obj if isinstance(obj, bytes) else _json(obj)
        return self(
            "PUT", f"/v2/{repo}/manifests/{ref}", data=data, headers={"Content-Type": media_type}
        )

    def image(
        self,
        repo: str,
        payload: bytes,
        *,
        artifact_type: str | None = None,
        config_type: str = OCI_EMPTY,
        subject: dict[str, Any] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Push the blobs of a one-layer image manifest and return the manifest (unpushed)."""
        config = b"{}"
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": config_type,
                "digest": self.push_blob(repo, config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/octet-stream",
                    "digest": self.push_blob(repo, payload),
                    "size": len(payload),
                }
            ],
        }
        if artifact_type:
            manifest["artifactType"] = artifact_type
        if subject:
            manifest["subject"] = subject
        if annotations:
            manifest["annotations"] = annotations
        return manifest

    def push_image(self, repo: str, payload: bytes, ref: str = "v1", **kw: Any) -> dict[str, Any]:
        """Push an image; returns its descriptor as JSON."""
        data = _json(self.image(repo, payload, **kw))
        resp = self.put_manifest(repo, ref, data)
        assert resp.status_code == 201, resp.text
        return {"mediaType": OCI_MANIFEST, "digest": _sha(data), "size": len(data)}


def _codes(resp: requests.Response) -> list[str]:
    assert resp.headers["Content-Type"].startswith("application/json")
    return [e["code"] for e in resp.json()["errors"]]


def _referrer_manifest(
    target: RegistryRepository,
    subject: Descriptor,
    artifact_type: str,
    payload: bytes,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """An artifact manifest whose subject is ``subject`` (blobs pushed through skillcrate)."""
    config = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON)
    layer = Descriptor.for_bytes("application/octet-stream", payload)
    target.push_blob(config, EMPTY_JSON)
    target.push_blob(layer, payload)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config.to_json(),
        "layers": [layer.to_json()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
    }
    if annotations:
        manifest["annotations"] = annotations
    return _json(manifest)


def _skill_subject(host: str, repo: str, tmp_path: Path) -> Descriptor:
    folder = make_skill(tmp_path, "demo-skill", files={"notes.md": "# Notes\n"}, version="1.0.0")
    return push_packed(_target(host, repo), pack(folder), ["1.0.0"])


def _attach_two(target: RegistryRepository, subject: Descriptor) -> tuple[Descriptor, Descriptor]:
    sig = target.push_referrer(
        _referrer_manifest(target, subject, SIG_TYPE, b"sig", {"org.example.k": "v"}),
        OCI_MANIFEST,
        subject,
    )
    sbom = target.push_referrer(
        _referrer_manifest(target, subject, SBOM_TYPE, b"sbom"), OCI_MANIFEST, subject
    )
    return sig, sbom


# ------------------------------------------------------------------------ base, blobs


def test_base_endpoint_unknown_routes_and_request_log(
    referrers_registry: ReferrersRegistry,
) -> None:
    raw = _Raw(referrers_registry)
    assert referrers_registry.host == f"127.0.0.1:{referrers_registry.port}"
    assert referrers_registry.url == f"http://{referrers_registry.host}"
    resp = raw("GET", "/v2/")
    assert resp.status_code == 200
    assert resp.headers["Docker-Distribution-API-Version"] == "registry/2.0"

    assert _codes(raw("GET", "/v2/a/nothing/here")) == ["UNSUPPORTED"]
    assert _codes(raw("GET", "/v2/Bad_Name/tags/list")) == ["NAME_INVALID"]
    assert raw("POST", "/v2/a/tags/list").status_code == 405

    assert referrers_registry.requests == [
        Request("GET", "/v2/"),
        Request("GET", "/v2/a/nothing/here"),
        Request("GET", "/v2/Bad_Name/tags/list"),
        Request("POST", "/v2/a/tags/list"),
    ]
    assert [r.status for r in referrers_registry.records] == [200, 404, 400, 405]
    raw("GET", "/v2/a/tags/list", params={"n": "3"})
    record = referrers_registry.records[-1]
    assert (record.path, record.query, record.params) == ("/v2/a/tags/list", "n=3", {"n": ["3"]})
    referrers_registry.clear()
    assert referrers_registry.requests == []


def test_monolithic_blob_upload_round_trip(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    data = b"hello blob\n"
    digest = _sha(data)
    resp = raw("POST", "/v2/acme/one/blobs/uploads/", params={"digest": digest}, data=data)
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/v2/acme/one/blobs/{digest}"
    assert resp.headers["Docker-Content-Digest"] == digest

    head = raw("HEAD", f"/v2/acme/one/blobs/{digest}")
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.headers["Docker-Content-Digest"] == digest
    assert head.content == b""
    assert raw("GET", f"/v2/acme/one/blobs/{digest}").content == data
    assert referrers_registry.blob("acme/one", digest) == data

    # a body sent with Transfer-Encoding: chunked is read too
    streamed = raw(
        "POST",
        "/v2/acme/one/blobs/uploads/",
        params={"digest": _sha(b"abcdef")},
        data=iter([b"abc", b"def"]),
    )
    assert streamed.status_code == 201
    assert referrers_registry.records[-1].headers.get("Transfer-Encoding") == "chunked"
    assert referrers_registry.blob("acme/one", _sha(b"abcdef")) == b"abcdef"

    # blobs are per repository
    assert _codes(raw("GET", f"/v2/acme/two/blobs/{digest}")) == ["BLOB_UNKNOWN"]
    assert raw("DELETE", f"/v2/acme/one/blobs/{digest}").status_code == 202
    assert raw("HEAD", f"/v2/acme/one/blobs/{digest}").status_code == 404


def test_chunked_upload_and_out_of_order_chunk(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    part1, part2, part3 = b"a" * 10, b"b" * 5, b"c" * 3
    start = raw("POST", "/v2/acme/chunks/blobs/uploads/", headers={"Content-Length": "0"})
    assert start.status_code == 202
    location = start.headers["Location"]
    assert location.startswith("/v2/acme/chunks/blobs/uploads/")
    assert start.headers["Range"] == "0-0"

    resp = raw("PATCH", location, data=part1, headers={"Content-Range": "0-9"})
    assert resp.status_code == 202
    assert resp.headers["Range"] == "0-9"
    status = raw("GET", resp.headers["Location"])
    assert (status.status_code, status.headers["Range"]) == (204, "0-9")

    bad = raw("PATCH", location, data=part2, headers={"Content-Range": "20-24"})
    assert bad.status_code == 416
    assert bad.headers["Range"] == "0-9"

    assert raw("PATCH", location, data=part2, headers={"Content-Range": "10-14"}).ok
    whole = part1 + part2 + part3
    done = raw(
        "PUT",
        location,
        params={"digest": _sha(whole)},
        data=part3,
        headers={"Content-Range": "15-17"},
    )
    assert done.status_code == 201
    assert done.headers["Docker-Content-Digest"] == _sha(whole)
    assert raw("GET", done.headers["Location"]).content == whole
    # the session is closed
    assert _codes(raw("PATCH", location, data=b"x")) == ["BLOB_UPLOAD_UNKNOWN"]


def test_blob_digests_are_verified(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    wrong = _sha(b"something else")
    resp = raw("POST", "/v2/acme/d/blobs/uploads/", params={"digest": wrong}, data=b"data")
    assert resp.status_code == 400
    assert _codes(resp) == ["DIGEST_INVALID"]
    assert resp.json()["errors"][0]["detail"]["digest"] == wrong
    assert referrers_registry.blob("acme/d", wrong) is None

    location = raw("POST", "/v2/acme/d/blobs/uploads/").headers["Location"]
    resp = raw("PUT", location, params={"digest": wrong}, data=b"data")
    assert (resp.status_code, _codes(resp)) == (400, ["DIGEST_INVALID"])
    assert raw("HEAD", f"/v2/acme/d/blobs/{wrong}").status_code == 404

    location = raw("POST", "/v2/acme/d/blobs/uploads/").headers["Location"]
    assert _codes(raw("PUT", location, params={"digest": "sha256:abc"})) == ["DIGEST_INVALID"]
    assert _codes(raw("PUT", location)) == ["DIGEST_INVALID"]  # no digest at all
    assert _codes(raw("GET", "/v2/acme/d/blobs/md5:abcd")) == ["DIGEST_INVALID"]
    # an upload session belongs to its repository
    assert _codes(raw("GET", location.replace("acme/d", "acme/e"))) == ["BLOB_UPLOAD_UNKNOWN"]


def test_cross_repository_mount(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    digest = raw.push_blob("acme/src", b"shared layer")
    resp = raw("POST", "/v2/acme/dst/blobs/uploads/", params={"mount": digest, "from": "acme/src"})
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/v2/acme/dst/blobs/{digest}"
    assert referrers_registry.blob("acme/dst", digest) == b"shared layer"

    # not in the source repository: an upload session starts instead
    other = _sha(b"elsewhere")
    resp = raw("POST", "/v2/acme/dst/blobs/uploads/", params={"mount": other, "from": "acme/x"})
    assert resp.status_code == 202
    done = raw("PUT", resp.headers["Location"], params={"digest": other}, data=b"elsewhere")
    assert done.status_code == 201


# --------------------------------------------------------------------------- manifests


def test_manifest_put_get_head_and_accept(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    data = _json(raw.image("acme/m", b"layer"))
    digest = _sha(data)
    resp = raw.put_manifest("acme/m", "v1", data)
    assert resp.status_code == 201
    assert resp.headers["Location"] == f"/v2/acme/m/manifests/{digest}"
    assert resp.headers["Docker-Content-Digest"] == digest
    assert "OCI-Subject" not in resp.headers

    for ref in ("v1", digest):
        head = raw("HEAD", f"/v2/acme/m/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert head.status_code == 200
        assert head.headers["Content-Type"] == OCI_MANIFEST
        assert head.headers["Docker-Content-Digest"] == digest
        assert head.headers["Content-Length"] == str(len(data))
        assert raw("GET", f"/v2/acme/m/manifests/{ref}").content == data

    # Accept, loosely: a wildcard or the type (with parameters) is enough, another type is not
    for accept in ("*/*", f"{OCI_INDEX}, {OCI_MANIFEST};q=0.5", ""):
        assert raw("GET", "/v2/acme/m/manifests/v1", headers={"Accept": accept}).ok
    resp = raw("GET", "/v2/acme/m/manifests/v1", headers={"Accept": OCI_INDEX})
    assert (resp.status_code, _codes(resp)) == (404, ["MANIFEST_UNKNOWN"])

    assert _codes(raw("GET", "/v2/acme/m/manifests/v2")) == ["MANIFEST_UNKNOWN"]
    assert _codes(raw("GET", "/v2/acme/none/manifests/v1")) == ["MANIFEST_UNKNOWN"]
    assert referrers_registry.manifest("acme/m", "v1") == data


def test_manifest_put_is_validated(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    manifest = raw.image("acme/v", b"layer")
    missing_layer = _sha(b"never pushed")
    broken = {**manifest, "layers": [*manifest["layers"], {**manifest["layers"][0]}]}
    broken["layers"][1]["digest"] = missing_layer
    resp = raw.put_manifest("acme/v", "v1", broken)
    assert resp.status_code == 400
    assert _codes(resp) == ["MANIFEST_BLOB_UNKNOWN"]
    assert resp.json()["errors"][0]["detail"] == {"digest": missing_layer}
    assert referrers_registry.tags("acme/v") == []

    data = _json(manifest)
    resp = raw.put_manifest("acme/v", _sha(data + b" "), data)
    assert (resp.status_code, _codes(resp)) == (400, ["DIGEST_INVALID"])
    resp = raw.put_manifest("acme/v", "v1", data, media_type=OCI_INDEX)
    assert (resp.status_code, _codes(resp)) == (400, ["MANIFEST_INVALID"])
    assert _codes(raw.put_manifest("acme/v", "v1", b"not json")) == ["MANIFEST_INVALID"]
    assert _codes(raw.put_manifest("acme/v", "bad tag!", data)) == ["MANIFEST_INVALID"]
    # by digest: stored, untagged
    assert raw.put_manifest("acme/v", _sha(data), data).status_code == 201
    assert referrers_registry.manifest("acme/v", _sha(data)) == data
    assert referrers_registry.tags("acme/v") == []


def test_index_children_must_be_in_the_same_repository(
    referrers_registry: ReferrersRegistry,
) -> None:
    raw = _Raw(referrers_registry)
    child = raw.push_image("acme/elsewhere", b"layer")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}
    resp = raw.put_manifest("acme/index", "v1", index, OCI_INDEX)
    assert resp.status_code == 400
    assert _codes(resp) == ["MANIFEST_BLOB_UNKNOWN"]
    assert resp.json()["errors"][0]["detail"] == {"digest": child["digest"]}

    local = raw.push_image("acme/index", b"layer")
    ok = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [local]}
    assert raw.put_manifest("acme/index", "v1", ok, OCI_INDEX).status_code == 201

    referrers_registry.require_index_children = False
    assert raw.put_manifest("acme/index", "v2", index, OCI_INDEX).status_code == 201
    got = raw("GET", "/v2/acme/index/manifests/v2")
    assert got.headers["Content-Type"] == OCI_INDEX


def test_manifest_delete_by_tag_and_by_digest(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    desc = raw.push_image("acme/del", b"layer", ref="v1")
    data = referrers_registry.manifest("acme/del", "v1")
    assert raw.put_manifest("acme/del", "v2", data).status_code == 201

    assert raw("DELETE", "/v2/acme/del/manifests/v1").status_code == 202
    assert referrers_registry.tags("acme/del") == ["v2"]
    assert raw("GET", f"/v2/acme/del/manifests/{desc['digest']}").ok

    assert raw("DELETE", f"/v2/acme/del/manifests/{desc['digest']}").status_code == 202
    assert referrers_registry.tags("acme/del") == []  # tags of a deleted manifest go too
    assert _codes(raw("DELETE", f"/v2/acme/del/manifests/{desc['digest']}")) == ["MANIFEST_UNKNOWN"]


# -------------------------------------------------------------------------------- tags


def test_tags_list_pagination(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    names = ["v1", "v2", "v3", "v4", "alpha"]
    data = _json(raw.image("acme/tags", b"layer"))
    for tag in names:
        assert raw.put_manifest("acme/tags", tag, data).status_code == 201

    everything = raw("GET", "/v2/acme/tags/tags/list")
    assert everything.json() == {"name": "acme/tags", "tags": sorted(names)}
    assert "Link" not in everything.headers

    seen: list[str] = []
    path: str | None = "/v2/acme/tags/tags/list?n=2"
    links = []
    while path:
        resp = raw("GET", path)
        assert resp.status_code == 200
        seen += resp.json()["tags"]
        path = resp.links.get("next", {}).get("url")
        links.append(path)
    assert seen == sorted(names)
    assert links == [
        "/v2/acme/tags/tags/list?n=2&last=v1",
        "/v2/acme/tags/tags/list?n=2&last=v3",
        None,
    ]

    assert raw("GET", "/v2/acme/tags/tags/list?last=v2").json()["tags"] == ["v3", "v4"]
    empty = raw("GET", "/v2/acme/tags/tags/list?n=0")
    assert (empty.json()["tags"], "Link" in empty.headers) == ([], False)
    assert _codes(raw("GET", "/v2/acme/unknown/tags/list")) == ["NAME_UNKNOWN"]


# ---------------------------------------------------------------------------- referrers


def test_referrers_listing(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    subject = raw.push_image("acme/r", b"the image")
    sig_m = raw.image(
        "acme/r", b"sig", artifact_type=SIG_TYPE, subject=subject, annotations={"k": "v"}
    )
    sig_data = _json(sig_m)
    resp = raw.put_manifest("acme/r", _sha(sig_data), sig_data)
    assert resp.status_code == 201
    assert resp.headers["OCI-Subject"] == subject["digest"]
    # no artifactType: the config media type stands in for it
    sbom_data = _json(raw.image("acme/r", b"sbom", config_type=SBOM_TYPE, subject=subject))
    assert raw.put_manifest("acme/r", _sha(sbom_data), sbom_data).status_code == 201
    # referrers of another subject, and an index referrer
    raw.push_image("acme/r", b"unrelated", ref="other", subject={**subject, "digest": _sha(b"x")})
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": "application/vnd.example.bundle",
        "manifests": [],
        "subject": subject,
    }
    resp = raw.put_manifest("acme/r", "bundle", index, OCI_INDEX)
    assert resp.headers["OCI-Subject"] == subject["digest"]

    resp = raw("GET", f"/v2/acme/r/referrers/{subject['digest']}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in resp.headers
    body = resp.json()
    assert (body["schemaVersion"], body["mediaType"]) == (2, OCI_INDEX)
    assert body["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": _sha(sig_data),
            "size": len(sig_data),
            "artifactType": SIG_TYPE,
            "annotations": {"k": "v"},
        },
        {
            "mediaType": OCI_MANIFEST,
            "digest": _sha(sbom_data),
            "size": len(sbom_data),
            "artifactType": SBOM_TYPE,
        },
        {
            "mediaType": OCI_INDEX,
            "digest": _sha(_json(index)),
            "size": len(_json(index)),
            "artifactType": "application/vnd.example.bundle",
        },
    ]
    # referrers are per repository
    other = raw("GET", f"/v2/acme/elsewhere/referrers/{subject['digest']}")
    assert (other.status_code, other.json()["manifests"]) == (200, [])


def test_referrers_artifact_type_filter(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    subject = raw.push_image("acme/f", b"the image")
    digests = {}
    for kind in (SIG_TYPE, SBOM_TYPE):
        data = _json(raw.image("acme/f", kind.encode(), artifact_type=kind, subject=subject))
        assert raw.put_manifest("acme/f", _sha(data), data).status_code == 201
        digests[kind] = _sha(data)

    path = f"/v2/acme/f/referrers/{subject['digest']}"
    resp = raw("GET", path, params={"artifactType": SBOM_TYPE})
    assert resp.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in resp.json()["manifests"]] == [digests[SBOM_TYPE]]
    resp = raw("GET", path, params={"artifactType": "application/vnd.none"})
    assert resp.headers["OCI-Filters-Applied"] == "artifactType"
    assert resp.json()["manifests"] == []


def test_referrers_unknown_subject_and_bad_digest(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    raw.push_image("acme/u", b"the image")
    resp = raw("GET", f"/v2/acme/u/referrers/{_sha(b'nobody')}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == OCI_INDEX
    assert resp.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    resp = raw("GET", "/v2/acme/u/referrers/sha256:1234")
    assert (resp.status_code, _codes(resp)) == (400, ["DIGEST_INVALID"])


def test_referrers_pagination_switch(referrers_registry: ReferrersRegistry) -> None:
    raw = _Raw(referrers_registry)
    referrers_registry.referrers_page_size = 2
    subject = raw.push_image("acme/p", b"the image")
    pushed = []
    for i in range(5):
        data = _json(raw.image("acme/p", b"r%d" % i, artifact_type=SIG_TYPE, subject=subject))
        assert raw.put_manifest("acme/p", _sha(data), data).status_code == 201
        pushed.append(_sha(data))

    seen: list[str] = []
    path: str | None = f"/v2/acme/p/referrers/{subject['digest']}?artifactType={SIG_TYPE}"
    pages = 0
    while path:
        resp = raw("GET", path)
        assert resp.headers["OCI-Filters-Applied"] == "artifactType"
        seen += [m["digest"] for m in resp.json()["manifests"]]
        path = resp.links.get("next", {}).get("url")
        assert path is None or "artifactType=" in path  # the filter carries over
        pages += 1
    assert (seen, pages) == (pushed, 3)


# ------------------------------------------------------- skillcrate's client on the fake


def test_skillcrate_push_pull_round_trip(
    referrers_registry: ReferrersRegistry, tmp_path: Path
) -> None:
    host = referrers_registry.host
    folder = make_skill(tmp_path / "src", "demo-skill", files={"a/b.txt": "b\n"}, version="1.0.0")
    desc = push_packed(_target(host, "acme/skill"), pack(folder), ["1.0.0", "latest"])
    assert referrers_registry.tags("acme/skill") == ["1.0.0", "latest"]

    target = _target(host, "acme/skill")
    assert target.tags() == ["1.0.0", "latest"]
    resolved = target.resolve("1.0.0")
    assert (resolved.digest, resolved.size, resolved.media_type) == (
        desc.digest,
        desc.size,
        desc.media_type,
    )
    fetched, data = target.fetch_manifest(desc.digest)
    assert fetched.digest == desc.digest == _sha(data)

    ref = Reference.parse(f"{host}/acme/skill:1.0.0")
    _, out = pull_to(_client.open(ref), ref, Cache(), tmp_path / "out")
    assert tree_of(out) == tree_of(folder)

    # a second repository: the client mounts the blobs instead of uploading them
    referrers_registry.clear()
    push_packed(_target(host, "acme/copy"), pack(folder), ["1.0.0"])
    mounts = [r for r in referrers_registry.records if "mount" in r.params]
    assert mounts and {r.status for r in mounts} == {201}
    assert not [
        r
        for r in referrers_registry.records
        if r.method in ("PATCH", "PUT") and "/blobs/" in r.path
    ]

    target.untag("latest")
    assert target.tags() == ["1.0.0"]
    target.delete_manifest(desc.digest)
    with pytest.raises(NotFound):
        target.resolve("1.0.0")


def test_push_referrer_uses_the_referrers_api(
    referrers_registry: ReferrersRegistry, tmp_path: Path
) -> None:
    host, repo = referrers_registry.host, "acme/signed"
    subject = _skill_subject(host, repo, tmp_path)
    target = _target(host, repo)
    assert target.referrers(subject) == []

    referrers_registry.clear()
    sig, sbom = _attach_two(target, subject)
    tag = fallback_tag(subject.digest)
    assert tag not in referrers_registry.tags(repo)
    assert not [p for _, p in referrers_registry.requests if p.endswith(f"/manifests/{tag}")]
    puts = [r for r in referrers_registry.records if r.method == "PUT" and "/manifests/" in r.path]
    assert [r.path for r in puts] == [
        f"/v2/{repo}/manifests/{sig.digest}",
        f"/v2/{repo}/manifests/{sbom.digest}",
    ]

    referrers_registry.clear()
    found = target.referrers(subject)
    assert [(d.digest, d.artifact_type, d.media_type, d.size) for d in found] == [
        (sig.digest, SIG_TYPE, OCI_MANIFEST, sig.size),
        (sbom.digest, SBOM_TYPE, OCI_MANIFEST, sbom.size),
    ]
    assert dict(found[0].annotations) == {"org.example.k": "v"}
    assert [d.digest for d in target.referrers(subject, SBOM_TYPE)] == [sbom.digest]
    assert target.referrers(subject, "application/vnd.none") == []
    referrers_path = f"/v2/{repo}/referrers/{subject.digest}"
    assert referrers_registry.requests == [Request("GET", referrers_path)] * 3
    filtered = referrers_registry.records[1]
    assert filtered.params == {"artifactType": [SBOM_TYPE]}
    assert filtered.headers.get("Accept") == OCI_INDEX

    # the same referrer again: still two
    target.push_referrer(
        _referrer_manifest(target, subject, SIG_TYPE, b"sig", {"org.example.k": "v"}),
        OCI_MANIFEST,
        subject,
    )
    assert len(target.referrers(subject)) == 2


def test_push_referrer_writes_the_fallback_tag_on_distribution(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    subject = _skill_subject(registry.host, repo_name, tmp_path)
    target = _target(registry.host, repo_name)
    raw = _Raw(registry)
    assert raw("GET", f"/v2/{repo_name}/referrers/{subject.digest}").status_code == 404

    sig, sbom = _attach_two(target, subject)
    tag = fallback_tag(subject.digest)
    assert tag in target.tags()
    index = json.loads(target.fetch_manifest(tag)[1])
    assert index["mediaType"] == OCI_INDEX
    assert [m["digest"] for m in index["manifests"]] == [sig.digest, sbom.digest]
    found = target.referrers(subject)
    assert [(d.digest, d.artifact_type) for d in found] == [
        (sig.digest, SIG_TYPE),
        (sbom.digest, SBOM_TYPE),
    ]
    assert [d.digest for d in target.referrers(subject, SBOM_TYPE)] == [sbom.digest]


def test_fake_without_referrers_api_gets_the_fallback_tag(
    referrers_registry: ReferrersRegistry, tmp_path: Path
) -> None:
    referrers_registry.referrers_api = False
    host, repo = referrers_registry.host, "acme/legacy"
    subject = _skill_subject(host, repo, tmp_path)
    target = _target(host, repo)
    sig, sbom = _attach_two(target, subject)
    tag = fallback_tag(subject.digest)
    assert tag in referrers_registry.tags(repo)
    assert [d.digest for d in target.referrers(subject)] == [sig.digest, sbom.digest]
    assert Request("GET", f"/v2/{repo}/manifests/{tag}") in referrers_registry.requests


def test_client_follows_referrers_pagination(
    referrers_registry: ReferrersRegistry, tmp_path: Path
) -> None:
    referrers_registry.referrers_page_size = 1
    host, repo = referrers_registry.host, "acme/paged"
    subject = _skill_subject(host, repo, tmp_path)
    target = _target(host, repo)
    sig, sbom = _attach_two(target, subject)
    assert [d.digest for d in target.referrers(subject)] == [sig.digest, sbom.digest]


# ---------------------------------------------------------------------------- lifecycle


def test_stop_and_restart_keep_port_and_storage() -> None:
    server = ReferrersRegistry().start()
    try:
        raw = _Raw(server)
        session = requests.Session()
        digest = raw.push_blob("acme/life", b"kept")
        assert session.get(f"{server.url}/v2/", timeout=TIMEOUT).ok  # a keep-alive connection
        port = server.port
        server.stop()
        assert not server.running
        with pytest.raises(requests.ConnectionError):
            session.get(f"{server.url}/v2/", timeout=TIMEOUT)
        server.stop()  # idempotent
        server.start()
        assert server.port == port
        assert raw("GET", f"/v2/acme/life/blobs/{digest}").content == b"kept"
    finally:
        server.stop()
    assert server.errors == []


def test_client_reports_referrers_errors_instead_of_hiding_them(
    referrers_registry: ReferrersRegistry, tmp_path: Path
) -> None:
    """A 5xx from the referrers API is an error, not "no referrers" (only 404 falls back)."""
    from skillcrate.errors import RegistryError

    host, repo = referrers_registry.host, "acme/broken"
    subject = _skill_subject(host, repo, tmp_path)
    target = _client.open(Reference.parse(f"{host}/{repo}"))
    referrers_registry.referrers_status = 500
    with pytest.raises(RegistryError):
        target.referrers(subject)
