"""Exit codes and verbosity that every command shares (cli.main)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import make_skill, run_cli, silent_server


def test_ctrl_c_exits_130_not_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """click turns KeyboardInterrupt into Abort; it must still be 130 ("interrupted")."""
    import skillcrate.ops

    def interrupted(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(skillcrate.ops, "install", interrupted)
    (tmp_path / "skills.json").write_text('{"skills": []}\n')
    done = run_cli("install", "--json", cwd=tmp_path)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flag", ["-v", "--verbose"])
def test_long_and_short_verbose_show_the_same_causes(flag: str) -> None:
    done = run_cli(flag, "versions", f"127.0.0.1:{_closed_port()}/x")
    assert done.returncode == 1
    assert "caused by:" in done.stderr
    quiet = run_cli("versions", f"127.0.0.1:{_closed_port()}/x")
    assert "caused by:" not in quiet.stderr


def test_json_commands_print_the_error_as_json_too(tmp_path: Path) -> None:
    import json

    done = run_cli("list", "--json", cwd=tmp_path)  # no skills.json here
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert "skills.json" in error["message"] and error["exitCode"] == 1
    assert done.stderr.startswith("error: ")


@pytest.mark.parametrize(
    "args", [("add", "oci:./x", "--name", "Bad_Name"), ("pull", "oci:./x", "--name", "no way")]
)
def test_a_bad_skill_name_is_a_usage_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2 and "not a valid skill name" in done.stderr


def test_waiting_for_another_process_is_said_and_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skillcrate.errors import ProjectError
    from skillcrate.project.context import Project

    monkeypatch.setenv("SKILLCRATE_LOCK_TIMEOUT", "0.2")
    said: list[str] = []
    holder, waiter = Project(tmp_path), Project(tmp_path, report=said.append)
    with holder.lock():
        with pytest.raises(ProjectError, match="held the lock"), waiter.lock():
            pass
    assert said and "waiting for another skillcrate process" in said[0]
    with waiter.lock():  # free again: no waiting, nothing said
        pass
    assert len(said) == 1


def test_a_registry_that_never_answers_fails_after_the_configured_timeout() -> None:
    """Hostile server: accepts the connection and says nothing."""
    with silent_server() as host:
        done = run_cli("versions", f"{host}/x", env={"SKILLCRATE_READ_TIMEOUT": "0.3"})
    assert done.returncode == 1 and "error:" in done.stderr


def test_timeouts_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from skillcrate.oci.transport import Transport, timeouts

    assert timeouts() == (2.5, 30.0)
    monkeypatch.setenv("SKILLCRATE_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("SKILLCRATE_CONNECT_TIMEOUT", "nonsense")  # ignored, default kept
    assert Transport("127.0.0.1:1", plain_http=True).timeouts == (2.5, 0.3)


def test_install_with_a_reference_points_at_add(tmp_path: Path) -> None:
    done = run_cli("install", "ghcr.io/acme/review", cwd=tmp_path)
    assert done.returncode == 2
    assert "skillcrate add ghcr.io/acme/review" in done.stderr
    assert not (tmp_path / "skills.json").exists()


def test_the_command_table_names_every_command_once() -> None:
    import click

    from skillcrate.cli import COMMAND_MODULES, cli, load_all_commands

    load_all_commands()

    def module_of(cmd: click.Command) -> str:
        if isinstance(cmd, click.Group):
            cmd = next(iter(cmd.commands.values()))
        assert cmd.callback is not None
        return cmd.callback.__module__

    got = {name: module_of(cmd) for name, cmd in cli.commands.items()}
    assert got == {name: f"skillcrate.cli.{m}" for name, m in COMMAND_MODULES.items()}


def test_install_loads_only_its_own_command_module(tmp_path: Path) -> None:
    """Commands are looked up lazily: install never imports publishing or signing."""
    import subprocess
    import sys

    (tmp_path / "skills.json").write_text('{"skills": []}\n')
    code = (
        "import sys\n"
        "sys.argv = ['skillcrate', 'install', '--json']\n"
        "from skillcrate.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "mods = sorted(m for m in sys.modules if m.startswith('skillcrate.cli.'))\n"
        "print(mods, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    loaded = done.stderr.strip().splitlines()[-1]
    assert "skillcrate.cli.project" in loaded, done.stderr
    for other in ("publish", "signing", "agents", "auth", "settings", "cache"):
        assert f"skillcrate.cli.{other}'" not in loaded


def test_a_command_process_exits_with_its_code_output_and_exit_handlers(tmp_path: Path) -> None:
    """The full CLI as a process exits without the interpreter's teardown (entry's
    _exit_after), but with everything that matters of it: the exit code, the whole
    output, and the atexit handlers (push leaves no temp folder of pack's behind)."""
    folder = make_skill(tmp_path / "src" / "review", "review", "Review skill.")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    done = run_cli("push", str(folder), f"oci:{tmp_path / 'store'}:1.0.0", env=env, process=True)
    assert done.returncode == 0, done.stderr
    # pack's folder is gone, and the layout's lock lives in the state folder
    assert os.listdir(scratch) == []
    done = run_cli("inspect", f"oci:{tmp_path / 'store'}:1.0.0", "--json", env=env, process=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["format"] == "agentskills"  # all of it, flushed
    done = run_cli("inspect", f"oci:{tmp_path / 'store'}:9.9.9", env=env, process=True)
    assert done.returncode == 1 and done.stderr.startswith("error: "), done.stderr
    done = run_cli("inspect", env=env, process=True)
    assert done.returncode == 2 and "Usage" in done.stderr


def test_the_fast_exit_runs_the_exit_handlers_and_flushes_first() -> None:
    script = (
        "import atexit, sys, weakref\n"
        "class Held: pass\n"
        "held = Held()\n"
        "weakref.finalize(held, print, 'finalized')\n"
        "atexit.register(print, 'handler')\n"
        "from skillcrate.entry import _exit_after\n"
        "sys.stdout.write('output ')\n"
        "_exit_after(3)\n"
        "print('not reached')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["output", "handler", "finalized"]


def test_a_file_where_the_state_keeps_its_locks_is_named(tmp_path: Path) -> None:
    from skillcrate.fastpath import state_path

    folder = make_skill(tmp_path / "src", "alpha", version="1.0.0")
    store, project = tmp_path / "store", tmp_path / "proj"
    project.mkdir()
    assert run_cli("push", str(folder), f"oci:{store}:1.0.0").returncode == 0
    assert run_cli("-C", str(project), "add", f"oci:{store}:1.0.0").returncode == 0
    before = (project / "skills.json").read_bytes()
    locks = Path(state_path()) / "locks"
    for lock in locks.iterdir():
        lock.unlink()
    locks.rmdir()
    locks.write_text("not a folder\n")
    done = run_cli("-C", str(project), "remove", "alpha")
    assert done.returncode == 1
    line = done.stderr.strip().splitlines()[0]
    assert line.startswith(f"error: cannot write {locks}/") and line.endswith(
        f": {locks} is not a folder"
    ), done.stderr
    assert locks.read_text() == "not a folder\n"
    assert (project / "skills.json").read_bytes() == before
    assert (project / ".agents" / "skills" / "alpha" / "SKILL.md").is_file()
    locks.unlink()  # control: with the folder back, the same command works
    assert run_cli("-C", str(project), "remove", "alpha").returncode == 0
    assert not (project / ".agents" / "skills" / "alpha").exists()


def test_a_timeout_inside_a_held_lock_is_not_a_held_lock() -> None:
    from skillcrate._flock import state_lock

    with pytest.raises(TimeoutError, match="the registry did not answer"), state_lock("t", "x"):
        raise TimeoutError("the registry did not answer")
    with state_lock("t", "x"):  # control: the lock was freed, and is taken at once
        pass


def test_file_in_the_way_names_the_first_file_above(tmp_path: Path) -> None:
    from skillcrate._fs import file_in_the_way

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").write_text("")
    (tmp_path / "link").symlink_to("a")
    assert file_in_the_way(tmp_path / "a" / "b" / "c" / "d.lock") == tmp_path / "a" / "b"
    assert file_in_the_way(tmp_path / "link" / "x" / "d.lock") is None  # a link to a folder
    assert file_in_the_way(tmp_path / "a" / "new" / "d.lock") is None
