"""Fixtures for the real-agent tests: every test here is marked ``agents``.

They run only when selected with ``-m agents`` (``make test-agents``); ``pyproject.toml``
deselects them otherwise (``-m 'not agents'``), so ``make test`` does not start them.
The CLIs come from ``make agents-deps`` (see ``agentrun.py``); a missing node or CLI
skips a test, or fails it under ``CI=true``, like ``_require_binary`` in
``tests/conftest.py``.

* ``require_agent(agent)`` → the CLI's path, or skip/fail.
* ``agent_project(agent, **options)`` → a fresh project for ``agent`` in ``tmp_path``
  (``agentrun.make_project``: hello-world locked and registered, its folder deleted).
* ``agent_run(agent, project, **options)`` → ``agentrun.Evidence`` of one session, with a
  scratch HOME under ``tmp_path``; its summary is printed (shown for failing tests).
* ``fresh_session(agent)`` → the Evidence of one shared session per agent (session scope)
  on a fresh project: for tests that only read what a normal session start shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agentrun
import pytest

_HERE = Path(__file__).resolve().parent
_DURATIONS: list[tuple[str, str, float, str]] = []  # (agent, test, seconds, how it ended)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "agents: runs the real agent CLIs (make test-agents; select with -m agents)"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``agents`` (selected by ``-m agents`` only)."""
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.agents)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _DURATIONS:
        return
    terminalreporter.section("agent sessions")
    for agent, test, seconds, ended in _DURATIONS:
        terminalreporter.write_line(f"{seconds:6.1f}s  {agent:8} {ended:8} {test}")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _missing(message: str) -> None:
    if _in_ci():
        pytest.fail(f"{message}; CI=true, so a missing tool is an error", pytrace=False)
    pytest.skip(message)


def require_agent(agent: str) -> Path:
    """Path of the installed CLI of ``agent``; else skip (fail under ``CI=true``)."""
    if shutil.which("node") is None:
        _missing("`node` not found on PATH (install Node.js and npm, then `make agents-deps`)")
    binary = agentrun.agent_binary(agent)
    if binary is None:
        package = f"{agentrun.PACKAGES[agent]}@{agentrun.pinned_version(agent)}"
        if shutil.which("npm") is None:
            _missing(f"{package} is not installed and `npm` is not on PATH to install it")
        _missing(f"{package} is not installed in {agentrun.node_modules()}: run `make agents-deps`")
    assert binary is not None
    return binary


@pytest.fixture(scope="session", autouse=True)
def _dead_endpoint() -> None:
    """Every model endpoint points at 127.0.0.1:9: nothing may listen there."""
    try:
        agentrun.ensure_dead_endpoint()
    except agentrun.DeadEndpointError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def agent_project(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``agent_project(agent, **make_project_options)`` → a project in tmp_path."""
    made: list[str] = []

    def factory(agent: str, **options: Any) -> Path:
        require_agent(agent)
        made.append(agent)
        root = tmp_path / f"{agent}-{len(made)}"
        options.setdefault("home", root / "setup-home")
        return agentrun.make_project(root / "project", agent, **options)

    return factory


def _record(request: pytest.FixtureRequest, evidence: agentrun.Evidence) -> None:
    _DURATIONS.append(
        (evidence.agent, request.node.nodeid, evidence.duration, evidence.process.ended)
    )
    print(evidence.summary())


@pytest.fixture
def agent_run(request: pytest.FixtureRequest) -> Callable[..., agentrun.Evidence]:
    """Factory: ``agent_run(agent, project, **run_options)`` → Evidence (scratch HOME)."""

    def run(agent: str, project: Path, **options: Any) -> agentrun.Evidence:
        require_agent(agent)
        home = project.parent / "home"
        evidence = agentrun.run_agent(agent, project, home, **options)
        _record(request, evidence)
        return evidence

    return run


@pytest.fixture(scope="session")
def _fresh_sessions() -> dict[str, agentrun.Evidence]:
    return {}


@pytest.fixture
def fresh_session(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    _fresh_sessions: dict[str, agentrun.Evidence],
) -> Callable[[str], agentrun.Evidence]:
    """``fresh_session(agent)``: one shared session per agent on a fresh project.

    The project (``evidence.project``) must not be changed by the tests that share it.
    """

    def get(agent: str) -> agentrun.Evidence:
        require_agent(agent)
        if agent not in _fresh_sessions:
            root = tmp_path_factory.mktemp(f"{agent}-fresh")
            project = agentrun.make_project(root / "project", agent, home=root / "setup-home")
            evidence = agentrun.run_agent(agent, project, root / "home")
            _record(request, evidence)
            _fresh_sessions[agent] = evidence
        else:
            print(_fresh_sessions[agent].summary())
        return _fresh_sessions[agent]

    return get
