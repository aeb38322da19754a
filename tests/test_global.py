"""User-level skills: ``-g/--global`` (issue 16).

The home folder is the test's own (conftest points ``HOME`` and the XDG folders at a
temporary one). Skills come from ``oci:`` layouts, so no registry is needed; the flows
are the project ones with the manifest and lock in skillcrate's config folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from skillcrate.formats import pack
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed

from helpers import make_skill, run_cli
from registry_server import IsolatedEnv


@pytest.fixture
def store(tmp_path: Path) -> Path:
    for name in ("review", "testing"):
        folder = make_skill(tmp_path / "src" / name, name, f"The {name} skill. Use when testing.")
        push_packed(
            LayoutRepository(tmp_path / "store" / name), pack(folder, tag="1.0.0"), ["1.0.0"]
        )
    return tmp_path / "store"


def ok(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    done = run_cli(*args, cwd=cwd, stdin=stdin)
    assert done.returncode == 0, f"skillcrate {' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done


def test_add_g_installs_for_the_user_and_keeps_the_project_alone(
    store: Path, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    home, files = isolated_env.home, isolated_env.config_dir / "global"
    project = tmp_path / "some-project"
    project.mkdir()
    ok("add", "-g", f"oci:{store / 'review'}", cwd=project)
    assert (home / ".agents/skills/review/SKILL.md").is_file()  # Codex, Gemini, Copilot, Cursor
    link = home / ".claude/skills/review"  # Claude Code reads ~/.claude/skills
    assert link.is_symlink() and (link / "SKILL.md").is_file()
    manifest = json.loads((files / "skills.json").read_text())
    assert manifest["skills"][0]["source"] == f"oci:{(store / 'review').as_posix()}"
    assert (files / "skills.lock.json").is_file()
    assert list(project.iterdir()) == []  # nothing written in the folder it ran in
    assert not (home / ".gitignore").exists() and not (home / "skills.json").exists()
    listed = json.loads(ok("list", "-g", "--json", cwd=project).stdout)
    assert [s["name"] for s in listed] == ["review"]
    assert run_cli("verify", "-g", cwd=project).returncode == 0
    assert not (project / "skills.json").exists()  # the project has none


def test_install_g_is_a_no_op_on_the_fast_path(store: Path, isolated_env: IsolatedEnv) -> None:
    ok("add", "-g", f"oci:{store / 'review'}")
    code = "import sys; from skillcrate.entry import main; sys.argv[1:] = ['install', '-g']; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "skills are up to date" in done.stderr and " click" not in done.stderr
    (isolated_env.home / ".agents/skills/review/SKILL.md").write_text("edited\n")
    repaired = ok("install", "-g")  # a changed file: the full install puts it back
    assert "review" in repaired.stdout + repaired.stderr
    assert "edited" not in (isolated_env.home / ".agents/skills/review/SKILL.md").read_text()


def test_remove_g_and_a_users_own_folder_is_never_touched(
    store: Path, isolated_env: IsolatedEnv
) -> None:
    home = isolated_env.home
    mine = home / ".claude/skills/testing"
    mine.mkdir(parents=True)
    (mine / "SKILL.md").write_text("---\nname: testing\ndescription: my own\n---\n")
    refused = run_cli("add", "-g", f"oci:{store / 'testing'}")
    assert refused.returncode == 1 and "not created by skillcrate" in refused.stderr
    assert (mine / "SKILL.md").read_text().endswith("my own\n---\n")
    assert not (isolated_env.config_dir / "global" / "skills.json").exists()  # nothing kept
    assert not (home / ".agents/skills/testing").exists()
    ok("add", "-g", f"oci:{store / 'review'}")
    ok("remove", "-g", "review")
    assert not (home / ".agents/skills/review").exists()
    assert not (home / ".claude/skills/review").exists()
    assert (mine / "SKILL.md").is_file()


def test_register_g_writes_user_level_hooks_that_install_user_skills(
    store: Path, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    home = isolated_env.home
    (home / ".gemini").mkdir()
    ok("register", "-g", "--agent", "claude", "--agent", "gemini", "--agent", "copilot")
    claude = json.loads((home / ".claude/settings.json").read_text())
    commands = [h["command"] for g in claude["hooks"]["SessionStart"] for h in g["hooks"]]
    assert commands == ["skillcrate install --hook claude --global"]
    assert (home / ".gemini/settings.json").is_file()
    copilot = json.loads((home / ".copilot/hooks/skillcrate.json").read_text())
    assert (
        copilot["hooks"]["sessionStart"][0]["bash"] == "skillcrate install --hook copilot --global"
    )
    assert not (home / ".github").exists()  # no cloud-agent setup steps for a user

    ok("add", "-g", f"oci:{store / 'review'}")
    (home / ".agents/skills/review/SKILL.md").unlink()  # damaged: the session hook repairs it
    elsewhere = tmp_path / "any-folder"
    elsewhere.mkdir()
    hook = ok(
        "install",
        "--hook",
        "claude",
        "--global",
        cwd=elsewhere,
        stdin=json.dumps({"cwd": str(elsewhere)}),
    )
    out = json.loads(hook.stdout)
    assert "review" in json.dumps(out)
    assert (home / ".agents/skills/review/SKILL.md").is_file()
    assert list(elsewhere.iterdir()) == []

    ok("unregister", "-g")
    assert not (home / ".copilot/hooks/skillcrate.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-g", "push", ".", "oci:/x:1"), "-g/--global applies to"),
        (("-g", "-C", "/tmp", "list"), "two different places"),
    ],
)
def test_g_is_refused_where_it_means_nothing(args: tuple[str, ...], message: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2 and message in done.stderr


def test_the_user_level_layout_follows_the_agents_documentation() -> None:
    """~/.agents/skills for the agents that read it, a link folder for the others; the
    user-level hook files register -g writes are the documented ones."""
    from skillcrate.agents.hookfiles import _spec_for
    from skillcrate.agents.specs import AGENTS, USER_HOOKS, USER_SKILLS
    from skillcrate.project.manifest import new_manifest

    linked = sorted({folder for folder, _ in USER_SKILLS.values()} - {".agents/skills"})
    assert list(new_manifest(Path("skills.json")).links) == linked == [".claude/skills"]
    assert {agent: _spec_for(agent, True).path for agent in AGENTS} == {
        agent: path for agent, (path, _) in USER_HOOKS.items()
    }


def test_trust_keys_of_the_user_level_skills_json_are_found_beside_it(
    isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    """A relative key path in the user-level skills.json is read from its folder (not the
    home folder), and an enforce rule holds for user-level skills as for a project's."""
    password = {"SKILLCRATE_PASSWORD": "correct horse"}
    files = isolated_env.config_dir / "global"
    (files / "keys").mkdir(parents=True)
    key = files / "keys" / "acme"
    assert run_cli("keygen", "--output-key-prefix", str(key), env=password).returncode == 0
    for name, signed in (("signed", True), ("unsigned", False)):
        folder = make_skill(tmp_path / "src" / name, name, f"The {name} skill. Use when testing.")
        ref = f"oci:{tmp_path / 'store' / name}:1.0.0"
        assert run_cli("push", str(folder), ref).returncode == 0
        if signed:
            done = run_cli("sign", ref, "--key", f"{key}.key", env=password)
            assert done.returncode == 0, done.stderr
    rule = {"mode": "enforce", "keys": ["keys/acme.pub"]}
    (files / "skills.json").write_text(
        json.dumps({"skills": [], "trust": {f"oci:{tmp_path / 'store'}/*": rule}}) + "\n"
    )
    refused = run_cli("add", "-g", f"oci:{tmp_path / 'store' / 'unsigned'}")
    assert refused.returncode == 1 and "not signed" in refused.stderr, refused.stderr
    ok("add", "-g", f"oci:{tmp_path / 'store' / 'signed'}")
    lock = json.loads((files / "skills.lock.json").read_text())
    assert lock["skills"][0]["signedBy"] == "keys/acme.pub"


def test_doctor_g_checks_the_users_skills_and_hooks(store: Path, isolated_env: IsolatedEnv) -> None:
    ok("add", "-g", f"oci:{store / 'review'}")
    before = json.loads(run_cli("doctor", "-g", "--json").stdout)
    hooks = [c for c in before if c["area"] == "hooks"]
    assert hooks[0]["status"] == "warn" and "skillcrate register -g" in hooks[0]["fix"]
    ok("register", "-g", "--agent", "claude", "--command", sys.executable + " -m skillcrate")
    done = run_cli("doctor", "-g", "--json")
    checks = json.loads(done.stdout)
    assert done.returncode == 0, checks
    claude = [c for c in checks if c["area"] == "hooks" and c["subject"] == "claude"]
    assert claude[0]["status"] == "ok" and ".claude/settings.json" in claude[0]["detail"]
    assert {c["area"] for c in checks} >= {"project", "install", "hooks"}
    (isolated_env.home / ".agents/skills/review/SKILL.md").write_text("edited\n")
    assert run_cli("doctor", "-g").returncode == 1  # the user's skill drifted
