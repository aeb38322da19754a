"""A warm-cache install (a fresh clone, everything cached) loads no HTTP code, none of what
only packing or a host lookup needs (nor, once the cache holds the trees, unpacking), and
starts no download threads (nor does one from an ``oci:`` layout); a cold one from the
lock loads no YAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skillcrate.formats import pack
from skillcrate.oci import open_target
from skillcrate.publish.push import push_packed
from skillcrate.reference import Reference

from helpers import clone_project, make_skill, run_cli
from registry_server import RegistryServer


def _published_project(
    tmp_path: Path, registry: RegistryServer, repo_name: str, names: tuple[str, ...]
) -> tuple[Path, list[Reference]]:
    """A project that added ``names``, each pushed to ``registry`` as 1.0.0."""
    first = tmp_path / "first"
    first.mkdir()
    refs = []
    for name in names:
        ref = Reference.parse(f"{registry.host}/{repo_name}/{name}")
        folder = make_skill(tmp_path / "src" / name, name, f"The {name} skill.")
        push_packed(open_target(ref), pack(folder, tag="1.0.0"), ["1.0.0"])
        assert run_cli("add", str(ref), cwd=first).returncode == 0
        refs.append(ref)
    return first, refs


def _install_importing(
    project: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``install`` in a process of its own, and the modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "skillcrate", "install"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    return proc, modules


def test_a_fresh_clone_installs_from_the_cache_without_the_http_stack(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    """The add moved its trees into its project, so the cache holds their blobs: the
    first clone unpacks them (and publishes the trees), the next one only copies."""
    first, _ = _published_project(tmp_path, fresh_registry, repo_name, ("alpha",))
    fresh_registry.stop()  # nothing may be asked of it
    # nor what only packing, a config file, a host lookup or a dependency read needs
    unneeded = {
        "subprocess",
        "socket",
        "tomllib",
        "encodings.idna",
        "skillcrate.skill.dependencies",
    }
    unpacking = {"tarfile", "gzip", "tempfile", "skillcrate.skill.archive"}
    for clone_name, may_unpack in (("clone", True), ("clone-2", False)):
        clone = clone_project(first, tmp_path / clone_name)
        proc, modules = _install_importing(clone, dict(os.environ))
        assert proc.returncode == 0, proc.stderr
        assert (clone / ".agents" / "skills" / "alpha" / "SKILL.md").is_file()
        network = {"http.client", "ssl", "skillcrate.oci.httpclient", "skillcrate.oci.transport"}
        assert not {"requests", "urllib3", "yaml"} & modules
        assert not network & modules, sorted(network & modules)
        assert not unneeded & modules, sorted(unneeded & modules)
        assert bool(unpacking & modules) == may_unpack, (clone_name, sorted(unpacking & modules))


def test_a_cold_install_from_the_lock_loads_no_yaml_and_leaves_the_name_to_skill_md(
    tmp_path: Path, fresh_registry: RegistryServer, repo_name: str
) -> None:
    """An install from the lock names the folder after the lock entry, so it does not
    parse SKILL.md (PyYAML's import is ~30 ms of a cold install). The cache entry it
    writes carries no name: a later ``add`` of the same digest still takes SKILL.md's
    name, not the one a (possibly hostile) lock gave it."""
    first, [ref] = _published_project(tmp_path, fresh_registry, repo_name, ("alpha",))
    clone = tmp_path / "clone"
    clone.mkdir()
    for file in ("skills.json", "skills.lock.json"):  # the lock calls the skill "beta"
        data = json.loads((first / file).read_text())
        for entry in data["skills"]:
            entry["name"] = "beta"
            if "path" in entry:
                entry["path"] = ".agents/skills/beta"
        (clone / file).write_text(json.dumps(data, indent=2) + "\n")
    cold = {**os.environ, "SKILLCRATE_CACHE_DIR": str(tmp_path / "cold-cache")}

    proc, modules = _install_importing(clone, cold)
    assert proc.returncode == 0, proc.stderr
    assert (clone / ".agents" / "skills" / "beta" / "SKILL.md").is_file()
    assert "skillcrate.oci.httpclient" in modules  # it did fetch
    assert not {"requests", "urllib3"} & modules  # on http.client, not requests
    assert "yaml" not in modules

    later = tmp_path / "later"
    later.mkdir()
    added = run_cli(
        "add", str(ref), cwd=later, env={"SKILLCRATE_CACHE_DIR": cold["SKILLCRATE_CACHE_DIR"]}
    )
    assert added.returncode == 0, added.stderr
    assert [p.name for p in (later / ".agents" / "skills").iterdir()] == ["alpha"]


def _count_started_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the names of the threads this process starts (the install's workers)."""
    import threading

    started: list[str] = []

    class CountingThread(threading.Thread):
        def start(self) -> None:
            started.append(self.name)
            super().start()

    monkeypatch.setattr(threading, "Thread", CountingThread)
    return started


def test_a_warm_fresh_clone_copies_on_the_main_thread_and_a_cold_one_downloads_on_workers(
    tmp_path: Path,
    fresh_registry: RegistryServer,
    repo_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Trees or blobs the cache holds need no download, so no worker threads (they would
    only wait for the GIL); what must be downloaded still goes to the workers. The first
    clone unpacks the blobs the add left (its trees were moved into its project), the
    second copies the trees the first published."""
    first, _ = _published_project(tmp_path, fresh_registry, repo_name, ("alpha", "beta", "gamma"))
    started = _count_started_threads(monkeypatch)

    for name in ("warm", "warmer"):
        warm = clone_project(first, tmp_path / name)
        assert run_cli("install", cwd=warm).returncode == 0
        assert sorted(p.name for p in (warm / ".agents" / "skills").iterdir()) == [
            "alpha",
            "beta",
            "gamma",
        ]
        assert started == [], name

    cold = clone_project(first, tmp_path / "cold")
    done = run_cli("install", cwd=cold, env={"SKILLCRATE_CACHE_DIR": str(tmp_path / "empty")})
    assert done.returncode == 0, done.stderr
    assert len(started) == 3  # control: the downloads ran on workers


def test_a_cold_install_from_an_oci_layout_reads_on_the_main_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Skills in an ``oci:`` layout are read from disk: nothing to wait for, so no worker
    threads even with an empty cache (the registry case above is the control)."""
    from skillcrate.oci.layout import LayoutRepository

    first = tmp_path / "first"
    first.mkdir()
    for name in ("alpha", "beta", "gamma"):
        folder = make_skill(tmp_path / "src" / name, name, f"The {name} skill.")
        push_packed(
            LayoutRepository(tmp_path / "store" / name), pack(folder, tag="1.0.0"), ["1.0.0"]
        )
        assert run_cli("add", f"oci:../store/{name}:1.0.0", cwd=first).returncode == 0
    clone = clone_project(first, tmp_path / "clone")
    started = _count_started_threads(monkeypatch)
    done = run_cli("install", cwd=clone, env={"SKILLCRATE_CACHE_DIR": str(tmp_path / "empty")})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (clone / ".agents" / "skills").iterdir()) == [
        "alpha",
        "beta",
        "gamma",
    ]
    assert started == []
