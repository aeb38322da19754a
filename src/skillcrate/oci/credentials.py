"""Registry credentials from Docker and Podman auth files and credential helpers.

Lookup order for a registry host (first hit wins):

1. Docker config: ``$DOCKER_CONFIG/config.json`` else ``~/.docker/config.json``:
   ``credHelpers[host]`` (runs ``docker-credential-<helper> get``), then
   ``auths[host]`` (``auth`` = base64 ``user:pass``, or ``username``/``password``,
   or ``identitytoken``), then ``credsStore``.
2. Podman: ``$REGISTRY_AUTH_FILE``, then ``${XDG_RUNTIME_DIR}/containers/auth.json``,
   then ``~/.config/containers/auth.json`` (same ``auths`` shape).

``docker.io`` is also looked up as ``https://index.docker.io/v1/`` (Docker's key).
Secrets are never logged or printed: ``Credential.__repr__`` masks them.

oras-py's ``load_configs`` was not reused: it ignores ``$DOCKER_CONFIG`` and Podman's
files, drops ``identitytoken``, and merges several files in set order.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AuthError


@dataclass(frozen=True)
class Credential:
    """A registry login; ``repr`` never shows the secret."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    source: str = ""  # which file or helper it came from (safe to print)

    @property
    def is_empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)

    def __repr__(self) -> str:
        kind = "identity-token" if self.identity_token else "basic"
        return f"Credential(username={self.username!r}, kind={kind}, source={self.source!r})"


def docker_config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path.home() / ".docker" / "config.json"


def podman_auth_paths(env: dict[str, str] | None = None) -> list[Path]:
    env = dict(os.environ) if env is None else env
    paths: list[Path] = []
    if env.get("REGISTRY_AUTH_FILE"):
        paths.append(Path(env["REGISTRY_AUTH_FILE"]))
    if env.get("XDG_RUNTIME_DIR"):
        paths.append(Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    paths.append(Path.home() / ".config" / "containers" / "auth.json")
    return paths


def _host_keys(host: str) -> list[str]:
    keys = [host, f"https://{host}", f"http://{host}", f"https://{host}/v1/", f"https://{host}/v2/"]
    if host == "docker.io":
        keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    return keys


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuthError(f"cannot read credentials file {path}: {exc}") from exc
    except RecursionError:
        raise AuthError(f"cannot read credentials file {path}: nested too deeply") from None
    return data if isinstance(data, dict) else None


def _from_auth_entry(entry: object, source: str) -> Credential | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("identitytoken") or ""
    user = entry.get("username") or ""
    password = entry.get("password") or ""
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"])).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AuthError(f"malformed 'auth' value in {source}") from exc
        user, _, password = decoded.partition(":")
    cred = Credential(user, password, str(token), source)
    return None if cred.is_empty else cred


def _run_helper(
    helper: str, action: str, payload: bytes, host: str, timeout: float = 15.0
) -> subprocess.CompletedProcess[bytes]:
    """``docker-credential-<helper> ACTION`` with ``payload`` on stdin (get, store, erase)."""
    binary = f"docker-credential-{helper}"
    try:
        return subprocess.run(
            [binary, action], input=payload, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise AuthError(
            f"credential helper {binary} is configured for {host} but not on PATH"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise AuthError(f"credential helper {binary} timed out for {host}") from exc


def run_helper(helper: str, host: str, *, timeout: float = 15.0) -> Credential | None:
    """Ask ``docker-credential-<helper> get`` for ``host``'s credential."""
    binary = f"docker-credential-{helper}"
    proc = _run_helper(helper, "get", host.encode(), host, timeout)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        if "credentials not found" in out.lower():
            return None
        raise AuthError(f"credential helper {binary} failed for {host} (exit {proc.returncode})")
    try:
        payload = json.loads(proc.stdout)
        user, secret = str(payload.get("Username", "")), str(payload.get("Secret", ""))
    except (json.JSONDecodeError, AttributeError) as exc:
        raise AuthError(f"credential helper {binary} returned malformed output") from exc
    if user == "<token>":
        return Credential("", "", secret, f"helper {binary}")
    return Credential(user, secret, "", f"helper {binary}")


def lookup(host: str, env: dict[str, str] | None = None) -> Credential | None:
    """The credential for registry ``host`` (``ghcr.io``, ``127.0.0.1:5000``), or None."""
    keys = _host_keys(host)
    docker_path = docker_config_path(env)
    cfg = _read_json(docker_path)
    if cfg:
        helpers = cfg.get("credHelpers") or {}
        for key in keys:
            if isinstance(helpers, dict) and helpers.get(key):
                return run_helper(str(helpers[key]), key)
        auths = cfg.get("auths") or {}
        for key in keys:
            if isinstance(auths, dict) and key in auths:
                cred = _from_auth_entry(auths[key], str(docker_path))
                if cred:
                    return cred
        if cfg.get("credsStore"):
            cred = run_helper(str(cfg["credsStore"]), host)
            if cred:
                return cred
    for path in podman_auth_paths(env):
        pcfg = _read_json(path)
        if not pcfg:
            continue
        auths = pcfg.get("auths") or {}
        for key in keys:
            if isinstance(auths, dict) and key in auths:
                cred = _from_auth_entry(auths[key], str(path))
                if cred:
                    return cred
    return None


# ------------------------------------------------------------------------------ writing


def auth_key(host: str) -> str:
    """The key Docker and Podman store ``host``'s credentials under."""
    return "https://index.docker.io/v1/" if host == "docker.io" else host


def _helper_call(helper: str, action: str, payload: bytes, host: str) -> None:
    """``store`` or ``erase`` through the helper; erasing what it does not hold is fine."""
    proc = _run_helper(helper, action, payload, host)
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).decode(errors="replace").lower()
        if action == "erase" and "not found" in out:
            return
        raise AuthError(
            f"credential helper docker-credential-{helper} failed to {action} {host} "
            f"(exit {proc.returncode})"
        )


def _helper_for(cfg: dict[str, object] | None, host: str) -> str | None:
    if not cfg:
        return None
    helpers = cfg.get("credHelpers") or {}
    if isinstance(helpers, dict):
        for key in _host_keys(host):
            if helpers.get(key):
                return str(helpers[key])
    store = cfg.get("credsStore")
    return str(store) if store else None


def _write_auths(path: Path, cfg: dict[str, object], *, indent: str) -> None:
    from .._fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(cfg, indent=indent, ensure_ascii=False) + "\n", mode=0o600)


def store(
    host: str,
    username: str,
    password: str,
    *,
    authfile: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Save a login where Docker and Podman read it; a description of where (no secret).

    ``authfile`` (Podman's ``--authfile``, default ``$REGISTRY_AUTH_FILE``): ``auths`` in
    that file. Otherwise Docker's config: the credential helper it names for the host
    (``credHelpers``, else ``credsStore``) through ``docker-credential-<h> store``, else
    ``auths`` in ``config.json``. Files are written atomically with mode 0600; every other
    key is kept. A file that cannot be parsed is never overwritten.
    """
    env = dict(os.environ) if env is None else env
    key = auth_key(host)
    entry = {"auth": base64.b64encode(f"{username}:{password}".encode()).decode("ascii")}
    if authfile is None and env.get("REGISTRY_AUTH_FILE"):
        authfile = Path(env["REGISTRY_AUTH_FILE"])
    if authfile is not None:
        cfg = _read_for_update(authfile)
        _set_auth(cfg, key, entry, str(authfile))
        _write_auths(authfile, cfg, indent="\t")
        return str(authfile)
    path = docker_config_path(env)
    cfg = _read_for_update(path)
    helper = _helper_for(cfg, host)
    if helper:
        payload = json.dumps({"ServerURL": key, "Username": username, "Secret": password})
        _helper_call(helper, "store", payload.encode(), host)
        return f"credential helper docker-credential-{helper}"
    _set_auth(cfg, key, entry, str(path))
    _write_auths(path, cfg, indent="\t")
    return str(path)


def _read_for_update(path: Path) -> dict[str, object]:
    """A file about to be rewritten: {} when absent; AuthError (nothing written) unless it
    holds a JSON object."""
    if not path.exists():
        return {}
    data = _read_json(path)
    if data is None:
        raise AuthError(f"{path} does not hold a JSON object; the file was not changed")
    return data


def _set_auth(cfg: dict[str, object], key: str, entry: dict[str, str], where: str) -> None:
    auths = cfg.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise AuthError(f"{where}: 'auths' is not an object; the file was not changed")
    auths[key] = entry


def erase(
    host: str, *, authfile: Path | None = None, env: dict[str, str] | None = None
) -> list[str]:
    """Remove ``host``'s saved login from wherever :func:`store` would look; where from."""
    env = dict(os.environ) if env is None else env
    keys = _host_keys(host)
    removed: list[str] = []
    if authfile is None and env.get("REGISTRY_AUTH_FILE"):
        authfile = Path(env["REGISTRY_AUTH_FILE"])
    if authfile is not None:
        files = {authfile: _read_for_update(authfile)}
    else:
        docker = docker_config_path(env)
        files = {docker: _read_for_update(docker)}
        helper = _helper_for(files[docker], host)
        if helper:
            _helper_call(helper, "erase", auth_key(host).encode(), host)
            removed.append(f"credential helper docker-credential-{helper}")
    for path, data in files.items():
        auths = data.get("auths")
        if not isinstance(auths, dict):
            continue
        found = [k for k in keys if k in auths]
        if found:
            for k in found:
                del auths[k]
            _write_auths(path, data, indent="\t")
            removed.append(str(path))
    return removed
