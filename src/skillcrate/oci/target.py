"""What a store of OCI content can do, as small protocols (the shape of oras-go's).

A function asks for the least it needs: fetching needs a :class:`Fetcher`, publishing a
:class:`Pusher`, listing versions a :class:`TagLister`. :class:`Target` is everything a
registry repository and an ``oci:`` layout both offer. Optional capabilities that only
some stores have (deleting a manifest; telling whether the store exists at all) are
``runtime_checkable`` protocols, tested with ``isinstance``: never reached by ``getattr``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from .model import BlobSource, Descriptor


class Fetcher(Protocol):
    """Read manifests and blobs. Blobs arrive digest-verified chunk by chunk."""

    def describe(self) -> str: ...
    def resolve(self, reference: str) -> Descriptor: ...
    def fetch_manifest(self, reference: str) -> tuple[Descriptor, bytes]: ...
    def iter_blob(self, desc: Descriptor) -> Iterator[bytes]: ...
    def blob_exists(self, desc: Descriptor) -> bool: ...


class Pusher(Protocol):
    """Write blobs and manifests (a manifest optionally under a tag)."""

    def describe(self) -> str: ...
    def blob_exists(self, desc: Descriptor) -> bool: ...
    def push_blob(self, desc: Descriptor, source: BlobSource) -> None: ...
    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor: ...


class TagLister(Protocol):
    def tags(self) -> list[str]: ...


class Tagger(TagLister, Protocol):
    def tag(self, desc: Descriptor, tag: str) -> None: ...
    def untag(self, tag: str) -> None: ...


class ReferrerStore(Protocol):
    """OCI 1.1 referrers: the API where the store has it, else the tag-schema fallback."""

    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> list[Descriptor]: ...
    def push_referrer(self, data: bytes, media_type: str, subject: Descriptor) -> Descriptor: ...


class Meter(Protocol):
    """Where byte progress of transfers goes (the CLI draws it on a terminal).

    ``key`` tells concurrent transfers apart (a blob digest, an upload URL); ``label``
    names the transfer for a person; ``total`` is the size in bytes (-1: unknown);
    ``upload``: bytes going to the registry, not coming from it. Called from download
    threads: implementations lock.
    """

    def begin(self, key: str, label: str, total: int, *, upload: bool = False) -> None: ...
    def advance(self, key: str, n: int) -> None: ...
    def end(self, key: str) -> None: ...
    def note(self, text: str) -> None:
        """A line worth saying while the user waits (a registry that does not answer)."""


class Target(Fetcher, Pusher, Tagger, ReferrerStore, Protocol):
    """One repository: a registry repository or an OCI image layout."""


@runtime_checkable
class ManifestDeleter(Protocol):
    """Stores that can delete a manifest by digest (registries; not layouts)."""

    def delete_manifest(self, digest: str) -> None: ...


@runtime_checkable
class Existence(Protocol):
    """Stores that can tell whether they exist without a request (layout folders)."""

    def exists(self) -> bool: ...
