"""The ``cache`` group: dir, list, verify, clean, prune."""

from __future__ import annotations

import sys

import click

from . import CONTEXT, App, cli, pass_app
from .options import _project, json_option


@cli.group(context_settings=CONTEXT)
def cache() -> None:
    """Inspect and maintain the content-addressed cache.

    \b
    Examples:
      skillcrate cache dir
      skillcrate cache verify --remove
      skillcrate cache prune        # keep what this project's lock pins
    """


@cache.command("dir", context_settings=CONTEXT)
@pass_app
def cache_dir(app: App) -> None:
    """Print the cache folder (SKILLCRATE_CACHE_DIR overrides it).

    \b
    Example:
      skillcrate cache dir
    """
    app.out(str(app.cache().root))


@cache.command("list", context_settings=CONTEXT)
@json_option
@pass_app
def cache_list(app: App, as_json: bool) -> None:
    """List cached blobs, manifests and unpacked trees.

    \b
    Example:
      skillcrate cache list --json
    """
    entries = app.cache().entries()
    if as_json:
        app.json([{"kind": e.kind, "digest": e.digest, "size": e.size} for e in entries])
        return
    for e in entries:
        app.out(f"{e.kind:9} {e.digest} {e.size:>10}")
    app.info(f"{len(entries)} entries")


@cache.command("verify", context_settings=CONTEXT)
@click.option("--remove", is_flag=True, help="Delete corrupt entries.")
@pass_app
def cache_verify(app: App, remove: bool) -> None:
    """Re-hash every cached blob and manifest; exit 1 on corruption.

    \b
    Example:
      skillcrate cache verify --remove
    """
    problems = app.cache().verify(remove=remove)
    for p in problems:
        app.out(p.message + (" (removed)" if p.removed else ""))  # names kind and digest
    if not problems:
        app.info("cache is intact")
    if problems and not remove:
        sys.exit(1)


@cache.command("clean", context_settings=CONTEXT)
@pass_app
def cache_clean(app: App) -> None:
    """Remove everything from the cache.

    \b
    Example:
      skillcrate cache clean
    """
    freed = app.cache().clean()
    app.out(f"freed {freed} bytes")


@cache.command("prune", context_settings=CONTEXT)
@pass_app
def cache_prune(app: App) -> None:
    """Remove cache entries that no live project's lock pins.

    Live projects are this one and every project skillcrate installed into that
    still exists (like pnpm's store), so `install --offline` keeps working there.

    \b
    Example:
      skillcrate cache prune
    """
    from ..ops import cache_keep_set, live_projects

    c = app.cache()
    project = _project(app)
    roots = live_projects(project)
    freed = c.prune(cache_keep_set(project, c, roots))
    app.info(f"kept what the locks of {len(roots)} project(s) pin")
    app.out(f"freed {freed} bytes")
