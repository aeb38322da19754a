"""HTTP to one registry host (on :mod:`.httpclient`): auth challenges, token cache, bounded retries.

- Every request has a timeout (connect 2.5 s, read 30 s).
- Retries only for connection errors, 429 and 5xx; at most 3 attempts with short
  backoff, so a dead registry is reported in well under 10 seconds.
- Auth answers the registry's ``WWW-Authenticate`` challenge. Basic: credentials
  are sent up front on every later request. Bearer: tokens are cached per
  (realm, service, scope), refreshed on expiry or ``insufficient_scope``; a push
  asks for ``pull,push``. Identity tokens use the OAuth2 refresh-token grant.
- :mod:`.httpclient`'s exceptions are translated here and never leave ``oci/``.

Credentials stay with their registry (containerd's ``docker.Authorizer`` and oras-go's
``auth.Client`` rule, including oras-go's GHSA-xf85-363p-868w fix): they are sent only to
the registry's own origin and to the token realm its challenge names; a realm must use
HTTPS when the registry does, and may not be a loopback, link-local or private IP
literal unless that is the registry's own host. Redirects are followed here (at most
:data:`MAX_REDIRECTS`), and a request to any other origin — a redirect target, a
``Link: rel=next`` page, an upload ``Location`` — carries no ``Authorization`` and never
answers a challenge. Token responses are bounded, parsed and checked (a token is one
line of printable ASCII), never passed on as they came.

Every body is read with a bound (:func:`read_limited`): error bodies
(:data:`MAX_ERROR_BODY`), token responses, and what the registry module reads.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urljoin, urlsplit

from .. import _json
from ..errors import AuthError, FormatError, NotFound, RegistryError, RegistryUnreachable
from ..text import one_line
from . import httpclient
from .credentials import Credential
from .model import BlobSource, open_source

if TYPE_CHECKING:
    from .target import Meter

log = logging.getLogger("skillcrate.oci")

CONNECT_TIMEOUT = 2.5
READ_TIMEOUT = 30.0


def timeouts(
    connect: float | None = None, read: float | None = None, *, flag: float | None = None
) -> tuple[float, float]:
    """(connect, read) seconds. The read timeout: ``--timeout`` (``flag``), else
    ``SKILLCRATE_READ_TIMEOUT``, else config.toml's ``read_timeout`` (``read``), else 30 s;
    the connect timeout the same way (no flag), else 2.5 s. A registry that accepts and
    never answers fails after the read timeout (times the retries)."""
    import os

    def value(name: str, configured: float | None, default: float) -> float:
        try:
            seconds = float(os.environ.get(name, ""))
        except ValueError:
            seconds = 0
        if seconds > 0:
            return seconds
        return configured if configured and configured > 0 else default

    read_s = flag if flag and flag > 0 else value("SKILLCRATE_READ_TIMEOUT", read, READ_TIMEOUT)
    return value("SKILLCRATE_CONNECT_TIMEOUT", connect, CONNECT_TIMEOUT), read_s


ATTEMPTS = 3
USER_AGENT = "skillcrate/0.1"
MAX_REDIRECTS = 5
MAX_ERROR_BODY = 64 * 1024
MAX_TOKEN_RESPONSE = 1024 * 1024
MAX_TOKEN = 64 * 1024
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` challenge: its scheme and parameters."""

    scheme: str  # "basic" | "bearer"
    params: Mapping[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """Parse one ``WWW-Authenticate`` value: ``Bearer realm="…",service="…",scope="…"``."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _PARAM_RE.finditer(rest)
    }
    return Challenge(scheme.lower(), params)


def scope_for(repository: str, actions: Sequence[str]) -> str:
    return f"repository:{repository}:{','.join(actions)}"


def merge_scopes(*scopes: str) -> str:
    """Union of space-separated scopes, actions merged per resource, first-seen order.

    ``merge_scopes("repository:a:pull,push", "repository:a:push,pull")`` is
    ``"repository:a:pull,push"``: a challenge that repeats what was asked in another
    order asks for nothing new.
    """
    merged: dict[str, list[str]] = {}
    for scope in scopes:
        for item in scope.split():
            resource, sep, actions = item.rpartition(":")
            if not sep or not resource:
                merged.setdefault(item, [])
                continue
            have = merged.setdefault(resource, [])
            have.extend(a for a in actions.split(",") if a and a not in have)
    return " ".join(f"{r}:{','.join(a)}" if a else r for r, a in merged.items())


def read_limited(resp: httpclient.Response, limit: int, what: str) -> bytes:
    """The whole body of ``resp``, refusing (FormatError) one longer than ``limit`` bytes."""
    data = bytearray()
    for chunk in iter_body(resp, what, 64 * 1024):
        data += chunk
        if len(data) > limit:
            resp.close()
            raise FormatError(f"{what}: the answer is larger than {limit} bytes")
    return bytes(data)


def _error_detail(resp: httpclient.Response) -> str:
    """A short, inert summary of an error body (read at most :data:`MAX_ERROR_BODY` bytes)."""
    try:
        raw = b""
        for chunk in resp.iter_content(16 * 1024):
            raw += chunk
            if len(raw) >= MAX_ERROR_BODY:
                break
        resp.close()
        body = _json.loads(raw, "error body") if raw else {}
        errs = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errs, list) and errs:
            parts = [
                f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                for e in errs[:3]
                if isinstance(e, dict)
            ]
            return one_line("; ".join(parts), 200)
    except (FormatError, httpclient.HTTPError, AttributeError, TypeError):
        pass
    return one_line(resp.reason or "", 80)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, with the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _private_literal(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback, link-local or private IP literal."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_unspecified


def network_cause(exc: BaseException, host: str) -> str:
    """What really failed under an :mod:`.httpclient` error, in words: DNS, refused, TLS,
    timeout.

    The OS or TLS error is under it (its cause, or deeper: a proxy's tunnel); this walks
    the chain (arguments, ``reason``, cause and context) for the first error that names a
    cause.
    """
    import socket
    import ssl

    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    timeout = isinstance(exc, httpclient.Timeout)
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, socket.gaierror):
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            return f"cannot resolve host name {name!r} ({e.strerror or e})"
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {e.verify_message or e.reason}"
        if isinstance(e, ssl.SSLError):
            if e.reason == "WRONG_VERSION_NUMBER":
                return "the server does not speak TLS (it may be plain HTTP)"
            return f"TLS handshake failed ({e.reason or e})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused (nothing listens on that port)"
        if isinstance(e, ConnectionResetError):
            return "the connection was reset by the server"
        if isinstance(e, OSError) and e.strerror and not isinstance(e, TimeoutError):
            return e.strerror[0].lower() + e.strerror[1:]
        if isinstance(e, TimeoutError | socket.timeout):
            timeout = True
        nested = [a for a in e.args if isinstance(a, BaseException)]
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        nested += [c for c in (e.__cause__, e.__context__) if c is not None]
        todo.extend(nested)
    if isinstance(exc, httpclient.ReadTimeout):
        return "no answer within the read timeout (--timeout, SKILLCRATE_READ_TIMEOUT)"
    if timeout:
        return "timed out connecting (SKILLCRATE_CONNECT_TIMEOUT)"
    said = one_line(str(exc), 120) if isinstance(exc, httpclient.HTTPError) else ""
    return said[:1].lower() + said[1:] if said else "connection failed"  # e.g. a proxy's 407


class Transport:
    """Speaks HTTP to one registry host, with its own auth state."""

    def __init__(
        self,
        host: str,
        *,
        plain_http: bool,
        verify: bool | str = True,
        credential: Callable[[], Credential | None] | None = None,
        session: httpclient.Session | None = None,
        timeout: tuple[float, float] | None = None,
        meter: Meter | None = None,
        http_fallback: bool = False,
    ) -> None:
        self.host = host
        self.base = f"{'http' if plain_http else 'https'}://{host}"
        self.origin = origin(self.base)
        self.verify = verify
        self.timeouts = timeout or timeouts()
        self.meter = meter  # byte progress of blob downloads (the CLI's, on a terminal)
        # registries.conf ``insecure = true``: an HTTPS endpoint that answers plain HTTP is
        # spoken to over HTTP from then on (what podman and skopeo do for such a mirror)
        self.http_fallback = http_fallback
        self._credential_fn = credential or (lambda: None)
        self._credential: Credential | None = None
        self._credential_loaded = False
        self.session = session or httpclient.Session(user_agent=USER_AGENT)
        self._basic = False  # Basic challenge seen: send credentials up front
        self._bearer: dict[str, str] | None = None  # realm/service of the Bearer challenge
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        # blob digest -> repositories of this host known to hold it (cross-repo mounts)
        self._blob_repos: dict[str, list[str]] = {}
        # Auth state is shared by the threads of one install: one lock around it.
        self._lock = threading.RLock()

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` is on the registry's own scheme, host and port."""
        return origin(url) == self.origin

    # -- blob locations ----------------------------------------------------
    def note_blob(self, digest: str, repository: str) -> None:
        """Remember that ``repository`` on this host holds the blob ``digest``."""
        with self._lock:
            repos = self._blob_repos.setdefault(digest, [])
            if repository not in repos:
                repos.append(repository)

    def blob_repositories(self, digest: str) -> list[str]:
        """Repositories of this host seen holding ``digest`` (pushed, fetched or found)."""
        with self._lock:
            return list(self._blob_repos.get(digest, ()))

    # -- credentials -------------------------------------------------------
    def credential(self) -> Credential | None:
        with self._lock:
            if not self._credential_loaded:
                self._credential = self._credential_fn()
                self._credential_loaded = True
            return self._credential

    # -- low level ---------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Any = None,
        data: BlobSource | None = None,
        stream: bool = False,
        auth: tuple[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> httpclient.Response:
        last_exc: Exception | None = None
        upload = _upload_name(method, url) if self.meter is not None else None
        for attempt in range(ATTEMPTS):
            body: Any = None
            try:
                if data is not None:
                    body = open_source(data)
                    if upload is not None and not isinstance(data, bytes | bytearray):
                        body = _Metered(body, self.meter, url, upload)  # type: ignore[arg-type]
                resp = self.session.request(
                    method,
                    url,
                    headers=dict(headers),
                    params=params,
                    data=body if form is None else form,
                    auth=auth,
                    timeout=self.timeouts,
                    verify=self.verify,
                )  # redirects are followed in _fetch(), credentials scoped
            except httpclient.CABundleError as exc:
                raise RegistryError(
                    f"registry {self.host}: {exc}",
                    method=method,
                    url=url,
                    hints=["check ca_bundle in config.toml, or SKILLCRATE_CA_BUNDLE"],
                ) from exc
            except httpclient.TLSError as exc:
                cause = network_cause(exc, self.host)
                plain = "does not speak TLS" in cause
                if plain and self.http_fallback and url.startswith(self.base):
                    # registries.conf's insecure = true: plain HTTP is allowed too
                    with self._lock:
                        self.base = f"http://{self.host}"
                        self.origin = origin(self.base)
                    url = self.base + url[len(f"https://{self.host}") :]
                    log.info("%s answers plain HTTP; insecure = true allows it", self.host)
                    continue
                raise RegistryUnreachable(
                    f"TLS error talking to {self.host}: {cause}",
                    method=method,
                    url=url,
                    hints=[
                        "it answers plain HTTP: use --plain-http if that is intended"
                        if plain
                        else "for a private CA set ca_bundle in config.toml (or "
                        "SKILLCRATE_CA_BUNDLE); --insecure skips verification",
                    ],
                ) from exc
            except (httpclient.ConnectError, httpclient.Timeout) as exc:
                last_exc = exc
                log.debug("%s %s: %s (attempt %d)", method, url, exc.__class__.__name__, attempt)
                if self.meter is not None and isinstance(exc, httpclient.ReadTimeout):
                    self.meter.note(
                        f"{self.host}: no answer within {self.timeouts[1]:g} s"
                        + (
                            f"; trying again ({attempt + 2} of {ATTEMPTS})"
                            if attempt + 1 < ATTEMPTS
                            else ""
                        )
                    )
                if attempt + 1 < ATTEMPTS:
                    time.sleep(0.25 * (2**attempt))
                continue
            except httpclient.HTTPError as exc:  # a URL or proxy it cannot use, a garbled answer
                raise RegistryError(
                    f"{method} {url} failed: {one_line(str(exc), 200) or exc.__class__.__name__}",
                    method=method,
                    url=url,
                ) from exc
            finally:
                if body is not None:
                    body.close()
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt + 1 < ATTEMPTS:
                retry_after = resp.headers.get("Retry-After", "")
                delay = min(float(retry_after), 2.0) if retry_after.isdigit() else 0.25 * 2**attempt
                resp.close()
                time.sleep(delay)
                continue
            return resp
        cause = network_cause(last_exc, self.host) if last_exc else "no answer"
        proxy = getattr(last_exc, "proxy", "")
        if proxy:
            hint = "check the proxy, or HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
        elif cause.startswith("cannot resolve"):
            hint = "check the host name and your DNS or /etc/hosts"
        else:
            hint = "check that the registry is running and the address is right"
        raise RegistryUnreachable(
            f"cannot reach registry {self.host}: {cause}"
            + (f" (through the proxy {proxy})" if proxy else ""),
            method=method,
            url=url,
            hints=[hint],
        ) from last_exc

    # -- auth --------------------------------------------------------------
    def _check_realm(self, realm: str) -> None:
        """Refuse a token realm credentials must not go to (see the module docstring)."""
        scheme, host, _ = origin(realm)
        if scheme not in ("http", "https") or not host:
            raise AuthError(f"registry {self.host}: invalid token realm {one_line(realm, 120)!r}")
        if self.origin[0] == "https" and scheme != "https":
            raise AuthError(
                f"registry {self.host} asks for credentials at the plain-HTTP token realm "
                f"{one_line(realm, 120)}; refusing to send them unencrypted"
            )
        if _private_literal(host) and host != self.origin[1]:
            raise AuthError(
                f"registry {self.host} names the token realm {one_line(realm, 120)}, a "
                "loopback, link-local or private address of another host; refusing it"
            )

    def _token(self, scope: str, *, force: bool = False) -> str | None:
        with self._lock:
            assert self._bearer is not None
            realm = self._bearer.get("realm", "")
            service = self._bearer.get("service", "")
            key = (realm, service, scope)
            cached = self._tokens.get(key)
            if cached and not force and cached[1] > time.monotonic():
                return cached[0]
        self._check_realm(realm)
        cred = self.credential()
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        if scope:
            params.extend(("scope", s) for s in scope.split(" ") if s)
        if cred and cred.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "client_id": "skillcrate",
                "service": service,
                "scope": scope,
                "access_type": "offline",
            }
            resp = self._send("POST", realm, headers={}, form=form)
        else:
            auth = (cred.username, cred.password) if cred and cred.username else None
            if auth:
                params.append(("account", auth[0]))
            resp = self._send("GET", realm, headers={}, params=params, auth=auth)
        try:
            if resp.status_code in (401, 403):
                raise AuthError(
                    f"registry {self.host}: the token server rejected "
                    f"{'the credentials' if cred else 'anonymous access'} for {scope or 'login'}",
                    method="GET",
                    url=realm,
                    status=resp.status_code,
                    hints=[] if cred else ["log in with `docker login` or `podman login` first"],
                )
            if resp.status_code != 200:
                raise RegistryError(
                    f"registry {self.host}: token server answered {resp.status_code}",
                    method="GET",
                    url=realm,
                    status=resp.status_code,
                )
            raw = read_limited(resp, MAX_TOKEN_RESPONSE, f"registry {self.host}: token response")
        finally:
            resp.close()
        token, expires = _parse_token(raw, self.host)
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires - 10, expires / 2))
        return token

    def _auth_headers(self, scope: str, *, force: bool = False) -> dict[str, str]:
        with self._lock:
            bearer, basic = self._bearer is not None, self._basic
        if bearer:
            token = self._token(scope, force=force)
            return {"Authorization": f"Bearer {token}"} if token else {}
        if basic:
            cred = self.credential()
            if cred and cred.username:
                auth = httpclient.basic_authorization(cred.username, cred.password)
                return {"Authorization": auth}
        return {}

    def _fetch(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        auth_headers: Mapping[str, str],
        params: Any,
        data: BlobSource | None,
    ) -> httpclient.Response:
        """Send and follow redirects; credentials only ever go to the registry's origin."""
        for _ in range(MAX_REDIRECTS + 1):
            ours = self.same_origin(url)
            resp = self._send(
                method,
                url,
                headers={**headers, **(auth_headers if ours else {})},
                params=params,
                data=data,
            )
            location = resp.headers.get("Location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return resp
            if method not in ("GET", "HEAD"):
                return resp  # uploads and deletes are not redirected; the caller reports it
            resp.close()
            url = urljoin(resp.url or url, location)
            params = None
        raise RegistryError(f"registry {self.host}: more than {MAX_REDIRECTS} redirects", url=url)

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str = "",
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: BlobSource | None = None,
        stream: bool = False,
    ) -> httpclient.Response:
        """Send a request, answering an auth challenge once. ``path`` is ``/v2/...`` or a URL.

        The body is not read (the caller reads it, bounded). A URL on another origin (a
        pagination link, an upload location) is sent without credentials, and a
        challenge from anything but the registry's own origin is never answered.
        """
        url = path if path.startswith(("http://", "https://")) else self.base + path
        hdrs = dict(headers or {})
        foreign = not self.same_origin(url)
        sent = {} if foreign else self._auth_headers(scope)
        resp = self._fetch(method, url, headers=hdrs, auth_headers=sent, params=params, data=data)
        if resp.status_code != 401:
            return resp
        if foreign or not self.same_origin(resp.url or url):
            raise self._foreign_challenge(resp, method, url)
        challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        resp.close()
        cred = self.credential()
        if challenge is None:
            raise AuthError(
                f"registry {self.host}: 401 without an auth challenge",
                method=method,
                url=url,
                status=401,
            )
        # Decide on what *this* request sent (another thread may have changed the state).
        sent_auth = sent.get("Authorization", "")
        with self._lock:
            if challenge.scheme == "basic":
                if sent_auth.startswith("Basic ") or not (cred and cred.username):
                    raise self._auth_failed(method, url, cred)
                self._basic = True
            elif challenge.scheme == "bearer":
                insufficient = challenge.params.get("error") == "insufficient_scope"
                self._bearer = {k: challenge.params.get(k, "") for k in ("realm", "service")}
                extra = challenge.params.get("scope", "")
                if sent_auth.startswith("Bearer ") and not insufficient and not extra:
                    # we sent a fresh token for this realm and it was still refused
                    raise self._auth_failed(method, url, cred)
                scope = merge_scopes(scope, extra) if extra else scope
            else:
                raise AuthError(
                    f"registry {self.host}: unsupported auth scheme "
                    f"{one_line(challenge.scheme, 40)!r}"
                )
        if challenge.scheme == "bearer":
            self._auth_headers(scope, force=True)
        resp = self._fetch(
            method,
            url,
            headers=hdrs,
            auth_headers=self._auth_headers(scope),
            params=params,
            data=data,
        )
        if resp.status_code == 401:
            if not self.same_origin(resp.url or url):
                raise self._foreign_challenge(resp, method, url)
            resp.close()
            raise self._auth_failed(method, url, cred)
        return resp

    def _foreign_challenge(self, resp: httpclient.Response, method: str, url: str) -> AuthError:
        """A 401 from another host (after a redirect): never answered."""
        resp.close()
        return AuthError(
            f"registry {self.host}: {origin(resp.url or url)[1]} asks for credentials; "
            "they are only ever sent to the registry itself",
            method=method,
            url=url,
            status=401,
        )

    def _auth_failed(self, method: str, url: str, cred: Credential | None) -> AuthError:
        if cred:
            return AuthError(
                f"registry {self.host}: credentials from {cred.source or 'the auth file'} "
                "were rejected (401 unauthorized)",
                method=method,
                url=url,
                status=401,
                hints=["check the user and password with `docker login` or `podman login`"],
            )
        return AuthError(
            f"registry {self.host}: authentication required (401) and no credentials found",
            method=method,
            url=url,
            status=401,
            hints=[
                "log in with `docker login` or `podman login` (skillcrate reads "
                "$DOCKER_CONFIG/config.json and Podman's auth.json)"
            ],
        )


_UPLOAD_PATH = re.compile(r"/v2/(?:[^?]*/)?([^/?]+)/blobs/uploads/")


def _upload_name(method: str, url: str) -> str | None:
    """The repository's last name for a blob upload (``PUT …/blobs/uploads/…``), else None."""
    if method != "PUT":
        return None
    found = _UPLOAD_PATH.search(url)
    return found.group(1) if found else None


class _Metered:
    """A file being uploaded, telling the meter how much of it was read (sent)."""

    def __init__(self, fh: BinaryIO, meter: Meter, key: str, label: str) -> None:
        import os

        self._fh, self._meter, self._key = fh, meter, key
        size = os.fstat(fh.fileno()).st_size
        meter.begin(key, label, size, upload=True)

    def read(self, n: int = -1) -> bytes:
        chunk = self._fh.read(n)
        if chunk:
            self._meter.advance(self._key, len(chunk))
        return chunk

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._meter.end(self._key)
        self._fh.close()


def _parse_token(raw: bytes, host: str) -> tuple[str, float]:
    """(token, lifetime in seconds) from a token server's JSON answer, checked."""
    try:
        body = _json.loads(raw, f"registry {host}: token response")
    except FormatError:
        raise RegistryError(f"registry {host}: malformed token response") from None
    if not isinstance(body, dict):
        raise RegistryError(f"registry {host}: malformed token response")
    token = body.get("token") or body.get("access_token")
    if not isinstance(token, str) or not token:
        raise RegistryError(f"registry {host}: token response has no token")
    if len(token) > MAX_TOKEN or not _TOKEN_RE.match(token):
        raise RegistryError(f"registry {host}: token response holds no usable token")
    try:
        expires = float(body.get("expires_in") or 60)
    except (TypeError, ValueError):
        expires = 60.0
    return token, min(max(expires, 1.0), 24 * 3600.0)


def iter_body(resp: httpclient.Response, what: str, chunk_size: int) -> Iterator[bytes]:
    """Stream a response body; a connection lost mid-body becomes a RegistryError."""
    try:
        yield from resp.iter_content(chunk_size)
    except httpclient.HTTPError as exc:
        raise RegistryError(
            f"{what}: the connection broke while reading the body ({exc.__class__.__name__})",
            method=resp.method,
            url=resp.url,
            status=resp.status_code,
        ) from exc


def raise_for_status(resp: httpclient.Response, what: str, *, allow: Sequence[int] = ()) -> None:
    """Map a registry answer to skillcrate's errors (404 → NotFound, 403 → AuthError)."""
    code = resp.status_code
    if 200 <= code < 300 or code in allow:
        return
    detail = _error_detail(resp)
    method = resp.method
    url = resp.url
    if code == 404:
        raise NotFound(f"{what}: not found" + (f" ({detail})" if detail else ""))
    if code == 403:
        raise AuthError(
            f"{what}: access denied (403) {detail}".rstrip(),
            method=method or "",
            url=url,
            status=code,
        )
    raise RegistryError(
        f"{what}: registry answered {code} {detail}".rstrip(),
        method=method or "",
        url=url,
        status=code,
    )
