"""Project dependency management through the CLI, against oci: layouts (no server)."""

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


def publish(store: Path, name: str, version: str, body: str = "", tags=()) -> str:
    """Pack a skill called ``name`` at ``version`` into the layout ``store/name``; digest."""
    src = store.parent / "src" / f"{name}-{version}"
    folder = make_skill(
        src,
        name,
        f"{name} skill, version {version}.",
        files={
            "references/notes.md": f"{name} {version} {body}\n",
            "scripts/run.sh": "#!/bin/sh\necho run\n",
        },
    )
    (folder / "scripts/run.sh").chmod(0o755)
    desc = push_packed(LayoutRepository(store / name), pack(folder, tag=version), [version, *tags])
    return desc.digest


@pytest.fixture
def store(tmp_path):
    s = tmp_path / "store"
    s.mkdir()
    return s


@pytest.fixture
def proj(tmp_path):
    p = tmp_path / "proj"
    p.mkdir()
    return p


def sc(proj: Path, *args: str, ok: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=proj, **kw)
    if ok:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def lock(proj: Path) -> dict:
    return json.loads((proj / "skills.lock.json").read_text())


def manifest(proj: Path) -> dict:
    return json.loads((proj / "skills.json").read_text())


def snapshot(proj: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted(proj.rglob("*")):
        if p.is_symlink():
            out[p.relative_to(proj).as_posix()] = b"->" + os.readlink(p).encode()
        elif p.is_file() and not p.name.endswith(".lock"):
            out[p.relative_to(proj).as_posix()] = p.read_bytes()
    return out


def test_full_cycle_add_update_outdated_remove(store, proj):
    publish(store, "alpha", "1.0.0")
    publish(store, "beta", "0.3.0")
    sc(proj, "init")
    sc(proj, "add", "oci:../store/alpha", "oci:../store/beta")
    m = manifest(proj)
    assert [(s["name"], s["source"], s["version"]) for s in m["skills"]] == [
        ("alpha", "oci:../store/alpha", "^1.0.0"),
        ("beta", "oci:../store/beta", "^0.3.0"),
    ]
    lk = lock(proj)
    assert [s["name"] for s in lk["skills"]] == ["alpha", "beta"]
    assert lk["skills"][0]["version"] == "1.0.0"
    assert (proj / ".agents/skills/alpha/SKILL.md").is_file()
    assert os.readlink(proj / ".claude/skills/alpha") == "../../.agents/skills/alpha"
    assert os.access(proj / ".agents/skills/alpha/scripts/run.sh", os.X_OK)
    listed = json.loads(sc(proj, "list", "--json").stdout)
    assert [(x["name"], x["version"]) for x in listed] == [("alpha", "1.0.0"), ("beta", "0.3.0")]
    assert listed[0]["description"].startswith("alpha skill")
    # new versions appear
    publish(store, "alpha", "1.1.0")
    publish(store, "alpha", "2.0.0")
    out = sc(proj, "outdated", "--json", ok=False)
    assert out.returncode == 1
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert (rows["alpha"]["current"], rows["alpha"]["wanted"], rows["alpha"]["latest"]) == (
        "1.0.0",
        "1.1.0",
        "2.0.0",
    )
    assert not rows["beta"]["outdated"]
    # install alone does not move a satisfied lock
    sc(proj, "install")
    assert lock(proj)["skills"][0]["version"] == "1.0.0"
    sc(proj, "update", "alpha")
    assert lock(proj)["skills"][0]["version"] == "1.1.0"
    assert manifest(proj)["skills"][0]["version"] == "^1.0.0"
    assert "1.1.0" in (proj / ".agents/skills/alpha/references/notes.md").read_text()
    sc(proj, "update", "--latest")
    assert manifest(proj)["skills"][0]["version"] == "^2.0.0"
    assert lock(proj)["skills"][0]["version"] == "2.0.0"
    assert sc(proj, "outdated").returncode == 0
    sc(proj, "remove", "alpha")
    assert [s["name"] for s in manifest(proj)["skills"]] == ["beta"]
    assert [s["name"] for s in lock(proj)["skills"]] == ["beta"]
    assert not (proj / ".agents/skills/alpha").exists()
    assert not os.path.lexists(proj / ".claude/skills/alpha")
    sc(proj, "verify")


def test_add_saves_exact_digest_and_tag_specs(store, proj):
    digest = publish(store, "alpha", "1.2.0", tags=("stable",))
    publish(store, "beta", "2.0.0")
    publish(store, "gamma", "3.0.0")
    sc(proj, "add", "oci:../store/alpha:1.2.0", "--exact")
    sc(proj, "add", f"oci:../store/beta@{publish(store, 'beta', '2.0.1')}", "--name", "pinned")
    sc(proj, "add", "oci:../store/gamma", "--version", "~3.0")
    specs = {s["name"]: s.get("version") for s in manifest(proj)["skills"]}
    assert specs["alpha"] == "1.2.0"
    assert specs["pinned"].startswith("sha256:")
    assert specs["gamma"] == "~3.0"
    assert lock(proj)["skills"][0]["source"]["digest"] == digest
    # the install folder follows skills.json's name
    assert (proj / ".agents/skills/pinned/SKILL.md").is_file()


def test_moved_tag_does_not_change_what_install_installs(store, proj):
    first = publish(store, "alpha", "1.0.0", body="original")
    sc(proj, "add", "oci:../store/alpha:1.0.0", "--exact")
    moved = publish(store, "alpha", "1.0.0", body="moved")  # someone re-pushes the tag
    assert moved != first
    shutil.rmtree(proj / ".agents/skills/alpha")
    sc(proj, "cache", "clean")
    sc(proj, "install")
    assert "original" in (proj / ".agents/skills/alpha/references/notes.md").read_text()
    assert lock(proj)["skills"][0]["source"]["digest"] == first


def _frozen_fails(proj: Path) -> subprocess.CompletedProcess:
    before = snapshot(proj)
    proc = sc(proj, "install", "--frozen", ok=False)
    assert proc.returncode == 1
    assert snapshot(proj) == before, "install --frozen wrote something"
    return proc


def test_frozen_detects_each_kind_of_drift_and_writes_nothing(store, proj):
    publish(store, "alpha", "1.0.0")
    publish(store, "beta", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    original = (proj / "skills.json").read_text()
    m = manifest(proj)
    # a skill added to skills.json but not locked
    m2 = json.loads(original)
    m2["skills"].append({"name": "beta", "source": "oci:../store/beta"})
    (proj / "skills.json").write_text(json.dumps(m2, indent=2))
    assert "+ beta" in _frozen_fails(proj).stderr
    # a version spec changed
    m3 = json.loads(original)
    m3["skills"][0]["version"] = "^2.0.0"
    (proj / "skills.json").write_text(json.dumps(m3, indent=2))
    assert "~ alpha" in _frozen_fails(proj).stderr
    # a skill removed from skills.json but still locked
    (proj / "skills.json").write_text(json.dumps({"skills": []}, indent=2))
    assert "- alpha" in _frozen_fails(proj).stderr
    # the lock is missing
    (proj / "skills.json").write_text(original)
    saved_lock = (proj / "skills.lock.json").read_bytes()
    (proj / "skills.lock.json").unlink()
    assert "missing" in _frozen_fails(proj).stderr
    # in sync: a fresh checkout (no .agents) installs and writes no lock change
    (proj / "skills.lock.json").write_bytes(saved_lock)
    shutil.rmtree(proj / ".agents")
    assert m == manifest(proj)
    sc(proj, "install", "--frozen")
    assert (proj / "skills.lock.json").read_bytes() == saved_lock
    assert (proj / ".agents/skills/alpha/SKILL.md").is_file()


def test_verify_names_modified_extra_and_missing(store, proj):
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    sc(proj, "verify")
    root = proj / ".agents/skills/alpha"
    (root / "SKILL.md").write_text("changed\n")
    (root / "extra.txt").write_text("x")
    (root / "references/notes.md").unlink()
    proc = sc(proj, "verify", ok=False)
    assert proc.returncode == 1
    assert "modified: .agents/skills/alpha/SKILL.md" in proc.stdout
    assert "extra: .agents/skills/alpha/extra.txt" in proc.stdout
    assert "missing: .agents/skills/alpha/references/notes.md" in proc.stdout
    data = json.loads(sc(proj, "verify", "--json", ok=False).stdout)
    assert {d["problem"] for d in data["drift"]} == {"modified", "extra", "missing"}
    assert data["signatures"] == []  # no trust policy: nothing to check
    sc(proj, "install")  # restores the pinned files
    sc(proj, "verify")
    shutil.rmtree(root)
    assert "not installed" in sc(proj, "verify", ok=False).stdout


def test_eight_concurrent_adds_all_land(store, proj):
    names = [f"skill-{i}" for i in range(8)]
    for n in names:
        publish(store, n, "1.0.0")
    sc(proj, "init")
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "skillcrate", "add", f"oci:../store/{n}"],
            cwd=proj,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in names
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert sorted(s["name"] for s in manifest(proj)["skills"]) == names
    assert [s["name"] for s in lock(proj)["skills"]] == names
    for n in names:
        assert (proj / f".agents/skills/{n}/SKILL.md").is_file()
    sc(proj, "verify")


def test_failed_install_leaves_previous_tree_intact(store, proj):
    publish(store, "alpha", "1.0.0", body="one")
    sc(proj, "add", "oci:../store/alpha")
    publish(store, "alpha", "1.1.0", body="two")
    # corrupt the new version's content layer in the store
    idx = json.loads((store / "alpha/index.json").read_text())
    new = next(
        m
        for m in idx["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "1.1.0"
    )
    man = json.loads((store / "alpha/blobs/sha256" / new["digest"].split(":")[1]).read_text())
    blob = store / "alpha/blobs/sha256" / man["layers"][0]["digest"].split(":")[1]
    blob.write_bytes(blob.read_bytes()[:-8] + b"garbage!")
    before = snapshot(proj)
    proc = sc(proj, "update", ok=False)
    assert proc.returncode == 1
    assert "digest" in proc.stderr
    assert snapshot(proj) == before
    assert "one" in (proj / ".agents/skills/alpha/references/notes.md").read_text()
    assert not [p for p in (proj / ".agents/skills").iterdir() if "staging" in p.name]


def test_offline_install_from_cache(store, proj, tmp_path):
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    shutil.rmtree(proj / ".agents")
    shutil.move(store, tmp_path / "elsewhere")  # the source is gone: only the cache remains
    sc(proj, "install", "--offline")
    sc(proj, "verify")
    shutil.rmtree(proj / ".agents")
    sc(proj, "cache", "clean")
    proc = sc(proj, "install", "--offline", ok=False)
    assert proc.returncode == 1 and "cache" in proc.stderr


def test_gitignore_block_idempotent_and_preserves_lines(store, proj):
    (proj / ".gitignore").write_text("node_modules/\n# mine\n*.log\n")
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    text = (proj / ".gitignore").read_text()
    assert text.startswith("node_modules/\n# mine\n*.log\n")
    assert "/.agents/skills/alpha/" in text and "/.claude/skills/alpha" in text
    assert "\n/.agents/skills/\n" not in text
    sc(proj, "install")
    shutil.rmtree(proj / ".agents/skills/alpha")
    sc(proj, "install")
    assert (proj / ".gitignore").read_text() == text
    sc(proj, "remove", "alpha")
    after = (proj / ".gitignore").read_text()
    assert after.startswith("node_modules/\n# mine\n*.log\n")
    assert "alpha" not in after


def test_malformed_skills_json_is_never_overwritten(proj):
    bad = '{\n  "skills": [\n    {"name": "x", "source": }\n  ]\n}\n'
    (proj / "skills.json").write_text(bad)
    for args in (["install"], ["add", "oci:./nowhere"], ["remove", "x"], ["list"], ["init"]):
        proc = sc(proj, *args, ok=False)
        assert proc.returncode == 1, args
        first = proc.stderr.strip().splitlines()[0]
        assert first.startswith("error: skills.json:3:"), first
    assert (proj / "skills.json").read_text() == bad


def test_malformed_lock_is_reported_and_kept(store, proj):
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    (proj / "skills.lock.json").write_text('{"lockfileVersion": 1, "skills": [\n')
    proc = sc(proj, "install", ok=False)
    assert proc.returncode == 1 and "skills.lock.json:" in proc.stderr
    assert (proj / "skills.lock.json").read_text() == '{"lockfileVersion": 1, "skills": [\n'


def test_unknown_name_lists_known(store, proj):
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    proc = sc(proj, "remove", "nope", ok=False)
    assert proc.returncode == 1
    assert "nope" in proc.stderr and "known: alpha" in proc.stderr
    proc = sc(proj, "update", "nope", ok=False)
    assert proc.returncode == 1 and "known: alpha" in proc.stderr


def test_ownership_clashes_and_hand_written_skills(store, proj):
    publish(store, "alpha", "1.0.0")
    publish(store, "beta", "1.0.0")
    mine = proj / ".agents/skills/alpha"
    mine.mkdir(parents=True)
    (mine / "SKILL.md").write_text("---\nname: alpha\ndescription: mine\n---\n")
    proc = sc(proj, "add", "oci:../store/alpha", ok=False)
    assert proc.returncode == 1 and "not installed by skillcrate" in proc.stderr
    assert (mine / "SKILL.md").read_text().endswith("mine\n---\n")
    sc(proj, "add", "oci:../store/alpha", "--name", "alpha-shared")
    sc(proj, "add", "oci:../store/beta")
    sc(proj, "add", "oci:../store/beta")  # the same source again: nothing to do (npm's way)
    proc = sc(proj, "add", "oci:../store/alpha", "--name", "beta", ok=False)
    assert "already in skills.json" in proc.stderr  # another source under that name
    sc(proj, "remove", "alpha-shared", "beta")
    assert (mine / "SKILL.md").is_file(), "a hand-written skill was deleted"
    gitignore = proj / ".gitignore"
    assert not gitignore.exists() or "/.agents/skills/alpha/" not in gitignore.read_text()


def test_skills_oci_lock_is_read_and_rewritten(store, proj):
    digest = publish(store, "alpha", "1.0.0")
    (proj / "skills.json").write_text(
        json.dumps(
            {"skills": [{"name": "alpha", "source": "oci:../store/alpha", "version": "1.0.0"}]}
        )
    )
    (proj / "skills.lock.json").write_text(
        json.dumps(
            {
                "lockfileVersion": 1,
                "generatedAt": "2026-01-01T00:00:00Z",
                "skills": [
                    {
                        "name": "alpha",
                        "path": ".agents/skills/alpha",
                        "version": "1.0.0",
                        "installedAt": "2026-01-01T00:00:00Z",
                        "source": {
                            "registry": "",
                            "repository": "oci:../store/alpha",
                            "tag": "1.0.0",
                            "digest": digest,
                        },
                    }
                ],
            },
            indent=2,
        )
    )
    sc(proj, "install")
    text = (proj / "skills.lock.json").read_text()
    assert "generatedAt" not in text and "installedAt" not in text
    entry = lock(proj)["skills"][0]
    assert entry["source"]["digest"] == digest and entry["tree"].startswith("sha256:")
    sc(proj, "install", "--frozen")


def test_lock_is_deterministic(store, proj, tmp_path):
    for n in ("zeta", "alpha", "mid"):
        publish(store, n, "1.0.0")
    sc(proj, "add", "oci:../store/zeta", "oci:../store/alpha", "oci:../store/mid")
    text = (proj / "skills.lock.json").read_text()
    assert text.endswith("}\n") and '\n  "skills": [\n    {\n      "name": "alpha"' in text
    other = tmp_path / "proj2"
    other.mkdir()
    shutil.copy(proj / "skills.json", other / "skills.json")
    sc(other, "install")
    assert (other / "skills.lock.json").read_text() == text


def test_project_discovery_and_dash_c(store, proj):
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    sub = proj / "deep/er"
    sub.mkdir(parents=True)
    assert json.loads(sc(sub, "list", "--json").stdout)[0]["name"] == "alpha"
    outside = proj.parent / "outside"
    outside.mkdir()
    proc = run_cli("-C", str(proj), "list", "--json", cwd=outside)
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["name"] == "alpha"
    proc = run_cli("install", cwd=outside)
    assert proc.returncode == 1 and "skills.json" in proc.stderr


def test_custom_links_and_additional_base_paths(store, proj):
    publish(store, "alpha", "1.0.0")
    (proj / "skills.json").write_text(
        json.dumps(
            {
                "links": [".claude/skills", ".gemini/skills"],
                "skills": [
                    {
                        "name": "alpha",
                        "source": "oci:../store/alpha",
                        "additionalBasePaths": [".github/skills"],
                    }
                ],
            },
            indent=2,
        )
    )
    sc(proj, "install")
    for d in (".claude/skills", ".gemini/skills", ".github/skills"):
        link = proj / d / "alpha"
        assert link.is_symlink() and (link / "SKILL.md").is_file()
    assert lock(proj)["skills"][0]["additionalInstalledPaths"] == [
        ".claude/skills/alpha",
        ".gemini/skills/alpha",
        ".github/skills/alpha",
    ]
    m = manifest(proj)
    assert m["skills"][0]["additionalBasePaths"] == [".github/skills"]
    m["links"] = [".claude/skills"]
    (proj / "skills.json").write_text(json.dumps(m, indent=2))
    sc(proj, "install")
    assert not os.path.lexists(proj / ".gemini/skills/alpha")
    assert (proj / ".github/skills/alpha").is_symlink()


def test_add_a_skill_from_a_collection_by_name(store, proj):
    from skillcrate.oci.model import OCI_INDEX, Descriptor, canonical_json

    layout = LayoutRepository(store / "bundle")
    entries = []
    for name in ("first-skill", "second-skill"):
        folder = make_skill(store.parent / "src", name, f"{name} in a bundle.")
        d = push_packed(layout, pack(folder, tag="1.0.0"), [])
        entries.append(
            Descriptor(
                d.media_type,
                d.digest,
                d.size,
                {"io.agentskills.skill.ref": f"bundle/{name}:1.0.0"},
                "application/vnd.agentskills.skill.v1",
            ).to_json()
        )
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": "application/vnd.agentskills.collection.v1",
        "manifests": entries,
    }
    layout.push_manifest(canonical_json(index), OCI_INDEX, "1.0.0")
    sc(proj, "add", "oci:../store/bundle", "--name", "second-skill")
    assert "second-skill in a bundle" in (proj / ".agents/skills/second-skill/SKILL.md").read_text()
    shutil.rmtree(proj / ".agents")
    sc(proj, "install")
    sc(proj, "verify")
    # without --name: every skill of the collection, pinned by digest inside the layout
    other = proj.parent / "other"
    other.mkdir()
    sc(other, "add", "oci:../store/bundle")
    specs = json.loads((other / "skills.json").read_text())["skills"]
    assert [s["name"] for s in specs] == ["first-skill", "second-skill"]
    assert {s["collection"] for s in specs} == {"oci:../store/bundle:1.0.0"}
    assert all(s["version"].startswith("sha256:") for s in specs)
    assert (other / ".agents/skills/first-skill/SKILL.md").is_file()


def test_failed_first_add_leaves_nothing_behind(proj):
    proc = sc(proj, "add", "127.0.0.1:9/team/none", ok=False)
    assert proc.returncode == 1
    assert list(proj.iterdir()) == []


def test_init_writes_the_block_and_it_stays_after_the_last_remove(store, proj):
    sc(proj, "init")
    assert ".skillcrate-*" in (proj / ".gitignore").read_text()
    publish(store, "alpha", "1.0.0")
    sc(proj, "add", "oci:../store/alpha")
    sc(proj, "remove", "alpha")
    text = (proj / ".gitignore").read_text()
    assert "# >>> skillcrate managed" in text and "alpha" not in text
