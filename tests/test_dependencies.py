"""Skills that depend on skills, against a real Distribution registry: declaring
(validate, pack, the manifest annotation), resolving the tree (flat, one version per
name, backtracking), the lock (dependencies, requiredBy), and the commands over it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skillcrate.skill.dependencies import from_annotation, parse, to_annotation

from helpers import make_skill, run_cli


class Repo:
    """Skills pushed under one registry prefix, each with its declared dependencies."""

    def __init__(self, tmp_path: Path, host: str, prefix: str) -> None:
        self.tmp, self.host, self.prefix = tmp_path, host, prefix

    def ref(self, name: str) -> str:
        return f"{self.host}/{self.prefix}/{name}"

    def push(
        self,
        name: str,
        version: str,
        needs: dict[str, str] | None = None,
        *extra: str,
        body: str = "",
    ) -> str:
        folder = make_skill(
            self.tmp / "src" / f"{name}-{version}-{body}",
            name,
            f"{name} at {version}. Use when testing.",
            files={"references/v.md": f"{version} {body}\n"},
        )
        if needs is not None:
            deps = [{"source": self.ref(n), "version": v} for n, v in needs.items()]
            (folder / "skills.json").write_text(json.dumps({"skills": deps}))
        proc = run_cli("push", str(folder), f"{self.ref(name)}:{version}", "--json", *extra)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["digest"]


@pytest.fixture
def repo(tmp_path, registry, repo_name) -> Repo:
    return Repo(tmp_path, registry.host, repo_name)


@pytest.fixture
def proj(tmp_path) -> Path:
    p = tmp_path / "proj"
    p.mkdir()
    return p


def sc(proj, *args, ok=True):
    proc = run_cli(*args, cwd=proj)
    if ok:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def lock_of(proj) -> dict[str, dict]:
    data = json.loads((proj / "skills.lock.json").read_text())
    return {s["name"]: s for s in data["skills"]}


def installed(proj) -> set[str]:
    return {p.name for p in (proj / ".agents/skills").iterdir()}


# --- declaring ----------------------------------------------------------------------------


def test_declarations_are_checked_and_normalised():
    got = parse(
        {
            "skills": [
                {"source": "ghcr.io/acme/testing", "version": "^1.0.0"},
                {"name": "lint-x", "source": "ghcr.io/acme/lint:2.0.0"},
            ],
            "trust": {},
        },
        own_name="review",
    )
    assert not got.errors
    assert [(d.name, d.source, d.version) for d in got.dependencies] == [
        ("lint-x", "ghcr.io/acme/lint", "2.0.0"),
        ("testing", "ghcr.io/acme/testing", "^1.0.0"),
    ]
    assert any('"trust" is ignored' in w for w in got.warnings)
    text = to_annotation(got.dependencies)
    assert from_annotation(text, "x") == got.dependencies
    assert text == to_annotation(tuple(reversed(got.dependencies)))  # deterministic


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"source": "oci:./vendor/x"}, "is a folder"),
        ({"source": "ghcr.io/a/review"}, "cannot depend on itself"),
        ({"source": "ghcr.io/a/x", "version": "^^1"}, '"version"'),
        ({"source": "ghcr.io/a/bad__name"}, "give a name"),
        ({"name": "x"}, '"source" is missing'),
    ],
)
def test_bad_declarations_are_refused(entry, problem):
    got = parse({"skills": [entry]}, own_name="review")
    assert got.errors and problem in got.errors[0], got.errors


def test_hostile_annotation_is_refused():
    from skillcrate.errors import FormatError

    for text in ("{", '{"a":1}', json.dumps([{"source": "oci:/etc"}]), "[" + "1," * 40000 + "1]"):
        with pytest.raises(FormatError):
            from_annotation(text, "evil 1.0.0")


def test_validate_names_a_bad_dependency_file(tmp_path):
    folder = make_skill(tmp_path, "review")
    (folder / "skills.json").write_text('{"skills": [{"source": "oci:./x"}]}')
    proc = run_cli("validate", str(folder))
    assert proc.returncode == 1
    assert "skills.json" in proc.stdout + proc.stderr and "is a folder" in proc.stdout + proc.stderr
    (folder / "skills.json").write_text('{"skills": [{"source": "ghcr.io/acme/testing"}]}')
    assert run_cli("validate", str(folder)).returncode == 0


def test_pack_records_dependencies_in_the_manifest(tmp_path):
    from skillcrate.formats import pack

    folder = make_skill(tmp_path, "review")
    (folder / "skills.json").write_text(
        '{"skills": [{"source": "ghcr.io/acme/testing", "version": "^1.0.0"}], "links": []}'
    )
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    packed = pack(folder, env=env)
    ann = json.loads(packed.manifest)["annotations"]["io.skillcrate.dependencies"]
    want = [{"name": "testing", "source": "ghcr.io/acme/testing", "version": "^1.0.0"}]
    assert json.loads(ann) == want
    assert pack(folder, env=env).manifest == packed.manifest  # same folder, same bytes
    acr = pack(folder, "acr", env=env)
    assert "io.skillcrate.dependencies" not in json.loads(acr.manifest)["annotations"]
    proc = run_cli("pack", str(folder), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["dependencies"] == want
    assert '"links" is ignored' in proc.stderr
    assert (
        "needs    testing ^1.0.0 from ghcr.io/acme/testing" in run_cli("pack", str(folder)).stdout
    )


# --- resolving ----------------------------------------------------------------------------


def test_three_level_tree_is_locked_linked_and_explained(repo, proj):
    repo.push("fixtures", "0.3.0")
    repo.push("testing", "1.4.0", {"fixtures": "^0.3.0"})
    repo.push("review", "1.2.0", {"testing": "^1.0.0"})
    sc(proj, "add", repo.ref("review"))
    assert installed(proj) == {"review", "testing", "fixtures"}
    assert {p.name for p in (proj / ".claude/skills").iterdir()} == installed(proj)
    lock = lock_of(proj)
    assert lock["review"]["dependencies"] == ["testing"]
    assert "requiredBy" not in lock["review"]
    assert lock["testing"]["requiredBy"] == ["review"]
    assert lock["testing"]["dependencies"] == ["fixtures"]
    assert lock["fixtures"]["requiredBy"] == ["testing"]
    assert lock["fixtures"]["spec"] == {"source": repo.ref("fixtures")}
    # skills.json lists only what was asked for
    assert [s["name"] for s in json.loads((proj / "skills.json").read_text())["skills"]] == [
        "review"
    ]
    sc(proj, "install", "--frozen")
    tree = sc(proj, "list", "--tree").stdout
    assert tree.splitlines()[0].startswith("review 1.2.0")
    assert "└── testing 1.4.0" in tree and "fixtures 0.3.0" in tree
    why = sc(proj, "why", "fixtures").stdout
    assert "skills.json → review 1.2.0 → testing 1.4.0 → fixtures 0.3.0" in why
    data = json.loads(sc(proj, "why", "fixtures", "--json").stdout)
    assert data["paths"] == [["review", "testing", "fixtures"]]
    # lock-only and offline: a cached tree installs with the registry out of the picture
    shutil.rmtree(proj / ".agents")
    sc(proj, "install", "--frozen", "--offline")
    assert installed(proj) == {"review", "testing", "fixtures"}


def test_remove_takes_what_nothing_else_needs(repo, proj):
    repo.push("fixtures", "0.3.0")
    repo.push("testing", "1.4.0", {"fixtures": "^0.3.0"})
    repo.push("review", "1.2.0", {"testing": "^1.0.0"})
    repo.push("lint", "1.0.0", {"fixtures": "*"})
    sc(proj, "add", repo.ref("review"), repo.ref("lint"))
    assert lock_of(proj)["fixtures"]["requiredBy"] == ["lint", "testing"]
    refused = sc(proj, "remove", "testing", ok=False)
    assert refused.returncode == 1 and "because review needs it" in refused.stderr
    sc(proj, "remove", "review")
    assert installed(proj) == {"lint", "fixtures"}
    assert lock_of(proj)["fixtures"]["requiredBy"] == ["lint"]
    sc(proj, "remove", "lint")
    assert not lock_of(proj) and installed(proj) == set()


def test_diamond_that_resolves_picks_one_version(repo, proj):
    for v in ("1.0.0", "1.5.0", "2.0.0"):
        repo.push("testing", v)
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    repo.push("lint", "1.0.0", {"testing": ">=1.2.0"})
    sc(proj, "add", repo.ref("review"), repo.ref("lint"))
    lock = lock_of(proj)
    assert lock["testing"]["version"] == "1.5.0"  # the newest both accept
    assert lock["testing"]["requiredBy"] == ["lint", "review"]
    assert "1.5.0" in (proj / ".agents/skills/testing/references/v.md").read_text()


def test_diamond_that_conflicts_names_both_paths(repo, proj):
    repo.push("testing", "1.0.0")
    repo.push("testing", "2.0.0")
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    repo.push("lint", "1.0.0", {"testing": "^2.0.0"})
    sc(proj, "add", repo.ref("review"))
    before = (proj / "skills.json").read_bytes(), (proj / "skills.lock.json").read_bytes()
    proc = sc(proj, "add", repo.ref("lint"), ok=False)
    assert proc.returncode == 1
    err = proc.stderr
    assert f"no version of {repo.ref('testing')} satisfies every skill that needs testing" in err
    assert "skills.json → review 1.0.0 → testing ^1.0.0" in err
    assert "skills.json → lint 1.0.0 → testing ^2.0.0" in err
    assert "available: 2.0.0, 1.0.0" in err
    # nothing changed
    after = (proj / "skills.json").read_bytes(), (proj / "skills.lock.json").read_bytes()
    assert after == before and installed(proj) == {"review", "testing"}


def test_project_entry_wins_only_when_it_satisfies_dependents(repo, proj):
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        repo.push("testing", v)
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sc(proj, "add", repo.ref("testing") + ":1.0.0", "--exact")
    sc(proj, "add", repo.ref("review"))
    assert lock_of(proj)["testing"]["version"] == "1.0.0"  # the project's pin fits: it wins
    assert lock_of(proj)["testing"]["requiredBy"] == ["review"]
    proc = sc(proj, "add", repo.ref("testing") + ":2.0.0", "--exact", ok=False)
    assert "skills.json → testing 2.0.0" in proc.stderr
    assert "skills.json → review 1.0.0 → testing ^1.0.0" in proc.stderr


def test_two_sources_claiming_one_name_conflict(repo, proj, registry):
    other = Repo(repo.tmp / "other", repo.host, repo.prefix + "-other")
    other.push("testing", "1.0.0")
    repo.push("testing", "1.0.0")
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sc(proj, "add", other.ref("testing"))
    proc = sc(proj, "add", repo.ref("review"), ok=False)
    assert "two sources claim the skill name testing" in proc.stderr
    assert f"(from {other.ref('testing')})" in proc.stderr
    assert f"(from {repo.ref('testing')})" in proc.stderr


def test_cycle_is_refused_with_the_cycle_printed(repo, proj):
    repo.push("alpha", "1.0.0", {"beta": "^1.0.0"})
    repo.push("beta", "1.0.0", {"gamma": "^1.0.0"})
    repo.push("gamma", "1.0.0", {"alpha": "^1.0.0"})
    proc = sc(proj, "add", repo.ref("alpha"), ok=False)
    assert proc.returncode == 1
    assert "dependency cycle: alpha 1.0.0 → beta 1.0.0 → gamma 1.0.0 → alpha 1.0.0" in proc.stderr
    assert not (proj / ".agents").exists() and not (proj / "skills.lock.json").exists()


def test_backtracking_picks_an_older_version(repo, proj):
    repo.push("testing", "1.0.0")
    repo.push("testing", "2.0.0")
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    repo.push("review", "2.0.0", {"testing": "^2.0.0"})
    repo.push("release", "1.0.0", {"review": "*", "testing": "<2.0.0"})
    sc(proj, "add", repo.ref("release"))
    lock = lock_of(proj)
    # review 2.0.0 is newest but needs testing 2; release wants testing < 2: review 1.0.0
    assert (lock["review"]["version"], lock["testing"]["version"]) == ("1.0.0", "1.0.0")
    assert lock["testing"]["requiredBy"] == ["release", "review"]


def test_moved_tag_deep_in_the_tree_keeps_the_locked_install(repo, proj):
    first = repo.push("fixtures", "0.3.0")
    repo.push("testing", "1.0.0", {"fixtures": "0.3.0"})
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sc(proj, "add", repo.ref("review"))
    moved = repo.push("fixtures", "0.3.0", None, "--force", body="moved")  # same tag, other content
    assert moved != first
    shutil.rmtree(proj / ".agents")
    sc(proj, "cache", "clean")
    sc(proj, "install")
    sc(proj, "install", "--frozen")
    assert lock_of(proj)["fixtures"]["source"]["digest"] == first
    # a new skill elsewhere in the tree: the solver keeps every locked pin that fits
    repo.push("lint", "1.0.0")
    sc(proj, "add", repo.ref("lint"))
    assert lock_of(proj)["fixtures"]["source"]["digest"] == first


def test_update_and_outdated_cover_transitive_skills(repo, proj):
    repo.push("testing", "1.0.0")
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sc(proj, "add", repo.ref("review"))
    repo.push("testing", "1.1.0")
    repo.push("testing", "2.0.0")
    rows = {r["name"]: r for r in json.loads(sc(proj, "outdated", "--json", ok=False).stdout)}
    t = rows["testing"]
    assert (t["current"], t["wanted"], t["latest"]) == ("1.0.0", "1.1.0", "2.0.0")
    assert t["requiredBy"] == ["review"] and rows["review"]["requiredBy"] == []
    sc(proj, "update", "testing")
    assert lock_of(proj)["testing"]["version"] == "1.1.0"
    assert "1.1.0" in (proj / ".agents/skills/testing/references/v.md").read_text()


def test_frozen_checks_the_whole_closure(repo, proj):
    repo.push("fixtures", "0.3.0")
    repo.push("testing", "1.0.0", {"fixtures": "^0.3.0"})
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sc(proj, "add", repo.ref("review"))
    good = (proj / "skills.lock.json").read_text()
    data = json.loads(good)
    # a lock that dropped a transitive skill
    data["skills"] = [s for s in data["skills"] if s["name"] != "fixtures"]
    (proj / "skills.lock.json").write_text(json.dumps(data, indent=2) + "\n")
    proc = sc(proj, "install", "--frozen", ok=False)
    assert proc.returncode == 1 and "testing needs fixtures" in proc.stderr
    sc(proj, "install")  # a tree the lock misses is solved again, from the locked pins
    assert (proj / "skills.lock.json").read_text() == good
    # a lock that hides a dependency: names it nowhere
    data = json.loads(good)
    for s in data["skills"]:
        s.pop("dependencies", None)
        s.pop("requiredBy", None)
    data["skills"] = [s for s in data["skills"] if s["name"] == "review"]
    (proj / "skills.lock.json").write_text(json.dumps(data, indent=2) + "\n")
    proc = sc(proj, "install", "--frozen", ok=False)
    assert "~ review: needs testing, but skills.lock.json records nothing" in proc.stderr
    sc(proj, "update")
    assert (proj / "skills.lock.json").read_text() == good


def test_trust_rules_apply_to_transitive_skills(repo, proj, tmp_path):
    """A signed skill cannot pull in an unsigned one from a source the policy enforces."""
    password = {"SKILLCRATE_PASSWORD": "correct horse"}
    key = tmp_path / "acme"
    assert run_cli("keygen", "--output-key-prefix", str(key), env=password).returncode == 0

    def sign(name, version):
        done = run_cli("sign", f"{repo.ref(name)}:{version}", "--key", f"{key}.key", env=password)
        assert done.returncode == 0, done.stderr

    repo.push("testing", "1.0.0")  # unsigned
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    sign("review", "1.0.0")
    rule = {"mode": "enforce", "keys": [f"{key}.pub"]}
    trust = {f"{repo.host}/{repo.prefix}/*": rule}
    (proj / "skills.json").write_text(json.dumps({"skills": [], "trust": trust}) + "\n")
    proc = sc(proj, "add", repo.ref("review"), ok=False)
    assert proc.returncode == 1 and "testing" in proc.stderr and "not signed" in proc.stderr
    assert not (proj / ".agents/skills/review").exists()
    # the honest flow: the dependency is signed too
    sign("testing", "1.0.0")
    sc(proj, "add", repo.ref("review"))
    assert lock_of(proj)["testing"]["signedBy"] == f"{key}.pub"
    assert lock_of(proj)["review"]["signedBy"] == f"{key}.pub"


def test_acr_format_carries_dependencies_in_the_layer(repo, proj):
    repo.push("testing", "1.0.0")
    digest = repo.push("review", "1.0.0", {"testing": "^1.0.0"}, "--format", "acr")
    shown = json.loads(sc(proj, "inspect", f"{repo.ref('review')}@{digest}", "--json").stdout)
    assert "io.skillcrate.dependencies" not in json.dumps(shown)
    sc(proj, "add", repo.ref("review"))
    assert lock_of(proj)["review"]["dependencies"] == ["testing"]


def test_a_missing_dependency_names_its_path(repo, proj):
    repo.push("review", "1.0.0", {"absent": "^1.0.0"})
    proc = sc(proj, "add", repo.ref("review"), ok=False)
    assert proc.returncode == 1
    assert "skills.json → review 1.0.0 → absent ^1.0.0" in proc.stderr


def test_a_tree_installs_warm_as_a_no_op(repo, proj):
    from skillcrate.fastpath import is_up_to_date

    repo.push("fixtures", "0.3.0")
    repo.push("review", "1.0.0", {"fixtures": "^0.3.0"})
    sc(proj, "add", repo.ref("review"))
    assert is_up_to_date(proj)  # the session-start check answers without reading the tree
    done = json.loads(sc(proj, "install", "--json").stdout)
    assert done["installed"] == [] and sorted(done["unchanged"]) == ["fixtures", "review"]
    assert not done["lockWritten"]
    rows = {r["name"]: r for r in json.loads(sc(proj, "list", "--json").stdout)}
    assert rows["fixtures"]["direct"] is False and rows["fixtures"]["requiredBy"] == ["review"]
    assert "(needed by review)" in sc(proj, "list").stdout


def test_keep_going_leaves_a_tree_that_cannot_be_solved_as_it_was(repo, proj):
    repo.push("testing", "1.0.0")
    repo.push("review", "1.0.0", {"testing": "^1.0.0"})
    repo.push("lint", "1.0.0")
    sc(proj, "add", repo.ref("review"), repo.ref("lint"))
    before = (proj / "skills.lock.json").read_text()
    repo.push("review", "1.1.0", {"absent": "^1.0.0"})  # needs a skill nobody published
    data = json.loads((proj / "skills.json").read_text())
    data["skills"][0]["version"] = "1.1.0"
    (proj / "skills.json").write_text(json.dumps(data, indent=2) + "\n")
    proc = sc(proj, "install", "--keep-going", ok=False)
    assert proc.returncode == 1
    assert "skills.json → review 1.1.0 → absent ^1.0.0" in proc.stderr
    assert (proj / "skills.lock.json").read_text() == before
    assert installed(proj) == {"review", "testing", "lint"}
    assert "1.0.0" in (proj / ".agents/skills/review/references/v.md").read_text()


def test_what_needs_nothing_is_added_without_a_search(repo, proj):
    """The plain case (the new entry needs nothing, nothing locked needs it, it replaces
    nothing that needed something) keeps the plan as it is; anything else is searched."""
    from skillcrate.project.context import Project
    from skillcrate.project.manifest import SkillSpec
    from skillcrate.solver import plain_picks

    repo.push("lint", "1.0.0")
    repo.push("fixtures", "0.3.0")
    repo.push("review", "1.0.0", {"fixtures": "^0.3.0"})
    sc(proj, "add", repo.ref("review"))
    project = Project(proj)
    lock = project.load_lock()
    lint = SkillSpec("lint", repo.ref("lint"), "^1.0.0")
    picks = plain_picks(project, lock, [lint], {})
    assert picks is not None and picks["lint"].version == "1.0.0"
    fixtures = SkillSpec("fixtures", repo.ref("fixtures"), "^0.3.0")
    assert plain_picks(project, lock, [fixtures], {}) is None  # review needs it
    review = SkillSpec("review", repo.ref("review"), "^1.0.0")
    assert plain_picks(project, lock, [review], {}) is None  # it needs something
    sc(proj, "add", repo.ref("lint"))
    assert sorted(lock_of(proj)) == ["fixtures", "lint", "review"]
    assert lock_of(proj)["fixtures"]["requiredBy"] == ["review"]
    assert "dependencies" not in lock_of(proj)["lint"]


def test_an_edited_kept_skill_is_rebuilt_when_another_is_added(repo, proj):
    """Kept skills are proven by lstat of their recorded paths; an edit (same size, the
    mtime put back) still fails the proof, so the folder is rebuilt from the lock."""
    import os

    repo.push("review", "1.0.0")
    repo.push("lint", "1.0.0")
    sc(proj, "add", repo.ref("review"))
    edited = proj / ".agents/skills/review/references/v.md"
    before = edited.read_bytes()
    st = edited.stat()
    edited.write_bytes(before.replace(b"1", b"9"))
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    sc(proj, "add", repo.ref("lint"))
    assert edited.read_bytes() == before
