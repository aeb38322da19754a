"""The SessionStart hook in the real agent CLIs (see agentrun.py for how each one is run).

Each project is registered for one agent with the absolute launcher, has hello-world locked
but not installed, and the agent is started headlessly with every model endpoint dead: the
hook runs at session start, before the (failing) model call.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import agentrun
import pytest
from agentrun import Evidence

pytestmark = pytest.mark.agents

AGENTS = agentrun.AGENTS
SESSION_TIMEOUT = 45.0  # none of them needs more than a few seconds


def assert_session_went_on(ev: Evidence) -> None:
    """The agent started, ran our hook, saw it exit 0 and went on to call the model."""
    assert ev.process.ended != "timeout", ev.summary()
    assert ev.started, ev.summary()
    assert ev.hook_ran, ev.summary()
    assert ev.hook_succeeded, ev.summary()
    assert ev.hook_exit_code == 0, ev.summary()
    assert ev.reached_model, ev.summary()


@pytest.mark.parametrize("agent", AGENTS)
def test_hook_restores_skill_at_session_start(
    agent: str, fresh_session: Callable[[str], Evidence]
) -> None:
    ev = fresh_session(agent)
    assert ev.process.ended != "timeout", ev.summary()
    assert ev.hook_ran, ev.summary()
    skill_md = ev.project / ".agents" / "skills" / "hello-world" / "SKILL.md"
    assert skill_md.is_file(), ev.summary()
    assert "name: hello-world" in skill_md.read_text()
    if agent == "claude":
        assert (ev.project / ".claude" / "skills" / "hello-world" / "SKILL.md").is_file()
    verify = agentrun.skillcrate(ev.project, "verify", "--offline", home=ev.home, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("agent", AGENTS)
def test_agent_parses_hook_output(agent: str, fresh_session: Callable[[str], Evidence]) -> None:
    ev = fresh_session(agent)
    assert_session_went_on(ev)
    assert ev.hook_parsed, ev.summary()
    assert ev.hook_errors == [], ev.summary()
    assert ev.system_messages == [], ev.summary()


@pytest.mark.parametrize("agent", AGENTS)
def test_context_reaches_the_model(agent: str, fresh_session: Callable[[str], Evidence]) -> None:
    ev = fresh_session(agent)
    assert ev.context is not None, ev.summary()
    assert "skillcrate" in ev.context and "hello-world" in ev.context, ev.summary()


def test_claude_lists_restored_skill_in_same_session(
    fresh_session: Callable[[str], Evidence],
) -> None:
    ev = fresh_session("claude")
    assert ev.skills is not None, ev.summary()
    assert "hello-world" in ev.skills, ev.summary()


@pytest.mark.parametrize("agent", AGENTS)
def test_broken_skills_json_never_blocks_the_session(
    agent: str,
    agent_project: Callable[..., Path],
    agent_run: Callable[..., Evidence],
) -> None:
    project = agent_project(agent)
    agentrun.break_skills_json(project)
    ev = agent_run(agent, project, timeout=SESSION_TIMEOUT)
    assert_session_went_on(ev)
    assert ev.hook_errors == [], ev.summary()


@pytest.mark.parametrize("agent", AGENTS)
def test_dead_registry_never_blocks_the_session(
    agent: str,
    agent_project: Callable[..., Path],
    agent_run: Callable[..., Evidence],
) -> None:
    project = agent_project(agent)
    agentrun.add_dead_registry_skill(project, agentrun.closed_port())
    ev = agent_run(agent, project, timeout=SESSION_TIMEOUT)
    assert_session_went_on(ev)
    assert ev.hook_errors == [], ev.summary()


@pytest.mark.parametrize("agent", [a for a in AGENTS if a != "claude"])
def test_context_names_the_skill_md_for_agents_that_list_skills_early(
    agent: str, fresh_session: Callable[[str], Evidence]
) -> None:
    """Codex, Gemini and Copilot list skills before the hook runs: tell the model where."""
    ev = fresh_session(agent)
    assert ev.context is not None, ev.summary()
    assert ".agents/skills/hello-world/SKILL.md" in ev.context, ev.summary()
    assert "next session" in ev.context, ev.summary()


@pytest.mark.parametrize("agent", AGENTS)
def test_a_dead_source_does_not_cost_the_other_skills(
    agent: str,
    agent_project: Callable[..., Path],
    agent_run: Callable[..., Evidence],
) -> None:
    """One skills.json entry on a dead registry: hello-world is still installed."""
    project = agent_project(agent)
    agentrun.add_dead_registry_skill(project, agentrun.closed_port())
    ev = agent_run(agent, project, timeout=SESSION_TIMEOUT)
    assert_session_went_on(ev)
    assert (project / ".agents" / "skills" / "hello-world" / "SKILL.md").is_file(), ev.summary()
    assert ev.context is not None and "hello-world" in ev.context, ev.summary()
    if agent == "claude":
        assert ev.skills is not None and "hello-world" in ev.skills, ev.summary()


def test_claude_runs_the_user_level_hook_in_any_folder(tmp_path: Path) -> None:
    """`register -g`: ~/.claude/settings.json runs `install --hook claude --global` in a
    folder that is no project, and the user's skills are back in ~/.agents/skills and
    ~/.claude/skills."""
    import shutil
    import subprocess

    from conftest import require_agent

    require_agent("claude")
    home = tmp_path / "home"
    vendor = tmp_path / "vendor"
    shutil.copytree(agentrun.EXAMPLES, vendor)
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()

    def skillcrate(*args: str) -> None:
        subprocess.run(
            [str(agentrun.launcher()), *args],
            cwd=anywhere,
            env=agentrun.base_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=120,
        )

    skillcrate("add", "-g", f"oci:{vendor / 'hello-world'}")
    skillcrate("register", "-g", "--agent", "claude", "--command", str(agentrun.launcher()))
    shutil.rmtree(home / ".agents" / "skills" / "hello-world")
    (home / ".claude" / "skills" / "hello-world").unlink()

    ev = agentrun.run_claude(anywhere, home)
    print(ev.summary())
    assert ev.hook_ran and ev.hook_succeeded, ev.summary()
    assert (home / ".agents" / "skills" / "hello-world" / "SKILL.md").is_file(), ev.summary()
    assert (home / ".claude" / "skills" / "hello-world" / "SKILL.md").is_file()
    assert sorted(p.name for p in anywhere.iterdir()) == []  # nothing written where it ran
