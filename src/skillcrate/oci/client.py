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
    from collections.abc import Callable

    from ..registries import Endpoint, Rule
    from .credentials import Credential
    from .target import Meter
    from .transport import Transport


@dataclass(frozen=True)
class ClientOptions:
    """The command line's transport choices for every target a Client opens."""

    plain_http: bool | None = None  # None: loopback → HTTP, else config, else HTTPS
    insecure: bool = False
    base_dir: Path | None = None  # relative oci: paths resolve against this folder
    timeout: float | None = None  # read timeout in seconds (--timeout); None: env, config
    meter: Meter | None = None  # where download progress goes (None: nowhere)


class Client:
    """Opens targets for references; owns the transports (auth state, blob locations)."""

    def __init__(self, options: ClientOptions | None = None) -> None:
        self.options = options or ClientOptions()
        self._transports: dict[tuple[str, bool, bool | str, bool], Transport] = {}
        self._rules: list[Rule] | None = None
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
        """The registry repository of ``ref``, through its mirrors and rewrites if
        registries.conf (or config.toml) has a rule for it; refused when it is blocked."""
        from .. import registries
        from .registry import RegistryRepository

        rule, points = registries.endpoints(self.rules(), ref.name)
        if rule is None:
            return RegistryRepository(self.transport(ref), ref.repository)
        if rule.blocked:
            from ..errors import RegistryError

            raise RegistryError(
                f"{ref.name}: registry {rule.prefix} is blocked (by {rule.source})",
                hints=["ask whoever manages that file, or use another source"],
            )
        stores = [(p.name, self.endpoint(p), p.serves) for p in points]
        if len(stores) == 1 and points[0].name == ref.name and not points[0].insecure:
            return stores[0][1]
        from .mirrored import MirroredRepository

        return cast(Target, MirroredRepository(ref.name, stores))

    def rules(self) -> list[Rule]:
        """The mirror and rewrite rules (read once per client)."""
        with self._lock:
            if self._rules is None:
                from ..registries import load_rules

                self._rules = load_rules()
            return self._rules

    def endpoint(self, point: Endpoint) -> Target:
        """The store of one endpoint registries.conf names (a registry or an oci: layout)."""
        if point.layout:
            from .layout import LayoutRepository

            return LayoutRepository(Path(point.name[len("oci:") :]))
        from ..reference import clean_host
        from .registry import RegistryRepository

        host, _, repository = point.name.partition("/")
        ref = Reference(registry=clean_host(host), repository=repository)
        return RegistryRepository(self.transport(ref, insecure=point.insecure), repository)

    def transport(self, ref: Reference, *, insecure: bool = False) -> Transport:
        """The transport for ``ref``'s registry host (created on first use).

        ``insecure``: registries.conf's ``insecure = true`` for this endpoint: TLS is not
        verified, and an endpoint that answers plain HTTP is spoken to over HTTP.
        """
        plain, verify, limits = self._settings(ref, insecure)
        key = (ref.registry, plain, verify, insecure)
        with self._lock:
            found = self._transports.get(key)
            if found is None:
                found = self._transports[key] = _new_transport(
                    ref.registry, plain, verify, limits, self.options.meter, insecure
                )
            return found

    def _settings(
        self, ref: Reference, insecure: bool = False
    ) -> tuple[bool, bool | str, tuple[float, float]]:
        """(plain HTTP, TLS verification, timeouts) for ``ref``'s host: flags, then config."""
        from ..config import registry_settings
        from .transport import timeouts

        settings = registry_settings(ref.registry)
        plain = self.options.plain_http
        if plain is None:
            plain = settings.plain_http if settings.plain_http is not None else ref.is_loopback
        insecure = insecure or self.options.insecure or settings.insecure
        verify: bool | str = False if insecure else (settings.ca_bundle or True)
        limits = timeouts(
            settings.connect_timeout, settings.read_timeout, flag=self.options.timeout
        )
        return plain, verify, limits

    def check_login(self, host: str, credential: Credential) -> None:
        """Answer ``host``'s challenge with ``credential`` alone (Basic, or a Bearer token
        with no scope, as ``docker login`` does); AuthError when it is rejected."""
        from ..reference import clean_host
        from .transport import raise_for_status

        ref = Reference(registry=clean_host(host), repository="")
        plain, verify, limits = self._settings(ref)
        transport = _new_transport(
            ref.registry, plain, verify, limits, None, credential=lambda: credential
        )  # a transport of its own: never one that already holds a saved login
        resp = transport.request("GET", "/v2/")
        try:
            raise_for_status(resp, f"registry {ref.registry}")
        finally:
            resp.close()


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
    http_fallback: bool = False,
    credential: Callable[[], Credential | None] | None = None,
) -> Transport:
    """A transport for ``host``: credentials from Docker's and Podman's files unless
    ``credential`` is given (``login`` checks the one typed in)."""
    from .credentials import lookup
    from .transport import Transport

    return Transport(
        api_host(host),
        plain_http=plain,
        verify=verify,
        credential=credential or (lambda: lookup(host)),
        timeout=limits,
        meter=meter,
        http_fallback=http_fallback,
    )


def open_target(ref: Reference, options: ClientOptions | None = None) -> Target:
    """``Client(options).open(ref)``: a target with transports of its own."""
    return Client(options).open(ref)
