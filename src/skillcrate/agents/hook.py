"""``skillcrate install --hook AGENT``: the session-start hook.

Writes exactly one JSON document for the agent on stdout, logs on stderr, and
always exits 0: a failure (registry down, drift, malformed file) becomes a short
message in the agent's JSON instead of blocking the session. The no-op path
(nothing changed since the last install) imports no registry, YAML or HTTP code.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any


def _emit(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def run_hook(agent: str, app: Any) -> int:
    """Run install for ``agent``'s session start; return the exit code (always 0)."""
    from .hookfiles import render_hook_output

    try:
        _run(agent, app)
    except Exception as exc:  # noqa: BLE001 - never block a session on an internal error
        print(f"skillcrate: internal error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        _emit(
            render_hook_output(
                agent, installed=[], error=f"internal error ({exc.__class__.__name__})"
            )
        )
    return 0


def _run(agent: str, app: Any) -> None:
    from ..fastpath import is_up_to_date
    from ..project.files import MANIFEST_NAME, find_project
    from .hookfiles import render_hook_output
    from .specs import (
        hook_project_dir,
        parse_hook_stdin,
        read_hook_stdin,
        under_cursor,
        working_dir,
    )

    stdin = parse_hook_stdin(read_hook_stdin())
    as_claude_in_cursor = agent == "claude" and under_cursor(os.environ, stdin)
    if as_claude_in_cursor:
        agent = "cursor"  # Cursor runs Claude Code's hooks too: answer in Cursor's format
    files = app.files_dir  # -g: the user-level skills.json and lock
    if files is not None:
        root = app.project  # the home folder, whatever folder the session is in
    elif app.project_opt is not None:
        root = Path(app.project_opt).absolute()
    else:
        start = hook_project_dir(agent, os.environ, stdin, working_dir())
        root = find_project(None, start=start)
    if not ((files or root) / MANIFEST_NAME).is_file() or is_up_to_date(root, files):
        _emit(render_hook_output(agent, installed=[]))
        return
    if as_claude_in_cursor and _cursor_hook_registered(root):
        _emit(render_hook_output(agent, installed=[]))  # Cursor's own hook installs: once
        return
    from ..errors import SkillcrateError
    from ..ops import install
    from ..project.context import Project

    project = Project(
        root=root,
        files_dir=files,
        cache=app.cache(),
        options=app.client_options(files or root),
        report=lambda m: print(f"skillcrate: {m}", file=sys.stderr),
    )
    try:
        # stdout belongs to the agent's JSON: anything else printed goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            result = install(project, keep_going=True)
    except SkillcrateError as exc:
        from ..text import inert

        print(f"skillcrate: error: {inert(exc.message)}", file=sys.stderr)
        _emit(render_hook_output(agent, installed=[], error=exc.message.splitlines()[0]))
        return
    from ..text import inert

    for w in result.warnings:
        print(f"skillcrate: warning: {inert(w)}", file=sys.stderr)
    for name, why in result.failed.items():
        print(f"skillcrate: error: {name}: {inert(why)}", file=sys.stderr)
    message = None  # installed names are already part of the agent's context
    if result.removed:
        message = "skillcrate removed these skills: " + ", ".join(result.removed) + "."
    _emit(
        render_hook_output(
            agent,
            installed=result.installed,
            message=message,
            skills=installed_skills(root, result.installed),
            failed=result.failed,
        )
    )


def installed_skills(root: Path, names: list[str]) -> dict[str, tuple[str, str]]:
    """name -> (path of its SKILL.md, description) for each installed skill that reads."""
    from ..boundary import skill_rel
    from ..errors import SkillcrateError
    from ..skill.rules import read_skill

    out: dict[str, tuple[str, str]] = {}
    for name in names:
        folder = root / skill_rel(name)
        try:
            description = read_skill(folder).description or ""
        except (SkillcrateError, OSError):
            description = ""
        out[name] = (str(folder / "SKILL.md"), description)
    return out


def _cursor_hook_registered(root: Path) -> bool:
    from ..errors import SkillcrateError
    from .hookfiles import registered_hooks

    try:
        return bool(registered_hooks(root).get("cursor"))
    except SkillcrateError:
        return False
