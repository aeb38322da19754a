"""Network failures name their real cause: DNS, refused, TLS, timeout (issue 14).

Real sockets on 127.0.0.1: a TLS server with a self-signed certificate, a plain HTTP
server spoken to over HTTPS, a closed port, and a server that accepts and never answers.
Name resolution is the one failure that cannot happen on loopback alone, so that test
makes ``getaddrinfo`` fail in this process (what a missing DNS entry does).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skillcrate.errors import RegistryUnreachable
from skillcrate.oci.registry import RegistryRepository
from skillcrate.oci.transport import Transport, network_cause, timeouts

from helpers import closed_port, run_cli, run_on_tty, silent_server
from test_hostile_registry import Server, servers, tags_body  # noqa: F401  (fixture)

FAST = {"SKILLCRATE_CONNECT_TIMEOUT": "1"}


def _tags(host: str, *, plain: bool, verify: bool = True, **kw: object) -> None:
    transport = Transport(host, plain_http=plain, verify=verify, **kw)  # type: ignore[arg-type]
    RegistryRepository(transport, "x").tags()


def test_a_self_signed_certificate_is_named(servers, tmp_path: Path) -> None:  # noqa: F811
    server: Server = servers(lambda s: (200, {}, tags_body("1.0.0")), tls=tmp_path / "tls")
    with pytest.raises(RegistryUnreachable) as info:
        _tags(server.host, plain=False)
    assert info.value.message == (
        f"TLS error talking to {server.host}: certificate verify failed: self-signed certificate"
    )
    assert "ca_bundle" in info.value.hints()[0]
    _tags(server.host, plain=False, verify=False)  # control: the same server, not verified


def test_a_plain_http_server_spoken_to_over_https(servers) -> None:  # noqa: F811
    server: Server = servers(lambda s: (200, {}, tags_body("1.0.0")))
    with pytest.raises(RegistryUnreachable) as info:
        _tags(server.host, plain=False)
    assert "the server does not speak TLS" in info.value.message
    assert "--plain-http" in info.value.hints()[0]
    _tags(server.host, plain=True)  # control


def test_an_insecure_endpoint_falls_back_to_plain_http(servers) -> None:  # noqa: F811
    """registries.conf's insecure = true allows HTTP, as podman and skopeo read it."""
    server: Server = servers(lambda s: (200, {}, tags_body("1.0.0")))
    transport = Transport(server.host, plain_http=False, verify=False, http_fallback=True)
    assert RegistryRepository(transport, "x").tags() == ["1.0.0"]
    assert transport.base == f"http://{server.host}"


def test_a_closed_port_says_connection_refused() -> None:
    with pytest.raises(RegistryUnreachable) as info:
        _tags(closed_port(), plain=True)
    assert info.value.message.endswith("connection refused (nothing listens on that port)")


def test_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_name(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    monkeypatch.setattr("skillcrate.oci.transport.time.sleep", lambda s: None)
    with pytest.raises(RegistryUnreachable) as info:
        _tags("registry.example.invalid:5000", plain=True)
    assert info.value.message == (
        "cannot reach registry registry.example.invalid:5000: cannot resolve host name "
        "'registry.example.invalid' (Name or service not known)"
    )
    assert "DNS" in info.value.hints()[0]


@pytest.fixture
def silent() -> Iterator[str]:
    with silent_server() as host:
        yield host


def test_timeout_flag_bounds_a_registry_that_never_answers(silent: str) -> None:
    start = time.monotonic()
    proc = run_cli("--timeout", "0.3", "versions", f"{silent}/x", env=FAST)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1
    assert "no answer within the read timeout" in proc.stderr
    assert elapsed < 8  # 3 attempts of 0.3 s plus backoff, not 3 x 30 s


def test_waiting_on_a_silent_registry_is_said_on_a_terminal(silent: str) -> None:
    import os
    import sys

    env = {**os.environ, **FAST}
    code, text = run_on_tty(
        [sys.executable, "-m", "skillcrate", "--timeout", "0.3", "versions", f"{silent}/x"],
        env,
    )
    assert code == 1
    assert f"{silent}: no answer within 0.3 s; trying again (2 of 3)" in text
    assert "trying again (3 of 3)" in text


def test_timeout_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKILLCRATE_READ_TIMEOUT", raising=False)
    monkeypatch.delenv("SKILLCRATE_CONNECT_TIMEOUT", raising=False)
    assert timeouts() == (2.5, 30.0)
    assert timeouts(5, 120) == (5.0, 120.0)  # config.toml
    monkeypatch.setenv("SKILLCRATE_READ_TIMEOUT", "60")
    assert timeouts(5, 120) == (5.0, 60.0)  # the environment beats config
    assert timeouts(5, 120, flag=7) == (5.0, 7.0)  # the flag beats both


def test_config_timeouts_reach_the_transport(tmp_path: Path, monkeypatch) -> None:
    from skillcrate.oci import Client
    from skillcrate.reference import Reference

    (tmp_path / "config.toml").write_text(
        '[registries."*"]\nconnect_timeout = 4\n[registries."r.example:5000"]\nread_timeout = 90\n'
    )
    monkeypatch.setenv("SKILLCRATE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("SKILLCRATE_READ_TIMEOUT", raising=False)
    monkeypatch.delenv("SKILLCRATE_CONNECT_TIMEOUT", raising=False)
    transport = Client().transport(Reference.parse("r.example:5000/x"))
    assert transport.timeouts == (4.0, 90.0)
    (tmp_path / "config.toml").write_text('[registries."*"]\nread_timeout = "long"\n')
    with pytest.raises(Exception, match="read_timeout must be a positive number"):
        Client().transport(Reference.parse("r.example:5000/x"))


def test_cause_walks_the_whole_chain() -> None:
    """requests wraps the OS error several levels deep; the innermost cause is named."""
    inner = ConnectionRefusedError(111, "Connection refused")
    middle = OSError("NewConnectionError")
    middle.__cause__ = inner
    outer = RuntimeError(middle)
    assert network_cause(outer, "h:1") == "connection refused (nothing listens on that port)"
    assert network_cause(RuntimeError("x"), "h:1") == "connection failed"
