"""Skill lifecycle, compatible with skillimage/skillctl (formats.md §4).

A skill version moves draft → testing → published → deprecated → archived. The state
lives in the manifest annotation ``io.skillimage.status``; its tags follow it:

    draft       <ver>-draft
    testing     <ver>-testing
    published   <ver> and latest
    deprecated  <ver>             (the annotation says deprecated)
    archived    no tags           (reachable by digest only)

Promotion re-pushes the same manifest with a new status annotation (config and layers
keep their digests; the manifest digest changes) and moves the tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import LifecycleError
from .versions import parse_semver

A_STATUS = "io.skillimage.status"
"""The manifest annotation holding the state (skillctl's key, written in every format)."""

STATES = ("draft", "testing", "published", "deprecated", "archived")
PUSH_STATES = ("draft", "testing", "published")
# A free-text reason shown when a deprecated version is installed.
A_DEPRECATION = "io.skillcrate.deprecation"
HIDDEN = frozenset({"draft", "testing", "archived"})  # never picked by a range without asking


def status_of(annotations: Mapping[str, str] | None) -> str:
    """A manifest's lifecycle state; one without the annotation counts as published."""
    status = (annotations or {}).get(A_STATUS, "").strip().lower()
    return status if status in STATES else "published"


def next_state(state: str) -> str | None:
    i = STATES.index(state)
    return STATES[i + 1] if i + 1 < len(STATES) else None


def check_transition(current: str, wanted: str) -> None:
    """Refuse anything but the one step forward, naming the allowed next state."""
    if wanted not in STATES:
        raise LifecycleError(f"unknown lifecycle state {wanted!r} (one of: {', '.join(STATES)})")
    allowed = next_state(current)
    if wanted == allowed:
        return
    if wanted == current:
        raise LifecycleError(f"already {current}")
    nxt = f"the next state is {allowed}" if allowed else f"{current} is final"
    raise LifecycleError(
        f"cannot go from {current} to {wanted}: transitions are "
        f"{' → '.join(STATES)}, one step at a time; {nxt}"
    )


def tag_for(version: str, state: str) -> str | None:
    """The version tag a state carries (None: archived has no tag)."""
    if state in ("draft", "testing"):
        return f"{version}-{state}"
    if state in ("published", "deprecated"):
        return version
    return None


def base_version(tag: str) -> str:
    """``1.2.0-draft`` / ``1.2.0-testing`` → ``1.2.0``; other tags unchanged."""
    for state in ("draft", "testing"):
        if tag.endswith(f"-{state}"):
            return tag[: -len(state) - 1]
    return tag


def moves_latest(version: str, tags: Sequence[str]) -> bool:
    """Whether publishing ``version`` should move ``latest``: a release (not a prerelease)
    that is not older than any release already there."""
    v = parse_semver(version)
    if v is None or v.is_prerelease:
        return False
    releases = [p for p in map(parse_semver, tags) if p is not None and not p.is_prerelease]
    return all(not (v < r) for r in releases)


def is_hidden(status: str, *, pre: bool) -> bool:
    """Whether a range or ``latest`` must skip a version in this state."""
    return status == "archived" or (status in HIDDEN and not pre)


def deprecation_warning(name: str, version: str, annotations: Mapping[str, str]) -> str | None:
    """The warning to print when installing a deprecated version (None when it is not)."""
    if status_of(annotations) != "deprecated":
        return None
    reason = (annotations.get(A_DEPRECATION) or "").strip()
    what = f"{name} {version}".strip()
    return f"{what} is deprecated" + (f": {reason}" if reason else "")


def push_tags(version: str, status: str, existing: Sequence[str]) -> list[str]:
    """The tags ``push --status`` applies for ``version``."""
    if status not in PUSH_STATES:
        raise LifecycleError(
            f"push can start a skill as {', '.join(PUSH_STATES)}, not {status!r}; "
            "use `skillcrate promote` for later states"
        )
    tag = tag_for(base_version(version), status)
    assert tag is not None
    tags = [tag]
    if status == "published" and moves_latest(version, existing):
        tags.append("latest")
    return tags
