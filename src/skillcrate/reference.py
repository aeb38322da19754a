"""Parse OCI references: registry references and ``oci:`` image-layout paths.

Grammar (registry)::

    [registry "/"] repository [":" tag] ["@" algorithm ":" hex]

- ``registry`` is the first path segment when it contains ``.`` or ``:`` or is
  ``localhost``; otherwise the registry is ``docker.io`` (and a one-segment
  repository gets ``library/``).
- ``repository`` is lowercase ``[a-z0-9]+`` segments joined by ``.``, ``_``, ``__``
  or ``-`` runs, separated by ``/``.
- ``tag`` is ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``.

Grammar (layout)::

    "oci:" PATH [":" tag | "@" digest]

PATH is a folder holding (or to hold) an OCI image layout; the layout is one
repository whose ``index.json`` entries carry ``org.opencontainers.image.ref.name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .errors import InvalidReference

DEFAULT_REGISTRY = "docker.io"
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_SHA256_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")


def is_digest(text: str) -> bool:
    return bool(_SHA256_RE.match(text))


def check_digest(text: str) -> str:
    if not _DIGEST_RE.match(text):
        raise InvalidReference(f"invalid digest {text!r}: expected sha256:<64 hex characters>")
    if text.startswith("sha256:") and not _SHA256_RE.match(text):
        raise InvalidReference(f"invalid digest {text!r}: expected sha256:<64 hex characters>")
    return text


@dataclass(frozen=True)
class Reference:
    """A reference to a manifest in a registry repository or an OCI layout."""

    registry: str  # "docker.io", "ghcr.io", "127.0.0.1:5000"; "" for a layout
    repository: str  # "acme/skills/review"; for a layout, the folder path as given
    tag: str | None = None
    digest: str | None = None
    layout: bool = False

    @classmethod
    def parse(cls, text: str) -> Reference:
        text = text.strip()
        if not text:
            raise InvalidReference("empty reference")
        if text.startswith("oci:"):
            return _parse_layout(text)
        return _parse_registry(text)

    @property
    def reference(self) -> str | None:
        """The digest if set, else the tag (what goes in ``/manifests/<reference>``)."""
        return self.digest or self.tag

    @property
    def is_loopback(self) -> bool:
        host = (
            self.registry.rsplit(":", 1)[0]
            if not self.registry.startswith("[")
            else (self.registry.split("]")[0] + "]")
        )
        return host in _LOOPBACK or host.startswith("127.")

    @property
    def name(self) -> str:
        """Registry/repository (or ``oci:PATH``) without tag or digest."""
        if self.layout:
            return f"oci:{self.repository}"
        return f"{self.registry}/{self.repository}"

    @property
    def last_segment(self) -> str:
        return self.repository.rstrip("/").rsplit("/", 1)[-1]

    def with_tag(self, tag: str | None) -> Reference:
        """This reference with ``tag`` and no digest (``None``: the bare repository)."""
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str | None) -> Reference:
        return replace(self, digest=digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _parse_layout(text: str) -> Reference:
    rest = text[len("oci:") :]
    digest = None
    tag = None
    if "@" in rest:
        rest, digest = rest.rsplit("@", 1)
        check_digest(digest)
    # a tag is the part after the last ':' when it cannot be part of a path
    if ":" in rest:
        head, maybe_tag = rest.rsplit(":", 1)
        if maybe_tag and "/" not in maybe_tag and "\\" not in maybe_tag and head:
            if not _TAG_RE.match(maybe_tag):
                raise InvalidReference(f"invalid tag {maybe_tag!r} in {text!r}")
            rest, tag = head, maybe_tag
    if not rest:
        raise InvalidReference(f"invalid layout reference {text!r}: missing path (oci:PATH[:tag])")
    return Reference(registry="", repository=rest, tag=tag, digest=digest, layout=True)


def _parse_registry(text: str) -> Reference:
    original = text
    if "://" in text:
        raise InvalidReference(
            f"invalid reference {original!r}: drop the scheme (use host/repo:tag)",
        )
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        check_digest(digest)
    tag = None
    last_slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > last_slash:
        text, tag = text[:colon], text[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid tag {tag!r} in {original!r}")
    parts = text.split("/")
    first = parts[0]
    if len(parts) > 1 and (
        "." in first or ":" in first or first == "localhost" or first.startswith("[")
    ):
        registry, repo_parts = first, parts[1:]
    else:
        registry, repo_parts = DEFAULT_REGISTRY, parts
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and len(repo_parts) == 1:
        repo_parts = ["library", *repo_parts]
    for comp in repo_parts:
        if not _REPO_COMPONENT.match(comp):
            raise InvalidReference(
                f"invalid reference {original!r}: repository path component {comp!r} must be "
                "lowercase letters, digits and separators (. _ __ -)",
            )
    repository = "/".join(repo_parts)
    if len(registry) + 1 + len(repository) > 255:
        raise InvalidReference(f"invalid reference {original!r}: name longer than 255 characters")
    return Reference(registry=registry, repository=repository, tag=tag, digest=digest)
