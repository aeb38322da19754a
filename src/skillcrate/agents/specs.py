"""What the session-start path needs to know of each agent, as plain data. Stdlib only.

The hook runs at every session start; on an unchanged project it must answer before
anything heavy is imported, so the agent names, where each agent says the project is, and
how to read its hook input live here, apart from the hook-file layouts in ``hookfiles``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

AGENTS: tuple[str, ...] = ("claude", "cursor", "copilot", "codex", "gemini")

PROJECT_ENV: Mapping[str, tuple[str, ...]] = {
    "claude": ("CLAUDE_PROJECT_DIR",),
    "cursor": ("CURSOR_PROJECT_DIR", "CLAUDE_PROJECT_DIR"),
    "copilot": (),
    "codex": (),
    "gemini": ("GEMINI_PROJECT_DIR", "CLAUDE_PROJECT_DIR"),
}
"""Environment variables each agent sets to the project folder, in the order to try."""

NOTHING_TO_SAY = "{}"
"""The hook output when nothing was installed and nothing failed (every agent)."""


def parse_hook_stdin(text: str) -> dict[str, object]:
    """The JSON object an agent sends a hook on stdin; ``{}`` if empty or not an object."""
    try:
        value = json.loads(text) if text and text.strip() else {}
    except (json.JSONDecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _stdin_dirs(agent: str, stdin: Mapping[str, object]) -> list[object]:
    """Project folders named in the hook input: Cursor's ``workspace_roots``, then ``cwd``."""
    roots = stdin.get("workspace_roots") if agent == "cursor" else None
    first_root = roots[0] if isinstance(roots, list) and roots else None
    return [first_root, stdin.get("cwd")]


def hook_project_dir(
    agent: str, env: Mapping[str, str], stdin: Mapping[str, object], cwd: Path
) -> Path:
    """The project a session hook runs for.

    In order: the agent's project variable (``CLAUDE_PROJECT_DIR``; ``GEMINI_PROJECT_DIR``;
    ``CURSOR_PROJECT_DIR``), Cursor's first ``workspace_roots`` entry, the ``cwd`` of the
    hook input, else ``cwd``. A relative value is taken relative to ``cwd``.
    """
    candidates: list[object] = [env.get(name) for name in PROJECT_ENV[agent]]
    candidates += _stdin_dirs(agent, stdin)
    for value in candidates:
        if isinstance(value, str) and value.strip():
            path = Path(value)
            return path if path.is_absolute() else Path(cwd) / path
    return Path(cwd)
