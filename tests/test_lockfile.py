from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skillcrate.errors import LockfileError
from skillcrate.project.lockfile import (
    LOCK_VERSION,
    LockedSkill,
    LockedSource,
    Lockfile,
    load_lockfile,
    save_lockfile,
)
from skillcrate.reference import Reference

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
TREE = "sha256:" + "f" * 64


def review(**changes: object) -> LockedSkill:
    fields: dict[str, object] = {
        "name": "review",
        "path": ".agents/skills/review",
        "version": "1.2.3",
        "source": LockedSource("ghcr.io", "acme/skills/review", "1.2.3", D1),
        "spec_source": "ghcr.io/acme/skills/review",
        "spec_version": "^1.2.0",
        "tree": TREE,
        "additional_installed_paths": (".claude/skills/review",),
    }
    fields.update(changes)
    return LockedSkill(**fields)  # type: ignore[arg-type]


def hello() -> LockedSkill:
    return LockedSkill(
        name="hello-world",
        path=".agents/skills/hello-world",
        version="1.0.0",
        source=LockedSource("", "oci:./vendor/registry/hello-world", "1.0.0", D2),
        spec_source="oci:./vendor/registry/hello-world",
        spec_version=None,
    )


EXPECTED = f"""\
{{
  "lockfileVersion": 1,
  "skills": [
    {{
      "name": "hello-world",
      "path": ".agents/skills/hello-world",
      "version": "1.0.0",
      "format": "agentskills",
      "source": {{
        "registry": "",
        "repository": "oci:./vendor/registry/hello-world",
        "tag": "1.0.0",
        "digest": "{D2}",
        "ref": "oci:./vendor/registry/hello-world:1.0.0@{D2}"
      }},
      "spec": {{
        "source": "oci:./vendor/registry/hello-world"
      }}
    }},
    {{
      "name": "review",
      "path": ".agents/skills/review",
      "version": "1.2.3",
      "format": "agentskills",
      "source": {{
        "registry": "ghcr.io",
        "repository": "acme/skills/review",
        "tag": "1.2.3",
        "digest": "{D1}",
        "ref": "ghcr.io/acme/skills/review:1.2.3@{D1}"
      }},
      "spec": {{
        "source": "ghcr.io/acme/skills/review",
        "version": "^1.2.0"
      }},
      "tree": "{TREE}",
      "additionalInstalledPaths": [
        ".claude/skills/review"
      ]
    }}
  ]
}}
"""


def test_to_json_is_deterministic_and_sorted() -> None:
    lock = Lockfile(skills=(review(), hello()))
    assert lock.to_json() == EXPECTED
    assert Lockfile(skills=(hello(), review())).to_json() == EXPECTED
    assert "At" not in EXPECTED  # no timestamps


def test_round_trip() -> None:
    lock = Lockfile(skills=(review(), hello()))
    again = Lockfile.from_json(lock.to_json(), "skills.lock.json")
    assert again == lock
    assert again.migrated is False
    assert again.to_json() == EXPECTED


def test_source_ref_and_reference() -> None:
    src = review().source
    assert src.ref == f"ghcr.io/acme/skills/review:1.2.3@{D1}"
    assert src.reference() == Reference("ghcr.io", "acme/skills/review", "1.2.3", D1)
    pinned = LockedSource("ghcr.io", "acme/x", None, D1)
    assert pinned.ref == f"ghcr.io/acme/x@{D1}"
    assert "tag" not in pinned.to_dict()
    layout = hello().source
    assert layout.is_layout and layout.reference().layout
    assert layout.reference().repository == "./vendor/registry/hello-world"


def test_from_reference() -> None:
    ref = Reference.parse("ghcr.io/acme/skills/review:1.2.3")
    assert LockedSource.from_reference(ref, D1) == review().source
    layout = Reference.parse("oci:./vendor/registry/hello-world:1.0.0")
    assert LockedSource.from_reference(layout, D2) == hello().source


def test_get_with_skill_without() -> None:
    lock = Lockfile(skills=(review(),))
    assert lock.get("review") == review()
    assert lock.get("nope") is None
    added = lock.with_skill(hello())
    assert added.names() == ["hello-world", "review"]
    assert lock.names() == ["review"]  # immutable
    replaced = added.with_skill(review(version="1.3.0"))
    assert replaced.get("review").version == "1.3.0"
    assert len(replaced.skills) == 2
    assert replaced.without("review").names() == ["hello-world"]
    assert replaced.without("absent") == replaced


def test_duplicate_names_rejected_in_constructor() -> None:
    with pytest.raises(LockfileError, match="'review' is locked twice"):
        Lockfile(skills=(review(), review(version="9.9.9")))


def test_resolved_from() -> None:
    entry = review()
    assert entry.resolved_from("ghcr.io/acme/skills/review", "^1.2.0")
    assert not entry.resolved_from("ghcr.io/acme/skills/review", "^1.3.0")
    assert not entry.resolved_from("ghcr.io/acme/skills/other", "^1.2.0")
    assert hello().resolved_from("oci:./vendor/registry/hello-world", None)


SKILLS_OCI_LOCK = f"""\
{{
  "lockfileVersion": 1,
  "generatedAt": "2026-04-02T08:11:09Z",
  "skills": [
    {{
      "name": "manage-pull-requests",
      "path": ".agents/skills/manage-pull-requests",
      "source": {{
        "registry": "ghcr.io",
        "repository": "myorg/skills/manage-pull-requests",
        "tag": "1.0.0",
        "digest": "{D1}",
        "ref": "ghcr.io/myorg/skills/manage-pull-requests:1.0.0@{D1}"
      }},
      "installedAt": "2026-04-02T08:11:09Z"
    }},
    {{
      "name": "flat",
      "digest": "{D2}",
      "ref": "ghcr.io/myorg/skills/flat:2.0.0@{D2}",
      "installedAt": "2026-04-02T08:11:09Z"
    }}
  ]
}}
"""


def test_migrates_skills_oci_lock(tmp_path: Path) -> None:
    path = tmp_path / "skills.lock.json"
    path.write_text(SKILLS_OCI_LOCK, encoding="utf-8")
    lock = load_lockfile(path)
    assert lock is not None and lock.migrated
    assert path.read_text(encoding="utf-8") == SKILLS_OCI_LOCK  # loading never writes
    mpr = lock.get("manage-pull-requests")
    assert mpr == LockedSkill(
        name="manage-pull-requests",
        path=".agents/skills/manage-pull-requests",
        version="1.0.0",
        source=LockedSource("ghcr.io", "myorg/skills/manage-pull-requests", "1.0.0", D1),
        spec_source="ghcr.io/myorg/skills/manage-pull-requests",
        spec_version="1.0.0",
    )
    flat = lock.get("flat")
    assert flat.path == ".agents/skills/flat"
    assert flat.source == LockedSource("ghcr.io", "myorg/skills/flat", "2.0.0", D2)
    assert flat.version == "2.0.0"
    assert save_lockfile(path, lock) is True
    text = path.read_text(encoding="utf-8")
    assert "generatedAt" not in text and "installedAt" not in text
    again = load_lockfile(path)
    assert again == lock and not again.migrated


def test_migrates_name_keyed_skills_and_string_source() -> None:
    text = json.dumps(
        {"skills": {"a": {"source": f"ghcr.io/x/a:1.0.0@{D1}"}}},
    )
    lock = Lockfile.from_json(text)
    assert lock.migrated
    assert lock.get("a").source == LockedSource("ghcr.io", "x/a", "1.0.0", D1)


def test_future_version_asks_to_upgrade() -> None:
    text = '{"lockfileVersion": 2, "skills": [{"totally": "different"}]}'
    with pytest.raises(LockfileError, match=r"lockfileVersion 2 .*upgrade skillcrate"):
        Lockfile.from_json(text)


def test_json_syntax_error_has_line() -> None:
    with pytest.raises(LockfileError) as info:
        Lockfile.from_json('{\n  "lockfileVersion": 1,\n  "skills": [,]\n}', "/x/skills.lock.json")
    assert str(info.value).startswith("skills.lock.json:3:")


def test_collects_every_problem() -> None:
    text = f"""\
{{
  "lockfileVersion": 1,
  "skills": [
    {{"name": "a", "path": "../../etc", "version": "1.0.0",
      "source": {{"registry": "ghcr.io", "repository": "x/a", "digest": "sha256:nothex"}},
      "spec": {{"source": "ghcr.io/x/a"}}}},
    {{"name": "b", "version": 3,
      "source": {{"registry": "ghcr.io", "repository": "x/b", "digest": "{D1}"}},
      "spec": {{"source": "ghcr.io/x/b"}},
      "tree": "nope",
      "additionalInstalledPaths": ["/abs"]}},
    {{"name": "Bad Name"}},
    {{"name": "c", "source": {{"registry": "ghcr.io", "repository": "x/c"}},
      "spec": {{"source": "ghcr.io/x/c"}}}},
    {{"name": "d", "source": {{"registry": "ghcr.io", "repository": "x/d", "digest": "{D1}"}},
      "spec": "^1"}},
    7
  ]
}}
"""
    with pytest.raises(LockfileError) as info:
        Lockfile.from_json(text, Path("skills.lock.json"))
    headline, *lines = str(info.value).split("\n")
    assert headline == "skills.lock.json: 9 problems:"  # then one indented line per problem
    assert all(line.startswith("  skills.lock.json:") for line in lines) and len(lines) == 9
    message = "\n".join(lines)
    expected = [
        "skills.lock.json:4: skills[0] ('a'): \"path\" '../../etc' must not contain '..'",
        "skills.lock.json:5: skills[0] ('a'): \"source.digest\" invalid digest 'sha256:nothex'",
        "skills.lock.json:7: skills[1] ('b'): \"version\" must be a string, not number",
        "skills.lock.json:10: skills[1] ('b'): \"tree\" invalid digest 'nope'",
        "skills.lock.json:11: skills[1] ('b'): \"additionalInstalledPaths\"[0] '/abs' must be",
        "skills.lock.json:12: skills[2]: \"name\" 'Bad Name' is not a valid skill name",
        'skills.lock.json:13: skills[3] (\'c\'): "source" needs a "digest"',
        "skills.lock.json:16: skills[4] ('d'): \"spec\" must be an object, not string",
        "skills.lock.json:17: skills[5]: must be an object, not number",
    ]
    for part in expected:
        assert part in message, part


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[]", "top level must be a JSON object, not array"),
        ('{"lockfileVersion": "1"}', '"lockfileVersion" must be a positive integer'),
        ('{"lockfileVersion": 0}', '"lockfileVersion" must be a positive integer'),
        ('{"lockfileVersion": 1, "skills": 5}', '"skills" must be an array, not number'),
        (
            json.dumps(
                {
                    "lockfileVersion": 1,
                    "skills": [
                        {"name": "a", "source": {"repository": "x/a", "digest": D1}},
                        {"name": "a", "source": {"repository": "x/a", "digest": D1}},
                    ],
                }
            ),
            r"skills\[1\] \('a'\): duplicate name \(also skills\[0\]\)",
        ),
        (
            json.dumps({"lockfileVersion": 1, "skills": [{"name": "a", "source": {"digest": D1}}]}),
            '"source" needs a "repository"',
        ),
        (
            json.dumps({"lockfileVersion": 1, "skills": [{"name": "a", "ref": "HTTP://bad"}]}),
            '"ref" invalid reference',
        ),
    ],
)
def test_invalid_locks(text: str, match: str) -> None:
    with pytest.raises(LockfileError, match=match):
        Lockfile.from_json(text)


def test_load_missing_returns_none(tmp_path: Path) -> None:
    assert load_lockfile(tmp_path / "skills.lock.json") is None


def test_load_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "skills.lock.json"
    path.write_bytes(b'{"x": "\xff"}')
    with pytest.raises(LockfileError, match="not UTF-8"):
        load_lockfile(path)


def test_save_skips_identical_bytes(tmp_path: Path) -> None:
    path = tmp_path / "skills.lock.json"
    lock = Lockfile(skills=(review(),))
    assert save_lockfile(path, lock) is True
    os.utime(path, ns=(1, 1))
    assert save_lockfile(path, lock) is False
    assert path.stat().st_mtime_ns == 1
    assert save_lockfile(path, lock.with_skill(hello())) is True
    assert load_lockfile(path) == lock.with_skill(hello())
    assert [p.name for p in tmp_path.iterdir()] == ["skills.lock.json"]  # no temp files left


def test_empty_lock() -> None:
    lock = Lockfile()
    assert lock.version == LOCK_VERSION
    assert lock.to_json() == '{\n  "lockfileVersion": 1,\n  "skills": []\n}\n'
    assert Lockfile.from_json(lock.to_json()) == lock


def test_the_stable_writer_matches_json_dumps_byte_for_byte() -> None:
    """Lock and skills.json text is json.dumps(indent=2, ensure_ascii=False) + newline,
    written faster; random nested values (non-ASCII, escapes, empty containers) agree."""
    import json
    import random

    from skillcrate._json import dumps_stable

    rng = random.Random(3)
    leaves = ["x", 'é\u2028"\\\n', 1, -5, True, False, None, 1.5, "", 10**30, "\udcff"]

    def value(depth: int = 0) -> object:
        r = rng.random()
        if depth > 4 or r < 0.3:
            return rng.choice(leaves)
        if r < 0.65:
            keys = ["a", "ü", 'k"', ""]
            out: dict[object, object] = {
                rng.choice(keys) + str(i): value(depth + 1) for i in range(rng.randint(0, 4))
            }
            if rng.random() < 0.05:  # json.dumps writes other keys as strings
                out[rng.choice([7, True, None, 2.5])] = value(depth + 1)
            return out
        if r < 0.7:
            return tuple(value(depth + 1) for _ in range(rng.randint(0, 3)))
        return [value(depth + 1) for _ in range(rng.randint(0, 4))]

    for _ in range(2000):
        v = value()
        assert dumps_stable(v) == json.dumps(v, indent=2, ensure_ascii=False) + "\n"
