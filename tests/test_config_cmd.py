"""``skillcrate config list|get|set|unset`` (issue 15): edits config.toml, keeps the rest."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from skillcrate.config import load_config, registry_settings
from skillcrate.registries import load_rules

from helpers import run_cli
from registry_server import IsolatedEnv

HAND_WRITTEN = """\
# my settings: keep this comment
allow_link_dirs = ["docs/skills"]   # and this one

[registries."ghcr.io"]
ca_bundle = "/etc/ssl/corp.pem"
"""


def cfg(env: IsolatedEnv) -> Path:
    return env.config_dir / "config.toml"


def ok(*args: str) -> str:
    done = run_cli("config", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_set_keeps_comments_and_layout(isolated_env: IsolatedEnv) -> None:
    cfg(isolated_env).write_text(HAND_WRITTEN)
    ok("set", "registries.127.0.0.1:5000.plain_http", "true")
    ok("set", "registries.*.read_timeout", "120")
    text = cfg(isolated_env).read_text()
    assert text.startswith(HAND_WRITTEN)  # everything before is byte-identical
    assert registry_settings("127.0.0.1:5000").plain_http is True
    assert registry_settings("ghcr.io").read_timeout == 120.0
    assert registry_settings("ghcr.io").ca_bundle == "/etc/ssl/corp.pem"


def test_get_list_and_unset(isolated_env: IsolatedEnv) -> None:
    cfg(isolated_env).write_text(HAND_WRITTEN)
    assert ok("get", "allow_link_dirs").strip() == "docs/skills"
    assert ok("get", "registries.ghcr.io.ca_bundle").strip() == "/etc/ssl/corp.pem"
    missing = run_cli("config", "get", "agents")
    assert missing.returncode == 1 and "agents is not set" in missing.stderr
    ok("set", "agents", "claude,codex")
    listed = json.loads(ok("list", "--json"))
    assert listed == {
        "allow_link_dirs": ["docs/skills"],
        "agents": ["claude", "codex"],
        "registries.ghcr.io.ca_bundle": "/etc/ssl/corp.pem",
    }
    assert "agents = claude,codex" in ok("list")
    ok("unset", "registries.ghcr.io.ca_bundle")
    assert "ghcr.io" not in cfg(isolated_env).read_text()  # the emptied table went too
    assert "# my settings: keep this comment" in cfg(isolated_env).read_text()
    again = run_cli("config", "unset", "registries.ghcr.io.ca_bundle")
    assert again.returncode == 0 and "was not set" in again.stderr


def test_mirrors_are_written_as_registries_conf_tables(isolated_env: IsolatedEnv) -> None:
    ok("set", "registry.ghcr.io/acme.mirrors", "cache.internal:5000/acme,oci:/mnt/skills/acme")
    ok("set", "registry.ghcr.io/acme.pull-from-mirror", "digest-only")
    ok("set", "registry.ghcr.io/acme.location", "ghcr.io/acme")
    data = tomllib.loads(cfg(isolated_env).read_text())
    assert data["registry"] == [
        {
            "prefix": "ghcr.io/acme",
            "mirror": [
                {"location": "cache.internal:5000/acme", "pull-from-mirror": "digest-only"},
                {"location": "oci:/mnt/skills/acme", "pull-from-mirror": "digest-only"},
            ],
            "location": "ghcr.io/acme",
        }
    ]
    [rule] = load_rules()  # what install reads (registries.conf is empty in tests)
    assert [m.location for m in rule.mirrors] == [
        "cache.internal:5000/acme",
        "oci:/mnt/skills/acme",
    ]
    assert ok("get", "registry.ghcr.io/acme.pull-from-mirror").strip() == "digest-only"
    ok("unset", "registry.ghcr.io/acme.mirrors")
    ok("unset", "registry.ghcr.io/acme.location")
    assert "registry" not in load_config()


def test_unknown_keys_and_bad_values_are_usage_errors(isolated_env: IsolatedEnv) -> None:
    cfg(isolated_env).write_text(HAND_WRITTEN)
    before = cfg(isolated_env).read_text()
    unknown = run_cli("config", "set", "registries.ghcr.io.colour", "blue")
    assert unknown.returncode == 2 and "known: allow_link_dirs, agents" in unknown.stderr
    for key, value, message in (
        ("registries.ghcr.io.plain_http", "maybe", "takes true or false"),
        ("registries.ghcr.io.read_timeout", "0", "positive number of seconds"),
        ("registry.a.io.pull-from-mirror", "digest-only", "has no mirrors"),
        ("agents", "claude,robot", "robot"),
    ):
        bad = run_cli("config", "set", key, value)
        assert bad.returncode == 2, (key, bad.stderr)
        assert message in bad.stderr, (key, bad.stderr)
    wildcard = run_cli("config", "set", "registry.*.corp.example.location", "x.io")
    assert wildcard.returncode == 1 and "wildcard prefix" in wildcard.stderr
    assert cfg(isolated_env).read_text() == before  # nothing written by a refused edit


def test_a_malformed_file_is_never_overwritten(isolated_env: IsolatedEnv) -> None:
    cfg(isolated_env).write_text("agents = [claude\n")
    done = run_cli("config", "set", "agents", "codex")
    assert done.returncode == 1 and "not valid TOML" in done.stderr
    assert cfg(isolated_env).read_text() == "agents = [claude\n"


def test_register_uses_the_configured_agents(isolated_env: IsolatedEnv, tmp_path: Path) -> None:
    ok("set", "agents", "gemini")
    (tmp_path / "skills.json").write_text('{"skills": []}\n')
    done = run_cli("register", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".gemini" / "settings.json").is_file()
    assert not (tmp_path / ".claude").exists()
