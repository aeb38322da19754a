"""HTTP/1.1 on the standard library's ``http.client``: connections, TLS, proxies, timeouts.

What :mod:`.transport` needs of an HTTP client and no more (it had ``requests``, whose
import alone cost ~60 ms of every network command):

- one :class:`Session` per registry host, shared by the threads of a command: each
  request takes an idle keep-alive connection to its origin or opens one, and a response
  read to its end gives it back (:meth:`Response.close`); a connection found closed by
  the server before it is reused is dropped, and a request that fails on a reused one
  before any answer is sent once more on a new one;
- two timeouts: ``connect`` for the TCP connect and the TLS handshake, ``read`` for each
  wait on the socket after that;
- TLS with the system's trust store (what docker and skopeo use; OpenSSL honours
  ``SSL_CERT_FILE``), a CA bundle file or folder, or no verification at all;
- ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` as curl and requests
  read them: HTTPS through a ``CONNECT`` tunnel, plain HTTP as an absolute-URL request to
  the proxy; credentials in the proxy URL go to the proxy only;
- no redirects (the transport follows them, deciding where credentials may go), no
  cookies, no ``.netrc``, no content decoding (``Accept-Encoding: identity``: a blob's
  digest is over the bytes as sent);
- a body that ends before its ``Content-Length``, or breaks off, raises :class:`BodyError`
  rather than ending quietly.

Errors are :class:`HTTPError` subclasses chained (``from``) to the OS or TLS error under
them, which :func:`.transport.network_cause` puts in words.
"""

from __future__ import annotations

import http.client
import logging
import os
import select
import ssl
import threading
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import unquote, urlencode, urlsplit

log = logging.getLogger("skillcrate.oci")

BLOCK = 1024 * 1024  # bytes a request body is sent in


class HTTPError(Exception):
    """A request that got no usable HTTP answer. ``proxy``: the proxy it went to (no
    user information), when the failure was reaching or passing it."""

    proxy = ""


class ConnectError(HTTPError):
    """No connection: DNS, refused, reset, or closed before the answer began."""


class TLSError(ConnectError):
    """The TLS handshake failed (certificate, protocol)."""


class Timeout(HTTPError):
    """A connect or read timeout expired."""


class ConnectTimeout(ConnectError, Timeout):
    """No connection within the connect timeout."""


class ReadTimeout(Timeout):
    """The server sent nothing within the read timeout."""


class BodyError(HTTPError):
    """The body broke off, or ended before its declared length."""


class CABundleError(HTTPError):
    """The CA bundle asked for cannot be read (missing, unreadable, not PEM)."""


_RETRY_FRESH = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Headers:
    """A response's header fields, by case-insensitive name; repeated fields joined by
    ``", "`` (RFC 9110 5.3)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            have = self._fields.get(key)
            self._fields[key] = value if have is None else f"{have}, {value}"

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields


class Response:
    """One answer; its body is read by the caller (:meth:`iter_content`) and the
    connection goes back to the pool on :meth:`close` once the body was read to its end."""

    def __init__(
        self,
        raw: http.client.HTTPResponse,
        conn: http.client.HTTPConnection,
        pool: _Pool,
        method: str,
        url: str,
    ) -> None:
        self._raw, self._pool = raw, pool
        self._conn: http.client.HTTPConnection | None = conn
        self.method, self.url = method, url
        self.status_code = raw.status
        self.reason = raw.reason or ""
        self.headers = Headers(raw.getheaders())

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body in chunks of at most ``chunk_size`` bytes; the response is closed when
        the body ends, breaks off or is left unread."""
        raw = self._raw
        try:
            while chunk := raw.read(chunk_size):
                yield chunk
            if raw.length:  # Content-Length said more: the server closed the connection early
                raise BodyError(f"the body ended {raw.length} bytes before its Content-Length")
        except TimeoutError as exc:
            raise ReadTimeout(f"no data within the read timeout: {exc}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise BodyError(f"the body broke off: {exc.__class__.__name__}") from exc
        finally:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        raw = self._raw
        if not raw.isclosed() and raw.length == 0:
            raw.read()  # nothing left (HEAD, 204, an empty body): this marks it read
        if raw.isclosed() and conn.sock is not None and not raw.will_close:
            self._pool.put(conn)
        else:
            raw.close()
            conn.close()


_Key = tuple[str, str, int, str]  # (scheme, host, port, proxy URL or "")


class _Pooled:
    """What both connection kinds add: the read timeout once connected (``timeout`` is
    the connect timeout), and the pool key the connection is kept under while idle."""

    sock: Any
    read_timeout: float | None = None
    pool_key: _Key | None = None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.settimeout(self.read_timeout)


class _Connection(_Pooled, http.client.HTTPConnection):
    pass


class _TLSConnection(_Pooled, http.client.HTTPSConnection):
    pass


class _Pool:
    """Idle keep-alive connections by (scheme, host, port, proxy)."""

    def __init__(self) -> None:
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, key: _Key) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
            if _usable(conn):
                return conn
            conn.close()

    def put(self, conn: http.client.HTTPConnection) -> None:
        key = getattr(conn, "pool_key", None)
        if key is None:
            conn.close()
            return
        with self._lock:
            self._idle.setdefault(key, []).append(conn)


def _usable(conn: http.client.HTTPConnection) -> bool:
    """An idle connection the server has not closed (nothing to read on it yet, no hang-up
    or error). ``poll`` where there is one: ``select`` takes no descriptor above 1023."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _proxies(env: Mapping[str, str]) -> dict[str, str]:
    """The proxy settings of ``env``: ``http``, ``https``, ``all`` and ``no`` from
    ``<name>_proxy`` or ``<NAME>_PROXY`` (the lower-case one wins, as in curl). Upper-case
    ``HTTP_PROXY`` is ignored when ``REQUEST_METHOD`` is set: in a CGI program a client
    can set it with a ``Proxy:`` header ("httpoxy")."""
    found: dict[str, str] = {}
    for name in ("http", "https", "all", "no"):
        value = env.get(f"{name}_proxy")
        if value is None and not (name == "http" and "REQUEST_METHOD" in env):
            value = env.get(f"{name.upper()}_PROXY")
        if value:
            found[name] = value.strip()
    return found


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` sends ``host:port`` straight there: ``*``; a name, which also
    covers its subdomains (a leading ``.`` or ``*.`` is the same); ``name:port``; an IP
    address; or a CIDR network such as ``10.0.0.0/8`` holding an IP literal ``host`` (what
    curl, Go and requests accept)."""
    import ipaddress

    host = host.strip("[]").rstrip(".").lower()
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name, want = entry, None
        if entry.startswith("[") and "]" in entry:  # [v6]:port
            name, _, rest = entry[1:].partition("]")
            want = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            name, _, want = entry.partition(":")
        if want is not None and want != str(port):
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if address is not None:
            try:
                if ipaddress.ip_address(name) == address:
                    return True
            except ValueError:
                pass
            continue
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class Session:
    """Requests to any origin, with one pool of keep-alive connections."""

    def __init__(self, *, user_agent: str = "") -> None:
        self.user_agent = user_agent
        self._pool = _Pool()
        self._contexts: dict[bool | str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._proxy_env = _proxies(os.environ)

    def _context(self, verify: bool | str) -> ssl.SSLContext:
        with self._lock:
            ctx = self._contexts.get(verify)
            if ctx is None:
                ctx = _tls_context(verify)
                self._contexts[verify] = ctx
            return ctx

    def _proxy_for(self, scheme: str, host: str, port: int) -> str:
        env = self._proxy_env
        if not env or bypasses_proxy(host, port, env.get("no", "")):
            return ""
        return env.get(scheme) or env.get("all") or ""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: bytes | BinaryIO | Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: tuple[float, float] = (2.5, 30.0),
        verify: bool | str = True,
    ) -> Response:
        """Send one request and read the status line and headers of its answer."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise HTTPError(f"not an http(s) URL: {url[:200]!r}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise HTTPError(f"invalid port in {url[:200]!r}") from exc
        host = parts.hostname
        if params:
            query = urlencode(params, doseq=True)
            url = f"{url}{'&' if parts.query else '?'}{query}"
            parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query

        send: dict[str, str] = {"User-Agent": self.user_agent, "Accept": "*/*"}
        send.update(headers or {})
        if auth is not None and not any(k.lower() == "authorization" for k in send):
            send["Authorization"] = basic_authorization(*auth)
        body: Any = data
        if isinstance(data, Mapping):
            body = urlencode(dict(data)).encode()
            send["Content-Type"] = "application/x-www-form-urlencoded"
        if body is not None and not isinstance(body, bytes | bytearray):
            send["Content-Length"] = str(_remaining(body))
        start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None

        proxy = self._proxy_for(scheme, host, port)
        key: _Key = (scheme, host, port, proxy)
        if proxy and scheme == "http":
            target = url  # a plain-HTTP request through a proxy names the whole URL
            send.update(_proxy_auth(proxy))
        for fresh in (False, True):
            conn = None if fresh else self._pool.take(key)
            reused = conn is not None
            if conn is None:
                conn = self._connect(key, timeout, verify)
            elif conn.sock is not None:
                conn.sock.settimeout(timeout[1])
            try:
                conn.request(method, target, body=body, headers=send)
                raw = conn.getresponse()
            except _RETRY_FRESH as exc:
                conn.close()
                if reused and (body is None or isinstance(body, bytes) or start is not None):
                    if start is not None:
                        body.seek(start)
                    continue  # the server closed the idle connection as we reused it
                raise ConnectError(f"connection closed: {exc}") from exc
            except OSError as exc:
                conn.close()
                raise _as_error(exc, ReadTimeout(f"no answer within {timeout[1]:g} s")) from exc
            except (http.client.HTTPException, ValueError) as exc:
                conn.close()
                raise HTTPError(f"malformed answer: {exc.__class__.__name__}: {exc}") from exc
            log.debug("%s %s -> %s", method, _shown(url), raw.status)
            return Response(raw, conn, self._pool, method, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(
        self, key: _Key, timeout: tuple[float, float], verify: bool | str
    ) -> _Connection | _TLSConnection:
        """A new connection for ``key``, connected (through its proxy, if any)."""
        scheme, host, port, proxy = key
        conn: _Connection | _TLSConnection
        if proxy:
            p = _proxy_url(proxy)
            if p.scheme.lower() != "http" or not p.hostname:
                raise HTTPError(f"unsupported proxy {_shown(proxy)!r}: use an http:// proxy URL")
            try:
                where = (p.hostname, p.port or 80)
            except ValueError as exc:
                raise HTTPError(f"invalid proxy port in {_shown(proxy)!r}") from exc
        else:
            where = (host, port)
        if scheme == "https":
            conn = _TLSConnection(
                *where, timeout=timeout[0], context=self._context(verify), blocksize=BLOCK
            )
            if proxy:
                conn.set_tunnel(host, port, headers=_proxy_auth(proxy))
        else:
            conn = _Connection(*where, timeout=timeout[0], blocksize=BLOCK)
        conn.read_timeout, conn.pool_key = timeout[1], key
        log.debug("connecting to %s:%s%s", host, port, f" through {_shown(proxy)}" if proxy else "")
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            error = _as_error(exc, ConnectTimeout(f"no connection within {timeout[0]:g} s"))
            error.proxy = _shown(proxy)
            raise error from exc
        return conn


def _as_error(exc: OSError, timed_out: HTTPError) -> HTTPError:
    """The error for an OS or TLS error under a connect or a request: ``timed_out`` for a
    timeout (which one depends on where it happened)."""
    if isinstance(exc, TimeoutError):
        return timed_out
    if isinstance(exc, ssl.SSLError):
        return TLSError(str(exc))
    return ConnectError(str(exc))


def _tls_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        try:
            if os.path.isdir(verify):
                return ssl.create_default_context(capath=verify)
            return ssl.create_default_context(cafile=verify)
        except ssl.SSLError as exc:  # before OSError: it is one
            raise CABundleError(f"the CA bundle {verify} holds no usable certificate") from exc
        except OSError as exc:
            raise CABundleError(f"cannot read the CA bundle {verify}: {exc.strerror}") from exc
    return ssl.create_default_context()


def _remaining(body: Any) -> int:
    """Bytes left to send of a file body: its size after the current position."""
    getbuffer = getattr(body, "getbuffer", None)
    if getbuffer is not None:
        size = len(getbuffer())
    else:
        size = os.fstat(body.fileno()).st_size
    return max(size - body.tell(), 0) if hasattr(body, "tell") else size


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` (or ``Proxy-Authorization``) value of HTTP Basic auth."""
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _proxy_url(proxy: str) -> Any:
    """A proxy setting as a split URL (``host:port`` alone means ``http://host:port``)."""
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def _proxy_auth(proxy: str) -> dict[str, str]:
    p = _proxy_url(proxy)
    if p.username is None:
        return {}
    password = unquote(p.password or "")
    return {"Proxy-Authorization": basic_authorization(unquote(p.username), password)}


def _shown(url: str) -> str:
    """``url`` without user information (a proxy's password never reaches a log)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    try:
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        pass
    return parts._replace(netloc=netloc).geturl()


__all__ = [
    "BodyError",
    "CABundleError",
    "ConnectError",
    "ConnectTimeout",
    "HTTPError",
    "Headers",
    "basic_authorization",
    "ReadTimeout",
    "Response",
    "Session",
    "TLSError",
    "Timeout",
]
