"""The OCI registry client (``skillcrate.oci``) against real Distribution registries.

Everything talks to 127.0.0.1 only: the shared ``registry`` / ``basic_registry`` /
``token_registry`` fixtures, per-test ``fresh_registry``, and tiny ``http.server``
fakes for answers a real registry never gives (tampered bytes, paginated tags).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

import skillcrate.oci as oci
from skillcrate.cache import Cache
from skillcrate.errors import (
    AuthError,
    DigestMismatch,
    NotFound,
    RegistryError,
    RegistryUnreachable,
)
from skillcrate.fetch import fetch_skill
from skillcrate.formats import Packed, pack
from skillcrate.oci import ClientOptions, open_target
from skillcrate.oci.model import EMPTY_JSON, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Descriptor
from skillcrate.oci.registry import RegistryRepository, fallback_tag
from skillcrate.oci.transport import Transport, merge_scopes, scope_for
from skillcrate.publish.push import pull_to, push_packed
from skillcrate.reference import Reference

from helpers import QuietHTTPServer, make_skill, tree_of
from registry_server import TEST_USERS, IsolatedEnv, RegistryServer, TokenRegistry

ALICE = ("alice", TEST_USERS["alice"])
WRONG_PASSWORD = "not-the-password-9f3a"
FAST = 10.0  # seconds: the bound for "a clear error, quickly"


@pytest.fixture(autouse=True)
def _fresh_transports() -> Iterator[None]:
    """Each test is one "process": one client (transports, tokens, blob locations)."""
    _new_process()
    yield


_client = oci.Client()


def _new_process() -> None:
    """Start over as a new process would: a new client that knows no tokens or pushes."""
    global _client  # noqa: PLW0603 - the tests' stand-in for one process
    _client = oci.Client()


# ----------------------------------------------------------------------------- helpers


def _skill(root: Path, name: str = "demo-skill") -> Path:
    folder = make_skill(
        root,
        name,
        files={
            "scripts/run.sh": "#!/bin/sh\necho hello\n",
            "references/notes.md": "# Notes\n\nSome notes.\n",
        },
        version="1.0.0",
    )
    (folder / "scripts" / "run.sh").chmod(0o755)
    return folder


def _target(host: str, repo: str) -> RegistryRepository:
    target = _client.open(Reference.parse(f"{host}/{repo}"))
    assert isinstance(target, RegistryRepository)
    return target


def _push(host: str, repo: str, packed: Packed, tag: str = "1.0.0") -> Descriptor:
    return push_packed(_target(host, repo), packed, [tag])


def _pull(host: str, repo: str, dest: Path, tag: str = "1.0.0") -> Path:
    ref = Reference.parse(f"{host}/{repo}:{tag}")
    _, out = pull_to(_client.open(ref), ref, Cache(), dest)
    return out


def _assert_sametree_of(source: Path, pulled: Path) -> None:
    want, got = tree_of(source), tree_of(pulled)
    assert got == want
    assert got["scripts/run.sh"][1] == 0o755
    assert got["SKILL.md"][1] == 0o644


@dataclass
class _Call:
    method: str
    url: str
    params: Any
    status: int
    challenge: str


@dataclass
class _Recorder:
    calls: list[_Call] = field(default_factory=list)


def _record_requests(transport: Transport, monkeypatch: pytest.MonkeyPatch) -> _Recorder:
    """Wrap ``transport.session.request`` to log method, URL, params and the answer."""
    rec = _Recorder()
    real = transport.session.request

    def wrapper(method: str, url: str, **kwargs: Any) -> Any:
        resp = real(method, url, **kwargs)
        rec.calls.append(
            _Call(
                method,
                url,
                kwargs.get("params"),
                resp.status_code,
                resp.headers.get("WWW-Authenticate", ""),
            )
        )
        return resp

    monkeypatch.setattr(transport.session, "request", wrapper)
    return rec


def _mount_param(call: _Call) -> str | None:
    return call.params.get("mount") if isinstance(call.params, dict) else None


def _blob_data_path(server: RegistryServer, digest: str) -> Path:
    hexpart = digest.split(":", 1)[1]
    return server.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"


# ------------------------------------------------------------- a tiny fake registry


Route = tuple[int, dict[str, str], bytes]


class _FakeRegistry:
    """``http.server`` on 127.0.0.1 answering fixed routes (path with query → answer)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, with_body: bool) -> None:
                owner.seen.append((self.command, self.path))
                status, headers, body = owner.routes.get(
                    self.path, owner.routes.get(self.path.split("?")[0], (404, {}, b"{}"))
                )
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if with_body:
                    self.wfile.write(body)
                    self.wfile.flush()
                if int(headers["Content-Length"]) != len(body):
                    self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def repository(self, name: str = "x") -> RegistryRepository:
        return RegistryRepository(Transport(self.host, plain_http=True), name)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_registry() -> Iterator[_FakeRegistry]:
    fake = _FakeRegistry()
    yield fake
    fake.close()


# -------------------------------------------------------------------- 1. round trip


def test_push_pull_round_trip_keeps_bytes_and_modes(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    folder = _skill(tmp_path / "src")
    packed = pack(folder)
    desc = _push(registry.host, repo_name, packed)
    assert desc.digest == packed.digest

    target = _target(registry.host, repo_name)
    assert target.resolve("1.0.0").digest == packed.digest
    fetched_desc, data = target.fetch_manifest("1.0.0")
    assert data == packed.manifest
    assert fetched_desc.digest == packed.digest
    assert target.tags() == ["1.0.0"]

    out = _pull(registry.host, repo_name, tmp_path / "out")
    _assert_sametree_of(folder, out)


def test_pushing_again_uploads_nothing(
    registry: RegistryServer,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    packed = pack(_skill(tmp_path))
    _push(registry.host, repo_name, packed)
    target = _target(registry.host, repo_name)
    rec = _record_requests(target.transport, monkeypatch)
    push_packed(target, packed, ["1.0.1"])
    assert [c.method for c in rec.calls] == ["HEAD", "HEAD", "PUT"]
    assert rec.calls[-1].url.endswith(f"/v2/{repo_name}/manifests/1.0.1")


# -------------------------------------------------------------------- 3. basic auth


def test_basic_auth_with_docker_config(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({basic_registry.host: ALICE})
    folder = _skill(tmp_path / "src")
    _push(basic_registry.host, repo_name, pack(folder))
    _new_process()
    _assert_sametree_of(folder, _pull(basic_registry.host, repo_name, tmp_path / "out"))


def test_basic_auth_wrong_password_is_a_clear_auth_error(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    config = make_docker_config({basic_registry.host: ("alice", WRONG_PASSWORD)})
    packed = pack(_skill(tmp_path))
    start = time.monotonic()
    with pytest.raises(AuthError) as info:
        _push(basic_registry.host, repo_name, packed)
    assert time.monotonic() - start < FAST
    message = str(info.value)
    assert basic_registry.host in message
    assert "rejected" in message
    assert str(config / "config.json") in message  # where the credentials came from
    assert WRONG_PASSWORD not in message
    assert all(WRONG_PASSWORD not in h for h in info.value.hints())
    assert WRONG_PASSWORD not in repr(
        _target(basic_registry.host, repo_name).transport.credential()
    )


def test_basic_auth_without_credentials_says_authentication_required(
    basic_registry: RegistryServer, repo_name: str
) -> None:
    start = time.monotonic()
    with pytest.raises(AuthError, match="authentication required") as info:
        _target(basic_registry.host, repo_name).tags()
    assert time.monotonic() - start < FAST
    assert basic_registry.host in str(info.value)
    assert any("login" in h for h in info.value.hints())


# -------------------------------------------------------------------- 4. token auth


def test_token_auth_push_to_two_repositories_from_one_transport(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({token_registry.host: ALICE})
    folder = _skill(tmp_path / "src")
    first, second = f"{repo_name}/one", f"{repo_name}/two"
    token_registry.token_server.clear()
    a, b = _target(token_registry.host, first), _target(token_registry.host, second)
    assert a.transport is b.transport
    push_packed(a, pack(folder), ["1.0.0"])
    push_packed(b, pack(folder, tag="2.0.0"), ["2.0.0"])

    requests = token_registry.token_server.requests
    assert requests, "no token was requested"
    assert all(r.user == "alice" for r in requests)
    push_a, push_b = (scope_for(r, ("pull", "push")) for r in (first, second))
    # one token per repository: each push asked for exactly its own repository's scope
    assert [push_a] in [r.scopes for r in requests]
    assert [push_b] in [r.scopes for r in requests]
    # the first repository's tokens name it alone: nothing asked up front for both
    mentions_b = [i for i, r in enumerate(requests) if second in " ".join(r.scopes)]
    pushing_a = requests[: mentions_b[0]]
    pull_a = scope_for(first, ("pull",))
    assert pushing_a and all(r.scopes in ([push_a], [pull_a]) for r in pushing_a)
    assert b.tags() == ["2.0.0"] and a.tags() == ["1.0.0"]
    _assert_sametree_of(folder, _pull(token_registry.host, second, tmp_path / "out", "2.0.0"))


def test_token_auth_anonymous_pull(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    isolated_env: IsolatedEnv,
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({token_registry.host: ALICE})
    folder = _skill(tmp_path / "src")
    _push(token_registry.host, repo_name, pack(folder))

    monkeypatch.setenv("DOCKER_CONFIG", str(isolated_env.docker_config))  # no credentials
    _new_process()
    token_registry.token_server.clear()
    _assert_sametree_of(folder, _pull(token_registry.host, repo_name, tmp_path / "out"))
    requests = token_registry.token_server.requests
    assert requests and all(r.user is None for r in requests)
    assert [f"repository:{repo_name}:pull"] in [r.scopes for r in requests]

    # pushing anonymously: the token server grants pull only -> a clear error
    with pytest.raises(AuthError, match="authentication required") as info:
        _push(token_registry.host, repo_name, pack(folder), "9.9.9")
    assert token_registry.host in str(info.value)


def test_token_auth_wrong_password(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    repo_name: str,
) -> None:
    make_docker_config({token_registry.host: ("alice", WRONG_PASSWORD)})
    start = time.monotonic()
    with pytest.raises(AuthError) as info:
        _target(token_registry.host, repo_name).tags()
    assert time.monotonic() - start < FAST
    assert token_registry.host in str(info.value)
    assert "rejected" in str(info.value)
    assert WRONG_PASSWORD not in str(info.value)


def test_token_auth_pull_token_then_push_asks_for_push_scope(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({token_registry.host: ALICE})
    packed = pack(_skill(tmp_path))
    target = _target(token_registry.host, repo_name)
    token_registry.token_server.clear()
    with pytest.raises(NotFound):
        target.resolve("1.0.0")  # a pull: the client holds a pull-only token now
    push_packed(target, packed, ["1.0.0"])
    scopes = [r.scopes for r in token_registry.token_server.requests]
    pull, push = scope_for(repo_name, ("pull",)), scope_for(repo_name, ("pull", "push"))
    assert scopes[0] == [pull]
    assert [push] in scopes[1:]
    assert target.resolve("1.0.0").digest == packed.digest


def test_token_auth_insufficient_scope_is_answered_with_a_wider_token(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    """A cached pull-only token used for a push: the registry says insufficient_scope."""
    make_docker_config({token_registry.host: ALICE})
    packed = pack(_skill(tmp_path))
    target = _target(token_registry.host, repo_name)
    transport = target.transport
    with pytest.raises(NotFound):
        target.resolve("1.0.0")
    pull, push = scope_for(repo_name, ("pull",)), scope_for(repo_name, ("pull", "push"))
    # white box: file the pull-only token under the push scope, as a client that
    # reused its token would
    (key,) = [k for k in transport._tokens if k[2] == pull]
    transport._tokens[(key[0], key[1], push)] = transport._tokens[key]
    token_registry.token_server.clear()
    rec = _record_requests(transport, monkeypatch)

    push_packed(target, packed, ["1.0.0"])

    refused = [c for c in rec.calls if c.status == 401]
    assert refused and 'error="insufficient_scope"' in refused[0].challenge
    assert [r.scopes for r in token_registry.token_server.requests] == [[push]]
    assert target.resolve("1.0.0").digest == packed.digest


def test_challenge_scopes_merge_per_resource() -> None:
    """Distribution lists a challenge's actions in random order (a Go map): the same
    actions in another order must not make the client ask for a doubled scope."""
    a_push, a_pull = "repository:a:pull,push", "repository:a:pull"
    assert merge_scopes(a_push, "repository:a:push,pull") == a_push
    assert merge_scopes(a_pull, "repository:a:push") == a_push
    assert merge_scopes("", a_pull) == a_pull
    mount = f"repository:b:pull,push {a_pull}"
    assert merge_scopes(mount, f"{a_pull} repository:b:push,pull") == mount
    assert merge_scopes("registry:catalog:*") == "registry:catalog:*"


def test_token_auth_expired_tokens_are_refreshed(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    """Tokens live 1-2 s. The pull token is past its ``expires_in``: replaced before use, no
    401. The push token is one the client still trusts (white box) but the registry
    answers 401 ``invalid_token``: fetched again and the request retried."""
    make_docker_config({token_registry.host: ALICE})
    packed = pack(_skill(tmp_path))
    target = _target(token_registry.host, repo_name)
    transport = target.transport
    server = token_registry.token_server
    pull, push = scope_for(repo_name, ("pull",)), scope_for(repo_name, ("pull", "push"))
    with server.short_lived(1):
        push_packed(target, packed, ["1.0.0"])
        assert target.resolve("1.0.0").digest == packed.digest  # caches a pull token
        for key, (token, _) in list(transport._tokens.items()):
            if key[2] == push:
                transport._tokens[key] = (token, time.monotonic() + 3600)
        time.sleep(2.2)  # past any 1 s token's expiry (at most 2 s): the registry refuses both
        server.clear()
        rec = _record_requests(transport, monkeypatch)
        assert target.resolve("1.0.0").digest == packed.digest
        assert [r.scopes for r in server.requests] == [[pull]]
        assert not [c for c in rec.calls if c.status == 401]

        push_packed(target, packed, ["1.0.1"])
        assert [r.scopes for r in server.requests] == [[pull], [push]]
        refused = [c for c in rec.calls if c.status == 401]
        assert len(refused) == 1 and 'error="invalid_token"' in refused[0].challenge
    assert target.tags() == ["1.0.0", "1.0.1"]


# --------------------------------------------------------------- 5. digest mismatch


def test_corrupt_blob_in_the_registry_is_refused(
    fresh_registry: RegistryServer, tmp_path: Path
) -> None:
    packed = pack(_skill(tmp_path / "src"))
    layer = packed.layers[0]
    _push(fresh_registry.host, "acme/demo", packed)
    data_file = _blob_data_path(fresh_registry, layer.digest)
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same length, different bytes
    data_file.write_bytes(bytes(raw))

    cache = Cache()
    target = _target(fresh_registry.host, "acme/demo")
    with pytest.raises(DigestMismatch) as info:
        fetch_skill(target, "1.0.0", cache, fallback_name="demo")
    assert layer.digest in str(info.value)
    assert not cache.has_blob(layer.digest)
    assert not cache.has_unpacked(packed.digest)
    assert not list(cache.tmp_dir.glob("*"))  # no partial download left behind
    out = tmp_path / "out"
    ref = Reference.parse(f"{fresh_registry.host}/acme/demo:1.0.0")
    with pytest.raises(DigestMismatch):
        pull_to(open_target(ref), ref, cache, out)
    assert not out.exists()
    assert not cache.has_blob(layer.digest)


def test_tampered_blob_from_a_server_is_refused(fake_registry: _FakeRegistry) -> None:
    good = b"the real content"
    desc = Descriptor.for_bytes("application/octet-stream", good)
    path = f"/v2/x/blobs/{desc.digest}"
    repo = fake_registry.repository()
    cache = Cache()

    fake_registry.routes[path] = (200, {}, b"the fake content")  # same size, other bytes
    with pytest.raises(DigestMismatch, match="received bytes have digest"):
        cache.put_blob(desc.digest, repo.iter_blob(desc), desc.size)
    fake_registry.routes[path] = (200, {}, good + b" and more")  # longer than declared
    with pytest.raises(DigestMismatch, match="more than"):
        cache.put_blob(desc.digest, repo.iter_blob(desc), desc.size)
    # the connection drops mid-body: a registry error, never a raw `requests` exception
    fake_registry.routes[path] = (200, {"Content-Length": str(len(good))}, good[:5])
    with pytest.raises(RegistryError, match="connection broke"):
        cache.put_blob(desc.digest, repo.iter_blob(desc), desc.size)
    assert not cache.has_blob(desc.digest)
    assert not list(cache.tmp_dir.glob("*"))

    fake_registry.routes[path] = (200, {}, good)
    cache.put_blob(desc.digest, repo.iter_blob(desc), desc.size)
    assert cache.open_blob(desc.digest).read() == good


def test_manifest_fetched_by_digest_must_match_it(fake_registry: _FakeRegistry) -> None:
    wanted = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    other = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [1]}).encode()
    digest = "sha256:" + hashlib.sha256(wanted).hexdigest()
    headers = {"Content-Type": OCI_MANIFEST}
    fake_registry.routes[f"/v2/x/manifests/{digest}"] = (200, headers, other)
    repo = fake_registry.repository()
    with pytest.raises(DigestMismatch):
        repo.fetch_manifest(digest)
    with pytest.raises(DigestMismatch):
        repo.resolve(digest)  # HEAD names no digest -> GET -> verified

    # by tag: the registry's Docker-Content-Digest must match the bytes it sends
    fake_registry.routes["/v2/x/manifests/1.0.0"] = (
        200,
        {**headers, "Docker-Content-Digest": digest},
        other,
    )
    with pytest.raises(DigestMismatch):
        repo.fetch_manifest("1.0.0")

    fake_registry.routes[f"/v2/x/manifests/{digest}"] = (200, headers, wanted)
    desc, data = repo.fetch_manifest(digest)
    assert data == wanted and desc.digest == digest


# ------------------------------------------------------------------ 6. dead registry


def test_dead_registry_is_reported_quickly(fresh_registry: RegistryServer, tmp_path: Path) -> None:
    host = fresh_registry.host
    fresh_registry.stop()
    start = time.monotonic()
    with pytest.raises(RegistryUnreachable) as info:
        fetch_skill(_target(host, "acme/demo"), "1.0.0", Cache(), fallback_name="demo")
    assert time.monotonic() - start < FAST
    assert f"cannot reach registry {host}" in str(info.value)
    assert info.value.hints()


# ---------------------------------------------------------------- 7. cross-repo mount


def test_second_repository_push_mounts_instead_of_uploading(
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    folder = _skill(tmp_path / "src")
    packed = pack(folder)
    layer = packed.layers[0]
    first, second = f"{repo_name}/a", f"{repo_name}/b"
    _push(registry.host, first, packed)

    target = _target(registry.host, second)
    rec = _record_requests(target.transport, monkeypatch)
    push_packed(target, packed, ["1.0.0"])

    mounts = [c for c in rec.calls if c.method == "POST" and _mount_param(c)]
    assert {c.params["mount"] for c in mounts} == {layer.digest, packed.config.digest}
    assert all(c.params["from"] == first and c.status == 201 for c in mounts)
    blob_puts = [c for c in rec.calls if c.method == "PUT" and "/blobs/uploads/" in c.url]
    assert blob_puts == []
    _assert_sametree_of(folder, _pull(registry.host, second, tmp_path / "out"))


def test_pulled_blob_is_mounted_into_another_repository(
    registry: RegistryServer,
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    packed = pack(_skill(tmp_path / "src"))
    first, second = f"{repo_name}/a", f"{repo_name}/b"
    _push(registry.host, first, packed)
    _new_process()  # a new process: knows nothing about pushes
    _pull(registry.host, first, tmp_path / "out")

    target = _target(registry.host, second)
    rec = _record_requests(target.transport, monkeypatch)
    push_packed(target, packed, ["1.0.0"])
    layer = packed.layers[0].digest
    assert layer in {_mount_param(c) for c in rec.calls}
    assert not [c for c in rec.calls if c.method == "PUT" and c.url.endswith(f"digest={layer}")]


def test_mount_refused_by_token_server_falls_back_to_upload(
    make_token_registry: Callable[..., TokenRegistry],
    make_docker_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """alice may not read ``team/a``: mounting from it is refused, so the bytes go up."""

    def permissions(user: str | None, rtype: str, name: str) -> set[str]:
        if user == "alice" and name == "team/a":
            return set()
        return {"pull", "push"} if user else {"pull"}

    bundle = make_token_registry(users={**TEST_USERS, "bob": "hunter2"}, permissions=permissions)
    folder = _skill(tmp_path / "src")
    packed = pack(folder)
    make_docker_config({bundle.host: ("bob", "hunter2")})
    _push(bundle.host, "team/a", packed)

    _new_process()
    make_docker_config({bundle.host: ALICE})
    target = _target(bundle.host, "team/b")
    for desc in (packed.config, *packed.layers):
        target.transport.note_blob(desc.digest, "team/a")
    rec = _record_requests(target.transport, monkeypatch)
    push_packed(target, packed, ["1.0.0"])
    assert [c for c in rec.calls if _mount_param(c)], "no mount was tried"
    assert [c for c in rec.calls if c.method == "PUT" and "/blobs/uploads/" in c.url]
    _assert_sametree_of(folder, _pull(bundle.host, "team/b", tmp_path / "out"))


# --------------------------------------------------------------- 8. tag pagination


def test_tags_follow_link_pagination(fake_registry: _FakeRegistry) -> None:
    link = '</v2/x/tags/list?n=2&last=b>; rel="next"'
    fake_registry.routes["/v2/x/tags/list?n=1000"] = (
        200,
        {"Content-Type": "application/json", "Link": link},
        json.dumps({"name": "x", "tags": ["b", "1.0.0"]}).encode(),
    )
    fake_registry.routes["/v2/x/tags/list?n=2&last=b"] = (
        200,
        {"Content-Type": "application/json"},
        json.dumps({"name": "x", "tags": ["c", "0.9.0", "b"]}).encode(),
    )
    assert fake_registry.repository().tags() == ["0.9.0", "1.0.0", "b", "c"]
    assert [p for _, p in fake_registry.seen] == [
        "/v2/x/tags/list?n=1000",
        "/v2/x/tags/list?n=2&last=b",
    ]


def test_tags_link_loop_terminates(fake_registry: _FakeRegistry) -> None:
    fake_registry.routes["/v2/x/tags/list?n=1000"] = (
        200,
        {"Link": f'<http://{fake_registry.host}/v2/x/tags/list?n=1000>; rel="next"'},
        json.dumps({"tags": ["a"]}).encode(),
    )
    assert fake_registry.repository().tags() == ["a"]
    assert len(fake_registry.seen) <= 2


# ------------------------------------------------------------------- 9. referrers


def _referrer(
    target: RegistryRepository, subject: Descriptor, artifact_type: str, payload: bytes
) -> bytes:
    config = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON)
    layer = Descriptor.for_bytes("application/octet-stream", payload)
    target.push_blob(config, EMPTY_JSON)
    target.push_blob(layer, payload)
    subject_json = Descriptor(subject.media_type, subject.digest, subject.size).to_json()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config.to_json(),
        "layers": [layer.to_json()],
        "subject": subject_json,
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def test_referrers_use_the_fallback_tag_on_distribution(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    packed = pack(_skill(tmp_path))
    subject = _push(registry.host, repo_name, packed)
    target = _target(registry.host, repo_name)
    assert target.referrers(subject) == []

    sig_type, sbom_type = "application/vnd.example.signature.v1", "application/vnd.example.sbom"
    sig = target.push_referrer(_referrer(target, subject, sig_type, b"sig"), OCI_MANIFEST, subject)
    sbom = target.push_referrer(
        _referrer(target, subject, sbom_type, b"sbom"), OCI_MANIFEST, subject
    )
    assert sig.digest != sbom.digest

    found = target.referrers(subject)
    assert [(d.digest, d.artifact_type) for d in found] == [
        (sig.digest, sig_type),
        (sbom.digest, sbom_type),
    ]
    assert [d.digest for d in target.referrers(subject, sbom_type)] == [sbom.digest]
    assert target.referrers(subject, "application/vnd.none") == []

    tag = fallback_tag(subject.digest)
    assert tag == "sha256-" + subject.digest.split(":")[1]
    assert tag in target.tags()
    desc, data = target.fetch_manifest(tag)
    index = json.loads(data)
    assert desc.media_type == OCI_INDEX == index["mediaType"]
    assert [m["digest"] for m in index["manifests"]] == [sig.digest, sbom.digest]

    # pushing the same referrer again does not duplicate it in the index
    target.push_referrer(_referrer(target, subject, sig_type, b"sig"), OCI_MANIFEST, subject)
    assert len(target.referrers(subject)) == 2


# --------------------------------------------------- 10. podman file, credential helpers


def test_podman_registry_auth_file(
    basic_registry: RegistryServer,
    isolated_env: IsolatedEnv,
    repo_name: str,
    tmp_path: Path,
) -> None:
    auth_file = isolated_env.registry_auth_file
    assert os.environ["REGISTRY_AUTH_FILE"] == str(auth_file)
    auth_file.parent.mkdir(parents=True, exist_ok=True)
    entry = base64.b64encode(":".join(ALICE).encode()).decode()
    auth_file.write_text(json.dumps({"auths": {basic_registry.host: {"auth": entry}}}))
    folder = _skill(tmp_path / "src")
    _push(basic_registry.host, repo_name, pack(folder))
    _assert_sametree_of(folder, _pull(basic_registry.host, repo_name, tmp_path / "out"))


def _fake_helper(bin_dir: Path, log: Path, user: str, secret: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "docker-credential-test"
    payload = json.dumps({"Username": user, "Secret": secret})
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = get ] || exit 1\n'
        f"read host\n"
        f'echo "$host" >> "{log}"\n'
        f"echo '{payload}'\n"
    )
    script.chmod(0o755)


def test_credential_helper(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
) -> None:
    log = tmp_path / "helper.log"
    _fake_helper(tmp_path / "bin", log, *ALICE)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    make_docker_config(extra={"credHelpers": {basic_registry.host: "test"}})
    folder = _skill(tmp_path / "src")
    _push(basic_registry.host, repo_name, pack(folder))
    _assert_sametree_of(folder, _pull(basic_registry.host, repo_name, tmp_path / "out"))
    assert log.read_text().split() == [basic_registry.host]  # asked once, for this host


def test_missing_credential_helper_is_a_clear_error(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    repo_name: str,
) -> None:
    make_docker_config(extra={"credHelpers": {basic_registry.host: "nowhere-xyz"}})
    with pytest.raises(AuthError, match="docker-credential-nowhere-xyz") as info:
        _target(basic_registry.host, repo_name).tags()
    assert "not on PATH" in str(info.value)
    assert basic_registry.host in str(info.value)


# ------------------------------------------------------------ 11. plain HTTP (no network)


def _base(text: str, options: ClientOptions | None = None) -> str:
    target = open_target(Reference.parse(text), options)
    assert isinstance(target, RegistryRepository)
    return target.transport.base


def test_plain_http_follows_options_and_config(isolated_env: IsolatedEnv) -> None:
    assert _base("registry.internal:5000/team/x:1.0.0") == "https://registry.internal:5000"
    assert _base("127.0.0.1:5000/x") == "http://127.0.0.1:5000"
    assert _base("localhost:5000/x") == "http://localhost:5000"
    assert _base("ghcr.io/acme/x") == "https://ghcr.io"
    assert _base("docker.io/library/alpine") == "https://registry-1.docker.io"
    assert (
        _base("registry.internal:5000/x", ClientOptions(plain_http=True))
        == "http://registry.internal:5000"
    )
    assert _base("127.0.0.1:5000/x", ClientOptions(plain_http=False)) == "https://127.0.0.1:5000"

    (isolated_env.config_dir / "config.toml").write_text(
        '[registries."registry.internal:5000"]\nplain_http = true\n'
    )
    _new_process()
    assert _base("registry.internal:5000/x") == "http://registry.internal:5000"
    assert _base("other.internal:5000/x") == "https://other.internal:5000"
    # an explicit option still wins over the config file
    assert (
        _base("registry.internal:5000/x", ClientOptions(plain_http=False))
        == "https://registry.internal:5000"
    )


def test_plain_http_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLCRATE_PLAIN_HTTP", "a.internal,b.internal:81")
    assert _base("a.internal/x") == "http://a.internal"
    assert _base("b.internal:81/x") == "http://b.internal:81"
    assert _base("c.internal/x") == "https://c.internal"
