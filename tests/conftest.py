"""Shared fixtures: real registries on 127.0.0.1 and an isolated environment for every test.

Registries (see ``registry_server.py``):

* ``registry`` / ``basic_registry`` / ``token_registry``: session-scoped, shared; use a unique
  repository name per test (``repo_name``) and never stop them.
* ``fresh_registry``, ``make_registry(...)``, ``make_token_registry(...)``: per test, own
  storage; stop/start them freely.

Every test also gets ``isolated_env`` (autouse): empty ``DOCKER_CONFIG``, a nonexistent
``REGISTRY_AUTH_FILE``, temp ``HOME``/XDG dirs, per-test ``SKILLCRATE_CACHE_DIR`` and
``SKILLCRATE_CONFIG_DIR``, ``NO_COLOR=1``, no proxy variables.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from fake_registry import referrers_registry  # noqa: F401 - fixture
from registry_server import (
    TEST_USERS,
    IsolatedEnv,
    RegistryServer,
    TokenRegistry,
)
from registry_server import (
    make_token_registry as _new_token_registry,
)

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# ------------------------------------------------------------------------------ binaries


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _require_binary(name: str, package: str) -> str:
    """Path of ``name``; missing → fail when ``CI=true`` (case-insensitive), else skip."""
    path = shutil.which(name)
    if path:
        return path
    message = f"`{name}` not found on PATH (install the `{package}` package to run this test)"
    if _in_ci():
        pytest.fail(f"{message}; CI=true, so a missing tool is an error", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def registry_bin() -> str:
    return _require_binary("docker-registry", "docker-registry")


@pytest.fixture(scope="session")
def skopeo_bin() -> str:
    return _require_binary("skopeo", "skopeo")


@pytest.fixture(scope="session")
def htpasswd_bin() -> str:
    return _require_binary("htpasswd", "apache2-utils")


# ---------------------------------------------------------------------------- registries


@pytest.fixture(scope="session")
def registry(
    registry_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """Shared plain-HTTP, no-auth registry (session). Do not stop it."""
    with RegistryServer(tmp_path_factory.mktemp("registry"), binary=registry_bin) as server:
        yield server


@pytest.fixture(scope="session")
def basic_registry(
    registry_bin: str, htpasswd_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryServer]:
    """Shared registry with htpasswd basic auth, users ``TEST_USERS`` (session)."""
    server = RegistryServer(
        tmp_path_factory.mktemp("basic-registry"),
        binary=registry_bin,
        basic_users=TEST_USERS,
        htpasswd_bin=htpasswd_bin,
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def token_registry(
    registry_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenRegistry]:
    """Shared token-auth registry (session): ``.registry``, ``.token_server``, ``.users``.

    Call ``token_registry.token_server.clear()`` before asserting on ``.requests``; change
    token lifetime with ``with token_registry.token_server.short_lived(1): ...``.
    """
    root = tmp_path_factory.mktemp("token-registry")
    with _new_token_registry(root, TEST_USERS, binary=registry_bin) as bundle:
        yield bundle


@pytest.fixture
def make_registry(
    registry_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RegistryServer]]:
    """Factory for started per-test registries: ``make_registry(basic_users=..., ...)``.

    Keyword arguments go to :class:`RegistryServer` (``htpasswd`` is looked up when
    ``basic_users`` is given). Every registry made is stopped at teardown.
    """
    made: list[RegistryServer] = []

    def factory(**kwargs: Any) -> RegistryServer:
        if kwargs.get("basic_users") is not None and "htpasswd_bin" not in kwargs:
            kwargs["htpasswd_bin"] = _require_binary("htpasswd", "apache2-utils")
        server = RegistryServer(tmp_path_factory.mktemp("registry"), binary=registry_bin, **kwargs)
        made.append(server)
        return server.start()

    yield factory
    _stop_all(made)


@pytest.fixture
def fresh_registry(make_registry: Callable[..., RegistryServer]) -> RegistryServer:
    """A plain registry of this test's own (own storage): safe to stop()/start()."""
    return make_registry()


@pytest.fixture
def make_token_registry(
    registry_bin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., TokenRegistry]]:
    """Factory for started per-test token registries.

    ``make_token_registry(users=None, **token_options)``; ``users`` defaults to
    ``TEST_USERS``; ``token_options`` go to :class:`TokenServer` (``expires_in``,
    ``strict_expiry``, ``allow_anonymous``, ``permissions``, ...).
    """
    made: list[TokenRegistry] = []

    def factory(users: Mapping[str, str] | None = None, **token_options: Any) -> TokenRegistry:
        root = tmp_path_factory.mktemp("token-registry")
        bundle = _new_token_registry(
            root, TEST_USERS if users is None else users, binary=registry_bin, **token_options
        )
        made.append(bundle)
        return bundle.start()

    yield factory
    _stop_all(made)


def _stop_all(servers: list[RegistryServer] | list[TokenRegistry]) -> None:
    """Stop every server even if one of them fails to stop; re-raise the first error."""
    errors: list[BaseException] = []
    for server in reversed(servers):
        try:
            server.stop()
        except BaseException as exc:  # noqa: BLE001 - collect, stop the rest, re-raise
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test, e.g. ``test/test-push-works-1a2b3c4d``."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"test/{slug or 'repo'}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- environment


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> IsolatedEnv:
    """Keep every test away from the developer's credentials, config, cache and proxies."""
    root = tmp_path_factory.mktemp("env")
    env = IsolatedEnv(
        root=root,
        home=root / "home",
        docker_config=root / "docker",
        registry_auth_file=root / "containers-auth" / "auth.json",
        runtime_dir=root / "xdg-runtime",
        cache_dir=root / "skillcrate-cache",
        config_dir=root / "skillcrate-config",
    )
    for folder in (env.home, env.docker_config, env.cache_dir, env.config_dir):
        folder.mkdir()
    env.runtime_dir.mkdir(mode=0o700)

    for name in [k for k in os.environ if k.startswith("SKILLCRATE_")]:
        monkeypatch.delenv(name)
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    _pin_pyenv_root(monkeypatch)
    monkeypatch.setenv("HOME", str(env.home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(var, str(env.home / sub))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(env.runtime_dir))
    monkeypatch.setenv("DOCKER_CONFIG", str(env.docker_config))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(env.registry_auth_file))
    monkeypatch.setenv("SKILLCRATE_CACHE_DIR", str(env.cache_dir))
    monkeypatch.setenv("SKILLCRATE_CONFIG_DIR", str(env.config_dir))
    # the machine's /etc/containers/registries.conf must not reroute tests: a file of the
    # test's own (absent until a test writes it)
    monkeypatch.setenv("SKILLCRATE_REGISTRIES_CONF", str(root / "registries.conf"))
    monkeypatch.setenv("NO_COLOR", "1")
    return env


def _pin_pyenv_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyenv shims find their root via $HOME unless PYENV_ROOT is set: keep them working."""
    if "PYENV_ROOT" not in os.environ:
        default = Path.home() / ".pyenv"
        if default.is_dir():
            monkeypatch.setenv("PYENV_ROOT", str(default))


def docker_auth_entry(user: str, password: str) -> dict[str, str]:
    """``{"auth": base64("user:password")}`` as Docker writes it."""
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode("ascii")}


@pytest.fixture
def make_docker_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Path]:
    """Factory: write a Docker ``config.json`` and point ``DOCKER_CONFIG`` at its folder.

    ``make_docker_config({registry.host: ("alice", "s3cret")})`` → the folder. ``extra`` keys
    (``credHelpers``, ``credsStore``, ...) are merged into the JSON as given. Each call makes a
    new folder and re-points ``DOCKER_CONFIG``.
    """

    def factory(
        auths: Mapping[str, tuple[str, str]] | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        folder = tmp_path_factory.mktemp("docker-config")
        data: dict[str, Any] = {
            "auths": {host: docker_auth_entry(u, p) for host, (u, p) in (auths or {}).items()}
        }
        data.update(extra or {})
        (folder / "config.json").write_text(json.dumps(data, indent=2))
        monkeypatch.setenv("DOCKER_CONFIG", str(folder))
        return folder

    return factory
