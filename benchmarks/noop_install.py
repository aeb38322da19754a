"""How long `skillcrate install` takes when there is nothing to do, against `python -c pass`.

Every agent session start runs `skillcrate install --hook AGENT`; on an unchanged project
that must cost little more than starting Python. This script builds a temporary project
with 20 installed skills (each a few files, pushed into a temporary OCI layout), then times,
interleaved in the same run so that machine load affects all of them alike:

* ``python -c pass``                       the floor: interpreter start-up
* ``python -m skillcrate install``         the no-op path
* ``python -m skillcrate install --hook claude``
* ``skillcrate install``                   the console script next to ``sys.executable``,
                                           when there is one

and prints the median wall times and their ratio to the floor (target: at most 2).
It never asserts on timing. Usage::

    python benchmarks/noop_install.py [--skills 20] [--runs 15] [--warmup 2] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 2.0


def _skill_files(name: str, index: int) -> dict[str, str]:
    return {
        "SKILL.md": (
            f"---\nname: {name}\n"
            f"description: Benchmark skill number {index}. Use when measuring skillcrate.\n"
            'metadata:\n  version: "1.0.0"\n---\n'
            f"# {name}\n\nSteps for task {index}.\n" + "Some guidance.\n" * 20
        ),
        "references/guide.md": f"# Guide {index}\n\n" + "Detail line.\n" * 50,
        "references/checklist.md": "- one\n- two\n- three\n",
        "scripts/run.sh": f"#!/bin/sh\necho skill {index}\n",
        "assets/data.json": json.dumps({"skill": name, "values": list(range(index))}) + "\n",
    }


def _cli(*args: str) -> None:
    """Run the skillcrate CLI in this process (set-up only; the timed runs are processes)."""
    from skillcrate.cli import main

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # keep our stdout for the results
            main(list(args))
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise RuntimeError(f"skillcrate {' '.join(args)} failed (exit {exc.code})") from None


INSTALL_IMPORTS = "skillcrate.cli, skillcrate.cli.project, skillcrate.ops"
"""What every ``install`` that has work to do loads first: the CLI, its project commands
and the install library (the no-op answers before any of them)."""


def build_project(root: Path, count: int) -> Path:
    """``root/project`` with ``count`` skills installed from the layout ``root/registry``."""
    sources, project = root / "sources", root / "project"
    project.mkdir(parents=True)
    skills = []
    for i in range(count):
        name = f"bench-skill-{i:02d}"
        for rel, text in _skill_files(name, i).items():
            path = sources / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (sources / name / "scripts" / "run.sh").chmod(0o755)
        _cli("-q", "push", str(sources / name), f"oci:{root / 'registry' / name}:1.0.0")
        skills.append({"name": name, "source": f"oci:../registry/{name}", "version": "^1.0.0"})
    (project / "skills.json").write_text(json.dumps({"skills": skills}, indent=2) + "\n")
    _cli("-q", "-C", str(project), "install")
    return project


def bench_env(root: Path) -> dict[str, str]:
    """The environment of the timed runs: a cache under ``root`` (also set in this process,
    for the in-process set-up) and no agent's project variable (each would move the hook's
    project)."""
    os.environ["SKILLCRATE_CACHE_DIR"] = str(root / "cache")
    env = dict(os.environ)
    for name in ("CLAUDE_PROJECT_DIR", "GEMINI_PROJECT_DIR", "CURSOR_PROJECT_DIR"):
        env.pop(name, None)
    return env


def _commands(with_script: bool) -> dict[str, list[str]]:
    py = sys.executable
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "python -m skillcrate install": [py, "-m", "skillcrate", "install"],
        "python -m skillcrate install --hook claude": [
            py,
            "-m",
            "skillcrate",
            "install",
            "--hook",
            "claude",
        ],
    }
    script = console_script()
    if with_script and script is not None:
        commands["skillcrate install (console script)"] = [str(script), "install"]
    return commands


def console_script() -> Path | None:
    folder = Path(sys.executable).parent
    for name in ("skillcrate", "skillcrate.exe"):
        if (folder / name).is_file() and os.access(folder / name, os.X_OK):
            return folder / name
    return None


def _run_once(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr}")
    return elapsed, done.stdout + done.stderr


def measure(
    project: Path, env: dict[str, str], runs: int, warmup: int, with_script: bool
) -> dict[str, list[float]]:
    commands = _commands(with_script)
    # The no-op path must be what we time: an install that did work would skew every run.
    for label, command in commands.items():
        _, output = _run_once(command, project, env)
        if "install" in label and "up to date" not in output and output.strip() != "{}":
            raise RuntimeError(f"{label!r} was not a no-op: {output.strip()}")
    times: dict[str, list[float]] = {label: [] for label in commands}
    labels = list(commands)
    for round_no in range(warmup + runs):
        # rotate the order every round so no command always runs first or last
        shift = round_no % len(labels)
        for label in labels[shift:] + labels[:shift]:
            elapsed, _ = _run_once(commands[label], project, env)
            if round_no >= warmup:
                times[label].append(elapsed)
    return times


def summarise(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    base = statistics.median(times["python -c pass"])
    rows: dict[str, dict[str, float]] = {}
    for label, values in times.items():
        median = statistics.median(values)
        rows[label] = {
            "median_ms": round(median * 1000, 1),
            "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "ratio": round(median / base, 2),
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skills", type=int, default=20, help="installed skills (default 20)")
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    parser.add_argument("--no-script", action="store_true", help="skip the console script")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="skillcrate-bench-") as tmp:
        root = Path(tmp)
        env = bench_env(root)
        project = build_project(root, args.skills)
        skills_dir = project / ".agents" / "skills"
        files = sum(1 for p in skills_dir.glob("*/**/*") if p.is_file())
        times = measure(project, env, args.runs, args.warmup, not args.no_script)

    rows = summarise(times)
    install_ratio = rows["python -m skillcrate install"]["ratio"]
    result = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "console_script": str(console_script()) if console_script() else None,
        "skills": args.skills,
        "installed_files": files,
        "runs": args.runs,
        "warmup": args.warmup,
        "target_ratio": TARGET_RATIO,
        "results": rows,
        "within_target": install_ratio <= TARGET_RATIO,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"no-op install, {args.skills} skills ({files} files), median of {args.runs} runs "
        f"after {args.warmup} warm-up(s), Python {result['python']}"
    )
    width = max(len(label) for label in rows)
    for label, row in rows.items():
        print(
            f"  {label:<{width}}  median {row['median_ms']:7.1f} ms  "
            f"(min {row['min_ms']:.1f}, max {row['max_ms']:.1f})  x{row['ratio']:.2f}"
        )
    verdict = "within" if result["within_target"] else "ABOVE"
    print(f"ratio install / python -c pass = {install_ratio:.2f} ({verdict} target {TARGET_RATIO})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
