"""The floors under the suite's rows 3, 4 and 5: what the machine and the interpreter cost
before skillcrate does any work of its own.

Builds a 500-skill and a 20-skill project (pushed into temporary OCI layouts, no server)
and times, interleaved in the same run so that machine load affects all of them alike:

* ``python -c pass``                      interpreter start-up (every ratio's baseline)
* ``python -c "import runpy"``            what ``python -m`` adds before any skillcrate code
* ``python -m skillcrate install``        the no-op on 500 skills (the suite's row 3)
* the no-op's system calls alone          a process that only ``lstat``s the recorded
                                          folders and files and reads the links, in one loop
* importing the CLI and the install code  ``skillcrate.cli``, ``cli.project``, ``ops``
                                          (what a warm or cold install loads first)
* the same plus the HTTP client           ``skillcrate.oci.httpclient`` (on ``http.client``,
                                          ``ssl``; a cold install also loads it)
* ``cp -r`` of the 20 installed skills    the suite's row 5 baseline
* ``shutil.copytree`` of them             the least a Python process does for row 5: start
                                          and copy the tree (no imports of skillcrate, no
                                          checks, no state)

and prints each median and its ratio to ``python -c pass``, and the copy's ratio to
``cp -r`` (row 5's goal is 2). It never asserts on timing.
Usage::

    python benchmarks/floors.py [--runs 25] [--warmup 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from noop_install import _run_once, bench_env, build_project  # noqa: E402

_SYSCALLS = (
    "import os\n"
    "ls, rl = os.lstat, os.readlink\n"
    "with open({paths!r}) as fh:\n"
    "    for p in fh.read().split('\\n'): ls(p)\n"
    "with open({links!r}) as fh:\n"
    "    for p in fh.read().split('\\n'): rl(p)\n"
)


def recorded_paths(project: Path) -> tuple[list[str], list[str]]:
    """(every folder and file the install state records, every link) of ``project``."""
    from skillcrate.fastpath import read_install

    found = read_install(project)
    if found is None:
        raise RuntimeError(f"{project} has no install state")
    paths: list[str] = []
    links: list[str] = []
    for art in found[1].values():
        full = str(project / art.rel)
        if art.link is not None:
            links.append(full)
            continue
        files, dirs = art.lines()
        for line in (dirs or []) + (files or []):
            rel = line[: line.index("\0")]
            paths.append(f"{full}/{rel}" if rel else full)
    return paths, links


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: VENV/bin/python benchmarks/floors.py --runs 25 --json",
    )
    parser.add_argument("--runs", type=int, default=25, help="timed rounds (default 25)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="skillcrate-floors-") as tmp:
        root = Path(tmp)
        env = bench_env(root)
        print("set-up: projects with 500 and 20 skills", file=sys.stderr)
        large = build_project(root / "large", 500)
        small = build_project(root / "small", 20)
        paths, links = recorded_paths(large)
        (root / "paths.txt").write_text("\n".join(paths))
        (root / "links.txt").write_text("\n".join(links))
        py = sys.executable
        syscalls = _SYSCALLS.format(paths=str(root / "paths.txt"), links=str(root / "links.txt"))
        tree, copy = small / ".agents" / "skills", root / "copy"
        imports = "import skillcrate.cli, skillcrate.cli.project, skillcrate.ops"
        commands = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import runpy'": [py, "-c", "import runpy"],
            "no-op install, 500 skills": [py, "-m", "skillcrate", "install"],
            f"{len(paths)} lstat + {len(links)} readlink only": [py, "-c", syscalls],
            "import the CLI and install code": [py, "-c", imports],
            "the same + the HTTP client": [py, "-c", imports + ", skillcrate.oci.httpclient"],
            "cp -r of 20 installed skills": ["cp", "-r", str(tree), str(copy)],
            "python: shutil.copytree of them": [
                py,
                "-c",
                f"import shutil; shutil.copytree({str(tree)!r}, {str(copy)!r}, symlinks=True)",
            ],
        }
        _, said = _run_once(commands["no-op install, 500 skills"], large, env)
        if "up to date" not in said:
            raise RuntimeError(f"the 500-skill install was not a no-op: {said.strip()}")
        times: dict[str, list[float]] = {label: [] for label in commands}
        labels = list(commands)
        for round_no in range(args.warmup + args.runs):
            shift = round_no % len(labels)  # no command always runs first or last
            for label in labels[shift:] + labels[:shift]:
                os.sync()  # no run pays for an earlier one's write-back
                elapsed, _ = _run_once(commands[label], large, env)
                shutil.rmtree(copy, ignore_errors=True)
                if round_no >= args.warmup:
                    times[label].append(elapsed)

    base = statistics.median(times["python -c pass"])
    rows = {
        label: {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "ratio": round(statistics.median(values) / base, 2),
        }
        for label, values in times.items()
    }
    copy_ratio = round(
        statistics.median(times["python: shutil.copytree of them"])
        / statistics.median(times["cp -r of 20 installed skills"]),
        2,
    )
    if args.json:
        print(
            json.dumps({"runs": args.runs, "results": rows, "copytreeToCp": copy_ratio}, indent=2)
        )
        return 0
    print(f"medians of {args.runs} interleaved runs, ratios to python -c pass")
    for label, row in rows.items():
        print(f"  {label:40s} {row['median_ms']:7.1f} ms  x{row['ratio']:.2f}")
    print(f"  shutil.copytree / cp -r: x{copy_ratio:.2f} (row 5's goal: x2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
