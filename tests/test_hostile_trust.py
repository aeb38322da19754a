"""Trust policy against an attacker: spellings, a forged signedBy, collections, pull.

Real Distribution registry, real keys (``skillcrate keygen``), the real CLI. See
docs/security.md, promise 3. Every attack has its honest control beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from skillcrate.reference import canonical_name
from skillcrate.skill.tree import tree_digest_of
from skillcrate.trust.rules import parse_trust, rule_for

from helpers import make_skill, run_cli

PASSWORD = {"SKILLCRATE_PASSWORD": "correct horse"}


def ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd, env=PASSWORD)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def refused(*args: str, cwd: Path | None = None, code: int = 1) -> str:
    proc = run_cli(*args, cwd=cwd, env=PASSWORD)
    assert proc.returncode == code, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.fixture
def key(tmp_path: Path) -> Path:
    ok("keygen", "--output-key-prefix", str(tmp_path / "keys" / "acme"))
    return tmp_path / "keys" / "acme"


def publish(ref: str, tmp_path: Path, name: str = "trusted-skill", version: str = "1.0.0") -> str:
    folder = make_skill(tmp_path / f"src-{name}-{version}", name, version=version)
    return json.loads(ok("push", str(folder), ref, "--json").stdout)["digest"]


def project(tmp_path: Path, key: Path, pattern: str, skills: list | None = None) -> Path:
    proj = tmp_path / "proj"
    (proj / "keys").mkdir(parents=True, exist_ok=True)
    shutil.copy(key.with_suffix(".pub"), proj / "keys" / "acme.pub")
    manifest = {
        "skills": skills or [],
        "trust": {pattern: {"mode": "enforce", "keys": ["keys/acme.pub"]}},
    }
    (proj / "skills.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return proj


def hook(proj: Path) -> dict:
    proc = run_cli("install", "--hook", "claude", cwd=proj, stdin=json.dumps({"cwd": str(proj)}))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


# ------------------------------------------------------------------------ spellings


@pytest.mark.parametrize(
    ("pattern", "source"),
    [
        ("ghcr.io/acme/*", "GHCR.IO/acme/skills/review"),
        ("ghcr.io/acme/*", "ghcr.io:443/acme/skills/review"),
        ("ghcr.io/acme/*", "ghcr.io./acme/skills/review"),
        ("ghcr.io/acme/*", "ｇｈｃｒ.io/acme/skills/review"),
        ("127.0.0.1:5000/acme/*", "localhost:5000/acme/x"),
        ("127.0.0.1:5000/acme/*", "127.1:5000/acme/x"),
        ("127.0.0.1:5000/acme/*", "127.0.0.1:05000/acme/x"),
        ("127.0.0.1:5000/acme/*", "[::1]:5000/acme/x"),
        ("LOCALHOST:5000/acme/*", "0x7f.0.0.1:5000/acme/x"),
        ("docker.io/acme/*", "index.docker.io/acme/x"),
        ("acme/*", "registry-1.docker.io/acme/x"),
        ("oci:./vendor/*", "oci:vendor//x"),
    ],
)
def test_a_rule_matches_every_spelling_of_its_host(pattern: str, source: str) -> None:
    rules = parse_trust({pattern: {"keys": ["k.pub"]}})
    assert rule_for(rules, source) is not None, (canonical_name(pattern), canonical_name(source))


def test_control_a_rule_does_not_match_other_hosts() -> None:
    rules = parse_trust({"127.0.0.1:5000/acme/*": {"keys": ["k.pub"]}})
    for other in ("127.0.0.2:5000/acme/x", "127.0.0.1:5001/acme/x", "ghcr.io/acme/x"):
        assert rule_for(rules, other) is None


def test_an_unsigned_skill_cannot_enter_through_another_spelling(
    registry, repo_name, tmp_path, key
) -> None:
    port = registry.host.rsplit(":", 1)[1]
    publish(f"{registry.host}/{repo_name}/unsigned:1.0.0", tmp_path)
    proj = project(tmp_path, key, f"127.0.0.1:{port}/{repo_name}/*")
    for spelling in (f"localhost:{port}", f"127.1:{port}", f"127.0.0.1:0{port}"):
        err = refused("add", f"{spelling}/{repo_name}/unsigned:1.0.0", cwd=proj)
        assert "not signed" in err
    assert json.loads((proj / "skills.json").read_text())["skills"] == []
    # control: the signed one goes in, under any spelling
    ref = f"{registry.host}/{repo_name}/signed:1.0.0"
    publish(ref, tmp_path, "signed-skill")
    ok("sign", ref, "--key", f"{key}.key")
    ok("add", f"localhost:{port}/{repo_name}/signed:1.0.0", cwd=proj)


# ---------------------------------------------------------------- a forged signedBy


def test_a_lock_cannot_vouch_for_an_unsigned_digest(registry, repo_name, tmp_path, key) -> None:
    base = f"{registry.host}/{repo_name}/skill"
    publish(f"{base}:1.0.0", tmp_path)
    ok("sign", f"{base}:1.0.0", "--key", f"{key}.key")
    unsigned = publish(f"{base}:1.0.1", tmp_path, version="1.0.1")
    proj = project(tmp_path, key, f"{registry.host}/{repo_name}/*")
    ok("add", f"{base}:1.0.0", "--exact", cwd=proj)
    lock_path = proj / "skills.lock.json"
    lock = json.loads(lock_path.read_text())
    assert lock["skills"][0]["signedBy"] == "keys/acme.pub"
    good = (proj / ".agents/skills/trusted-skill/SKILL.md").read_text()

    ok("pull", f"{base}:1.0.1", "-o", str(tmp_path / "warm"))  # the unsigned one is cached
    src = lock["skills"][0]["source"]  # the attacker swaps the digest and keeps signedBy
    good_source, good_tree = dict(src), lock["skills"][0]["tree"]
    src["digest"], src["tag"] = unsigned, "1.0.1"
    src["ref"] = f"{base}:1.0.1@{unsigned}"
    lock["skills"][0]["version"] = "1.0.1"
    lock["skills"][0]["tree"] = tree_digest_of(tmp_path / "warm")
    lock_path.write_text(json.dumps(lock, indent=2) + "\n")
    shutil.rmtree(proj / ".agents/skills/trusted-skill")
    out = hook(proj)
    assert "not signed" in out.get("systemMessage", ""), out
    assert not (proj / ".agents/skills/trusted-skill").exists()
    assert "not signed" in refused("install", cwd=proj)
    err = refused("install", "--offline", cwd=proj)
    assert "trust policy" in err
    assert not (proj / ".agents/skills/trusted-skill").exists()

    # control: the honest lock installs offline, from skillcrate's own verification record
    lock["skills"][0].update(source=good_source, tree=good_tree, version="1.0.0")
    lock_path.write_text(json.dumps(lock, indent=2) + "\n")
    ok("install", "--offline", cwd=proj)
    assert (proj / ".agents/skills/trusted-skill/SKILL.md").read_text() == good


def test_a_forged_keyless_signer_is_verified_again(registry, repo_name, tmp_path, key) -> None:
    pytest.importorskip("sigstore")
    base = f"{registry.host}/{repo_name}/skill"
    publish(f"{base}:1.0.0", tmp_path)
    proj = tmp_path / "proj"
    proj.mkdir()
    rule = {"mode": "warn", "keyless": {"issuer": "https://issuer", "identity": "me@x"}}
    (proj / "skills.json").write_text(
        json.dumps({"skills": [], "trust": {f"{registry.host}/*": rule}})
    )
    ok("add", f"{base}:1.0.0", cwd=proj)  # warn: installed, not verified
    lock_path = proj / "skills.lock.json"
    lock = json.loads(lock_path.read_text())
    assert "signedBy" not in lock["skills"][0]
    lock["skills"][0]["signedBy"] = "me@x (https://issuer)"
    lock_path.write_text(json.dumps(lock, indent=2) + "\n")
    data = json.loads((proj / "skills.json").read_text())
    data["trust"][f"{registry.host}/*"]["mode"] = "enforce"
    (proj / "skills.json").write_text(json.dumps(data))
    shutil.rmtree(proj / ".agents/skills/trusted-skill")
    assert "not signed" in refused("install", cwd=proj)
    assert not (proj / ".agents/skills/trusted-skill").exists()


# ---------------------------------------------------------------------- collections


def test_a_collection_cannot_smuggle_members_past_its_rule(
    registry, repo_name, tmp_path, key
) -> None:
    base = f"{registry.host}/{repo_name}"
    publish(f"{base}/alpha:1.0.0", tmp_path, "alpha")
    ok("collection", "push", "kit", f"{base}/kit:1.0.0", "--copy", "--skill", f"{base}/alpha:1.0.0")
    proj = project(tmp_path, key, f"{base}/kit")
    # the index itself is unsigned
    assert "not signed" in refused("add", f"{base}/kit:1.0.0", cwd=proj)
    ok("sign", f"{base}/kit:1.0.0", "--key", f"{key}.key")
    # its member lives in another repository: consent first
    assert "--allow-external" in refused("add", f"{base}/kit:1.0.0", cwd=proj, code=2)
    # with consent, the member still has to satisfy the collection's rule
    err = refused("add", f"{base}/kit:1.0.0", "--allow-external", cwd=proj)
    assert "alpha" in err and "not signed" in err
    assert json.loads((proj / "skills.json").read_text())["skills"] == []
    assert not (proj / ".agents").exists()
    # control: once the member is signed too, the collection installs
    ok("sign", f"{base}/alpha:1.0.0", "--key", f"{key}.key")
    ok("add", f"{base}/kit:1.0.0", "--allow-external", cwd=proj)
    assert (proj / ".agents/skills/alpha/SKILL.md").is_file()
    ok("install", "--frozen", cwd=proj)


# ----------------------------------------------------------------------------- pull


def test_pull_obeys_the_projects_policy(registry, repo_name, tmp_path, key) -> None:
    base = f"{registry.host}/{repo_name}/skill"
    publish(f"{base}:1.0.0", tmp_path)
    proj = project(tmp_path, key, f"{registry.host}/{repo_name}/*")
    out = tmp_path / "pulled"
    assert "not signed" in refused("pull", f"{base}:1.0.0", "-o", str(out), cwd=proj)
    assert not out.exists()
    ok("sign", f"{base}:1.0.0", "--key", f"{key}.key")
    ok("pull", f"{base}:1.0.0", "-o", str(out), cwd=proj)
    assert (out / "SKILL.md").is_file()
