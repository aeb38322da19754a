"""Copy pinned skills, and everything that vouches for them, to another store.

What ``skillcrate mirror DEST`` does for each skill (``skopeo sync`` for skills): the
manifest by digest with every blob and child manifest it names, the tags the lock
names, every referrer of it (Sigstore bundles, attestations, SBOMs; found through the
referrers API or the ``sha256-<hex>`` tag-schema fallback, and kept findable the same
way at the destination) and cosign's legacy ``sha256-<hex>.sig`` / ``.att`` / ``.sbom``
tags. Digests are identical at the destination, so the same lock installs from it.

Nothing is written twice: a manifest the destination already has is not pushed again
(nor is anything below it: registries and layouts only hold a manifest once what it
names is there), a blob it has is not uploaded (a HEAD; a cross-repository mount where
the registry allows), a tag that already points at the digest is left alone. Bytes
pass through the cache, verified, on their way.

Where a repository goes: ``DEST/<repository>`` (the source's repository path without
its registry host, as ``skopeo sync`` does), for a registry prefix or an ``oci:``
folder (one OCI image layout per repository below it). A mirror of ``ghcr.io/acme/x``
at ``airgap.internal/skills`` is then named by ``prefix = "ghcr.io"`` with
``location = "airgap.internal/skills"`` in a registries.conf mirror.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..digests import digest_hex, verify_bytes
from ..errors import FormatError, NotFound
from ..oci.copy import BlobStaging, copy_blob, referenced
from ..oci.model import OCI_INDEX, Descriptor, parse_manifest
from ..oci.target import Target

MAX_DEPTH = 4  # index → index → manifest, and a referrer of a referrer
LEGACY_SUFFIXES = (".sig", ".att", ".sbom")


@dataclass
class Copied:
    """What one mirror run wrote for a skill (all zero: it was already there)."""

    manifests: int = 0
    blobs: int = 0
    referrers: int = 0
    tags: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.manifests or self.blobs or self.referrers or self.tags)

    def summary(self) -> str:
        if self.nothing:
            return "up to date"
        parts = [
            f"{n} {word}{'' if n == 1 else 's'}"
            for n, word in (
                (self.manifests, "manifest"),
                (self.blobs, "blob"),
                (self.referrers, "referrer"),
            )
            if n
        ]
        if self.tags:
            parts.append("tags " + ", ".join(self.tags))
        return ", ".join(parts) + " copied"

    def to_json(self) -> dict[str, object]:
        return {
            "manifests": self.manifests,
            "blobs": self.blobs,
            "referrers": self.referrers,
            "tags": list(self.tags),
        }


def has_manifest(store: Target, reference: str) -> Descriptor | None:
    try:
        return store.resolve(reference)
    except NotFound:
        return None


class _Copier:
    def __init__(self, source: Target, dest: Target, staging: BlobStaging) -> None:
        self.source, self.dest, self.staging = source, dest, staging
        self.copied = Copied()

    def fetch(self, reference: str, digest: str | None = None) -> tuple[Descriptor, bytes]:
        desc, data = self.source.fetch_manifest(reference)
        verify_bytes(data, digest or desc.digest, "manifest")
        return desc, data

    def tree(
        self,
        desc: Descriptor,
        data: bytes,
        depth: int = 0,
        *,
        subject: Descriptor | None = None,
    ) -> bool:
        """Copy the manifest ``data`` and all it names unless the destination has it;
        whether it was pushed. With ``subject`` it is pushed as a referrer of it (so the
        destination's fallback index lists it where there is no referrers API)."""
        if depth > MAX_DEPTH:
            raise FormatError(f"{self.source.describe()}: manifests nested deeper than {MAX_DEPTH}")
        if has_manifest(self.dest, desc.digest) is not None:
            return False
        obj = parse_manifest(data, f"{self.source.describe()}@{desc.digest}")
        blobs, children = referenced(obj)
        for child in children:
            _, child_data = self.fetch(child.digest, child.digest)
            self.tree(child, child_data, depth + 1)
        for blob in blobs:
            if copy_blob(self.source, self.dest, blob, self.staging):
                self.copied.blobs += 1
        if subject is not None:
            self.dest.push_referrer(
                data, desc.media_type or str(obj.get("mediaType") or ""), subject
            )
            self.copied.referrers += 1
        else:
            media_type = desc.media_type or str(obj.get("mediaType") or OCI_INDEX)
            self.dest.push_manifest(data, media_type, None)
            self.copied.manifests += 1
        return True

    def tag(self, desc: Descriptor, tag: str) -> None:
        there = has_manifest(self.dest, tag)
        if there is None or there.digest != desc.digest:
            self.dest.tag(desc, tag)
            self.copied.tags.append(tag)

    def referrers(self, subject: Descriptor, depth: int = 0) -> None:
        """Every referrer of ``subject`` (and theirs), pushed as referrers at the destination."""
        if depth > 1:
            return
        for found in self.source.referrers(subject):
            desc, data = self.fetch(found.digest, found.digest)
            self.tree(desc, data, subject=subject)
            self.referrers(desc, depth + 1)

    def legacy(self, subject: Descriptor) -> None:
        """cosign's tag-based signatures, attestations and SBOMs of ``subject``."""
        stem = f"sha256-{digest_hex(subject.digest)}"
        for suffix in LEGACY_SUFFIXES:
            try:
                desc, data = self.fetch(stem + suffix)
            except NotFound:
                continue
            if self.tree(desc, data):
                self.copied.referrers += 1
            self.tag(desc, stem + suffix)


def mirror_skill(
    source: Target,
    dest: Target,
    digest: str,
    tags: list[str],
    staging: BlobStaging,
    *,
    report: Callable[[str], None] = lambda _text: None,
) -> Copied:
    """Copy the manifest ``digest`` of ``source`` with its blobs, ``tags``, referrers and
    legacy signature tags to ``dest``; what was written."""
    copier = _Copier(source, dest, staging)
    report(f"copying {source.describe()}@{digest[:19]} to {dest.describe()}")
    desc, data = copier.fetch(digest, digest)
    copier.tree(desc, data)
    for tag in tags:
        copier.tag(desc, tag)
    copier.referrers(desc)
    copier.legacy(desc)
    return copier.copied
