"""Project dependency management against a real Distribution registry."""

from __future__ import annotations

import json
import shutil

from helpers import make_skill, run_cli


def push(tmp_path, host, repo, name, version, body="", *extra):
    folder = make_skill(
        tmp_path / "src" / f"{name}-{version}-{body}",
        name,
        f"{name} at {version}.",
        files={"references/v.md": f"{version} {body}\n"},
    )
    proc = run_cli("push", str(folder), f"{host}/{repo}:{version}", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["digest"]


def sc(proj, *args, ok=True):
    proc = run_cli(*args, cwd=proj)
    if ok:
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    return proc


def test_cycle_against_registry(tmp_path, registry, repo_name):
    host = registry.host
    push(tmp_path, host, repo_name, "review", "1.2.0")
    push(tmp_path, host, repo_name, "review", "1.2.5-beta.1")
    proj = tmp_path / "proj"
    proj.mkdir()
    sc(proj, "add", f"{host}/{repo_name}")
    spec = json.loads((proj / "skills.json").read_text())["skills"][0]
    assert spec == {"name": "review", "source": f"{host}/{repo_name}", "version": "^1.2.0"}
    entry = json.loads((proj / "skills.lock.json").read_text())["skills"][0]
    assert entry["source"]["registry"] == host and entry["version"] == "1.2.0"
    assert entry["source"]["ref"] == f"{host}/{repo_name}:1.2.0@{entry['source']['digest']}"
    push(tmp_path, host, repo_name, "review", "1.3.0")
    push(tmp_path, host, repo_name, "review", "2.0.0")
    rows = json.loads(sc(proj, "outdated", "--json", ok=False).stdout)
    assert (rows[0]["current"], rows[0]["wanted"], rows[0]["latest"]) == ("1.2.0", "1.3.0", "2.0.0")
    sc(proj, "update")
    assert json.loads((proj / "skills.lock.json").read_text())["skills"][0]["version"] == "1.3.0"
    sc(proj, "update", "--latest")
    assert json.loads((proj / "skills.json").read_text())["skills"][0]["version"] == "^2.0.0"
    assert "2.0.0" in (proj / ".agents/skills/review/references/v.md").read_text()
    sc(proj, "remove", "review")
    assert not (proj / ".agents/skills/review").exists()


def test_moved_tag_on_registry_keeps_locked_digest(tmp_path, registry, repo_name):
    first = push(tmp_path, registry.host, repo_name, "tagged", "1.0.0", body="first")
    proj = tmp_path / "proj"
    proj.mkdir()
    sc(proj, "add", f"{registry.host}/{repo_name}:1.0.0", "--exact")
    # someone moves the tag (here with --force; other tools do it silently)
    second = push(tmp_path, registry.host, repo_name, "tagged", "1.0.0", "second", "--force")
    assert first != second
    shutil.rmtree(proj / ".agents")
    sc(proj, "cache", "clean")
    sc(proj, "install")
    assert "first" in (proj / ".agents/skills/tagged/references/v.md").read_text()


def test_registry_down_install_uses_cache(tmp_path, fresh_registry):
    push(tmp_path, fresh_registry.host, "team/cached", "cached", "1.0.0")
    proj = tmp_path / "proj"
    proj.mkdir()
    sc(proj, "add", f"{fresh_registry.host}/team/cached")
    fresh_registry.stop()
    shutil.rmtree(proj / ".agents")
    sc(proj, "install")  # every digest the lock pins is cached: no registry needed
    sc(proj, "verify")
    # a new skill needs the registry: a clear error, and nothing lost
    data = json.loads((proj / "skills.json").read_text())
    data["skills"].append({"name": "other", "source": f"{fresh_registry.host}/team/other"})
    (proj / "skills.json").write_text(json.dumps(data, indent=2))
    lock_before = (proj / "skills.lock.json").read_bytes()
    proc = sc(proj, "install", ok=False)
    assert proc.returncode == 1
    assert f"cannot reach registry {fresh_registry.host}" in proc.stderr
    assert (proj / "skills.lock.json").read_bytes() == lock_before
    assert (proj / ".agents/skills/cached/SKILL.md").is_file()


def test_add_by_digest_saves_digest(tmp_path, registry, repo_name):
    digest = push(tmp_path, registry.host, repo_name, "pinned", "1.0.0")
    proj = tmp_path / "proj"
    proj.mkdir()
    sc(proj, "add", f"{registry.host}/{repo_name}@{digest}")
    spec = json.loads((proj / "skills.json").read_text())["skills"][0]
    assert spec["version"] == digest
    entry = json.loads((proj / "skills.lock.json").read_text())["skills"][0]
    assert entry["source"]["digest"] == digest and "tag" not in entry["source"]
    sc(proj, "install", "--frozen")
