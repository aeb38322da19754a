"""Sanity checks of the real-registry fixtures, using plain ``requests`` only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import requests

from registry_server import (
    REGISTRY_LEEWAY,
    TEST_USERS,
    IsolatedEnv,
    RegistryServer,
    RegistryStartError,
    TokenRegistry,
    TokenRequest,
    libtrust_key_id,
    parse_scope,
)

ALICE = ("alice", TEST_USERS["alice"])
TIMEOUT = 5


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never a proxy, never ~/.netrc
    return session


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _challenge_params(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    assert scheme == "Bearer", header
    return dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _fetch_token(
    bundle: TokenRegistry, scopes: list[str], auth: tuple[str, str] | None = None
) -> requests.Response:
    params = [("service", bundle.token_server.service)] + [("scope", s) for s in scopes]
    return _session().get(bundle.token_server.realm, params=params, auth=auth, timeout=TIMEOUT)


def _push_blob(base_url: str, repo: str, data: bytes, headers: dict[str, str] | None = None) -> str:
    """POST an upload session, then PUT the whole blob with ``?digest=``; return the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    session = _session()
    start = session.post(f"{base_url}/v2/{repo}/blobs/uploads/", headers=headers, timeout=TIMEOUT)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    if location.startswith("/"):
        location = base_url + location
    put_headers = {**(headers or {}), "Content-Type": "application/octet-stream"}
    done = session.put(
        location, params={"digest": digest}, data=data, headers=put_headers, timeout=TIMEOUT
    )
    assert done.status_code == 201, done.text
    return digest


# --------------------------------------------------------------------------------- plain


def test_plain_registry_answers_v2(registry: RegistryServer) -> None:
    assert re.fullmatch(r"127\.0\.0\.1:\d+", registry.host)
    assert registry.url == f"http://{registry.host}"
    resp = _session().get(f"{registry.url}/v2/", timeout=TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_stop_start_keeps_port_and_data(fresh_registry: RegistryServer, repo_name: str) -> None:
    host, storage = fresh_registry.host, fresh_registry.storage
    digest = _push_blob(fresh_registry.url, repo_name, b"hello skillcrate\n")

    fresh_registry.stop()
    assert not fresh_registry.running
    with pytest.raises(requests.ConnectionError):
        _session().get(f"{fresh_registry.url}/v2/", timeout=TIMEOUT)

    fresh_registry.start()
    assert (fresh_registry.host, fresh_registry.storage) == (host, storage)
    head = _session().head(f"{fresh_registry.url}/v2/{repo_name}/blobs/{digest}", timeout=TIMEOUT)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == digest
    assert int(head.headers["Content-Length"]) == len(b"hello skillcrate\n")


def test_registry_env_overrides_are_ignored(isolated_env: IsolatedEnv) -> None:
    # The autouse fixture sets REGISTRY_AUTH_FILE, which Distribution would read as a config
    # override (auth.file) and refuse to start; registries run without REGISTRY_* vars.
    assert os.environ["REGISTRY_AUTH_FILE"] == str(isolated_env.registry_auth_file)


def test_context_manager_stops_process(
    registry_bin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGISTRY_LOG_LEVEL", "not-a-level")  # would break startup if passed on
    with RegistryServer(tmp_path / "reg", binary=registry_bin) as server:
        assert server.running
        url = server.url
        assert server.logs() == ""  # log level error: nothing to say
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        _session().get(f"{url}/v2/", timeout=TIMEOUT)


def test_start_failure_reports_logs(registry_bin: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = RegistryServer(tmp_path / "reg", binary=registry_bin, port=busy.getsockname()[1])
        with pytest.raises(RegistryStartError, match="address already in use"):
            server.start()
    assert not server.running


# --------------------------------------------------------------------------------- basic


def test_basic_registry_requires_credentials(basic_registry: RegistryServer) -> None:
    url = f"{basic_registry.url}/v2/"
    anonymous = _session().get(url, timeout=TIMEOUT)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    assert _session().get(url, auth=("alice", "wrong"), timeout=TIMEOUT).status_code == 401
    assert _session().get(url, auth=ALICE, timeout=TIMEOUT).status_code == 200


# --------------------------------------------------------------------------------- token


def test_token_registry_challenges_with_bearer(token_registry: TokenRegistry) -> None:
    resp = _session().get(f"{token_registry.url}/v2/", timeout=TIMEOUT)
    assert resp.status_code == 401
    params = _challenge_params(resp.headers["WWW-Authenticate"])
    assert params["realm"] == token_registry.token_server.realm
    assert params["service"] == token_registry.token_server.service


def test_push_scope_token_allows_upload(token_registry: TokenRegistry, repo_name: str) -> None:
    token_registry.token_server.clear()
    scope = f"repository:{repo_name}:pull,push"
    resp = _fetch_token(token_registry, [scope], auth=ALICE)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 300
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])

    claims = token_registry.token_server.decode(body["token"])
    assert claims["sub"] == "alice"
    assert claims["access"] == [
        {"type": "repository", "name": repo_name, "actions": ["pull", "push"]}
    ]
    assert jwt.get_unverified_header(body["token"])["kid"] == token_registry.token_server.kid

    upload = _session().post(
        f"{token_registry.url}/v2/{repo_name}/blobs/uploads/",
        headers=_bearer(body["token"]),
        timeout=TIMEOUT,
    )
    assert upload.status_code == 202
    assert token_registry.token_server.requests == [TokenRequest("alice", [scope])]
    assert token_registry.token_server.requests == [("alice", [scope])]


def test_pull_only_token_gets_insufficient_scope(
    token_registry: TokenRegistry, repo_name: str
) -> None:
    token = _fetch_token(token_registry, [f"repository:{repo_name}:pull"], auth=ALICE).json()
    upload = _session().post(
        f"{token_registry.url}/v2/{repo_name}/blobs/uploads/",
        headers=_bearer(token["token"]),
        timeout=TIMEOUT,
    )
    assert upload.status_code == 401
    challenge = upload.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    # Distribution lists the actions in random order (Go map): "pull,push" or "push,pull".
    rtype, name, actions = parse_scope(_challenge_params(challenge)["scope"]) or ("", "", [])
    assert (rtype, name, sorted(actions)) == ("repository", repo_name, ["pull", "push"])


def test_token_server_grants_and_logs(token_registry: TokenRegistry) -> None:
    ts = token_registry.token_server
    ts.clear()
    anonymous = _fetch_token(token_registry, ["repository:a:pull,push"]).json()
    assert ts.decode(anonymous["token"])["access"] == [
        {"type": "repository", "name": "a", "actions": ["pull"]}
    ]
    assert ts.decode(anonymous["token"])["sub"] == ""

    wrong = _fetch_token(token_registry, ["repository:a:pull"], auth=("alice", "nope"))
    assert wrong.status_code == 401
    unknown = _fetch_token(token_registry, ["repository:a:pull"], auth=("mallory", "x"))
    assert unknown.status_code == 401

    two = _fetch_token(
        token_registry, ["repository:a:pull", "repository:b/c:push,pull"], auth=ALICE
    ).json()
    assert ts.decode(two["token"])["access"] == [
        {"type": "repository", "name": "a", "actions": ["pull"]},
        {"type": "repository", "name": "b/c", "actions": ["push", "pull"]},
    ]
    assert ts.requests == [
        (None, ["repository:a:pull,push"]),
        ("alice", ["repository:a:pull"]),
        ("mallory", ["repository:a:pull"]),
        ("alice", ["repository:a:pull", "repository:b/c:push,pull"]),
    ]
    assert [r.status for r in ts.records] == [200, 401, 401, 200]
    ts.clear()
    assert ts.requests == []


def test_account_param_is_recorded(token_registry: TokenRegistry) -> None:
    ts = token_registry.token_server
    ts.clear()
    resp = _session().get(
        ts.realm,
        params={"service": ts.service, "account": "alice", "scope": "repository:x:pull"},
        auth=ALICE,
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200
    assert ts.records[0].account == "alice"
    assert ts.records[0].service == ts.service


def test_short_lived_tokens_are_rejected_by_registry(token_registry: TokenRegistry) -> None:
    ts = token_registry.token_server
    with ts.short_lived(expires_in=0):
        body = _fetch_token(token_registry, ["repository:x:pull"], auth=ALICE).json()
    assert body["expires_in"] == 0
    assert ts.expires_in == 300 and not ts.strict_expiry
    resp = _session().get(
        f"{token_registry.url}/v2/x/tags/list", headers=_bearer(body["token"]), timeout=TIMEOUT
    )
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


# ------------------------------------------------------------------------- factories, env


def test_make_token_registry_options(make_token_registry: Callable[..., TokenRegistry]) -> None:
    bundle = make_token_registry({"bob": "pw"}, allow_anonymous=False, expires_in=7)
    assert _fetch_token(bundle, ["repository:a:pull"]).status_code == 401
    ok = _fetch_token(bundle, ["repository:a:pull"], auth=("bob", "pw")).json()
    assert ok["expires_in"] == 7
    assert bundle.token_server.requests == [
        (None, ["repository:a:pull"]),
        ("bob", ["repository:a:pull"]),
    ]


def test_make_registry_basic_mode(make_registry: Callable[..., RegistryServer]) -> None:
    server = make_registry(basic_users={"carol": "pw"})
    assert server.mode == "basic"
    url = f"{server.url}/v2/"
    assert _session().get(url, auth=("carol", "pw"), timeout=TIMEOUT).status_code == 200
    assert _session().get(url, auth=ALICE, timeout=TIMEOUT).status_code == 401


def test_isolated_env(isolated_env: IsolatedEnv) -> None:
    assert os.environ["DOCKER_CONFIG"] == str(isolated_env.docker_config)
    assert list(isolated_env.docker_config.iterdir()) == []
    assert not Path(os.environ["REGISTRY_AUTH_FILE"]).exists()
    assert os.environ["SKILLCRATE_CACHE_DIR"] == str(isolated_env.cache_dir)
    assert os.environ["SKILLCRATE_CONFIG_DIR"] == str(isolated_env.config_dir)
    assert os.environ["XDG_RUNTIME_DIR"] == str(isolated_env.runtime_dir)
    assert os.environ["NO_COLOR"] == "1"
    assert Path.home() == isolated_env.home
    assert "HTTPS_PROXY" not in os.environ


def test_make_docker_config(
    make_docker_config: Callable[..., Path], basic_registry: RegistryServer
) -> None:
    folder = make_docker_config({basic_registry.host: ALICE})
    assert os.environ["DOCKER_CONFIG"] == str(folder)
    data = json.loads((folder / "config.json").read_text())
    entry = data["auths"][basic_registry.host]["auth"]
    user, _, password = base64.b64decode(entry).decode().partition(":")
    resp = _session().get(f"{basic_registry.url}/v2/", auth=(user, password), timeout=TIMEOUT)
    assert resp.status_code == 200


def test_skopeo_reads_registry(
    skopeo_bin: str, fresh_registry: RegistryServer, repo_name: str
) -> None:
    config = b"{}"
    config_digest = _push_blob(fresh_registry.url, repo_name, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.test",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [],
    }
    raw = json.dumps(manifest).encode()
    put = _session().put(
        f"{fresh_registry.url}/v2/{repo_name}/manifests/v1",
        data=raw,
        headers={"Content-Type": manifest["mediaType"]},
        timeout=TIMEOUT,
    )
    assert put.status_code == 201, put.text
    out = subprocess.run(
        [
            skopeo_bin,
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{fresh_registry.host}/{repo_name}:v1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    assert out.stdout == raw


# ------------------------------------------------------------------------------- helpers


def test_libtrust_kid_format(token_registry: TokenRegistry) -> None:
    kid = token_registry.token_server.kid
    assert re.fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", kid)
    assert libtrust_key_id(token_registry.token_server._key.public_key()) == kid


@pytest.mark.parametrize(
    ("scope", "parsed"),
    [
        ("repository:foo:pull,push", ("repository", "foo", ["pull", "push"])),
        ("repository:a/b/c:pull", ("repository", "a/b/c", ["pull"])),
        ("repository:localhost:5000/x:pull", ("repository", "localhost:5000/x", ["pull"])),
        ("registry:catalog:*", ("registry", "catalog", ["*"])),
        ("garbage", None),
    ],
)
def test_parse_scope(scope: str, parsed: tuple[str, str, list[str]] | None) -> None:
    assert parse_scope(scope) == parsed


def test_tokens_live_at_least_their_expires_in(token_registry: TokenRegistry) -> None:
    """Issued just before a whole second, a 1 s token must not expire 50 ms later."""
    ts = token_registry.token_server
    token = ts.issue_token("alice", [], expires_in=1, now=1_700_000_000.95)
    claims = ts.decode(token, verify_exp=False)
    leeway = REGISTRY_LEEWAY if ts.strict_expiry else 0
    assert claims["exp"] + leeway - 1_700_000_000.95 >= 1
    assert (
        ts.decode(ts.issue_token("alice", [], expires_in=0, now=1_700_000_000.5), verify_exp=False)[
            "exp"
        ]
        + leeway
        <= 1_700_000_000.5
    )
