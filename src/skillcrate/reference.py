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

import functools
import re
from dataclasses import dataclass, replace

from . import digests
from ._json import text_problem
from .errors import InvalidReference
from .names import TAG_RE

DEFAULT_REGISTRY = "docker.io"
DOCKER_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_REPO_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST_RE = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[^\s/:@\[\]]+)(?::[0-9]+)?$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")
_CANONICAL_LOOPBACK = "127.0.0.1"


def is_digest(text: str) -> bool:
    return digests.is_digest(text)


def check_digest(text: str) -> str:
    return digests.check_digest(text, error=InvalidReference)


def _split_port(host: str) -> tuple[str, str]:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1], host[end + 2 :] if end >= 0 and host[
            end + 1 : end + 2
        ] == ":" else ""
    name, sep, port = host.rpartition(":")
    return (name, port) if sep and port.isdigit() else (host, "")


def clean_host(host: str) -> str:
    """A registry host as contacted: lowercase, IDNA, no trailing dot, port without zeros.

    ``GHCR.IO`` → ``ghcr.io``, ``127.0.0.1:05000`` → ``127.0.0.1:5000``; Docker Hub's
    aliases become ``docker.io``. Loopback spellings are kept (credentials are stored
    per spelling); :func:`canonical_host` folds those too.
    """
    name, port = _split_port(host.strip())
    name = name.lower().rstrip(".")
    if name and not name.startswith("[") and not name.isascii():  # the idna codec loads slowly
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    if name in DOCKER_ALIASES and not port:
        name = DEFAULT_REGISTRY
    return f"{name}:{int(port)}" if port else name


def canonical_host(host: str) -> str:
    """The identity of a registry host for trust decisions: every spelling of one host alike.

    On top of :func:`clean_host`: default ports (80, 443) dropped, IP literals in any
    form (``127.1``, ``0x7f.0.0.1``, ``[::1]``) written the standard way, and
    ``localhost``/``::1`` read as ``127.0.0.1``.
    """
    import ipaddress

    name, port = _split_port(clean_host(host))
    if port in ("80", "443"):
        port = ""
    bare = name[1:-1] if name.startswith("[") else name
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(bare)
    except ValueError:
        import socket

        try:
            ip = ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(bare)))
        except (OSError, ValueError):
            ip = None  # type: ignore[assignment]
    if bare == "localhost" or (
        ip is not None and ip.version == 6 and ip == ipaddress.ip_address("::1")
    ):
        name = _CANONICAL_LOOPBACK
    elif ip is not None:
        ip4 = getattr(ip, "ipv4_mapped", None) or ip
        name = str(ip4) if ip4.version == 4 else f"[{ip4.compressed}]"
    return f"{name}:{port}" if port else name


@functools.lru_cache(maxsize=4096)  # a pure function of the text
def canonical_name(text: str) -> str:
    """The trust identity of a source or pattern: ``host/repository`` or ``oci:PATH``.

    Works on glob patterns too (``ghcr.io/acme/*``): a host part holding glob characters
    is only lowercased. Paths of ``oci:`` layouts are normalised (``./a//b`` → ``a/b``).
    """
    import posixpath

    text = text.strip()
    if text.startswith("oci:"):
        path = text[4:] or "."
        norm = posixpath.normpath(path)
        return f"oci:{norm}"
    text = text.split("@", 1)[0]
    head, slash, last = text.rpartition("/")
    if slash and ":" in last:  # a tag: the identity is the repository
        text = f"{head}/{last.split(':', 1)[0]}"
    first, sep, rest = text.partition("/")
    hostish = sep and (
        "." in first or ":" in first or first in ("localhost",) or first.startswith("[")
    )
    if not hostish:
        repo = text.lower().split(":", 1)[0]
        if "/" not in repo and not any(c in repo for c in "*?["):
            repo = f"library/{repo}"
        return f"{DEFAULT_REGISTRY}/{repo}"
    globbed = "*" in first or "?" in first or "[" in first.lstrip("[")
    host = first.lower() if globbed else canonical_host(first)
    if host in DOCKER_ALIASES:
        host = DEFAULT_REGISTRY
    return f"{host}/{rest.lower()}"


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
        return _parse(text)

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
    def policy_name(self) -> str:
        """:func:`canonical_name` of this reference: what trust rules are matched against."""
        return canonical_name(self.name)

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


@functools.lru_cache(maxsize=4096)  # a pure function of the text; References are frozen
def _parse(text: str) -> Reference:
    text = text.strip()
    if not text:
        raise InvalidReference("empty reference")
    if text.startswith("oci:"):
        return _parse_layout(text)
    return _parse_registry(text)


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
            if not TAG_RE.match(maybe_tag):
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
        if not TAG_RE.match(tag):
            raise InvalidReference(f"invalid tag {tag!r} in {original!r}")
    parts = text.split("/")
    first = parts[0]
    if len(parts) > 1 and (
        "." in first or ":" in first or first.lower() == "localhost" or first.startswith("[")
    ):
        if not _HOST_RE.match(first):
            raise InvalidReference(f"invalid reference {original!r}: bad registry host {first!r}")
        registry, repo_parts = clean_host(first), parts[1:]
    else:
        registry, repo_parts = DEFAULT_REGISTRY, parts
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


def source_problem(source: object) -> str | None:
    """Why ``source`` (a skills.json ``source``) is not a reference, or None."""
    return text_problem(source, Reference.parse, InvalidReference)
