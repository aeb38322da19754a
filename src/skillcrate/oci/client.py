"""The registry client a command owns: options, and one transport per registry host.

A :class:`Client` opens :class:`~skillcrate.oci.model.Target` objects for references.
Registry targets of one client share a transport per (host, scheme, TLS settings), so a
token fetched once serves every repository of that host and a blob seen in one repository
can be mounted into another. The client is owned by its caller (one per command); there is
no process-wide cache. Transports guard their auth state with a lock, so one client may be
used by the threads of an install.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..reference import Reference
from .target import Target

if TYPE_CHECKING:
    from .target import Meter
    from .transport import Transport


@dataclass(frozen=True)
class ClientOptions:
    plain_http: bool | None = None  # None: loopback → HTTP, else config, else HTTPS
    insecure: bool = False
    base_dir: Path | None = None  # relative oci: paths resolve against this folder
    timeout: float | None = None  # read timeout in seconds (--timeout); None: env, config
    meter: Meter | None = None  # where download progress goes (None: nowhere)


class Client:
    """Opens targets for references; owns the transports (auth state, blob locations)."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions()
        self._transports: dict[tuple[str, bool, bool | str], Transport] = {}
        self._lock = threading.Lock()

    def open(
        self, ref: Reference, base_dir: Path | None = None, *, deferred: bool = False
    ) -> Target:
        """The store for ``ref``: a registry repository, or an ``oci:`` layout folder.

        A relative layout path resolves against ``base_dir``, else the options' folder.
        ``deferred``: a registry repository is made (and the HTTP stack imported) only when
        first used, so an install served from the cache never loads it.
        """
        if ref.layout:
            from .layout import LayoutRepository

            path = Path(ref.repository)
            base = base_dir if base_dir is not None else self.options.base_dir
            if not path.is_absolute() and base is not None:
                path = base / path
            return LayoutRepository(path)
        if deferred:
            return cast(Target, _Deferred(self, ref))
        return self._registry(ref)

    def _registry(self, ref: Reference) -> Target:
        from .registry import RegistryRepository

        return RegistryRepository(self.transport(ref), ref.repository)

    def transport(self, ref: Reference) -> Transport:
        """The transport for ``ref``'s registry host (created on first use)."""
        from ..config import registry_settings

        settings = registry_settings(ref.registry)
        plain = self.options.plain_http
        if plain is None:
            plain = settings.plain_http if settings.plain_http is not None else ref.is_loopback
        insecure = self.options.insecure or settings.insecure
        verify: bool | str = False if insecure else (settings.ca_bundle or True)
        key = (ref.registry, plain, verify)
        with self._lock:
            found = self._transports.get(key)
            if found is None:
                from .transport import timeouts

                limits = timeouts(
                    settings.connect_timeout, settings.read_timeout, flag=self.options.timeout
                )
                found = self._transports[key] = _new_transport(
                    ref.registry, plain, verify, limits, self.options.meter
                )
            return found


class _Deferred:
    """A registry repository that is opened on first use (see :meth:`Client.open`)."""

    def __init__(self, client: Client, ref: Reference) -> None:
        self._client, self._ref = client, ref
        self._real: Target | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"{api_host(self._ref.registry)}/{self._ref.repository}"

    def __getattr__(self, name: str) -> object:
        with self._lock:
            if self._real is None:
                self._real = self._client._registry(self._ref)
        return getattr(self._real, name)


def api_host(host: str) -> str:
    """Where a registry's API lives: Docker Hub's name is not its API host."""
    return "registry-1.docker.io" if host == "docker.io" else host


def _new_transport(
    host: str,
    plain: bool,
    verify: bool | str,
    limits: tuple[float, float],
    meter: Meter | None,
) -> Transport:
    from .credentials import lookup
    from .transport import Transport

    return Transport(
        api_host(host),
        plain_http=plain,
        verify=verify,
        credential=lambda: lookup(host),
        timeout=limits,
        meter=meter,
    )


def open_target(ref: Reference, options: ClientOptions | None = None) -> Target:
    """``Client(options).open(ref)``: a target with transports of its own."""
    return Client(options).open(ref)
