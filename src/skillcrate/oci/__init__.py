"""OCI registry and image-layout clients behind one Target interface.

``open_target(ref)`` gives a ``RegistryRepository`` for ``host/repo`` references
and a ``LayoutRepository`` for ``oci:PATH`` references; transports (their auth
state, and which repositories hold which blobs, for cross-repository mounts) are
shared per registry host within a process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..reference import Reference
from .layout import LayoutRepository
from .model import Descriptor, Target
from .registry import RegistryRepository

__all__ = [
    "ClientOptions",
    "Descriptor",
    "LayoutRepository",
    "RegistryRepository",
    "Target",
    "open_target",
]


@dataclass(frozen=True)
class ClientOptions:
    plain_http: bool | None = None  # None: loopback → HTTP, else config, else HTTPS
    insecure: bool = False
    base_dir: Path | None = None  # relative oci: paths resolve against this folder


_transports: dict[tuple, object] = {}


def _transport(ref: Reference, options: ClientOptions):  # noqa: ANN202
    from ..config import registry_settings
    from .credentials import lookup
    from .transport import Transport

    settings = registry_settings(ref.registry)
    plain = options.plain_http
    if plain is None:
        plain = settings.plain_http if settings.plain_http is not None else ref.is_loopback
    insecure = options.insecure or settings.insecure
    verify: bool | str = False if insecure else (settings.ca_bundle or True)
    key = (ref.registry, plain, verify)
    if key not in _transports:
        host = ref.registry
        api_host = "registry-1.docker.io" if host == "docker.io" else host
        _transports[key] = Transport(
            api_host, plain_http=plain, verify=verify, credential=lambda: lookup(host)
        )
    return _transports[key]


def open_target(ref: Reference, options: ClientOptions | None = None) -> Target:
    options = options or ClientOptions()
    if ref.layout:
        path = Path(ref.repository)
        if not path.is_absolute() and options.base_dir is not None:
            path = options.base_dir / path
        return LayoutRepository(path)
    return RegistryRepository(_transport(ref, options), ref.repository)  # type: ignore[arg-type]


def reset_transports() -> None:
    """Forget cached transports and tokens (tests, or after credentials change)."""
    _transports.clear()
