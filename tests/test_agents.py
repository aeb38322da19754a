"""Tests for skillcrate.agents: session-hook files and hook-mode output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillcrate import __version__
from skillcrate.agents import hookfiles as agents
from skillcrate.agents.hookfiles import (
    AGENTS,
    COPILOT_WORKFLOW,
    FileChange,
    default_agents,
    hook_command,
    hook_file,
    register,
    registered_hooks,
    render_hook_output,
    unregister,
)
from skillcrate.agents.specs import hook_project_dir, parse_hook_stdin
from skillcrate.errors import ProjectError, UsageError

HOOK_FILES = {
    "claude": ".claude/settings.json",
    "cursor": ".cursor/hooks.json",
    "copilot": ".github/hooks/skillcrate.json",
    "codex": ".codex/hooks.json",
    "gemini": ".gemini/settings.json",
}


def write_json(path: Path, doc: object) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


def actions(results: list[agents.RegisterResult]) -> dict[str, list[str]]:
    return {r.agent: [change.action for change in r.changes] for r in results}


# Pre-existing files with other hooks and keys skillcrate knows nothing about.
EXISTING = {
    "claude": {
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "permissions": {"allow": ["Bash(npm test)"]},
        "hooks": {
            "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "lint"}]}],
            "SessionStart": [
                {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}
            ],
        },
        "model": "opus",
    },
    "cursor": {
        "version": 1,
        "hooks": {
            "afterFileEdit": [{"command": "./format.sh"}],
            "sessionStart": [{"command": "./warm-cache.sh", "timeout": 5}],
        },
        "x-team": {"owner": "me"},
    },
    "copilot": {
        "version": 1,
        "hooks": {"sessionEnd": [{"type": "command", "bash": "./log.sh"}]},
        "disableAllHooks": False,
    },
    "codex": {
        "hooks": {
            "Stop": [{"hooks": [{"type": "command", "command": "notify"}]}],
        },
    },
    "gemini": {
        "general": {"vimMode": True},
        "hooks": {
            "BeforeTool": [
                {"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "x"}]}
            ],
        },
        "ui": {"theme": "Dracula"},
    },
}


def session_entries(agent: str, doc: dict) -> list[dict]:
    """Every hook entry under the agent's session-start event (flattening groups)."""
    event = "SessionStart" if agent in ("claude", "codex", "gemini") else "sessionStart"
    items = doc.get("hooks", {}).get(event, [])
    if agent in ("claude", "codex", "gemini"):
        return [entry for group in items for entry in group["hooks"]]
    return items


def our_entries(agent: str, doc: dict) -> list[dict]:
    return [
        entry
        for entry in session_entries(agent, doc)
        if any(agents.is_skillcrate_hook(str(v)) for v in entry.values())
    ]


# --------------------------------------------------------------------------- commands


def test_hook_command_default_launcher() -> None:
    assert hook_command("claude") == "skillcrate install --hook claude"


@pytest.mark.parametrize(
    "launcher", ["uvx skillcrate", ".venv/bin/skillcrate", "pipx run skillcrate"]
)
def test_hook_command_custom_launcher(launcher: str) -> None:
    command = hook_command("codex", launcher)
    assert command == f"{launcher} install --hook codex"
    assert agents.is_skillcrate_hook(command)


@pytest.mark.parametrize("launcher", ["", "  ", "npx other", "skillcrate\nrm -rf /"])
def test_hook_command_rejects_bad_launcher(launcher: str) -> None:
    with pytest.raises(UsageError):
        hook_command("claude", launcher)


def test_hook_command_rejects_unknown_agent() -> None:
    with pytest.raises(UsageError, match="unknown agent"):
        hook_command("vim")


@pytest.mark.parametrize(
    "command",
    [
        "skillcrate install --hook claude",
        "uvx skillcrate install --hook claude",
        "/home/me/.venv/bin/skillcrate install --hook gemini",
        r"C:\tools\skillcrate.exe install --hook copilot",
        "python -m skillcrate install  --hook cursor",
        "uvx skillcrate@1.2 install --hook codex",
    ],
)
def test_recognises_our_commands(command: str) -> None:
    assert agents.is_skillcrate_hook(command)


@pytest.mark.parametrize(
    "command",
    ["skillcrate install", "echo skillcrate", "other install --hook claude", "skillcrate doctor"],
)
def test_ignores_other_commands(command: str) -> None:
    assert not agents.is_skillcrate_hook(command)


def test_resolve_agents_all_and_dedupe() -> None:
    assert agents.resolve_agents(["all"]) == list(AGENTS)
    assert agents.resolve_agents(["codex", "claude", "codex"]) == ["codex", "claude"]
    with pytest.raises(UsageError):
        agents.resolve_agents(["claude", "emacs"])


# --------------------------------------------------------------------------- file shapes


def test_claude_shape(tmp_path: Path) -> None:
    register(tmp_path, ["claude"])
    assert read_json(tmp_path / ".claude/settings.json") == {
        "hooks": {
            "SessionStart": [
                {
                    "matcher": "startup|resume|clear",
                    "hooks": [
                        {
                            "type": "command",
                            "command": "skillcrate install --hook claude",
                            "timeout": 120,
                        }
                    ],
                }
            ]
        }
    }


def test_codex_shape(tmp_path: Path) -> None:
    results = register(tmp_path, ["codex"])
    assert read_json(tmp_path / ".codex/hooks.json") == {
        "hooks": {
            "SessionStart": [
                {
                    "matcher": "startup|resume|clear",
                    "hooks": [
                        {
                            "type": "command",
                            "command": "skillcrate install --hook codex",
                            "timeout": 120,
                        }
                    ],
                }
            ]
        }
    }
    assert any("trusted" in notice for notice in results[0].notices)


def test_gemini_shape(tmp_path: Path) -> None:
    register(tmp_path, ["gemini"])
    doc = read_json(tmp_path / ".gemini/settings.json")
    (group,) = doc["hooks"]["SessionStart"]
    # Gemini compares lifecycle matchers as one exact string: no matcher = every source.
    assert "matcher" not in group
    (entry,) = group["hooks"]
    assert entry["name"] == "skillcrate"
    assert entry["type"] == "command"
    assert entry["command"] == "skillcrate install --hook gemini"
    assert entry["timeout"] == 120_000  # milliseconds


def test_cursor_shape(tmp_path: Path) -> None:
    register(tmp_path, ["cursor"])
    assert read_json(tmp_path / ".cursor/hooks.json") == {
        "version": 1,
        "hooks": {"sessionStart": [{"command": "skillcrate install --hook cursor"}]},
    }


def test_copilot_shape(tmp_path: Path) -> None:
    register(tmp_path, ["copilot"], launcher="uvx skillcrate")
    assert read_json(tmp_path / ".github/hooks/skillcrate.json") == {
        "version": 1,
        "hooks": {
            "sessionStart": [
                {
                    "type": "command",
                    "bash": "uvx skillcrate install --hook copilot",
                    "powershell": "uvx skillcrate install --hook copilot",
                    "cwd": ".",
                    "timeoutSec": 120,
                }
            ]
        },
    }


@pytest.mark.parametrize("agent", AGENTS)
def test_written_files_are_two_space_json_with_newline(tmp_path: Path, agent: str) -> None:
    register(tmp_path, [agent])
    path = tmp_path / HOOK_FILES[agent]
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert hook_file(tmp_path, agent) == path


def test_launcher_is_never_resolved_to_an_absolute_path(tmp_path: Path) -> None:
    register(tmp_path, ["all"])
    for agent in AGENTS:
        (entry,) = our_entries(agent, read_json(tmp_path / HOOK_FILES[agent]))
        command = entry.get("command") or entry.get("bash")
        assert command == f"skillcrate install --hook {agent}"


# --------------------------------------------------------------------------- merging


@pytest.mark.parametrize("agent", AGENTS)
def test_register_keeps_everything_else(tmp_path: Path, agent: str) -> None:
    path = tmp_path / HOOK_FILES[agent]
    write_json(path, EXISTING[agent])
    (result,) = register(tmp_path, [agent])
    assert result.changes[0] == FileChange(path, "updated")

    doc = read_json(path)
    # Key order of the top level and of "hooks" is kept; new keys only append.
    assert list(doc)[: len(EXISTING[agent])] == list(EXISTING[agent])
    old_hooks = EXISTING[agent]["hooks"]
    assert list(doc["hooks"])[: len(old_hooks)] == list(old_hooks)
    for key, value in EXISTING[agent].items():
        if key != "hooks":
            assert doc[key] == value
    for event, items in old_hooks.items():
        if event.lower() != "sessionstart":
            assert doc["hooks"][event] == items
    # Other session-start hooks survive, ours is added once.
    others = [e for e in session_entries(agent, EXISTING[agent])]
    assert all(e in session_entries(agent, doc) for e in others)
    assert len(our_entries(agent, doc)) == 1


@pytest.mark.parametrize("agent", AGENTS)
def test_register_twice_is_unchanged(tmp_path: Path, agent: str) -> None:
    path = tmp_path / HOOK_FILES[agent]
    write_json(path, EXISTING[agent])
    register(tmp_path, [agent])
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    (result,) = register(tmp_path, [agent])
    assert result.changes[0].action == "unchanged"
    assert path.read_bytes() == first
    assert path.stat().st_mtime_ns == mtime
    assert len(our_entries(agent, read_json(path))) == 1


@pytest.mark.parametrize("agent", AGENTS)
def test_changed_launcher_replaces_not_duplicates(tmp_path: Path, agent: str) -> None:
    path = tmp_path / HOOK_FILES[agent]
    write_json(path, EXISTING[agent])
    register(tmp_path, [agent])
    before_doc = read_json(path)
    before = session_entries(agent, before_doc)
    (old_ours,) = our_entries(agent, before_doc)
    (result,) = register(tmp_path, [agent], launcher=".venv/bin/skillcrate")
    assert result.changes[0].action == "updated"
    doc = read_json(path)
    (ours,) = our_entries(agent, doc)
    assert ours.get("command", ours.get("bash")) == f".venv/bin/skillcrate install --hook {agent}"
    # Same position as before.
    after = session_entries(agent, doc)
    assert len(after) == len(before)
    assert after.index(ours) == before.index(old_ours)


def test_changed_launcher_keeps_position_and_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / ".claude/settings.json"
    write_json(
        path,
        {
            "hooks": {
                "SessionStart": [
                    {
                        "matcher": "startup|resume|clear",
                        "hooks": [
                            {
                                "type": "command",
                                "command": "skillcrate install --hook claude",
                                "timeout": 120,
                                "statusMessage": "Installing skills",
                            }
                        ],
                    },
                    {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]},
                ]
            }
        },
    )
    register(tmp_path, ["claude"], launcher="uvx skillcrate")
    groups = read_json(path)["hooks"]["SessionStart"]
    assert groups[0]["hooks"] == [
        {
            "type": "command",
            "command": "uvx skillcrate install --hook claude",
            "timeout": 120,
            "statusMessage": "Installing skills",
        }
    ]
    assert groups[1] == {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}


def test_duplicates_collapse_to_one(tmp_path: Path) -> None:
    path = tmp_path / ".claude/settings.json"
    ours = {"type": "command", "command": "skillcrate install --hook claude", "timeout": 120}
    write_json(
        path,
        {
            "hooks": {
                "SessionStart": [
                    {"matcher": "startup|resume|clear", "hooks": [ours]},
                    {"matcher": "startup", "hooks": [{"type": "command", "command": "a"}, ours]},
                    {
                        "matcher": "resume",
                        "hooks": [dict(ours, command="uvx skillcrate install --hook claude")],
                    },
                ]
            }
        },
    )
    register(tmp_path, ["claude"])
    assert read_json(path)["hooks"]["SessionStart"] == [
        {"matcher": "startup|resume|clear", "hooks": [ours]},
        {"matcher": "startup", "hooks": [{"type": "command", "command": "a"}]},
    ]


def test_our_entry_in_a_foreign_group_moves_to_its_own_group(tmp_path: Path) -> None:
    path = tmp_path / ".codex/hooks.json"
    write_json(
        path,
        {
            "hooks": {
                "SessionStart": [
                    {
                        "matcher": "startup",
                        "hooks": [
                            {"type": "command", "command": "echo hi"},
                            {"type": "command", "command": "skillcrate install --hook codex"},
                        ],
                    }
                ]
            }
        },
    )
    register(tmp_path, ["codex"])
    groups = read_json(path)["hooks"]["SessionStart"]
    assert groups[0] == {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}
    assert groups[1]["matcher"] == "startup|resume|clear"
    assert groups[1]["hooks"][0]["command"] == "skillcrate install --hook codex"


def test_empty_file_is_filled(tmp_path: Path) -> None:
    path = tmp_path / ".cursor/hooks.json"
    path.parent.mkdir()
    path.write_text("\n", encoding="utf-8")
    (result,) = register(tmp_path, ["cursor"])
    assert result.changes[0].action == "updated"
    assert read_json(path)["version"] == 1


# --------------------------------------------------------------------------- refusing


@pytest.mark.parametrize("agent", AGENTS)
def test_malformed_file_is_refused_and_untouched(tmp_path: Path, agent: str) -> None:
    path = tmp_path / HOOK_FILES[agent]
    path.parent.mkdir(parents=True)
    text = '{\n  "hooks": {\n    "SessionStart": [,]\n  }\n}\n'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProjectError) as info:
        register(tmp_path, [agent])
    assert str(path) in str(info.value)
    assert f"{path}:3:" in str(info.value)
    assert path.read_text(encoding="utf-8") == text
    with pytest.raises(ProjectError):
        unregister(tmp_path, [agent])
    assert path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    ("agent", "doc", "line"),
    [
        ("claude", [], 1),
        ("claude", {"a": 1, "hooks": []}, 3),
        ("claude", {"hooks": {"SessionStart": {"matcher": "startup"}}}, 3),
        ("codex", {"hooks": {"SessionStart": [{"matcher": "startup"}]}}, 3),
        ("gemini", {"hooks": {"SessionStart": ["echo"]}}, 3),
        ("cursor", {"version": 1, "hooks": {"sessionStart": "cmd"}}, 4),
    ],
)
def test_wrong_shape_is_refused(tmp_path: Path, agent: str, doc: object, line: int) -> None:
    path = tmp_path / HOOK_FILES[agent]
    text = write_json(path, doc)
    with pytest.raises(ProjectError, match=rf"{path}:{line}:"):
        register(tmp_path, [agent])
    assert path.read_text(encoding="utf-8") == text


def test_nothing_is_written_when_one_file_is_malformed(tmp_path: Path) -> None:
    bad = tmp_path / ".gemini/settings.json"
    bad.parent.mkdir()
    bad.write_text("{ // comments are not JSON\n}\n", encoding="utf-8")
    with pytest.raises(ProjectError):
        register(tmp_path, ["claude", "gemini"])
    assert not (tmp_path / ".claude").exists()


# --------------------------------------------------------------------------- unregister


@pytest.mark.parametrize("agent", AGENTS)
def test_register_then_unregister_restores_original_bytes(tmp_path: Path, agent: str) -> None:
    path = tmp_path / HOOK_FILES[agent]
    original = write_json(path, EXISTING[agent])
    register(tmp_path, [agent], launcher="uvx skillcrate")
    assert path.read_text(encoding="utf-8") != original
    (result,) = unregister(tmp_path, [agent])
    assert result.changes[0] == FileChange(path, "updated")
    assert path.read_text(encoding="utf-8") == original


def test_unregister_restores_parsed_json_of_compact_file(tmp_path: Path) -> None:
    path = tmp_path / ".claude/settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(EXISTING["claude"]), encoding="utf-8")  # one line, no newline
    register(tmp_path, ["claude"])
    unregister(tmp_path, ["claude"])
    assert read_json(path) == EXISTING["claude"]
    assert list(read_json(path)) == list(EXISTING["claude"])


@pytest.mark.parametrize("agent", AGENTS)
def test_unregister_deletes_a_file_holding_only_our_hook(tmp_path: Path, agent: str) -> None:
    register(tmp_path, [agent])
    path = tmp_path / HOOK_FILES[agent]
    results = unregister(tmp_path, [agent])
    assert FileChange(path, "removed") in results[0].changes
    assert not path.exists()


def test_unregister_drops_containers_it_emptied(tmp_path: Path) -> None:
    path = tmp_path / ".claude/settings.json"
    write_json(path, {"permissions": {"allow": []}})
    register(tmp_path, ["claude"])
    unregister(tmp_path, ["claude"])
    assert read_json(path) == {"permissions": {"allow": []}}


def test_unregister_keeps_other_session_hooks(tmp_path: Path) -> None:
    path = tmp_path / ".cursor/hooks.json"
    write_json(
        path,
        {
            "version": 1,
            "hooks": {
                "sessionStart": [
                    {"command": "./a.sh"},
                    {"command": "skillcrate install --hook cursor"},
                    {"command": "uvx skillcrate install --hook cursor"},
                ]
            },
        },
    )
    unregister(tmp_path, ["cursor"])
    assert read_json(path) == {"version": 1, "hooks": {"sessionStart": [{"command": "./a.sh"}]}}


def test_unregister_without_files_changes_nothing(tmp_path: Path) -> None:
    results = unregister(tmp_path, ["all"])
    assert all(r.changes == () for r in results)
    assert list(tmp_path.iterdir()) == []


def test_unregister_leaves_foreign_hooks_alone(tmp_path: Path) -> None:
    path = tmp_path / ".codex/hooks.json"
    text = write_json(path, EXISTING["codex"])
    (result,) = unregister(tmp_path, ["codex"])
    assert result.changes == (FileChange(path, "unchanged"),)
    assert path.read_text(encoding="utf-8") == text


# --------------------------------------------------------------------------- copilot workflow


def test_copilot_workflow_created_when_absent(tmp_path: Path) -> None:
    (result,) = register(tmp_path, ["copilot"])
    workflow = tmp_path / COPILOT_WORKFLOW
    assert FileChange(workflow, "created") in result.changes
    assert result.workflow_steps is None
    text = workflow.read_text(encoding="utf-8")
    assert "\njobs:\n  # " in text
    assert "\n  copilot-setup-steps:\n" in text
    assert text.count("\n  copilot-setup-steps:") == 1
    assert "actions/checkout@" in text
    assert "actions/setup-python@" in text
    assert f'run: "pip install skillcrate=={__version__}"\n' in text  # pinned, stated
    assert "run: skillcrate install --frozen\n" in text
    assert "\t" not in text
    assert any("--install" in n for n in result.notices)


def test_copilot_workflow_install_command_is_configurable(tmp_path: Path) -> None:
    workflow = tmp_path / COPILOT_WORKFLOW
    register(tmp_path, ["copilot"], install="pip install ./tools/skillcrate.whl")
    assert 'run: "pip install ./tools/skillcrate.whl"\n' in workflow.read_text()
    (again,) = register(tmp_path, ["copilot"], install="pipx install skillcrate: odd # name")
    assert FileChange(workflow, "updated") in again.changes  # ours: rewritten, not skipped
    assert 'run: "pipx install skillcrate: odd # name"\n' in workflow.read_text()  # quoted
    (undone,) = unregister(tmp_path, ["copilot"])
    assert FileChange(workflow, "removed") in undone.changes
    with pytest.raises(UsageError):
        register(tmp_path, ["copilot"], install="pip install x\nrm -rf /")


def test_a_workflow_written_before_the_install_was_quoted_is_still_ours(tmp_path: Path) -> None:
    from skillcrate.agents.hookfiles import _WORKFLOW

    workflow = tmp_path / COPILOT_WORKFLOW
    workflow.parent.mkdir(parents=True)
    workflow.write_text(_WORKFLOW.replace("{install}", "pip install skillcrate"))
    (undone,) = unregister(tmp_path, ["copilot"])
    assert FileChange(workflow, "removed") in undone.changes


def test_copilot_workflow_left_alone_when_present(tmp_path: Path) -> None:
    workflow = tmp_path / COPILOT_WORKFLOW
    workflow.parent.mkdir(parents=True)
    original = "name: setup\njobs:\n  copilot-setup-steps:\n    runs-on: ubuntu-latest\n"
    workflow.write_text(original, encoding="utf-8")
    (result,) = register(tmp_path, ["copilot"])
    assert FileChange(workflow, "unchanged") in result.changes
    assert workflow.read_text(encoding="utf-8") == original
    assert result.workflow_steps is not None
    assert "skillcrate install --frozen" in result.workflow_steps
    assert any(result.workflow_steps in notice for notice in result.notices)
    # unregister does not touch a workflow it did not write
    (undone,) = unregister(tmp_path, ["copilot"])
    assert workflow.read_text(encoding="utf-8") == original
    assert FileChange(workflow, "unchanged") in undone.changes


def test_copilot_workflow_already_installing_skillcrate(tmp_path: Path) -> None:
    workflow = tmp_path / COPILOT_WORKFLOW
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "jobs:\n  copilot-setup-steps:\n    steps:\n      - run: skillcrate install --frozen\n"
    )
    (result,) = register(tmp_path, ["copilot"])
    assert result.workflow_steps is None
    (undone,) = unregister(tmp_path, ["copilot"])
    assert workflow.exists()
    assert any("by hand" in notice for notice in undone.notices)


# --------------------------------------------------------------------------- detection


def test_default_agents_none_means_claude(tmp_path: Path) -> None:
    assert default_agents(tmp_path) == ["claude"]


def test_default_agents_bare_github_is_not_copilot(tmp_path: Path) -> None:
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/ci.yml").write_text("on: push\n")
    assert default_agents(tmp_path) == ["claude"]


@pytest.mark.parametrize(
    "marker",
    [".github/hooks/", ".github/copilot-instructions.md", ".github/skills/", COPILOT_WORKFLOW],
)
def test_default_agents_copilot_markers(tmp_path: Path, marker: str) -> None:
    target = tmp_path / marker
    if marker.endswith("/"):
        target.mkdir(parents=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("x")
    assert default_agents(tmp_path) == ["copilot"]


def test_default_agents_folders_in_canonical_order(tmp_path: Path) -> None:
    for folder in (".gemini", ".codex", ".cursor"):
        (tmp_path / folder).mkdir()
    (tmp_path / ".claude").write_text("not a folder")
    assert default_agents(tmp_path) == ["cursor", "codex", "gemini"]


# --------------------------------------------------------------------------- registered_hooks


def test_registered_hooks(tmp_path: Path) -> None:
    assert registered_hooks(tmp_path) == {agent: [] for agent in AGENTS}
    write_json(tmp_path / ".cursor/hooks.json", EXISTING["cursor"])
    register(tmp_path, ["claude", "cursor"], launcher="uvx skillcrate")
    found = registered_hooks(tmp_path)
    assert found["claude"] == ["uvx skillcrate install --hook claude"]
    assert found["cursor"] == ["uvx skillcrate install --hook cursor"]
    assert found["codex"] == found["gemini"] == found["copilot"] == []


# --------------------------------------------------------------------------- hook output


def test_claude_output_when_installed() -> None:
    out = json.loads(render_hook_output("claude", installed=["pdf", "docx"]))
    assert out == {
        "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": out["hookSpecificOutput"]["additionalContext"],
            "reloadSkills": True,
        }
    }
    assert "pdf, docx" in out["hookSpecificOutput"]["additionalContext"]


@pytest.mark.parametrize("agent", AGENTS)
def test_output_is_empty_object_when_nothing_to_say(agent: str) -> None:
    assert render_hook_output(agent, installed=[]) == "{}"
    assert render_hook_output(agent, installed=(), message="  ", error="") == "{}"


@pytest.mark.parametrize("agent", AGENTS)
def test_output_is_one_json_object_line(agent: str) -> None:
    text = render_hook_output(agent, installed=["a"], message="note\nmore", error="x\ny")
    assert "\n" not in text
    assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize("agent", ["claude", "codex", "gemini"])
def test_failure_is_a_short_system_message(agent: str) -> None:
    out = json.loads(render_hook_output(agent, installed=[], error="registry down\n" + "x" * 999))
    assert set(out) == {"systemMessage"}
    assert out["systemMessage"].startswith("skillcrate: registry down")
    assert len(out["systemMessage"]) <= 300
    assert "decision" not in out and "continue" not in out


def test_codex_output_fits_its_closed_schema() -> None:
    out = json.loads(render_hook_output("codex", installed=["a"], message="m", error="e"))
    assert set(out) <= {
        "continue",
        "stopReason",
        "suppressOutput",
        "systemMessage",
        "hookSpecificOutput",
    }
    assert set(out["hookSpecificOutput"]) <= {"hookEventName", "additionalContext", "env"}
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"


def test_gemini_output() -> None:
    out = json.loads(render_hook_output("gemini", installed=["a"]))
    assert out == {
        "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": out["hookSpecificOutput"]["additionalContext"],
        }
    }


def test_cursor_output() -> None:
    out = json.loads(render_hook_output("cursor", installed=["a"], error="boom"))
    assert set(out) == {"additional_context"}
    assert "skillcrate: boom" in out["additional_context"]
    assert "a" in out["additional_context"]


def test_copilot_output() -> None:
    out = json.loads(render_hook_output("copilot", installed=["a"], message="hello"))
    assert set(out) == {"additionalContext"}
    assert "hello" in out["additionalContext"]


def test_message_without_installs_adds_context_without_reload() -> None:
    out = json.loads(render_hook_output("claude", installed=[], message="skills are up to date"))
    assert out["hookSpecificOutput"]["additionalContext"] == "skills are up to date"
    assert "reloadSkills" not in out["hookSpecificOutput"]


def test_render_rejects_unknown_agent() -> None:
    with pytest.raises(UsageError):
        render_hook_output("vim", installed=[])


# --------------------------------------------------------------------------- hook input


@pytest.mark.parametrize("text", ["", "   ", "not json", "[1, 2]", '"str"', "{", "null"])
def test_parse_hook_stdin_lenient(text: str) -> None:
    assert parse_hook_stdin(text) == {}


def test_parse_hook_stdin_object() -> None:
    assert parse_hook_stdin('{"cwd": "/p", "source": "startup"}') == {
        "cwd": "/p",
        "source": "startup",
    }


def test_project_dir_from_claude_env(tmp_path: Path) -> None:
    env = {"CLAUDE_PROJECT_DIR": "/proj"}
    assert hook_project_dir("claude", env, {"cwd": "/elsewhere"}, tmp_path) == Path("/proj")


def test_project_dir_from_gemini_env(tmp_path: Path) -> None:
    env = {"GEMINI_PROJECT_DIR": "/g", "CLAUDE_PROJECT_DIR": "/c"}
    assert hook_project_dir("gemini", env, {}, tmp_path) == Path("/g")


def test_project_dir_from_cursor(tmp_path: Path) -> None:
    stdin = {"workspace_roots": ["/w1", "/w2"], "cwd": "/c"}
    assert hook_project_dir("cursor", {}, stdin, tmp_path) == Path("/w1")
    env = {"CURSOR_PROJECT_DIR": "/cur"}
    assert hook_project_dir("cursor", env, stdin, tmp_path) == Path("/cur")


@pytest.mark.parametrize("agent", ["codex", "copilot"])
def test_project_dir_from_stdin_cwd(tmp_path: Path, agent: str) -> None:
    env = {"CLAUDE_PROJECT_DIR": "/not-for-this-agent"}
    assert hook_project_dir(agent, env, {"cwd": "/repo"}, tmp_path) == Path("/repo")


def test_project_dir_falls_back_to_cwd(tmp_path: Path) -> None:
    assert hook_project_dir("claude", {"CLAUDE_PROJECT_DIR": ""}, {"cwd": 3}, tmp_path) == tmp_path


def test_project_dir_relative_values_are_relative_to_cwd(tmp_path: Path) -> None:
    assert hook_project_dir("codex", {}, {"cwd": "sub"}, tmp_path) == tmp_path / "sub"
