"""The trust policy in skills.json, end to end: keygen, sign, add/install/verify.

Real registry (Distribution: bundle referrers via the sha256-<hex> fallback index) and
the in-process fake with the referrers API; per-test keys; the real CLI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from skillcrate.errors import ManifestError
from skillcrate.project.manifest import parse_manifest
from skillcrate.trust.rules import parse_trust, rule_for, rule_problems

from helpers import make_skill, run_cli

PASSWORD = {"SKILLCRATE_PASSWORD": "correct horse"}


def _ok(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd, env={**PASSWORD, **(env or {})})
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _fails(*args: str, cwd: Path | None = None) -> str:
    proc = run_cli(*args, cwd=cwd, env=PASSWORD)
    assert proc.returncode == 1, f"{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    return line


# --------------------------------------------------------------------- pure
def test_rule_problems_name_each_mistake() -> None:
    assert rule_problems("a/*", {"keys": ["k.pub"]}) == []
    assert rule_problems("a/*", {"mode": "audit", "keys": ["k.pub"]})[0][0] == ("mode",)
    assert rule_problems("a/*", {"keys": "k.pub"})[0][0] == ("keys",)
    assert "needs" in rule_problems("a/*", {"mode": "warn"})[0][1]
    kl = {"keyless": {"issuer": "https://x", "identityRegexp": "("}}
    assert rule_problems("a/*", kl)[0][0] == ("keyless", "identityRegexp")
    assert rule_problems("", {"keys": ["k"]})[0][1].startswith("a trust pattern")


def test_most_specific_rule_wins() -> None:
    rules = parse_trust(
        {
            "ghcr.io/acme/*": {"mode": "warn", "keys": ["a.pub"]},
            "ghcr.io/acme/skills/*": {"keys": ["b.pub"]},
        }
    )
    assert rule_for(rules, "ghcr.io/acme/skills/review").keys == ("b.pub",)
    assert rule_for(rules, "ghcr.io/acme/other").mode == "warn"
    assert rule_for(rules, "ghcr.io/elsewhere/x") is None
    assert rules[1].mode == "enforce"  # the default


def test_malformed_trust_is_a_manifest_error_with_a_line(tmp_path: Path) -> None:
    text = (
        '{\n  "skills": [],\n  "trust": {\n    "x/*": {"mode": "sometimes", "keys": []}\n  }\n}\n'
    )
    with pytest.raises(ManifestError) as err:
        parse_manifest(text, tmp_path / "skills.json")
    assert "skills.json:4" in str(err.value) and "sometimes" in str(err.value)


# --------------------------------------------------------------- end to end
@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for who in ("acme", "mallory"):
        _ok("keygen", "--output-key-prefix", str(tmp_path / "keys" / who))
        out[who] = tmp_path / "keys" / who
    return out


def _publish(host: str, repo: str, tmp_path: Path, version: str = "1.0.0") -> str:
    folder = make_skill(tmp_path / f"src-{version}", "trusted-skill", version=version)
    ref = f"{host}/{repo}:{version}"
    _ok("push", str(folder), ref)
    return ref


def _project(tmp_path: Path, keys: dict[str, Path], pattern: str, mode: str, who: str) -> Path:
    proj = tmp_path / "proj"
    (proj / "keys").mkdir(parents=True)
    pub = keys[who].with_suffix(".pub")
    (proj / "keys" / pub.name).write_bytes(pub.read_bytes())
    manifest = {"skills": [], "trust": {pattern: {"mode": mode, "keys": [f"keys/{pub.name}"]}}}
    (proj / "skills.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return proj


def _lock(proj: Path) -> dict:
    return {s["name"]: s for s in json.loads((proj / "skills.lock.json").read_text())["skills"]}


@pytest.mark.parametrize("fmt", ["bundle", "legacy"])
def test_enforce_accepts_a_signed_skill_and_records_the_key(
    registry, repo_name, tmp_path, keys, fmt
):
    ref = _publish(registry.host, repo_name, tmp_path)
    signed = json.loads(
        _ok("sign", ref, "--key", f"{keys['acme']}.key", "--format", fmt, "--json").stdout
    )
    proj = _project(tmp_path, keys, f"{registry.host}/test/*", "enforce", "acme")
    _ok("add", ref, cwd=proj)
    entry = _lock(proj)["trusted-skill"]
    assert entry["signedBy"] == "keys/acme.pub"
    assert entry["source"]["digest"] == signed["digest"]
    report = json.loads(_ok("verify", "--json", cwd=proj).stdout)
    (sig,) = report["signatures"]
    assert sig["verified"] and sig["signedBy"] == "keys/acme.pub" and sig["kind"] == fmt
    _ok("install", "--frozen", cwd=proj)  # re-verifies


def test_enforce_refuses_unsigned_and_wrongly_signed_before_writing(
    registry, repo_name, tmp_path, keys
):
    ref = _publish(registry.host, repo_name, tmp_path)
    proj = _project(tmp_path, keys, f"{registry.host}/test/*", "enforce", "acme")
    before = (proj / "skills.json").read_bytes()
    line = _fails("add", ref, cwd=proj)
    assert "trusted-skill" in line and "not signed as trust policy" in line
    assert "no signature found" in line
    _ok("sign", ref, "--key", f"{keys['mallory']}.key")
    line = _fails("add", ref, cwd=proj)
    assert "does not verify" in line or "not verify" in line
    assert (proj / "skills.json").read_bytes() == before
    assert not (proj / "skills.lock.json").exists()
    assert not (proj / ".agents").exists()


def test_warn_installs_with_a_warning_and_no_signed_by(registry, repo_name, tmp_path, keys):
    ref = _publish(registry.host, repo_name, tmp_path)
    proj = _project(tmp_path, keys, f"{registry.host}/test/*", "warn", "acme")
    proc = _ok("add", ref, cwd=proj)
    assert "not verified by trust policy" in proc.stderr and "mode warn" in proc.stderr
    assert "signedBy" not in _lock(proj)["trusted-skill"]
    report = json.loads(_ok("verify", "--json", cwd=proj).stdout)
    assert report["signatures"][0]["verified"] is False  # reported, not fatal


def test_frozen_install_re_verifies_against_the_current_policy(registry, repo_name, tmp_path, keys):
    ref = _publish(registry.host, repo_name, tmp_path)
    _ok("sign", ref, "--key", f"{keys['acme']}.key")
    proj = _project(tmp_path, keys, f"{registry.host}/test/*", "enforce", "acme")
    _ok("add", ref, cwd=proj)
    # the team rotates to a key that never signed this skill
    (proj / "keys/acme.pub").write_bytes(keys["mallory"].with_suffix(".pub").read_bytes())
    line = _fails("install", "--frozen", cwd=proj)
    assert "not signed as trust policy" in line
    proc = run_cli("verify", cwd=proj)
    assert proc.returncode == 1 and "FAILED" in proc.stdout


def test_sources_without_a_rule_are_not_checked(registry, repo_name, tmp_path, keys):
    ref = _publish(registry.host, repo_name, tmp_path)
    proj = _project(tmp_path, keys, "ghcr.io/acme/*", "enforce", "acme")
    _ok("add", ref, cwd=proj)
    assert "signedBy" not in _lock(proj)["trusted-skill"]
    assert json.loads(_ok("verify", "--json", cwd=proj).stdout)["signatures"] == []


def test_bundles_through_the_referrers_api(referrers_registry, tmp_path, keys):
    ref = _publish(referrers_registry.host, "acme/api-skill", tmp_path)
    _ok("sign", ref, "--key", f"{keys['acme']}.key")
    assert not any(t.startswith("sha256-") for t in referrers_registry.tags("acme/api-skill"))
    proj = _project(tmp_path, keys, f"{referrers_registry.host}/acme/*", "enforce", "acme")
    _ok("add", ref, cwd=proj)
    assert _lock(proj)["trusted-skill"]["signedBy"] == "keys/acme.pub"


def test_verify_one_reference_with_a_key(registry, repo_name, tmp_path, keys):
    ref = _publish(registry.host, repo_name, tmp_path)
    assert run_cli("verify", ref, "--key", f"{keys['acme']}.pub").returncode == 1
    _ok("sign", ref, "--key", f"{keys['acme']}.key", "--format", "both")
    out = json.loads(_ok("verify", ref, "--key", f"{keys['acme']}.pub", "--json").stdout)
    assert out["verified"] and out["kind"] in ("bundle", "legacy")
    assert run_cli("verify", ref, "--key", f"{keys['mallory']}.pub").returncode == 1


def test_keygen_and_sign_need_a_password_without_a_terminal(tmp_path):
    proc = run_cli("keygen", "--output-key-prefix", str(tmp_path / "k"), stdin="")
    assert proc.returncode == 2 and "SKILLCRATE_PASSWORD" in proc.stderr
    assert not (tmp_path / "k.key").exists()
    _ok("keygen", "--output-key-prefix", str(tmp_path / "k"))
    assert (tmp_path / "k.key").stat().st_mode & 0o077 == 0
    again = run_cli("keygen", "--output-key-prefix", str(tmp_path / "k"), env=PASSWORD)
    assert again.returncode == 1  # never overwrites
    text = (tmp_path / "k.key").read_text()
    assert text.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
