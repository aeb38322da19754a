"""Session-start hooks for coding agents: `skillcrate register` / `unregister` and hook mode.

`register` writes, into the project, a hook that makes every agent session start with
``<launcher> install --hook <agent>``; `unregister` takes it out again. `install --hook`
then prints the one JSON document the agent reads back (`render_hook_output`).

The per-agent differences are data (`_SPECS`); one merge routine serves them all. Formats,
as documented by each agent (checked 2026):

* Claude Code, ``.claude/settings.json`` (https://code.claude.com/docs/en/hooks):
  ``{"hooks": {"SessionStart": [{"matcher": "startup|resume|clear", "hooks": [{"type":
  "command", "command": ..., "timeout": 120}]}]}}``. The matcher is a ``|``-list of exact
  sources (``startup``, ``resume``, ``clear``, ``compact``); ``timeout`` is in seconds.
  Output: ``hookSpecificOutput.additionalContext`` and ``hookSpecificOutput.reloadSkills``
  (re-scan the skill folders once SessionStart hooks finish), ``systemMessage`` for the user.
* Codex, ``.codex/hooks.json`` (https://developers.openai.com/codex/hooks): the Claude
  shape, ``timeout`` in seconds. Output is validated against a closed schema
  (codex-rs/hooks/schema/generated/session-start.command.output.schema.json): only
  ``continue``, ``stopReason``, ``suppressOutput``, ``systemMessage`` and
  ``hookSpecificOutput.{hookEventName, additionalContext, env}``; an unknown key such as
  ``reloadSkills`` makes the whole output invalid. Project hooks run only in a trusted
  project, after the hook itself was reviewed and trusted.
* Gemini CLI, ``.gemini/settings.json`` (https://geminicli.com/docs/hooks/reference):
  Claude-like groups, but each hook has a ``name`` and ``timeout`` in milliseconds, and a
  lifecycle matcher is compared as one exact string (packages/core/src/hooks/hookPlanner.ts),
  so ``startup|resume|clear`` would never match: the group has no matcher, which means
  every source (``startup``, ``resume``, ``clear``). Output:
  ``hookSpecificOutput.additionalContext``, ``systemMessage``. Sets ``GEMINI_PROJECT_DIR``
  (and ``CLAUDE_PROJECT_DIR``) to the session's cwd.
* Cursor, ``.cursor/hooks.json`` (https://cursor.com/docs/agent/hooks):
  ``{"version": 1, "hooks": {"sessionStart": [{"command": ...}]}}``. ``sessionStart`` is
  fire-and-forget; its output is ``{"additional_context": ..., "env": {...}}``. Input carries
  ``workspace_roots``.
* GitHub Copilot CLI and cloud agent, ``.github/hooks/skillcrate.json``
  (https://docs.github.com/en/copilot/reference/hooks-reference): ``{"version": 1, "hooks":
  {"sessionStart": [{"type": "command", "bash": ..., "powershell": ..., "cwd": ".",
  "timeoutSec": 120}]}}``; sessionStart output may carry a top-level ``additionalContext``.
  The cloud agent reads the file from the default branch, and its environment is prepared
  by ``.github/workflows/copilot-setup-steps.yml`` whose single job must be named
  ``copilot-setup-steps`` (https://docs.github.com/en/copilot/how-tos/use-copilot-agents/
  cloud-agent/customize-the-agent-environment).

Our own entries are recognised by their command (`is_skillcrate_hook`), so a changed
launcher replaces the old entry instead of adding a second one, and nothing else in a
hook file is ever touched.

The session-start no-op path does not import this module (see ``agents/specs.py``); a
session start that installs does, so it stays stdlib plus ``skillcrate.errors`` /
``skillcrate._fs`` / ``skillcrate.text``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._fs import atomic_write
from ..errors import ProjectError, UsageError
from ..text import inert, one_line
from .specs import AGENTS

HOOK_TIMEOUT_SECONDS = 120
SESSION_MATCHER = "startup|resume|clear"
"""Claude/Codex sources to run on; ``compact`` is left out (skills do not change then)."""

COPILOT_WORKFLOW = ".github/workflows/copilot-setup-steps.yml"

_MAX_DESCRIPTION = 240
_MAX_MESSAGE = 300

# `<something ending in skillcrate>[version or .exe suffix] install --hook`
_OUR_COMMAND = re.compile(r"skillcrate[^\s'\"]*['\"]?\s+install\s+--hook(?![\w-])")

# A plain launcher: words of safe characters, the first optionally starting with an
# agent's project-folder variable. No quoting, globbing, expansion or chaining.
PROJECT_VARS = ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR")
_VAR = "(?:" + "|".join(rf'"\${v}"|"\${{{v}}}"|\${v}|\${{{v}}}' for v in PROJECT_VARS) + ")"
_SAFE_WORD = r"[A-Za-z0-9_./@+=:,%~-]+"
_LAUNCHER_WORD = re.compile(rf"^(?:{_VAR}{_SAFE_WORD}|{_SAFE_WORD})$")
_STRICT_HOOK = re.compile(
    r"^(?P<launcher>\S.*?) install --hook (?P<agent>[a-z]+)(?P<user> --global)?$"
)

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class FileChange:
    """One file `register`/`unregister` looked at, and what happened to it."""

    path: Path
    action: str  # "created" | "updated" | "unchanged" | "removed"


@dataclass(frozen=True)
class RegisterResult:
    """What `register`/`unregister` did for one agent.

    ``workflow_steps`` is set (Copilot only) when ``copilot-setup-steps.yml`` exists
    without skillcrate: the YAML steps to add by hand, which the CLI can print.
    """

    agent: str
    changes: tuple[FileChange, ...]
    notices: tuple[str, ...]
    workflow_steps: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _HookSpec:
    """How one agent's hook file is laid out (see the module docstring for sources)."""

    agent: str
    path: str  # relative to the project, POSIX separators
    event: str  # key under "hooks"
    grouped: bool  # Claude-style matcher groups, else a flat list of hooks
    matcher: str | None  # the group's matcher; None: no matcher key (match every source)
    skeleton: Mapping[str, Any]  # top-level keys of a file we create from nothing
    build_entry: Callable[[str], JsonObject]
    command_keys: tuple[str, ...]  # entry keys holding a shell command
    notice: str | None = None


def _claude_entry(command: str) -> JsonObject:
    """Claude Code / Codex command hook; ``timeout`` in seconds."""
    return {"type": "command", "command": command, "timeout": HOOK_TIMEOUT_SECONDS}


def _gemini_entry(command: str) -> JsonObject:
    """Gemini CLI command hook; ``timeout`` in milliseconds, ``name`` shown in its UI."""
    return {
        "name": "skillcrate",
        "type": "command",
        "command": command,
        "timeout": HOOK_TIMEOUT_SECONDS * 1000,
        "description": "Install this project's agent skills (skillcrate)",
    }


def _cursor_entry(command: str) -> JsonObject:
    """Cursor hook: just the command (sessionStart is fire-and-forget)."""
    return {"command": command}


def _copilot_entry(command: str) -> JsonObject:
    """Copilot command hook: one command for both shells, run from the repository root."""
    return {
        "type": "command",
        "bash": command,
        "powershell": command,
        "cwd": ".",
        "timeoutSec": HOOK_TIMEOUT_SECONDS,
    }


_SPECS: dict[str, _HookSpec] = {
    "claude": _HookSpec(
        agent="claude",
        path=".claude/settings.json",
        event="SessionStart",
        grouped=True,
        matcher=SESSION_MATCHER,
        skeleton={},
        build_entry=_claude_entry,
        command_keys=("command",),
        notice=(
            "Claude Code runs project hooks once you accept its workspace trust dialog; new "
            "skills are listed in the same session (reloadSkills)."
        ),
    ),
    "cursor": _HookSpec(
        agent="cursor",
        path=".cursor/hooks.json",
        event="sessionStart",
        grouped=False,
        matcher=None,
        skeleton={"version": 1},
        build_entry=_cursor_entry,
        command_keys=("command",),
        notice=(
            "Cursor does not wait for sessionStart hooks: skills installed when a chat "
            "starts may only be visible from the next chat. Cursor also runs Claude Code's "
            "hooks (.claude/settings.json); skillcrate notices and answers it once."
        ),
    ),
    "copilot": _HookSpec(
        agent="copilot",
        path=".github/hooks/skillcrate.json",
        event="sessionStart",
        grouped=False,
        matcher=None,
        skeleton={"version": 1},
        build_entry=_copilot_entry,
        command_keys=("bash", "powershell", "command"),
        notice=(
            "Copilot CLI loads .github/hooks only in a trusted folder (--trust-folder, or "
            "trustedFolders in ~/.copilot/config.json), and shows hook output only to the "
            "model, so errors are not shown to you; new skills are listed from the next "
            "session, or after /skills reload. The cloud agent reads .github/hooks/ and "
            "copilot-setup-steps.yml from the default branch: commit and merge them."
        ),
    ),
    "codex": _HookSpec(
        agent="codex",
        path=".codex/hooks.json",
        event="SessionStart",
        grouped=True,
        matcher=SESSION_MATCHER,
        skeleton={},
        build_entry=_claude_entry,
        command_keys=("command",),
        notice=(
            "Codex runs project hooks only in a trusted project, and only once the hook "
            "itself is trusted: approve it with /hooks in Codex (stored per checkout in "
            "~/.codex/config.toml, asked again whenever the entry changes). `codex exec` "
            "skips an untrusted hook silently. New skills are listed from the next session."
        ),
    ),
    "gemini": _HookSpec(
        agent="gemini",
        path=".gemini/settings.json",
        event="SessionStart",
        grouped=True,
        matcher=None,
        skeleton={},
        build_entry=_gemini_entry,
        command_keys=("command",),
        notice=(
            "Gemini CLI loads project hooks only in a trusted folder (~/.gemini/"
            "trustedFolders.json, or GEMINI_CLI_TRUST_WORKSPACE=true; --skip-trust loads "
            "none); it warns once about new hooks and runs them. New skills are listed "
            "from the next session, or after /skills reload."
        ),
    ),
}

# Files or folders under .github/ that show the project uses GitHub Copilot (a bare
# .github/ only means GitHub, e.g. CI workflows).
_COPILOT_MARKERS: tuple[str, ...] = (
    ".github/hooks",
    ".github/copilot-instructions.md",
    ".github/instructions",
    ".github/agents",
    ".github/prompts",
    ".github/skills",
    COPILOT_WORKFLOW,
)


def default_install() -> str:
    """How the Copilot setup steps install skillcrate unless ``register --install`` says."""
    from .. import __version__

    return f"pip install skillcrate=={__version__}"


# The steps a copilot-setup-steps job needs; also what we ask users to add by hand.
_WORKFLOW_STEPS = """\
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install skillcrate
        run: {install}
      - name: Install skills
        run: skillcrate install --frozen
"""
_INSTALL_LINE = re.compile(r"^      - name: Install skillcrate\n        run: (.*)$", re.M)

_WORKFLOW = f"""\
# Prepares the environment of GitHub Copilot cloud agent before it starts: installs
# skillcrate and this project's skills, exactly as locked. Written by `skillcrate register`.
# https://docs.github.com/en/copilot/how-tos/use-copilot-agents/cloud-agent/customize-the-agent-environment
name: "Copilot Setup Steps"

on:
  workflow_dispatch:
  push:
    paths:
      - {COPILOT_WORKFLOW}
  pull_request:
    paths:
      - {COPILOT_WORKFLOW}

jobs:
  # The job must be named `copilot-setup-steps` or Copilot will not pick it up.
  copilot-setup-steps:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
{_WORKFLOW_STEPS}"""


def _steps(install: str) -> str:
    return _WORKFLOW_STEPS.format(install=json.dumps(install, ensure_ascii=False))


def _workflow(install: str) -> str:
    return _WORKFLOW.replace("{install}", json.dumps(install, ensure_ascii=False))


def install_problem(install: str) -> str | None:
    """Why ``install`` cannot be the setup steps' install command, or None."""
    if not install.strip():
        return "the install command is empty"
    if any(ord(c) < 32 or ord(c) == 127 for c in install):
        return "the install command must be one line without control characters"
    return None


# --------------------------------------------------------------------------- commands


def is_skillcrate_hook(command: str) -> bool:
    """True if ``command`` is a skillcrate session hook: ``…skillcrate install --hook …``.

    Any launcher whose last word ends in ``skillcrate`` (optionally followed by a version
    or ``.exe``) counts: ``skillcrate``, ``uvx skillcrate``, ``.venv/bin/skillcrate``,
    ``python -m skillcrate``.
    """
    return bool(_OUR_COMMAND.search(command))


def launcher_problem(launcher: str) -> str | None:
    """Why ``launcher`` is not a plain skillcrate launcher, or None.

    Plain means words of letters, digits and ``._/@+=:,%~-`` separated by single spaces
    (the first may start with ``$CLAUDE_PROJECT_DIR``-style variables, quoted or not),
    the last word ending in ``skillcrate``: ``skillcrate``, ``uvx skillcrate``,
    ``.venv/bin/skillcrate``, ``"$CLAUDE_PROJECT_DIR"/.venv/bin/skillcrate``,
    ``uvx --from skillcrate==0.2.0 skillcrate``, ``python -m skillcrate``. Anything a shell
    would interpret (``;``, ``|``, ``&``, ``$()``, backticks, redirections, quotes) is refused:
    the hook file is committed, and it must run skillcrate and nothing else.
    """
    words = launcher.split(" ")
    if not launcher or any(not w for w in words):
        return "expected words separated by single spaces"
    for i, word in enumerate(words):
        if not _LAUNCHER_WORD.match(word) or (i and word.startswith(("$", '"'))):
            return f"{word!r} is not a plain word (no shell syntax allowed)"
    if not re.search(r"skillcrate(?:[-.=][A-Za-z0-9._-]*)?$", words[-1]):
        return "the last word must be the skillcrate program"
    return None


def hook_command(agent: str, launcher: str = "skillcrate", *, user: bool = False) -> str:
    """The shell command a session hook runs: ``<launcher> install --hook <agent>``
    (with ``user``, the user-level hook: ``... --global``).

    ``launcher`` must be plain (:func:`launcher_problem`); it is written as given and never
    resolved to this machine's binary, so the hook file can be committed.
    """
    _spec(agent)
    launcher = launcher.strip()
    problem = launcher_problem(launcher)
    if problem:
        raise UsageError(
            f"invalid --command {launcher!r}: {problem}",
            hints=[
                "e.g. --command 'uvx skillcrate' or --command .venv/bin/skillcrate "
                "(a plain launcher, no shell syntax)"
            ],
        )
    command = f"{launcher} install --hook {agent}" + (" --global" if user else "")
    assert is_skillcrate_hook(command)
    return command


def plain_hook(command: str) -> tuple[str, str] | None:
    """(launcher, agent) if ``command`` is exactly ``<plain launcher> install --hook <agent>``."""
    m = _STRICT_HOOK.match(command)
    if not m or m.group("agent") not in AGENTS or launcher_problem(m.group("launcher")):
        return None
    return m.group("launcher"), m.group("agent")


def _spec(agent: str) -> _HookSpec:
    try:
        return _SPECS[agent]
    except KeyError:
        raise UsageError(
            f"unknown agent {agent!r}: expected one of {', '.join(AGENTS)} or all"
        ) from None


def resolve_agents(agents: Sequence[str]) -> list[str]:
    """Validate agent names (``all`` means every agent), dropping duplicates, keeping order."""
    names: list[str] = []
    for name in agents:
        for one in AGENTS if name == "all" else (name,):
            _spec(one)
            if one not in names:
                names.append(one)
    return names


def hook_file(project: Path, agent: str, *, user: bool = False) -> Path:
    """The file holding ``agent``'s session hook in ``project`` (``user``: under ``~``)."""
    _spec(agent)
    return Path(project) / _spec_for(agent, user).path


def default_user_agents(home: Path) -> list[str]:
    """Agents whose user folder (``~/.claude``, ``~/.copilot``, ...) exists; Claude Code if none."""
    found = [a for a in AGENTS if (Path(home) / f".{a}").is_dir()]
    return found or ["claude"]


def default_agents(project: Path) -> list[str]:
    """Agents whose configuration folder exists in ``project``; Claude Code if none does.

    ``.claude``, ``.cursor``, ``.codex`` and ``.gemini`` count as soon as they exist.
    ``.github`` alone does not (most repositories have it for CI): Copilot counts when
    ``.github/hooks``, ``.github/copilot-instructions.md``, ``.github/instructions``,
    ``.github/agents``, ``.github/prompts``, ``.github/skills`` or the
    ``copilot-setup-steps.yml`` workflow exists.
    """
    project = Path(project)
    found: list[str] = []
    for agent in AGENTS:
        if agent == "copilot":
            present = any((project / marker).exists() for marker in _COPILOT_MARKERS)
        else:
            present = (project / f".{agent}").is_dir()
        if present:
            found.append(agent)
    return found or ["claude"]


# --------------------------------------------------------------------------- JSON files


def _dump(doc: object, style: str | None = None) -> str:
    """``doc`` as JSON in the layout of ``style`` (a file's text; default: 2-space indent).

    A file written compactly on one line stays on one line (with its separators); an
    indented one keeps its indent (spaces or a tab), so ``register`` changes only the hook.
    """
    text = (style or "").strip()
    if text and "\n" not in text:
        separators = (", ", ": ") if '": ' in text or '", ' in text else (",", ":")
        return json.dumps(doc, separators=separators, ensure_ascii=False) + "\n"
    indent: str | int = 2
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            indent = line[: len(line) - len(stripped)]
            break
    return json.dumps(doc, indent=indent, ensure_ascii=False) + "\n"


def _line_of_key(text: str, key: str) -> int:
    match = re.search(rf'"{re.escape(key)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _shape_error(path: Path, text: str, key: str, expected: str) -> ProjectError:
    line = _line_of_key(text, key) if key else 1
    return ProjectError(
        f"{path}:{line}: {key or 'top level'} is not {expected}; the file was not changed",
        hints=["fix the file by hand, then run the command again"],
    )


def _load(path: Path, spec: _HookSpec) -> tuple[JsonObject, str] | None:
    """Parse a hook file and check the parts we touch; None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read: {exc}") from exc
    if not text.strip():
        return {}, text
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ProjectError(f"{path}: JSON nested too deeply; the file was not changed") from None
    except json.JSONDecodeError as exc:
        from .._json import syntax_error

        line, column, message = syntax_error(exc)
        example = json.dumps(spec.build_entry(hook_command(spec.agent)))
        raise ProjectError(
            f"{path}:{line}: malformed JSON ({message}, column {column}); the file was not changed",
            hints=[f"fix it, or add this {spec.event} hook by hand: {example}"],
        ) from exc
    _check_shape(path, text, doc, spec)
    return doc, text


def _check_shape(path: Path, text: str, doc: object, spec: _HookSpec) -> None:
    if not isinstance(doc, dict):
        raise _shape_error(path, text, "", "a JSON object")
    hooks = doc.get("hooks")
    if hooks is None:
        return
    if not isinstance(hooks, dict):
        raise _shape_error(path, text, "hooks", "an object")
    items = hooks.get(spec.event)
    if items is None:
        return
    if not isinstance(items, list):
        raise _shape_error(path, text, spec.event, "a list")
    for item in items:
        if not isinstance(item, dict):
            raise _shape_error(path, text, spec.event, "a list of objects")
        if spec.grouped and not isinstance(item.get("hooks"), list):
            raise _shape_error(path, text, spec.event, 'a list of {"hooks": [...]} groups')


def _is_ours(entry: object, spec: _HookSpec) -> bool:
    if not isinstance(entry, dict):
        return False
    return any(
        isinstance(entry.get(key), str) and is_skillcrate_hook(entry[key])
        for key in spec.command_keys
    )


def _our_command(entry: JsonObject, spec: _HookSpec) -> str:
    return next(
        command
        for key in spec.command_keys
        if isinstance(command := entry.get(key), str) and is_skillcrate_hook(command)
    )


def _updated_entry(existing: JsonObject, desired: JsonObject) -> JsonObject:
    """Our entry with the desired values, keeping its key order and any extra keys."""
    merged = dict(existing)
    merged.update(desired)
    return merged


def _entries(doc: JsonObject, spec: _HookSpec) -> list[JsonObject]:
    """Every hook entry of ``spec.event``, looking inside matcher groups."""
    items = (doc.get("hooks") or {}).get(spec.event) or []
    if not spec.grouped:
        return list(items)
    return [entry for group in items for entry in group["hooks"]]


def _with_matcher(group: JsonObject, matcher: str | None) -> JsonObject:
    if matcher is None:
        if group.get("matcher") in (None, "", "*"):
            return group
        return {key: value for key, value in group.items() if key != "matcher"}
    return {**group, "matcher": matcher} if group.get("matcher") != matcher else group


def _place_grouped(
    items: list[JsonObject], spec: _HookSpec, desired: JsonObject
) -> list[JsonObject]:
    """Groups with exactly one of our entries, updated in place when possible."""
    result: list[JsonObject] = []
    placed = False
    for group in items:
        entries = group["hooks"]
        if not any(_is_ours(entry, spec) for entry in entries):
            result.append(group)
            continue
        others = [entry for entry in entries if not _is_ours(entry, spec)]
        fits = not others or group.get("matcher") == spec.matcher
        if placed or not fits:
            if others:
                result.append({**group, "hooks": others})
            continue
        new_entries: list[JsonObject] = []
        for entry in entries:
            if not _is_ours(entry, spec):
                new_entries.append(entry)
            elif not placed:
                new_entries.append(_updated_entry(entry, desired))
                placed = True
        regrouped = {**group, "hooks": new_entries}
        result.append(regrouped if others else _with_matcher(regrouped, spec.matcher))
    if not placed:
        group = {"matcher": spec.matcher} if spec.matcher is not None else {}
        result.append({**group, "hooks": [desired]})
    return result


def _place_flat(items: list[JsonObject], spec: _HookSpec, desired: JsonObject) -> list[JsonObject]:
    """The list with exactly one of our entries, updated in place when present."""
    result: list[JsonObject] = []
    placed = False
    for entry in items:
        if not _is_ours(entry, spec):
            result.append(entry)
        elif not placed:
            result.append(_updated_entry(entry, desired))
            placed = True
    if not placed:
        result.append(desired)
    return result


def _without_ours(items: list[JsonObject], spec: _HookSpec) -> list[JsonObject]:
    """The list with our entries removed, and groups that only held ours dropped."""
    if not spec.grouped:
        return [entry for entry in items if not _is_ours(entry, spec)]
    result: list[JsonObject] = []
    for group in items:
        kept = [entry for entry in group["hooks"] if not _is_ours(entry, spec)]
        if len(kept) == len(group["hooks"]):
            result.append(group)
        elif kept:
            result.append({**group, "hooks": kept})
    return result


def _write_json(path: Path, before: str | None, doc: JsonObject, style: str | None = None) -> str:
    """Write ``doc`` if it differs (in content or key order) from what was parsed."""
    after = _dump(doc, style)
    if before is not None and after == before:
        return "unchanged"
    atomic_write(path, after)
    return "created" if before is None else "updated"


# --------------------------------------------------------------------------- register


def _register_hook(project: Path, spec: _HookSpec, command: str) -> FileChange:
    path = Path(project) / spec.path
    loaded = _load(path, spec)
    style = loaded[1] if loaded is not None else None
    before = _dump(loaded[0], style) if loaded is not None else None
    doc: JsonObject = loaded[0] if loaded and loaded[0] else dict(spec.skeleton)
    if not isinstance(doc.get("hooks"), dict):
        doc["hooks"] = {}
    hooks = doc["hooks"]
    items = hooks.get(spec.event) or []
    place = _place_grouped if spec.grouped else _place_flat
    hooks[spec.event] = place(items, spec, spec.build_entry(command))
    return FileChange(path, _write_json(path, before, doc, style))


def workflow_steps(install: str | None = None) -> str:
    """The copilot-setup-steps steps that install skillcrate and the locked skills."""
    return _steps(install or default_install())


def _register_workflow(project: Path, install: str) -> tuple[FileChange, str | None]:
    """Create copilot-setup-steps.yml, or return the steps to add to an existing one.

    A workflow this module wrote (any install command) is rewritten with ``install``.
    """
    path = Path(project) / COPILOT_WORKFLOW
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        atomic_write(path, _workflow(install))
        return FileChange(path, "created"), None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read: {exc}") from exc
    if _ours(text):
        wanted = _workflow(install)
        if text == wanted:
            return FileChange(path, "unchanged"), None
        atomic_write(path, wanted)
        return FileChange(path, "updated"), None
    if "skillcrate install" in text:
        return FileChange(path, "unchanged"), None
    return FileChange(path, "unchanged"), _steps(install)


def _ours(text: str) -> bool:
    """Whether ``text`` is exactly a workflow :func:`_workflow` wrote (for some install)."""
    found = _INSTALL_LINE.search(text)
    if found is None:
        return False
    try:
        install = json.loads(found.group(1))
    except ValueError:
        install = found.group(1)  # written before the command was quoted
        return isinstance(install, str) and text == _WORKFLOW.replace("{install}", install)
    return isinstance(install, str) and text == _workflow(install)


USER_COPILOT_HOOKS = ".copilot/hooks/skillcrate.json"  # Copilot CLI's user-level hook folder


def _spec_for(agent: str, user: bool) -> _HookSpec:
    """The hook file of ``agent`` in a project, or (``user``) under the home folder.

    User-level files are the project paths under ``~`` (Claude Code ``~/.claude/
    settings.json``, Codex ``~/.codex/hooks.json``, Gemini CLI ``~/.gemini/settings.json``,
    Cursor ``~/.cursor/hooks.json``), except Copilot CLI's: ``~/.copilot/hooks/*.json``
    (its hooks reference). Sources: each agent's hooks documentation, as recorded in
    ``agents/specs.py``.
    """
    spec = _SPECS[agent]
    if not user:
        return spec
    notice = USER_NOTICES[agent]
    if agent == "copilot":
        return replace(spec, path=USER_COPILOT_HOOKS, notice=notice)
    return replace(spec, notice=notice)


USER_NOTICES = {
    "claude": "Claude Code runs ~/.claude/settings.json hooks in every session, in any folder.",
    "cursor": "Cursor runs ~/.cursor/hooks.json hooks in every chat (without waiting for them).",
    "copilot": "Copilot CLI runs the hooks in ~/.copilot/hooks/ in every session.",
    "codex": "Codex runs ~/.codex/hooks.json hooks once the hook is trusted: approve it with "
    "/hooks in Codex.",
    "gemini": "Gemini CLI runs ~/.gemini/settings.json hooks in every session.",
}


def register(
    project: Path,
    agents: Sequence[str],
    launcher: str = "skillcrate",
    *,
    install: str | None = None,
    user: bool = False,
) -> list[RegisterResult]:
    """Add (or refresh) the skillcrate session hook for each agent, merging into its file.

    Every other key, hook and key order is kept; an existing skillcrate entry (any
    launcher) is replaced in place, so running it again changes nothing. A malformed hook
    file raises `ProjectError` naming the file and line, and is left untouched. All hook
    files are checked before any is written.
    """
    names = resolve_agents(agents)
    commands = {agent: hook_command(agent, launcher, user=user) for agent in names}
    for agent in names:
        _load(Path(project) / _spec_for(agent, user).path, _spec_for(agent, user))
    results: list[RegisterResult] = []
    for agent in names:
        spec = _spec_for(agent, user)
        changes = [_register_hook(project, spec, commands[agent])]
        notices = [spec.notice] if spec.notice else []
        steps = None
        if agent == "copilot" and not user:  # the cloud agent's setup steps: projects only
            how = install or default_install()
            problem = install_problem(how)
            if problem:
                raise UsageError(f"--install: {problem}")
            change, steps = _register_workflow(project, how)
            if install is None and change.action == "created":
                notices.append(
                    f"{COPILOT_WORKFLOW} installs skillcrate with `{how}`: if your package "
                    "index does not serve that version, run register again with "
                    "--install 'pip install <wheel URL or git+URL>'"
                )
            changes.append(change)
            if steps:
                notices.append(
                    f"{COPILOT_WORKFLOW} exists and was not changed: add these steps to its "
                    "copilot-setup-steps job so the cloud agent starts with the skills:\n" + steps
                )
        warning = launcher_not_found(project, launcher)
        results.append(
            RegisterResult(
                agent, tuple(changes), tuple(notices), steps, (warning,) if warning else ()
            )
        )
    return results


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def _expand(word: str, root: Path) -> str | None:
    """``word`` as the hook's shell would see it: ``$VAR``/``${VAR}`` and a leading ``~``.

    The agents' project variables stand for ``root``; None when a variable is unknown.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in PROJECT_VARS:
            return str(root)
        if name in os.environ:
            return os.environ[name]
        raise KeyError(name)

    try:
        word = _VARIABLE.sub(value, word)
    except KeyError:
        return None
    return os.path.expanduser(word)


def launcher_resolvable(command: str, root: Path) -> tuple[bool | None, str]:
    """Whether the hook's program exists: True, False, or None when it cannot be told.

    Leading ``NAME=value`` words are skipped; a path (with ``/``) must be an executable
    file, relative to the project; a bare name must be found on PATH.
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return False, "cannot parse the command"
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words:
        return False, "empty command"
    exe = _expand(words[0], root)
    if exe is None:
        return None, f"{words[0]} uses an unknown variable"
    if "/" in exe:
        path = Path(exe) if os.path.isabs(exe) else root / exe
        return path.is_file() and os.access(path, os.X_OK), str(path)
    found = shutil.which(exe)
    return found is not None, found or exe


def launcher_not_found(project: Path, launcher: str) -> str | None:
    """Why the hook's launcher would not start where the agent runs it, or None.

    The first word is what the shell looks up (:func:`launcher_resolvable`): a path
    (relative ones from the project, where the agents run hooks; a project variable stands
    for the project) must be an executable file, a bare name must be on ``PATH``. The
    message names the fixes.
    """
    ok, where = launcher_resolvable(launcher, Path(project))
    if ok is not False:
        return None
    first = launcher.split(" ", 1)[0]
    found = f"{where} is not an executable file" if "/" in where else f"{first!r} is not on PATH"
    fixes = []
    venv = Path(project) / ".venv" / "bin" / "skillcrate"
    if venv.is_file():
        fixes.append("register --command .venv/bin/skillcrate (this project's virtualenv)")
    fixes.append(
        "install skillcrate as a tool so it is on PATH: `pipx install PATH` or "
        "`uv tool install PATH`, PATH being a skillcrate checkout or its wheel"
    )
    here = shutil.which("skillcrate", path=os.path.dirname(sys.executable))
    if here:
        fixes.append(f"register --command {here} (this machine only)")
    return f"the hook cannot start: {found}, so `{launcher} install --hook …` would fail " + (
        "(exit 127). Fix: " + "; or ".join(fixes)
    )


# --------------------------------------------------------------------------- unregister


def _unregister_hook(project: Path, spec: _HookSpec) -> FileChange | None:
    path = Path(project) / spec.path
    loaded = _load(path, spec)
    if loaded is None:
        return None
    doc, style = loaded
    before = _dump(doc, style)
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict) or not isinstance(hooks.get(spec.event), list):
        return FileChange(path, "unchanged")
    items = _without_ours(hooks[spec.event], spec)
    if items == hooks[spec.event]:
        return FileChange(path, "unchanged")
    if items:
        hooks[spec.event] = items
    else:
        del hooks[spec.event]
        if not hooks:
            del doc["hooks"]
    if not doc or doc == dict(spec.skeleton):
        path.unlink()
        _remove_emptied(Path(project), path.parent)
        return FileChange(path, "removed")
    return FileChange(path, _write_json(path, before, doc, style))


def _remove_emptied(project: Path, folder: Path) -> None:
    """Remove ``folder`` and its parents below ``project`` while they are empty.

    A leftover empty ``.codex/`` or ``.github/hooks/`` would make the next plain
    ``register`` think the project uses that agent.
    """
    project = project.absolute()
    folder = folder.absolute()
    while folder != project and project in folder.parents:
        try:
            folder.rmdir()  # only ever succeeds on an empty folder
        except OSError:
            return
        folder = folder.parent


def _unregister_workflow(project: Path) -> tuple[FileChange | None, str | None]:
    path = Path(project) / COPILOT_WORKFLOW
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None, None
    if _ours(text):
        path.unlink()
        _remove_emptied(Path(project), path.parent)
        return FileChange(path, "removed"), None
    if "skillcrate" in text:
        return (
            FileChange(path, "unchanged"),
            f"{COPILOT_WORKFLOW} still installs skillcrate: remove those steps by hand.",
        )
    return FileChange(path, "unchanged"), None


def unregister(project: Path, agents: Sequence[str], *, user: bool = False) -> list[RegisterResult]:
    """Remove skillcrate's session hooks, and only them, from each agent's file.

    Containers left empty by the removal (a matcher group, the event list, ``hooks``) go
    too; a file left with nothing of the user's is deleted. ``copilot-setup-steps.yml`` is
    deleted only if it is exactly the one `register` wrote.
    """
    names = resolve_agents(agents)
    for agent in names:
        _load(Path(project) / _spec_for(agent, user).path, _spec_for(agent, user))
    results: list[RegisterResult] = []
    for agent in names:
        changes: list[FileChange] = []
        notices: list[str] = []
        change = _unregister_hook(project, _spec_for(agent, user))
        if change:
            changes.append(change)
        if agent == "copilot" and not user:
            workflow_change, notice = _unregister_workflow(project)
            changes.extend([workflow_change] if workflow_change else [])
            notices.extend([notice] if notice else [])
        results.append(RegisterResult(agent, tuple(changes), tuple(notices)))
    return results


def registered_hooks(project: Path, *, user: bool = False) -> dict[str, list[str]]:
    """For each agent, the skillcrate hook commands found in its hook file (for `doctor`);
    ``user``: the user-level files under the home folder ``project``.

    Agents without a hook file map to an empty list; a malformed file raises `ProjectError`.
    """
    found: dict[str, list[str]] = {}
    for agent in AGENTS:
        spec = _spec_for(agent, user)
        loaded = _load(Path(project) / spec.path, spec)
        entries = _entries(loaded[0], spec) if loaded else []
        found[agent] = [_our_command(e, spec) for e in entries if _is_ours(e, spec)]
    return found


# --------------------------------------------------------------------------- hook mode


def _one_line(text: str) -> str:
    """Inert, one line, cut short: hook output reaches a model and the user's terminal."""
    return one_line(" ".join(text.split()), _MAX_MESSAGE)


_RELOAD_HINT = {
    "gemini": " The user can run /skills reload to load them in this session.",
    "copilot": " The user can run /skills reload to load them in this session.",
}


def _context(
    agent: str,
    installed: Sequence[str],
    skills: Mapping[str, tuple[str, str]],
    message: str | None,
    failed: Mapping[str, str],
) -> str:
    parts: list[str] = []
    if installed:
        parts.append(
            "skillcrate installed or updated these agent skills for this project: "
            + ", ".join(installed)
            + "."
        )
        for name in installed:
            path, description = skills.get(name, ("", ""))
            if path:
                about = f": {one_line(description, _MAX_DESCRIPTION)}" if description else ""
                parts.append(f"- {name}{about} (instructions: {inert(path)})")
        if agent != "claude":
            parts.append(
                "They may not be in your skill list until the next session: when a task "
                "matches one, read its SKILL.md at the path above and follow it."
                + _RELOAD_HINT.get(agent, "")
            )
    if failed:
        parts.append(
            f"skillcrate {_failed_line(failed)}; those skills are unchanged (or missing) "
            "until a later session start installs them."
        )
    if message and message.strip():
        parts.append(inert(message.strip()))
    return "\n".join(inert(p) if p.startswith("skillcrate ") else p for p in parts)


def _claude_like(context: str, reload: bool, error: str | None, *, reload_key: bool) -> JsonObject:
    out: JsonObject = {}
    if error:
        out["systemMessage"] = error
    if context:
        specific: JsonObject = {"hookEventName": "SessionStart", "additionalContext": context}
        if reload and reload_key:
            specific["reloadSkills"] = True
        out["hookSpecificOutput"] = specific
    return out


def render_hook_output(
    agent: str,
    *,
    installed: Sequence[str],
    message: str | None = None,
    error: str | None = None,
    skills: Mapping[str, tuple[str, str]] | None = None,
    failed: Mapping[str, str] | None = None,
) -> str:
    """The single JSON document ``install --hook AGENT`` prints on stdout.

    ``{}`` when there is nothing to say. Otherwise the installed skills (with the path of
    each ``SKILL.md`` and its description, from ``skills``: name -> (path, description))
    and ``message`` become context for the model. Claude Code is asked to re-scan its
    skills (``reloadSkills``); the other agents build their skill list before the hook
    runs, so the context says how to use the new skills now and when they will be listed.
    ``error`` and the ``failed`` skills become a short ``skillcrate: …`` line: a
    ``systemMessage`` where the agent shows one to the user (Claude Code, Codex, Gemini),
    else part of the context (Cursor, Copilot). Never a blocking decision.
    """
    _spec(agent)
    names = [installed] if isinstance(installed, str) else list(installed)
    problems = [error.strip()] if error and error.strip() else []
    if failed:
        problems.append(_failed_line(failed))
    shown_to_user = agent in ("claude", "codex", "gemini")  # a systemMessage, not context
    context = _context(agent, names, skills or {}, message, (failed or {}) if shown_to_user else {})
    problem = _one_line("skillcrate: " + "; ".join(problems)) if problems else None
    if shown_to_user:
        out = _claude_like(context, bool(names), problem, reload_key=agent == "claude")
    else:
        text = "\n".join(part for part in (problem, context) if part)
        key = "additional_context" if agent == "cursor" else "additionalContext"
        out = {key: text} if text else {}
    return json.dumps(out, ensure_ascii=False)


def _failed_line(failed: Mapping[str, str]) -> str:
    reasons = "; ".join(f"{n}: {(why or 'failed').splitlines()[0]}" for n, why in failed.items())
    return f"could not install {', '.join(failed)} ({reasons})"
