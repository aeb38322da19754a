"""The console script's no-op answer (entry.py): right answers, and almost nothing imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skillcrate.formats import pack
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed

from helpers import make_skill, run_cli

# what the no-op path may load of skillcrate: nothing but these
NOOP_MODULES = {
    "skillcrate",
    "skillcrate.entry",
    "skillcrate.fastpath",
    "skillcrate.agents",
    "skillcrate.agents.specs",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    for name in ("alpha", "beta"):
        folder = make_skill(tmp_path / "src" / name, name, f"{name} skill.")
        push_packed(LayoutRepository(store / name), pack(folder, tag="1.0.0"), ["1.0.0"])
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("alpha", "beta"):
        done = run_cli("add", f"oci:../store/{name}", cwd=proj)
        assert done.returncode == 0, done.stderr
    return proj


def imported(*args: str, cwd: Path, stdin: str | None = None) -> tuple[set[str], str, str, int]:
    """Run the console script's module in a real process; the modules it imported."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from skillcrate.entry import main; sys.argv[1:] = "
            + repr(list(args))
            + "; main()",
        ],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    modules, other = set(), []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            modules.add(line.rsplit("|", 1)[1].strip())
        else:
            other.append(line)
    return modules, proc.stdout, "\n".join(other), proc.returncode


def test_a_no_op_install_loads_neither_click_nor_the_cli(project: Path) -> None:
    modules, out, err, code = imported("install", cwd=project)
    assert code == 0 and out == "" and err == "skills are up to date"
    assert "click" not in modules and "skillcrate.cli" not in modules
    assert {m for m in modules if m.startswith("skillcrate")} <= NOOP_MODULES
    assert not {"json", "pathlib", "re", "typing", "dataclasses"} & modules
    assert not {"hashlib", "_hashlib", "_sha256", "_blake2"} & modules  # no dlopen to hash


def test_a_damaged_inputs_section_is_never_up_to_date(project: Path) -> None:
    from skillcrate.fastpath import INSTALL_FILE, is_up_to_date, project_state_dir

    state = project_state_dir(project) / INSTALL_FILE
    good = state.read_bytes()
    assert is_up_to_date(project)
    for damaged in (good[:-1], good + b"x", good.replace(b"\ninputs ", b"\ninputs -\n")):
        state.write_bytes(damaged)
        assert not is_up_to_date(project)
    state.write_bytes(good)
    (project / "skills.json").write_bytes((project / "skills.json").read_bytes() + b" ")
    assert not is_up_to_date(project)  # the inputs are compared byte for byte


@pytest.mark.parametrize("name", ["inputs 12", "inputs -"])
def test_a_file_named_like_the_inputs_line_keeps_the_no_op(tmp_path: Path, name: str) -> None:
    """A skill's top-level file is stored as a line that starts with its name; one called
    "inputs 12" looked like the state's inputs line, so the state never parsed and every
    session start ran a full install."""
    from skillcrate.fastpath import is_up_to_date, read_install

    folder = make_skill(tmp_path / "src", "odd", "Odd names.", files={name: "x"})
    push_packed(LayoutRepository(tmp_path / "store"), pack(folder, tag="1.0.0"), ["1.0.0"])
    proj = tmp_path / "proj"
    proj.mkdir()
    done = run_cli("add", "oci:../store", cwd=proj)
    assert done.returncode == 0, done.stderr
    assert (proj / ".agents" / "skills" / "odd" / name).read_text() == "x"
    assert read_install(proj) is not None
    assert is_up_to_date(proj)
    (proj / ".agents" / "skills" / "odd" / name).write_text("y")
    assert not is_up_to_date(proj)  # and a change to that file is still seen


@pytest.mark.parametrize("agent", ["claude", "cursor", "copilot", "codex", "gemini"])
def test_a_no_op_session_start_prints_nothing_to_say(project: Path, agent: str) -> None:
    stdin = json.dumps({"cwd": str(project), "hook_event_name": "SessionStart"})
    modules, out, err, code = imported("install", "--hook", agent, cwd=project.parent, stdin=stdin)
    assert code == 0 and out == "{}\n" and err == ""
    assert "click" not in modules and "skillcrate.cli" not in modules


def test_global_options_that_cannot_change_the_answer_keep_the_fast_path(project: Path) -> None:
    modules, _, err, code = imported("-q", "-v", "-C", str(project), "install", cwd=project.parent)
    assert code == 0 and err == "" and "click" not in modules


def test_global_flags_after_the_command_work_as_before_it(project: Path) -> None:
    """`install -q` (the npm habit) is the quiet no-op, still without click."""
    modules, _, err, code = imported("install", "-q", cwd=project)
    assert code == 0 and err == "" and "click" not in modules
    (project / "skills.json").write_text((project / "skills.json").read_text() + "\n")
    listed = run_cli("list", "-q", "-v", cwd=project)
    assert listed.returncode == 0, listed.stderr


def test_hoisting_moves_only_value_free_global_flags() -> None:
    from skillcrate.entry import hoist_global_flags as hoist

    assert hoist(["install", "-q"]) == ["-q", "install"]
    assert hoist(["-C", "p", "add", "x", "-vv", "--insecure"]) == [
        *("-C", "p", "-vv", "--insecure", "add", "x")
    ]
    assert hoist(["--timeout", "3", "list"]) == ["--timeout", "3", "list"]
    assert hoist(["push", "d", "r", "--", "-q"]) == ["push", "d", "r", "--", "-q"]
    assert hoist(["install", "--hook", "claude"]) == ["install", "--hook", "claude"]


@pytest.mark.parametrize(
    "args",
    [
        ("install", "--frozen"),
        ("install", "--json"),
        ("install", "--offline"),
        ("list",),
        ("install", "--hook", "nobody"),
        ("--project=/nonexistent", "install"),
    ],
)
def test_anything_else_runs_the_full_cli(project: Path, args: tuple[str, ...]) -> None:
    modules, *_ = imported(*args, cwd=project)
    assert "skillcrate.cli" in modules


def test_an_unknown_agent_is_still_a_usage_error(project: Path) -> None:
    *_, code = imported("install", "--hook", "nobody", cwd=project)
    assert code == 2


def test_a_changed_project_falls_through_and_is_repaired(project: Path) -> None:
    shutil.rmtree(project / ".agents" / "skills" / "alpha")
    modules, out, err, code = imported("install", cwd=project)
    assert code == 0 and "skillcrate.cli" in modules, err
    assert (project / ".agents" / "skills" / "alpha" / "SKILL.md").is_file()
    modules, *_ = imported("install", cwd=project)
    assert "skillcrate.cli" not in modules  # up to date again


def test_the_hook_input_reaches_the_full_cli_when_it_must_run(project: Path) -> None:
    """The entry reads stdin to find the project; the full hook must see the same input."""
    shutil.rmtree(project / ".agents" / "skills" / "beta")
    stdin = json.dumps({"cwd": str(project)})
    _, out, err, code = imported("install", "--hook", "codex", cwd=project.parent, stdin=stdin)
    assert code == 0, err
    assert "beta" in json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert (project / ".agents" / "skills" / "beta" / "SKILL.md").is_file()


def test_in_process_runs_take_the_same_entry(project: Path) -> None:
    done = run_cli("install", cwd=project)
    assert done.returncode == 0 and done.stderr == "skills are up to date\n"


def test_the_state_keeps_stat_lines_verbatim_even_with_a_tab_in_a_name(tmp_path: Path) -> None:
    from skillcrate import fastpath

    folder = tmp_path / "proj" / ".agents" / "skills" / "tabbed"
    (folder / "sub").mkdir(parents=True)
    (folder / "SKILL.md").write_text("x")
    (folder / "sub" / "a\tb.md").write_text("y")
    past = 1_700_000_000_000_000_000
    for path in (folder / "SKILL.md", folder / "sub" / "a\tb.md", folder / "sub", folder):
        os.utime(path, ns=(past, past))
    stat_text, dirs = fastpath.scan_with_dirs(str(folder))
    assert stat_text is not None and dirs is not None and "a\tb.md\0" in stat_text
    rel = ".agents/skills/tabbed"
    art = fastpath.Artifact(rel, "tabbed", "sha256:" + "0" * 64, stat_text, 2, dirs=dirs)
    link = fastpath.Artifact(".claude/skills/tabbed", "tabbed", link="../../" + rel)
    root = tmp_path / "proj"
    data = fastpath.format_install(root, b"in", {rel: art, link.rel: link})
    assert b"a\tb.md\x00" in data  # stored as it is: no hex
    parsed = fastpath._parse_install(data, root)
    assert parsed == (b"in", {rel: art, link.rel: link})
    assert fastpath.folder_unchanged(str(folder), parsed[1][rel])
    (folder / "sub" / "a\tb.md").write_text("z")
    assert not fastpath.folder_unchanged(str(folder), parsed[1][rel])


def test_a_name_with_a_line_break_never_scans_clean_and_never_reaches_the_state(
    tmp_path: Path,
) -> None:
    from skillcrate import fastpath

    folder = tmp_path / "skill"
    (folder / "x\nd\tforged").mkdir(parents=True)  # an empty folder: no file line shows it
    (folder / "SKILL.md").write_text("x")
    assert fastpath.scan_with_dirs(str(folder)) == (None, None)
    assert fastpath.scan_stat(str(folder)) is None
    forged = fastpath.Artifact("a", "a", "t", "SKILL.md\x001\x002\x003\x000\nx\n", 1)
    with pytest.raises(ValueError):
        fastpath.format_install(tmp_path, None, {"a": forged})
