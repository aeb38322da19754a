"""The HTTP client under the transport (``oci/httpclient``, on ``http.client``).

Real sockets on 127.0.0.1: canned servers that answer byte for byte what a test gives
them (and hang up where it says), a forwarding and tunnelling proxy, the hostile
registry's TLS server, and the real Distribution registry for an install through a proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from skillcrate.errors import RegistryError
from skillcrate.oci import httpclient
from skillcrate.oci.httpclient import BodyError, ConnectError, Session

from helpers import QuietHTTPServer, clone_project, run_cli
from registry_server import RegistryServer
from test_hostile_registry import Server, servers, tags_body  # noqa: F401  (fixture)


def ok(body: bytes = b"hello", extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode("ascii") + body


class Canned:
    """Accepts connections; to the n-th request of a connection it sends
    ``script(connection_no, request_no)`` (bytes, or None to hang up without answering),
    and hangs up after answering request ``last``. ``tls``: a server context."""

    def __init__(
        self,
        script: Callable[[int, int], bytes | None],
        last: int = 99,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.script, self.last, self.tls = script, last, tls
        self.connections = 0
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn, self.connections), daemon=True).start()

    def _one(self, conn: socket.socket, number: int) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn, contextlib.suppress(OSError):  # the client may hang up first
            buf = b""
            for request_no in range(1, self.last + 1):
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.requests.append(head)
                answer = self.script(number, request_no)
                if answer is None:
                    return
                conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canned() -> Iterator[Callable[..., Canned]]:
    made: list[Canned] = []

    def make(script: Callable[[int, int], bytes | None], **kw: Any) -> Canned:
        made.append(Canned(script, **kw))
        return made[-1]

    yield make
    for server in made:
        server.close()


def get(session: Session, url: str, verify: bool | str = True) -> tuple[int, bytes]:
    resp = session.request("GET", url, timeout=(2, 5), verify=verify)
    body = b"".join(resp.iter_content(65536))
    return resp.status_code, body


# ----------------------------------------------------------------- keep-alive


def test_one_connection_serves_every_request_read_to_its_end(canned) -> None:
    server = canned(lambda c, r: ok(f"answer {r}".encode()))
    session = Session(user_agent="t")
    answers = [get(session, f"{server.url}/v2/{i}") for i in range(1, 6)]
    assert answers == [(200, f"answer {i}".encode()) for i in range(1, 6)]
    assert server.connections == 1
    assert all(b"User-Agent: t" in r and b"Accept-Encoding: identity" in r for r in server.requests)


def test_a_response_closed_before_its_end_does_not_go_back_to_the_pool(canned) -> None:
    server = canned(lambda c, r: ok(b"x" * 100_000))
    session = Session()
    resp = session.request("GET", server.url + "/a")
    next(resp.iter_content(10))
    resp.close()  # 99,990 bytes unread: the connection cannot carry another request
    assert get(session, server.url + "/b") == (200, b"x" * 100_000)
    assert server.connections == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused(canned) -> None:
    server = canned(lambda c, r: ok(b"once"), last=1)  # then it hangs up
    session = Session()
    assert get(session, server.url + "/a") == (200, b"once")
    deadline = 50
    while deadline and not select.select([_idle_socket(session)], [], [], 0.1)[0]:
        deadline -= 1  # wait until the server's close reached this end
    assert get(session, server.url + "/b") == (200, b"once")
    assert server.connections == 2 and len(server.requests) == 2  # nothing sent on the dead one


def test_a_request_the_server_drops_on_a_reused_connection_goes_once_more_on_a_new_one(
    canned,
) -> None:
    """The keep-alive race: the server closes an idle connection as the next request is
    sent on it. Only a reused connection is tried again; a new one failing is an error."""
    server = canned(lambda c, r: ok(b"fine") if r == 1 else None)
    session = Session()
    assert get(session, server.url + "/a") == (200, b"fine")
    real = httpclient._usable
    httpclient._usable = lambda conn: True  # the close has not arrived when it is reused
    try:
        assert get(session, server.url + "/b") == (200, b"fine")
    finally:
        httpclient._usable = real
    assert server.connections == 2 and len(server.requests) == 3

    dropper = canned(lambda c, r: None)  # control: a new connection dropped
    with pytest.raises(ConnectError):
        get(Session(), dropper.url + "/a")
    assert dropper.connections == 1


def _idle_socket(session: Session) -> socket.socket:
    [idle] = [c for conns in session._pool._idle.values() for c in conns]
    assert idle.sock is not None
    return idle.sock


# ----------------------------------------------------------------- bodies


def test_a_body_shorter_than_its_content_length_is_an_error(canned) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    server = canned(lambda c, r: head + b"y" * 40, last=1)  # then it hangs up
    session = Session()
    resp = session.request("GET", server.url + "/short")
    got = bytearray()
    with pytest.raises(BodyError, match="60 bytes before its Content-Length"):
        for chunk in resp.iter_content(16):
            got += chunk
    assert bytes(got) == b"y" * 40
    whole = canned(lambda c, r: b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"y" * 40)
    assert get(session, whole.url + "/whole") == (200, b"y" * 40)  # control


def test_a_broken_chunked_body_is_an_error(canned) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = canned(lambda c, r: chunked + b"5\r\nhello\r\nzz\r\n")
    with pytest.raises(BodyError):
        get(Session(), server.url + "/broken")
    good = canned(lambda c, r: chunked + b"5\r\nhello\r\n0\r\n\r\n")
    assert get(Session(), good.url + "/good") == (200, b"hello")  # control


def test_repeated_header_fields_are_joined(canned) -> None:
    extra = 'WWW-Authenticate: Bearer realm="a"\r\nwww-authenticate: Basic realm="b"\r\n'
    server = canned(lambda c, r: ok(b"", extra))
    resp = Session().request("GET", server.url + "/")
    resp.close()
    assert resp.headers.get("Www-Authenticate") == 'Bearer realm="a", Basic realm="b"'
    assert resp.headers.get("Content-Length") == "0" and "content-length" in resp.headers


def test_a_registry_body_cut_short_is_reported_as_a_broken_connection(servers) -> None:  # noqa: F811
    """Through the transport: the one-line error a truncated answer gets."""
    from skillcrate.oci.registry import RegistryRepository
    from skillcrate.oci.transport import Transport

    body = tags_body("1.0.0")

    def answer(seen: Any) -> tuple[int, dict[str, str], list[bytes]]:
        return 200, {"Content-Length": str(len(body) + 10), "Connection": "close"}, [body]

    server: Server = servers(answer)
    with pytest.raises(RegistryError, match="the connection broke while reading the body"):
        RegistryRepository(Transport(server.host, plain_http=True), "x").tags()


# ----------------------------------------------------------------- TLS


def test_tls_verifies_against_the_system_store_a_ca_bundle_file_or_folder(
    canned, tmp_path: Path
) -> None:
    cert, key, subject_hash = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = canned(lambda c, r: ok(b"over tls"), tls=context)
    url = server.url + "/x"
    with pytest.raises(httpclient.TLSError, match="CERTIFICATE_VERIFY_FAILED"):
        get(Session(), url)  # the system trust store does not know it
    session = Session()
    assert [get(session, url, str(cert)) for _ in range(3)] == [(200, b"over tls")] * 3
    assert server.connections == 2  # the refused one, then one kept alive for all three
    folder = tmp_path / "capath"  # a CA folder is looked up by subject hash (`openssl rehash`)
    folder.mkdir()
    (folder / f"{subject_hash}.0").write_bytes(cert.read_bytes())
    assert Session().request("GET", url, verify=str(folder)).status_code == 200
    assert Session().request("GET", url, verify=False).status_code == 200
    other, _, _ = _certificate(tmp_path / "other")  # control: another CA's bundle
    with pytest.raises(httpclient.TLSError, match="CERTIFICATE_VERIFY_FAILED"):
        Session().request("GET", url, verify=str(other))


def _certificate(folder: Path) -> tuple[Path, Path, str]:
    """A self-signed certificate for the IP 127.0.0.1: (cert, key, OpenSSL subject hash)."""
    import subprocess

    from cryptography.hazmat.primitives import serialization

    from registry_server import _self_signed_cert, _signing_key

    key = _signing_key()
    built = _self_signed_cert(key, f"test CA {folder.name}", ip="127.0.0.1")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    done = subprocess.run(
        ["openssl", "x509", "-noout", "-subject_hash", "-in", str(cert)],
        capture_output=True,
        text=True,
        check=True,
    )
    return cert, key_file, done.stdout.strip()


# ----------------------------------------------------------------- proxies


class Proxy:
    """An HTTP proxy on 127.0.0.1: absolute-URL requests forwarded, CONNECT tunnelled.
    Records what it was asked, and refuses (407) without ``Proxy-Authorization`` when
    ``auth`` is set."""

    def __init__(self, auth: str | None = None) -> None:
        self.asked: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _allowed(self) -> bool:
                owner.asked.append((self.command, self.path, dict(self.headers.items())))
                if auth and self.headers.get("Proxy-Authorization") != auth:
                    self.send_response(407)
                    self.send_header("Content-Length", "0")
                    self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
                    self.end_headers()
                    return False
                return True

            def _forward(self) -> None:
                if not self._allowed():
                    return
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")
                }
                up = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                up.request(self.command, path, body=body, headers=headers)
                resp = up.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                up.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815

            def do_CONNECT(self) -> None:  # noqa: N802
                if not self._allowed():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                pair = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(pair, [], [], 10)
                        if not readable:
                            return
                        for sock in readable:
                            data = sock.recv(65536)
                            if not data:
                                return
                            (upstream if sock is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy() -> Iterator[Callable[..., Proxy]]:
    made: list[Proxy] = []

    def make(**kw: Any) -> Proxy:
        made.append(Proxy(**kw))
        return made[-1]

    yield make
    for p in made:
        p.close()


PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_plain_http_goes_through_http_proxy_with_its_credentials(
    servers,  # noqa: F811
    proxy,
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    target: Server = servers(lambda s: (200, {}, b"via proxy"))
    gate = proxy(auth="Basic dTpwIHc=")  # u:"p w"
    no_proxy_env.setenv("HTTP_PROXY", gate.url.replace("http://", "http://u:p%20w@"))
    assert get(Session(), f"http://{target.host}/v2/x") == (200, b"via proxy")
    [(method, path, _)] = [a for a in gate.asked if a[0] == "GET"]
    assert (method, path) == ("GET", f"http://{target.host}/v2/x")
    assert all("Proxy-Authorization" not in s.headers for s in target.seen)

    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")  # control: NO_PROXY goes straight there
    asked = len(gate.asked)
    assert get(Session(), f"http://{target.host}/v2/y") == (200, b"via proxy")
    assert len(gate.asked) == asked


def test_https_goes_through_a_connect_tunnel(
    servers,  # noqa: F811
    proxy,
    no_proxy_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    target: Server = servers(lambda s: (200, {}, b"tunnelled"), tls=tmp_path / "tls")
    gate = proxy()
    no_proxy_env.setenv("https_proxy", gate.url)
    resp = Session().request(
        "GET", f"https://{target.host}/v2/x", headers={"Authorization": "Bearer t0k"}, verify=False
    )
    assert resp.status_code == 200 and b"".join(resp.iter_content(100)) == b"tunnelled"
    assert [(m, p) for m, p, _ in gate.asked] == [("CONNECT", target.host)]
    assert all("Authorization" not in h for _, _, h in gate.asked)  # inside the tunnel only
    assert target.seen[0].headers["Authorization"] == "Bearer t0k"


def test_a_proxy_that_refuses_is_a_connect_error(
    servers,  # noqa: F811
    proxy,
    no_proxy_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    target: Server = servers(lambda s: (200, {}, b"never"), tls=tmp_path / "tls")
    gate = proxy(auth="Basic c2VjcmV0")
    no_proxy_env.setenv("HTTPS_PROXY", gate.url)
    with pytest.raises(ConnectError, match="407"):
        Session().request("GET", f"https://{target.host}/v2/x", verify=False)
    assert target.seen == []
    no_proxy_env.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(httpclient.HTTPError, match="use an http:// proxy URL"):
        Session().request("GET", f"https://{target.host}/v2/x", verify=False)


def test_an_install_through_a_proxy(
    tmp_path: Path,
    fresh_registry: RegistryServer,
    repo_name: str,
    proxy,
    no_proxy_env: pytest.MonkeyPatch,
) -> None:
    """The real registry behind the forwarding proxy: add, then a clone's cold install."""
    from helpers import make_skill

    gate = proxy()
    env = {"HTTP_PROXY": gate.url, "SKILLCRATE_CACHE_DIR": str(tmp_path / "cache")}
    make_skill(tmp_path / "src", "proxied", "Through the proxy.")
    ref = f"{fresh_registry.host}/{repo_name}/proxied"
    assert (
        run_cli("push", str(tmp_path / "src" / "proxied"), f"{ref}:1.0.0", env=env).returncode == 0
    )
    project = tmp_path / "project"
    project.mkdir()
    added = run_cli("add", ref, cwd=project, env=env)
    assert added.returncode == 0, added.stderr
    clone = clone_project(project, tmp_path / "clone")
    cold = {**env, "SKILLCRATE_CACHE_DIR": str(tmp_path / "cold-cache")}
    asked = len(gate.asked)
    done = run_cli("install", cwd=clone, env=cold, process=True)
    assert done.returncode == 0, done.stderr
    assert (clone / ".agents" / "skills" / "proxied" / "SKILL.md").is_file()
    paths = [p for _, p, _ in gate.asked[asked:]]
    assert paths and all(p.startswith(f"http://{fresh_registry.host}/v2/") for p in paths)
    lock = json.loads((clone / "skills.lock.json").read_text())
    assert lock["skills"][0]["name"] == "proxied"
    assert os.environ.get("HTTP_PROXY") is None  # the env var was the command's alone


def test_a_ca_bundle_that_cannot_be_used_is_named(canned, tmp_path: Path) -> None:
    """A missing or non-PEM ``ca_bundle`` is a one-line error naming the file (the OS error
    alone would not say which file), before anything is sent."""
    from skillcrate.oci.registry import RegistryRepository
    from skillcrate.oci.transport import Transport

    server = canned(lambda c, r: ok(b"{}"))
    host = server.url.split("//", 1)[1]
    missing = tmp_path / "nowhere" / "ca.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for path, said in (
        (missing, f"cannot read the CA bundle {missing}: No such file or directory"),
        (garbage, f"the CA bundle {garbage} holds no usable certificate"),
    ):
        transport = Transport(host, plain_http=False, verify=str(path))
        with pytest.raises(RegistryError) as info:
            RegistryRepository(transport, "x").tags()
        assert info.value.message == f"registry {host}: {said}"
        assert "ca_bundle" in info.value.hints()[0]
    assert server.requests == []
    cert, _, _ = _certificate(tmp_path / "good")  # control: a readable bundle is used
    assert httpclient._tls_context(str(cert)).verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "direct"),
    [
        ("registry.corp.example", 443, "corp.example", True),  # a domain and its subdomains
        ("registry.corp.example", 443, ".corp.example", True),
        ("registry.corp.example", 443, "*.corp.example", True),
        ("corp.example", 443, "corp.example", True),
        ("evilcorp.example", 443, "corp.example", False),  # a suffix, not a substring
        ("registry.corp.example", 5000, "registry.corp.example:5000", True),
        ("registry.corp.example", 443, "registry.corp.example:5000", False),
        ("Registry.Corp.Example.", 443, "CORP.example", True),
        ("10.1.2.3", 5000, "10.0.0.0/8", True),  # CIDR, as curl, Go and requests read it
        ("11.1.2.3", 5000, "10.0.0.0/8", False),
        ("::1", 5000, "::1/128", True),
        ("[::1]", 5000, "[::1]:5000", True),
        ("127.0.0.1", 5000, "127.0.0.1", True),
        ("127.0.0.1", 5000, "localhost", False),
        ("anything.example", 443, "*", True),
        ("anything.example", 443, "a.example, b.example  c.example", False),
        ("c.example", 443, "a.example, b.example  c.example", True),
        ("registry.example", 443, "", False),
        ("registry.example", 443, "not-a-net/99, ,", False),
    ],
)
def test_no_proxy(host: str, port: int, no_proxy: str, direct: bool) -> None:
    assert httpclient.bypasses_proxy(host, port, no_proxy) is direct


def test_proxy_settings_from_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1", "NO_PROXY": "x"}
    assert httpclient._proxies(env) == {"https": "http://lower:1", "no": "x"}  # lower wins
    assert httpclient._proxies({"ALL_PROXY": "http://p:1"}) == {"all": "http://p:1"}
    cgi = {"HTTP_PROXY": "http://from-a-header:1", "REQUEST_METHOD": "GET"}
    assert httpclient._proxies(cgi) == {}  # httpoxy: a CGI client's Proxy: header
    assert httpclient._proxies({**cgi, "http_proxy": "http://mine:1"}) == {"http": "http://mine:1"}
    assert httpclient._proxies({"HTTP_PROXY": "http://p:1"}) == {"http": "http://p:1"}


def test_an_idle_connection_on_a_high_descriptor_is_still_reused(canned) -> None:
    """A process with many files open (a big install) gets sockets above 1023, which
    ``select`` cannot watch: the check before reuse must not drop them all."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip(f"the hard limit on open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    server = canned(lambda c, r: ok(f"answer {r}".encode()))
    session = Session()
    held = []
    try:
        while not held or held[-1] < 1030:  # the next socket gets a descriptor above 1023
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert get(session, server.url + "/a") == (200, b"answer 1")
        assert _idle_socket(session).fileno() > 1023
        assert get(session, server.url + "/b") == (200, b"answer 2")
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert server.connections == 1


def test_a_proxy_failure_names_the_proxy_in_one_line(
    servers,  # noqa: F811
    proxy,
    no_proxy_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Through the transport: a proxy nobody listens on, one that refuses the tunnel, and
    one skillcrate cannot use each say so (not a bare class name, not the registry's fault)."""
    from skillcrate.errors import RegistryUnreachable
    from skillcrate.oci.registry import RegistryRepository
    from skillcrate.oci.transport import Transport

    from helpers import closed_port

    target: Server = servers(lambda s: (200, {}, tags_body("1.0.0")), tls=tmp_path / "tls")
    no_proxy_env.setenv("SKILLCRATE_CONNECT_TIMEOUT", "1")

    def tags() -> list[str]:
        return RegistryRepository(
            Transport(target.host, plain_http=False, verify=False), "x"
        ).tags()

    dead = f"http://user:secret@{closed_port()}"
    no_proxy_env.setenv("HTTPS_PROXY", dead)
    with pytest.raises(RegistryUnreachable) as info:
        tags()
    shown = dead.replace("user:secret@", "")
    assert info.value.message == (
        f"cannot reach registry {target.host}: connection refused (nothing listens on that port)"
        f" (through the proxy {shown})"
    )
    assert "HTTPS_PROXY" in info.value.hints()[0]

    gate = proxy(auth="Basic c2VjcmV0")
    no_proxy_env.setenv("HTTPS_PROXY", gate.url)
    with pytest.raises(RegistryUnreachable, match="407 Proxy Authentication Required"):
        tags()

    no_proxy_env.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(RegistryError) as failed:
        tags()
    assert "unsupported proxy 'socks5://127.0.0.1:1080': use an http:// proxy URL" in str(
        failed.value.message
    )
    assert target.seen == []
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")  # control: straight there
    assert tags() == ["1.0.0"]


def test_a_garbled_answer_is_quoted_inert(canned) -> None:
    """The words of a malformed answer reach the error message (and the terminal) with
    their control characters escaped: a status line carrying an escape sequence."""
    from skillcrate.oci.registry import RegistryRepository
    from skillcrate.oci.transport import Transport

    server = canned(lambda c, r: b"HTTP/1.1 \x1b[2J\x1b]0;pwned\x07 OK\r\n\r\n", last=1)
    host = server.url.split("//", 1)[1]
    with pytest.raises(RegistryError) as info:
        RegistryRepository(Transport(host, plain_http=True), "x").tags()
    message = info.value.message
    assert "malformed answer: BadStatusLine" in message
    assert "\x1b" not in message and "\x07" not in message
    assert "\\x1b[2J" in message  # shown, escaped
