"""``skillcrate mirror``: air-gapped copies that install with the same lock (issue 15).

Real CNCF Distribution registries: an upstream with signed skills (a Sigstore bundle
referrer and cosign's legacy ``.sig`` tag, plus an attestation), a destination registry
that logs every request, and an ``oci:`` folder. After copying, the upstream is stopped,
the cache and skillcrate's verification records are emptied, and a registries.conf
mirror points at the copy: ``install --frozen`` must install the lock unchanged, with
the signatures verified under an ``enforce`` rule.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from skillcrate.cache import Cache
from skillcrate.oci import Client
from skillcrate.oci.copy import copy_manifest
from skillcrate.oci.layout import LayoutRepository
from skillcrate.reference import Reference

from helpers import make_skill, run_cli
from registry_server import IsolatedEnv, RegistryServer

PASSWORD = {"SKILLCRATE_PASSWORD": "correct horse"}
NAMES = ("review", "testing")
WRITES = ("PUT ", "POST ", "PATCH ", "DELETE ")


def ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = run_cli(*args, cwd=cwd, env=PASSWORD)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture
def world(make_registry: Callable[..., RegistryServer], tmp_path: Path) -> dict:
    upstream = make_registry()
    dest = make_registry(access_log=True)
    ok("keygen", "--output-key-prefix", str(tmp_path / "keys" / "acme"))
    key = tmp_path / "keys" / "acme"
    for name in NAMES:
        folder = make_skill(tmp_path / "src", name, f"The {name} skill. Use when testing.")
        ref = f"{upstream.host}/skills/{name}:1.0.0"
        ok("push", str(folder), ref)
        ok("sign", ref, "--key", f"{key}.key", "--format", "both")
    statement = tmp_path / "provenance.json"
    statement.write_text(json.dumps({"builder": "ci"}))
    ok(
        "attest",
        f"{upstream.host}/skills/review:1.0.0",
        "--key",
        f"{key}.key",
        "--predicate",
        str(statement),
        "--type",
        "https://slsa.dev/provenance/v1",
    )
    project = tmp_path / "project"
    (project / "keys").mkdir(parents=True)
    shutil.copy(f"{key}.pub", project / "keys" / "acme.pub")
    skills = [
        {"name": n, "source": f"{upstream.host}/skills/{n}", "version": "^1.0.0"} for n in NAMES
    ]
    trust = {f"{upstream.host}/skills/*": {"mode": "enforce", "keys": ["keys/acme.pub"]}}
    (project / "skills.json").write_text(
        json.dumps({"skills": skills, "trust": trust}, indent=2) + "\n"
    )
    ok("install", cwd=project)
    return {"upstream": upstream, "dest": dest, "project": project, "key": key}


def _air_gapped(env: IsolatedEnv, project: Path, where: Path, mirror_location: str) -> Path:
    """A clone of the project where the upstream is unreachable: empty cache, no records."""
    shutil.rmtree(env.cache_dir, ignore_errors=True)
    shutil.rmtree(env.home / ".local" / "state", ignore_errors=True)  # verification records
    where.mkdir(parents=True)
    for name in ("skills.json", "skills.lock.json"):
        shutil.copy(project / name, where / name)
    if (project / "keys").is_dir():
        shutil.copytree(project / "keys", where / "keys")
    return where


def _point_at(env: IsolatedEnv, upstream: RegistryServer, location: str) -> None:
    env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{upstream.host}"\n'
        f'[[registry.mirror]]\nlocation = "{location}"\npull-from-mirror = "digest-only"\n'
    )


def test_mirror_to_a_registry_then_install_there_with_the_upstream_down(
    world: dict, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    upstream, dest, project = world["upstream"], world["dest"], world["project"]
    prefix = f"{dest.host}/airgap"
    first = json.loads(ok("mirror", prefix, "--json", cwd=project).stdout)
    by_name = {m["name"]: m for m in first}
    assert set(by_name) == set(NAMES)
    review = by_name["review"]
    assert review["dest"] == f"{prefix}/skills/review"
    assert review["copied"]["tags"][0] == "1.0.0"  # then cosign's sha256-<hex>.sig tag
    assert review["copied"]["tags"][1].endswith(".sig")
    # the bundle and the attestation (referrers) and the legacy .sig tag
    assert review["copied"]["referrers"] >= 3 and review["copied"]["blobs"] >= 2
    lock = json.loads((project / "skills.lock.json").read_text())
    pinned = {s["name"]: s["source"]["digest"] for s in lock["skills"]}
    assert review["source"].endswith("@" + pinned["review"])  # the same digest there

    since = len(dest.logs())
    again = ok("mirror", prefix, cwd=project)
    assert again.stdout.count("up to date") == len(NAMES), again.stdout
    writes = [r for r in dest.requests_logged(since) if r.startswith(WRITES)]
    assert writes == []  # a second run copies nothing

    upstream.stop()
    clone = _air_gapped(isolated_env, project, tmp_path / "airgapped", prefix)
    _point_at(isolated_env, upstream, prefix)
    done = run_cli("install", "--frozen", cwd=clone, env=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert json.loads((clone / "skills.lock.json").read_text()) == lock  # the lock, unchanged
    assert run_cli("verify", cwd=clone).returncode == 0


def test_mirror_to_an_oci_folder_then_install_from_it(
    world: dict, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    upstream, project = world["upstream"], world["project"]
    folder = tmp_path / "usb" / "skills"
    ok("mirror", f"oci:{folder}", cwd=project)
    assert (folder / "skills" / "review" / "index.json").is_file()  # one layout per repository
    again = ok("mirror", f"oci:{folder}", cwd=project)
    assert again.stdout.count("up to date") == len(NAMES)

    upstream.stop()
    clone = _air_gapped(isolated_env, project, tmp_path / "airgapped", f"oci:{folder}")
    _point_at(isolated_env, upstream, f"oci:{folder}")
    done = run_cli("install", "--frozen", cwd=clone, env=PASSWORD)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (clone / ".agents" / "skills").iterdir()) == sorted(NAMES)


def test_a_mirror_without_the_signatures_is_refused_by_enforce(
    world: dict, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    """Trust matches the canonical reference, never the mirror: a copy that lost its
    signatures does not install under an enforce rule for the upstream's name."""
    upstream, project = world["upstream"], world["project"]
    folder = tmp_path / "stripped"
    lock = json.loads((project / "skills.lock.json").read_text())
    for entry in lock["skills"]:  # only the skills, by digest: no referrers, no .sig tags
        source = Client().open(Reference.parse(f"{upstream.host}/{entry['source']['repository']}"))
        dest = LayoutRepository(folder / entry["source"]["repository"])
        desc, data = source.fetch_manifest(entry["source"]["digest"])
        copy_manifest(source, dest, desc, data, Cache(tmp_path / "staging"), tag="1.0.0")
    upstream.stop()
    clone = _air_gapped(isolated_env, project, tmp_path / "airgapped", f"oci:{folder}")
    _point_at(isolated_env, upstream, f"oci:{folder}")
    done = run_cli("install", "--frozen", cwd=clone, env=PASSWORD)
    assert done.returncode == 1  # the signatures are neither there nor reachable: refused
    assert not (clone / ".agents" / "skills" / "review").exists()


def test_a_mirror_serving_other_content_under_a_tag_meets_the_upstreams_rule(
    world: dict,
    make_registry: Callable[..., RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    """An ``all`` mirror answers tag lookups: one that maps ``review:1.0.0`` to unsigned
    content is still judged by the enforce rule for the upstream's canonical name."""
    upstream = world["upstream"]
    evil = make_registry()
    folder = make_skill(tmp_path / "evil", "review", "Not the real review skill.")
    ok("push", str(folder), f"{evil.host}/skills/review:1.0.0")
    project = tmp_path / "fresh"
    (project / "keys").mkdir(parents=True)
    shutil.copy(world["project"] / "keys" / "acme.pub", project / "keys" / "acme.pub")
    trust = {f"{upstream.host}/skills/*": {"mode": "enforce", "keys": ["keys/acme.pub"]}}
    (project / "skills.json").write_text(json.dumps({"skills": [], "trust": trust}) + "\n")
    isolated_env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{upstream.host}"\n[[registry.mirror]]\nlocation = "{evil.host}"\n'
    )
    done = run_cli("add", f"{upstream.host}/skills/review:1.0.0", cwd=project, env=PASSWORD)
    assert done.returncode == 1 and "not signed" in done.stderr, done.stderr
    assert not (project / ".agents" / "skills" / "review").exists()
    isolated_env.registries_conf.unlink()  # control: from the upstream it is signed
    ok("add", f"{upstream.host}/skills/review:1.0.0", cwd=project)


def test_mirror_refuses_two_sources_that_would_collide(
    make_registry: Callable[..., RegistryServer], tmp_path: Path
) -> None:
    one, two = make_registry(), make_registry()
    project = tmp_path / "p"
    project.mkdir()
    for registry in (one, two):
        folder = make_skill(tmp_path / "src" / registry.host.replace(":", "-"), "review")
        ok("push", str(folder), f"{registry.host}/skills/review:1.0.0")
    refs = [f"{one.host}/skills/review:1.0.0", f"{two.host}/skills/review:1.0.0"]
    done = run_cli("mirror", f"oci:{tmp_path / 'out'}", *refs, cwd=project)
    assert done.returncode == 2
    assert "would both be copied to" in done.stderr
    assert not (tmp_path / "out").exists()


def test_mirror_without_a_lock_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "skills.json").write_text('{"skills": []}\n')
    done = run_cli("mirror", f"oci:{tmp_path / 'out'}", cwd=tmp_path)
    assert done.returncode == 1 and "no skills.lock.json" in done.stderr


def test_a_collection_and_a_mirror_that_needs_its_own_login(
    make_registry: Callable[..., RegistryServer], isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    """Collections named in skills.json are copied with their tag; credentials are those of
    the host contacted (the mirror's), not the upstream's."""
    from registry_server import TEST_USERS

    upstream = make_registry()
    guarded = make_registry(basic_users=TEST_USERS)
    for name in NAMES:
        folder = make_skill(tmp_path / "src", name, f"The {name} skill. Use when testing.")
        ok("push", str(folder), f"{upstream.host}/kit/{name}:1.0.0")
    members = [a for n in NAMES for a in ("--skill", f"{upstream.host}/kit/{n}:1.0.0")]
    ok("collection", "push", "kit", f"{upstream.host}/kit/all:1.0.0", *members, "--copy")
    project = tmp_path / "p"
    project.mkdir()
    ok("add", f"{upstream.host}/kit/all:1.0.0", "--allow-external", cwd=project)
    creds = run_cli(
        "login",
        guarded.host,
        "-u",
        "alice",
        "--password-stdin",
        "--authfile",
        str(isolated_env.registry_auth_file),
        stdin=TEST_USERS["alice"],
    )
    assert creds.returncode == 0, creds.stderr
    done = json.loads(ok("mirror", f"{guarded.host}/copy", "--json", cwd=project).stdout)
    names = {m["name"] for m in done}
    assert f"collection {upstream.host}/kit/all" in names and set(NAMES) <= names
    tags = run_cli("versions", f"{guarded.host}/copy/kit/all", "--json")
    assert "1.0.0" in json.loads(tags.stdout)

    upstream.stop()
    clone = _air_gapped(isolated_env, project, tmp_path / "airgapped", "")
    _point_at(isolated_env, upstream, f"{guarded.host}/copy")
    done_install = run_cli("install", "--frozen", cwd=clone)
    assert done_install.returncode == 0, done_install.stderr
