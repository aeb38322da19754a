from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillcrate.errors import ManifestError, ProjectError
from skillcrate.project.manifest import (
    SkillSpec,
    json_line,
    load_manifest,
    new_manifest,
    parse_manifest,
    relative_path_problem,
)

from helpers import run_cli

EXAMPLE = """\
{
  "$schema": "https://example.com/skills.schema.json",
  "skills": [
    {"name": "review", "source": "ghcr.io/acme/skills/review", "version": "^1.2.0", "note": "x"},
    {
      "name": "hello-world",
      "source": "oci:./vendor/registry/hello-world",
      "version": "1.0.0",
      "additionalBasePaths": [".github/skills"]
    }
  ],
  "links": [".claude/skills", ".codex/skills"],
  "zzz": {"kept": true}
}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skills.json"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert path.read_text(encoding="utf-8") == text  # loading never writes
    assert isinstance(info.value, ProjectError)
    message = str(info.value)
    headline, *more = message.split("\n")  # one line, or a headline and one line per problem
    assert all(line.startswith("  skills.json") for line in more)
    assert not more or headline.endswith(f" {len(more)} problems:")
    return message


def test_load_example(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, EXAMPLE))
    assert m.skills == [
        SkillSpec("review", "ghcr.io/acme/skills/review", "^1.2.0"),
        SkillSpec("hello-world", "oci:./vendor/registry/hello-world", "1.0.0", (".github/skills",)),
    ]
    assert m.links == [".claude/skills", ".codex/skills"]
    assert m.path == tmp_path / "skills.json"
    assert m.names() == ["review", "hello-world"]
    assert m.get("review") == m.skills[0]
    assert m.get("nope") is None
    assert "hello-world" in m
    assert m.skills[1].reference().layout


def test_round_trip_keeps_unknown_keys_and_order(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, EXAMPLE))
    out = json.loads(m.dumps())
    assert list(out) == ["$schema", "skills", "links", "zzz"]
    assert list(out["skills"][0]) == ["name", "source", "version", "note"]
    assert out == json.loads(EXAMPLE)
    assert m.dumps().endswith("}\n")


def test_defaults_when_keys_absent(tmp_path: Path) -> None:
    m = load_manifest(write(tmp_path, "{}"))
    assert m.skills == []
    assert m.links == [".claude/skills"]
    m2 = load_manifest(write(tmp_path, '{"skills": [], "links": []}'))
    assert m2.links == []


def test_null_version_is_absent(tmp_path: Path) -> None:
    m = load_manifest(
        write(tmp_path, '{"skills": [{"name": "a", "source": "x.io/a", "version": null}]}')
    )
    assert m.skills[0].version is None


def test_utf8_bom_and_non_ascii(tmp_path: Path) -> None:
    path = tmp_path / "skills.json"
    path.write_bytes('\ufeff{"skills": [], "title": "résumé"}'.encode())
    m = load_manifest(path)
    assert '"résumé"' in m.dumps()


def test_mutators_and_save(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    m = load_manifest(path)
    m.add(SkillSpec("lint", "ghcr.io/acme/skills/lint", "~2.0", ("extra/skills",)))
    m.set_version("review", "^1.3.0")
    m.remove("hello-world")
    assert path.read_text(encoding="utf-8") == EXAMPLE  # nothing written before save()
    assert m.save() is True
    data = json.loads(path.read_text(encoding="utf-8"))
    assert [s["name"] for s in data["skills"]] == ["review", "lint"]
    assert data["skills"][0] == {
        "name": "review",
        "source": "ghcr.io/acme/skills/review",
        "version": "^1.3.0",
        "note": "x",
    }
    assert data["skills"][1] == {
        "name": "lint",
        "source": "ghcr.io/acme/skills/lint",
        "version": "~2.0",
        "additionalBasePaths": ["extra/skills"],
    }
    assert data["zzz"] == {"kept": True}
    assert path.read_text(encoding="utf-8").startswith('{\n  "$schema"')
    assert m.save() is False  # identical bytes: no rewrite
    assert load_manifest(path).skills == m.skills


def test_set_version_inserts_after_source_and_can_drop(tmp_path: Path) -> None:
    text = '{"skills": [{"name": "a", "source": "x.io/a", "extra": 1}]}'
    m = load_manifest(write(tmp_path, text))
    m.set_version("a", "1.0.0")
    assert list(m.data["skills"][0]) == ["name", "source", "version", "extra"]
    m.set_version("a", None)
    assert list(m.data["skills"][0]) == ["name", "source", "extra"]
    assert m.get("a").version is None


def test_add_omits_empty_optional_fields() -> None:
    m = new_manifest(Path("skills.json"))
    m.add(SkillSpec("a", "x.io/a"))
    assert m.data == {"skills": [{"name": "a", "source": "x.io/a"}]}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m: m.add(SkillSpec("review", "x.io/r")), "'review' is already listed"),
        (lambda m: m.add(SkillSpec("Bad_Name", "x.io/r")), "not a valid skill name"),
        (lambda m: m.add(SkillSpec("ok", "HTTP://x")), '"source"'),
        (lambda m: m.add(SkillSpec("ok", "x.io/r", ">=foo")), '"version".*>=foo'),
        (lambda m: m.add(SkillSpec("ok", "x.io/r", None, ("../up",))), "'\\.\\.'"),
        (lambda m: m.set_version("nope", "1.0.0"), "no skill named 'nope'"),
        (lambda m: m.set_version("review", "^^1"), '"version"'),
        (lambda m: m.remove("nope"), "no skill named 'nope'"),
    ],
)
def test_mutator_errors(tmp_path: Path, call, match: str) -> None:
    m = load_manifest(write(tmp_path, EXAMPLE))
    before = m.dumps()
    with pytest.raises(ManifestError, match=match) as info:
        call(m)
    assert str(info.value).startswith("skills.json: ")
    assert m.dumps() == before


def test_new_manifest_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "skills.json"
    m = new_manifest(path)
    assert m.skills == [] and m.dumps() == '{\n  "skills": []\n}\n'
    assert not path.exists()
    m.save()
    assert load_manifest(path).skills == []


def test_bad_json_names_file_line_and_column(tmp_path: Path) -> None:
    message = load_error(tmp_path, '{\n  "skills": [\n    {"name": "a",}\n  ]\n}\n')
    assert message.startswith("skills.json:3:")
    assert "invalid JSON" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "skills.json:1: top level must be a JSON object, not array"),
        ('{\n"skills": {}\n}', 'skills.json:2: "skills" must be an array, not object'),
        ('{"skills": [\n  "review"\n]}', "skills.json:2: skills[0]: must be an object, not string"),
        ('{"skills": [\n  {"source": "x.io/a"}\n]}', 'skills.json:2: skills[0]: missing "name"'),
        (
            '{"skills": [\n {"name": "a",\n  "source": 5}]}',
            "skills.json:3: skills[0] ('a'): \"source\" must be a string, not number",
        ),
        (
            '{"skills": [{"name": "a", "source": "x.io/a",\n "version": ">=foo"}]}',
            "skills.json:2: skills[0] ('a'): \"version\" invalid version range '>=foo'",
        ),
        (
            '{"skills": [{"name": "a", "source": "x.io/a",\n "version": ["1"]}]}',
            "skills.json:2: skills[0] ('a'): \"version\" must be a string, not array",
        ),
        (
            '{"skills": [{"name": "Review", "source": "x.io/a"}]}',
            "skills[0] ('Review'): \"name\" 'Review' is not a valid skill name",
        ),
        (
            '{"skills": [{"name": "a", "source": "x.io/a",\n'
            ' "additionalBasePaths": ["ok",\n "/abs"]}]}',
            "skills.json:3: skills[0] ('a'): \"additionalBasePaths\" [1] '/abs' must be relative",
        ),
        (
            '{"skills": [{"name": "a", "source": "x.io/a", "additionalBasePaths": "x"}]}',
            '"additionalBasePaths" must be an array of paths, not string',
        ),
        (
            '{"skills": [\n{"name": "a", "source": "x.io/a"},\n{"name": "a", "source": "x.io/b"}]}',
            "skills.json:3: skills[1] ('a'): duplicate name (also skills[0])",
        ),
        ('{"links": [\n"../out"]}', "skills.json:2: \"links\" [0] '../out' must not contain '..'"),
        ('{"links": ["a\\\\b"]}', "must use '/' separators"),
        ('{"links": "x"}', '"links" must be an array of paths, not string'),
    ],
)
def test_validation_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_name_length_limit(tmp_path: Path) -> None:
    ok = "a" * 64
    load_manifest(write(tmp_path, json.dumps({"skills": [{"name": ok, "source": "x.io/a"}]})))
    too_long = json.dumps({"skills": [{"name": ok + "b", "source": "x.io/a"}]})
    assert "not a valid skill name" in load_error(tmp_path, too_long)


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = '{"skills": [\n{"name": "a"},\n{"name": "b", "source": "x.io/b", "version": 1}\n]}'
    message = load_error(tmp_path, text)
    headline, first, second = message.split("\n")
    assert headline == "skills.json: 2 problems:"
    assert first.startswith("  skills.json:2: skills[0] ('a'): missing \"source\"")
    assert second.startswith("  skills.json:3: skills[1] ('b'): \"version\" must be a string")


def test_one_problem_is_one_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, '{"skills": [\n{"name": "a"}\n]}')
    assert message == "skills.json:2: skills[0] ('a'): missing \"source\""


def test_a_problem_line_cannot_forge_another_line(tmp_path: Path) -> None:
    """Text from the file is escaped, so a hostile value cannot print its own `error:` line."""
    text = '{"skills": [{"name": "a"}, {"name": "b", "source": "x\\nerror: forged"}]}'
    message = load_error(tmp_path, text)
    assert not any(line.startswith("error:") for line in message.split("\n"))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{\n  "skills": [\n    {"name": "a", "source": "x.io/a"},\n  ]\n}\n', "3:38"),
        ('{\n  "skills": [],\n}\n', "2:15"),
        ('{"skills": [1,2 , ]}', "1:17"),
    ],
)
def test_a_trailing_comma_is_reported_where_it_is(tmp_path: Path, text: str, where: str) -> None:
    message = load_error(tmp_path, text)
    assert message.startswith(f"skills.json:{where}: invalid JSON: trailing comma before"), message


def test_cli_prints_each_problem_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "skills.json").write_text(
        '{"skills": [{"name": "a"}, {"name": "b"}, {"name": "Bad Name", "source": "x.io/c"}]}'
    )
    proc = run_cli("install", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "error: skills.json: 3 problems:"
    assert [line[:14] for line in lines[1:4]] == ["  skills.json:"] * 3


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "skills.json")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "skills.json"
    path.write_bytes(b'{"skills": [], "x": "\xff"}')
    with pytest.raises(ManifestError, match="not UTF-8"):
        load_manifest(path)


def test_parse_manifest_from_text() -> None:
    m = parse_manifest('{"skills": []}', Path("/p/skills.json"))
    assert m.path == Path("/p/skills.json")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        (".claude/skills", True),
        ("./a/b/", True),
        ("", False),
        (".", False),
        ("/etc", False),
        ("C:/x", False),
        ("a/../b", False),
        ("a\\b", False),
        (3, False),
    ],
)
def test_relative_path_problem(path: object, ok: bool) -> None:
    assert (relative_path_problem(path) is None) is ok


def test_json_line() -> None:
    text = '{\n  "a": [\n    1,\n    {"b": "x",\n     "c": [true, {"d": 1}]}\n  ]\n}'
    assert json_line(text, ()) == 1
    assert json_line(text, ("a",)) == 2
    assert json_line(text, ("a", 0)) == 3
    assert json_line(text, ("a", 1)) == 4
    assert json_line(text, ("a", 1, "c")) == 5
    assert json_line(text, ("a", 1, "c", 1, "d")) == 5
    assert json_line(text, ("a", 2)) is None
    assert json_line(text, ("zz",)) is None
    assert json_line(text, ("a", "b")) is None
    assert json_line("{not json", ("a",)) is None
