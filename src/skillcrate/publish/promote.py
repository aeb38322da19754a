"""Promoting a published skill one lifecycle step (skillctl's model; rules in states.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..digests import verify_bytes
from ..errors import LifecycleError, NotFound, RegistryError
from ..oci.model import A_VERSION, canonical_json, parse_manifest
from ..oci.target import ManifestDeleter, Target
from ..states import (
    A_DEPRECATION,
    A_STATUS,
    base_version,
    check_transition,
    moves_latest,
    status_of,
    tag_for,
)


# ------------------------------------------------------------------ promote
@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: the new status, and the tags it moved or removed."""

    version: str
    previous: str
    status: str
    old_digest: str
    digest: str
    tagged: tuple[str, ...] = ()
    untagged: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "from": self.previous,
            "to": self.status,
            "previousDigest": self.old_digest,
            "digest": self.digest,
            "tagged": list(self.tagged),
            "untagged": list(self.untagged),
            "notes": list(self.notes),
        }


def _version_of(obj: Mapping[str, Any], reference: str) -> str:
    ann = obj.get("annotations") or {}
    version = ann.get(A_VERSION) or ann.get("org.agent.skill.version") or ""
    if not version and not reference.startswith("sha256:"):
        version = base_version(reference)
    if not version:
        raise LifecycleError(
            f"cannot tell the version of {reference}: the manifest has no "
            f"{A_VERSION} annotation; promote it by a version tag"
        )
    return version


def promoted_manifest(obj: Mapping[str, Any], status: str, message: str | None) -> bytes:
    """The same manifest with a new status annotation (everything else unchanged)."""
    new = json.loads(json.dumps(obj))
    ann = dict(new.get("annotations") or {})
    ann[A_STATUS] = status
    if message is not None:
        ann[A_DEPRECATION] = message
    new["annotations"] = dict(sorted(ann.items()))
    return canonical_json(new)


def _digest_of(target: Target, tag: str) -> str | None:
    try:
        return target.resolve(tag).digest
    except NotFound:
        return None


def _drop_tags(target: Target, old: str, drop: list[str], notes: list[str]) -> None:
    """Remove tags; where the registry cannot untag, delete the old manifest if only they
    point at it (Distribution 2.x deletes tags only together with their manifest)."""
    pending = []
    for tag in drop:
        try:
            target.untag(tag)
        except NotFound:
            continue
        except RegistryError:
            pending.append(tag)
    if not pending:
        return
    others = [t for t in target.tags() if t not in pending and _digest_of(target, t) == old]
    if others or not isinstance(target, ManifestDeleter):
        keep = ", ".join(others) or "none"
        raise LifecycleError(
            f"{target.describe()} cannot delete the tags {', '.join(pending)} "
            f"(no OCI tag deletion), and the manifest {old} carries other tags ({keep})",
            hints=["remove those tags by hand, or use a registry with OCI 1.1 tag deletion"],
        )
    try:
        target.delete_manifest(old)
    except RegistryError as exc:
        raise LifecycleError(
            f"{target.describe()} cannot delete the tags {', '.join(pending)}: {exc}",
            hints=["enable deletion on the registry (storage.delete.enabled for Distribution)"],
        ) from exc
    notes.append(
        f"this registry cannot delete a tag alone: deleted the old manifest {old} "
        f"to remove {', '.join(pending)}"
    )


def promote(
    target: Target, reference: str, status: str, *, message: str | None = None
) -> Promotion:
    """Move the skill at ``reference`` (tag or digest) one lifecycle step to ``status``."""
    try:
        desc, data = target.fetch_manifest(reference)
    except NotFound as exc:
        staged = [f"{reference}-{s}" for s in ("testing", "draft")]
        found = [t for t in staged if _digest_of(target, t)]
        if not found:
            raise
        raise NotFound(str(exc), hints=[f"a staged version is tagged {found[0]}"]) from None
    verify_bytes(data, desc.digest, "manifest")
    obj = parse_manifest(data)
    if "manifests" in obj and "layers" not in obj:
        raise LifecycleError(f"{reference} is an index (a collection); promote its skills")
    current = status_of(obj.get("annotations"))
    check_transition(current, status)
    if message is not None and status != "deprecated":
        raise LifecycleError("a deprecation message only goes with --to deprecated")
    version = _version_of(obj, reference)
    new_data = promoted_manifest(obj, status, message)
    tags_before = target.tags()
    new = target.push_manifest(new_data, desc.media_type, None)
    tagged: list[str] = []
    drop: list[str] = []
    tag = tag_for(version, status)
    if tag:
        target.tag(new, tag)
        tagged.append(tag)
    latest_was_old = "latest" in tags_before and _digest_of(target, "latest") == desc.digest
    if status == "published" and moves_latest(version, tags_before):
        target.tag(new, "latest")
        tagged.append("latest")
    elif status == "deprecated" and latest_was_old:
        target.tag(new, "latest")  # keep latest truthful about the state it points at
        tagged.append("latest")
    elif status == "archived":
        drop = [t for t in (version, "latest") if t in tags_before]
        if "latest" in drop and not latest_was_old:
            drop.remove("latest")
    notes: list[str] = []
    if drop:
        _drop_tags(target, desc.digest, drop, notes)
    return Promotion(
        version,
        current,
        status,
        desc.digest,
        new.digest,
        tuple(tagged),
        tuple(drop),
        tuple(notes),
    )
