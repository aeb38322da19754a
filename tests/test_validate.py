"""Each rule of formats.md §1, through the library and the CLI."""

import json

import pytest

from skillcrate.skill.rules import validate

from helpers import make_skill, run_cli


def errors_for(folder):
    return {(p.field, p.severity) for p in validate(folder)}


def write(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(text)
    return folder


def test_valid_skill_has_no_problems(tmp_path):
    folder = make_skill(tmp_path, "good-skill", files={"scripts/run.sh": "echo"})
    assert validate(folder) == []


def test_missing_skill_md(tmp_path):
    (tmp_path / "empty").mkdir()
    assert errors_for(tmp_path / "empty") == {("SKILL.md", "error")}


def test_lowercase_skill_md_is_accepted(tmp_path):
    folder = tmp_path / "lower"
    folder.mkdir()
    (folder / "skill.md").write_text("---\nname: lower\ndescription: d\n---\n")
    assert validate(folder) == []


def test_no_front_matter(tmp_path):
    folder = write(tmp_path / "x", "# no front matter\n")
    assert errors_for(folder) == {("front matter", "error")}


def test_invalid_yaml(tmp_path):
    folder = write(tmp_path / "x", "---\nname: [unclosed\n---\n")
    assert errors_for(folder) == {("front matter", "error")}


@pytest.mark.parametrize(
    ("fm", "field"),
    [
        ("description: d\n", "name"),
        ("name: Bad_Name\ndescription: d\n", "name"),
        ("name: -lead\ndescription: d\n", "name"),
        ("name: double--hyphen\ndescription: d\n", "name"),
        ("name: " + "a" * 65 + "\ndescription: d\n", "name"),
        ("name: x\n", "description"),
        ("name: x\ndescription: ''\n", "description"),
        ("name: x\ndescription: " + "d" * 1025 + "\n", "description"),
        ("name: x\ndescription: d\ncompatibility: " + "c" * 501 + "\n", "compatibility"),
        ("name: x\ndescription: d\nmetadata: [a, b]\n", "metadata"),
        ("name: x\ndescription: d\nmetadata:\n  n: 3\n", "metadata.n"),
        ("name: x\ndescription: d\nallowed-tools: [Read]\n", "allowed-tools"),
        ("name: x\ndescription: d\nlicense: [MIT]\n", "license"),
    ],
)
def test_each_field_rule(tmp_path, fm, field):
    name = "x"
    folder = write(tmp_path / name, f"---\n{fm}---\nbody\n")
    problems = [p for p in validate(folder) if p.severity == "error"]
    assert field in {p.field for p in problems}, problems
    assert all(p.fix for p in problems)


def test_name_must_match_folder(tmp_path):
    folder = write(tmp_path / "folder-name", "---\nname: other-name\ndescription: d\n---\n")
    problems = validate(folder)
    assert [(p.field, p.severity) for p in problems] == [("name", "error")]
    assert "folder-name" in problems[0].message


def test_unknown_keys_are_warnings(tmp_path):
    folder = write(
        tmp_path / "x", "---\nname: x\ndescription: d\ndisable-model-invocation: true\n---\n"
    )
    assert errors_for(folder) == {("disable-model-invocation", "warning")}


def test_a_file_symlink_is_a_warning_and_a_dangling_one_an_error(tmp_path):
    folder = make_skill(tmp_path, "linked")
    (folder / "link").symlink_to("SKILL.md")
    assert ("files", "warning") in errors_for(folder)
    assert ("files", "error") not in errors_for(folder)
    (folder / "dangling").symlink_to("missing.md")
    assert ("files", "error") in errors_for(folder)


def test_a_symlinked_skill_md_validates(tmp_path):
    shared = make_skill(tmp_path / "shared", "linked")
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "SKILL.md").symlink_to(shared / "SKILL.md")
    proc = run_cli("validate", str(folder))
    assert proc.returncode == 0, proc.stdout
    assert "SKILL.md is a symbolic link" in proc.stdout and "valid (1 warning(s))" in proc.stdout


def test_cli_json_and_exit_codes(tmp_path):
    folder = write(tmp_path / "x", "---\nname: X\n---\n")
    proc = run_cli("validate", str(folder), "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert {d["field"] for d in data} == {"name", "description"}
    assert all(set(d) >= {"severity", "field", "message"} for d in data)
    good = make_skill(tmp_path, "fine")
    proc = run_cli("validate", str(good))
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout


def test_cli_human_output_names_file_field_and_fix(tmp_path):
    folder = write(tmp_path / "x", "---\nname: x\n---\n")
    proc = run_cli("validate", str(folder))
    assert proc.returncode == 1
    assert "SKILL.md: error: description:" in proc.stdout
    assert "fix:" in proc.stdout


def test_invalid_name_does_not_suggest_renaming_folder_to_it(tmp_path):
    folder = write(tmp_path / "good-folder", "---\nname: Bad_Name\ndescription: d\n---\n")
    problems = [p for p in validate(folder) if p.field == "name"]
    assert len(problems) == 1
    assert "rename the folder" not in problems[0].fix
