"""Hostile registries: credentials must stay home, answers are bounded, text is inert.

Small ``http.server`` registries on 127.0.0.1 that record every request (and every
``Authorization`` header) they get. A second server on another port is "another host":
another origin. See docs/security.md, promises 5, 6 and 7.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from skillcrate.errors import AuthError, FormatError, RegistryError, SkillcrateError
from skillcrate.oci.credentials import Credential
from skillcrate.oci.model import Descriptor
from skillcrate.oci.registry import RegistryRepository
from skillcrate.oci.transport import Transport

from helpers import QuietHTTPServer, run_cli

CRED = Credential("alice", "s3cret", source="test")
BASIC = "Basic " + base64.b64encode(b"alice:s3cret").decode()

Answer = tuple[int, dict[str, str], bytes | Iterable[bytes]]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Server:
    """One fake host: ``answer(seen) -> (status, headers, body)``; records every request."""

    answer: Callable[[Seen], Answer]
    tls: Path | None = None  # a folder for a self-signed certificate
    seen: list[Seen] = field(default_factory=list)
    sent: int = 0

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                seen = Seen(self.command, self.path, {k: v for k, v in self.headers.items()})
                owner.seen.append(seen)
                status, headers, body = owner.answer(seen)
                self.send_response(status)
                if isinstance(body, bytes):
                    headers = {"Content-Length": str(len(body)), **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command == "HEAD":
                    return
                try:
                    for chunk in [body] if isinstance(body, bytes) else body:
                        self.wfile.write(chunk)
                        owner.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _do  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*_self_signed(self.tls))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def authorizations(self) -> list[str]:
        return [s.headers["Authorization"] for s in self.seen if "Authorization" in s.headers]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _self_signed(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(folder / "cert.pem"), str(folder / "key.pem")


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    made: list[Server] = []

    def make(answer: Callable[[Seen], Answer], **kw: Any) -> Server:
        server = Server(answer, **kw)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def repo(server: Server, *, plain: bool = True) -> RegistryRepository:
    transport = Transport(server.host, plain_http=plain, verify=False, credential=lambda: CRED)
    return RegistryRepository(transport, "x")


def basic_gate(seen: Seen) -> Answer | None:
    """401 with a Basic challenge unless the right credentials came."""
    if seen.headers.get("Authorization") != BASIC:
        return 401, {"WWW-Authenticate": 'Basic realm="test"'}, b"{}"
    return None


def tags_body(*tags: str) -> bytes:
    return json.dumps({"name": "x", "tags": list(tags)}).encode()


# ------------------------------------------------------------------------ credentials


def test_basic_credentials_never_follow_a_link_to_another_host(servers) -> None:
    elsewhere = servers(lambda s: (200, {}, tags_body("stolen")))

    def registry(s: Seen) -> Answer:
        gate = basic_gate(s)
        if gate:
            return gate
        link = f'<{elsewhere.url}/v2/x/tags/list?last=a>; rel="next"'
        return 200, {"Link": link, "Content-Type": "application/json"}, tags_body("a")

    main = servers(registry)
    with pytest.raises(FormatError, match="another host"):
        repo(main).tags()
    assert elsewhere.seen == [] and BASIC in main.authorizations()


def test_control_a_link_on_the_same_host_is_followed_with_credentials(servers) -> None:
    def registry(s: Seen) -> Answer:
        gate = basic_gate(s)
        if gate:
            return gate
        if "last=a" in s.path:
            return 200, {}, tags_body("b")
        return 200, {"Link": '</v2/x/tags/list?last=a>; rel="next"'}, tags_body("a")

    main = servers(registry)
    assert repo(main).tags() == ["a", "b"]


def test_an_upload_location_on_another_host_gets_no_credentials(servers) -> None:
    elsewhere = servers(lambda s: (201, {}, b""))

    def registry(s: Seen) -> Answer:
        gate = basic_gate(s)
        if gate:
            return gate
        if s.method == "HEAD":
            return 404, {}, b""
        if s.method == "POST":
            return 202, {"Location": f"{elsewhere.url}/upload/1"}, b""
        return 500, {}, b""

    main = servers(registry)
    data = b"blob bytes"
    repo(main).push_blob(Descriptor.for_bytes("application/octet-stream", data), data)
    assert [s.method for s in elsewhere.seen] == ["PUT"]
    assert elsewhere.authorizations() == []


def test_a_redirect_target_cannot_collect_credentials_with_its_own_challenge(servers) -> None:
    data = b"blob bytes"
    desc = Descriptor.for_bytes("application/octet-stream", data)

    def collector(s: Seen) -> Answer:
        if s.path.startswith("/token"):
            return 200, {}, json.dumps({"token": "t"}).encode()
        if s.headers.get("Authorization"):
            return 200, {}, data
        realm = f"http://127.0.0.1:{s.headers['Host'].split(':')[1]}/token"
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="evil"'}, b"{}"

    elsewhere = servers(collector)

    def registry(s: Seen) -> Answer:
        gate = basic_gate(s)
        return gate or (307, {"Location": f"{elsewhere.url}/storage/blob"}, b"")

    main = servers(registry)
    with pytest.raises(AuthError, match="only ever sent to the registry"):
        b"".join(repo(main).iter_blob(desc))
    assert elsewhere.authorizations() == []
    assert not any(s.path.startswith("/token") for s in elsewhere.seen)


def test_control_a_redirect_to_storage_serves_the_blob(servers) -> None:
    data = b"blob bytes"
    desc = Descriptor.for_bytes("application/octet-stream", data)
    storage = servers(lambda s: (200, {}, data))
    main = servers(lambda s: basic_gate(s) or (307, {"Location": f"{storage.url}/b"}, b""))
    assert b"".join(repo(main).iter_blob(desc)) == data
    assert storage.authorizations() == []


def test_an_https_registry_never_sends_credentials_to_an_http_realm(servers, tmp_path) -> None:
    realm = servers(lambda s: (200, {}, json.dumps({"token": "t"}).encode()))
    challenge = f'Bearer realm="{realm.url}/token",service="reg"'
    main = servers(lambda s: (401, {"WWW-Authenticate": challenge}, b"{}"), tls=tmp_path / "tls")
    with pytest.raises(AuthError, match="unencrypted"):
        repo(main, plain=False).tags()
    assert realm.seen == []


@pytest.mark.parametrize(
    "realm",
    [
        "http://169.254.169.254/latest/meta-data/token",
        "http://10.0.0.1/token",
        "http://[fd00::1]/t",
    ],
)
def test_a_realm_on_a_private_address_of_another_host_is_refused(servers, realm: str) -> None:
    main = servers(lambda s: (401, {"WWW-Authenticate": f'Bearer realm="{realm}"'}, b"{}"))
    with pytest.raises(AuthError, match="private address"):
        repo(main).tags()


def test_control_a_realm_on_the_registrys_own_host_is_used(servers) -> None:
    token = servers(lambda s: (200, {}, json.dumps({"token": "good-token"}).encode()))

    def registry(s: Seen) -> Answer:
        if s.headers.get("Authorization") == "Bearer good-token":
            return 200, {}, tags_body("1.0.0")
        realm = f"{token.url}/token"  # same host (127.0.0.1), other port: allowed
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg"'}, b"{}"

    main = servers(registry)
    assert repo(main).tags() == ["1.0.0"]
    assert token.authorizations() == [BASIC]  # the realm gets the credentials, once


@pytest.mark.parametrize(
    "body",
    [
        {"token": "abc\r\nX-Injected: 1"},
        {"token": "x" * (65 * 1024)},
        {"token": {"nested": "object"}},
        {"access_token": ""},
    ],
    ids=["header-injection", "huge", "object", "empty"],
)
def test_token_responses_are_checked_not_echoed(servers, body: dict) -> None:
    token = servers(lambda s: (200, {}, json.dumps(body).encode()))
    registry_seen: list[Seen] = []

    def registry(s: Seen) -> Answer:
        registry_seen.append(s)
        realm = f"{token.url}/token"
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}"'}, b"{}"

    main = servers(registry)
    with pytest.raises(RegistryError, match="token"):
        repo(main).tags()
    assert [s for s in registry_seen if "Authorization" in s.headers] == []


# ---------------------------------------------------------------------------- bounds


def _endless(chunk: bytes = b"x" * 65536) -> Iterator[bytes]:
    for _ in range(16 * 1024):  # up to 1 GiB, if the client kept reading
        yield chunk


def test_a_huge_error_body_is_not_read(servers) -> None:
    main = servers(lambda s: (500, {"Content-Length": str(1 << 30)}, _endless()))
    transport = Transport(main.host, plain_http=True)
    transport_repo = RegistryRepository(transport, "x")
    with pytest.raises(RegistryError):
        transport_repo.fetch_manifest("1.0.0")
    assert main.sent < 64 * 1024 * 1024


def test_a_huge_manifest_is_refused(servers) -> None:
    main = servers(lambda s: (200, {"Content-Length": str(1 << 30)}, _endless()))
    with pytest.raises(FormatError, match="larger than"):
        RegistryRepository(Transport(main.host, plain_http=True), "x").fetch_manifest("1.0.0")


def test_endless_tag_pages_stop(servers) -> None:
    def registry(s: Seen) -> Answer:
        n = int(s.path.rsplit("=", 1)[-1]) if "last=" in s.path else 0
        link = f'</v2/x/tags/list?n=1&last={n + 1}>; rel="next"'
        return 200, {"Link": link}, tags_body(f"t{n}")

    main = servers(registry)
    with pytest.raises(FormatError, match="pages"):
        RegistryRepository(Transport(main.host, plain_http=True), "x").tags()
    assert len(main.seen) <= 101


def test_a_blob_longer_than_declared_is_cut_off(servers) -> None:
    desc = Descriptor.for_bytes("application/octet-stream", b"short")
    main = servers(lambda s: (200, {"Content-Length": str(1 << 30)}, _endless()))
    with pytest.raises(SkillcrateError, match="more than"):
        b"".join(RegistryRepository(Transport(main.host, plain_http=True), "x").iter_blob(desc))
    assert main.sent < 64 * 1024 * 1024


def test_deeply_nested_json_from_a_registry_is_a_format_error(servers) -> None:
    main = servers(lambda s: (200, {}, b"[" * 200_000))
    with pytest.raises(FormatError, match="nested too deeply"):
        RegistryRepository(Transport(main.host, plain_http=True), "x").fetch_manifest("1.0.0")


# ------------------------------------------------------------------------ inert text


ESC = "\x1b]0;pwned\x07\x1b[2J"


def _skill_registry(servers, annotation: str) -> Server:  # noqa: ANN001
    """A registry serving one agentskills manifest with a hostile annotation and tag."""
    import gzip
    import io
    import tarfile

    config = b'{"schemaVersion":"1","name":"demo"}'
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        text = b"---\nname: demo\ndescription: Demo. Use when testing.\n---\nBody.\n"
        info = tarfile.TarInfo("demo/SKILL.md")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    layer = gzip.compress(raw.getvalue())
    blobs = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in (config, layer)}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.agentskills.skill.v1",
            "config": {
                "mediaType": "application/vnd.agentskills.skill.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.agentskills.skill.content.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
            "annotations": {"org.opencontainers.image.description": annotation},
        }
    ).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()

    def registry(s: Seen) -> Answer:
        if "/tags/list" in s.path:
            return 200, {}, tags_body("1.0.0", f"evil{ESC}")
        if "/manifests/" in s.path:
            mt = "application/vnd.oci.image.manifest.v1+json"
            return 200, {"Content-Type": mt, "Docker-Content-Digest": digest}, manifest
        if "/blobs/" in s.path:
            return 200, {}, blobs[s.path.rsplit("/", 1)[1]]
        return 404, {}, b"{}"

    return servers(registry)


def test_annotations_and_tags_reach_the_terminal_inert(servers) -> None:
    main = _skill_registry(servers, f"line one{ESC}\nerror: forged line")
    shown = run_cli("inspect", f"{main.host}/x:1.0.0")
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "\\x1b" in shown.stdout
    assert not any(line.startswith("error: forged") for line in shown.stdout.splitlines())
    tags = run_cli("versions", f"{main.host}/x")
    assert tags.stdout.split() == ["1.0.0"]  # a tag that is not a valid OCI tag is dropped


def test_registry_error_text_is_inert_in_errors_and_hook_output(servers, tmp_path) -> None:
    message = f"{ESC}bad\nerror: forged\u202e" + "x" * 5000
    body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
    main = servers(lambda s: (500, {}, body))
    done = run_cli("versions", f"{main.host}/x")
    assert done.returncode == 1
    assert "\x1b" not in done.stderr and "\u202e" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        done.stderr.splitlines()[0]
    ]
    proj = tmp_path / "proj"
    proj.mkdir()
    spec = {"name": "x", "source": f"{main.host}/x", "version": "1.0.0"}
    (proj / "skills.json").write_text(json.dumps({"skills": [spec]}))
    hooked = run_cli("install", "--hook", "claude", cwd=proj, stdin="{}")
    assert hooked.returncode == 0
    msg = json.loads(hooked.stdout)["systemMessage"]
    assert "\x1b" not in msg and "\n" not in msg and "\u202e" not in msg and len(msg) <= 300
