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

from .errors import SkillcrateError, UsageError
from .fastpath import state_dir, xdg_home, xdg_ignored

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (as in fastpath)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "RegistrySettings",
    "allowed_link_dirs",
    "config_dir",
    "global_dir",
    "load_config",
    "registry_settings",
    "state_dir",
]


@dataclass(frozen=True)
class RegistrySettings:
    """One registry's transport settings from config.toml (None: not set there)."""

    plain_http: bool | None = None  # None: decide by host (loopback → plain)
    insecure: bool = False
    ca_bundle: str | None = None
    connect_timeout: float | None = None  # seconds; None: the default
    read_timeout: float | None = None


def config_dir() -> Path:
    env = os.environ.get("SKILLCRATE_CONFIG_DIR")
    if env:
        return Path(env)
    return user_folder("config")


_XDG = {"config": ("XDG_CONFIG_HOME", ".config"), "cache": ("XDG_CACHE_HOME", ".cache")}


def user_folder(kind: str) -> Path:
    """skillcrate's per-user ``kind`` folder ("config" or "cache"): platformdirs' answer,
    except that a relative ``$XDG_CONFIG_HOME`` / ``$XDG_CACHE_HOME`` is ignored on Linux
    and other Unixes (``fastpath.xdg_home``), as the state folder and the no-op check do.
    Older platformdirs releases (3.x, 4.9) used such a value relative to the working
    folder: a cache or config inside whatever project the command ran in."""
    var, default = _XDG[kind]
    if xdg_ignored(var):
        return Path(xdg_home(var, default), "skillcrate")
    import platformdirs

    found = platformdirs.user_config_dir if kind == "config" else platformdirs.user_cache_dir
    return Path(found("skillcrate"))


def global_dir() -> Path:
    """The folder of the user-level skills.json and lock (``-g``): ``<config dir>/global``.

    Where the stdlib-only no-op check can compute it (``fastpath.global_files_path``) that
    is the answer, so the fast path and the CLI always read the same files."""
    from .fastpath import GLOBAL_DIR, global_files_path

    found = global_files_path()
    return Path(found) if found is not None else config_dir() / GLOBAL_DIR


def load_config(path: Path | None = None) -> dict[str, Any]:
    found = load_toml(path or config_dir() / "config.toml", "configuration")
    return {} if found is None else found


def load_toml(path: str | Path, what: str) -> dict[str, Any] | None:
    """The TOML file ``path``, None when it does not exist; unreadable or malformed is
    a one-line error naming it and ``what`` it holds. :mod:`tomllib` loads only when
    there is a file: most runs have none."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SkillcrateError(f"{path}: cannot read {what}: {exc}") from exc
    import tomllib

    with fh:
        try:
            return tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SkillcrateError(f"{path}: cannot read {what}: {exc}") from exc


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


# ------------------------------------------------------------------- editing (config cmd)

_TOP_KEYS = {"allow_link_dirs": "list", "agents": "list"}
_HOST_KEYS = {
    "plain_http": "bool",
    "insecure": "bool",
    "ca_bundle": "str",
    "connect_timeout": "seconds",
    "read_timeout": "seconds",
}
_RULE_KEYS = {
    "location": "str",
    "blocked": "bool",
    "insecure": "bool",
    "mirrors": "list",
    "pull-from-mirror": "mode",
}
KNOWN_KEYS = (
    *_TOP_KEYS,
    *(f"registries.<host>.{k}" for k in _HOST_KEYS),
    *(f"registry.<prefix>.{k}" for k in _RULE_KEYS),
)


def _split_key(key: str) -> tuple[str, str, str]:
    """``(section, name, setting)``: ("", "", key) for top-level keys, else
    ("registries", host, setting) or ("registry", prefix, setting)."""
    if key in _TOP_KEYS:
        return "", "", key
    section, _, rest = key.partition(".")
    name, _, setting = rest.rpartition(".")
    table = {"registries": _HOST_KEYS, "registry": _RULE_KEYS}.get(section)
    if table is None or not name or setting not in table:
        raise UsageError(f"unknown config key {key!r} (known: {', '.join(KNOWN_KEYS)})")
    return section, name, setting


def _kind(section: str, setting: str) -> str:
    return {"": _TOP_KEYS, "registries": _HOST_KEYS, "registry": _RULE_KEYS}[section][setting]


def _parse_value(key: str, kind: str, text: str) -> Any:
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1", "on"):
            return True
        if lowered in ("false", "no", "0", "off"):
            return False
        raise UsageError(f"{key} takes true or false, not {text!r}")
    if kind == "seconds":
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if value <= 0:
            raise UsageError(f"{key} takes a positive number of seconds, not {text!r}")
        return int(value) if value.is_integer() else value
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind == "mode":
        from .registries import PULL_MODES

        if text not in PULL_MODES:
            raise UsageError(f"{key} takes one of {', '.join(PULL_MODES)}, not {text!r}")
    return text


def config_path() -> Path:
    return config_dir() / "config.toml"


def _load_document(path: Path) -> Any:
    import tomlkit

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillcrateError(f"{path}: cannot read configuration: {exc}") from exc
    try:
        return tomlkit.parse(text)
    except Exception as exc:  # noqa: BLE001 - tomlkit's parse errors share no base class
        raise SkillcrateError(f"{path}: not valid TOML ({exc}); the file was not changed") from exc


def _rule_tables(doc: Any) -> Any:
    rules = doc.get("registry")
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise SkillcrateError(f"{config_path()}: [[registry]] must be an array of tables")
    return rules


def _find_rule(doc: Any, prefix: str) -> Any:
    for table in _rule_tables(doc):
        if str(table.get("prefix", "")).rstrip("/") == prefix:
            return table
    return None


def _get(doc: Any, key: str) -> Any:
    section, name, setting = _split_key(key)
    if not section:
        return doc.get(setting)
    if section == "registries":
        host = (doc.get("registries") or {}).get(name)
        return None if host is None else host.get(setting)
    rule = _find_rule(doc, name)
    if rule is None:
        return None
    mirrors = rule.get("mirror") or []
    if setting == "mirrors":
        return [str(m.get("location", "")) for m in mirrors] or None
    if setting == "pull-from-mirror":
        return mirrors[0].get("pull-from-mirror", "all") if mirrors else None
    return rule.get(setting)


def _plain(value: Any) -> Any:
    """A tomlkit value as plain Python (for printing and JSON)."""
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if unwrap is not None else value


def config_get(key: str) -> Any:
    """The value of ``key`` in config.toml (None when unset); UsageError for unknown keys."""
    return _plain(_get(_load_document(config_path()), key))


def config_list() -> dict[str, Any]:
    """Every known key that is set, flattened to ``config get`` names."""
    doc = _load_document(config_path())
    out: dict[str, Any] = {}
    for key in _TOP_KEYS:
        if doc.get(key) is not None:
            out[key] = _plain(doc[key])
    for host, table in (doc.get("registries") or {}).items():
        for setting in _HOST_KEYS:
            if isinstance(table, dict) and setting in table:
                out[f"registries.{host}.{setting}"] = _plain(table[setting])
    for table in _rule_tables(doc):
        prefix = str(table.get("prefix", "")).rstrip("/")
        for setting in _RULE_KEYS:
            value = _get(doc, f"registry.{prefix}.{setting}")
            if value is not None:
                out[f"registry.{prefix}.{setting}"] = _plain(value)
    return out


def config_set(key: str, text: str) -> Any:
    """Set ``key`` from its command-line ``text``; the value written. Comments, order and
    layout of the rest of the file are kept (tomlkit); the result must still load."""
    import tomlkit

    section, name, setting = _split_key(key)
    value = _parse_value(key, _kind(section, setting), text)
    path = config_path()
    doc = _load_document(path)
    if not section:
        doc[setting] = value
    elif section == "registries":
        if "registries" not in doc:
            doc["registries"] = tomlkit.table(is_super_table=True)
        hosts = doc["registries"]
        if name not in hosts:
            hosts[name] = tomlkit.table()
        hosts[name][setting] = value
    else:
        rule = _find_rule(doc, name)
        if rule is None:
            if "registry" not in doc:
                doc["registry"] = tomlkit.aot()
            rule = tomlkit.table()
            rule["prefix"] = name
            doc["registry"].append(rule)
            rule = doc["registry"][-1]
        if setting == "mirrors":
            old = rule.get("mirror") or []
            mode = old[0].get("pull-from-mirror") if old else None
            mirrors = tomlkit.aot()
            for location in value:
                entry = tomlkit.table()
                entry["location"] = location
                if mode:
                    entry["pull-from-mirror"] = mode
                mirrors.append(entry)
            rule["mirror"] = mirrors
        elif setting == "pull-from-mirror":
            if not rule.get("mirror"):
                raise UsageError(
                    f"registry.{name} has no mirrors; set registry.{name}.mirrors first"
                )
            for entry in rule["mirror"]:
                entry["pull-from-mirror"] = value
        else:
            rule[setting] = value
    _save(path, doc)
    return value


def config_unset(key: str) -> bool:
    """Remove ``key``; whether it was set. Tables it leaves empty go too."""
    section, name, setting = _split_key(key)
    path = config_path()
    doc = _load_document(path)
    if _get(doc, key) is None:
        return False
    if not section:
        del doc[setting]
    elif section == "registries":
        hosts = doc["registries"]
        del hosts[name][setting]
        if not hosts[name]:
            del hosts[name]
        if not hosts:
            del doc["registries"]
    else:
        rule = _find_rule(doc, name)
        if setting in ("mirrors", "pull-from-mirror"):
            if setting == "mirrors":
                del rule["mirror"]
            else:
                for entry in rule["mirror"]:
                    entry.pop("pull-from-mirror", None)
        else:
            del rule[setting]
        if set(rule.keys()) <= {"prefix"}:
            tables = doc["registry"]
            for i, table in enumerate(tables):
                if table is rule or str(table.get("prefix", "")).rstrip("/") == name:
                    del tables[i]
                    break
            if not tables:
                del doc["registry"]
    _save(path, doc)
    return True


def _save(path: Path, doc: Any) -> None:
    """Check that the edited file still loads (settings, rules), then write it atomically."""
    import tomllib

    import tomlkit

    from ._fs import atomic_write

    text = tomlkit.dumps(doc)
    data = tomllib.loads(text)
    from .registries import parse_rules

    parse_rules({"registry": data.get("registry") or []}, str(path))
    for host in data.get("registries") or {}:
        registry_settings(host, data)
    allowed_link_dirs(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text)
