"""Mirrors and pull-through caches from containers-registries.conf(5) (issue 15).

The matching rules are pure logic; the flows run against real CNCF Distribution
registries: an upstream with the skills and a second registry in proxy mode (a
pull-through cache of the upstream), named as a mirror in the test's registries.conf.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skillcrate import registries
from skillcrate.errors import SkillcrateError

from helpers import clone_project, closed_port, make_skill, run_cli
from registry_server import IsolatedEnv, RegistryServer

# ------------------------------------------------------------------------ pure matching


def rules(text: str) -> list[registries.Rule]:
    import tomllib

    return registries.parse_rules(tomllib.loads(text), "test.conf")


def test_the_longest_prefix_wins_and_is_rewritten() -> None:
    rs = rules(
        """
[[registry]]
prefix = "ghcr.io"
location = "ghcr-mirror.internal"
[[registry]]
prefix = "ghcr.io/acme"
location = "internal.example:5000/acme-copy"
[[registry.mirror]]
location = "cache.example/acme"
pull-from-mirror = "digest-only"
"""
    )
    rule, points = registries.endpoints(rs, "ghcr.io/acme/skills/review")
    assert rule is not None and rule.prefix == "ghcr.io/acme"
    assert [(p.name, p.mirror, p.pull_from_mirror) for p in points] == [
        ("cache.example/acme/skills/review", True, "digest-only"),
        ("internal.example:5000/acme-copy/skills/review", False, "all"),
    ]
    _, points = registries.endpoints(rs, "ghcr.io/other/x")
    assert [p.name for p in points] == ["ghcr-mirror.internal/other/x"]
    _, points = registries.endpoints(rs, "ghcr.io/acmeish/x")  # not a path prefix of it
    assert [p.name for p in points] == ["ghcr-mirror.internal/acmeish/x"]
    rule, points = registries.endpoints(rs, "quay.io/x")
    assert rule is None and [p.name for p in points] == ["quay.io/x"]


def test_a_wildcard_prefix_keeps_the_host_and_feeds_its_mirrors() -> None:
    rs = rules(
        """
[[registry]]
prefix = "*.corp.example"
[[registry.mirror]]
location = "oci:/mnt/skills"
"""
    )
    _, points = registries.endpoints(rs, "reg.corp.example:5000/team/review")
    assert [p.name for p in points] == [
        "oci:/mnt/skills/team/review",
        "reg.corp.example:5000/team/review",
    ]
    assert registries.match(rs, "corp.example.evil/x") is None


def test_pull_from_mirror_modes() -> None:
    def serves(mode: str) -> tuple[bool, bool]:
        point = registries.Endpoint("m/x", insecure=False, mirror=True, pull_from_mirror=mode)
        return point.serves(True), point.serves(False)

    assert serves("all") == (True, True)
    assert serves("digest-only") == (True, False)
    assert serves("tag-only") == (False, True)
    primary = registries.Endpoint("p/x", insecure=False, mirror=False)
    assert primary.serves(True) and primary.serves(False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('registry = "x"', "must be an array of tables"),
        ("[[registry]]\ninsecure = true", "needs a prefix or a location"),
        ('[[registry]]\nprefix = "a.io"\nblocked = "yes"', "blocked must be true or false"),
        ('[[registry]]\nprefix = "*.a.io"\nlocation = "b.io"', "wildcard prefix"),
        ('[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\ninsecure = true', "needs a location"),
        (
            '[[registry]]\nprefix = "a.io"\n[[registry.mirror]]\nlocation = "m"\n'
            'pull-from-mirror = "sometimes"',
            "pull-from-mirror must be one of all, digest-only, tag-only",
        ),
    ],
)
def test_a_malformed_table_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(SkillcrateError, match=message):
        rules(text)


def test_files_are_read_in_podmans_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = home / ".config" / "containers"
    (user / "registries.conf.d").mkdir(parents=True)
    (user / "registries.conf.d" / "b.conf").write_text("")
    (user / "registries.conf.d" / "a.conf").write_text("")
    (user / "registries.conf.d" / "skip.txt").write_text("")
    env = {"HOME": str(home)}
    names = [p.name for p in registries.config_files(env)]
    assert names[-2:] == ["a.conf", "b.conf"] and "skip.txt" not in names
    (user / "registries.conf").write_text("")  # the user's file replaces the system one
    files = registries.config_files(env)
    assert files == [
        user / "registries.conf",
        user / "registries.conf.d" / "a.conf",
        user / "registries.conf.d" / "b.conf",
    ]
    assert registries.config_files({**env, "SKILLCRATE_REGISTRIES_CONF": "/x.conf"}) == [
        Path("/x.conf")
    ]


def test_later_files_replace_a_prefix_and_config_toml_comes_last(tmp_path: Path) -> None:
    first, second = tmp_path / "a.conf", tmp_path / "d" / "b.conf"
    first.write_text('[[registry]]\nprefix = "a.io"\nlocation = "one.io"\n')
    second.parent.mkdir()
    second.write_text('[[registry]]\nprefix = "a.io"\nlocation = "two.io"\n')
    home = tmp_path / "home" / ".config" / "containers"
    (home / "registries.conf.d").mkdir(parents=True)
    shutil.copy(first, home / "registries.conf")
    shutil.copy(second, home / "registries.conf.d" / "b.conf")
    env = {"HOME": str(tmp_path / "home")}
    [rule] = registries.load_rules({}, env)
    assert rule.location == "two.io"
    own = {"registry": [{"prefix": "a.io", "location": "three.io"}]}
    [rule] = registries.load_rules(own, env)
    assert rule.location == "three.io" and rule.source.endswith("config.toml")


# ------------------------------------------------------------------------- real parts


def _publish(registry: RegistryServer, tmp_path: Path, names: tuple[str, ...]) -> None:
    for name in names:
        folder = make_skill(tmp_path / "src", name, f"The {name} skill. Use when testing.")
        done = run_cli("push", str(folder), f"{registry.host}/skills/{name}:1.0.0")
        assert done.returncode == 0, done.stderr


def _project(root: Path, registry: RegistryServer, names: tuple[str, ...]) -> Path:
    root.mkdir(parents=True)
    skills = [
        {"name": n, "source": f"{registry.host}/skills/{n}", "version": "^1.0.0"} for n in names
    ]
    (root / "skills.json").write_text(json.dumps({"skills": skills}, indent=2) + "\n")
    return root


def _conf(env: IsolatedEnv, upstream: RegistryServer, mirror: str, mode: str = "all") -> None:
    env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{upstream.host}"\n'
        f'[[registry.mirror]]\nlocation = "{mirror}"\npull-from-mirror = "{mode}"\n'
    )


def _stop_once_cached(upstream: RegistryServer, proxy: RegistryServer) -> None:
    """Stop ``upstream`` once ``proxy`` has stored every blob it has served.

    Distribution's proxy stores a blob it serves from a background goroutine that fetches
    it from the upstream again: an upstream stopped before that finished leaves the proxy
    without the blob (and the test racing it, more often the faster installs get)."""
    digests = {
        r.rsplit("/", 1)[1]
        for r in proxy.requests_logged()
        if r.startswith("GET ") and "/blobs/sha256:" in r
    }
    blobs = proxy.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
    deadline = time.monotonic() + 30
    while missing := [d for d in digests if not (blobs / d[7:9] / d[7:] / "data").is_file()]:
        assert time.monotonic() < deadline, f"the proxy never stored {missing}"
        time.sleep(0.05)
    upstream.stop()


@pytest.fixture
def upstream_and_proxy(
    make_registry: Callable[..., RegistryServer],
) -> tuple[RegistryServer, RegistryServer]:
    upstream = make_registry()
    proxy = make_registry(proxy_of=upstream.url, access_log=True)
    return upstream, proxy


NAMES = ("review", "testing")


def test_a_pull_through_cache_keeps_serving_the_lock_when_the_upstream_is_down(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    upstream, proxy = upstream_and_proxy
    _publish(upstream, tmp_path, NAMES)
    _conf(isolated_env, upstream, proxy.host)
    first = _project(tmp_path / "first", upstream, NAMES)
    since = len(proxy.logs())
    done = run_cli("-v", "install", cwd=first)
    assert done.returncode == 0, done.stderr
    assert any(r.startswith("GET /v2/skills/review/blobs/") for r in proxy.requests_logged(since))
    assert f"served by mirror {proxy.host}/skills/review" in done.stderr  # -v says who served
    lock = json.loads((first / "skills.lock.json").read_text())
    assert {s["source"]["registry"] for s in lock["skills"]} == {upstream.host}  # canonical

    _stop_once_cached(upstream, proxy)
    shutil.rmtree(isolated_env.cache_dir)  # an empty cache: everything from the proxy
    second = clone_project(first, tmp_path / "second")
    done = run_cli("install", "--frozen", cwd=second)
    assert done.returncode == 0, done.stderr
    assert run_cli("verify", cwd=second).returncode == 0

    isolated_env.registries_conf.unlink()  # control: without the mirror it cannot install
    shutil.rmtree(isolated_env.cache_dir)
    third = clone_project(first, tmp_path / "third")
    done = run_cli("install", "--frozen", cwd=third)
    assert done.returncode == 1 and f"cannot reach registry {upstream.host}" in done.stderr


def test_digest_only_mirrors_leave_tags_to_the_primary(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    upstream, proxy = upstream_and_proxy
    _publish(upstream, tmp_path, NAMES)
    _conf(isolated_env, upstream, proxy.host, "digest-only")
    project = _project(tmp_path / "p", upstream, NAMES)
    since = len(proxy.logs())
    done = run_cli("install", cwd=project)
    assert done.returncode == 0, done.stderr
    seen = proxy.requests_logged(since)
    assert not any("/tags/list" in r or "/manifests/1.0.0" in r for r in seen), seen
    assert any("/blobs/sha256:" in r for r in seen)  # blobs did come from the mirror

    upstream.stop()
    done = run_cli("add", f"{upstream.host}/skills/other:1.0.0", cwd=project)
    assert done.returncode == 1
    assert f"cannot reach registry {upstream.host}" in done.stderr.splitlines()[0]


def test_a_blocked_registry_is_refused(
    fresh_registry: RegistryServer, isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    _publish(fresh_registry, tmp_path, ("review",))
    isolated_env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{fresh_registry.host}/skills"\nblocked = true\n'
    )
    done = run_cli("versions", f"{fresh_registry.host}/skills/review")
    assert done.returncode == 1
    assert f"registry {fresh_registry.host}/skills is blocked" in done.stderr
    assert str(isolated_env.registries_conf) in done.stderr
    assert run_cli("versions", f"{fresh_registry.host}/other/x").returncode == 1  # not blocked:
    # that repository just does not exist (a 404, not the block)


def test_a_location_rewrite_in_config_toml_sends_pushes_and_pulls_elsewhere(
    make_registry: Callable[..., RegistryServer], isolated_env: IsolatedEnv, tmp_path: Path
) -> None:
    real = make_registry()
    (isolated_env.config_dir / "config.toml").write_text(
        f'[[registry]]\nprefix = "skills.example.invalid"\nlocation = "{real.host}/moved"\n'
    )
    folder = make_skill(tmp_path / "src", "review")
    done = run_cli("push", str(folder), "skills.example.invalid/review:1.0.0")
    assert done.returncode == 0, done.stderr
    tags = run_cli("versions", f"{real.host}/moved/review", "--json")
    assert json.loads(tags.stdout) == ["1.0.0", "latest"]
    project = tmp_path / "p"
    project.mkdir()
    done = run_cli("add", "skills.example.invalid/review:1.0.0", cwd=project)
    assert done.returncode == 0, done.stderr
    lock = json.loads((project / "skills.lock.json").read_text())
    assert lock["skills"][0]["source"]["registry"] == "skills.example.invalid"


def test_doctor_lists_each_mirror_and_whether_it_answers(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    upstream, proxy = upstream_and_proxy
    _publish(upstream, tmp_path, ("review",))
    dead = closed_port()
    isolated_env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{upstream.host}"\n'
        f'[[registry.mirror]]\nlocation = "{dead}"\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\npull-from-mirror = "digest-only"\n'
    )
    project = _project(tmp_path / "p", upstream, ("review",))
    assert run_cli("install", cwd=project).returncode == 0  # the dead mirror is skipped
    done = run_cli("doctor", "--json", cwd=project)
    checks = {c["subject"]: c for c in json.loads(done.stdout) if c["area"] == "mirror"}
    source = f"{upstream.host}/skills/review"
    dead_check = checks[f"{source} → {dead}/skills/review"]
    assert dead_check["status"] == "warn" and "connection refused" in dead_check["detail"]
    live = checks[f"{source} → {proxy.host}/skills/review"]
    assert live["status"] == "ok" and live["detail"].startswith("mirror (digest-only) from ")


def test_an_insecure_mirror_may_answer_plain_http(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    upstream, proxy = upstream_and_proxy
    _publish(upstream, tmp_path, ("review",))
    (isolated_env.config_dir / "config.toml").write_text(
        f'[registries."{proxy.host}"]\nplain_http = false\n'  # as if it were a remote host
    )
    isolated_env.registries_conf.write_text(
        f'[[registry]]\nprefix = "{upstream.host}"\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\n'
    )
    project = _project(tmp_path / "p", upstream, ("review",))
    insecure = (
        f'[[registry]]\nprefix = "{upstream.host}"\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\ninsecure = true\n'
    )
    isolated_env.registries_conf.write_text(insecure)
    since = len(proxy.logs())
    assert run_cli("install", cwd=project).returncode == 0
    assert any("/blobs/" in r for r in proxy.requests_logged(since))  # over HTTP, via the mirror
    _stop_once_cached(upstream, proxy)
    shutil.rmtree(isolated_env.cache_dir)
    clone = clone_project(project, tmp_path / "clone")
    done = run_cli("install", "--frozen", cwd=clone)
    assert done.returncode == 0, done.stderr
    isolated_env.registries_conf.write_text(insecure.replace("insecure = true\n", ""))
    shutil.rmtree(isolated_env.cache_dir)
    again = clone_project(project, tmp_path / "again")
    refused = run_cli("install", "--frozen", cwd=again)
    assert refused.returncode == 1  # control: without insecure the mirror must speak TLS


def test_signed_skills_verify_through_the_pull_through_cache_with_the_upstream_down(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    """The signatures (a bundle referrer and cosign's .sig tag) come through the proxy too,
    and an enforce rule for the upstream's name verifies them there."""
    upstream, proxy = upstream_and_proxy
    password = {"SKILLCRATE_PASSWORD": "correct horse"}
    key = tmp_path / "keys" / "acme"
    assert run_cli("keygen", "--output-key-prefix", str(key), env=password).returncode == 0
    _publish(upstream, tmp_path, ("review",))
    signed = run_cli(
        "sign",
        f"{upstream.host}/skills/review:1.0.0",
        "--key",
        f"{key}.key",
        "--format",
        "both",
        env=password,
    )
    assert signed.returncode == 0, signed.stderr
    project = _project(tmp_path / "p", upstream, ("review",))
    (project / "keys").mkdir()
    shutil.copy(f"{key}.pub", project / "keys" / "acme.pub")
    manifest = json.loads((project / "skills.json").read_text())
    manifest["trust"] = {
        f"{upstream.host}/skills/*": {"mode": "enforce", "keys": ["keys/acme.pub"]}
    }
    (project / "skills.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _conf(isolated_env, upstream, proxy.host)
    assert run_cli("install", cwd=project).returncode == 0

    _stop_once_cached(upstream, proxy)
    shutil.rmtree(isolated_env.cache_dir)
    shutil.rmtree(isolated_env.home / ".local" / "state")  # no record of the verification
    clone = clone_project(project, tmp_path / "clone")
    shutil.copytree(project / "keys", clone / "keys")
    done = run_cli("install", "--frozen", cwd=clone)
    assert done.returncode == 0, done.stderr
    lock = json.loads((clone / "skills.lock.json").read_text())
    assert lock["skills"][0]["signedBy"] == "keys/acme.pub"


def test_promote_through_a_host_with_a_mirror_deletes_the_old_manifest_on_the_primary(
    upstream_and_proxy: tuple[RegistryServer, RegistryServer],
    isolated_env: IsolatedEnv,
    tmp_path: Path,
) -> None:
    """Writes go to the primary, mirrors or not: archiving on a registry that deletes
    manifests but not tags alone (Distribution) deletes the old manifest there. Before,
    the mirrored target had no ``delete_manifest`` and promote refused."""
    upstream, proxy = upstream_and_proxy
    folder = make_skill(tmp_path / "src", "keeper", "The keeper skill. Use when testing.")
    base = f"{upstream.host}/skills/keeper"
    done = run_cli("push", str(folder), f"{base}:1.0.0", "--status", "published")
    assert done.returncode == 0, done.stderr
    _conf(isolated_env, upstream, proxy.host)
    done = run_cli("promote", f"{base}:1.0.0", "--to", "deprecated")
    assert done.returncode == 0, done.stderr

    done = run_cli("promote", f"{base}:1.0.0", "--to", "archived", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "1.0.0" in out["untagged"]
    assert "cannot delete a tag alone" in done.stderr  # it deleted the old manifest instead
    isolated_env.registries_conf.unlink()  # what the upstream itself now lists
    tags = json.loads(run_cli("versions", base, "--json").stdout)
    assert "1.0.0" not in tags


def test_a_relative_xdg_config_home_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The XDG spec calls a relative value invalid: it must not make skillcrate read a
    registries.conf from whatever folder it runs in (a project's, say)."""
    home = tmp_path / "home"
    user = home / ".config" / "containers"
    user.mkdir(parents=True)
    (user / "registries.conf").write_text("")
    planted = tmp_path / "proj" / "rel" / "containers"
    planted.mkdir(parents=True)
    (planted / "registries.conf").write_text("")
    monkeypatch.chdir(tmp_path / "proj")
    files = registries.config_files({"HOME": str(home), "XDG_CONFIG_HOME": "rel"})
    assert files[0] == user / "registries.conf"
    assert not any("proj" in str(f) for f in files)
    absolute = tmp_path / "xdg"
    (absolute / "containers").mkdir(parents=True)
    (absolute / "containers" / "registries.conf").write_text("")
    files = registries.config_files({"HOME": str(home), "XDG_CONFIG_HOME": str(absolute)})
    assert files[0] == absolute / "containers" / "registries.conf"  # the control
