"""Resolution against a registry: a skills.json entry → a tag → a manifest digest.

``versions`` picks among tag names (pure); this module asks the target for the tags,
reads candidate manifests (cached) for their lifecycle state, and pins a digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import states as lifecycle
from .errors import NoMatchingVersion, NotFound
from .fetch import get_manifest
from .oci.model import Descriptor, parse_manifest
from .oci.target import Target
from .project.context import Project
from .project.lockfile import LockedSource
from .project.manifest import SkillSpec
from .reference import Reference
from .versions import Spec, asks_for_prerelease, candidate_tags, classify_spec, require_tag


@dataclass(frozen=True)
class Resolved:
    """A skill spec resolved: the reference, tag, digest and version it points at."""

    ref: Reference  # without tag/digest
    tag: str | None
    digest: str
    version: str  # the tag when it names a version; "" when pinned by digest

    @property
    def source(self) -> LockedSource:
        return LockedSource.from_reference(self.ref.with_tag(self.tag), self.digest)


def spec_version(spec: SkillSpec) -> str | None:
    """The effective version spec: ``version``, else a tag or digest written in ``source``."""
    if spec.version:
        return spec.version
    ref = spec.reference()
    return ref.digest or ref.tag


def resolve_spec(project: Project, spec: SkillSpec) -> Resolved:
    """skills.json entry → tag → manifest digest (network; never consults the lock)."""
    ref = spec.reference()
    base = ref.with_tag(None)
    version = spec_version(spec)
    target = project.online_target(base, f"resolving {spec.name}")
    kind = classify_spec(version)
    if kind.kind == "digest":
        desc = target.resolve(kind.text)
        return Resolved(base, None, desc.digest, "")
    if kind.kind in ("exact", "tag"):
        tag = kind.text
        found: Descriptor | None = None
        try:
            found = target.resolve(tag)
        except NotFound:
            if kind.kind == "exact" and not tag.startswith("v"):
                try:  # many publishers tag v1.2.3
                    tag = "v" + kind.text
                    found = target.resolve(tag)
                except NotFound:
                    found = None
            if found is None:
                raise _no_such_tag(spec.name, base, kind.text, target) from None
        return Resolved(base, tag, found.digest, tag)
    tags = target.tags()
    if kind.text in tags:  # a spec that is a tag's name selects that tag (`1`, `v1`, `1.2`)
        desc = target.resolve(kind.text)
        return Resolved(base, kind.text, desc.digest, kind.text)
    tag, desc = pick_selectable(project, target, kind, tags, source=str(base))
    return Resolved(base, tag, desc.digest, tag)


def _no_such_tag(name: str, base: Reference, wanted: str, target: Target) -> NotFound:
    """``wanted`` is not a tag of ``base``: say so, with the newest tags that are."""
    from .versions import sort_tags

    try:
        tags = sort_tags(target.tags())
    except NotFound:
        tags = []
    shown = ", ".join(tags[:10]) + (", …" if len(tags) > 10 else "")
    return NotFound(
        f"{name}: {base} has no tag {wanted}"
        + (f" (available: {shown})" if tags else " (it has no tags)"),
        hints=[f"`skillcrate versions {base}` lists the published tags"],
    )


def pick_selectable(
    project: Project, target: Target, kind: Spec, tags: Sequence[str], *, source: str
) -> tuple[str, Descriptor]:
    """The best tag ``kind`` selects whose lifecycle state a range may pick.

    Draft and testing versions need ``--pre`` (or a spec naming a prerelease);
    archived ones are never picked by a range. Each candidate's manifest is read
    (and cached) newest first until one qualifies, so usually one request.
    """
    pre = project.pre or asks_for_prerelease(kind)
    skipped: list[str] = []
    for tag in candidate_tags(kind, tags, include_prerelease=project.pre):
        desc, data = get_manifest(target, tag, project.cache)
        status = lifecycle.status_of(parse_manifest(data).get("annotations"))
        if lifecycle.is_hidden(status, pre=pre):
            skipped.append(f"{tag} is {status}")
            continue
        return tag, desc
    if skipped:
        raise NoMatchingVersion(
            f"no selectable version of {source} matches {kind} ({'; '.join(skipped[:5])})",
            hints=["--pre lets add/update pick draft and testing versions"]
            if any("archived" not in s for s in skipped) and not project.pre
            else [],
        )
    require_tag(kind, tags, source=source)  # raises the usual "no tag matches" error
    raise AssertionError("unreachable")


def selectable_tag(project: Project, target: Target, kind: Spec, tags: Sequence[str]) -> str:
    """Like :func:`pick_selectable`, but "" instead of an error when nothing qualifies."""
    try:
        return pick_selectable(project, target, kind, tags, source="")[0]
    except NoMatchingVersion:
        return ""
