"""Login commands: login, logout (credentials where Docker and Podman keep them)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import CONTEXT, App, cli, pass_app

authfile_option = click.option(
    "--authfile",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Podman's auth file to use instead of Docker's config (default: $REGISTRY_AUTH_FILE).",
)


def _host(registry: str) -> str:
    from ..errors import UsageError
    from ..reference import clean_host

    text = registry.strip().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not text or "/" in text or "@" in text:
        raise UsageError(f"{registry!r} is not a registry host (e.g. ghcr.io, 127.0.0.1:5000)")
    return clean_host(text)


@cli.command(context_settings=CONTEXT)
@click.argument("registry")
@click.option("-u", "--username", help="User name (asked for on a terminal when missing).")
@click.option("--password-stdin", is_flag=True, help="Read the password (or token) from stdin.")
@click.option(
    "--password",
    "password_arg",
    help="The password on the command line: visible to other users; prefer --password-stdin.",
)
@authfile_option
@pass_app
def login(
    app: App,
    registry: str,
    username: str | None,
    password_stdin: bool,
    password_arg: str | None,
    authfile: Path | None,
) -> None:
    """Log in to a registry: check the credentials, then save them for Docker and Podman.

    The registry's own challenge decides how (Basic, or a Bearer token from its token
    server); nothing is saved when it refuses them. Saved through the credential helper
    Docker's config names for the host (credHelpers, else credsStore), else in auths
    of $DOCKER_CONFIG/config.json (mode 0600, every other key kept); with --authfile
    (or $REGISTRY_AUTH_FILE) in that Podman auth file. The password is never printed.

    \b
    Examples:
      echo "$TOKEN" | skillcrate login ghcr.io -u octocat --password-stdin
      skillcrate login registry.internal:5000 -u alice        # asks for the password
      skillcrate login 127.0.0.1:5000 -u ci --password-stdin --authfile ./auth.json
    """
    from ..errors import UsageError
    from ..oci.credentials import Credential, store

    host = _host(registry)
    if password_stdin and password_arg is not None:
        raise UsageError("--password and --password-stdin are mutually exclusive")
    interactive = sys.stdin.isatty() and not password_stdin
    if not username:
        if not interactive:
            raise UsageError("give the user name with -u/--username")
        username = click.prompt("Username", err=True)
    if password_stdin:
        secret = sys.stdin.read().rstrip("\r\n")
    elif password_arg is not None:
        app.info(
            "warning: a password on the command line is visible to other users; "
            "use --password-stdin"
        )
        secret = password_arg
    elif interactive:
        secret = click.prompt("Password", hide_input=True, err=True)
    else:
        raise UsageError("no password: pipe it in with --password-stdin")
    if not secret:
        raise UsageError("the password is empty")
    app.client.check_login(host, Credential(username, secret, source="the login"))
    where = store(host, username, secret, authfile=authfile)
    app.out(f"logged in to {host} as {username} (saved in {where})")


@cli.command(context_settings=CONTEXT)
@click.argument("registry")
@authfile_option
@pass_app
def logout(app: App, registry: str, authfile: Path | None) -> None:
    """Remove a registry's saved login (credential helper, Docker's or Podman's file).

    \b
    Examples:
      skillcrate logout ghcr.io
      skillcrate logout 127.0.0.1:5000 --authfile ./auth.json
    """
    from ..oci.credentials import erase

    host = _host(registry)
    removed = erase(host, authfile=authfile)
    if removed:
        app.out(f"logged out of {host} (removed from {', '.join(removed)})")
    else:
        app.info(f"not logged in to {host}")
