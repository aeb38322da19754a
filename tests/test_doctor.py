"""`skillcrate doctor` through the real CLI: what it checks, its exit code, its JSON, and
that it never prints a secret."""

from __future__ import annotations

import base64
import json
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import cli, make_skill, run_cli
from registry_server import RegistryServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "registry"
# A launcher that exists on every machine running these tests.
LAUNCHER = f"{shlex.quote(sys.executable)} -m skillcrate"
STATUSES = {"ok", "warn", "fail"}
AREAS = {"project", "install", "hooks", "registry"}


@pytest.fixture(autouse=True)
def _no_agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A healthy project: hello-world from an OCI layout, installed, Claude hook registered."""
    layouts = tmp_path / "layouts"
    for name in ("hello-world", "commit-message"):
        shutil.copytree(EXAMPLES / name, layouts / name)
    folder = tmp_path / "project"
    folder.mkdir()
    assert cli("-C", str(folder), "add", f"oci:{layouts / 'hello-world'}") == 0
    assert cli("-C", str(folder), "register", "--agent", "claude", "--command", LAUNCHER) == 0
    return folder


def doctor(project: Path, *args: str, env: dict[str, str] | None = None):  # noqa: ANN201
    return run_cli("doctor", *args, cwd=project, env=env)


def doctor_json(project: Path, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    done = doctor(project, "--json", env=env)
    checks = json.loads(done.stdout)  # stdout is the JSON document and nothing else
    check_shape(checks)
    assert done.returncode == (1 if any(c["status"] == "fail" for c in checks) else 0)
    return done.returncode, checks


def check_shape(checks: object) -> None:
    assert isinstance(checks, list) and checks
    for c in checks:
        assert isinstance(c, dict)
        assert set(c) == {"area", "subject", "status", "detail", "fix"}, c
        assert c["area"] in AREAS, c
        assert c["status"] in STATUSES, c
        assert all(isinstance(c[k], str) for k in c), c
        assert c["subject"] and c["detail"], c
        if c["status"] == "fail":
            assert c["fix"] or c["area"] == "registry", c


def failing(checks: list[dict]) -> list[dict]:
    return [c for c in checks if c["status"] == "fail"]


def fail_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("[FAIL]")]


# ------------------------------------------------------------------------- healthy


def test_healthy_project_passes(project: Path) -> None:
    done = doctor(project)

    assert done.returncode == 0, done.stdout + done.stderr
    assert fail_lines(done.stdout) == []
    assert "[ok  ] hooks: claude" in done.stdout
    code, checks = doctor_json(project)
    assert code == 0
    assert {c["status"] for c in checks} == {"ok"}, checks
    assert {c["area"] for c in checks} == AREAS
    (hook,) = [c for c in checks if c["area"] == "hooks"]
    assert hook["subject"] == "claude"


def test_json_output_shape_when_failing(project: Path) -> None:
    (project / ".agents" / "skills" / "hello-world" / "SKILL.md").write_text("changed\n")

    code, checks = doctor_json(project)

    assert code == 1
    assert [c["area"] for c in failing(checks)] == ["install"]


def test_unregistered_project_only_warns(project: Path) -> None:
    assert cli("-C", str(project), "unregister") == 0

    code, checks = doctor_json(project)

    assert code == 0
    (warn,) = [c for c in checks if c["status"] == "warn"]
    assert warn["area"] == "hooks" and "register" in warn["fix"]


# ------------------------------------------------------------------------ failures


def test_modified_installed_file_fails_naming_the_skill(project: Path) -> None:
    (project / ".agents" / "skills" / "hello-world" / "SKILL.md").write_text("changed\n")

    done = doctor(project)

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert "hello-world" in line and "modified" in line
    assert "skillcrate install" in done.stdout  # the fix is explained


@pytest.mark.parametrize(("damage", "problem"), [("deleted", "not installed"), ("extra", "extra")])
def test_missing_skill_or_extra_file_fails(project: Path, damage: str, problem: str) -> None:
    folder = project / ".agents" / "skills" / "hello-world"
    if damage == "deleted":
        shutil.rmtree(folder)
    else:
        (folder / "notes.md").write_text("mine\n")

    done = doctor(project)

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert "hello-world" in line and problem in line


@pytest.mark.parametrize("change", ["added", "range-moved", "lock-missing"])
def test_skills_json_and_lock_disagreement_fails(project: Path, change: str) -> None:
    manifest_path, lock_path = project / "skills.json", project / "skills.lock.json"
    manifest, lock = json.loads(manifest_path.read_text()), json.loads(lock_path.read_text())
    source = manifest["skills"][0]["source"]
    if change == "added":
        other = source.replace("hello-world", "commit-message")
        manifest["skills"].append({"name": "commit-message", "source": other})
    elif change == "range-moved":
        manifest["skills"][0]["version"] = "^2.0.0"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    if change == "lock-missing":
        lock_path.unlink()
    else:
        lock_path.write_text(json.dumps(lock, indent=2) + "\n")

    done = doctor(project)

    assert done.returncode == 1, done.stdout
    (line,) = fail_lines(done.stdout)
    assert line.startswith("[FAIL] project: skills.lock.json"), done.stdout
    if change == "added":
        assert "commit-message" in line


def test_malformed_skills_json_fails(project: Path) -> None:
    (project / "skills.json").write_text('{"skills": [}\n')

    done = doctor(project)

    assert done.returncode == 1
    assert "skills.json" in fail_lines(done.stdout)[0]


def test_registry_that_is_down_fails_with_a_reachability_message(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    skill = make_skill(tmp_path / "src", "remote-skill", version="1.0.0")
    assert cli("push", str(skill), f"{fresh_registry.host}/{repo_name}:1.0.0") == 0
    folder = tmp_path / "remote-project"
    folder.mkdir()
    assert cli("-C", str(folder), "add", f"{fresh_registry.host}/{repo_name}") == 0
    assert cli("-C", str(folder), "register", "--agent", "claude", "--command", LAUNCHER) == 0
    assert doctor(folder).returncode == 0  # healthy while the registry is up

    fresh_registry.stop()
    done = doctor(folder)

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert line.startswith(f"[FAIL] registry: {fresh_registry.host}/{repo_name}")
    assert "reach" in line and fresh_registry.host in line
    assert "[ok  ] install: .agents/skills" in done.stdout  # the local checks still ran


# --------------------------------------------------------------------------- hooks


@pytest.mark.parametrize("launcher", ["/nonexistent/skillcrate", "no-such-dir/skillcrate"])
def test_hook_launcher_that_does_not_exist_fails(project: Path, launcher: str) -> None:
    assert cli("-C", str(project), "register", "--agent", "claude", "--command", launcher) == 0

    done = doctor(project)

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert line.startswith("[FAIL] hooks: claude") and launcher in line


def test_hook_launcher_not_on_path_fails(project: Path, tmp_path: Path) -> None:
    assert cli("-C", str(project), "register", "--agent", "cursor") == 0  # bare `skillcrate`
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()

    done = doctor(project, env={"PATH": str(empty_bin)})

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert line.startswith("[FAIL] hooks: cursor") and "PATH" in line

    fake = empty_bin / "skillcrate"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    again = doctor(project, env={"PATH": str(empty_bin)})
    assert again.returncode == 0, again.stdout
    assert "[ok  ] hooks: cursor" in again.stdout


def test_hook_launcher_that_is_not_executable_fails(project: Path) -> None:
    script = project / "tools" / "skillcrate"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    launcher = "tools/skillcrate"
    assert cli("-C", str(project), "register", "--agent", "claude", "--command", launcher) == 0

    assert doctor(project).returncode == 1
    script.chmod(0o755)
    assert doctor(project).returncode == 0


def test_hook_launcher_in_the_project_via_variable_or_home(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = project / ".venv" / "bin" / "skillcrate"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    launcher = '"$CLAUDE_PROJECT_DIR"/.venv/bin/skillcrate'  # what Claude Code's docs advise
    assert cli("-C", str(project), "register", "--agent", "claude", "--command", launcher) == 0

    done = doctor(project)
    assert done.returncode == 0, done.stdout

    home = tmp_path / "home-with-tool"
    (home / "bin").mkdir(parents=True)
    shutil.copy2(script, home / "bin" / "skillcrate")
    monkeypatch.setenv("HOME", str(home))
    cmd = "~/bin/skillcrate"
    assert cli("-C", str(project), "register", "--agent", "claude", "--command", cmd) == 0
    done = doctor(project)
    assert done.returncode == 0, done.stdout

    cmd = "$SKILLCRATE_TEST_UNSET_VARIABLE/skillcrate"  # not an agent's project variable
    assert cli("-C", str(project), "register", "--agent", "claude", "--command", cmd) == 2

    # a hand-edited hook with a variable only the agent's shell knows: doctor cannot tell
    settings = project / ".claude" / "settings.json"
    settings.write_text(settings.read_text().replace("~/bin/skillcrate", cmd))
    code, checks = doctor_json(project)
    assert code == 0
    (hook,) = [c for c in checks if c["area"] == "hooks"]
    assert hook["status"] == "warn", hook


def test_malformed_hook_file_is_reported_not_fatal(project: Path) -> None:
    bad = project / ".cursor" / "hooks.json"
    bad.parent.mkdir()
    bad.write_text('{"hooks": {,}\n')

    done = doctor(project)

    assert done.returncode == 1
    assert "error:" not in done.stderr, done.stderr
    (line,) = fail_lines(done.stdout)
    assert line.startswith("[FAIL] hooks") and ".cursor/hooks.json" in line
    assert "[ok  ] registry:" in done.stdout  # the remaining checks still ran
    assert bad.read_text() == '{"hooks": {,}\n'


# --------------------------------------------------------------------------- secrets


def _secret_free(password: str, user: str, *outputs: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    for text in outputs:
        assert password not in text
        assert token not in text


def _remote_project(
    tmp_path: Path, registry: RegistryServer, repo: str, name: str = "private-skill"
) -> Path:
    skill = make_skill(tmp_path / "src", name, version="1.0.0")
    assert cli("push", str(skill), f"{registry.host}/{repo}:1.0.0") == 0
    folder = tmp_path / "private-project"
    folder.mkdir()
    assert cli("-C", str(folder), "add", f"{registry.host}/{repo}") == 0
    assert cli("-C", str(folder), "register", "--agent", "claude", "--command", LAUNCHER) == 0
    return folder


def test_doctor_never_prints_the_password(
    tmp_path: Path,
    basic_registry: RegistryServer,
    repo_name: str,
    make_docker_config: Callable[..., Path],
) -> None:
    user, password = "alice", "s3cret"
    make_docker_config({basic_registry.host: (user, password)})
    folder = _remote_project(tmp_path, basic_registry, repo_name)

    done = doctor(folder)
    verbose = doctor(folder, "-vv")
    as_json = doctor(folder, "--json")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "credentials from" in done.stdout
    for run in (done, verbose, as_json):
        _secret_free(password, user, run.stdout, run.stderr)


def test_doctor_with_rejected_credentials_fails_without_printing_them(
    tmp_path: Path,
    basic_registry: RegistryServer,
    repo_name: str,
    make_docker_config: Callable[..., Path],
) -> None:
    make_docker_config({basic_registry.host: ("alice", "s3cret")})
    folder = _remote_project(tmp_path, basic_registry, repo_name)
    wrong = "Wr0ng-Passw0rd-7d1f"
    make_docker_config({basic_registry.host: ("alice", wrong)})

    done = doctor(folder)
    verbose = doctor(folder, "-vv", "--json")

    assert done.returncode == 1
    (line,) = fail_lines(done.stdout)
    assert line.startswith(f"[FAIL] registry: {basic_registry.host}/")
    for run in (done, verbose):
        _secret_free(wrong, "alice", run.stdout, run.stderr)


def test_doctor_with_a_broken_credential_helper_reports_it(
    tmp_path: Path,
    basic_registry: RegistryServer,
    repo_name: str,
    make_docker_config: Callable[..., Path],
) -> None:
    make_docker_config({basic_registry.host: ("alice", "s3cret")})
    folder = _remote_project(tmp_path, basic_registry, repo_name)
    make_docker_config(extra={"credHelpers": {basic_registry.host: "skillcrate-test-missing"}})

    done = doctor(folder)

    assert done.returncode == 1
    assert "error:" not in done.stderr, done.stderr
    (line,) = fail_lines(done.stdout)
    assert line.startswith("[FAIL] registry:") and "skillcrate-test-missing" in line


def test_library_doctor_resolves_layouts_against_the_project(tmp_path, monkeypatch):
    """Relative oci: sources are the project's, whatever the caller's cwd is."""
    from skillcrate.doctor import diagnose
    from skillcrate.project.context import Project

    project = tmp_path / "proj"
    shutil.copytree(EXAMPLES, project / "vendor")
    (project / "skills.json").write_text(
        json.dumps({"skills": [{"name": "hello-world", "source": "oci:./vendor/hello-world"}]})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    checks = [c for c in diagnose(Project(root=project)) if c.area == "registry"]
    assert [c.status for c in checks] == ["ok"], checks
