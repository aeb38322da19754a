"""The ``skillcrate`` command line: parse, call the library, print. Nothing else.

Exit codes: 0 success; 1 failure (any skillcrate error, drift, outdated skills);
2 usage error (bad flags or arguments); 130 interrupted. Library modules are imported inside the
commands so that ``skillcrate install`` on an unchanged project stays cheap.

The root group, ``App`` and the entry point live here; the commands live in one
module per group (``publish``, ``project``, ``signing``, ``cache``, ``agents``, ``auth``,
``settings``), each imported when one of its commands runs (``COMMAND_MODULES``), and
registering its commands on ``cli`` as it is imported; ``options`` holds the
options and helpers they share; ``progress`` draws transfer progress on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .. import __version__
from ..errors import SkillcrateError

if TYPE_CHECKING:
    from ..cache import Cache
    from ..oci import Client, ClientOptions, Target
    from ..reference import Reference
    from .progress import TerminalMeter

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    """The global options of one invocation and what commands share: output, client, cache."""

    project_opt: Path | None = None
    quiet: bool = False
    verbose: int = 0
    plain_http: bool | None = None
    insecure: bool = False
    timeout: float | None = None
    global_: bool = False  # -g: the user's own skills (home folder), not a project's
    _project: Path | None = field(default=None, repr=False)

    def client_options(self, base_dir: Path | None = None) -> ClientOptions:
        from ..oci import ClientOptions

        return ClientOptions(
            plain_http=self.plain_http,
            insecure=self.insecure,
            base_dir=base_dir or Path.cwd(),
            timeout=self.timeout,
            meter=self.meter,
        )

    @cached_property
    def meter(self) -> TerminalMeter | None:
        """Download progress on stderr when it is a terminal (not with -q)."""
        if self.quiet or not sys.stderr.isatty():
            return None
        from .progress import TerminalMeter

        return TerminalMeter(sys.stderr)

    def _clear_meter(self) -> None:
        meter = self.__dict__.get("meter")
        if meter is not None:
            meter.clear()

    @cached_property
    def client(self) -> Client:  # oci.Client, imported when a command needs it
        """This command's registry client (transports shared by its targets)."""
        from ..oci import Client

        return Client(self.client_options())

    def target(self, ref: Reference, base_dir: Path | None = None) -> Target:
        return self.client.open(ref, base_dir or Path.cwd())

    def cache(self) -> Cache:
        from ..cache import Cache

        return Cache()

    @property
    def project(self) -> Path:
        """The project folder; with -g the home folder (where agents read user skills)."""
        if self._project is None:
            if self.global_:
                self._project = Path.home()
            else:
                from ..project.files import find_project

                self._project = find_project(self.project_opt)
        return self._project

    @property
    def files_dir(self) -> Path | None:
        """With -g: the folder of the user-level skills.json and lock; else None."""
        if not self.global_:
            return None
        from ..config import global_dir

        return global_dir()

    # output: everything passes through text.inert (registry and project text is hostile)
    def out(self, text: str = "") -> None:
        from ..text import inert

        self._clear_meter()
        click.echo(inert(text))

    def err(self, text: str) -> None:
        """A failure line on stderr (shown even with -q)."""
        from ..text import inert

        click.echo(inert(text), err=True)

    def info(self, text: str) -> None:
        """Human progress and notes: stderr, hidden by -q."""
        if not self.quiet:
            from ..text import inert

            self._clear_meter()
            click.echo(inert(text), err=True)

    def progress(self, text: str) -> None:
        """Progress on long work: stderr, only when it is a terminal."""
        if not self.quiet and sys.stderr.isatty():
            from ..text import inert

            self._clear_meter()
            click.echo(inert(text), err=True)

    def json(self, data: Any) -> None:
        from ..text import json_inert

        click.echo(json_inert(json.dumps(data, indent=2, ensure_ascii=False)))


pass_app = click.make_pass_decorator(App)


# Which module registers each command (on ``cli``, as it is imported). A command's module
# is imported when the command runs, so ``install`` does not load publishing or signing;
# ``--help`` loads them all. tests/test_cli_exits.py checks this table.
COMMAND_MODULES = {
    **dict.fromkeys(("register", "unregister", "doctor"), "agents"),
    **dict.fromkeys(("login", "logout"), "auth"),
    "cache": "cache",
    **dict.fromkeys(
        ("init", "add", "remove", "install", "update", "outdated", "list", "why", "verify"),
        "project",
    ),
    "mirror": "project",
    **dict.fromkeys(
        (
            "validate",
            "pack",
            "push",
            "pull",
            "inspect",
            "versions",
            "promote",
            "collection",
            "attach",
            "discover",
        ),
        "publish",
    ),
    "config": "settings",
    **dict.fromkeys(("keygen", "sign", "attest"), "signing"),
}


class _LazyGroup(click.Group):
    """The root group: a command's module is imported when the command is looked up."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            import importlib

            importlib.import_module(f"{__name__}.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_all_commands()
        return super().list_commands(ctx)


def load_all_commands() -> None:
    """Import every command module (for ``--help`` and for tests)."""
    import importlib

    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"{__name__}.{module}")


@click.group(cls=_LazyGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="skillcrate")
@click.option(
    "-C",
    "--project",
    "project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder (default: nearest ancestor with skills.json, else git root, else cwd).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", count=True, help="More detail; -vv logs HTTP requests.")
@click.option(
    "--plain-http",
    is_flag=True,
    default=None,
    help="Talk plain HTTP to registries (loopback registries do by default).",
)
@click.option("--insecure", is_flag=True, help="HTTPS without certificate verification.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Wait this long for a registry's answer (default 30; also SKILLCRATE_READ_TIMEOUT, "
    "read_timeout in config.toml).",
)
@click.option(
    "-g",
    "--global",
    "global_",
    is_flag=True,
    help="The user's own skills (~/.agents/skills, linked for each agent) instead of a "
    "project's; their skills.json and lock live in skillcrate's config folder.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    project: Path | None,
    quiet: bool,
    verbose: int,
    plain_http: bool | None,
    insecure: bool,
    timeout: float | None,
    global_: bool,
) -> None:
    """skillcrate: share agent skills through OCI registries, like npm.

    \b
    Project:   init, add, remove, install, update, outdated, list, why, verify, mirror
    Agents:    register, unregister, doctor
    Publish:   validate, pack, push, pull, inspect, versions, promote, collection push
    Sign:      keygen, sign, attest, attach, discover
    Cache:     cache dir|list|verify|clean|prune
    Registry:  login, logout, config list|get|set|unset

    \b
    -g/--global: the user's own skills, in every project (add -g, install -g, ...).

    \b
    Exit codes: 0 ok, 1 failure, 2 usage error, 130 interrupted.
    References: ghcr.io/acme/skills/review:1.2.3, 127.0.0.1:5000/x@sha256:…,
    or oci:PATH[:tag] for an OCI image layout folder (no server needed).
    """
    if verbose >= 2:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")
    elif verbose:
        _show_mirror_log()
    elif "logging" in sys.modules:  # an earlier in-process run asked for -v
        sys.modules["logging"].getLogger("skillcrate.oci.mirrored").setLevel("WARNING")
    if global_ and project is not None:
        raise click.UsageError("-g/--global and -C/--project are two different places: give one")
    if global_ and ctx.invoked_subcommand not in GLOBAL_COMMANDS:
        raise click.UsageError(
            f"-g/--global applies to {', '.join(GLOBAL_COMMANDS)}, not to {ctx.invoked_subcommand}"
        )
    ctx.obj = App(
        project_opt=project,
        quiet=quiet,
        verbose=verbose,
        plain_http=True if plain_http else None,
        insecure=insecure,
        timeout=timeout,
        global_=global_,
    )


GLOBAL_COMMANDS = (
    "init",
    "add",
    "remove",
    "install",
    "update",
    "outdated",
    "list",
    "why",
    "verify",
    "register",
    "unregister",
    "doctor",
)


def _show_mirror_log() -> None:
    """``-v``: which host served what when mirrors are configured (to the current stderr)."""
    import logging

    class ToStderr(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            from ..text import one_line

            sys.stderr.write(one_line(record.getMessage()) + "\n")

    logger = logging.getLogger("skillcrate.oci.mirrored")
    if not any(type(h).__name__ == "ToStderr" for h in logger.handlers):
        logger.addHandler(ToStderr())
    logger.setLevel(logging.INFO)


def _render_error(exc: SkillcrateError, verbose: int) -> None:
    from ..text import inert

    click.echo(f"error: {inert(exc.message)}", err=True)
    if verbose:
        cause = exc.__cause__
        while cause is not None:
            click.echo(f"  caused by: {inert(str(cause))}", err=True)
            cause = cause.__cause__
    for hint in exc.hints():
        click.echo(f"hint: {inert(hint)}", err=True)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and map errors to exit codes in one place."""
    args = sys.argv[1:] if argv is None else argv
    verbose = sum(
        a.count("v") if a != "--verbose" else 1
        for a in args
        if a == "--verbose" or (a.startswith("-") and set(a[1:]) == {"v"})
    )
    try:
        cli.main(args=args, prog_name="skillcrate", standalone_mode=False)
    except SkillcrateError as exc:
        _render_error(exc, verbose)
        if "--json" in args:  # a script reading stdout gets the failure as data too
            from ..text import json_inert

            error = {"message": exc.message, "hints": list(exc.hints()), "exitCode": exc.exit_code}
            click.echo(json_inert(json.dumps({"error": error}, indent=2, ensure_ascii=False)))
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else 1)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C (and end of input at a prompt) into Abort: keep Ctrl-C's 130
        if isinstance(exc.__context__, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        os._exit(1)
    except OSError as exc:  # read-only project, full disk: name the path and the cause
        from ..text import inert

        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {inert(where)}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # an internal error: still one line, -v for the traceback
        if verbose:
            raise
        click.echo(f"error: internal error: {exc.__class__.__name__}: {exc}", err=True)
        click.echo("hint: run again with -v for a traceback, and report it", err=True)
        sys.exit(1)
    sys.exit(0)
