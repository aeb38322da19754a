"""Lifecycle (skillctl-compatible): push --status, promote, and what resolution picks.

Registry behaviour runs against the real Distribution fixture (which cannot delete a tag
alone, so archiving deletes the old manifest) and an ``oci:`` layout (which can).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from skillcrate import states as lifecycle
from skillcrate.errors import LifecycleError
from skillcrate.oci import open_target
from skillcrate.oci.model import parse_manifest
from skillcrate.reference import Reference

from helpers import make_skill, run_cli

STATES = lifecycle.STATES


def _ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _fails(*args: str, cwd: Path | None = None) -> str:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 1, f"{proc.stdout}\n{proc.stderr}"
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    return line


def _manifest(ref: str) -> tuple[str, dict]:
    reference = Reference.parse(ref)
    desc, data = open_target(reference).fetch_manifest(reference.reference)
    return desc.digest, parse_manifest(data)


def _push(folder: Path, ref: str, *extra: str) -> dict:
    return json.loads(_ok("push", str(folder), ref, "--json", *extra).stdout)


# ------------------------------------------------------------------- pure rules
@pytest.mark.parametrize("current", STATES)
@pytest.mark.parametrize("wanted", STATES)
def test_only_one_step_forward_is_legal(current: str, wanted: str) -> None:
    legal = STATES.index(wanted) == STATES.index(current) + 1
    if legal:
        lifecycle.check_transition(current, wanted)
        return
    with pytest.raises(LifecycleError) as err:
        lifecycle.check_transition(current, wanted)
    nxt = lifecycle.next_state(current)
    assert (f"next state is {nxt}" if nxt else "is final") in str(err.value) or (
        current == wanted and "already" in str(err.value)
    )


def test_tags_per_state_match_skillctl() -> None:
    assert [lifecycle.tag_for("1.2.0", s) for s in STATES] == [
        "1.2.0-draft",
        "1.2.0-testing",
        "1.2.0",
        "1.2.0",
        None,
    ]
    assert lifecycle.push_tags("1.2.0", "published", ["1.0.0", "2.0.0-rc.1"]) == ["1.2.0", "latest"]
    assert lifecycle.push_tags("1.0.5", "published", ["2.0.0"]) == ["1.0.5"]  # latest stays
    # a prerelease never moves latest (latest follows the newest release only)
    assert lifecycle.push_tags("2.0.0-rc.1", "published", ["1.0.0"]) == ["2.0.0-rc.1"]
    assert lifecycle.push_tags("0.1.0-alpha", "published", []) == ["0.1.0-alpha"]
    assert lifecycle.push_tags("1.2.0-draft", "draft", []) == ["1.2.0-draft"]
    with pytest.raises(LifecycleError):
        lifecycle.push_tags("1.2.0", "deprecated", [])
    assert lifecycle.status_of({}) == "published"  # other tools' artifacts carry no state


# --------------------------------------------------------- the full walk (registry)
def test_promote_walks_every_state_and_keeps_content_digests(registry, repo_name, tmp_path):
    folder = make_skill(tmp_path, "walker", version="1.0.0")
    base = f"{registry.host}/{repo_name}"
    pushed = _push(folder, f"{base}:1.0.0", "--status", "draft")
    assert pushed["tags"] == ["1.0.0-draft"] and pushed["status"] == "draft"
    first_digest, first = _manifest(f"{base}:1.0.0-draft")
    assert first["annotations"]["io.skillimage.status"] == "draft"
    content = (first["config"], first["layers"])

    # illegal from draft: skipping testing, or going backwards
    for wanted in ("published", "deprecated", "archived"):
        line = _fails("promote", f"{base}:1.0.0-draft", "--to", wanted)
        assert "next state is testing" in line
    seen = {first_digest}
    previous = "draft"
    for state, ref_tag in (
        ("testing", "1.0.0-draft"),
        ("published", "1.0.0-testing"),
        ("deprecated", "1.0.0"),
    ):
        out = json.loads(_ok("promote", f"{base}:{ref_tag}", "--to", state, "--json").stdout)
        assert out["from"] == previous and out["to"] == state
        digest, obj = _manifest(f"{base}@{out['digest']}")
        assert obj["annotations"]["io.skillimage.status"] == state
        assert (obj["config"], obj["layers"]) == content  # config and layers never change
        assert digest not in seen  # the manifest digest does
        seen.add(digest)
        previous = state
    tags = json.loads(_ok("versions", base, "--json").stdout)
    assert {"1.0.0-draft", "1.0.0-testing", "1.0.0", "latest"} <= set(tags)
    assert _manifest(f"{base}:1.0.0")[1]["annotations"]["io.skillimage.status"] == "deprecated"
    assert _manifest(f"{base}:latest")[0] == _manifest(f"{base}:1.0.0")[0]

    line = _fails("promote", f"{base}:1.0.0", "--to", "published")
    assert "cannot go from deprecated to published" in line and "next state is archived" in line

    proc = _ok("promote", f"{base}:1.0.0", "--to", "archived", "--json")
    out = json.loads(proc.stdout)
    assert sorted(out["untagged"]) == ["1.0.0", "latest"]
    assert "cannot delete a tag alone" in proc.stderr  # Distribution 2.x: by manifest
    tags = json.loads(_ok("versions", base, "--json").stdout)
    assert "1.0.0" not in tags and "latest" not in tags
    _, archived = _manifest(f"{base}@{out['digest']}")  # reachable by digest only
    assert archived["annotations"]["io.skillimage.status"] == "archived"
    assert (archived["config"], archived["layers"]) == content
    line = _fails("promote", f"{base}@{out['digest']}", "--to", "published")
    assert "archived is final" in line


def test_promote_in_a_layout_untags_without_deleting(tmp_path):
    folder = make_skill(tmp_path, "laid", version="2.0.0")
    store = f"oci:{tmp_path / 'store'}"
    _push(folder, f"{store}:2.0.0")
    dep = json.loads(_ok("promote", f"{store}:2.0.0", "--to", "deprecated", "--json").stdout)
    arch = json.loads(_ok("promote", f"{store}:2.0.0", "--to", "archived", "--json").stdout)
    assert arch["notes"] == []
    assert json.loads(_ok("versions", store, "--json").stdout) == []
    # both the deprecated and the archived manifests stay reachable by digest
    assert _manifest(f"{store}@{dep['digest']}")[1]["annotations"]["io.skillimage.status"] == (
        "deprecated"
    )
    assert _manifest(f"{store}@{arch['digest']}")[1]["annotations"]["io.skillimage.status"] == (
        "archived"
    )


def test_deprecation_message_needs_deprecated(registry, repo_name, tmp_path):
    folder = make_skill(tmp_path, "msg", version="1.0.0")
    base = f"{registry.host}/{repo_name}"
    _push(folder, f"{base}:1.0.0", "--status", "draft")
    line = _fails("promote", f"{base}:1.0.0-draft", "--to", "testing", "-m", "why")
    assert "only goes with --to deprecated" in line


# ------------------------------------------------------------ what ranges pick
@pytest.fixture
def published_family(registry, repo_name, tmp_path):
    """1.0.0 published, 1.1.0 testing (tag 1.1.0-testing), 1.2.0 tagged as a release but
    annotated testing (another tool's push), 1.3.0 annotated archived, 2.0.0 draft."""
    base = f"{registry.host}/{repo_name}"
    for version, extra in (
        ("1.0.0", ()),
        ("1.1.0", ("--status", "testing")),
        ("1.2.0", ("--annotation", "io.skillimage.status=testing")),
        ("1.3.0", ("--annotation", "io.skillimage.status=archived")),
        ("2.0.0", ("--status", "draft")),
    ):
        folder = make_skill(tmp_path / version, "family", f"Family {version}.", version=version)
        _push(folder, f"{base}:{version}", *extra)
    return base


def _project(tmp_path: Path, name: str) -> Path:
    proj = tmp_path / name
    proj.mkdir()
    return proj


def _installed(proj: Path) -> str:
    return (proj / ".agents/skills/family/SKILL.md").read_text()


def test_ranges_skip_draft_testing_and_archived(published_family, tmp_path):
    proj = _project(tmp_path, "plain")
    _ok("add", published_family, cwd=proj)
    assert "Family 1.0.0." in _installed(proj)
    spec = json.loads((proj / "skills.json").read_text())["skills"][0]
    assert spec["version"] == "^1.0.0"
    lock = json.loads((proj / "skills.lock.json").read_text())
    assert lock["skills"][0]["version"] == "1.0.0"
    # outdated and update agree: nothing newer that a range may pick
    out = json.loads(_ok("outdated", "--json", cwd=proj).stdout)
    assert out[0]["wanted"] == "1.0.0" and out[0]["latest"] == "1.0.0"
    _ok("update", cwd=proj)
    assert "Family 1.0.0." in _installed(proj)


def test_pre_allows_testing_and_draft_but_never_archived(published_family, tmp_path):
    proj = _project(tmp_path, "pre")
    _ok("add", published_family, "--pre", cwd=proj)
    assert "Family 2.0.0." in _installed(proj)  # 2.0.0-draft is the newest with --pre
    proj2 = _project(tmp_path, "pre-range")
    _ok("add", published_family, "--pre", "--version", "~1.2", cwd=proj2)
    assert "Family 1.2.0." in _installed(proj2)
    proj3 = _project(tmp_path, "archived")
    line = _fails("add", published_family, "--pre", "--version", "~1.3", cwd=proj3)
    assert "1.3.0 is archived" in line
    assert not (proj3 / "skills.json").exists()


def test_an_exact_tag_asks_for_any_state(published_family, tmp_path):
    proj = _project(tmp_path, "exact")
    _ok("add", f"{published_family}:1.1.0-testing", cwd=proj)
    assert "Family 1.1.0." in _installed(proj)
    proj2 = _project(tmp_path, "no-pre")
    line = _fails("add", published_family, "--version", "~1.2", cwd=proj2)
    assert "1.2.0 is testing" in line
    assert "--pre" in run_cli("add", published_family, "--version", "~1.2", cwd=proj2).stderr


def test_installing_a_deprecated_version_warns_with_its_message(registry, repo_name, tmp_path):
    base = f"{registry.host}/{repo_name}"
    folder = make_skill(tmp_path, "old-skill", version="1.0.0")
    _push(folder, f"{base}:1.0.0")
    _ok("promote", f"{base}:1.0.0", "--to", "deprecated", "-m", "use new-skill instead")
    proj = _project(tmp_path, "dep")
    proc = _ok("add", base, cwd=proj)
    assert "warning: old-skill 1.0.0 is deprecated: use new-skill instead" in proc.stderr
    assert (proj / ".agents/skills/old-skill/SKILL.md").is_file()
    # a teammate installing from the lock sees it too; the warm no-op stays silent
    import shutil

    shutil.rmtree(proj / ".agents")
    assert "is deprecated" in _ok("install", cwd=proj).stderr
    assert "is deprecated" not in _ok("install", cwd=proj).stderr
    info = json.loads(_ok("inspect", f"{base}:1.0.0", "--json").stdout)
    assert info["status"] == "deprecated"


def test_promoting_a_bare_version_points_at_the_staged_tag(tmp_path):
    folder = make_skill(tmp_path, "staged", version="3.0.0")
    store = f"oci:{tmp_path / 'store'}"
    _push(folder, f"{store}:3.0.0", "--status", "draft")
    proc = run_cli("promote", f"{store}:3.0.0", "--to", "testing")
    assert proc.returncode == 1 and "hint: a staged version is tagged 3.0.0-draft" in proc.stderr
