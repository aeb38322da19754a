"""Mirrors, rewrites and blocked registries: ``containers-registries.conf(5)`` v2.

The files container users already have decide where a reference is fetched from, read
in the order podman and skopeo read them:

1. ``$SKILLCRATE_REGISTRIES_CONF`` alone, when set (tests, or a file of one's own);
2. else the user's ``$XDG_CONFIG_HOME/containers/registries.conf`` (default
   ``~/.config/containers/``) *instead of* ``/etc/containers/registries.conf``, then the
   drop-ins: ``/etc/containers/registries.conf.d/*.conf`` (only when the system file was
   the main one) and the user's ``registries.conf.d/*.conf``, each folder in
   alphanumeric order;
3. then ``[[registry]]`` tables in skillcrate's own ``config.toml`` (same keys), for
   users without containers tooling.

A later ``[[registry]]`` with the same ``prefix`` replaces an earlier one; others add.
Keys read: ``prefix``, ``location``, ``insecure``, ``blocked`` and ``[[registry.mirror]]``
with ``location``, ``insecure``, ``pull-from-mirror`` (``all``, ``digest-only``,
``tag-only``). Other keys (``unqualified-search-registries``, ``short-name-mode``,
aliases) do not apply to skillcrate, which only takes fully qualified references, and
are ignored.

Matching (pure functions): the rule whose ``prefix`` is the longest that equals the
reference's ``host/repository`` or ends at a ``/`` of it wins; ``*.example.com`` matches
every host under ``example.com``. The matched prefix is replaced by ``location`` (the
primary) and by each mirror's ``location``; mirrors are tried in order, then the
primary. ``digest-only`` mirrors serve only what is asked for by digest (manifests by
digest, blobs, referrers, and the digest-derived ``sha256-<hex>[.sig|.att|.sbom]``
tags), ``tag-only`` ones only what is asked for by tag. ``insecure = true`` skips TLS
verification and allows plain HTTP when the endpoint answers it (podman's reading). A
skillcrate extension: a ``location`` that starts with ``oci:`` names OCI image layouts
(``oci:/mnt/skills/ghcr.io/acme`` holds one layout per repository below it), what
``skillcrate mirror oci:DIR`` writes. Everything skillcrate records (the lock, trust
rules, signatures' subjects) keeps the canonical reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SkillcrateError
from .fastpath import xdg_home

PULL_MODES = ("all", "digest-only", "tag-only")

__all__ = [
    "PULL_MODES",
    "Endpoint",
    "Mirror",
    "Rule",
    "config_files",
    "endpoints",
    "load_rules",
    "match",
    "parse_rules",
]


@dataclass(frozen=True)
class Mirror:
    """One ``[[registry.mirror]]`` of registries.conf."""

    location: str
    insecure: bool = False
    pull_from_mirror: str = "all"


@dataclass(frozen=True)
class Rule:
    """One ``[[registry]]`` table (``location`` defaults to the prefix)."""

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Mirror, ...] = ()
    source: str = ""  # the file it came from, for messages and doctor


@dataclass(frozen=True)
class Endpoint:
    """Where to try a repository: ``name`` is ``host/repository`` or ``oci:PATH``."""

    name: str
    insecure: bool
    mirror: bool  # a mirror (read-only), not the primary location
    pull_from_mirror: str = "all"

    @property
    def layout(self) -> bool:
        return self.name.startswith("oci:")

    def serves(self, by_digest: bool) -> bool:
        """Whether this endpoint may answer a request made by digest (or by tag)."""
        if not self.mirror or self.pull_from_mirror == "all":
            return True
        return by_digest == (self.pull_from_mirror == "digest-only")


# ------------------------------------------------------------------------------ reading


def config_files(env: dict[str, str] | None = None) -> list[Path]:
    """The registries.conf files that apply, in the order they are read."""
    env = dict(os.environ) if env is None else env
    own = env.get("SKILLCRATE_REGISTRIES_CONF")
    if own:
        return [Path(own)]
    user_dir = Path(xdg_home("XDG_CONFIG_HOME", ".config", env)) / "containers"
    system_dir = Path("/etc/containers")
    user_main = user_dir / "registries.conf"
    files: list[Path] = []
    if user_main.is_file():
        files.append(user_main)
        dropin_dirs = [user_dir / "registries.conf.d"]
    else:
        if (system_dir / "registries.conf").is_file():
            files.append(system_dir / "registries.conf")
        dropin_dirs = [system_dir / "registries.conf.d", user_dir / "registries.conf.d"]
    for folder in dropin_dirs:
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".conf"))
        except OSError:
            continue
        files += [folder / n for n in names if (folder / n).is_file()]
    return files


def load_rules(
    config: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> list[Rule]:
    """Every rule from the registries.conf files, then from ``config.toml``'s ``registry``."""
    from .config import load_toml

    merged: dict[str, Rule] = {}
    for path in config_files(env):
        data = load_toml(path, "registries configuration")
        if data is None:
            continue
        for rule in parse_rules(data, str(path)):
            merged[rule.prefix] = rule
    if config is None:
        from .config import load_config

        config = load_config()
    if config.get("registry") is not None:
        from .config import config_dir

        for rule in parse_rules(
            {"registry": config["registry"]}, str(config_dir() / "config.toml")
        ):
            merged[rule.prefix] = rule
    return list(merged.values())


def parse_rules(data: dict[str, Any], source: str) -> list[Rule]:
    """The ``[[registry]]`` tables of one parsed file; SkillcrateError naming ``source``."""
    tables = data.get("registry") or []
    if not isinstance(tables, list):
        raise SkillcrateError(f"{source}: [[registry]] must be an array of tables")
    return [_rule(t, source, i) for i, t in enumerate(tables)]


def _rule(table: object, source: str, index: int) -> Rule:
    where = f"{source}: registry[{index}]"
    if not isinstance(table, dict):
        raise SkillcrateError(f"{where} must be a table")
    prefix = _text(table, "prefix", where) or _text(table, "location", where)
    if not prefix:
        raise SkillcrateError(f"{where} needs a prefix or a location")
    prefix = prefix.rstrip("/")
    location = (_text(table, "location", where) or prefix).rstrip("/")
    if prefix.startswith("*.") and location != prefix:
        raise SkillcrateError(f"{where}: a wildcard prefix ({prefix}) cannot have a location")
    mirrors = table.get("mirror") or []
    if not isinstance(mirrors, list):
        raise SkillcrateError(f"{where}: mirror must be an array of tables")
    return Rule(
        prefix=prefix,
        location=location,
        insecure=_flag(table, "insecure", where),
        blocked=_flag(table, "blocked", where),
        mirrors=tuple(_mirror(m, f"{where}.mirror[{j}]") for j, m in enumerate(mirrors)),
        source=source,
    )


def _mirror(table: object, where: str) -> Mirror:
    if not isinstance(table, dict):
        raise SkillcrateError(f"{where} must be a table")
    location = _text(table, "location", where)
    if not location:
        raise SkillcrateError(f"{where} needs a location")
    mode = table.get("pull-from-mirror", "all") or "all"
    if mode not in PULL_MODES:
        raise SkillcrateError(f"{where}: pull-from-mirror must be one of {', '.join(PULL_MODES)}")
    return Mirror(location.rstrip("/"), _flag(table, "insecure", where), mode)


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise SkillcrateError(f"{where}: {key} must be a string")
    return value.strip()


def _flag(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise SkillcrateError(f"{where}: {key} must be true or false")
    return value


# ----------------------------------------------------------------------------- matching


def _matches(prefix: str, name: str) -> str | None:
    """The part of ``name`` (``host/repository``) that ``prefix`` matched, or None."""
    if prefix.startswith("*."):
        host = name.split("/", 1)[0]
        bare = host.rsplit(":", 1)[0] if not host.startswith("[") else host
        return host if bare.endswith(prefix[1:]) else None
    if name == prefix or name.startswith(prefix + "/"):
        return prefix
    return None


def match(rules: list[Rule], name: str) -> tuple[Rule, str] | None:
    """The rule for ``name`` (``host/repository``) and the prefix it matched: the longest."""
    best: tuple[Rule, str] | None = None
    for rule in rules:
        matched = _matches(rule.prefix, name)
        if matched is None:
            continue
        if best is None or len(rule.prefix) > len(best[0].prefix):
            best = (rule, matched)
    return best


def endpoints(rules: list[Rule], name: str) -> tuple[Rule | None, list[Endpoint]]:
    """Where to fetch ``name`` from: the mirrors in order, then the primary location."""
    found = match(rules, name)
    if found is None:
        return None, [Endpoint(name, insecure=False, mirror=False)]
    rule, matched = found
    rest = name[len(matched) :]
    location = matched if rule.prefix.startswith("*.") else rule.location
    out = [Endpoint(m.location + rest, m.insecure, True, m.pull_from_mirror) for m in rule.mirrors]
    out.append(Endpoint(location + rest, rule.insecure, mirror=False))
    return rule, out
