"""attach / discover: the referrers API where the registry has one, the tag schema elsewhere."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from skillcrate.oci import open_target
from skillcrate.oci.model import OCI_INDEX, Descriptor, canonical_json
from skillcrate.oci.referrers import attach_bytes, discover
from skillcrate.reference import Reference

from helpers import make_skill, run_cli

SBOM = "application/spdx+json"


def _ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _pushed(host: str, repo: str, tmp_path: Path) -> tuple[str, str]:
    folder = make_skill(tmp_path, "subject-skill", version="1.0.0")
    ref = f"{host}/{repo}:1.0.0"
    out = json.loads(_ok("push", str(folder), ref, "--json").stdout)
    return ref, out["digest"]


def _attach_sbom(ref: str, tmp_path: Path) -> dict:
    sbom = tmp_path / "sbom.spdx.json"
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}\n')
    return json.loads(
        _ok(
            "attach", ref, str(sbom), "--artifact-type", SBOM, "--json", "--annotation", "k=v"
        ).stdout
    )


def test_attach_and_discover_on_distribution_use_the_fallback_tag(registry, repo_name, tmp_path):
    ref, digest = _pushed(registry.host, repo_name, tmp_path)
    attached = _attach_sbom(ref, tmp_path)
    assert attached["subject"] == digest
    tags = json.loads(_ok("versions", f"{registry.host}/{repo_name}", "--json").stdout)
    assert digest.replace(":", "-") in tags  # the OCI 1.1 tag schema
    found = json.loads(_ok("discover", ref, "--json").stdout)
    assert found["subject"] == digest
    (entry,) = found["referrers"]
    assert entry["digest"] == attached["digest"] and entry["artifactType"] == SBOM
    assert entry["annotations"]["k"] == "v"
    assert entry["layers"][0]["annotations"]["org.opencontainers.image.title"] == "sbom.spdx.json"
    # a second referrer joins the same fallback index
    sig = tmp_path / "report.txt"
    sig.write_text("scan: clean\n")
    _ok("attach", ref, str(sig), "--artifact-type", "application/vnd.example.scan")
    found = json.loads(_ok("discover", ref, "--json").stdout)["referrers"]
    assert sorted(r["artifactType"] for r in found) == [SBOM, "application/vnd.example.scan"]
    only = json.loads(_ok("discover", ref, "--json", "--artifact-type", SBOM).stdout)
    assert [r["artifactType"] for r in only["referrers"]] == [SBOM]
    text = _ok("discover", ref).stdout
    assert SBOM in text and attached["digest"] in text


def test_attach_and_discover_through_the_referrers_api(referrers_registry, tmp_path):
    ref, digest = _pushed(referrers_registry.host, "acme/api", tmp_path)
    referrers_registry.clear()
    attached = _attach_sbom(ref, tmp_path)
    found = json.loads(_ok("discover", ref, "--json").stdout)["referrers"]
    assert [r["digest"] for r in found] == [attached["digest"]]
    paths = [path for _, path in referrers_registry.requests]
    fallback = digest.replace(":", "-")
    assert not any(fallback in p for p in paths)  # no tag-schema writes or reads
    assert f"/v2/acme/api/referrers/{digest}" in paths
    assert fallback not in referrers_registry.tags("acme/api")


def test_discover_trusts_manifests_not_index_entries(registry, repo_name, tmp_path):
    """A writer that records the config media type as artifactType in the fallback index
    (and an entry for an unrelated manifest) must not mislead discover."""
    ref, digest = _pushed(registry.host, repo_name, tmp_path)
    reference = Reference.parse(ref)
    target = open_target(reference)
    subject = target.resolve("1.0.0")
    data = b"{}"
    real = attach_bytes(
        target, subject, SBOM, [(Descriptor.for_bytes("application/json", data), data)]
    )
    other = target.resolve("1.0.0")  # the skill itself: has no subject
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {**real.to_json(), "artifactType": "application/vnd.oci.empty.v1+json"},
            {**other.to_json(), "artifactType": SBOM},
        ],
    }
    target.push_manifest(canonical_json(index), OCI_INDEX, digest.replace(":", "-"))
    found = discover(target, subject)
    assert [(r.digest, r.artifact_type) for r in found] == [(real.digest, SBOM)]


def test_attach_refuses_a_type_that_is_not_a_media_type(registry, repo_name, tmp_path):
    ref, _ = _pushed(registry.host, repo_name, tmp_path)
    f = tmp_path / "x"
    f.write_text("x")
    proc = run_cli("attach", ref, str(f), "--artifact-type", "sbom")
    assert proc.returncode == 2 and "not a media type" in proc.stderr
