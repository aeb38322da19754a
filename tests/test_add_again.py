"""npm/uv/cargo habits for `add`: idempotent, rewrites a version, takes tags as tags."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from skillcrate.formats import pack
from skillcrate.oci.layout import LayoutRepository
from skillcrate.publish.push import push_packed

from helpers import clone_project, make_skill, run_cli


@pytest.fixture
def world(tmp_path: Path) -> Path:
    store = LayoutRepository(tmp_path / "store" / "review")
    for version, extra in (("1.0.0", ["v1"]), ("1.1.0", []), ("2.0.0", ["stable"])):
        folder = make_skill(
            tmp_path / "src" / version / "review",
            "review",
            "Review skill.",
            files={"references/v.md": version + "\n"},
        )
        push_packed(store, pack(folder, tag=version), [version, *extra])
    proj = tmp_path / "proj"
    proj.mkdir()
    return proj


def entry(proj: Path) -> dict:
    [only] = json.loads((proj / "skills.json").read_text())["skills"]
    return only


def installed_version(proj: Path) -> str:
    return (proj / ".agents/skills/review/references/v.md").read_text().strip()


def ok(proj: Path, *args: str) -> str:
    done = run_cli(*args, cwd=proj)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_adding_the_same_thing_twice_is_a_no_op(world: Path) -> None:
    ok(world, "add", "oci:../store/review:1.0.0")
    before = (world / "skills.json").read_bytes(), (world / "skills.lock.json").read_bytes()
    ok(world, "add", "oci:../store/review:1.0.0")
    after = (world / "skills.json").read_bytes(), (world / "skills.lock.json").read_bytes()
    assert after == before


def test_adding_again_with_another_version_rewrites_the_spec(world: Path) -> None:
    ok(world, "add", "oci:../store/review")
    assert entry(world)["version"] == "^2.0.0" and installed_version(world) == "2.0.0"
    ok(world, "add", "oci:../store/review", "--version", "~1.0")  # a downgrade, like npm
    assert entry(world)["version"] == "~1.0" and installed_version(world) == "1.0.0"
    ok(world, "add", "oci:../store/review:1.1.0", "--exact")
    assert entry(world)["version"] == "1.1.0" and installed_version(world) == "1.1.0"


def test_a_spec_that_is_a_tag_selects_that_tag(world: Path) -> None:
    ok(world, "add", "oci:../store/review:v1")  # read as a tag, not as the range >=1 <2
    assert entry(world)["version"] == "v1" and installed_version(world) == "1.0.0"
    ok(world, "add", "oci:../store/review", "--version", "stable")
    assert installed_version(world) == "2.0.0"
    ok(world, "install", "--frozen")


def test_a_relative_layout_with_dash_c_is_taken_from_the_project(world: Path) -> None:
    elsewhere = world.parent / "some" / "where"  # ../store/review from here is not the store
    elsewhere.mkdir(parents=True)
    done = run_cli("-C", str(world), "add", "oci:../store/review", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert entry(world)["source"] == "oci:../store/review"


def test_outdated_reports_a_followed_tag_that_moved(world: Path) -> None:
    import json as _json

    ok(world, "add", "oci:../store/review:stable")
    done = run_cli("outdated", "--json", cwd=world)
    assert done.returncode == 0, done.stdout  # the tag has not moved
    store = LayoutRepository(world.parent / "store" / "review")
    store.tag(store.resolve("1.1.0"), "stable")  # the publisher moves the tag
    done = run_cli("outdated", "--json", cwd=world)
    assert done.returncode == 1
    [row] = _json.loads(done.stdout)
    assert row["tracking"] and row["outdated"]
    assert row["current"].startswith("stable@") and row["wanted"].startswith("stable@")
    assert row["current"] != row["wanted"]


def test_add_in_a_subfolder_of_a_git_repository_uses_its_root(world: Path) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", str(world)], check=True)
    sub = world / "src" / "deep"
    sub.mkdir(parents=True)
    done = run_cli("add", f"oci:{world.parent / 'store' / 'review'}", cwd=sub)
    assert done.returncode == 0, done.stderr
    assert (world / "skills.json").is_file() and not (sub / "skills.json").exists()
    assert f"created {world / 'skills.json'}" in done.stderr
    assert (world / ".agents" / "skills" / "review" / "SKILL.md").is_file()


def test_add_and_update_print_the_versions(world: Path) -> None:
    out = ok(world, "add", "oci:../store/review", "--version", "~1.0")
    assert out == "+ review 1.0.0\n"
    out = ok(world, "add", "oci:../store/review", "--version", "^1.0.0")
    assert out == "+ review 1.0.0 → 1.1.0\n"


def test_cache_prune_keeps_what_other_live_projects_pin(world: Path) -> None:
    other = world.parent / "other"
    other.mkdir()
    ok(other, "add", "oci:../store/review:1.0.0", "--exact")
    ok(world, "add", "oci:../store/review:2.0.0", "--exact")
    ok(world, "cache", "prune")
    shutil.rmtree(other / ".agents")
    shutil.rmtree(world.parent / "store")  # only the cache can serve it now
    done = run_cli("install", "--offline", cwd=other)  # its pins survived the prune
    assert done.returncode == 0, done.stderr
    assert installed_version(other) == "1.0.0"


def test_list_columns_line_up_with_long_names(world: Path) -> None:
    ok(world, "add", "oci:../store/review")
    ok(world, "add", "oci:../store/review", "--name", "a-very-long-skill-name-for-columns")
    lines = [line for line in ok(world, "list").splitlines() if not line.startswith("    ")]
    assert len(lines) == 2
    starts = {line.index("sha256:") for line in lines}
    assert len(starts) == 1, lines  # the digest column starts at the same place


def test_a_missing_version_lists_the_tags_there_are(world: Path) -> None:
    done = run_cli("add", "oci:../store/review:9.9.9", cwd=world)
    assert done.returncode == 1
    assert "has no tag 9.9.9" in done.stderr and "v9.9.9" not in done.stderr
    assert "available: 2.0.0, 1.1.0, 1.0.0" in done.stderr


def test_cache_verify_names_each_damaged_entry_once(world: Path) -> None:
    ok(world, "add", "oci:../store/review")
    cache = Path(os.environ["SKILLCRATE_CACHE_DIR"])
    blob = next(p for p in (cache / "blobs-v1" / "sha256").iterdir() if p.stat().st_size > 100)
    blob.chmod(0o644)
    blob.write_bytes(b"damaged")
    done = run_cli("cache", "verify", cwd=world)
    assert done.returncode == 1
    [line] = [x for x in done.stdout.splitlines() if blob.name in x]
    assert line.count(blob.name) == 1, line


def test_cache_prune_stops_on_this_projects_malformed_lock(world: Path) -> None:
    ok(world, "add", "oci:../store/review")
    cache = Path(os.environ["SKILLCRATE_CACHE_DIR"])
    before = sorted(p.name for p in (cache / "blobs-v1" / "sha256").iterdir())
    (world / "skills.lock.json").write_text("{ not json\n")
    done = run_cli("cache", "prune", cwd=world)
    assert done.returncode == 1 and "skills.lock.json" in done.stderr
    assert sorted(p.name for p in (cache / "blobs-v1" / "sha256").iterdir()) == before


def test_the_name_mismatch_warning_is_said_once(world: Path) -> None:
    """Said when the skill is installed under another name, not again on every command."""
    first = run_cli("add", "oci:../store/review:1.0.0", "--name", "critic", cwd=world)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("SKILL.md names the skill 'review'") == 1
    for command in (["install"], ["list"], ["verify"], ["outdated"], ["install", "--frozen"]):
        later = run_cli(*command, cwd=world)
        assert "SKILL.md names the skill" not in later.stderr + later.stdout, command
    # nor by an install from the lock in a fresh clone (a sibling: the same ../store), though
    # the cache knows SKILL.md's name
    clone = clone_project(world, world.parent / "clone")
    fresh = run_cli("install", cwd=clone)
    assert fresh.returncode == 0, fresh.stderr
    assert (clone / ".agents" / "skills" / "critic" / "SKILL.md").is_file()
    assert "SKILL.md names the skill" not in fresh.stderr + fresh.stdout


def test_a_link_path_taken_by_the_users_own_folder_stops_add_before_any_write(
    world: Path,
) -> None:
    """Checked before anything is written: skills.json, the skill folder and the lock stay
    as they were (the link used to fail only after the folder was installed)."""
    mine = world / ".claude/skills/review"
    mine.mkdir(parents=True)
    (mine / "notes.md").write_text("mine\n")
    (world / "skills.json").write_text('{"skills": []}\n')
    done = run_cli("add", "oci:../store/review:1.0.0", cwd=world)
    assert done.returncode == 1 and "not created by skillcrate" in done.stderr
    assert (world / "skills.json").read_text() == '{"skills": []}\n'
    assert not (world / ".agents/skills/review").exists()
    assert not (world / "skills.lock.json").exists()
    assert (mine / "notes.md").read_text() == "mine\n"


def _state_line(rel: str) -> str:
    from skillcrate.fastpath import read_install

    found = read_install(Path.cwd())
    assert found is not None
    art = found[1][rel]
    return repr(art)


def test_a_kept_skill_keeps_its_record_and_an_edited_one_is_made_anew(tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma"):
        folder = make_skill(tmp_path / "src" / name, name, f"The {name} skill.")
        push_packed(LayoutRepository(tmp_path / "store" / name), pack(folder), ["1.0.0"])
    proj = tmp_path / "proj"
    proj.mkdir()
    ok(proj, "add", "oci:../store/alpha")
    cwd = Path.cwd()
    os.chdir(proj)
    try:
        before = _state_line(".agents/skills/alpha")
        ok(proj, "add", "oci:../store/beta")
        assert _state_line(".agents/skills/alpha") == before  # carried as it was recorded
        skill_md = proj / ".agents/skills/alpha/SKILL.md"
        skill_md.write_text(skill_md.read_text() + "edited\n")
        ok(proj, "add", "oci:../store/gamma")
        # the edited folder no longer matches its record: it is not carried over as it was
        assert _state_line(".agents/skills/alpha") != before
        done = run_cli("install", cwd=proj)
        assert done.returncode == 0 and "up to date" in done.stderr
    finally:
        os.chdir(cwd)


def test_a_layout_folder_whose_name_reads_as_a_tag_is_refused_before_any_write(
    tmp_path: Path,
) -> None:
    """`oci:store/review:v2:1.0.0` pushes into the folder `review:v2`; skills.json's source
    (no tag) would be `oci:../store/review:v2`, which reads back as the folder `review`
    with the tag `v2`: add says so, instead of failing on the wrong folder."""
    folder = make_skill(tmp_path / "src" / "review", "review", "Review skill.")
    store = tmp_path / "store" / "review:v2"
    push_packed(LayoutRepository(store), pack(folder, tag="1.0.0"), ["1.0.0"])
    proj = tmp_path / "proj"
    proj.mkdir()
    done = run_cli("add", "oci:../store/review:v2:1.0.0", cwd=proj)
    assert done.returncode == 2, done.stderr
    assert "ends in ':v2'" in done.stderr and "rename the folder" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2
    assert not (proj / "skills.json").exists() and not (proj / ".agents").exists()
    shutil.move(store, tmp_path / "store" / "review-v2")  # control: renamed, it adds
    assert run_cli("add", "oci:../store/review-v2:1.0.0", cwd=proj).returncode == 0
    assert (proj / ".agents/skills/review/SKILL.md").is_file()
