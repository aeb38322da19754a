"""One repository reached through mirrors: try each in order, then the primary location.

What :mod:`skillcrate.registries` decides for a reference becomes a
:class:`MirroredRepository`: a :class:`~skillcrate.oci.target.Target` over the stores of
its endpoints. Reads go to the mirrors that serve the request (``digest-only`` mirrors
only what is asked for by digest, ``tag-only`` ones only tags) and then to the primary;
a store that is unreachable, refuses or lacks the content is skipped, and when every
store failed the primary's error is what the user sees. Writes (push, tag, referrers,
manifest deletion) go to the primary only: mirrors are read-only.

Nothing here trusts a mirror more than the registry: every manifest and blob is checked
against the digest that was asked for, by the stores themselves, and callers keep the
canonical reference for the lock, trust rules and signatures. Which host served what is
logged on ``skillcrate.oci.mirrored`` (shown with ``-v``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..digests import is_digest
from ..errors import AuthError, NotFound, RegistryError, RegistryUnreachable
from .model import BlobSource, Descriptor
from .target import ManifestDeleter, Target

log = logging.getLogger("skillcrate.oci.mirrored")
T = TypeVar("T")

# cosign's and OCI 1.1's digest-derived tags (sha256-<hex>, .sig, .att, .sbom): a request
# for one is a request by digest, so digest-only mirrors serve signatures too.
_DIGEST_TAG = re.compile(r"^sha256-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?$")

# Failures that send a read on to the next store: unreachable, refused, missing, 5xx.
_SKIP = (RegistryError, NotFound, AuthError)


class MirroredRepository:
    """A Target over ``stores``: ``(name, store, serves)`` with the primary last."""

    def __init__(
        self, canonical: str, stores: Sequence[tuple[str, Target, Callable[[bool], bool]]]
    ) -> None:
        self.canonical = canonical
        self._stores = list(stores)
        self.primary = stores[-1][1]
        self._down: set[str] = set()  # mirrors found unreachable: not asked again
        self._down_lock = threading.Lock()

    def describe(self) -> str:
        return self.primary.describe()

    def _read(self, by_digest: bool, what: str, fn: Callable[[Target], T]) -> T:
        last: Exception | None = None
        for name, store, serves in self._stores:
            if not serves(by_digest) or (name in self._down and store is not self.primary):
                continue
            try:
                result = fn(store)
            except _SKIP as exc:
                log.info("%s: %s from %s failed: %s", self.canonical, what, name, exc)
                if isinstance(exc, RegistryUnreachable):
                    with self._down_lock:
                        self._down.add(name)
                last = exc
                continue
            kind = "primary" if store is self.primary else "mirror"
            log.info("%s: %s served by %s %s", self.canonical, what, kind, name)
            return result
        assert last is not None  # the primary always serves
        raise last

    # reads ----------------------------------------------------------------------------

    def resolve(self, reference: str) -> Descriptor:
        return self._read(
            _by_digest(reference), f"resolve {reference}", lambda s: s.resolve(reference)
        )

    def fetch_manifest(self, reference: str) -> tuple[Descriptor, bytes]:
        return self._read(
            _by_digest(reference), f"manifest {reference}", lambda s: s.fetch_manifest(reference)
        )

    def iter_blob(self, desc: Descriptor) -> Iterator[bytes]:
        """The blob from the first store that starts sending it (a failure after the first
        chunk is the caller's: the bytes so far cannot be taken back)."""

        def first(store: Target) -> tuple[Iterator[bytes], bytes | None]:
            chunks = iter(store.iter_blob(desc))
            return chunks, next(chunks, None)

        chunks, head = self._read(True, f"blob {desc.digest}", first)
        if head is not None:
            yield head
            yield from chunks

    def blob_exists(self, desc: Descriptor) -> bool:
        return self._read(True, f"blob {desc.digest}", lambda s: s.blob_exists(desc))

    def tags(self) -> list[str]:
        return self._read(False, "tags", lambda s: s.tags())

    def referrers(self, desc: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        return self._read(
            True, f"referrers of {desc.digest}", lambda s: s.referrers(desc, artifact_type)
        )

    # writes: the primary only ---------------------------------------------------------

    def push_blob(self, desc: Descriptor, source: BlobSource) -> None:
        self.primary.push_blob(desc, source)

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> Descriptor:
        return self.primary.push_manifest(data, media_type, tag)

    def tag(self, desc: Descriptor, tag: str) -> None:
        self.primary.tag(desc, tag)

    def untag(self, tag: str) -> None:
        self.primary.untag(tag)

    def push_referrer(self, data: bytes, media_type: str, subject: Descriptor) -> Descriptor:
        return self.primary.push_referrer(data, media_type, subject)

    def delete_manifest(self, digest: str) -> None:
        """Delete on the primary (``promote`` falls back to it where tags cannot be
        deleted alone); RegistryError when the primary cannot delete manifests."""
        if not isinstance(self.primary, ManifestDeleter):
            raise RegistryError(f"{self.primary.describe()} cannot delete manifests")
        self.primary.delete_manifest(digest)


def _by_digest(reference: str) -> bool:
    return is_digest(reference) or _DIGEST_TAG.match(reference) is not None
