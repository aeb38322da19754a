"""Layer size and compression time per gzip level, for skill folders and for random bytes.

``pack`` compresses every layer with gzip level 9 (docs/formats.md). This measures what
that choice costs against the other levels, on the deterministic tar ``pack`` builds of
each folder given (a folder holding SKILL.md, or a folder of such folders), and on
``--random-mib`` MiB of random bytes (an incompressible asset, the suite's row 6):

* total compressed size per level, and its ratio to level 9;
* compression time per level (the best of ``--rounds`` runs, so that machine load
  does not decide), and its ratio to level 9.

Compression only: the tar is built once, in memory, before the clock starts. It never
asserts on timing. Usage::

    python benchmarks/gzip_levels.py SKILLS_DIR [SKILLS_DIR ...] [--random-mib 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

LEVELS = range(1, 10)


def skill_folders(paths: list[Path]) -> list[Path]:
    """Each path that holds a SKILL.md, else its child folders that do."""
    found: list[Path] = []
    for path in paths:
        if (path / "SKILL.md").is_file():
            found.append(path)
            continue
        found += sorted(p for p in path.iterdir() if (p / "SKILL.md").is_file())
    return found


def best_of(rounds: int, data: bytes, level: int) -> tuple[int, float]:
    """(compressed size, the best time in seconds) of ``data`` at ``level``, gzip'd the way
    pack writes a layer (``archive.gzip_bytes``)."""
    from skillcrate.skill.archive import gzip_bytes

    best = float("inf")
    size = 0
    for _ in range(rounds):
        start = time.perf_counter()
        size = len(gzip_bytes(data, level))
        best = min(best, time.perf_counter() - start)
    return size, best


def measure(blobs: list[bytes], rounds: int) -> dict[int, tuple[int, float]]:
    out: dict[int, tuple[int, float]] = {}
    for level in LEVELS:
        sizes = times = 0.0
        for data in blobs:
            size, seconds = best_of(rounds, data, level)
            sizes += size
            times += seconds
        out[level] = (int(sizes), times)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/gzip_levels.py ~/src/skills/skills --random-mib 16",
    )
    parser.add_argument("folders", nargs="+", type=Path, help="skill folders, or folders of them")
    parser.add_argument("--random-mib", type=int, default=16, help="random bytes (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per level (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    args = parser.parse_args(argv)

    from skillcrate.skill.archive import build_tar

    folders = skill_folders(args.folders)
    if not folders:
        parser.error("no folder with a SKILL.md")
    tars = [build_tar(f, f.name) for f in folders]
    text = measure(tars, args.rounds)
    noise = measure([os.urandom(args.random_mib * 1024 * 1024)], args.rounds)
    raw = sum(len(t) for t in tars)
    if args.json:
        report = {
            "skills": len(folders),
            "tarBytes": raw,
            "randomMiB": args.random_mib,
            "levels": {
                str(level): {
                    "skillsBytes": text[level][0],
                    "skillsSeconds": round(text[level][1], 4),
                    "randomBytes": noise[level][0],
                    "randomSeconds": round(noise[level][1], 4),
                }
                for level in LEVELS
            },
        }
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{len(folders)} skills, {raw / 1e6:.2f} MB of tar; {args.random_mib} MiB random; "
        f"best of {args.rounds}, Python {sys.version.split()[0]}"
    )
    print("level   skills: bytes    x9  time ms    x9   random: bytes    x9  time ms    x9")
    size9, time9 = text[9]
    rsize9, rtime9 = noise[9]
    for level in LEVELS:
        size, seconds = text[level]
        rsize, rseconds = noise[level]
        skills = f"{size:15,d} {size / size9:5.3f} {seconds * 1000:8.1f} {seconds / time9:5.2f}"
        rand = f"{rsize:15,d} {rsize / rsize9:5.3f} {rseconds * 1000:8.1f} {rseconds / rtime9:5.2f}"
        print(f"{level:5d} {skills} {rand}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
