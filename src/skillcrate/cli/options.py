"""Options and small helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..agents.specs import AGENTS
from ..names import WRITE_FORMATS

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from ..project.context import Project
    from ..reference import Reference
    from . import App

    F = TypeVar("F", bound=Callable[..., Any])


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(WRITE_FORMATS),
        default="agentskills",
        show_default=True,
        help="Artifact format to write.",
    )(f)


def parse_ref(text: str, *, default_tag: str | None = None) -> Reference:
    """Parse a reference; give it ``default_tag`` when it names neither tag nor digest."""
    from ..reference import Reference

    ref = Reference.parse(text)
    return ref.with_tag(default_tag) if default_tag and not ref.reference else ref


def _manifest_ref(ref: Reference) -> str:
    """The tag or digest of a ``parse_ref(..., default_tag="latest")`` result (always set)."""
    return ref.reference or "latest"


PRE_HELP = "Let ranges pick prereleases and draft/testing versions."


def _project(
    app: App,
    *,
    offline: bool = False,
    pre: bool = False,
    link_dirs: tuple[str, ...] = (),
    allow_external: bool = False,
) -> Project:
    from ..project.context import Project

    return Project(
        root=app.project,
        files_dir=app.files_dir,
        cache=app.cache(),
        options=app.client_options(app.files_dir or app.project),
        offline=offline,
        report=app.progress,
        pre=pre,
        allow_link_dirs=link_dirs,
        allow_external=allow_external,
    )


def link_dir_option(f: F) -> F:
    return click.option(
        "--allow-link-dir",
        "link_dirs",
        multiple=True,
        metavar="DIR",
        help="Also allow this link folder from skills.json (repeatable; by default only "
        ".<agent>/skills folders are). allow_link_dirs in config.toml makes it permanent.",
    )(f)


private_key_option = click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Private key (cosign.key, or a PKCS#8 PEM).",
)


AGENT_CHOICES = click.Choice([*AGENTS, "all"])


def skill_name_option(help_text: str) -> Callable[[F], F]:
    """``--name`` holding a skill name: a bad one is a usage error (exit 2), said at once."""

    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        from ..names import name_problem

        problem = name_problem(value) if value is not None else None
        if problem:
            raise click.BadParameter(problem)
        return value

    def decorate(f: F) -> F:
        return click.option("--name", callback=check, help=help_text)(f)

    return decorate
