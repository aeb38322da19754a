"""`skillcrate register` / `unregister` through the real CLI (subprocesses).

Hook files are shared with the user's own hooks: register must merge without losing a
byte of theirs, be idempotent, and unregister must give their content back exactly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from helpers import run_cli

AGENTS = ("claude", "cursor", "copilot", "codex", "gemini")
HOOK_FILES = {
    "claude": ".claude/settings.json",
    "cursor": ".cursor/hooks.json",
    "copilot": ".github/hooks/skillcrate.json",
    "codex": ".codex/hooks.json",
    "gemini": ".gemini/settings.json",
}
EVENT = {
    "claude": "SessionStart",
    "codex": "SessionStart",
    "gemini": "SessionStart",
    "cursor": "sessionStart",
    "copilot": "sessionStart",
}
GROUPED = {"claude", "codex", "gemini"}
WORKFLOW = ".github/workflows/copilot-setup-steps.yml"

# Hook files as a user might already have them: other hooks on the same event and on
# other events, keys skillcrate knows nothing about (top level and inside entries),
# non-ASCII text. Written two-space indented with a final newline, like skillcrate writes.
EXISTING: dict[str, dict] = {
    "claude": {
        "permissions": {"allow": ["Bash(npm test)"], "deny": []},
        "hooks": {
            "PreToolUse": [
                {"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint.sh"}]}
            ],
            "SessionStart": [
                {
                    "matcher": "startup",
                    "hooks": [
                        {"type": "command", "command": "echo 'bonjour, équipe'", "x-team": 1}
                    ],
                }
            ],
        },
        "model": "opus",
        "x-unknown": {"nested": [1, 2, {"deep": None}]},
    },
    "codex": {
        "hooks": {
            "SessionStart": [
                {
                    "matcher": "startup|resume|clear",
                    "hooks": [{"type": "command", "command": "direnv export json", "timeout": 5}],
                }
            ],
            "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        },
        "x-codex-extra": True,
    },
    "gemini": {
        "general": {"vimMode": True},
        "hooks": {
            "SessionStart": [
                {"hooks": [{"name": "env", "type": "command", "command": "./env.sh"}]}
            ],
            "BeforeTool": [
                {"matcher": "run_shell", "hooks": [{"type": "command", "command": "./g.sh"}]}
            ],
        },
        "hooksConfig": {"enabled": True},
    },
    "cursor": {
        "version": 1,
        "hooks": {
            "sessionStart": [{"command": "./welcome.sh", "x-note": "keep me"}],
            "beforeShellExecution": [{"command": "./audit.sh"}],
        },
        "x-cursor": "ünknown",
    },
    "copilot": {
        "version": 1,
        "hooks": {
            "sessionStart": [{"type": "command", "bash": "./start.sh", "powershell": "./s.ps1"}],
            "preToolUse": [{"type": "command", "bash": "./guard.sh", "timeoutSec": 5}],
        },
        "x-copilot": [],
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def dump(doc: object) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_existing(project: Path, agents: tuple[str, ...] = AGENTS) -> dict[str, bytes]:
    written = {}
    for agent in agents:
        path = project / HOOK_FILES[agent]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(EXISTING[agent]), encoding="utf-8")
        written[agent] = path.read_bytes()
    return written


def read(project: Path, agent: str) -> dict:
    return json.loads((project / HOOK_FILES[agent]).read_text(encoding="utf-8"))


def cli(project: Path, *args: str):  # noqa: ANN201
    return run_cli(*args, cwd=project)


def files_state(project: Path) -> dict[str, tuple[bytes, int]]:
    """Content and mtime of every file in the project."""
    return {
        p.relative_to(project).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(project.rglob("*"))
        if p.is_file()
    }


def command_of(agent: str, entry: dict) -> str | None:
    value = entry.get("bash") if agent == "copilot" else entry.get("command")
    return value if isinstance(value, str) else None


def is_ours(agent: str, entry: dict) -> bool:
    return (command_of(agent, entry) or "").endswith(f"install --hook {agent}")


def session_items(agent: str, doc: dict) -> list:
    return doc["hooks"][EVENT[agent]]


def check_our_entry(agent: str, item: dict, command: str) -> None:
    """``item`` (a group for grouped agents, else an entry) is our hook, in the agent's shape."""
    if agent in GROUPED:
        assert set(item) <= {"matcher", "hooks"}
        if agent == "gemini":
            assert "matcher" not in item  # Gemini matches lifecycle matchers exactly
        else:
            assert item["matcher"] == "startup|resume|clear"
        (entry,) = item["hooks"]
    else:
        entry = item
    if agent in ("claude", "codex"):
        assert entry == {"type": "command", "command": command, "timeout": 120}
    elif agent == "gemini":
        assert entry["type"] == "command" and entry["command"] == command
        assert entry["name"] == "skillcrate" and entry["timeout"] == 120_000
    elif agent == "cursor":
        assert entry == {"command": command}
    else:
        assert entry == {
            "type": "command",
            "bash": command,
            "powershell": command,
            "cwd": ".",
            "timeoutSec": 120,
        }


def check_merged(agent: str, before: dict, after: dict, command: str) -> None:
    """``after`` is ``before`` plus exactly one hook of ours at the end of the event list."""
    assert list(after) == list(before)  # key order kept, nothing added at the top level
    for key, value in before.items():
        if key != "hooks":
            assert after[key] == value, (agent, key)
    assert list(after["hooks"]) == list(before["hooks"])
    for event, items in before["hooks"].items():
        if event != EVENT[agent]:
            assert after["hooks"][event] == items, (agent, event)
    old, new = session_items(agent, before), session_items(agent, after)
    assert new[:-1] == old, agent  # every other session hook unchanged, in order
    check_our_entry(agent, new[-1], command)
    if agent in ("cursor", "copilot"):
        assert after["version"] == 1


# ------------------------------------------------------------------------- merging


def test_register_all_merges_is_idempotent_and_unregister_restores(project: Path) -> None:
    originals = write_existing(project)

    done = cli(project, "register", "--agent", "all", "--command", "uvx skillcrate")

    assert done.returncode == 0, done.stderr
    for agent in AGENTS:
        assert f"{agent}: updated {HOOK_FILES[agent]}" in done.stdout
        check_merged(
            agent, EXISTING[agent], read(project, agent), f"uvx skillcrate install --hook {agent}"
        )
    assert f"copilot: created {WORKFLOW}" in done.stdout
    state = files_state(project)

    again = cli(project, "register", "--agent", "all", "--command", "uvx skillcrate")

    assert again.returncode == 0, again.stderr
    for agent in AGENTS:
        assert f"{agent}: unchanged {HOOK_FILES[agent]}" in again.stdout
    assert f"copilot: unchanged {WORKFLOW}" in again.stdout
    assert "created" not in again.stdout and "updated" not in again.stdout
    assert files_state(project) == state  # not a byte, not an mtime

    gone = cli(project, "unregister")

    assert gone.returncode == 0, gone.stderr
    for agent in AGENTS:
        assert (project / HOOK_FILES[agent]).read_bytes() == originals[agent], agent
        assert f"{agent}: updated {HOOK_FILES[agent]}" in gone.stdout
    assert not (project / WORKFLOW).exists()  # it was exactly the one register wrote
    assert f"copilot: removed {WORKFLOW}" in gone.stdout

    twice = cli(project, "unregister")
    assert twice.returncode == 0, twice.stderr
    for agent in AGENTS:
        assert (project / HOOK_FILES[agent]).read_bytes() == originals[agent], agent


@pytest.mark.parametrize("agent", AGENTS)
def test_unregister_restores_content_of_a_differently_formatted_file(
    project: Path, agent: str
) -> None:
    path = project / HOOK_FILES[agent]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(EXISTING[agent], indent=4), encoding="utf-8")

    assert cli(project, "register", "--agent", agent).returncode == 0
    check_merged(agent, EXISTING[agent], read(project, agent), f"skillcrate install --hook {agent}")
    assert cli(project, "unregister", "--agent", agent).returncode == 0

    restored = read(project, agent)
    assert restored == EXISTING[agent]
    assert json.dumps(restored) == json.dumps(EXISTING[agent])  # same key order too


def test_unregister_deletes_files_it_created_and_keeps_foreign_ones(project: Path) -> None:
    (project / ".cursor").mkdir()
    write_existing(project, ("claude",))
    assert cli(project, "register", "--agent", "all").returncode == 0

    done = cli(project, "unregister")

    assert done.returncode == 0, done.stderr
    assert read(project, "claude") == EXISTING["claude"]
    for agent in ("cursor", "copilot", "codex", "gemini"):
        assert not (project / HOOK_FILES[agent]).exists(), agent
    assert not (project / WORKFLOW).exists()


def test_register_replaces_an_old_launcher_instead_of_adding_one(project: Path) -> None:
    for agent in AGENTS:
        assert cli(project, "register", "--agent", agent).returncode == 0
    before = {agent: read(project, agent) for agent in AGENTS}

    done = cli(project, "register", "--agent", "all", "--command", "uvx skillcrate")

    assert done.returncode == 0, done.stderr
    for agent in AGENTS:
        doc = read(project, agent)
        items = session_items(agent, doc)
        assert len(items) == 1, (agent, doc)  # replaced in place, not duplicated
        check_our_entry(agent, items[0], f"uvx skillcrate install --hook {agent}")
        assert list(doc) == list(before[agent])


def test_command_option_lands_in_every_hook(project: Path) -> None:
    done = cli(project, "register", "--agent", "all", "--command", "uvx skillcrate")

    assert done.returncode == 0, done.stderr
    for agent in AGENTS:
        (item,) = session_items(agent, read(project, agent))
        check_our_entry(agent, item, f"uvx skillcrate install --hook {agent}")
        assert str(Path(sys.executable).parent) not in (project / HOOK_FILES[agent]).read_text()


@pytest.mark.parametrize(
    "launcher", ["uvx", "", "skillcrate\nrm -rf /", "skillcrate-dev --flag"], ids=repr
)
def test_register_refuses_a_bad_command(project: Path, launcher: str) -> None:
    done = cli(project, "register", "--agent", "claude", "--command", launcher)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--command" in done.stderr
    assert list(project.iterdir()) == []


# ------------------------------------------------------------------ default agents


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ((), ["claude"]),
        ((".cursor",), ["cursor"]),
        ((".github/workflows",), ["claude"]),  # a bare .github is CI, not Copilot
        ((".github/copilot-instructions.md",), ["copilot"]),
        ((".gemini", ".codex"), ["codex", "gemini"]),
    ],
    ids=["none", "cursor", "github-ci-only", "copilot", "gemini+codex"],
)
def test_default_agent_selection(project: Path, present: tuple[str, ...], expected: list) -> None:
    for rel in present:
        if rel.endswith(".md"):
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            (project / rel).write_text("Be nice.\n")
        else:
            (project / rel).mkdir(parents=True)

    done = cli(project, "register")

    assert done.returncode == 0, done.stderr
    for agent in AGENTS:
        written = (project / HOOK_FILES[agent]).is_file()
        assert written == (agent in expected), (agent, done.stdout)
        assert (f"{agent}: created" in done.stdout) == (agent in expected)
    if "claude" not in expected:
        assert not (project / ".claude").exists()


def test_register_json_output(project: Path) -> None:
    done = cli(project, "register", "--agent", "cursor", "--agent", "claude", "--json")

    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [r["agent"] for r in data] == ["cursor", "claude"]
    for row in data:
        assert set(row) == {"agent", "changes", "notices", "warnings"}
        assert row["changes"] == [
            {"path": str(project / HOOK_FILES[row["agent"]]), "action": "created"}
        ]
    assert any("next chat" in n for n in data[0]["notices"])  # Cursor does not wait


# ---------------------------------------------------------------- copilot workflow


def test_copilot_workflow_is_created_when_absent(project: Path) -> None:
    done = cli(project, "register", "--agent", "copilot", "--command", "uvx skillcrate")

    assert done.returncode == 0, done.stderr
    assert f"copilot: created {WORKFLOW}" in done.stdout
    workflow = yaml.safe_load((project / WORKFLOW).read_text())
    job = workflow["jobs"]["copilot-setup-steps"]  # Copilot only runs a job of this name
    runs = [step.get("run", "") for step in job["steps"]]
    assert "skillcrate install --frozen" in runs
    assert any(step.get("uses", "").startswith("actions/checkout") for step in job["steps"])


def test_copilot_workflow_is_untouched_when_present_and_steps_are_printed(
    project: Path,
) -> None:
    path = project / WORKFLOW
    path.parent.mkdir(parents=True)
    mine = (
        "name: Copilot Setup Steps\n"
        "on: workflow_dispatch\n"
        "jobs:\n"
        "  copilot-setup-steps:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: make deps   # my own comment\n"
    )
    path.write_text(mine)

    done = cli(project, "register", "--agent", "copilot")

    assert done.returncode == 0, done.stderr
    assert path.read_text() == mine
    assert f"copilot: unchanged {WORKFLOW}" in done.stdout
    assert WORKFLOW in done.stderr
    assert "run: skillcrate install --frozen" in done.stderr  # the steps to add by hand
    assert 'run: "pip install skillcrate==' in done.stderr
    assert (project / HOOK_FILES["copilot"]).is_file()

    gone = cli(project, "unregister", "--agent", "copilot")
    assert gone.returncode == 0, gone.stderr
    assert path.read_text() == mine  # never deleted: not ours
    assert not (project / HOOK_FILES["copilot"]).exists()


def test_copilot_workflow_that_already_installs_skills_gets_no_notice(project: Path) -> None:
    path = project / WORKFLOW
    path.parent.mkdir(parents=True)
    mine = "jobs:\n  copilot-setup-steps:\n    steps:\n      - run: skillcrate install\n"
    path.write_text(mine)

    done = cli(project, "register", "--agent", "copilot")

    assert done.returncode == 0, done.stderr
    assert path.read_text() == mine
    assert "--frozen" not in done.stderr


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize("command", ["register", "unregister"])
def test_unknown_agent_is_a_usage_error(project: Path, command: str) -> None:
    write_existing(project, ("claude",))
    before = files_state(project)

    done = cli(project, command, "--agent", "vim")

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "vim" in done.stderr
    assert done.stdout == ""
    assert files_state(project) == before


def test_malformed_hook_file_fails_and_nothing_is_written(project: Path) -> None:
    bad = project / HOOK_FILES["cursor"]
    bad.parent.mkdir(parents=True)
    bad.write_text('{\n  "version": 1,\n  "hooks": {,\n}\n')
    before = files_state(project)

    done = cli(project, "register", "--agent", "all")

    assert done.returncode == 1, done.stderr
    assert ".cursor/hooks.json:3" in done.stderr
    assert files_state(project) == before  # checked every file before writing any
    assert not (project / ".claude").exists()


def test_hook_file_of_the_wrong_shape_fails_untouched(project: Path) -> None:
    path = project / HOOK_FILES["claude"]
    path.parent.mkdir(parents=True)
    path.write_text('{"hooks": {"SessionStart": {"not": "a list"}}}\n')
    before = files_state(project)

    for command in ("register", "unregister"):
        done = cli(project, command, "--agent", "claude")
        assert done.returncode == 1, (command, done.stderr)
        assert "SessionStart" in done.stderr
        assert files_state(project) == before
