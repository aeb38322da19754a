"""The pure core of install: the plan, the --frozen comparison, and when a pin still fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skillcrate.installer.plan import frozen_problems, plan_install, same_source
from skillcrate.project.lockfile import LockedSkill, LockedSource, Lockfile
from skillcrate.project.manifest import Manifest, parse_manifest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
SRC = "ghcr.io/acme/skills/review"


def manifest(*skills: dict[str, object]) -> Manifest:
    return parse_manifest(json.dumps({"skills": list(skills)}), Path("skills.json"))


def locked(
    name: str = "review",
    version: str = "1.2.3",
    spec_version: str | None = "^1.2.0",
    spec_source: str = SRC,
    repository: str = "acme/skills/review",
    digest: str = D1,
) -> LockedSkill:
    return LockedSkill(
        name=name,
        path=f".agents/skills/{name}",
        version=version,
        source=LockedSource("ghcr.io", repository, version or None, digest),
        spec_source=spec_source,
        spec_version=spec_version,
    )


def names(plan_list: list) -> list[str]:  # type: ignore[type-arg]
    return [(x[0] if isinstance(x, tuple) else x).name for x in plan_list]


# ------------------------------------------------------------------------------ plan


def test_a_new_entry_is_resolved_and_an_unchanged_one_kept() -> None:
    m = manifest(
        {"name": "review", "source": SRC, "version": "^1.2.0"},
        {"name": "lint", "source": "ghcr.io/acme/skills/lint"},
    )
    plan = plan_install(m, Lockfile(skills=(locked(),)))
    assert names(plan.keep) == ["review"]
    assert names(plan.resolve) == ["lint"]
    assert plan.relock == [] and plan.prune == []


def test_no_lock_resolves_everything() -> None:
    m = manifest({"name": "review", "source": SRC})
    plan = plan_install(m, None)
    assert names(plan.resolve) == ["review"] and plan.keep == []


def test_edited_text_that_the_pin_still_satisfies_is_relocked_not_resolved() -> None:
    m = manifest({"name": "review", "source": SRC, "version": "^1.0.0"})
    plan = plan_install(m, Lockfile(skills=(locked(),)))
    assert names(plan.relock) == ["review"] and plan.resolve == []


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "review", "source": SRC, "version": "^2.0.0"},  # the pin no longer fits
        {"name": "review", "source": SRC, "version": D2},  # another digest
        {"name": "review", "source": "ghcr.io/other/review", "version": "^1.2.0"},  # source
    ],
)
def test_a_pin_that_no_longer_fits_is_resolved_again(entry: dict[str, object]) -> None:
    plan = plan_install(manifest(entry), Lockfile(skills=(locked(),)))
    assert names(plan.resolve) == ["review"] and plan.keep == [] and plan.relock == []


def test_a_digest_spec_is_kept_when_the_lock_pins_that_digest() -> None:
    m = manifest({"name": "review", "source": SRC, "version": D1})
    plan = plan_install(m, Lockfile(skills=(locked(spec_version="^1.0.0"),)))
    assert names(plan.relock) == ["review"]


def test_forced_entries_resolve_and_removed_entries_prune() -> None:
    m = manifest({"name": "review", "source": SRC, "version": "^1.2.0"})
    lock = Lockfile(skills=(locked(), locked(name="gone", spec_source="ghcr.io/acme/gone")))
    plan = plan_install(m, lock, force=["review"])
    assert names(plan.resolve) == ["review"]
    assert names(plan.prune) == ["gone"]


def test_source_spellings_of_one_repository_are_the_same_source() -> None:
    spec = manifest({"name": "review", "source": "GHCR.IO:443/acme/skills/review"}).skills[0]
    assert same_source(spec, locked())
    other = manifest({"name": "review", "source": "ghcr.io/acme/skills/other"}).skills[0]
    assert not same_source(other, locked())


# ---------------------------------------------------------------------------- frozen


def test_in_sync_has_no_problems() -> None:
    m = manifest({"name": "review", "source": SRC, "version": "^1.2.0"})
    assert frozen_problems(m, Lockfile(skills=(locked(),))) == []
    assert frozen_problems(manifest(), None) == []


def test_every_difference_is_listed_once() -> None:
    m = manifest(
        {"name": "review", "source": SRC, "version": "^1.3.0"},
        {"name": "new", "source": "ghcr.io/acme/new"},
        {"name": "moved", "source": "ghcr.io/acme/moved"},
    )
    lock = Lockfile(
        skills=(
            locked(),
            locked(name="moved", spec_source="ghcr.io/acme/moved", repository="evil/moved"),
            locked(name="old", spec_source="ghcr.io/acme/old"),
        )
    )
    problems = frozen_problems(m, lock)
    assert problems == [
        "~ review: skills.json wants ghcr.io/acme/skills/review ^1.3.0, "
        "skills.lock.json has ghcr.io/acme/skills/review ^1.2.0 (locked 1.2.3)",
        "+ new: in skills.json but not in skills.lock.json",
        "~ moved: skills.json names ghcr.io/acme/moved, but skills.lock.json fetches from "
        "ghcr.io/evil/moved",
        "- old: in skills.lock.json but not in skills.json",
    ]


def test_a_missing_lock_is_a_problem_only_when_skills_are_declared() -> None:
    assert frozen_problems(manifest({"name": "review", "source": SRC}), None) == [
        "skills.lock.json is missing"
    ]


# --- dependency trees -----------------------------------------------------------------------


def _tree_lock() -> Lockfile:
    """review → testing → fixtures; lint → fixtures."""
    from dataclasses import replace

    def entry(name: str, deps: tuple[str, ...], needed_by: tuple[str, ...]) -> LockedSkill:
        base = locked(
            name, repository=f"acme/skills/{name}", spec_source=f"ghcr.io/acme/skills/{name}"
        )
        if needed_by and name not in ("review", "lint"):
            base = replace(base, spec_version=None)
        return replace(base, dependencies=deps, required_by=needed_by)

    return Lockfile(
        skills=(
            entry("review", ("testing",), ()),
            entry("lint", ("fixtures",), ()),
            entry("testing", ("fixtures",), ("review",)),
            entry("fixtures", (), ("lint", "testing")),
        )
    )


def _roots(*names: str) -> Manifest:
    return manifest(
        *({"name": n, "source": f"ghcr.io/acme/skills/{n}", "version": "^1.2.0"} for n in names)
    )


def test_transitive_entries_stay_while_something_needs_them() -> None:
    lock = _tree_lock()
    plan = plan_install(_roots("review", "lint"), lock)
    assert sorted(s.name for s, _ in plan.keep) == ["fixtures", "lint", "review", "testing"]
    assert not plan.resolve and not plan.prune and not plan.needs_solving
    assert plan.required_by() == {"testing": ("review",), "fixtures": ("lint", "testing")}
    assert frozen_problems(_roots("review", "lint"), lock) == []


def test_what_nothing_needs_any_more_is_pruned() -> None:
    lock = _tree_lock()
    plan = plan_install(_roots("lint"), lock)
    assert sorted(s.name for s, _ in plan.keep) == ["fixtures", "lint"]
    assert sorted(s.name for s in plan.prune) == ["review", "testing"]
    assert not plan.needs_solving
    # the lock now says more than lint needs: --frozen names each extra entry
    problems = frozen_problems(_roots("lint"), lock)
    assert "- review: in skills.lock.json but not in skills.json" in problems
    assert any(
        p.startswith("~ fixtures: skills.lock.json says it is required by lint, testing")
        for p in problems
    )


def test_a_tree_the_lock_misses_is_solved_again() -> None:
    lock = _tree_lock().without("fixtures")
    plan = plan_install(_roots("review", "lint"), lock)
    assert plan.needs_solving and plan.broken == ["lint needs fixtures", "testing needs fixtures"]
    assert (
        "+ fixtures: lint needs fixtures, but skills.lock.json does not hold it"
        in frozen_problems(_roots("review", "lint"), lock)
    )


def test_updating_everything_resolves_transitive_entries_too() -> None:
    lock = _tree_lock()
    plan = plan_install(_roots("review", "lint"), lock, force=lock.names())
    assert sorted(s.name for s in plan.resolve) == ["fixtures", "lint", "review", "testing"]
    assert [s.version for s in plan.resolve if s.name == "fixtures"] == [None]


def test_lock_dependencies_round_trip_and_bad_names_are_refused() -> None:
    from skillcrate.errors import LockfileError

    lock = _tree_lock()
    text = lock.to_json()
    again = Lockfile.from_json(text)
    assert again == lock and again.to_json() == text
    data = json.loads(text)
    assert data["skills"][0]["name"] == "fixtures" and data["skills"][0]["requiredBy"] == [
        "lint",
        "testing",
    ]
    data["skills"][0]["requiredBy"] = ["../evil"]
    with pytest.raises(LockfileError, match=r'"requiredBy"\[0\]'):
        Lockfile.from_json(json.dumps(data))
    data["skills"][0]["requiredBy"] = "lint"
    with pytest.raises(LockfileError, match="must be an array"):
        Lockfile.from_json(json.dumps(data))
