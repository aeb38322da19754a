"""Collections: several skills under one reference (formats.md §2).

A collection is an OCI image index with ``artifactType``
``application/vnd.agentskills.collection.v1`` and the annotation
``io.agentskills.collection.name``; each entry is a skill manifest descriptor with
``artifactType application/vnd.agentskills.skill.v1`` and ``io.agentskills.skill.ref``
(the member's tag reference). Readers also accept ``org.opencontainers.image.ref.name``.

Registries check that an index's entries exist in the index's own repository
(Distribution does), so members from other repositories are refused unless they are
copied in first (``copy=True``): blobs (mounted where the registry allows) and the
member manifests by digest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..cache import Cache
from ..errors import FormatError, InvalidReference, RegistryError, UsageError
from ..fetch import fetch_skill, get_manifest
from ..formats import (
    A_COLLECTION_NAME,
    A_SKILL_NAME,
    A_SKILL_REF,
    AS_ARTIFACT,
    AS_COLLECTION,
    detect,
)
from ..names import NAME_RE
from ..oci.copy import copy_manifest
from ..oci.model import (
    A_CREATED,
    OCI_INDEX,
    REF_NAME,
    Descriptor,
    canonical_json,
    created_timestamp,
    parse_manifest,
)
from ..oci.target import Target
from ..reference import Reference


@dataclass(frozen=True)
class Member:
    """A skill to list in a collection: where it is and its manifest."""

    ref: Reference  # with the tag it was named by (and its digest)
    name: str
    descriptor: Descriptor  # of the member manifest


def load_member(target: Target, ref: Reference, cache: Cache) -> Member:
    """Resolve a member reference, check it is a single skill, and read its name."""
    reference = ref.digest or ref.tag or "latest"
    desc, data = get_manifest(target, reference, cache)
    obj = parse_manifest(data, str(ref))
    det = detect(obj, desc.media_type)
    if det.is_collection:
        raise FormatError(f"{ref} is itself a collection; list its skills instead")
    name = det.annotations.get(A_SKILL_NAME) or ""
    if not NAME_RE.match(name):
        name = fetch_skill(target, desc.digest, cache, fallback_name=ref.last_segment).name
    tagged = ref.with_tag(ref.tag or ("latest" if not ref.digest else None))
    return Member(tagged.with_digest(desc.digest), name, desc)


def check_name(name: str) -> None:
    if not NAME_RE.match(name) or len(name) > 64:
        raise UsageError(
            f"collection name {name!r} must be lowercase letters, digits and single hyphens"
        )


def index_bytes(name: str, members: Sequence[Member], *, created: str) -> bytes:
    """The collection index: members sorted by skill name, deterministic bytes."""
    check_name(name)
    names = [m.name for m in members]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"a collection lists each skill once; repeated: {', '.join(dupes)}")
    entries = []
    for m in sorted(members, key=lambda m: m.name):
        entry: dict[str, Any] = {
            "mediaType": m.descriptor.media_type,
            "digest": m.descriptor.digest,
            "size": m.descriptor.size,
            "artifactType": AS_ARTIFACT,
            "annotations": {A_SKILL_NAME: m.name, A_SKILL_REF: str(m.ref.with_digest(None))},
        }
        entries.append(entry)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": AS_COLLECTION,
        "manifests": entries,
        "annotations": {A_COLLECTION_NAME: name, A_CREATED: created},
    }
    return canonical_json(index)


def copy_member(source: Target, dest: Target, member: Member, cache: Cache) -> None:
    """Copy a member's blobs (verified through the cache) and manifest into ``dest``."""
    _, data = get_manifest(source, member.descriptor.digest, cache)
    copy_manifest(source, dest, member.descriptor, data, cache)


@dataclass(frozen=True)
class PushedCollection:
    """What ``collection push`` pushed: the index digest and its members."""

    reference: Reference
    digest: str
    members: tuple[Member, ...]
    copied: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": str(self.reference.with_digest(self.digest)),
            "digest": self.digest,
            "skills": [
                {"name": m.name, "ref": str(m.ref.with_digest(None)), "digest": m.descriptor.digest}
                for m in self.members
            ],
            "copied": list(self.copied),
        }


def push_collection(
    name: str,
    ref: Reference,
    member_refs: Sequence[Reference],
    open_target: Callable[[Reference], Target],
    cache: Cache,
    *,
    copy: bool = False,
    env: dict[str, str] | None = None,
) -> PushedCollection:
    """Build and push the collection ``name`` listing ``member_refs`` under ``ref``."""
    check_name(name)
    if not member_refs:
        raise UsageError("a collection needs at least one --skill")
    if not ref.tag or ref.digest:
        raise UsageError(f"push the collection to a tag: {ref} has none")
    dest = open_target(ref)
    members: list[Member] = []
    copied: list[str] = []
    for member_ref in member_refs:
        source = open_target(member_ref)
        member = load_member(source, member_ref, cache)
        if member_ref.with_tag(None) != ref.with_tag(None):
            if not copy:
                raise UsageError(
                    f"{member_ref} is in another repository than {ref.with_tag(None)}; "
                    "registries check that an index's entries are in its own repository",
                    hints=[
                        "push the skills into the collection's repository, or pass --copy "
                        "to copy them there"
                    ],
                )
            copy_member(source, dest, member, cache)
            copied.append(member.name)
        members.append(member)
    data = index_bytes(name, members, created=created_timestamp(env))
    try:
        desc = dest.push_manifest(data, OCI_INDEX, ref.tag)
    except RegistryError as exc:
        if exc.status in (400, 404):
            raise RegistryError(
                f"{ref.with_tag(None)} refused the collection index: {exc}",
                status=exc.status,
                hints=[
                    "the registry wants every skill in the collection's repository: push "
                    "them there, or pass --copy"
                ],
            ) from exc
        raise
    return PushedCollection(ref, desc.digest, tuple(members), tuple(copied))


def member_source(collection: Reference, entry: Descriptor) -> tuple[Reference, str | None]:
    """Where a collection entry's skill lives, and the tag it was listed by.

    ``io.agentskills.skill.ref`` (or ``org.opencontainers.image.ref.name``) naming a
    full registry reference gives the member's own repository and tag; anything else
    (a bare tag, ``name:tag``, any entry of an ``oci:`` layout) is pinned by digest in
    the collection's repository, where registries require the entry to be.
    """
    text = entry.annotations.get(A_SKILL_REF) or entry.annotations.get(REF_NAME) or ""
    base = collection.with_tag(None)
    host = text.split("/", 1)[0] if "/" in text else ""
    if collection.layout or not ("." in host or ":" in host or host == "localhost"):
        return base, None
    try:
        ref = Reference.parse(text)
    except InvalidReference:
        return base, None
    return ref.with_tag(None), ref.tag
