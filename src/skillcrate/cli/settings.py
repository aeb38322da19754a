"""``skillcrate config list|get|set|unset``: edit config.toml as ``npm config`` does."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import CONTEXT, App, cli, pass_app
from .options import json_option


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@cli.group(context_settings=CONTEXT)
def config() -> None:
    """Read and change skillcrate's config.toml (comments and layout are kept).

    \b
    Keys:
      allow_link_dirs                     link folders allowed in every project (a,b)
      agents                              agents `register` hooks by default (claude,codex)
      registries.<host>.plain_http        true: HTTP, not HTTPS ("*" for every host)
      registries.<host>.insecure          true: do not verify the TLS certificate
      registries.<host>.ca_bundle         CA bundle file for that host
      registries.<host>.connect_timeout   seconds to connect (default 2.5)
      registries.<host>.read_timeout      seconds to wait for an answer (default 30)
      registry.<prefix>.location          where the registry for <prefix> really is
      registry.<prefix>.mirrors           mirrors to try first (a,b)
      registry.<prefix>.pull-from-mirror  all, digest-only or tag-only
      registry.<prefix>.blocked           true: refuse references under <prefix>
      registry.<prefix>.insecure          true: do not verify <prefix>'s TLS certificate

    \b
    Examples:
      skillcrate config set registries.registry.internal:5000.plain_http true
      skillcrate config set registry.ghcr.io.mirrors cache.internal:5000/ghcr
      skillcrate config get registries.*.read_timeout
      skillcrate config list --json
      skillcrate config unset agents
    """


@config.command("list", context_settings=CONTEXT)
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """Every key that is set, as `key = value`.

    \b
    Examples:
      skillcrate config list
      skillcrate config list --json
    """
    from ..config import config_list, config_path

    values = config_list()
    if as_json:
        app.json(values)
        return
    if not values:
        app.info(f"nothing set in {config_path()}")
    for key, value in values.items():
        app.out(f"{key} = {_shown(value)}")


@config.command(context_settings=CONTEXT)
@click.argument("key")
@json_option
@pass_app
def get(app: App, key: str, as_json: bool) -> None:
    """Print one key's value (exit 1 when it is not set).

    \b
    Examples:
      skillcrate config get agents
      skillcrate config get registries.ghcr.io.ca_bundle
    """
    from ..config import config_get

    value = config_get(key)
    if as_json:
        app.json(value)
    elif value is not None:
        app.out(_shown(value))
    if value is None:
        app.info(f"{key} is not set")
        sys.exit(1)


@config.command("set", context_settings=CONTEXT)
@click.argument("key")
@click.argument("value")
@pass_app
def set_(app: App, key: str, value: str) -> None:
    """Set a key (lists are comma-separated; booleans true/false).

    \b
    Examples:
      skillcrate config set agents claude,codex
      skillcrate config set registries.*.connect_timeout 5
      skillcrate config set registry.ghcr.io/acme.mirrors mirror.internal/acme
      skillcrate config set registry.ghcr.io/acme.pull-from-mirror digest-only
    """
    from ..config import config_path, config_set

    if key == "agents":
        from ..agents.hookfiles import resolve_agents

        resolve_agents([name.strip() for name in value.split(",") if name.strip()])
    written = config_set(key, value)
    app.info(f"{key} = {_shown(written)} ({config_path()})")


@config.command(context_settings=CONTEXT)
@click.argument("key")
@pass_app
def unset(app: App, key: str) -> None:
    """Remove a key (tables it leaves empty go too).

    \b
    Examples:
      skillcrate config unset registries.ghcr.io.insecure
      skillcrate config unset registry.ghcr.io.mirrors
    """
    from ..config import config_unset

    if not config_unset(key):
        app.info(f"{key} was not set")
