"""Real OCI registries for tests: CNCF Distribution (``docker-registry``) on 127.0.0.1.

Three modes, chosen by the constructor arguments of :class:`RegistryServer`:

* plain (no auth): ``RegistryServer(root)``
* basic auth: ``RegistryServer(root, basic_users={"alice": "s3cret"})``
* token auth: ``RegistryServer(root, token_server=TokenServer(root / "auth", users))``

:class:`TokenServer` is a small Docker-style token service (``GET /token``) that issues
RS256 JWTs the registry trusts. It is spec-strict: a token carries exactly the actions that
were asked for (intersected with what the user may do), and anonymous clients get pull only.

Everything listens on 127.0.0.1 only. Processes are killed on ``stop()``, on context exit,
at interpreter exit and (Linux) when the Python thread that started them dies.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import ctypes
import datetime as dt
import hashlib
import http.client
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit

import jwt
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from helpers import QuietHTTPServer

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 5.0
STOP_TIMEOUT = 3.0
_POLL_INTERVAL = 0.02
_INSTANCE_HEADER = "X-Skillcrate-Test-Instance"
_PORT_ATTEMPTS = 5
# Distribution accepts a token until exp + 60 s (clock-skew leeway, measured on 2.8.2).
REGISTRY_LEEWAY = 60

TEST_USERS: dict[str, str] = {"alice": "s3cret"}  # users of the shared auth fixtures

ALL_ACTIONS = frozenset({"pull", "push", "delete", "*"})
ANONYMOUS_ACTIONS = frozenset({"pull"})

# user (None = anonymous), resource type, resource name -> actions that user may have
PermissionFn = Callable[[str | None, str, str], Iterable[str]]


class RegistryStartError(RuntimeError):
    """The registry process did not come up (message includes its log output)."""


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class IsolatedEnv:
    """Where conftest's autouse ``isolated_env`` fixture pointed the environment for a test."""

    root: Path
    home: Path  # $HOME (XDG_CONFIG/CACHE/DATA/STATE_HOME are under it)
    docker_config: Path  # empty folder, $DOCKER_CONFIG
    registry_auth_file: Path  # does not exist, $REGISTRY_AUTH_FILE
    runtime_dir: Path  # empty folder, $XDG_RUNTIME_DIR
    cache_dir: Path  # $SKILLCRATE_CACHE_DIR
    config_dir: Path  # $SKILLCRATE_CONFIG_DIR

    @property
    def registries_conf(self) -> Path:
        """$SKILLCRATE_REGISTRIES_CONF: absent until a test writes it."""
        return self.root / "registries.conf"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def libtrust_key_id(public_key: Any) -> str:
    """Key ID as computed by docker/libtrust: base32(sha256(DER SPKI)[:30]) in groups of 4."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def htpasswd_lines(users: Mapping[str, str], htpasswd_bin: str | os.PathLike[str]) -> str:
    """bcrypt htpasswd entries (``htpasswd -Bbn``), one per user."""
    lines = []
    for user, password in users.items():
        out = subprocess.run(
            [os.fspath(htpasswd_bin), "-Bbn", user, password],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        lines.append(out.strip())
    return "\n".join(lines) + "\n"


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _registry_env() -> dict[str, str]:
    """The environment minus ``REGISTRY_*``: Distribution reads those as config overrides
    (e.g. podman's ``REGISTRY_AUTH_FILE`` would become ``auth.file`` and break startup)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGKILL the child when the thread that forked it dies."""
    with contextlib.suppress(Exception):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE)
        _LIVE.clear()
    for proc in procs:
        _terminate(proc, timeout=1.0)


def _terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------- token server


class TokenRequest(NamedTuple):
    """One ``GET /token`` call: who asked (None = anonymous) and the ``scope`` params."""

    user: str | None
    scopes: list[str]


@dataclass(frozen=True)
class TokenRecord:
    """Everything about one ``GET /token`` call, for detailed assertions."""

    user: str | None
    scopes: list[str]
    account: str | None
    service: str | None
    status: int  # 200, or 401 for bad credentials / anonymous refused
    access: list[dict[str, Any]] = field(default_factory=list)  # what the token grants
    expires_in: int | None = None
    token: str | None = None


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:name:pull,push`` -> (type, name, actions); the name may contain ``:``."""
    rtype, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and rtype and name):
        return None
    return rtype, name, [a for a in actions.split(",") if a]


def _signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _self_signed_cert(
    key: rsa.RSAPrivateKey, common_name: str, *, ip: str | None = None
) -> x509.Certificate:
    """A self-signed CA certificate; ``ip``: also valid for that address (a TLS server's)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ip is not None:
        import ipaddress

        address = x509.IPAddress(ipaddress.ip_address(ip))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    return builder.sign(key, hashes.SHA256())


class _TokenHTTPServer(QuietHTTPServer):
    daemon_threads = True
    owner: TokenServer


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        url = urlsplit(self.path)
        if url.path != "/token":
            self._send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
            return
        params = parse_qs(url.query)
        status, body, headers = self.server.owner.handle_token_request(
            self.headers.get("Authorization"),
            scopes=params.get("scope", []),
            service=params.get("service", [None])[0],
            account=params.get("account", [None])[0],
        )
        self._send_json(status, body, headers)

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class TokenServer:
    """Docker-style token service on 127.0.0.1 issuing RS256 JWTs for a Distribution registry.

    ``users``: name -> password (checked against the Basic header). Known users may do
    everything (unless ``permissions`` says otherwise) but receive only the actions they asked
    for; anonymous clients get pull only (or 401 with ``allow_anonymous=False``); a wrong
    password gets 401. Every call is logged in :attr:`requests` / :attr:`records`.

    ``expires_in`` (seconds, reported to clients and used for ``exp``) and ``strict_expiry``
    are plain attributes; change them any time (``monkeypatch.setattr``) or use
    :meth:`short_lived`. The registry itself accepts a token until ``exp`` + 60 s
    (:data:`REGISTRY_LEEWAY`); ``strict_expiry=True`` moves ``exp`` back by that leeway so the
    registry really answers 401 ``invalid_token`` once ``expires_in`` seconds have passed.
    """

    def __init__(
        self,
        root: Path,
        users: Mapping[str, str] | None = None,
        *,
        service: str = "test-registry",
        issuer: str = "test-issuer",
        expires_in: int = 300,
        strict_expiry: bool = False,
        allow_anonymous: bool = True,
        permissions: PermissionFn | None = None,
    ) -> None:
        self.root = Path(root)
        self.users: dict[str, str] = dict(users or {})
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.strict_expiry = strict_expiry
        self.allow_anonymous = allow_anonymous
        self.permissions: PermissionFn = permissions or self._default_permissions
        self._key = _signing_key()
        self.kid = libtrust_key_id(self._key.public_key())
        self.cert_path = self.root / "token-cert.pem"
        self._records: list[TokenRecord] = []
        self._lock = threading.Lock()
        self._httpd: _TokenHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        cert = _self_signed_cert(self._key, f"{self.issuer} signing key")
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        httpd = _TokenHTTPServer((LOOPBACK, 0), _TokenHandler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("token server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    # request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[TokenRequest]:
        """Snapshot of (user or None, [scope, ...]) for every token request, oldest first."""
        with self._lock:
            return [TokenRequest(r.user, list(r.scopes)) for r in self._records]

    @property
    def records(self) -> list[TokenRecord]:
        """Snapshot of the detailed log (status, granted access, token, ...)."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._records.clear()

    @contextlib.contextmanager
    def short_lived(self, expires_in: int = 1, *, strict: bool = True) -> Iterator[Self]:
        """Temporarily issue tokens that expire after ``expires_in`` seconds."""
        saved = self.expires_in, self.strict_expiry
        self.expires_in, self.strict_expiry = expires_in, strict
        try:
            yield self
        finally:
            self.expires_in, self.strict_expiry = saved

    # tokens ------------------------------------------------------------------------

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The JWT ``access`` claim for ``scopes``: requested ∩ permitted, per resource."""
        merged: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, actions = parsed
            allowed = set(self.permissions(user, rtype, name))
            granted = merged.setdefault((rtype, name), [])
            for action in actions:
                if action in allowed and action not in granted:
                    granted.append(action)
        return [{"type": t, "name": n, "actions": a} for (t, n), a in merged.items()]

    def issue_token(
        self,
        user: str | None,
        access: list[dict[str, Any]],
        *,
        service: str | None = None,
        expires_in: int | None = None,
        now: float | None = None,
    ) -> str:
        """Sign a registry JWT directly (e.g. to hand-craft an expired or foreign token)."""
        now_f = time.time() if now is None else now
        iat = int(now_f)
        ttl = self.expires_in if expires_in is None else expires_in
        # JWT times are whole seconds. Truncating the expiry made a 1 s token expire anywhere
        # from 0 to 1 s after issue (a flaky refresh test); rounding it up keeps a token valid
        # for at least ``ttl`` seconds (at most ttl + 1). ttl 0 still means "expired at once".
        exp = math.ceil(now_f) + ttl if ttl > 0 else iat
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service or self.service,
            "exp": exp - (REGISTRY_LEEWAY if self.strict_expiry else 0),
            "nbf": iat,
            "iat": iat,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def decode(self, token: str, *, verify_exp: bool = True) -> dict[str, Any]:
        """Verify a token from this server and return its claims."""
        return jwt.decode(
            token,
            self._key.public_key(),
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"verify_exp": verify_exp, "verify_aud": False},
        )

    def handle_token_request(
        self,
        authorization: str | None,
        *,
        scopes: list[str],
        service: str | None = None,
        account: str | None = None,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one ``GET /token`` (used by the handler)."""
        user, ok = self._authenticate(authorization)
        if not ok or (user is None and not self.allow_anonymous):
            self._record(TokenRecord(user, list(scopes), account, service, 401))
            body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
            return 401, body, {"WWW-Authenticate": f'Basic realm="{self.realm}"'}
        access = self.grant(user, scopes)
        ttl = self.expires_in
        now = time.time()
        token = self.issue_token(user, access, service=service, expires_in=ttl, now=now)
        self._record(TokenRecord(user, list(scopes), account, service, 200, access, ttl, token))
        body = {
            "token": token,
            "access_token": token,
            "expires_in": ttl,
            "issued_at": _rfc3339(now),
        }
        return 200, body, {}

    def _authenticate(self, authorization: str | None) -> tuple[str | None, bool]:
        """(user or None, credentials valid). No header = anonymous (valid)."""
        if not authorization:
            return None, True
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None, False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        user, sep, password = decoded.partition(":")
        if not sep:
            return user or None, False
        expected = self.users.get(user)
        valid = expected is not None and secrets.compare_digest(expected, password)
        return user, valid

    def _default_permissions(self, user: str | None, rtype: str, name: str) -> frozenset[str]:
        if user is None:
            return ANONYMOUS_ACTIONS if rtype == "repository" else frozenset()
        return ALL_ACTIONS

    def _record(self, record: TokenRecord) -> None:
        with self._lock:
            self._records.append(record)


# --------------------------------------------------------------------------- registry


class RegistryServer:
    """``docker-registry serve`` on 127.0.0.1 with filesystem storage under ``root``.

    ``root`` (created if needed) holds ``config.yml``, ``registry.log``, ``htpasswd`` and the
    ``storage/`` folder. ``start()`` picks a free port the first time and reuses it (and the
    storage) on every later ``start()``, so a test can stop the registry and bring it back.
    """

    def __init__(
        self,
        root: Path,
        *,
        binary: str | os.PathLike[str] = "docker-registry",
        basic_users: Mapping[str, str] | None = None,
        token_server: TokenServer | None = None,
        htpasswd_bin: str | os.PathLike[str] = "htpasswd",
        port: int | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        die_with_parent: bool = True,
        proxy_of: str | None = None,
        access_log: bool = False,
    ) -> None:
        """``proxy_of``: an upstream URL; the registry is then a pull-through cache of it
        (Distribution's proxy mode: read-only, serves what it cached when the upstream is
        down). ``access_log``: log every request (see :meth:`requests_logged`)."""
        if basic_users is not None and token_server is not None:
            raise ValueError("choose basic_users or token_server, not both")
        self.root = Path(root)
        self.storage = self.root / "storage"
        self.config_path = self.root / "config.yml"
        self.log_path = self.root / "registry.log"
        self.binary = os.fspath(binary)
        self.basic_users = dict(basic_users) if basic_users is not None else None
        self.token_server = token_server
        self.htpasswd_bin = htpasswd_bin
        self.startup_timeout = startup_timeout
        self.die_with_parent = die_with_parent
        self.proxy_of = proxy_of
        self.access_log = access_log
        self._port = port
        self._fixed_port = port is not None
        self._instance = uuid.uuid4().hex
        self._secret = secrets.token_hex(16)  # fixed: upload sessions survive a restart
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # addresses ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("registry was never started")
        return self._port

    @property
    def host(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def mode(self) -> str:
        if self.token_server is not None:
            return "token"
        return "basic" if self.basic_users is not None else "plain"

    # lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Start (or restart) the registry and wait until ``GET /v2/`` answers."""
        if self.running:
            return self
        self._proc = None
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage.mkdir(parents=True, exist_ok=True)
        retry_ports = not self._fixed_port and self._port is None
        attempts = _PORT_ATTEMPTS if retry_ports else 1
        for attempt in range(attempts):
            if self._port is None:
                self._port = free_port()
            offset = self._log_size()
            try:
                self._launch()
                return self
            except RegistryStartError:
                port_taken = "address already in use" in self.logs()[offset:]
                if not (port_taken and retry_ports and attempt + 1 < attempts):
                    raise
                self._port = None
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL). Safe to call repeatedly."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
            with _LIVE_LOCK:
                _LIVE.discard(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def requests_logged(self, since: int = 0) -> list[str]:
        """``METHOD /path`` of each request in the access log after offset ``since``
        (``len(logs())`` taken earlier); needs ``access_log=True``."""
        import re

        found = re.findall(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP', self.logs()[since:])
        return [f"{method} {path}" for method, path in found]

    def logs(self) -> str:
        """Everything the registry process wrote so far (all runs)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __repr__(self) -> str:
        where = self.host if self._port is not None else "unstarted"
        return f"<RegistryServer {self.mode} {where} running={self.running}>"

    # internals ---------------------------------------------------------------------

    def _log_size(self) -> int:
        return len(self.logs())

    def _launch(self) -> None:
        self._write_config()
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(
            [self.binary, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env=_registry_env(),
            preexec_fn=_die_with_parent
            if self.die_with_parent and sys.platform == "linux"
            else None,
        )
        with _LIVE_LOCK:
            _LIVE.add(proc)
        self._proc = proc
        try:
            self._wait_ready(proc)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if proc.poll() is not None:
                raise RegistryStartError(
                    f"docker-registry exited with {proc.returncode} on {self.host}:\n{self.logs()}"
                )
            if self._answers():
                return
            if time.monotonic() > deadline:
                raise RegistryStartError(
                    f"docker-registry not answering on {self.url}/v2/ after "
                    f"{self.startup_timeout}s:\n{self.logs()}"
                )
            time.sleep(_POLL_INTERVAL)

    def _answers(self) -> bool:
        """True once *this* registry (checked via a per-instance header) answers /v2/."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=1.0)
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            resp.read()
            return resp.getheader(_INSTANCE_HEADER) == self._instance
        except OSError:
            return False
        finally:
            conn.close()

    def _write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self._config(), sort_keys=False))

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {
                "level": "error",
                "formatter": "text",
                "accesslog": {"disabled": not self.access_log},
            },
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.host,
                "secret": self._secret,
                "headers": {
                    "X-Content-Type-Options": ["nosniff"],
                    _INSTANCE_HEADER: [self._instance],
                },
            },
        }
        auth = self._auth_config()
        if auth:
            config["auth"] = auth
        if self.proxy_of:
            config["proxy"] = {"remoteurl": self.proxy_of}
        return config

    def _auth_config(self) -> dict[str, Any] | None:
        if self.basic_users is not None:
            path = self.root / "htpasswd"
            path.write_text(htpasswd_lines(self.basic_users, self.htpasswd_bin))
            return {"htpasswd": {"realm": "basic-realm", "path": str(path)}}
        ts = self.token_server
        if ts is not None:
            ts.start()
            return {
                "token": {
                    "realm": ts.realm,
                    "service": ts.service,
                    "issuer": ts.issuer,
                    "rootcertbundle": str(ts.cert_path),
                }
            }
        return None


# ----------------------------------------------------------------- token registry bundle


@dataclass
class TokenRegistry:
    """A token-auth registry plus its token server (what the ``token_registry`` fixture gives)."""

    registry: RegistryServer
    token_server: TokenServer
    users: dict[str, str]

    @property
    def host(self) -> str:
        return self.registry.host

    @property
    def url(self) -> str:
        return self.registry.url

    def start(self) -> Self:
        self.token_server.start()
        self.registry.start()
        return self

    def stop(self) -> None:
        try:
            self.registry.stop()
        finally:
            self.token_server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def make_token_registry(
    root: Path,
    users: Mapping[str, str],
    *,
    binary: str | os.PathLike[str] = "docker-registry",
    **token_options: Any,
) -> TokenRegistry:
    """An unstarted :class:`TokenRegistry` under ``root`` (``token_options`` go to TokenServer)."""
    root = Path(root)
    token_server = TokenServer(root / "auth", users, **token_options)
    registry = RegistryServer(root / "registry", binary=binary, token_server=token_server)
    return TokenRegistry(registry, token_server, dict(users))
