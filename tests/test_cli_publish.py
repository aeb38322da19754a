"""Publisher commands end to end: ``python -m skillcrate push/pull/inspect/versions``.

Real registries on 127.0.0.1 (see ``conftest.py``), skopeo as an independent client, and
the real CLI in a subprocess (real exit codes, real stderr).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from skillcrate.formats import pack

from helpers import make_skill, run_cli, tree_of
from registry_server import TEST_USERS, RegistryServer, TokenRegistry

ALICE = ("alice", TEST_USERS["alice"])
WRONG_PASSWORD = "not-the-password-7c1e"
FAST = 10.0  # seconds: the bound for "a clear error, quickly"
EPOCH = {"SOURCE_DATE_EPOCH": "1700000000"}


def _skill(root: Path, name: str = "demo-skill") -> Path:
    folder = make_skill(
        root,
        name,
        files={
            "scripts/run.sh": "#!/bin/sh\necho hello\n",
            "references/notes.md": "# Notes\n",
            "assets/data.txt": "a,b,c\n",
        },
        version="1.0.0",
    )
    (folder / "scripts" / "run.sh").chmod(0o755)
    return folder


def _assert_sametree_of(source: Path, pulled: Path) -> None:
    got = tree_of(pulled)
    assert got == tree_of(source)
    assert got["scripts/run.sh"][1] == 0o755
    assert got["SKILL.md"][1] == 0o644


def _ok(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    proc = run_cli(*args, **kwargs)  # type: ignore[arg-type]
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _fails(*args: str, secret: str = "") -> tuple[str, float]:
    """Run a command that must fail cleanly; return its one ``error:`` line and duration."""
    start = time.monotonic()
    proc = run_cli(*args)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[0] == errors[0], proc.stderr
    assert all(line.startswith(("error:", "hint:")) for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if secret:
        assert secret not in proc.stderr + proc.stdout
    return errors[0], elapsed


def _push_json(folder: Path, ref: str, *extra: str) -> dict:
    return json.loads(_ok("push", str(folder), ref, "--json", *extra).stdout)


# ------------------------------------------------------------------- round trip


def test_cli_push_pull_inspect_versions(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    folder = _skill(tmp_path / "src")
    ref = f"{registry.host}/{repo_name}"
    push = _ok(
        "push",
        str(folder),
        f"{ref}:1.0.0",
        *("--tag", "1.10.0", "--tag", "1.2.0", "--tag", "2.0.0-rc.1"),
        *("--tag", "latest", "--tag", "dev"),
    )
    (line,) = push.stdout.splitlines()
    assert line.startswith(f"pushed {ref}:1.0.0@sha256:")
    digest = line.rsplit("@", 1)[1]

    out = tmp_path / "pulled"
    pull = _ok("pull", f"{ref}:1.0.0", "-o", str(out))
    assert digest in pull.stdout
    _assert_sametree_of(folder, out)

    info = json.loads(_ok("inspect", f"{ref}:1.2.0", "--json").stdout)
    assert info["digest"] == digest
    assert info["format"] == "agentskills"
    assert info["artifactType"] == "application/vnd.agentskills.skill.v1"
    assert info["config"]["name"] == "demo-skill"
    files = {f["path"]: f["mode"] for f in info["files"]}
    assert files["demo-skill/scripts/run.sh"] == "0755"
    assert files["demo-skill/SKILL.md"] == "0644"

    tags = json.loads(_ok("versions", ref, "--json").stdout)
    assert tags == ["2.0.0-rc.1", "1.10.0", "1.2.0", "1.0.0", "dev", "latest"]


@pytest.mark.parametrize("fmt", ["agentskills", "image"])
def test_what_push_accepts_installs_as_published(
    registry: RegistryServer, repo_name: str, tmp_path: Path, fmt: str
) -> None:
    """A symlinked SKILL.md is pushed as its file (with a warning), and a ``:`` in a file
    name (legal in every format, the image format included) and a backslash install under
    the same names."""
    shared = _skill(tmp_path / "shared")
    folder = tmp_path / "linked" / "demo-skill"
    (folder / "references").mkdir(parents=True)
    (folder / "SKILL.md").symlink_to(shared / "SKILL.md")
    (folder / "references" / "a:b.md").write_text("colon\n")
    (folder / "references" / "back\\slash.md").write_text("backslash\n")  # a legal POSIX name
    push = _ok("push", str(folder), f"{registry.host}/{repo_name}:1.0.0", "--format", fmt)
    assert "warning: SKILL.md is a symbolic link to" in push.stderr
    project = tmp_path / "project"
    project.mkdir()
    _ok("add", f"{registry.host}/{repo_name}:1.0.0", cwd=project)
    installed = project / ".agents/skills/demo-skill"
    assert not (installed / "SKILL.md").is_symlink()
    assert (installed / "SKILL.md").read_bytes() == (shared / "SKILL.md").read_bytes()
    assert (installed / "references" / "a:b.md").read_text() == "colon\n"
    assert (installed / "references" / "back\\slash.md").read_text() == "backslash\n"
    assert not (installed / "references" / "back").exists()  # never rewritten into a folder
    _ok("verify", cwd=project)


# ------------------------------------------------------------------------- skopeo


@pytest.mark.parametrize("fmt", ["agentskills", "acr", "image"])
def test_skopeo_sees_the_exact_manifest_skillcrate_pushed(
    registry: RegistryServer,
    skopeo_bin: str,
    monkeypatch: pytest.MonkeyPatch,
    repo_name: str,
    tmp_path: Path,
    fmt: str,
) -> None:
    for key, value in EPOCH.items():
        monkeypatch.setenv(key, value)
    folder = _skill(tmp_path / "src")
    ref = f"{registry.host}/{repo_name}:1.0.0"
    pushed = _push_json(folder, ref, "--format", fmt)
    assert pushed["format"] == fmt

    raw = subprocess.run(
        [skopeo_bin, "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pushed["digest"]
    assert raw == pack(folder, fmt, tag="1.0.0", env=EPOCH, status="published").manifest


def test_skopeo_copy_to_a_layout_then_pull_from_it(
    registry: RegistryServer, skopeo_bin: str, repo_name: str, tmp_path: Path
) -> None:
    folder = _skill(tmp_path / "src")
    ref = f"{registry.host}/{repo_name}:1.0.0"
    digest = _push_json(folder, ref)["digest"]
    layout = tmp_path / "layout"
    subprocess.run(
        [
            skopeo_bin,
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            f"docker://{ref}",
            f"oci:{layout}:1.0.0",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert (layout / "index.json").is_file()

    out = tmp_path / "pulled"
    pulled = json.loads(_ok("pull", f"oci:{layout}:1.0.0", "-o", str(out), "--json").stdout)
    assert pulled["digest"] == digest  # skopeo kept the manifest bytes
    assert pulled["name"] == "demo-skill"
    _assert_sametree_of(folder, out)
    assert json.loads(_ok("versions", f"oci:{layout}", "--json").stdout) == ["1.0.0"]


# --------------------------------------------------------------------------- auth


def test_cli_basic_auth_push_and_pull(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({basic_registry.host: ALICE})
    folder = _skill(tmp_path / "src")
    ref = f"{basic_registry.host}/{repo_name}:1.0.0"
    _ok("push", str(folder), ref)
    _ok("pull", ref, "-o", str(tmp_path / "out"))
    _assert_sametree_of(folder, tmp_path / "out")


def test_cli_wrong_password_is_one_clear_line(
    basic_registry: RegistryServer,
    make_docker_config: Callable[..., Path],
    repo_name: str,
    tmp_path: Path,
) -> None:
    make_docker_config({basic_registry.host: ("alice", WRONG_PASSWORD)})
    folder = _skill(tmp_path / "src")
    for args in (
        ("push", str(folder), f"{basic_registry.host}/{repo_name}:1.0.0"),
        ("versions", f"{basic_registry.host}/{repo_name}"),
    ):
        error, elapsed = _fails(*args, secret=WRONG_PASSWORD)
        assert elapsed < FAST
        assert basic_registry.host in error
        assert "rejected" in error


def test_cli_token_registry_wrong_password(
    token_registry: TokenRegistry,
    make_docker_config: Callable[..., Path],
    repo_name: str,
) -> None:
    make_docker_config({token_registry.host: ("alice", WRONG_PASSWORD)})
    error, elapsed = _fails("versions", f"{token_registry.host}/{repo_name}", secret=WRONG_PASSWORD)
    assert elapsed < FAST
    assert token_registry.host in error and "rejected" in error


def test_cli_no_credentials_says_authentication_required(
    basic_registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    error, elapsed = _fails("pull", f"{basic_registry.host}/{repo_name}:1.0.0", "-o", str(tmp_path))
    assert elapsed < FAST
    assert "authentication required" in error
    assert basic_registry.host in error


# ----------------------------------------------------------------- failure modes


def test_cli_dead_registry_fails_fast(fresh_registry: RegistryServer, tmp_path: Path) -> None:
    host = fresh_registry.host
    fresh_registry.stop()
    for args in (
        ("versions", f"{host}/acme/demo"),
        ("pull", f"{host}/acme/demo:1.0.0", "-o", str(tmp_path / "out")),
    ):
        error, elapsed = _fails(*args)
        assert elapsed < FAST
        assert f"cannot reach registry {host}" in error
    assert not (tmp_path / "out").exists()


def test_cli_pull_refuses_a_corrupt_blob(fresh_registry: RegistryServer, tmp_path: Path) -> None:
    folder = _skill(tmp_path / "src")
    ref = f"{fresh_registry.host}/acme/demo:1.0.0"
    _ok("push", str(folder), ref)
    layer = pack(folder).layers[0].digest
    hexpart = layer.split(":", 1)[1]
    data = (
        fresh_registry.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
    )
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF
    data.write_bytes(bytes(raw))

    error, _ = _fails("pull", ref, "-o", str(tmp_path / "out"))
    assert layer in error
    assert not (tmp_path / "out").exists()
