"""Collections: `collection push` writes an agentskills index; `add` of one adds every skill."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from skillcrate.oci import open_target
from skillcrate.oci.model import OCI_INDEX, canonical_json, parse_manifest
from skillcrate.reference import Reference

from helpers import make_skill, run_cli, tree_of


def _ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _skills(tmp_path: Path) -> dict[str, Path]:
    return {
        name: make_skill(
            tmp_path / "src",
            name,
            f"{name} does its part of the kit.",
            files={"scripts/run.sh": f"echo {name}\n"},
            version="1.0.0",
        )
        for name in ("alpha", "beta")
    }


def test_collection_round_trip_in_one_repository(registry, repo_name, tmp_path):
    base = f"{registry.host}/{repo_name}"
    skills = _skills(tmp_path)
    for name, folder in skills.items():
        _ok("push", str(folder), f"{base}:{name}-1.0.0")
    pushed = json.loads(
        _ok(
            "collection",
            "push",
            "team-kit",
            f"{base}:kit-1",
            "--skill",
            f"{base}:beta-1.0.0",
            "--skill",
            f"{base}:alpha-1.0.0",
            "--json",
        ).stdout
    )
    # the index, byte for byte what formats.md §2 describes
    ref = Reference.parse(f"{base}:kit-1")
    desc, data = open_target(ref).fetch_manifest("kit-1")
    assert desc.digest == pushed["digest"]
    index = parse_manifest(data)
    assert index["mediaType"] == OCI_INDEX
    assert index["artifactType"] == "application/vnd.agentskills.collection.v1"
    assert index["annotations"]["io.agentskills.collection.name"] == "team-kit"
    entries = index["manifests"]
    assert [e["annotations"]["io.agentskills.skill.name"] for e in entries] == ["alpha", "beta"]
    assert {e["artifactType"] for e in entries} == {"application/vnd.agentskills.skill.v1"}
    assert entries[0]["annotations"]["io.agentskills.skill.ref"] == f"{base}:alpha-1.0.0"
    info = json.loads(_ok("inspect", f"{base}:kit-1", "--json").stdout)
    assert info["format"] == "collection" and len(info["entries"]) == 2

    proj = tmp_path / "proj"
    proj.mkdir()
    _ok("add", f"{base}:kit-1", cwd=proj)
    specs = json.loads((proj / "skills.json").read_text())["skills"]
    assert [(s["name"], s["version"], s["collection"]) for s in specs] == [
        ("alpha", "alpha-1.0.0", f"{base}:kit-1"),
        ("beta", "beta-1.0.0", f"{base}:kit-1"),
    ]
    for name, folder in skills.items():
        assert tree_of(proj / ".agents/skills" / name) == tree_of(folder)
    _ok("install", "--frozen", cwd=proj)
    _ok("verify", cwd=proj)


def test_members_from_other_repositories_need_copy(registry, repo_name, tmp_path):
    base = f"{registry.host}/{repo_name}"
    skills = _skills(tmp_path)
    for name, folder in skills.items():
        _ok("push", str(folder), f"{base}/{name}:1.0.0")
    args = ["collection", "push", "team-kit", f"{base}/kit:1.0.0"]
    args += ["--skill", f"{base}/alpha:1.0.0", "--skill", f"{base}/beta:1.0.0"]
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert "another repository" in proc.stderr and "--copy" in proc.stderr
    assert "Traceback" not in proc.stderr

    # what the check saves users from: Distribution refuses such an index outright
    member = open_target(Reference.parse(f"{base}/alpha:1.0.0")).resolve("1.0.0")
    raw = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [member.to_json() | {"data": None}],
        }
    ).replace(b',"data":null', b"")
    resp = requests.put(
        f"http://{registry.host}/v2/{repo_name}/kit/manifests/raw",
        data=raw,
        headers={"Content-Type": OCI_INDEX},
        timeout=10,
    )
    assert resp.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in resp.text

    pushed = json.loads(_ok(*args, "--copy", "--json").stdout)
    assert pushed["copied"] == ["alpha", "beta"]
    proj = tmp_path / "proj"
    proj.mkdir()
    refused = run_cli("add", f"{base}/kit:1.0.0", cwd=proj)
    assert refused.returncode == 2 and "--allow-external" in refused.stderr  # consent first
    assert list(proj.iterdir()) == []
    _ok("add", f"{base}/kit:1.0.0", "--allow-external", cwd=proj)
    specs = json.loads((proj / "skills.json").read_text())["skills"]
    # members keep pointing at their own repositories, with a range like any add
    assert [(s["source"], s["version"]) for s in specs] == [
        (f"{base}/alpha", "^1.0.0"),
        (f"{base}/beta", "^1.0.0"),
    ]
    for name, folder in skills.items():
        assert tree_of(proj / ".agents/skills" / name) == tree_of(folder)


def test_add_collection_refuses_a_name_clash_before_writing(registry, repo_name, tmp_path):
    base = f"{registry.host}/{repo_name}"
    for name, folder in _skills(tmp_path).items():
        _ok("push", str(folder), f"{base}:{name}-1.0.0")
    _ok(
        "collection",
        "push",
        "kit",
        f"{base}:kit",
        "--skill",
        f"{base}:alpha-1.0.0",
        "--skill",
        f"{base}:beta-1.0.0",
    )
    proj = tmp_path / "proj"
    proj.mkdir()
    _ok("add", f"{base}:alpha-1.0.0", cwd=proj)
    before = (proj / "skills.json").read_bytes()
    proc = run_cli("add", f"{base}:kit", cwd=proj)
    assert proc.returncode == 1 and "alpha is already in skills.json" in proc.stderr
    assert (proj / "skills.json").read_bytes() == before
    assert not (proj / ".agents/skills/beta").exists()


def test_collection_name_is_checked_before_any_network(tmp_path):
    proc = run_cli(
        "collection", "push", "Bad_Name", "127.0.0.1:1/kit:1", "--skill", "127.0.0.1:1/a:1"
    )
    assert proc.returncode == 2 and "collection name 'Bad_Name'" in proc.stderr
