"""What the session-start path needs to know of each agent, as plain data. Stdlib only.

The hook runs at every session start; on an unchanged project it must answer before
anything heavy is imported, so the agent names, where each agent says the project is, and
how to read its hook input live here, apart from the hook-file layouts in ``hookfiles``.
Nothing here imports :mod:`json`, :mod:`re` or :mod:`pathlib` until it is needed.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (no-op path)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

MAX_STDIN = 1024 * 1024  # an agent's session JSON is small; never read it unbounded

AGENTS: tuple[str, ...] = ("claude", "cursor", "copilot", "codex", "gemini")

PROJECT_ENV: dict[str, tuple[str, ...]] = {
    "claude": ("CLAUDE_PROJECT_DIR",),
    "cursor": ("CURSOR_PROJECT_DIR", "CLAUDE_PROJECT_DIR"),
    "copilot": (),
    "codex": (),
    "gemini": ("GEMINI_PROJECT_DIR", "CLAUDE_PROJECT_DIR"),
}
"""Environment variables each agent sets to the project folder, in the order to try."""

USER_SKILLS: dict[str, tuple[str, str]] = {
    "claude": (".claude/skills", "https://code.claude.com/docs/en/skills"),
    "codex": (".agents/skills", "https://developers.openai.com/codex/skills"),
    "gemini": (".agents/skills", "https://geminicli.com/docs/cli/using-agent-skills/"),
    "copilot": (
        ".agents/skills",
        "https://docs.github.com/en/copilot/how-tos/copilot-cli/customize-copilot/create-skills",
    ),
    "cursor": (".agents/skills", "https://cursor.com/docs/context/skills"),
}
"""Where each agent reads the user's own skills, relative to the home folder, and the
documentation that says so (checked 2026-12). ``-g`` installs into ``~/.agents/skills``
and links the others (Claude Code reads only ``~/.claude/skills``)."""

USER_HOOKS: dict[str, tuple[str, str]] = {
    "claude": (".claude/settings.json", "https://code.claude.com/docs/en/hooks"),
    "codex": (".codex/hooks.json", "https://developers.openai.com/codex/hooks"),
    "gemini": (".gemini/settings.json", "https://geminicli.com/docs/hooks"),
    "copilot": (
        ".copilot/hooks/skillcrate.json",
        "https://docs.github.com/en/copilot/reference/hooks-reference",
    ),
    "cursor": (".cursor/hooks.json", "https://cursor.com/docs/reference/third-party-hooks"),
}
"""Each agent's user-level session-hook file (``register -g``), and its documentation."""

NOTHING_TO_SAY = "{}"
"""The hook output when nothing was installed and nothing failed (every agent)."""


def read_hook_stdin() -> str:
    """What the agent wrote on stdin (at most :data:`MAX_STDIN`); "" for a terminal."""
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return ""
        return sys.stdin.read(MAX_STDIN)
    except (OSError, ValueError):
        return ""


def working_dir() -> str:
    """The working folder; ``$PWD`` (or ``/``) when it was deleted under us."""
    try:
        return os.getcwd()
    except OSError:
        return os.environ.get("PWD") or "/"


def under_cursor(env: Mapping[str, str], stdin: Mapping[str, object]) -> bool:
    """Whether Cursor started this hook (it also runs Claude Code's hooks).

    Cursor sets ``CURSOR_VERSION`` and sends ``cursor_version`` in the hook input.
    """
    return bool(env.get("CURSOR_VERSION")) or "cursor_version" in stdin


def parse_hook_stdin(text: str) -> dict[str, object]:
    """The JSON object an agent sends a hook on stdin; ``{}`` if empty or not an object."""
    if not text or not text.strip():
        return {}
    import json

    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _stdin_dirs(agent: str, stdin: Mapping[str, object]) -> list[object]:
    """Project folders named in the hook input: Cursor's ``workspace_roots``, then ``cwd``."""
    roots = stdin.get("workspace_roots") if agent == "cursor" else None
    first_root = roots[0] if isinstance(roots, list) and roots else None
    return [first_root, stdin.get("cwd")]


def hook_project_dir(
    agent: str, env: Mapping[str, str], stdin: Mapping[str, object], cwd: Path | str
) -> Path:
    """The project a session hook runs for (:func:`hook_project_path` as a Path)."""
    from pathlib import Path

    return Path(hook_project_path(agent, env, lambda: stdin, str(cwd)))


def hook_project_path(
    agent: str, env: Mapping[str, str], stdin: Callable[[], Mapping[str, object]], cwd: str
) -> str:
    """The project a session hook runs for.

    In order: the agent's project variable (``CLAUDE_PROJECT_DIR``; ``GEMINI_PROJECT_DIR``;
    ``CURSOR_PROJECT_DIR``), Cursor's first ``workspace_roots`` entry, the ``cwd`` of the
    hook input, else ``cwd``. A relative value is taken relative to ``cwd``. ``stdin`` is
    called (the hook input parsed) only when no variable names the project.
    """
    for name in PROJECT_ENV[agent]:
        value = env.get(name)
        if value and value.strip():
            return os.path.join(cwd, value)  # an absolute value replaces cwd
    for candidate in _stdin_dirs(agent, stdin()):
        if isinstance(candidate, str) and candidate.strip():
            return os.path.join(cwd, candidate)
    return cwd
