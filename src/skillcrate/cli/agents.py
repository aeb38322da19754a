"""Agent commands: register, unregister, doctor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..agents.specs import AGENTS
from . import CONTEXT, App, cli, pass_app
from .options import AGENT_CHOICES, _project, json_option

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..agents.hookfiles import RegisterResult


def _print_register(app: App, results: Sequence[RegisterResult], as_json: bool) -> None:
    if as_json:
        app.json(
            [
                {
                    "agent": r.agent,
                    "changes": [{"path": str(c.path), "action": c.action} for c in r.changes],
                    "notices": list(r.notices),
                    "warnings": list(r.warnings),
                }
                for r in results
            ]
        )
        return
    for r in results:
        for c in r.changes:
            try:
                shown = Path(c.path).relative_to(app.project)
            except ValueError:
                shown = c.path
            app.out(f"{r.agent}: {c.action} {shown}")
        for n in r.notices:
            app.info(f"{r.agent}: note: {n}")
    for w in dict.fromkeys(w for r in results for w in r.warnings):
        app.err(f"warning: {w}")


@cli.command(context_settings=CONTEXT)
@click.option(
    "--agent",
    "agent_names",
    multiple=True,
    type=AGENT_CHOICES,
    help="Agent to register (repeatable; default: `agents` in config.toml, else agents whose "
    "folder exists, else claude).",
)
@click.option(
    "--command",
    "launcher",
    default="skillcrate",
    show_default=True,
    help="Launcher for the hook, e.g. 'uvx skillcrate' or '.venv/bin/skillcrate'.",
)
@click.option(
    "--install",
    "install",
    metavar="COMMAND",
    help="How Copilot's setup steps install skillcrate "
    "(default: pip install skillcrate==<this version>).",
)
@json_option
@pass_app
def register(
    app: App, agent_names: tuple[str, ...], launcher: str, install: str | None, as_json: bool
) -> None:
    """Add a session-start hook so every agent session starts with `skillcrate install`.

    Merges into existing hook files (other hooks and keys are kept, our entry is
    never duplicated). Hook files are meant to be committed.

    \b
    Examples:
      skillcrate register                     # agents found in the project, else Claude Code
      skillcrate register --agent all
      skillcrate register --agent cursor --command 'uvx skillcrate'
      skillcrate register --agent copilot --install 'pip install ./tools/skillcrate.whl'
      skillcrate register -g                  # user-level hooks: ~/.claude/settings.json, ...
    """
    from ..agents.hookfiles import default_agents, default_user_agents, resolve_agents
    from ..agents.hookfiles import register as run

    if app.global_:  # user-level hooks: the agents whose ~/.<agent> folder exists
        names = (
            resolve_agents(list(agent_names)) if agent_names else default_user_agents(app.project)
        )
        _print_register(app, run(app.project, names, launcher, install=install, user=True), as_json)
        return
    if agent_names:
        names = resolve_agents(list(agent_names))
    else:
        from ..config import load_config

        configured = load_config().get("agents")  # `skillcrate config set agents a,b`
        if configured is not None and not (
            isinstance(configured, list) and all(isinstance(a, str) for a in configured)
        ):
            from ..config import config_path
            from ..errors import SkillcrateError

            raise SkillcrateError(f"{config_path()}: agents must be a list of agent names")
        names = resolve_agents(configured) if configured else default_agents(app.project)
    _print_register(app, run(app.project, names, launcher, install=install), as_json)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--agent",
    "agent_names",
    multiple=True,
    type=AGENT_CHOICES,
    help="Agent to unregister (repeatable; default: all).",
)
@json_option
@pass_app
def unregister(app: App, agent_names: tuple[str, ...], as_json: bool) -> None:
    """Remove skillcrate's session-start hooks, leaving every other hook as it was.

    \b
    Examples:
      skillcrate unregister
      skillcrate unregister --agent cursor
      skillcrate unregister -g                # the user-level hooks
    """
    from ..agents.hookfiles import resolve_agents
    from ..agents.hookfiles import unregister as run

    names = resolve_agents(list(agent_names)) if agent_names else list(AGENTS)
    _print_register(app, run(app.project, names, user=app.global_), as_json)


@cli.command(context_settings=CONTEXT)
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the project, installed skills, agent hooks and registries; explain fixes.

    Exit 1 when something needs fixing. Credentials are never printed.

    \b
    Examples:
      skillcrate doctor
      skillcrate doctor --json
      skillcrate doctor -g               # the user's own skills and user-level hooks
    """
    from ..doctor import diagnose

    checks = diagnose(_project(app))
    if as_json:
        app.json([c.to_json() for c in checks])
    else:
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for c in checks:
            app.out(f"[{marks[c.status]}] {c.area}: {c.subject}: {c.detail}")
            if c.fix and c.status != "ok":
                app.out(f"       fix: {c.fix}")
    if any(c.status == "fail" for c in checks):
        sys.exit(1)
