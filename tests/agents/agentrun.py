"""Run the real agent CLIs (Claude Code, Gemini CLI, Codex, Copilot CLI) against a project.

The CLIs come from ``tests/agents/package.json`` (pinned by its ``package-lock.json``) and are
installed by ``make agents-deps`` outside the work tree, in
``$SKILLCRATE_AGENTS_CACHE/<sha256 of package-lock.json>/node_modules`` (default cache:
``~/.cache/skillcrate-test-agents``). Nothing here needs pytest: conftest.py turns a missing
CLI into a skip (or a failure under ``CI=true``).

Every run is offline and isolated:

* a scratch ``HOME`` (and XDG folders under it); the real one is never read or written;
* a minimal environment (no inherited API keys or agent variables);
* every model endpoint and every proxy variable points at ``http://127.0.0.1:9``, where
  nothing may listen (`ensure_dead_endpoint`), with ``NO_PROXY=127.0.0.1,localhost,::1``,
  so background fetches fail at once and nothing leaves the machine;
* its own process group, killed when the run is over or after a hard timeout.

The session start, and so the SessionStart hook, happens before the first model call. Each
``run_<agent>`` function stops the agent as soon as that call was attempted (or the agent
exits) and returns an `Evidence` parsed from the agent's own output and logs.

Typical use::

    project = make_project(tmp_path / "project", "claude")  # hello-world locked, not installed
    evidence = run_claude(project, tmp_path / "home")
    assert evidence.hook_ran and evidence.hook_errors == []
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLES = REPO / "examples" / "registry"
PACKAGE_LOCK = HERE / "package-lock.json"

AGENTS: tuple[str, ...] = ("claude", "gemini", "codex", "copilot")
PACKAGES: dict[str, str] = {
    "claude": "@anthropic-ai/claude-code",
    "gemini": "@google/gemini-cli",
    "codex": "@openai/codex",
    "copilot": "@github/copilot",
}

DEAD_HOST = "127.0.0.1"
DEAD_PORT = 9  # discard: nothing may listen there
DEAD_URL = f"http://{DEAD_HOST}:{DEAD_PORT}"
NO_PROXY = "127.0.0.1,localhost,::1"
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

CLAUDE_DUMMY_KEY = "sk-ant-api03-skillcrate-offline-tests-0000000000000000000000"
GEMINI_MODEL = "gemini-2.5-flash"  # fixed: the router's classifier call would take ~75 s
CODEX_MODEL = "gpt-5"
COPILOT_MODEL = "gpt-4o"

DEFAULT_TIMEOUT = 90.0  # hard limit for one agent process, in seconds

# The real HOME, read once at import (pytest's isolated_env later points HOME elsewhere).
_REAL_HOME = Path.home()


# ------------------------------------------------------------------------------ install


def lock_digest() -> str:
    """sha256 hex of ``package-lock.json``: the name of the install folder in the cache."""
    return hashlib.sha256(PACKAGE_LOCK.read_bytes()).hexdigest()


def agents_cache() -> Path:
    """``$SKILLCRATE_AGENTS_CACHE``, else ``~/.cache/skillcrate-test-agents`` (real HOME)."""
    configured = os.environ.get("SKILLCRATE_AGENTS_CACHE", "").strip()
    return Path(configured) if configured else _REAL_HOME / ".cache" / "skillcrate-test-agents"


def node_modules() -> Path:
    """Where ``make agents-deps`` installs the pinned CLIs (same path as the Makefile)."""
    return agents_cache() / lock_digest() / "node_modules"


def agent_binary(agent: str) -> Path | None:
    """The installed CLI of ``agent`` (``node_modules/.bin/<name>``), or None."""
    path = node_modules() / ".bin" / agent
    return path if path.exists() and os.access(path, os.X_OK) else None


def pinned_version(agent: str) -> str:
    """The version ``package.json`` pins for ``agent``."""
    manifest = json.loads((HERE / "package.json").read_text())
    return str(manifest["dependencies"][PACKAGES[agent]])


def launcher() -> Path:
    """The skillcrate launcher written into hook files: an absolute path.

    ``$SKILLCRATE_AGENTS_LAUNCHER`` if set (e.g. a wheel installed elsewhere), else the
    ``skillcrate`` script beside the running interpreter (``.venv/bin`` under
    ``make test-agents``), else the repository's ``.venv/bin/skillcrate``.
    """
    configured = os.environ.get("SKILLCRATE_AGENTS_LAUNCHER", "").strip()
    if configured:
        return Path(configured).absolute()
    beside = Path(sys.executable).absolute().parent / "skillcrate"  # no resolve(): venv link
    if beside.exists():
        return beside
    return REPO / ".venv" / "bin" / "skillcrate"


# ---------------------------------------------------------------------------- isolation


class DeadEndpointError(RuntimeError):
    """Something listens on the address the agents' model endpoints point at."""


def ensure_dead_endpoint(host: str = DEAD_HOST, port: int = DEAD_PORT) -> None:
    """Raise `DeadEndpointError` if anything accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect((host, port))
        except OSError:
            return
    raise DeadEndpointError(
        f"something listens on {host}:{port}; the agent tests need it closed so that every "
        "model call and proxied request fails at once"
    )


def closed_port(host: str = DEAD_HOST) -> int:
    """A TCP port on ``host`` that nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def base_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment for an agent (or skillcrate) run with ``home`` as HOME.

    Only PATH and locale come from the caller's environment: no API keys, no agent session
    variables (the tests may run inside an agent), no proxies but the dead one.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "USER": os.environ.get("USER", "tester"),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "TZ": "UTC",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_RUNTIME_DIR": str(home / ".run"),
        "DOCKER_CONFIG": str(home / ".docker"),
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
    }
    for name in PROXY_VARS:
        env[name] = DEAD_URL
    (home / ".run").mkdir(mode=0o700, exist_ok=True)
    env.update(extra or {})
    return env


# ------------------------------------------------------------------------------ project


def skillcrate(
    project: Path, *args: str, home: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the skillcrate launcher in ``project`` with the scratch ``home``."""
    return subprocess.run(
        [str(launcher()), "-C", str(project), *args],
        cwd=project,
        env=base_env(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def make_project(
    project: Path,
    agent: str,
    *,
    home: Path | None = None,
    skills: Sequence[str] = ("hello-world",),
    uninstall: bool = True,
) -> Path:
    """A git project registered for ``agent``, as a user would set it up.

    The bundled layouts of ``examples/registry`` are vendored as ``vendor/``; each of
    ``skills`` is added with ``skillcrate add oci:./vendor/<name>``; the hook is registered
    with the absolute `launcher`. With ``uninstall`` the installed folders (and their
    ``.claude/skills`` links) are deleted again, so the session-start hook has something to
    restore. ``home`` (default: ``<project>/../skillcrate-home``) is the HOME, and so the
    cache, used for the set-up.
    """
    home = home or project.parent / "skillcrate-home"
    (project / "vendor").mkdir(parents=True)
    shutil.copytree(EXAMPLES, project / "vendor", dirs_exist_ok=True)
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(project)], check=True, env=base_env(home))
    skillcrate(project, "init", home=home)
    for name in skills:
        skillcrate(project, "add", f"oci:./vendor/{name}", home=home)
    skillcrate(project, "register", "--agent", agent, "--command", str(launcher()), home=home)
    if uninstall:
        for name in skills:
            shutil.rmtree(project / ".agents" / "skills" / name)
            link = project / ".claude" / "skills" / name
            if link.is_symlink() or link.exists():
                link.unlink()
    return project


def break_skills_json(project: Path) -> None:
    """Make ``skills.json`` invalid JSON (a cut-off document)."""
    (project / "skills.json").write_text('{"skills": [\n')


def add_dead_registry_skill(
    project: Path, port: int, *, name: str = "nothing", version: str = "1.0.0"
) -> None:
    """Add, by hand, a skill whose registry ``127.0.0.1:<port>`` does not answer."""
    path = project / "skills.json"
    doc = json.loads(path.read_text())
    doc["skills"].append(
        {"name": name, "source": f"{DEAD_HOST}:{port}/nothing/here", "version": version}
    )
    path.write_text(json.dumps(doc, indent=2) + "\n")


# ------------------------------------------------------------------------------ process


@dataclass
class ProcessRun:
    """One agent process: what it wrote and how it ended."""

    argv: list[str]
    stdout: str
    stderr: str
    exit_code: int | None  # None when we stopped it
    ended: str  # "exit": it exited; "stop": we stopped it on cue; "timeout": hard limit
    duration: float  # seconds from start to end (or to our stop)


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    logs: Path,
    stop_when: Callable[[str, str], bool] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    grace: float = 0.0,
) -> ProcessRun:
    """Run ``argv`` in its own process group until it exits, ``stop_when`` holds, or timeout.

    stdout/stderr go to ``logs/stdout``/``logs/stderr``; ``stop_when(stdout, stderr)`` is
    polled every 50 ms (it may read other log files). After a stop cue the process gets
    ``grace`` seconds more (to flush logs), then SIGTERM, then SIGKILL; the whole group is
    killed in every case, so no hook or helper outlives the run.
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout", logs / "stderr"
    start = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        ended = "timeout"
        try:
            while time.monotonic() - start < timeout:
                if proc.poll() is not None:
                    ended = "exit"
                    break
                if stop_when is not None and stop_when(_read(out_path), _read(err_path)):
                    ended = "stop"
                    break
                time.sleep(0.05)
            duration = time.monotonic() - start
            if ended == "stop" and grace > 0:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(grace)
        finally:
            _kill_group(proc)
    return ProcessRun(
        argv=[str(a) for a in argv],
        stdout=_read(out_path),
        stderr=_read(err_path),
        exit_code=proc.returncode if ended == "exit" else None,
        ended=ended,
        duration=duration,
    )


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            # the leader is gone; make sure the rest of its group is too
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _json_lines(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    events.append(doc)
    return events


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text or not text.strip():
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


# ----------------------------------------------------------------------------- evidence


@dataclass
class Evidence:
    """What one agent session showed about the SessionStart hook, from the agent's side.

    Fields an agent does not expose are None (see each ``run_<agent>``).
    """

    agent: str
    version: str
    project: Path
    home: Path
    logs: Path  # stdout, stderr and the agent's own log files of this run
    process: ProcessRun
    started: bool = False  # the session started (its init / banner was seen)
    hook_ran: bool = False  # the agent ran skillcrate's SessionStart hook
    hook_stdout: str | None = None  # the hook's raw stdout, as the agent captured it
    hook_stderr: str | None = None
    hook_exit_code: int | None = None  # as the agent reports it (None: not reported)
    hook_succeeded: bool | None = None  # the agent's own verdict on the hook run
    hook_parsed: bool | None = None  # the agent parsed the output without complaint
    hook_errors: list[str] = field(default_factory=list)  # hook failures it logged
    system_messages: list[str] = field(default_factory=list)  # shown to the user
    context: str | None = None  # additional context text that reached the model
    skills: list[str] | None = None  # skills the agent listed in this session
    reached_model: bool = False  # the session went on to (attempt) the model call

    @property
    def exit_code(self) -> int | None:
        return self.process.exit_code

    @property
    def duration(self) -> float:
        return self.process.duration

    def summary(self) -> str:
        """A few lines for assertion messages."""
        return (
            f"{self.agent} {self.version}: ended={self.process.ended} "
            f"exit={self.process.exit_code} in {self.duration:.1f}s; started={self.started} "
            f"hook_ran={self.hook_ran} exit={self.hook_exit_code} "
            f"succeeded={self.hook_succeeded} parsed={self.hook_parsed} "
            f"errors={self.hook_errors} system={self.system_messages} "
            f"context={self.context!r} skills={self.skills} reached_model={self.reached_model}"
            f"\nhook stdout: {self.hook_stdout!r}\nlogs: {self.logs}"
        )


def _require(agent: str) -> Path:
    binary = agent_binary(agent)
    if binary is None:
        raise FileNotFoundError(
            f"{PACKAGES[agent]} is not installed in {node_modules()}: run `make agents-deps`"
        )
    ensure_dead_endpoint()
    return binary


def _is_our_hook(command: str) -> bool:
    return bool(re.search(r"skillcrate\S*\s+install\s+--hook", command))


# ------------------------------------------------------------------------------- claude


def run_claude(
    project: Path,
    home: Path,
    *,
    prompt: str = "hi",
    timeout: float = DEFAULT_TIMEOUT,
    logs: Path | None = None,
) -> Evidence:
    """``claude -p PROMPT --output-format stream-json --verbose --debug-file F``.

    Claude Code exits by itself once the (dead) API refuses the connection, in about a
    second. Evidence: the stream's ``hook_response`` event (outcome, exit code, raw
    stdout/stderr) and ``init`` event (``skills``, after ``reloadSkills``); the debug file
    (``Successfully parsed and validated hook JSON output`` / ``validation failed``); the
    session transcript under ``~/.claude/projects`` (``hook_additional_context``).
    """
    binary = _require("claude")
    logs = logs or home.parent / "claude-logs"
    debug = logs / "claude-debug.log"
    _write_json(
        home / ".claude.json",
        {
            "hasCompletedOnboarding": True,
            "customApiKeyResponses": {"approved": [CLAUDE_DUMMY_KEY[-20:]], "rejected": []},
            "projects": {str(project): {"hasTrustDialogAccepted": True}},
        },
    )
    env = base_env(
        home,
        {
            "ANTHROPIC_API_KEY": CLAUDE_DUMMY_KEY,
            "ANTHROPIC_BASE_URL": DEAD_URL,
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_AUTOUPDATER": "1",
        },
    )
    argv = [binary, "-p", prompt, "--output-format", "stream-json", "--verbose"]
    argv += ["--debug-file", debug]
    run = run_process(
        argv,
        cwd=project,
        env=env,
        logs=logs,
        timeout=timeout,
        stop_when=lambda out, _err: '"type":"result"' in out,
        grace=2.0,
    )
    ev = Evidence("claude", pinned_version("claude"), project, home, logs, run)
    events = _json_lines(run.stdout)
    debug_text = _read(debug)
    for event in events:
        if event.get("type") != "system":
            continue
        if event.get("subtype") == "init":
            ev.started = True
            ev.skills = [str(s) for s in event.get("skills") or []]
        if event.get("subtype") == "hook_response" and event.get("hook_event") == "SessionStart":
            ev.hook_ran = True
            ev.hook_stdout = event.get("stdout")
            ev.hook_stderr = event.get("stderr")
            ev.hook_exit_code = event.get("exit_code")
            ev.hook_succeeded = event.get("outcome") == "success"
            if not ev.hook_succeeded:
                ev.hook_errors.append(
                    f"hook_response outcome={event.get('outcome')}: {event.get('stderr')!r}"
                )
    ours_json = (ev.hook_stdout or "").lstrip().startswith("{")
    parsed_ok = "Successfully parsed and validated hook JSON output" in debug_text
    for line in debug_text.splitlines():
        if "validation failed" in line or "Hook SessionStart:startup (SessionStart) error" in line:
            ev.hook_errors.append(line.strip())
    if ev.hook_ran:
        ev.hook_parsed = parsed_ok and ours_json and not ev.hook_errors
        doc = _json_object(ev.hook_stdout)
        if doc and isinstance(doc.get("systemMessage"), str):
            ev.system_messages.append(doc["systemMessage"])
    contexts = []
    for transcript in sorted((home / ".claude" / "projects").glob("*/*.jsonl")):
        for entry in _json_lines(_read(transcript)):
            attachment = entry.get("attachment") or {}
            if attachment.get("type") == "hook_additional_context":
                content = attachment.get("content")
                contexts.extend(content if isinstance(content, list) else [content])
    ev.context = "\n".join(str(c) for c in contexts) if contexts else None
    ev.reached_model = "API error (attempt" in debug_text or any(
        e.get("type") == "assistant" for e in events
    )
    return ev


# ------------------------------------------------------------------------------- gemini


def run_gemini(
    project: Path,
    home: Path,
    *,
    prompt: str = "hi",
    timeout: float = DEFAULT_TIMEOUT,
    logs: Path | None = None,
) -> Evidence:
    """``gemini -p PROMPT -m gemini-2.5-flash --debug --output-format stream-json``.

    The workspace is trusted through ``GEMINI_CLI_TRUST_WORKSPACE=true``. Gemini retries a
    dead endpoint for minutes: the run is stopped at its first ``Attempt 1 failed``.
    Evidence (stderr): ``Expanding hook command: …``, ``Hook execution for SessionStart: N
    hooks executed successfully`` or ``… failed``, ``Hook system message: …``; the user
    message of the stream carries ``<hook_context>…</hook_context>``. Gemini shows neither
    the hook's raw stdout nor the skills it loaded (``hook_stdout``/``skills`` stay None).
    """
    binary = _require("gemini")
    logs = logs or home.parent / "gemini-logs"
    _write_json(
        home / ".gemini" / "settings.json",
        {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "telemetry": {"enabled": False},
            "privacy": {"usageStatisticsEnabled": False},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        },
    )
    env = base_env(
        home,
        {
            "GEMINI_API_KEY": "dummy",
            "GOOGLE_GEMINI_BASE_URL": DEAD_URL,
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        },
    )
    argv = [binary, "-p", prompt, "-m", GEMINI_MODEL, "--debug", "--output-format", "stream-json"]
    run = run_process(
        argv,
        cwd=project,
        env=env,
        logs=logs,
        timeout=timeout,
        stop_when=lambda out, err: "Attempt 1 failed" in err or '"type":"result"' in out,
    )
    ev = Evidence("gemini", pinned_version("gemini"), project, home, logs, run)
    events = _json_lines(run.stdout)
    ev.started = any(e.get("type") == "init" for e in events)
    ev.hook_ran = any(
        line.startswith("Expanding hook command:") and _is_our_hook(line)
        for line in run.stderr.splitlines()
    )
    for line in run.stderr.splitlines():
        line = line.strip()
        if m := re.match(r"Hook execution for SessionStart: (.*)", line):
            outcome = m.group(1)
            if re.match(r"\d+ hooks executed successfully", outcome):
                ev.hook_succeeded = ev.hook_succeeded is not False
            else:
                ev.hook_succeeded = False
                ev.hook_errors.append(line)
        elif re.match(r"Hook\(s\) \[.*\] failed", line):
            ev.hook_errors.append(line)
        elif m := re.match(r"Hook system message: (.*)", line):
            ev.system_messages.append(m.group(1))
    if ev.hook_ran:
        ev.hook_exit_code = 0 if ev.hook_succeeded else None
        # Non-JSON stdout shows up as a system message; ours must always be JSON.
        plain = [m for m in ev.system_messages if not m.startswith("skillcrate:")]
        ev.hook_parsed = bool(ev.hook_succeeded) and not plain
        if plain:
            ev.hook_errors.append(f"hook stdout taken as plain text: {plain!r}")
    contexts = []
    for event in events:
        if event.get("type") == "message" and event.get("role") == "user":
            contexts += re.findall(
                r"<hook_context>(.*?)</hook_context>", str(event.get("content")), re.S
            )
    ev.context = "\n".join(contexts) if contexts else None
    ev.reached_model = bool(re.search(r"Attempt \d+ failed", run.stderr)) or any(
        e.get("type") == "result" for e in events
    )
    return ev


# -------------------------------------------------------------------------------- codex


def run_codex(
    project: Path,
    home: Path,
    *,
    prompt: str = "hi",
    timeout: float = DEFAULT_TIMEOUT,
    logs: Path | None = None,
    json_events: bool = False,
) -> Evidence:
    """``codex exec --trust --dangerously-bypass-hook-trust PROMPT``, stopped at ``Reconnecting``.

    ``--trust`` trusts the project; ``--dangerously-bypass-hook-trust`` runs the
    (unreviewed) project hook, which ``codex exec`` would otherwise skip silently. The
    model provider ``deadend`` in ``~/.codex/config.toml`` points at the dead endpoint;
    Codex never exits on it, so the run is stopped once it says ``Reconnecting``.

    Evidence: the plain (human) output on stderr has ``hook: SessionStart Completed`` or
    ``… Failed``; ``--json`` (``json_events=True``) drops these hook lines, so it is off by
    default. The rollout JSONL under ``~/.codex/sessions`` has the hook's additional context
    (a developer message of kind ``hooks.additional_context``) and the skills list
    (``<skills_instructions>``, built before the hook ran). Codex shows neither the hook's
    raw stdout nor its exit code; a ``systemMessage`` is recorded nowhere.
    """
    binary = _require("codex")
    logs = logs or home.parent / "codex-logs"
    config = home / ".codex" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'model_provider = "deadend"\n'
        f'model = "{CODEX_MODEL}"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        "[model_providers.deadend]\n"
        'name = "deadend"\n'
        f'base_url = "{DEAD_URL}/v1"\n'
        'env_key = "OPENAI_API_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    env = base_env(home, {"OPENAI_API_KEY": "dummy"})
    argv = [binary, "exec", "--trust", "--dangerously-bypass-hook-trust", "--skip-git-repo-check"]
    argv += ["--json", prompt] if json_events else [prompt]
    run = run_process(
        argv,
        cwd=project,
        env=env,
        logs=logs,
        timeout=timeout,
        stop_when=lambda out, err: "Reconnecting" in out or "Reconnecting" in err,
        grace=0.3,
    )
    ev = Evidence("codex", pinned_version("codex"), project, home, logs, run)
    output = run.stdout + "\n" + run.stderr
    ev.started = "session id:" in output or '"type":"thread.started"' in output
    statuses = re.findall(r"^hook: SessionStart(?: (\w+))?\s*$", output, re.M)
    ev.hook_ran = bool(statuses)
    finals = [s for s in statuses if s]
    if finals:
        ev.hook_succeeded = all(s == "Completed" for s in finals)
        ev.hook_errors += [f"hook: SessionStart {s}" for s in finals if s != "Completed"]
        ev.hook_exit_code = 0 if ev.hook_succeeded else None
    contexts: list[str] = []
    for rollout in sorted((home / ".codex" / "sessions").rglob("rollout-*.jsonl")):
        for entry in _json_lines(_read(rollout)):
            payload = entry.get("payload") or {}
            if entry.get("type") != "response_item" or payload.get("type") != "message":
                continue
            text = "".join(
                str(c.get("text", "")) for c in payload.get("content") or [] if isinstance(c, dict)
            )
            meta = payload.get("internal_chat_message_metadata_passthrough") or {}
            if "hooks.additional_context" in (meta.get("content_item_kinds") or []):
                contexts.append(text)
            if "<skills_instructions>" in text and ev.skills is None:
                listed = text.split("### Available skills", 1)[-1]
                ev.skills = re.findall(r"^- ([\w.:-]+): ", listed, re.M)
    ev.context = "\n".join(contexts) if contexts else None
    if ev.hook_ran and ev.hook_succeeded:
        # Codex drops an output it cannot validate (status Failed); plain text becomes context.
        ev.hook_parsed = True
    elif ev.hook_ran:
        ev.hook_parsed = False
    ev.reached_model = "Reconnecting" in output
    return ev


# ------------------------------------------------------------------------------ copilot


def run_copilot(
    project: Path,
    home: Path,
    *,
    prompt: str = "hi",
    timeout: float = DEFAULT_TIMEOUT,
    logs: Path | None = None,
) -> Evidence:
    """``copilot -p PROMPT --trust-folder --log-level all --log-dir D --output-format json``.

    Offline (``COPILOT_OFFLINE=true``) with a BYOK provider at the dead endpoint. Copilot
    retries the model for ~25 s: the run is stopped after its first failed model call.
    Evidence (log dir): ``loaded repo hooks (hookCount=N)``, ``[hook stdout] …`` /
    ``[hook stderr] …`` lines, ``[ERROR] [rust:hooks] Hook from "…" execution failed``;
    the first ``Wire request`` shows the context as a user message; the JSON stream's
    ``session.skills_loaded`` lists the skills. Copilot ignores a stdout that is not JSON
    without a word, so ``hook_parsed`` is our own check that the stdout is one JSON object.
    """
    binary = _require("copilot")
    logs = logs or home.parent / "copilot-logs"
    log_dir = logs / "copilot"
    env = base_env(
        home,
        {
            "COPILOT_OFFLINE": "true",
            "COPILOT_AUTO_UPDATE": "false",
            "COPILOT_PROVIDER_BASE_URL": f"{DEAD_URL}/v1",
            "COPILOT_MODEL": COPILOT_MODEL,
        },
    )
    argv = [binary, "-p", prompt, "--trust-folder", "--log-level", "all", "--log-dir", log_dir]
    argv += ["--output-format", "json"]

    def model_called(out: str, _err: str) -> bool:
        return '"type":"model.call_failure"' in out or '"type":"session.error"' in out

    run = run_process(
        argv,
        cwd=project,
        env=env,
        logs=logs,
        timeout=timeout,
        stop_when=model_called,
        grace=0.3,
    )
    ev = Evidence("copilot", pinned_version("copilot"), project, home, logs, run)
    log_text = "\n".join(_read(p) for p in sorted(log_dir.glob("*.log")))
    events = _json_lines(run.stdout)
    ev.started = any(e.get("type") == "session.skills_loaded" for e in events) or bool(log_text)
    for event in events:
        if event.get("type") == "session.skills_loaded":
            skills = (event.get("data") or {}).get("skills") or []
            ev.skills = [str(s.get("name")) for s in skills if isinstance(s, dict)]
    hook_out = re.findall(r"\[rust:hooks\] \[hook stdout\] (.*)$", log_text, re.M)
    hook_err = re.findall(r"\[rust:hooks\] \[hook stderr\] (.*)$", log_text, re.M)
    failures = re.findall(r"^.*\[ERROR\] \[rust:hooks\].*$", log_text, re.M)
    counts = re.findall(r"loaded repo hooks \(hookCount=(\d+)\)", log_text)
    ev.hook_ran = bool(counts and int(counts[-1]) > 0 and (hook_out or hook_err or failures))
    ev.hook_stdout = "\n".join(hook_out) if hook_out else None
    ev.hook_stderr = "\n".join(hook_err) if hook_err else None
    ev.hook_errors = [line.strip() for line in failures]
    if ev.hook_ran:
        codes = [int(c) for f in failures for c in re.findall(r"failed with code (\d+)", f)]
        ev.hook_exit_code = codes[0] if codes else 0
        ev.hook_succeeded = not failures
        docs = [_json_object(line) for line in hook_out]
        ev.hook_parsed = bool(docs) and all(d is not None for d in docs) and not failures
        if hook_out and not ev.hook_parsed:
            ev.hook_errors.append(f"hook stdout is not one JSON object: {hook_out!r}")
    request = _first_wire_request(log_text)
    if request:
        users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
        extra = [str(m.get("content")) for m in users[:-1]]  # the last one is the prompt
        ev.context = "\n".join(extra) if extra else None
    ev.reached_model = any(e.get("type") == "model.call_start" for e in events) or bool(request)
    return ev


def _first_wire_request(log_text: str) -> dict[str, Any] | None:
    """The JSON body of the first ``[rust:model_wire] Wire request: {…}`` in a Copilot log."""
    marker = "Wire request: "
    start = log_text.find(marker)
    if start < 0:
        return None
    lines: list[str] = []
    for line in log_text[start + len(marker) :].splitlines():
        if lines and re.match(r"\d{4}-\d\d-\d\dT", line):
            break
        lines.append(line)
    return _json_object("\n".join(lines))


# ---------------------------------------------------------------------------------- any


RUNNERS: dict[str, Callable[..., Evidence]] = {
    "claude": run_claude,
    "gemini": run_gemini,
    "codex": run_codex,
    "copilot": run_copilot,
}


def run_agent(agent: str, project: Path, home: Path, **options: Any) -> Evidence:
    """`run_claude`, `run_gemini`, `run_codex` or `run_copilot` by name."""
    return RUNNERS[agent](project, home, **options)


def _write_json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
