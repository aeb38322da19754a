"""skillcrate's performance goals, each measured against a baseline in the same run.

One script, one run: every row times skillcrate (as a process, ``sys.executable -m
skillcrate``, so running this script with another venv's python measures that install) and
its baseline interleaved round by round, so that machine load affects both alike, and
compares the medians. Timing is never asserted: the table says which goals are met.

====  ============================================  ============================================
row   skillcrate                                    baseline (goal: ratio at most)
====  ============================================  ============================================
1     no-op ``install``, 20 skills                  ``python -c pass``, same interpreter (2)
2     no-op ``install --hook claude``, 20 skills    ``python -c pass`` (2)
3     no-op ``install``, 500 skills                 ``python -c pass`` (3)
4     cold ``install`` of 20 pinned skills: a       20 sequential ``skopeo copy
      fresh folder with skills.json + lock, an      --src-tls-verify=false docker://… oci:DIR:TAG``
      empty cache, skills on the registry           of the same 20 tags (0.5)
5     warm-cache ``install`` into a fresh clone     ``cp -r`` of the installed ``.agents/skills``
      (skills.json + lock copied), 20 skills        tree (2)
6     ``push`` of a skill with a 200 MiB random     the same folder as ``tar -c | gzip -6`` into a
      asset to a new repository                     temp file, sha256 of that file, then one blob
                                                    upload (POST /v2/<name>/blobs/uploads/, one
                                                    PUT ?digest= streaming the file) (1.2)
7     ``pull`` of that skill, empty cache           GET of its layer blob streamed through sha256
                                                    into ``tarfile`` mode ``r|gz`` (1.3)
7b    ``add`` of that skill into a new project,     the same (1.3)
      empty cache
8     ``add`` into a project with 300 skills        the first ``add`` into an empty project (1.5)
9a/b  peak RSS of that ``push`` / ``pull``          absolute goal: at most 64 MiB
====  ============================================  ============================================

Notes on the baselines:

* Row 6's baseline uploads one blob only (no config blob, no manifest); skillcrate's push
  also validates the folder, writes a config blob and a manifest and tags it. Each round
  writes new random bytes into the asset first, so neither side uploads a blob the registry
  already holds. skillcrate compresses at gzip level 9, the baseline at ``gzip -6``.
* Row 7's baseline reads the layer digest from the manifest before the clock starts;
  skillcrate resolves the tag, reads manifest and config, fills its cache and copies the
  tree into the output folder.
* The baselines of rows 6 and 7 run as child processes of this script (``suite.py
  _baseline …``, same interpreter), like skillcrate, so both pay interpreter start-up.
* Peak RSS is ru_maxrss (the largest of the process and the children it waited for) as GNU
  ``/usr/bin/time -f %M`` reports it (else a small Python fork+wait4 launcher). Not taken
  with wait4 straight from this script: Linux keeps the forking process's high-water mark
  across exec. The rows report the largest over the runs, in MiB (64 MiB = 67.1 MB).
* Every timed command starts after ``sync(2)`` (outside the clock), so neither side pays
  for the write-back of files the previous run or the set-up left dirty.
* Row 7b is the issue's "pull / add" row for ``add``: it also writes skills.json, the
  lock and the install state, and keeps the layer in the cache (the pull does not); it
  runs in the same rounds as row 7, against the same baseline runs. Its floor, timed in
  the same rounds, is row 7's baseline that also writes the blob to a file on a second
  thread (hashed there, at most 4 MiB ahead of the unpacking): the least that does all of
  an ``add``'s big work. The table's ratio stays against row 7's baseline; the floor line
  shows how much of the gap is the cost of keeping the blob at all. Rows 7 and 7b take
  more rounds than row 6 (``pull_runs``): their times swing with the machine's memory
  state (see README, Performance).
* Row 5's floor, timed in the same rounds, is a process that loads the code every
  ``install`` with work to do loads first (the CLI and the install library) and then copies
  the installed tree with ``shutil.copytree``: no lock, cache check or install state, so a
  lower bound for a warm install written as this library. The floor line shows how much of
  the ratio is that start-up and the copy.
* Row 8 adds a skill nobody has added before in every round (cold in the cache, from an
  ``oci:`` layout) and removes it again from the 300-skill project before the next round.

The script starts its own CNCF Distribution registry (``docker-registry serve CONFIG`` on
a free 127.0.0.1 port, plain HTTP, temporary storage: the way tests/registry_server.py does
it, without that module's test-only dependencies) and runs everything under a temporary
HOME, XDG_* folders, DOCKER_CONFIG and SKILLCRATE_CACHE_DIR/SKILLCRATE_CONFIG_DIR, all
removed at the end. Needs ``docker-registry``, ``skopeo``, ``tar``, ``gzip`` and ``cp`` on
PATH (or ``--registry-bin``/``--skopeo-bin``); a row whose tool is missing is reported as
not measured (and not met). Usage::

    python benchmarks/suite.py [--quick] [--json]

``--quick`` shrinks the sizes (16 MiB asset, 100-skill projects) and the number of runs so
the whole suite takes well under a minute. ``--rows 4,5`` measures only those rows (and
what they share a loop with: 1-3, 6 and 9a, 7, 7b and 9b).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noop_install import INSTALL_IMPORTS, _cli, _skill_files, build_project

LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024
RSS_GOAL_MIB = 64.0
AGENT_VARS = ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Sizes:
    noop_small: int  # skills in the no-op rows 1 and 2
    noop_large: int  # skills in the no-op row 3
    pinned: int  # skills in the cold / warm install rows
    add_base: int  # skills already in the project of row 8
    asset_mib: int  # random asset of rows 6, 7 and 9
    noop_runs: int
    runs: int  # rows 4, 5 and 8
    big_runs: int  # rows 6 and 9a (a push takes seconds)
    pull_runs: int  # rows 7, 7b and 9b
    warmup: int  # untimed rounds before the timed ones (not for the big rows)


FULL = Sizes(20, 500, 20, 300, 200, noop_runs=25, runs=9, big_runs=3, pull_runs=7, warmup=1)
QUICK = Sizes(20, 100, 20, 100, 16, noop_runs=5, runs=3, big_runs=2, pull_runs=2, warmup=1)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mib: float | None  # peak resident set, when asked for
    output: str


# Forks the command from a small process and reports the child's ru_maxrss in KiB. A child
# forked straight from this benchmark would not do: Linux carries the memory high-water
# mark of the process that forked over exec, and this one has imported skillcrate.
_RSS_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "kib = usage.ru_maxrss // (1024 if sys.platform == 'darwin' else 1)\n"
    "open(sys.argv[1], 'w').write(f'{kib}\\n')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def rss_wrapper(report: Path) -> list[str]:
    """A command prefix that writes the peak RSS (KiB) of what follows to ``report``:
    GNU time's ``%M`` where there is one, else a small Python launcher."""
    gnu_time = Path("/usr/bin/time")
    if sys.platform == "linux" and gnu_time.is_file():
        return [str(gnu_time), "-f", "%M", "-o", str(report)]
    return [sys.executable, "-S", "-c", _RSS_LAUNCHER, str(report)]


def run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str], rss: bool = False
) -> Run:
    """Run ``command`` to completion: its wall time, output and (``rss``) peak RSS.

    The peak is ru_maxrss: the largest of the process and the children it waited for.
    The clock starts after ``sync(2)``: no run pays for writing back what set-up or the
    run before it left dirty (200 MiB of it in rows 6 and 7)."""
    with tempfile.TemporaryDirectory(prefix="rss-") as tmp:
        report = Path(tmp) / "maxrss"
        full = rss_wrapper(report) + command if rss else command
        if hasattr(os, "sync"):
            os.sync()
        start = time.perf_counter()
        done = subprocess.run(full, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
        elapsed = time.perf_counter() - start
        text = (done.stdout + done.stderr).decode("utf-8", "replace")
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{text.strip()}")
        peak = int(report.read_text().split()[-1]) / 1024 if rss else None
    return Run(elapsed, peak, text)


def skillcrate(*args: str) -> list[str]:
    return [sys.executable, "-m", "skillcrate", *args]


def load_and_copy(tree: Path, dest: Path) -> list[str]:
    """Row 5's floor: a process of the same interpreter that loads the code every ``install``
    with work to do loads first (:data:`noop_install.INSTALL_IMPORTS`) and copies ``tree``
    to ``dest`` with ``shutil.copytree``, and nothing else: no lock, no cache check, no
    state. What a warm install costs at least, as long as it is this Python library."""
    code = (
        f"import shutil, {INSTALL_IMPORTS}\n"
        f"shutil.copytree({str(tree)!r}, {str(dest)!r}, symlinks=True)"
    )
    return [sys.executable, "-c", code]


def rounds(
    total: int, warmup: int, steps: Mapping[str, Callable[[int], Run]]
) -> dict[str, list[Run]]:
    """Call every step once per round, the order rotated each round; keep the timed rounds.

    A step gets the round number (so it can use fresh folders) and returns its Run; set-up
    and clean-up inside a step are outside the Run's clock."""
    results: dict[str, list[Run]] = {label: [] for label in steps}
    labels = list(steps)
    for round_no in range(warmup + total):
        shift = round_no % len(labels)
        for label in labels[shift:] + labels[:shift]:
            result = steps[label](round_no)
            if round_no >= warmup:
                results[label].append(result)
    return results


# --------------------------------------------------------------------------- registry


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the registry gets SIGKILL when this benchmark dies, however it dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


class Registry:
    """``docker-registry serve CONFIG`` on a free 127.0.0.1 port, storage under ``root``."""

    def __init__(self, root: Path, binary: str) -> None:
        self.root, self.binary = root, binary
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> Registry:
        self.root.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            self.port = _free_port()
            config = {
                "version": "0.1",
                "log": {"level": "error", "formatter": "text", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(self.root / "storage")},
                    "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}},
                },
                "http": {"addr": self.host, "secret": os.urandom(16).hex()},
            }
            config_path = self.root / "config.yml"
            config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
            env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
            with open(self.root / "registry.log", "ab") as log:
                self._proc = subprocess.Popen(
                    [self.binary, "serve", str(config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.root,
                    env=env,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            deadline = time.monotonic() + 10
            while self._proc.poll() is None and time.monotonic() < deadline:
                if self._answers():
                    return self
                time.sleep(0.02)
            self.stop()
            if "address already in use" not in self.logs():
                break
        raise RuntimeError(f"docker-registry did not start:\n{self.logs()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=1.0)
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def logs(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.root / "registry.log").read_text(errors="replace")
        return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def first_layer(host: str, repo: str, tag: str) -> tuple[str, int]:
    """The digest and size of the first layer of ``repo:tag`` on the registry at ``host``."""
    conn = http.client.HTTPConnection(host, timeout=30)
    try:
        path = f"/v2/{repo}/manifests/{tag}"
        status, _, body = exchange(conn, "GET", path, headers={"Accept": OCI_MANIFEST})
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"manifest {repo}:{tag}: {status}")
    layer = json.loads(body)["layers"][0]
    return str(layer["digest"]), int(layer["size"])


# --------------------------------------------------------------------------- environment


@contextlib.contextmanager
def isolated_environment(root: Path) -> Iterator[dict[str, str]]:
    """Point HOME, XDG_*, credentials and skillcrate's folders into ``root`` (in this process
    too, for the in-process set-up); restore os.environ afterwards."""
    saved = dict(os.environ)
    home = root / "home"
    runtime = root / "run"
    for folder in (home / ".config", home / ".cache", home / ".local/share", home / ".local/state"):
        folder.mkdir(parents=True)
    runtime.mkdir(mode=0o700)
    (root / "docker").mkdir()
    drop = ("SKILLCRATE_", "XDG_", "REGISTRY_")
    env = {k: v for k, v in saved.items() if not k.startswith(drop) and k not in AGENT_VARS}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_RUNTIME_DIR=str(runtime),
        DOCKER_CONFIG=str(root / "docker"),
        REGISTRY_AUTH_FILE=str(root / "no-auth.json"),  # never created
        SKILLCRATE_CACHE_DIR=str(root / "cache"),
        SKILLCRATE_CONFIG_DIR=str(root / "config"),
        TMPDIR=str(root / "tmp"),
    )
    (root / "tmp").mkdir()
    os.environ.clear()
    os.environ.update(env)
    try:
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)


def with_cache(env: dict[str, str], cache: Path) -> dict[str, str]:
    return {**env, "SKILLCRATE_CACHE_DIR": str(cache)}


def write_skill(folder: Path, name: str, index: int) -> Path:
    for rel, text in _skill_files(name, index).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (folder / "scripts" / "run.sh").chmod(0o755)
    return folder


def fill_random(path: Path, size: int) -> None:
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = min(left, 8 * MIB)
            out.write(os.urandom(chunk))
            left -= chunk


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    id: str
    measure: str
    baseline: str
    goal: float
    kind: str = "ratio"  # "ratio": goal on skillcrate / baseline; "rss": absolute MiB
    skillcrate: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)
    error: str | None = None
    floor_what: str = ""  # a lower bound of this row's work, timed in the same rounds
    floor: list[float] = field(default_factory=list)

    def value(self, values: list[float]) -> float:
        # times: the median; peak RSS: the largest over the runs
        return max(values) if self.kind == "rss" else statistics.median(values)

    @property
    def measured(self) -> bool:
        return self.error is None and bool(self.skillcrate) and bool(self.base)

    @property
    def ratio(self) -> float | None:
        if not self.measured:
            return None
        base = self.value(self.base)
        return self.value(self.skillcrate) / base if base else None

    @property
    def met(self) -> bool:
        if not self.measured:
            return False
        if self.kind == "rss":
            return self.value(self.skillcrate) <= self.goal
        ratio = self.ratio
        return ratio is not None and ratio <= self.goal

    def goal_text(self) -> str:
        return f"<= {self.goal:g} MiB" if self.kind == "rss" else f"<= {self.goal:g}x"

    def fmt(self, values: list[float]) -> str:
        if not values or self.error is not None:
            return "-"
        value = self.value(values)
        if self.kind == "rss":
            return f"{value:.1f} MiB"
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"

    def to_json(self) -> dict[str, Any]:
        def stats(values: list[float]) -> dict[str, Any] | None:
            if not values:
                return None
            unit = "MiB" if self.kind == "rss" else "s"
            return {
                "unit": unit,
                "value": round(self.value(values), 4),
                "statistic": "max" if self.kind == "rss" else "median",
                "median": round(statistics.median(values), 4),
                "min": round(min(values), 4),
                "max": round(max(values), 4),
                "runs": [round(v, 4) for v in values],
            }

        ratio = self.ratio
        floor = None
        if self.floor and self.measured:
            at = statistics.median(self.floor)
            floor = {
                "what": self.floor_what,
                **(stats(self.floor) or {}),
                "ratio": round(at / self.value(self.base), 3),
                "skillcrate_to_floor": round(self.value(self.skillcrate) / at, 3),
            }
        return {
            "id": self.id,
            "measure": self.measure,
            "baseline": self.baseline,
            "skillcrate": stats(self.skillcrate),
            "base": stats(self.base),
            "ratio": None if ratio is None else round(ratio, 3),
            "goal": {"kind": "max_mib" if self.kind == "rss" else "max_ratio", "value": self.goal},
            "met": self.met,
            "error": self.error,
            "floor": floor,
        }


def guarded(row: Row, body: Callable[[], None], log: Callable[[str], None]) -> None:
    """Run one row's measurement; a failure marks that row (and is shown), others go on."""
    log(f"measuring {row.id}: {row.measure}")
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - reported in the table, the suite goes on
        row.error = f"{type(exc).__name__}: {exc}".strip()
        log(f"  not measured: {row.error}")


# --------------------------------------------------------------------------- the rows


class Suite:
    def __init__(self, root: Path, env: dict[str, str], sizes: Sizes, args: Any) -> None:
        self.root, self.env, self.sizes, self.args = root, env, sizes, args
        self.quiet = args.json
        self.registry: Registry | None = None
        s = sizes
        self.rows = {
            "1": Row("1", f"no-op install, {s.noop_small} skills", "python -c pass", 2),
            "2": Row(
                "2", f"no-op install --hook claude, {s.noop_small} skills", "python -c pass", 2
            ),
            "3": Row("3", f"no-op install, {s.noop_large} skills", "python -c pass", 3),
            "4": Row(
                "4",
                f"cold install, {s.pinned} pinned skills",
                f"{s.pinned} x skopeo copy docker:// -> oci:",
                0.5,
            ),
            "5": Row(
                "5",
                f"warm-cache install, fresh clone, {s.pinned} skills",
                "cp -r .agents/skills",
                2,
                floor_what="python loading the install code, then shutil.copytree of the tree",
            ),
            "6": Row(
                "6",
                f"push, {s.asset_mib} MiB asset",
                "tar|gzip -6, sha256, 1 blob upload",
                1.2,
            ),
            "7": Row(
                "7",
                f"pull, {s.asset_mib} MiB asset, empty cache",
                "GET blob -> sha256 -> tar r|gz",
                1.3,
            ),
            "7b": Row(
                "7b",
                f"add, {s.asset_mib} MiB asset, empty cache",
                "row 7 baseline",
                1.3,
                floor_what="row 7 baseline also keeping the blob, on a second thread, as add does",
            ),
            "8": Row(
                "8", f"add into a {s.add_base}-skill project", "first add, empty project", 1.5
            ),
            "9a": Row(
                "9a", f"peak RSS, push {s.asset_mib} MiB", "row 6 baseline", RSS_GOAL_MIB, "rss"
            ),
            "9b": Row(
                "9b", f"peak RSS, pull {s.asset_mib} MiB", "row 7 baseline", RSS_GOAL_MIB, "rss"
            ),
        }

    def log(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def scratch(self, name: str) -> Path:
        path = self.root / "scratch" / name
        path.mkdir(parents=True)
        return path

    def measure_all(self) -> None:
        rows = self.rows
        groups = [("1", "2", "3"), ("4",), ("5",), ("8",), ("6", "9a"), ("7", "7b", "9b")]
        wanted = set(self.args.rows.split(",")) if self.args.rows else set(rows)
        unknown = wanted - set(rows)
        if unknown:
            known = ", ".join(rows)
            raise SystemExit(f"suite.py: no row {', '.join(sorted(unknown))} (rows: {known})")
        for group in groups:  # a row measured in a loop brings the others of that loop
            if wanted & set(group):
                wanted |= set(group)
        self.rows = rows = {key: row for key, row in rows.items() if key in wanted}
        if "1" in rows:
            guarded(rows["1"], self.noop, self.log)  # rows 1-3 share one interleaved loop
            for other in ("2", "3"):
                if rows["1"].error and not rows[other].skillcrate:
                    rows[other].error = rows["1"].error
        if not wanted - {"1", "2", "3"}:
            return
        try:
            self.registry = Registry(self.root / "registry", self.args.registry_bin).start()
        except (OSError, RuntimeError) as exc:
            self.registry = None
            reason = f"no registry: {exc}"
            self.log(reason)
            for key in ("4", "5", "6", "7", "7b", "9a", "9b"):
                if key in rows:
                    rows[key].error = reason
        try:
            if self.registry is not None and {"4", "5"} & wanted:
                self.pinned_setup()
                if "4" in rows:
                    guarded(rows["4"], self.cold_install, self.log)
                if "5" in rows:
                    guarded(rows["5"], self.warm_install, self.log)
            if "8" in rows:
                guarded(rows["8"], self.add_more, self.log)
            if self.registry is not None:
                if "6" in rows:
                    guarded(rows["6"], self.push_big, self.log)
                    if rows["6"].error:
                        rows["9a"].error = rows["6"].error
                if "7" in rows:
                    guarded(rows["7"], self.pull_big, self.log)
                    for key in ("7b", "9b"):
                        if rows["7"].error:
                            rows[key].error = rows["7"].error
        finally:
            if self.registry is not None:
                self.registry.stop()

    # rows 1-3 ---------------------------------------------------------------------

    def noop(self) -> None:
        s = self.sizes
        self.log(f"  set-up: projects with {s.noop_small} and {s.noop_large} skills")
        small = build_project(self.root / "noop-small", s.noop_small)
        large = build_project(self.root / "noop-large", s.noop_large)
        env = self.env
        py = sys.executable
        steps: dict[str, Callable[[int], Run]] = {
            "pass": lambda _r: run([py, "-c", "pass"], env=env),
            "1": lambda _r: run(skillcrate("install"), cwd=small, env=env),
            "2": lambda _r: run(skillcrate("install", "--hook", "claude"), cwd=small, env=env),
            "3": lambda _r: run(skillcrate("install"), cwd=large, env=env),
        }
        # what is timed must be the no-op path: an install that did work would skew it
        for key in ("1", "2", "3"):
            out = steps[key](0).output.strip()
            if "up to date" not in out and out != "{}":
                raise RuntimeError(f"row {key}: install was not a no-op: {out}")
        times = rounds(s.noop_runs, 2, steps)
        base = [r.seconds for r in times["pass"]]
        for key in ("1", "2", "3"):
            self.rows[key].skillcrate = [r.seconds for r in times[key]]
            self.rows[key].base = base

    # rows 4 and 5 -----------------------------------------------------------------

    def pinned_setup(self) -> None:
        """Push ``pinned`` skills to the registry; a project that locks them all (its
        install warms the shared cache for row 5)."""
        assert self.registry is not None
        host = self.registry.host
        sources = self.root / "pinned-sources"
        self.pinned_refs: list[str] = []
        skills = []
        for i in range(self.sizes.pinned):
            name = f"pinned-skill-{i:02d}"
            write_skill(sources / name, name, i)
            repo = f"{host}/bench/{name}"
            _cli("-q", "push", str(sources / name), f"{repo}:1.0.0")
            self.pinned_refs.append(f"bench/{name}:1.0.0")
            skills.append({"name": name, "source": repo, "version": "^1.0.0"})
        self.pinned = self.root / "pinned-project"
        self.pinned.mkdir()
        (self.pinned / "skills.json").write_text(json.dumps({"skills": skills}, indent=2) + "\n")
        _cli("-q", "-C", str(self.pinned), "install")

    def clone(self, name: str) -> Path:
        folder = self.scratch(name)
        for file in ("skills.json", "skills.lock.json"):
            shutil.copy2(self.pinned / file, folder / file)
        return folder

    def cold_install(self) -> None:
        assert self.registry is not None
        host = self.registry.host
        skopeo = shutil.which(self.args.skopeo_bin)
        if skopeo is None:
            raise RuntimeError(f"{self.args.skopeo_bin} not found on PATH")
        policy = [] if Path("/etc/containers/policy.json").is_file() else ["--insecure-policy"]
        expected = self.sizes.pinned

        def skillcrate_cold(r: int) -> Run:
            project = self.clone(f"cold-{r}")
            cache = self.scratch(f"cold-cache-{r}")
            result = run(skillcrate("install"), cwd=project, env=with_cache(self.env, cache))
            got = len(list((project / ".agents" / "skills").iterdir()))
            if got != expected:
                raise RuntimeError(f"cold install made {got} skills, not {expected}")
            shutil.rmtree(project)
            shutil.rmtree(cache)
            return result

        def skopeo_copies(r: int) -> Run:
            dest = self.scratch(f"skopeo-{r}")
            total = 0.0
            for ref in self.pinned_refs:
                repo, tag = ref.rsplit(":", 1)
                one = run(
                    [
                        skopeo,
                        *policy,
                        "copy",
                        "--src-tls-verify=false",
                        f"docker://{host}/{ref}",
                        f"oci:{dest / repo.rsplit('/', 1)[1]}:{tag}",
                    ],
                    env=self.env,
                )
                total += one.seconds
            shutil.rmtree(dest)
            return Run(total, None, "")

        times = rounds(
            self.sizes.runs, self.sizes.warmup, {"sc": skillcrate_cold, "base": skopeo_copies}
        )
        self.rows["4"].skillcrate = [r.seconds for r in times["sc"]]
        self.rows["4"].base = [r.seconds for r in times["base"]]

    def warm_install(self) -> None:
        tree = self.pinned / ".agents" / "skills"
        size = tree_size(tree)

        def skillcrate_warm(r: int) -> Run:
            project = self.clone(f"warm-{r}")
            result = run(skillcrate("install"), cwd=project, env=self.env)
            if tree_size(project / ".agents" / "skills") != size:
                raise RuntimeError("warm install did not install the same tree")
            shutil.rmtree(project)
            return result

        def cp_tree(r: int) -> Run:
            dest = self.scratch(f"cp-{r}")
            result = run(["cp", "-r", str(tree), str(dest / "skills")], env=self.env)
            shutil.rmtree(dest)
            return result

        def floor(r: int) -> Run:
            dest = self.scratch(f"floor-{r}")
            result = run(load_and_copy(tree, dest / "skills"), cwd=dest, env=self.env)
            if tree_size(dest / "skills") != size:
                raise RuntimeError("row 5's floor did not copy the same tree")
            shutil.rmtree(dest)
            return result

        steps = {"sc": skillcrate_warm, "base": cp_tree, "floor": floor}
        times = rounds(self.sizes.runs, self.sizes.warmup, steps)
        self.rows["5"].skillcrate = [r.seconds for r in times["sc"]]
        self.rows["5"].base = [r.seconds for r in times["base"]]
        self.rows["5"].floor = [r.seconds for r in times["floor"]]

    # row 8 ------------------------------------------------------------------------

    def add_more(self) -> None:
        s = self.sizes
        self.log(f"  set-up: project with {s.add_base} skills")
        big = build_project(self.root / "add-base", s.add_base)
        layouts = self.root / "add-layouts"
        sources = self.root / "add-sources"
        total = s.warmup + s.runs
        for r in range(total):
            for side in ("full", "empty"):
                name = f"extra-{side}-{r:02d}"
                write_skill(sources / name, name, 1000 + r)
                _cli("-q", "push", str(sources / name), f"oci:{layouts / name}:1.0.0")

        def add_to_full(r: int) -> Run:
            name = f"extra-full-{r:02d}"
            result = run(skillcrate("add", f"oci:{layouts / name}"), cwd=big, env=self.env)
            if not (big / ".agents" / "skills" / name / "SKILL.md").is_file():
                raise RuntimeError(f"add did not install {name}")
            _cli("-q", "-C", str(big), "remove", name)  # back to add_base skills
            return result

        def add_to_empty(r: int) -> Run:
            name = f"extra-empty-{r:02d}"
            project = self.scratch(f"empty-{r}")
            _cli("-q", "-C", str(project), "init")
            result = run(skillcrate("add", f"oci:{layouts / name}"), cwd=project, env=self.env)
            if not (project / ".agents" / "skills" / name / "SKILL.md").is_file():
                raise RuntimeError(f"add did not install {name}")
            return result

        times = rounds(s.runs, s.warmup, {"full": add_to_full, "empty": add_to_empty})
        self.rows["8"].skillcrate = [r.seconds for r in times["full"]]
        self.rows["8"].base = [r.seconds for r in times["empty"]]

    # rows 6, 7 and 9 --------------------------------------------------------------

    def big_skill(self) -> Path:
        folder = self.root / "big-skill"
        if not folder.exists():
            name = "big-skill"
            (folder / "assets").mkdir(parents=True)
            (folder / "SKILL.md").write_text(
                f"---\nname: {name}\ndescription: A skill with one large asset. Use when "
                'measuring skillcrate.\nmetadata:\n  version: "1.0.0"\n---\n# Big\n'
            )
        return folder

    def push_big(self) -> None:
        assert self.registry is not None
        registry = self.registry
        folder = self.big_skill()
        asset = folder / "assets" / "random.bin"
        size = self.sizes.asset_mib * MIB
        work = self.scratch("push-work")
        self.last_push: str | None = None

        def push_skillcrate(r: int) -> Run:
            fill_random(asset, size)  # new bytes: the registry has no such blob yet
            ref = f"bench/big-sc-{r}:1.0.0"
            command = skillcrate("push", str(folder), f"{registry.host}/{ref}")
            result = run(command, env=self.env, rss=True)
            self.last_push = ref
            return result

        def push_baseline(r: int) -> Run:
            fill_random(asset, size)
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                "_baseline",
                "push",
                str(folder),
                registry.url,
                f"bench/big-base-{r}",
                str(work / f"layer-{r}.tar.gz"),
            ]
            result = run(command, env=self.env, rss=True)
            (work / f"layer-{r}.tar.gz").unlink()
            return result

        times = rounds(self.sizes.big_runs, 0, {"sc": push_skillcrate, "base": push_baseline})
        self.rows["6"].skillcrate = [r.seconds for r in times["sc"]]
        self.rows["6"].base = [r.seconds for r in times["base"]]
        self.rows["9a"].skillcrate = [r.rss_mib or 0.0 for r in times["sc"]]
        self.rows["9a"].base = [r.rss_mib or 0.0 for r in times["base"]]

    def pull_big(self) -> None:
        assert self.registry is not None
        registry = self.registry
        if getattr(self, "last_push", None) is None:
            self.log("  set-up: push the big skill")
            fill_random(self.big_skill() / "assets" / "random.bin", self.sizes.asset_mib * MIB)
            self.last_push = "bench/big-sc-setup:1.0.0"
            _cli("-q", "push", str(self.big_skill()), f"{registry.host}/{self.last_push}")
        ref = self.last_push
        assert ref is not None
        repo, tag = ref.rsplit(":", 1)
        digest, blob_size = first_layer(registry.host, repo, tag)
        expected = tree_size(self.big_skill())

        def pull_skillcrate(r: int) -> Run:
            cache = self.scratch(f"pull-cache-{r}")
            out = self.scratch(f"pull-sc-{r}") / "skill"
            result = run(
                skillcrate("pull", f"{registry.host}/{ref}", "-o", str(out)),
                env=with_cache(self.env, cache),
                rss=True,
            )
            if tree_size(out) != expected:
                raise RuntimeError("pull wrote a different tree")
            shutil.rmtree(out.parent)
            shutil.rmtree(cache)
            return result

        def add_skillcrate(r: int) -> Run:
            cache = self.scratch(f"add-cache-{r}")
            project = self.scratch(f"add-sc-{r}")
            result = run(
                skillcrate("add", f"{registry.host}/{ref}"),
                cwd=project,
                env=with_cache(self.env, cache),
            )
            folders = list((project / ".agents" / "skills").iterdir())
            if len(folders) != 1 or tree_size(folders[0]) != expected:
                raise RuntimeError(f"add installed {folders}, not the skill")
            shutil.rmtree(project)
            shutil.rmtree(cache)
            return result

        def pull_command(out: Path, *keep: Path) -> list[str]:
            script = str(Path(__file__).resolve())
            where = [registry.url, repo, digest, str(out), *map(str, keep)]
            return [sys.executable, script, "_baseline", "pull", *where]

        def pull_baseline(r: int) -> Run:
            out = self.scratch(f"pull-base-{r}")
            result = run(pull_command(out), env=self.env, rss=True)
            if tree_size(out) != expected:
                raise RuntimeError("baseline pull wrote a different tree")
            shutil.rmtree(out)
            return result

        def keep_baseline(r: int) -> Run:  # row 7b's floor
            out = self.scratch(f"keep-base-{r}")
            blob = out.with_name(f"keep-base-{r}.blob")
            result = run(pull_command(out, blob), env=self.env)
            if tree_size(out) != expected or blob.stat().st_size != blob_size:
                raise RuntimeError("the keeping baseline wrote a different tree or blob")
            shutil.rmtree(out)
            blob.unlink()
            return result

        steps: dict[str, Callable[[int], Run]] = {
            "sc": pull_skillcrate,
            "add": add_skillcrate,
            "base": pull_baseline,
            "keep": keep_baseline,
        }
        times = rounds(self.sizes.pull_runs, 0, steps)
        self.rows["7"].skillcrate = [r.seconds for r in times["sc"]]
        self.rows["7"].base = [r.seconds for r in times["base"]]
        self.rows["7b"].skillcrate = [r.seconds for r in times["add"]]
        self.rows["7b"].base = self.rows["7"].base
        self.rows["7b"].floor = [r.seconds for r in times["keep"]]
        self.rows["9b"].skillcrate = [r.rss_mib or 0.0 for r in times["sc"]]
        self.rows["9b"].base = [r.rss_mib or 0.0 for r in times["base"]]


# --------------------------------------------------------------------------- baselines
# Run as ``suite.py _baseline push|pull ...`` in a child process (the standard library only:
# http.client, the least an HTTP client in Python imports).


def baseline_push(folder: str, url: str, repo: str, layer: str) -> None:
    """``tar -c | gzip -6`` into ``layer``; sha256 of it; POST an upload, PUT it streamed."""
    from urllib.parse import urlsplit

    with open(layer, "wb") as out:
        tar = subprocess.Popen(["tar", "-cf", "-", "-C", folder, "."], stdout=subprocess.PIPE)
        gz = subprocess.Popen(["gzip", "-6"], stdin=tar.stdout, stdout=out)
        assert tar.stdout is not None
        tar.stdout.close()  # gzip holds the pipe now
        if gz.wait() != 0 or tar.wait() != 0:
            raise SystemExit("tar | gzip failed")
    digest = hashlib.sha256()
    with open(layer, "rb") as fh:
        while chunk := fh.read(MIB):
            digest.update(chunk)
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=600, blocksize=MIB)
    try:
        status, headers, said = exchange(conn, "POST", f"/v2/{repo}/blobs/uploads/", b"")
        if status != 202:
            raise SystemExit(f"POST upload: {status} {said[:200]!r}")
        location = headers["Location"]
        if location.startswith(("http://", "https://")):
            parts = urlsplit(location)
            location = parts.path + (f"?{parts.query}" if parts.query else "")
        sep = "&" if "?" in location else "?"
        with open(layer, "rb") as body:
            sent = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(os.fstat(body.fileno()).st_size),
            }
            target = f"{location}{sep}digest=sha256:{digest.hexdigest()}"
            status, _, said = exchange(conn, "PUT", target, body, sent)  # 1 MiB blocks
        if status != 201:
            raise SystemExit(f"PUT upload: {status} {said[:200]!r}")
    finally:
        conn.close()


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, bytes]:
    """One request on ``conn``: the answer's status, headers and whole body."""
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.headers, resp.read()


class _HashingReader:
    def __init__(self, raw: Any) -> None:
        self.raw, self.digest = raw, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size is not None and size >= 0 else None)
        self.digest.update(data)
        return bytes(data)


class _KeepingReader:
    """The body of ``raw`` as a file object for ``tarfile``, taken on a second thread:
    read 1 MiB at a time, hashed, written to the new file ``keep`` and handed over at most
    4 chunks ahead: what ``add`` does to keep the layer in its cache, and nothing more."""

    def __init__(self, raw: Any, keep: str) -> None:
        import threading
        from collections import deque

        self.raw, self.digest = raw, hashlib.sha256()
        self.fd = os.open(keep, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.items: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.ended = False
        self.error: BaseException | None = None
        self.chunk, self.pos = b"", 0
        self.thread = threading.Thread(target=self._take, daemon=True)
        self.thread.start()

    def _take(self) -> None:
        try:
            while chunk := self.raw.read(MIB):
                self.digest.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view) :]
                with self.cond:
                    while len(self.items) >= 4:
                        self.cond.wait()
                    self.items.append(chunk)
                    self.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - raised again on the reading thread
            self.error = exc
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        if self.pos >= len(self.chunk):
            with self.cond:
                while not self.items and not self.ended:
                    self.cond.wait()
                if not self.items:
                    if self.error is not None:
                        raise self.error
                    return b""
                self.chunk, self.pos = self.items.popleft(), 0
                self.cond.notify_all()
        end = len(self.chunk) if size is None or size < 0 else self.pos + size
        data = self.chunk[self.pos : end]
        self.pos += len(data)
        return data

    def close(self) -> None:
        self.thread.join()
        os.close(self.fd)


def baseline_pull(url: str, repo: str, digest: str, dest: str, keep: str = "") -> None:
    """GET the blob streamed through sha256 into ``tarfile.open(mode='r|gz')``, one pass;
    with ``keep``, the blob is also written to that file on a second thread (row 7b's
    floor: :class:`_KeepingReader`)."""
    import tarfile
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=600)
    try:
        conn.request("GET", f"/v2/{repo}/blobs/{digest}")
        resp = conn.getresponse()
        if resp.status != 200:
            raise SystemExit(f"GET blob: {resp.status}")
        reader = _KeepingReader(resp, keep) if keep else _HashingReader(resp)
        with tarfile.open(fileobj=reader, mode="r|gz") as tar:  # type: ignore[call-overload]
            tar.extractall(dest, filter="data")
        while reader.read(MIB):  # the gzip trailer / tar padding left over
            pass
        if isinstance(reader, _KeepingReader):
            reader.close()
    finally:
        conn.close()
    if f"sha256:{reader.digest.hexdigest()}" != digest:
        raise SystemExit("digest mismatch")


def baseline_main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "push" and len(rest) == 4:
        baseline_push(*rest)
    elif kind == "pull" and len(rest) in (4, 5):
        baseline_pull(*rest)
    else:
        raise SystemExit(f"usage: suite.py _baseline push|pull ... (got {argv})")
    return 0


# --------------------------------------------------------------------------- output


def print_table(rows: list[Row], header: list[str]) -> None:
    for line in header:
        print(line)
    cols = ["row", "measure", "skillcrate", "baseline", "ratio", "goal", "met?"]
    table = []
    for row in rows:
        ratio = row.ratio
        met = "yes" if row.met else ("NOT MEASURED" if not row.measured else "no")
        table.append(
            [
                row.id,
                row.measure,
                row.fmt(row.skillcrate),
                row.fmt(row.base),
                "-" if ratio is None else f"{ratio:.2f}",
                row.goal_text(),
                met,
            ]
        )
    widths = [max(len(cols[i]), *(len(line[i]) for line in table)) for i in range(len(cols))]
    right = {2, 3, 4}

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    print(fmt(cols))
    print(fmt(["-" * w for w in widths]))
    for cells in table:
        print(fmt(cells))
    print()
    print("baselines (details in the docstring of benchmarks/suite.py):")
    for row in rows:
        print(f"  {row.id:>3}  {row.baseline}")
    floors = [row for row in rows if row.floor and row.measured]
    if floors:
        print("floors (lower bounds of the row's work, timed in the same rounds):")
    for row in floors:
        at = statistics.median(row.floor)
        print(
            f"  {row.id:>3}  {row.floor_what}: {row.fmt(row.floor)},"
            f" {at / row.value(row.base):.2f}x of the baseline;"
            f" skillcrate {row.value(row.skillcrate) / at:.2f}x of it"
        )
    for row in rows:
        if row.error:
            print(f"  row {row.id} not measured: {row.error}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_baseline"]:
        return baseline_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs (< 1 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--registry-bin", default="docker-registry", help="Distribution binary")
    parser.add_argument("--skopeo-bin", default="skopeo", help="skopeo binary (row 4)")
    parser.add_argument("--rows", default="", help="only these rows, e.g. 4,5 (default: all)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="skillcrate-suite-") as tmp,
        isolated_environment(Path(tmp)) as env,
    ):
        suite = Suite(Path(tmp), env, sizes, args)
        suite.measure_all()
    wall = time.perf_counter() - started

    rows = list(suite.rows.values())
    met = sum(row.met for row in rows)
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "cpus": os.cpu_count(),
        "quick": args.quick,
    }
    if args.json:
        document = {
            **info,
            "sizes": sizes.__dict__,
            "wall_seconds": round(wall, 1),
            "rows": [row.to_json() for row in rows],
            "goals_met": met,
            "goals": len(rows),
            "summary": f"{met}/{len(rows)} goals met",
        }
        print(json.dumps(document, indent=2))
        return 0
    s = sizes
    header = [
        f"skillcrate benchmark suite{' (--quick)' if args.quick else ''}: Python {info['python']}"
        f" ({sys.executable}), {info['platform']}, {info['cpus']} CPUs",
        f"medians of {s.noop_runs} runs (rows 1-3), {s.runs} runs (rows 4, 5, 8), "
        f"{s.big_runs} runs (rows 6, 9a), {s.pull_runs} runs (rows 7, 7b, 9b); "
        f"peak RSS = largest of the runs; "
        f"suite wall time {wall:.1f} s",
        "",
    ]
    print_table(rows, header)
    print(f"{met}/{len(rows)} goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
