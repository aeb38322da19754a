"""Resolving a dependency tree: 50 skills, 200 edges, on a real registry.

Two rows, each against a baseline measured in the same run (timing is never asserted):

====  =============================================  =========================================
row   skillcrate                                     baseline
====  =============================================  =========================================
1     resolver time of the tree (resolvelib's        absolute goal: well under a second
      search once candidates are read; median of     (at most 0.5 s)
      several in-process solves on a warm cache)
2     ``add`` of the tree's root into an empty       ``add`` of the same 50 skills, published
      project, empty cache (the whole tree is        without dependencies, named on one command
      resolved, fetched, locked, linked)             line (goal: ratio at most 1.5)
====  =============================================  =========================================

The tree: skills ``s00`` … ``s49``, each published as 1.0.0 and 1.1.0; skill ``i`` needs
skills with higher numbers (a DAG, 200 edges in all, fixed seed), mostly ``^1.0.0``; every
fifth edge asks ``~1.0.0``, so the newest version of its target does not fit every
dependent and the resolver must settle on 1.0.0 there. ``s00`` is the root; every skill is
reachable from it.

Run it with the interpreter of the install to measure::

    /tmp/bvenv/bin/python benchmarks/dependency_tree.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import Registry, isolated_environment  # noqa: E402

SKILLS = 50
EDGES = 200


def edges(seed: int = 7) -> dict[int, dict[int, str]]:
    """skill → {needed skill: range}; every skill reachable from 0; exactly EDGES edges."""
    rng = random.Random(seed)
    out: dict[int, dict[int, str]] = {i: {} for i in range(SKILLS)}
    for i in range(1, SKILLS):  # a spine first, so that everything is reachable from s00
        out[rng.randrange(0, i)][i] = "^1.0.0"
    count = SKILLS - 1
    while count < EDGES:
        i = rng.randrange(0, SKILLS - 1)
        j = rng.randrange(i + 1, SKILLS)
        if j not in out[i]:
            out[i][j] = "~1.0.0" if count % 5 == 0 else "^1.0.0"
            count += 1
    return out


def name(i: int) -> str:
    return f"s{i:02d}"


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "skillcrate", *args], env=env, cwd=cwd, capture_output=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"skillcrate {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return time.perf_counter() - started


def publish(env: dict[str, str], root: Path, host: str, graph: dict[int, dict[int, str]]) -> None:
    for i in range(SKILLS):
        for version in ("1.0.0", "1.1.0"):
            for prefix, needs in (("tree", graph[i]), ("flat", {})):
                folder = root / "src" / prefix / version / name(i)
                folder.mkdir(parents=True)
                (folder / "SKILL.md").write_text(
                    f"---\nname: {name(i)}\ndescription: Skill {i} at {version}. "
                    "Use when benchmarking.\n---\n# skill\n"
                )
                if needs:
                    deps = [
                        {"source": f"{host}/{prefix}/{name(j)}", "version": spec}
                        for j, spec in sorted(needs.items())
                    ]
                    (folder / "skills.json").write_text(json.dumps({"skills": deps}))
                cli(env, "push", str(folder), f"{host}/{prefix}/{name(i)}:{version}")


def resolver_seconds(root: Path, rounds: int) -> tuple[list[float], list[float], int]:
    """In-process solves of the tree project (candidates cached after the first)."""
    from skillcrate.project.context import Project
    from skillcrate.solver import solve

    project = Project(root)
    manifest = project.load_manifest()
    search, fetch = [], []
    pins = 0
    for _ in range(rounds + 1):
        solution = solve(project, manifest, None)
        search.append(solution.resolve_seconds)
        fetch.append(solution.fetch_seconds)
        pins = len(solution.pins)
    return search[1:], fetch[1:], pins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--registry-bin", default="docker-registry")
    args = parser.parse_args()
    graph = edges()
    assert sum(len(v) for v in graph.values()) == EDGES
    with tempfile.TemporaryDirectory(prefix="skillcrate-deps-bench-") as tmp:
        root = Path(tmp)
        with isolated_environment(root) as env:
            registry = Registry(root / "registry", args.registry_bin).start()
            try:
                print(f"publishing {SKILLS} skills × 2 versions, twice ...", file=sys.stderr)
                publish(env, root, registry.host, graph)
                tree_add: list[float] = []
                flat_add: list[float] = []
                for r in range(args.rounds):
                    for kind in ("tree", "flat"):
                        proj = root / f"{kind}-{r}"
                        proj.mkdir()
                        cache = {**env, "SKILLCRATE_CACHE_DIR": str(root / f"cache-{kind}-{r}")}
                        refs = (
                            [f"{registry.host}/tree/{name(0)}"]
                            if kind == "tree"
                            else [f"{registry.host}/flat/{name(i)}" for i in range(SKILLS)]
                        )
                        took = cli(cache, "add", *refs, cwd=proj)
                        (tree_add if kind == "tree" else flat_add).append(took)
                lock = json.loads((root / "tree-0/skills.lock.json").read_text())
                locked = {s["name"]: s for s in lock["skills"]}
                assert len(locked) == SKILLS, len(locked)
                held = sum(len(s.get("dependencies", [])) for s in locked.values())
                older = sorted(n for n, s in locked.items() if s["version"] == "1.0.0")
                search, fetch, pins = resolver_seconds(root / "tree-0", args.rounds)
            finally:
                registry.stop()
    med = statistics.median
    print(f"tree: {pins} skills, {held} edges locked; {len(older)} settled on 1.0.0")
    print(
        f"1  resolver time            {med(search) * 1000:8.1f} ms   goal ≤ 500 ms   "
        f"{'met' if med(search) <= 0.5 else 'NOT met'}   "
        f"(reading candidates before it: {med(fetch) * 1000:.0f} ms, warm cache)"
    )
    ratio = med(tree_add) / med(flat_add)
    print(
        f"2  add of the tree root     {med(tree_add):8.2f} s    flat add of 50 "
        f"{med(flat_add):.2f} s   ×{ratio:.2f} (goal ≤ 1.5) {'met' if ratio <= 1.5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
