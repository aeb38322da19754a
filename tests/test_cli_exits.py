"""Exit codes and verbosity that every command shares (cli.main)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from helpers import run_cli


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
