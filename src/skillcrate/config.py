"""User configuration: ``config.toml`` in the skillcrate config folder.

Location: ``$SKILLCRATE_CONFIG_DIR/config.toml`` else platformdirs' user config
folder. Example::

    [registries."registry.internal:5000"]
    plain_http = true          # talk HTTP, not HTTPS (loopback hosts do by default)
    insecure = false           # HTTPS without certificate verification
    ca_bundle = "/etc/ssl/internal-ca.pem"
    read_timeout = 120         # seconds to wait for an answer (default 30)

    [registries."*"]           # defaults for every host
    ca_bundle = "/etc/ssl/corp.pem"
    connect_timeout = 5        # seconds to connect (default 2.5)

Environment overrides: ``SKILLCRATE_PLAIN_HTTP=host1,host2`` and
``SKILLCRATE_INSECURE=host1,...`` (``*`` for all), ``SKILLCRATE_CA_BUNDLE=path``,
``SKILLCRATE_CONNECT_TIMEOUT`` / ``SKILLCRATE_READ_TIMEOUT`` (seconds; the global
``--timeout`` flag beats both for the read timeout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import SkillcrateError
from .fastpath import state_dir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (as in fastpath)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "RegistrySettings",
    "allowed_link_dirs",
    "config_dir",
    "load_config",
    "registry_settings",
    "state_dir",
]


@dataclass(frozen=True)
class RegistrySettings:
    plain_http: bool | None = None  # None: decide by host (loopback → plain)
    insecure: bool = False
    ca_bundle: str | None = None
    connect_timeout: float | None = None  # seconds; None: the default
    read_timeout: float | None = None


def config_dir() -> Path:
    env = os.environ.get("SKILLCRATE_CONFIG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("skillcrate"))


def load_config(path: Path | None = None) -> dict[str, Any]:
    import tomllib

    path = path or config_dir() / "config.toml"
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SkillcrateError(f"{path}: cannot read configuration: {exc}") from exc


def allowed_link_dirs(config: dict[str, Any] | None = None) -> list[str]:
    """Link folders the user allows besides ``.<agent>/skills`` (``allow_link_dirs``)."""
    cfg = load_config() if config is None else config
    value = cfg.get("allow_link_dirs") or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SkillcrateError(
            f"{config_dir() / 'config.toml'}: allow_link_dirs must be a list of paths"
        )
    return list(value)


def _env_hosts(name: str) -> set[str]:
    return {h.strip() for h in os.environ.get(name, "").split(",") if h.strip()}


def registry_settings(host: str, config: dict[str, Any] | None = None) -> RegistrySettings:
    cfg = load_config() if config is None else config
    regs = cfg.get("registries") or {}
    merged: dict[str, Any] = {}
    for key in ("*", host):
        section = regs.get(key)
        if isinstance(section, dict):
            merged.update(section)
    plain = merged.get("plain_http")
    insecure = bool(merged.get("insecure", False))
    ca = merged.get("ca_bundle")
    plain_env, insecure_env = _env_hosts("SKILLCRATE_PLAIN_HTTP"), _env_hosts("SKILLCRATE_INSECURE")
    if host in plain_env or "*" in plain_env:
        plain = True
    if host in insecure_env or "*" in insecure_env:
        insecure = True
    if os.environ.get("SKILLCRATE_CA_BUNDLE"):
        ca = os.environ["SKILLCRATE_CA_BUNDLE"]
    return RegistrySettings(
        plain_http=None if plain is None else bool(plain),
        insecure=insecure,
        ca_bundle=ca,
        connect_timeout=_seconds(merged, "connect_timeout"),
        read_timeout=_seconds(merged, "read_timeout"),
    )


def _seconds(section: dict[str, Any], key: str) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SkillcrateError(
            f"{config_dir() / 'config.toml'}: {key} must be a positive number of seconds"
        )
    return float(value)
