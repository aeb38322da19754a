"""Download progress on a terminal (issue 14): bytes, rate and who, on stderr only.

The meter's drawing rules are pure logic (a fake clock); the end-to-end test runs the
real CLI with stderr on a pseudo-terminal against a loopback server that sends a layer
slowly, and checks that the same command with stderr on a pipe prints no progress.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from skillcrate.cli.progress import TerminalMeter
from skillcrate.formats import pack

from helpers import make_skill, run_on_tty
from test_hostile_registry import Seen, servers  # noqa: F401  (fixture)

MiB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_for_a_short_transfer() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("a", "review", 4 * MiB)
    clock.now += 0.2
    meter.advance("a", 4 * MiB)
    meter.end("a")
    assert out.getvalue() == ""


def test_a_long_transfer_shows_bytes_and_rate_then_clears() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("a", "review", 50 * MiB)
    clock.now += 2.0
    meter.advance("a", 8 * MiB)
    assert out.getvalue().endswith("↓ review  8.0/50.0 MiB  4.0 MiB/s")
    clock.now += 0.01
    meter.advance("a", MiB)  # within the redraw interval: not drawn again
    assert out.getvalue().count("↓") == 1
    meter.end("a")
    assert out.getvalue().endswith("\r\x1b[K")  # the line is erased when all are done


def test_concurrent_transfers_are_summed_on_one_line() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("a", "review", 10 * MiB)
    meter.begin("b", "testing", 30 * MiB)
    clock.now += 1.0
    meter.advance("a", MiB)
    meter.advance("b", MiB)
    assert meter.line(clock.now) == "↓ 2 skills  2.0/40.0 MiB  2.0 MiB/s"
    meter.end("a")
    assert meter.line(clock.now).startswith("↓ testing  1.0/30.0 MiB")


def test_a_hostile_label_cannot_move_the_cursor() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("a", "evil\x1b[2J\nname", MiB)
    clock.now += 1
    meter.advance("a", 10)
    drawn = out.getvalue().removeprefix("\r\x1b[K")
    assert "\x1b" not in drawn and "\n" not in drawn


def test_a_note_gets_a_line_of_its_own() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("a", "review", MiB)
    clock.now += 1
    meter.advance("a", 10)
    meter.note("r.example: no answer\x1b[2J within 30 s")
    assert out.getvalue().endswith("\r\x1b[Kr.example: no answer\\x1b[2J within 30 s\n")


def _slow_registry(servers, tmp_path: Path):  # noqa: F811
    folder = make_skill(tmp_path / "src", "big", files={})
    (folder / "assets").mkdir()
    (folder / "assets/blob.bin").write_bytes(os.urandom(3 * MiB))
    packed = pack(folder)
    layer = packed.layers[0].digest
    blobs = {d: packed.read(d) for d in packed.blobs}

    def slowly(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 64 * 1024):
            time.sleep(0.02)
            yield data[start : start + 64 * 1024]

    def answer(s: Seen):
        if "/manifests/" in s.path:
            headers = {"Content-Type": packed.media_type, "Docker-Content-Digest": packed.digest}
            return 200, headers, packed.manifest
        digest = s.path.rsplit("/", 1)[1]
        if digest == layer:
            return 200, {"Content-Length": str(len(blobs[digest]))}, slowly(blobs[digest])
        return (200, {}, blobs[digest]) if digest in blobs else (404, {}, b"{}")

    return servers(answer)


def test_pull_on_a_terminal_shows_progress_and_on_a_pipe_does_not(
    servers,  # noqa: F811
    tmp_path: Path,
) -> None:
    server = _slow_registry(servers, tmp_path)
    env = {**os.environ, "SKILLCRATE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "skillcrate", "pull", f"{server.host}/big:1.0.0"]

    code, text = run_on_tty([*command, "-o", str(tmp_path / "tty")], env)
    assert code == 0
    assert "↓ big" in text and "MiB/s" in text and "/3.0 MiB" in text

    started = time.monotonic()
    piped = subprocess.run(
        [*command, "-o", str(tmp_path / "pipe")],
        capture_output=True,
        text=True,
        env={**env, "SKILLCRATE_CACHE_DIR": str(tmp_path / "cache2")},  # downloads again
    )
    assert time.monotonic() - started > 0.8  # as slow as the first: it did download
    assert piped.returncode == 0, piped.stderr
    assert "↓" not in piped.stderr and "MiB/s" not in piped.stderr


def test_uploads_draw_an_up_arrow_and_mixed_transfers_both() -> None:
    out, clock = io.StringIO(), Clock()
    meter = TerminalMeter(out, clock)
    meter.begin("u", "review", 10 * MiB, upload=True)
    clock.now += 1.0
    meter.advance("u", MiB)
    assert meter.line(clock.now).startswith("↑ review  1.0/10.0 MiB")
    meter.begin("d", "testing", 10 * MiB)
    assert meter.line(clock.now).startswith("⇅ 2 skills")


class Recorder:
    """A Meter that records what it is told (the library's side of the protocol)."""

    def __init__(self) -> None:
        self.begun: list[tuple[str, int, bool]] = []
        self.bytes = 0
        self.ended = 0

    def begin(self, key: str, label: str, total: int, *, upload: bool = False) -> None:
        self.begun.append((label, total, upload))

    def advance(self, key: str, n: int) -> None:
        self.bytes += n

    def end(self, key: str) -> None:
        self.ended += 1

    def note(self, text: str) -> None:
        pass


def test_a_push_and_a_pull_report_their_bytes(registry, repo_name: str, tmp_path: Path) -> None:
    """Real registry: the layer upload is metered as an upload of exactly its size, the
    download of the same blob as a download."""
    from skillcrate.cache import Cache
    from skillcrate.fetch import unpack_to
    from skillcrate.oci import Client, ClientOptions
    from skillcrate.publish.push import push_packed
    from skillcrate.reference import Reference

    folder = make_skill(tmp_path / "src", "big", files={})
    (folder / "assets").mkdir()
    (folder / "assets/blob.bin").write_bytes(os.urandom(MiB))
    packed = pack(folder)
    layer = packed.layers[0]
    up = Recorder()
    ref = Reference.parse(f"{registry.host}/{repo_name}")
    push_packed(Client(ClientOptions(meter=up)).open(ref), packed, ["1.0.0"])
    assert (repo_name.rsplit("/", 1)[-1], layer.size, True) in up.begun
    assert up.bytes >= layer.size and up.ended == len(up.begun)

    down = Recorder()
    target = Client(ClientOptions(meter=down)).open(ref)
    unpack_to(target, "1.0.0", Cache(tmp_path / "cache"), tmp_path / "out", fallback_name="big")
    assert (repo_name.rsplit("/", 1)[-1], layer.size, False) in down.begun
    assert down.ended == len(down.begun)
