"""``skillcrate login`` / ``logout`` (issue 15): checked against the registry's own
challenge, saved where Docker and Podman read them.

Real Distribution registries with htpasswd (Basic) and token auth, a temporary
``DOCKER_CONFIG``, a small ``docker-credential-*`` helper script on PATH, and skopeo as
the independent reader of what was saved.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers import make_skill, run_cli
from registry_server import TEST_USERS, IsolatedEnv, RegistryServer, TokenRegistry

USER, SECRET = "alice", TEST_USERS["alice"]
WRONG = "not-the-password-4411"

HELPER = r"""#!/usr/bin/env python3
# A docker-credential helper keeping its entries in $FAKE_HELPER_STORE (get/store/erase).
import json, os, sys
path = os.environ["FAKE_HELPER_STORE"]
data = json.load(open(path)) if os.path.exists(path) else {}
action = sys.argv[1]
if action == "store":
    entry = json.load(sys.stdin)
    data[entry["ServerURL"]] = {"Username": entry["Username"], "Secret": entry["Secret"]}
elif action == "get":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps({"ServerURL": url, **data[url]})); sys.exit(0)
elif action == "erase":
    url = sys.stdin.read().strip()
    if url not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    del data[url]
json.dump(data, open(path, "w"))
"""


@pytest.fixture
def docker_only(monkeypatch: pytest.MonkeyPatch, isolated_env: IsolatedEnv) -> Path:
    """No Podman auth file in play: logins go to $DOCKER_CONFIG/config.json."""
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    return isolated_env.docker_config / "config.json"


def login(host: str, password: str = SECRET, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("login", host, "-u", USER, "--password-stdin", *extra, stdin=password + "\n")


def _push(host: str, tmp_path: Path) -> str:
    folder = make_skill(tmp_path / "src", "review")
    ref = f"{host}/{uuid.uuid4().hex[:12]}/review:1.0.0"  # the registries are shared
    done = run_cli("push", str(folder), ref)
    assert done.returncode == 0, done.stderr
    return ref


def _skopeo_reads(skopeo_bin: str, authfile: Path, ref: str) -> None:
    proc = subprocess.run(
        [
            skopeo_bin,
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--authfile",
            str(authfile),
            f"docker://{ref}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schemaVersion"] == 2


def test_basic_login_saves_docker_auths_and_keeps_the_rest(
    basic_registry: RegistryServer, docker_only: Path, skopeo_bin: str, tmp_path: Path
) -> None:
    host = basic_registry.host
    docker_only.write_text(json.dumps({"auths": {"other.io": {"auth": "eDp5"}}, "x": 1}))
    done = login(host)
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert f"logged in to {host} as {USER}" in done.stdout
    saved = json.loads(docker_only.read_text())
    assert saved["x"] == 1 and saved["auths"]["other.io"] == {"auth": "eDp5"}
    assert base64.b64decode(saved["auths"][host]["auth"]).decode() == f"{USER}:{SECRET}"
    assert stat.S_IMODE(docker_only.stat().st_mode) == 0o600
    ref = _push(host, tmp_path)  # skillcrate itself uses what it saved
    _skopeo_reads(skopeo_bin, docker_only, ref)  # and so does skopeo

    out = run_cli("logout", host)
    assert out.returncode == 0 and "logged out of" in out.stdout
    saved = json.loads(docker_only.read_text())
    assert host not in saved["auths"] and saved["auths"]["other.io"] == {"auth": "eDp5"}
    assert run_cli("versions", ref.rsplit(":", 1)[0]).returncode == 1  # no credentials now
    again = run_cli("logout", host)
    assert again.returncode == 0 and "not logged in" in again.stderr


def test_a_rejected_login_saves_nothing_and_prints_no_secret(
    basic_registry: RegistryServer, docker_only: Path
) -> None:
    done = login(basic_registry.host, WRONG)
    assert done.returncode == 1
    assert "rejected" in done.stderr and WRONG not in done.stdout + done.stderr
    assert not docker_only.exists()


def test_token_registry_login(
    token_registry: TokenRegistry, docker_only: Path, tmp_path: Path
) -> None:
    host = token_registry.host
    assert login(host, WRONG).returncode == 1 and not docker_only.exists()
    done = login(host)
    assert done.returncode == 0, done.stderr
    _push(host, tmp_path)


def test_a_credential_helper_gets_the_secret_not_the_file(
    basic_registry: RegistryServer,
    docker_only: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-fake"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    store = tmp_path / "helper-store.json"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HELPER_STORE", str(store))
    config = {"credsStore": "fake", "auths": {}}
    docker_only.write_text(json.dumps(config))
    host = basic_registry.host

    done = login(host)
    assert done.returncode == 0, done.stderr
    assert "docker-credential-fake" in done.stdout
    assert json.loads(store.read_text())[host] == {"Username": USER, "Secret": SECRET}
    assert json.loads(docker_only.read_text()) == config  # the file holds no secret
    _push(host, tmp_path)  # read back through the helper's get

    assert run_cli("logout", host).returncode == 0
    assert host not in json.loads(store.read_text())


def test_authfile_writes_podmans_file(
    basic_registry: RegistryServer, isolated_env: IsolatedEnv, skopeo_bin: str, tmp_path: Path
) -> None:
    authfile = tmp_path / "auth.json"
    done = login(basic_registry.host, SECRET, "--authfile", str(authfile))
    assert done.returncode == 0, done.stderr
    assert not (isolated_env.docker_config / "config.json").exists()
    saved = json.loads(authfile.read_text())
    assert basic_registry.host in saved["auths"]
    # skillcrate reads $REGISTRY_AUTH_FILE; the same file through it:
    env = {"REGISTRY_AUTH_FILE": str(authfile)}
    folder = make_skill(tmp_path / "src", "review")
    ref = f"{basic_registry.host}/{uuid.uuid4().hex[:12]}/review:1.0.0"
    pushed = run_cli("push", str(folder), ref, env=env)
    assert pushed.returncode == 0, pushed.stderr
    _skopeo_reads(skopeo_bin, authfile, ref)
    out = run_cli("logout", basic_registry.host, "--authfile", str(authfile))
    assert out.returncode == 0
    assert basic_registry.host not in json.loads(authfile.read_text())["auths"]


def test_password_handling_rules(basic_registry: RegistryServer, docker_only: Path) -> None:
    host = basic_registry.host
    no_password = run_cli("login", host, "-u", USER)
    assert no_password.returncode == 2 and "--password-stdin" in no_password.stderr
    no_user = run_cli("login", host, "--password-stdin", stdin=SECRET)
    assert no_user.returncode == 2 and "-u/--username" in no_user.stderr
    on_the_line = run_cli("login", host, "-u", USER, "--password", SECRET)
    assert on_the_line.returncode == 0, on_the_line.stderr
    assert "visible to other users" in on_the_line.stderr
    assert SECRET not in on_the_line.stdout + on_the_line.stderr
    both = run_cli("login", host, "-u", USER, "--password", SECRET, "--password-stdin", stdin="x")
    assert both.returncode == 2
    assert run_cli("login", "https://a.io/path", "-u", USER, "--password", "p").returncode == 2


def test_a_malformed_docker_config_is_never_overwritten(
    basic_registry: RegistryServer, docker_only: Path
) -> None:
    docker_only.write_text('["not", "an", "object"]')
    done = login(basic_registry.host)
    assert done.returncode == 1 and "not changed" in done.stderr
    assert docker_only.read_text() == '["not", "an", "object"]'
