"""Publisher operations: push a packed skill to a Target; pull a skill into a folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .._fs import temp_path
from ..cache import Cache
from ..errors import LifecycleError, NotFound, ProjectError
from ..fetch import FetchedSkill, unpack_to
from ..formats import Packed
from ..oci.model import Descriptor
from ..oci.target import Target
from ..reference import Reference


def push_packed(target: Target, packed: Packed, tags: Sequence[str]) -> Descriptor:
    """Push blobs (skipping those present), then the manifest under each tag."""
    for blob in (packed.config, *packed.layers):
        target.push_blob(blob, packed.blobs[blob.digest])
    pushed = [target.push_manifest(packed.manifest, packed.media_type, tag) for tag in tags]
    return pushed[-1] if pushed else target.push_manifest(packed.manifest, packed.media_type)


def existing_tags(target: Target) -> list[str]:
    """The repository's tags; none when it does not exist yet."""
    try:
        return target.tags()
    except NotFound:
        return []


def push_skill(
    target: Target,
    packed: Packed,
    version_tag: str,
    *,
    status: str = "published",
    extra_tags: Sequence[str] = (),
    force: bool = False,
) -> tuple[Descriptor, list[str]]:
    """Push with the tags ``status`` calls for (``<ver>-draft``, ``<ver>`` + ``latest``, ...)."""
    from ..states import push_tags

    existing = existing_tags(target)
    tags = push_tags(version_tag, status, existing)
    tags += [t for t in extra_tags if t not in tags]
    if not force:
        _refuse_moving_versions(target, packed, [t for t in tags if t in existing])
    return push_packed(target, packed, tags), tags


def _refuse_moving_versions(target: Target, packed: Packed, present: Sequence[str]) -> None:
    """A published version is immutable (npm refuses to republish one): a version tag that
    already names other content is not moved without ``force``. Re-pushing the same
    content is fine (the same digest)."""
    from ..versions import parse_semver

    for tag in present:
        if parse_semver(tag) is None:
            continue  # latest, stable, …: tags that are meant to move
        current = target.resolve(tag).digest
        if current != packed.digest:
            raise LifecycleError(
                f"{target.describe()}:{tag} already holds other content ({current}); "
                "a published version is not changed",
                hints=["publish a new version, or pass --force to move the tag anyway"],
            )


def pull_to(
    target: Target,
    ref: Reference,
    cache: Cache,
    output: Path | None,
    *,
    name: str | None = None,
    force: bool = False,
) -> tuple[FetchedSkill, Path]:
    """Fetch ``ref`` and write the skill to ``output`` or ./<name>: every layer verified as
    it streams straight into a staging folder, then swapped in (manifests are cached,
    layers are not: the payload is written once)."""
    if output is not None:
        _refuse_existing(Path(output), force)
    base = Path(output) if output else Path.cwd() / (ref.last_segment or "skill")
    base.parent.mkdir(parents=True, exist_ok=True)
    staging = temp_path(base)
    aside = None
    try:
        fetched = unpack_to(
            target,
            ref.reference or "latest",
            cache,
            staging,
            fallback_name=ref.last_segment,
            name=name,
        )
        dest = Path(output) if output else Path.cwd() / fetched.name
        if output is None:
            _refuse_existing(dest, force)
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            aside = temp_path(dest)
            os.rename(dest, aside)
        os.rename(staging, dest)
    except BaseException:
        if aside is not None and not dest.exists():
            os.rename(aside, dest)
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return replace(fetched, root=dest), dest


def _refuse_existing(dest: Path, force: bool) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not force:
        raise ProjectError(f"{dest} already exists and is not empty (use --force to replace it)")
