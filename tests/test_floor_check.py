"""benchmarks/floors.py's "least no-op check": the floor printed under row 3.

The script re-reads the install state's format on its own (it must not import skillcrate, or
it would time skillcrate's code). These tests keep it a real check of the same state: it
passes where ``install`` is a no-op and fails where a recorded file or link changed, so a
change of the state's format shows here, not as a floor that measures nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import floors  # noqa: E402
import noop_install  # noqa: E402


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return noop_install.build_project(tmp_path, 3)  # conftest isolates the cache and state


def least_check(project: Path) -> int:
    code = floors._LEAST_CHECK.format(root=str(project), state=floors.state_file(project))
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode


def test_the_least_check_passes_where_install_is_a_no_op(project: Path) -> None:
    from skillcrate.fastpath import is_up_to_date

    assert is_up_to_date(project)
    assert least_check(project) == 0


def test_the_least_check_fails_on_a_changed_file(project: Path) -> None:
    guide = project / ".agents" / "skills" / "bench-skill-01" / "references" / "guide.md"
    guide.write_text(guide.read_text() + "changed\n")
    assert least_check(project) != 0


def test_the_least_check_fails_on_a_changed_link(project: Path) -> None:
    links = [p for p in project.glob(".*/skills/*") if p.is_symlink()]
    assert links, "the benchmark project links its skills"
    links[0].unlink()
    os.symlink("../../.agents/skills/bench-skill-02", links[0])
    assert least_check(project) != 0


def test_the_least_check_fails_on_other_inputs(project: Path) -> None:
    manifest = project / "skills.json"
    manifest.write_text(manifest.read_text() + "\n")
    assert least_check(project) != 0


def test_the_least_check_fails_on_a_name_left_beside_the_skills(project: Path) -> None:
    (project / ".agents" / "skills" / ".skillcrate-stage-bench-skill-01-0badc0de").mkdir()
    assert least_check(project) != 0
