"""SKILL.md front matter is read with YAML 1.2 scalars (the spec's YAML), not YAML 1.1's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skillcrate.skill.rules import parse_front_matter

from helpers import run_cli


def test_dates_and_yes_no_stay_strings() -> None:
    fm = parse_front_matter(
        "---\nname: a\ndescription: d\nmetadata:\n  updated: 2026-03-01\n  reviewed: no\n"
        "  at: 2026-03-01 10:00:00\n  beta: true\n---\n"
    )
    assert fm["metadata"] == {
        "updated": "2026-03-01",
        "reviewed": "no",
        "at": "2026-03-01 10:00:00",
        "beta": True,
    }


def test_a_skill_with_a_date_in_metadata_validates_and_pushes(tmp_path: Path) -> None:
    folder = tmp_path / "dated"
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        "---\nname: dated\ndescription: A skill with a date.\nmetadata:\n"
        "  updated: 2026-03-01\n---\nBody.\n"
    )
    done = run_cli("validate", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli("push", str(folder), f"oci:{tmp_path / 'store'}:1.0.0")
    assert done.returncode == 0, done.stderr


def test_strict_validation_refuses_fields_outside_the_spec(tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "SKILL.md").write_text(
        "---\nname: extra\ndescription: A skill.\nversion: 1.0.0\n---\nBody.\n"
    )
    lenient = run_cli("validate", str(folder))
    assert lenient.returncode == 0 and "skills-ref" in lenient.stdout
    strict = run_cli("validate", str(folder), "--strict")
    assert strict.returncode == 1 and "error: version" in strict.stdout


@pytest.mark.parametrize("bad", ["a\nb.md", "bad\udcff.md"])
def test_push_refuses_a_file_name_consumers_could_not_install(tmp_path: Path, bad: str) -> None:
    folder = tmp_path / "names"
    (folder / "references").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: names\ndescription: A skill.\n---\nBody.\n")
    (folder / "references" / "fine.md").write_text("fine\n")
    done = run_cli("push", str(folder), f"oci:{tmp_path / 'ok'}:1.0.0")
    assert done.returncode == 0, done.stderr  # control: ordinary names push
    with open(os.fsencode(folder / "references") + b"/" + os.fsencode(bad), "wb") as fh:
        fh.write(b"x")
    done = run_cli("push", str(folder), f"oci:{tmp_path / 'store'}:1.0.0")
    assert done.returncode == 1 and "consumers could not install it" in done.stderr
    assert not (tmp_path / "store").exists()  # nothing was uploaded
    assert run_cli("validate", str(folder)).returncode == 1
