"""benchmarks/suite.py's floors and the baselines of rows 7 and 7b.

Row 7b's floor is row 7's baseline that also keeps the blob, as ``add`` keeps the layer
in its cache. These tests keep both real, against a real registry: each extracts the same
tree, the keeping one writes the whole blob (the bytes of the digest), and a digest that
does not match the bytes fails the run, so neither can time less work than it claims.
Row 5's floor loads the install code and copies the installed tree: a test checks it does
both, and a ``--quick --rows 5`` run of the suite (its own registry; no timing asserted)
checks the floor is timed in the same rounds as the row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from helpers import QuietHTTPServer, cli, file_info, make_skill, tar_gz, tree_of
from registry_server import RegistryServer

SUITE = Path(__file__).resolve().parent.parent / "benchmarks" / "suite.py"
sys.path.insert(0, str(SUITE.parent))

import suite  # noqa: E402


def baseline_pull(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SUITE), "_baseline", "pull", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pushed(registry: RegistryServer, repo_name: str, tmp_path: Path) -> tuple[Path, str, int]:
    folder = make_skill(
        tmp_path / "src",
        "big-ish",
        files={"assets/data.bin": "x" * 3_000_000, "references/guide.md": "Read me.\n"},
        version="1.0.0",
    )
    assert cli("push", str(folder), f"{registry.host}/{repo_name}:1.0.0") == 0
    digest, size = suite.first_layer(registry.host, repo_name, "1.0.0")
    return folder, digest, size


def test_the_keeping_baseline_extracts_the_tree_and_keeps_the_whole_blob(
    registry: RegistryServer, repo_name: str, tmp_path: Path, pushed: tuple[Path, str, int]
) -> None:
    folder, digest, size = pushed
    plain, kept, blob = tmp_path / "plain", tmp_path / "kept", tmp_path / "kept.blob"
    done = baseline_pull(registry.url, repo_name, digest, str(plain))
    assert done.returncode == 0, done.stderr
    done = baseline_pull(registry.url, repo_name, digest, str(kept), str(blob))
    assert done.returncode == 0, done.stderr
    assert tree_of(kept) == tree_of(plain)
    assert {rel: data for rel, (data, _) in tree_of(kept / folder.name).items()} == {
        rel: data for rel, (data, _) in tree_of(folder).items()
    }
    data = blob.read_bytes()
    assert len(data) == size
    assert f"sha256:{hashlib.sha256(data).hexdigest()}" == digest


@contextlib.contextmanager
def serving(body: bytes) -> Iterator[str]:
    """A hostile registry on 127.0.0.1 that answers every blob GET with ``body``; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server naming
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("keep", [False, True], ids=["plain", "keeping"])
def test_a_baseline_fails_on_bytes_that_do_not_match_the_digest(tmp_path: Path, keep: bool) -> None:
    body = tar_gz([(file_info("SKILL.md"), b"---\nname: x\n---\n")])
    honest = f"sha256:{hashlib.sha256(body).hexdigest()}"
    other = f"sha256:{hashlib.sha256(body + b'!').hexdigest()}"
    with serving(body) as url:
        for digest, code in ((honest, 0), (other, 1)):  # the honest digest is the control
            out = tmp_path / digest[7:15]
            keep_args = [str(out.with_suffix(".blob"))] if keep else []
            done = baseline_pull(url, "bench/x", digest, str(out), *keep_args)
            assert done.returncode == code, done.stderr
            assert (out / "SKILL.md").is_file()
    assert "digest mismatch" in done.stderr  # the last run: the wrong digest


def test_row_5s_floor_loads_the_install_code_and_copies_the_whole_tree(tmp_path: Path) -> None:
    tree = tmp_path / "skills"
    make_skill(tree, "one", files={"scripts/run.sh": "echo hi\n", "references/a.md": "A\n"})
    (tree / "one" / "scripts" / "run.sh").chmod(0o755)
    make_skill(tree, "two")
    (tree / "link").symlink_to("one")
    dest = tmp_path / "copy"
    command = suite.load_and_copy(tree, dest)
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert tree_of(dest) == tree_of(tree)
    assert (dest / "link").is_symlink()
    loaded = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert {"skillcrate.cli", "skillcrate.cli.project", "skillcrate.ops"} <= loaded


def test_the_suite_times_row_5_and_its_floor_in_the_same_rounds() -> None:
    done = subprocess.run(
        [sys.executable, str(SUITE), "--quick", "--rows", "5", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["rows"]
    assert row["id"] == "5" and row["error"] is None, row
    rounds = suite.QUICK.runs
    assert len(row["skillcrate"]["runs"]) == len(row["base"]["runs"]) == rounds
    assert len(row["floor"]["runs"]) == rounds
    assert row["floor"]["what"].startswith("python loading the install code")
