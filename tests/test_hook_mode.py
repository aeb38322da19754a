"""`skillcrate install --hook AGENT` end to end, through the real CLI in subprocesses.

Hook mode runs at every agent session start: it must print exactly one JSON document of
the agent's shape on stdout, log on stderr, always exit 0, find the project from what the
agent passes, survive concurrent sessions, and take the no-op path without any registry,
YAML or HTTP code.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli, make_skill, run_cli
from registry_server import RegistryServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "registry"
AGENTS = ("claude", "cursor", "copilot", "codex", "gemini")
PROJECT_VARS = ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR")

# Top-level keys each agent accepts from a SessionStart hook (see skillcrate.agents).
ALLOWED_TOP = {
    "claude": {"continue", "stopReason", "suppressOutput", "systemMessage", "hookSpecificOutput"},
    "codex": {"continue", "stopReason", "suppressOutput", "systemMessage", "hookSpecificOutput"},
    "gemini": {"continue", "stopReason", "suppressOutput", "systemMessage", "hookSpecificOutput"},
    "cursor": {"additional_context", "env"},
    "copilot": {"additionalContext"},
}
ALLOWED_SPECIFIC = {
    "claude": {"hookEventName", "additionalContext", "reloadSkills"},
    "codex": {"hookEventName", "additionalContext", "env"},  # a closed schema
    "gemini": {"hookEventName", "additionalContext"},
}
# Heavy modules the no-op path must never import.
FORBIDDEN_ON_NOOP = (
    "requests",
    "urllib3",
    "http.client",
    "ssl",
    "yaml",
    "skillcrate.oci",
    "skillcrate.ops",
    "skillcrate.fetch",
    "skillcrate.cache",
)


@pytest.fixture(autouse=True)
def _no_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may themselves run inside an agent session: hide its project variables."""
    for name in PROJECT_VARS:
        monkeypatch.delenv(name, raising=False)


# ------------------------------------------------------------------------------ helpers


def verify(project: Path) -> int:
    return cli("-C", str(project), "verify")


def copy_layouts(tmp_path: Path) -> Path:
    dest = tmp_path / "layouts"
    for name in ("hello-world", "commit-message"):
        shutil.copytree(EXAMPLES / name, dest / name)
    return dest


def layout_project(tmp_path: Path, names: tuple[str, ...] = ("hello-world",)) -> Path:
    """A project with the example skills added (and installed) from OCI layout folders."""
    layouts = copy_layouts(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    for name in names:
        assert cli("-C", str(project), "add", f"oci:{layouts / name}") == 0
    return project


def push_skill(registry: RegistryServer, repo: str, tmp_path: Path, name: str = "reg-skill"):
    folder = make_skill(
        tmp_path / "src",
        name,
        files={"notes/tips.md": "Be brief.\n", "scripts/run.sh": "#!/bin/sh\necho hi\n"},
        version="1.0.0",
    )
    (folder / "scripts" / "run.sh").chmod(0o755)
    assert cli("push", str(folder), f"{registry.host}/{repo}:1.0.0") == 0
    return folder


def registry_project(registry: RegistryServer, repo: str, tmp_path: Path) -> Path:
    """A project with one skill added from ``registry`` (so it is cached and installed)."""
    push_skill(registry, repo, tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    assert cli("-C", str(project), "add", f"{registry.host}/{repo}") == 0
    assert (project / ".agents" / "skills" / "reg-skill" / "SKILL.md").is_file()
    return project


def session_input(cwd: Path | None = None, **extra: object) -> str:
    data: dict[str, object] = {
        "session_id": "test-session",
        "hook_event_name": "SessionStart",
        "source": "startup",
    }
    if cwd is not None:
        data["cwd"] = str(cwd)
    data.update(extra)
    return json.dumps(data)


def run_hook(
    agent: str,
    *,
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``install --hook AGENT`` as the agent does (a process); check the hook contract."""
    done = run_cli(
        "install",
        "--hook",
        agent,
        cwd=cwd,
        env=env,
        stdin=session_input(cwd) if stdin is None else stdin,
        process=True,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return parse_hook_stdout(agent, done.stdout)


def run_hooks_at_once(agents: tuple[str, ...], project: Path) -> list[tuple[int, str, str]]:
    """Start ``install --hook AGENT`` for each agent at once; (exit code, stdout, stderr) each."""
    payload = project.parent / "session-input.json"
    payload.write_text(session_input(project))
    procs = []
    for agent in agents:
        with payload.open("rb") as stdin:  # a file, so no run waits for us to feed it
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "skillcrate", "install", "--hook", agent],
                    cwd=project,
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


def parse_hook_stdout(agent: str, stdout: str) -> dict:
    """Exactly one JSON object on one line, nothing else; keys of ``agent``'s shape."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, repr(stdout)
    doc = json.loads(stdout)  # raises on anything after the document
    assert isinstance(doc, dict), stdout
    assert set(doc) <= ALLOWED_TOP[agent], doc
    specific = doc.get("hookSpecificOutput")
    if agent in ALLOWED_SPECIFIC:
        if specific is not None:
            assert set(specific) <= ALLOWED_SPECIFIC[agent], doc
            assert specific.get("hookEventName") == "SessionStart", doc
            assert isinstance(specific.get("additionalContext"), str), doc
        if "systemMessage" in doc:
            assert isinstance(doc["systemMessage"], str), doc
    else:
        for value in doc.values():
            assert isinstance(value, (str, dict)), doc
    return doc


def context_of(agent: str, doc: dict) -> str:
    """What the model is told: additional context, in the agent's key."""
    if agent == "cursor":
        return doc.get("additional_context", "")
    if agent == "copilot":
        return doc.get("additionalContext", "")
    return (doc.get("hookSpecificOutput") or {}).get("additionalContext", "")


def problem_of(agent: str, doc: dict) -> str:
    """Where a failure is reported: systemMessage where shown to the user, else context."""
    if agent in ("claude", "codex", "gemini"):
        return doc.get("systemMessage", "")
    return context_of(agent, doc)


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every regular file below ``root``: (content, exec bit), by relative path."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            mode = path.stat().st_mode & stat.S_IXUSR
            out[path.relative_to(root).as_posix()] = (path.read_bytes(), mode)
    return out


def imported_modules(stderr: str) -> set[str]:
    """Module names from ``python -X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


# ------------------------------------------------------------------ output per agent


@pytest.mark.parametrize("agent", AGENTS)
def test_hook_output_after_installing_is_one_json_document(tmp_path: Path, agent: str) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")

    done = run_cli("install", "--hook", agent, cwd=project, stdin=session_input(project))

    assert done.returncode == 0, done.stderr
    doc = parse_hook_stdout(agent, done.stdout)
    assert "hello-world" in context_of(agent, doc)
    assert not problem_of(agent, doc) or agent in ("cursor", "copilot")
    assert "skillcrate:" in done.stderr  # progress is logged on stderr, not stdout
    assert (project / ".agents" / "skills" / "hello-world" / "SKILL.md").is_file()
    if agent == "claude":
        specific = doc["hookSpecificOutput"]
        assert specific["hookEventName"] == "SessionStart"
        assert specific["reloadSkills"] is True
        assert "hello-world" in specific["additionalContext"]
        assert "systemMessage" not in doc
    else:
        assert "reloadSkills" not in json.dumps(doc)
    assert verify(project) == 0


@pytest.mark.parametrize("agent", AGENTS)
def test_hook_output_when_nothing_changed_is_empty(tmp_path: Path, agent: str) -> None:
    project = layout_project(tmp_path)
    done = run_cli("install", "--hook", agent, cwd=project, stdin=session_input(project))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "{}\n"


def test_hook_without_a_project_prints_empty_json(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_hook("claude", cwd=empty) == {}
    assert list(empty.iterdir()) == []


def test_hook_with_an_empty_stdin_still_works(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    doc = run_hook("claude", cwd=project, stdin="")
    assert doc["hookSpecificOutput"]["reloadSkills"] is True


def test_hook_with_garbage_on_stdin_still_works(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    doc = run_hook("claude", cwd=project, stdin="this is not json {")
    assert "hello-world" in doc["hookSpecificOutput"]["additionalContext"]


def _run_module_with(
    prelude: str, argv: list[str], cwd: Path, stdin: str, *extra: str
) -> subprocess.CompletedProcess:
    """``python -m skillcrate ARGV`` after running ``prelude`` in the same interpreter."""
    code = (
        f"import runpy, sys\n{prelude}\n"
        f"sys.argv = ['skillcrate', *{argv!r}]\n"
        "runpy.run_module('skillcrate', run_name='__main__', alter_sys=True)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *extra],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hook_stdout_stays_one_document_when_the_library_prints(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    prelude = (
        "import skillcrate.ops as p\n"
        "real = p.install\n"
        "def noisy(*a, **k):\n"
        "    print('noise from somewhere in the library')\n"
        "    return real(*a, **k)\n"
        "p.install = noisy"
    )

    done = _run_module_with(
        prelude, ["install", "--hook", "claude"], project, session_input(project)
    )

    assert done.returncode == 0, done.stderr
    doc = parse_hook_stdout("claude", done.stdout)
    assert doc["hookSpecificOutput"]["reloadSkills"] is True
    assert "noise from somewhere" in done.stderr


def test_hook_survives_a_deleted_working_folder(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    gone = _elsewhere(tmp_path)
    prelude = "import os\nos.chdir(sys.argv[1])\nos.rmdir(sys.argv[1])"

    for stdin, installs in ((session_input(), False), (session_input(project), True)):
        done = _run_module_with(
            prelude, ["install", "--hook", "claude"], tmp_path, stdin, str(gone)
        )
        assert done.returncode == 0, done.stderr
        doc = parse_hook_stdout("claude", done.stdout)
        assert ("hookSpecificOutput" in doc) == installs, doc
        gone.mkdir()
    assert (project / ".agents" / "skills" / "hello-world").is_dir()


# ---------------------------------------------------------------------- failures


@pytest.mark.parametrize("locked", [False, True], ids=["no-lock", "locked-not-cached"])
def test_hook_with_registry_down_and_nothing_cached_exits_zero(
    tmp_path: Path,
    fresh_registry: RegistryServer,
    repo_name: str,
    locked: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if locked:  # a fresh clone: lock committed, cache empty, registry down
        project = registry_project(fresh_registry, repo_name, tmp_path)
        shutil.rmtree(project / ".agents")
        monkeypatch.setenv("SKILLCRATE_CACHE_DIR", str(tmp_path / "empty-cache"))
    else:
        project = tmp_path / "project"
        project.mkdir()
        manifest = {"skills": [{"name": "gone", "source": f"{fresh_registry.host}/{repo_name}"}]}
        (project / "skills.json").write_text(json.dumps(manifest, indent=2) + "\n")
    before = snapshot(project)
    fresh_registry.stop()

    # a systemMessage, the closed Codex schema, a context; all at once (each waits out the
    # client's retries)
    agents = ("claude", "copilot") if locked else ("claude", "codex", "cursor")
    for agent, (code, out, err) in zip(agents, run_hooks_at_once(agents, project), strict=True):
        assert code == 0, (agent, err)
        doc = parse_hook_stdout(agent, out)
        message = problem_of(agent, doc)
        assert message.startswith("skillcrate:"), (agent, doc)
        assert fresh_registry.host in message, (agent, doc)
        assert "\n" not in message and len(message) <= 300, (agent, doc)
        assert "reloadSkills" not in json.dumps(doc)
        assert "error" in err, (agent, err)
    after = snapshot(project)
    assert after == before  # nothing written, nothing half-installed


@pytest.mark.parametrize("agent", AGENTS)
def test_hook_with_malformed_skills_json_reports_and_leaves_it(tmp_path: Path, agent: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    broken = b'{"skills": [ {"name": "x", "source": \n'
    (project / "skills.json").write_bytes(broken)

    doc = run_hook(agent, cwd=project)

    message = problem_of(agent, doc)
    assert message.startswith("skillcrate:") and "skills.json" in message, doc
    assert (project / "skills.json").read_bytes() == broken
    assert not (project / "skills.lock.json").exists()


def test_hook_with_malformed_lock_reports_and_leaves_it(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    broken = b'{"lockfileVersion": 1, "skills": [\n'
    (project / "skills.lock.json").write_bytes(broken)

    doc = run_hook("claude", cwd=project)

    assert "skills.lock.json" in doc["systemMessage"], doc
    assert (project / "skills.lock.json").read_bytes() == broken


# ---------------------------------------------------------------- finding the project


def _elsewhere(tmp_path: Path) -> Path:
    other = tmp_path / "elsewhere"
    other.mkdir()
    return other


@pytest.mark.parametrize(
    ("agent", "how"),
    [
        ("claude", "CLAUDE_PROJECT_DIR"),
        ("gemini", "GEMINI_PROJECT_DIR"),
        ("cursor", "CURSOR_PROJECT_DIR"),
        ("claude", "stdin-cwd"),
        ("codex", "stdin-cwd"),
        ("copilot", "stdin-cwd"),
        ("cursor", "workspace_roots"),
    ],
)
def test_hook_finds_the_project(tmp_path: Path, agent: str, how: str) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    other = _elsewhere(tmp_path)
    env: dict[str, str] = {}
    stdin = session_input()
    if how.endswith("_PROJECT_DIR"):
        env[how] = str(project)
    elif how == "stdin-cwd":
        stdin = session_input(project)
    else:
        stdin = session_input(workspace_roots=[str(project)])

    doc = run_hook(agent, cwd=other, stdin=stdin, env=env)

    assert "hello-world" in context_of(agent, doc)
    assert (project / ".agents" / "skills" / "hello-world" / "SKILL.md").is_file()
    assert list(other.iterdir()) == []  # nothing written where the hook was started


def test_hook_project_variable_wins_over_stdin_cwd(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    other = _elsewhere(tmp_path)
    (other / "skills.json").write_text('{"skills": []}\n')

    doc = run_hook(
        "claude",
        cwd=other,
        stdin=session_input(other),
        env={"CLAUDE_PROJECT_DIR": str(project)},
    )

    assert "hello-world" in doc["hookSpecificOutput"]["additionalContext"]
    assert not (other / ".agents").exists()


def test_hook_finds_the_project_from_a_subfolder(tmp_path: Path) -> None:
    project = layout_project(tmp_path)
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)

    doc = run_hook("claude", cwd=_elsewhere(tmp_path), stdin=session_input(sub))

    assert doc["hookSpecificOutput"]["reloadSkills"] is True
    assert (project / ".agents" / "skills" / "hello-world").is_dir()
    assert not (sub / ".agents").exists()


# ------------------------------------------------------------------------ concurrency


def test_concurrent_hook_runs_leave_an_intact_tree(tmp_path: Path) -> None:
    from skillcrate.fastpath import is_up_to_date

    project = layout_project(tmp_path, ("hello-world", "commit-message"))
    lock_before = (project / "skills.lock.json").read_bytes()
    shutil.rmtree(project / ".agents" / "skills" / "hello-world")
    shutil.rmtree(project / ".agents" / "skills" / "commit-message")

    agents = ("claude", "claude", "codex")
    results = run_hooks_at_once(agents, project)

    installed: set[str] = set()
    for agent, (code, out, err) in zip(agents, results, strict=True):
        assert code == 0, err
        doc = parse_hook_stdout(agent, out)
        assert "systemMessage" not in doc, (doc, err)
        context = context_of(agent, doc)
        installed.update(n for n in ("hello-world", "commit-message") if n in context)
    assert installed == {"hello-world", "commit-message"}
    verified = run_cli("verify", cwd=project)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert (project / "skills.lock.json").read_bytes() == lock_before
    assert is_up_to_date(project)
    assert run_hook("claude", cwd=project) == {}
    leftovers = [
        p.name for p in (project / ".agents" / "skills").iterdir() if p.name.startswith(".")
    ]
    assert sorted(leftovers) == []  # no staging leftovers; the install state is not in here


# ---------------------------------------------------------------------- no-op path


def test_noop_with_registry_stopped(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    project = registry_project(fresh_registry, repo_name, tmp_path)
    fresh_registry.stop()
    before = snapshot(project)

    done = run_cli("install", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout + done.stderr
    for agent in AGENTS:
        hooked = run_cli("install", "--hook", agent, cwd=project, stdin=session_input(project))
        assert hooked.returncode == 0, hooked.stderr
        assert hooked.stdout == "{}\n"
    assert snapshot(project) == before


@pytest.mark.parametrize("args", [("install",), ("install", "--hook", "claude")])
def test_noop_path_imports_nothing_heavy(tmp_path: Path, args: tuple[str, ...]) -> None:
    project = layout_project(tmp_path)
    assert run_cli("install", cwd=project).returncode == 0

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "skillcrate", *args],
        cwd=project,
        input=session_input(project),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    modules = imported_modules(done.stderr)
    assert "skillcrate.fastpath" in modules  # the parse works and the fast path ran
    heavy = sorted(m for m in modules if m.split(".")[0] in ("requests", "urllib3", "yaml"))
    heavy += sorted(
        m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_ON_NOOP)
    )
    assert heavy == [], f"the no-op path imported {heavy}"
    if args == ("install",):
        assert "up to date" in done.stdout + done.stderr
    else:
        assert done.stdout == "{}\n"


def test_a_changed_skills_json_leaves_the_noop_path(tmp_path: Path) -> None:
    from skillcrate.fastpath import is_up_to_date

    project = layout_project(tmp_path)
    manifest = json.loads((project / "skills.json").read_text())
    manifest["skills"][0]["version"] = "1.0.0"
    (project / "skills.json").write_text(json.dumps(manifest, indent=2) + "\n")

    done = run_cli("install", cwd=project)

    assert done.returncode == 0, done.stderr
    assert "hello-world" not in done.stdout  # still intact: not installed again
    assert is_up_to_date(project)
    assert json.loads((project / "skills.lock.json").read_text())["skills"][0]["spec"] == {
        "source": manifest["skills"][0]["source"],
        "version": "1.0.0",
    }


# ------------------------------------------------------------------- drift repair


def _damage(folder: Path, how: str) -> None:
    if how == "edited":
        (folder / "notes" / "tips.md").write_text("Be verbose instead.\n")
    elif how == "same-size-edit":
        path = folder / "notes" / "tips.md"
        old = path.read_bytes()
        path.write_bytes(old.upper())
    elif how == "deleted":
        (folder / "notes" / "tips.md").unlink()
    elif how == "extra":
        (folder / "notes" / "extra.md").write_text("not from the registry\n")
    elif how == "chmod":
        (folder / "scripts" / "run.sh").chmod(0o644)
    elif how == "folder-deleted":
        shutil.rmtree(folder)
    else:  # pragma: no cover
        raise AssertionError(how)


DAMAGE = ("edited", "same-size-edit", "deleted", "extra", "chmod", "folder-deleted")


def test_install_restores_damaged_skills_offline(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    from skillcrate.skill.tree import tree_digest_of

    project = registry_project(fresh_registry, repo_name, tmp_path)
    folder = project / ".agents" / "skills" / "reg-skill"
    pristine = snapshot(folder)
    lock_before = (project / "skills.lock.json").read_bytes()
    tree = json.loads(lock_before)["skills"][0]["tree"]
    fresh_registry.stop()  # every restore must come from the cache

    for how in DAMAGE:
        _damage(folder, how)
        assert snapshot(folder) != pristine if folder.exists() else True

        done = run_cli("install", cwd=project)

        assert done.returncode == 0, (how, done.stderr)
        assert "reg-skill" in done.stdout, (how, done.stdout, done.stderr)
        assert snapshot(folder) == pristine, how
        assert tree_digest_of(folder) == tree, how
        assert (project / "skills.lock.json").read_bytes() == lock_before, how
        assert verify(project) == 0, how
    verified = run_cli("verify", cwd=project)
    assert verified.returncode == 0, verified.stdout
    again = run_cli("install", cwd=project)
    assert again.returncode == 0 and "up to date" in again.stdout + again.stderr


def test_hook_restores_damaged_skills_offline(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    project = registry_project(fresh_registry, repo_name, tmp_path)
    folder = project / ".agents" / "skills" / "reg-skill"
    pristine = snapshot(folder)
    fresh_registry.stop()

    for how in ("edited", "extra"):
        _damage(folder, how)

        doc = run_hook("claude", cwd=project)

        assert doc["hookSpecificOutput"]["reloadSkills"] is True, how
        assert "reg-skill" in doc["hookSpecificOutput"]["additionalContext"], how
        assert "systemMessage" not in doc, how
        assert snapshot(folder) == pristine, how
        assert verify(project) == 0, how
