"""The floors under the suite's rows 3, 4 and 5: what the machine and the interpreter cost
before skillcrate does any work of its own.

Builds a 500-skill and a 20-skill project (pushed into temporary OCI layouts, no server)
and times, interleaved in the same run so that machine load affects all of them alike:

* ``python -c pass``                      interpreter start-up (every ratio's baseline)
* ``python -c "import runpy"``            what ``python -m`` adds before any skillcrate code
* ``python -m skillcrate install``        the no-op on 500 skills (the suite's row 3)
* the no-op's system calls alone          a process that only ``lstat``s the recorded
                                          folders and files and reads the links, in one loop
* the least no-op check in Python         a script (stdlib only, no skillcrate code) that
                                          reads the same three files, compares the inputs and
                                          checks every recorded line against its ``lstat``,
                                          every link's text, relative to an open parent
                                          folder, and each such folder's times (``fstat``):
                                          row 3's work with nothing else (no type or
                                          symlink checks, no objects), so a lower bound. The
                                          suite runs the no-op as ``python -m``: add ``import
                                          runpy``'s cost to compare with row 3
* importing the CLI and the install code  ``skillcrate.cli``, ``cli.project``, ``ops``
                                          (what a warm or cold install loads first)
* the same plus the HTTP client           ``skillcrate.oci.httpclient`` (on ``http.client``,
                                          ``ssl``; a cold install also loads it)
* ``cp -r`` of the 20 installed skills    the suite's row 5 baseline
* ``shutil.copytree`` of them             the least a Python process does for row 5: start
                                          and copy the tree (no imports of skillcrate, no
                                          checks, no state)

and prints each median and its ratio to ``python -c pass``, row 3's floor (the least check
plus ``import runpy``'s cost, as a ratio to ``python -c pass``; row 3's goal is 3) and the
copy's ratio to ``cp -r`` (row 5's goal is 2). It never asserts on timing.
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
from noop_install import INSTALL_IMPORTS, _run_once, bench_env, build_project  # noqa: E402

_SYSCALLS = (
    "import os\n"
    "ls, rl = os.lstat, os.readlink\n"
    "with open({paths!r}) as fh:\n"
    "    for p in fh.read().split('\\n'): ls(p)\n"
    "with open({links!r}) as fh:\n"
    "    for p in fh.read().split('\\n'): rl(p)\n"
)

_LEAST_CHECK = (
    "import os, sys\n"
    "root, state = {root!r}, {state!r}\n"
    "def read(path):\n"
    "    with open(path, 'rb') as fh: return fh.read()\n"
    "data = read(state)\n"
    "at = data.find(b'\\ninputs ')\n"
    "inputs = read(root + '/skills.json') + b'\\n\\0\\n' + read(root + '/skills.lock.json')\n"
    "if data[data.find(b'\\n', at + 1) + 1 :] != inputs: sys.exit(1)\n"
    "lines = str(memoryview(data)[:at], 'utf-8', 'surrogateescape').split('\\n')\n"
    "lstat, folders, stamps, i, total = os.lstat, {{}}, {{}}, 2, len(lines)\n"
    "while i < total:\n"
    "    fields = lines[i].split('\\t')\n"
    "    i += 1\n"
    "    if fields[0] == 'p':\n"
    "        stamps[fields[1]] = fields[2] + '\\t' + fields[3]\n"
    "        continue\n"
    "    parent, _, name = fields[1].rpartition('/')\n"
    "    fd = folders.get(parent)\n"
    "    if fd is None:\n"
    "        fd = folders[parent] = os.open(root + '/' + parent, os.O_RDONLY | os.O_DIRECTORY)\n"
    "    if fields[0] == 'l':\n"
    "        if os.readlink(name, dir_fd=fd) != fields[3]: sys.exit(2)\n"
    "        continue\n"
    "    files, dirs, base = int(fields[4]), int(fields[5]), name + '/'\n"
    "    for line in lines[i : i + dirs]:\n"
    "        rel, _, rest = line.partition('\\0')\n"
    "        st = lstat(base + rel if rel else name, dir_fd=fd)\n"
    "        if f'{{st.st_mtime_ns}}\\0{{st.st_ctime_ns}}' != rest: sys.exit(3)\n"
    "    for line in lines[i + dirs : i + dirs + files]:\n"
    "        rel, _, rest = line.partition('\\0')\n"
    "        st = lstat(base + rel, dir_fd=fd)\n"
    "        x = 1 if st.st_mode & 0o100 else 0\n"
    "        if f'{{st.st_size}}\\0{{st.st_mtime_ns}}\\0{{st.st_ctime_ns}}\\0{{x}}' != rest:\n"
    "            sys.exit(4)\n"
    "    i += dirs + files\n"
    "for parent, fd in folders.items():\n"
    "    st = os.fstat(fd)\n"
    "    if f'{{st.st_mtime_ns}}\\t{{st.st_ctime_ns}}' != stamps[parent]: sys.exit(5)\n"
)
"""Row 3's check and nothing else, over the same install state (its format: header, root,
one line per artifact followed by its folder and file lines, then the inputs): exits
non-zero if anything differs, so it cannot time a check that did not happen."""


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


def state_file(project: Path) -> str:
    """The install state file of ``project`` (where the no-op check reads it)."""
    from skillcrate.fastpath import INSTALL_FILE, project_state_dir

    return str(project_state_dir(project) / INSTALL_FILE)


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
        least = _LEAST_CHECK.format(root=str(large), state=state_file(large))
        tree, copy = small / ".agents" / "skills", root / "copy"
        imports = f"import {INSTALL_IMPORTS}"
        commands = {
            "python -c pass": [py, "-c", "pass"],
            "python -c 'import runpy'": [py, "-c", "import runpy"],
            "no-op install, 500 skills": [py, "-m", "skillcrate", "install"],
            f"{len(paths)} lstat + {len(links)} readlink only": [py, "-c", syscalls],
            "the least no-op check in Python": [py, "-c", least],
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
    runpy_cost = statistics.median(times["python -c 'import runpy'"]) - base  # seconds
    row3_floor = round(
        (statistics.median(times["the least no-op check in Python"]) + runpy_cost) / base, 2
    )
    if args.json:
        document = {
            "runs": args.runs,
            "results": rows,
            "copytreeToCp": copy_ratio,
            "row3Floor": row3_floor,
        }
        print(json.dumps(document, indent=2))
        return 0
    print(f"medians of {args.runs} interleaved runs, ratios to python -c pass")
    for label, row in rows.items():
        print(f"  {label:40s} {row['median_ms']:7.1f} ms  x{row['ratio']:.2f}")
    print(f"  the least no-op check + what python -m adds: x{row3_floor:.2f} (row 3's goal: x3)")
    print(f"  shutil.copytree / cp -r: x{copy_ratio:.2f} (row 5's goal: x2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
