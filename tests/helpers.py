"""Small builders shared by tests (pure: files under a temp folder)."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tarfile
import threading
import traceback
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path


def make_skill(
    root: Path,
    name: str = "demo-skill",
    description: str = "Does demo things. Use when testing.",
    *,
    extra_fm: str = "",
    files: dict[str, str] | None = None,
    version: str | None = None,
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    meta = f'metadata:\n  version: "{version}"\n' if version else ""
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: {description}\n{meta}{extra_fm}---\n# {name}\n\nBody.\n"
    )
    for rel, text in (files or {}).items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return folder


def clone_project(project: Path, dest: Path) -> Path:
    """A fresh clone of ``project`` at ``dest`` (made): its skills.json and lock, nothing
    installed."""
    dest.mkdir(parents=True)
    for name in ("skills.json", "skills.lock.json"):
        shutil.copy(project / name, dest / name)
    return dest


def tree_of(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: relative POSIX path -> (bytes, permission bits)."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return gzip.compress(buf.getvalue())


def file_info(name: str, mode: int = 0o644) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    return ti


_IN_PROCESS = threading.Lock()  # one in-process run at a time: it swaps cwd, env, stdio


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
    process: bool = False,
) -> subprocess.CompletedProcess:
    """Run the skillcrate CLI; its exit code, stdout and stderr.

    By default in this process (``entry.main``, what the console script runs, with the
    working folder, environment and standard streams swapped for the call): fast, and the
    same code path as the console script. ``process=True`` starts ``python -m skillcrate`` for what
    only a real process shows (the session hook's stdout, concurrency, signals, imports).
    ``SKILLCRATE_TESTS_IN_PROCESS=0`` makes every call a process.
    """
    if process or os.environ.get("SKILLCRATE_TESTS_IN_PROCESS") == "0":
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "skillcrate", *args],
            cwd=cwd,
            env=full_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    return _in_process([str(a) for a in args], cwd, env or {}, stdin)


def cli(*args: object, cwd: Path | None = None) -> int:
    """The CLI in this process, output left on this process's streams; its exit code."""
    return _in_process([str(a) for a in args], cwd, {}, None, capture=False).returncode


def _in_process(
    args: list[str],
    cwd: Path | None,
    env: dict[str, str],
    stdin: str | None,
    *,
    capture: bool = True,
) -> subprocess.CompletedProcess:
    from skillcrate.entry import main  # what the console script runs

    out, err = io.StringIO(), io.StringIO()
    with _IN_PROCESS, contextlib.ExitStack() as stack:
        saved_env = dict(os.environ)
        saved_cwd = os.getcwd()
        stack.callback(_restore, saved_env, saved_cwd)
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        stack.enter_context(_swap_stdin(stdin))
        if capture:
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(err))
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - what a process would print as a traceback
            traceback.print_exc(file=sys.stderr)
            code = 1
    return subprocess.CompletedProcess(["skillcrate", *args], code, out.getvalue(), err.getvalue())


def _restore(env: dict[str, str], cwd: str) -> None:
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)


@contextlib.contextmanager
def _swap_stdin(text: str | None):  # noqa: ANN202
    saved = sys.stdin
    sys.stdin = io.StringIO(text or "")
    try:
        yield
    finally:
        sys.stdin = saved


def push_subject(target, content: bytes = b"skill bytes", tag: str = "1.0.0"):  # noqa: ANN001, ANN201
    """Push a minimal image manifest (empty config, one layer) to sign or refer to."""
    from skillcrate.oci.model import EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor, canonical_json

    empty = Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON)
    layer = Descriptor.for_bytes("application/vnd.oci.image.layer.v1.tar+gzip", content)
    target.push_blob(empty, EMPTY_JSON)
    target.push_blob(layer, content)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
    }
    desc = target.push_manifest(canonical_json(manifest), OCI_MANIFEST, tag)
    return Descriptor(desc.media_type, desc.digest, desc.size)


class QuietHTTPServer(ThreadingHTTPServer):
    """A test server that stays silent when a client hangs up mid-answer.

    socketserver prints a traceback to ``sys.stderr`` for every such error; the in-process
    CLI runner captures ``sys.stderr``, so that text would land in the command's output.
    Hostile-server tests make the client hang up on purpose. Other errors still print.
    """

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def run_on_tty(command: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run ``command`` with stderr on a pseudo-terminal; its exit code and what it drew there."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stderr=follower, stdout=subprocess.DEVNULL, env=env)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the follower side closed: the process is done
            break
        if not chunk:
            break
        seen += chunk
    code = proc.wait(timeout=timeout)
    os.close(leader)
    return code, seen.decode("utf-8", "replace")


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A hostile server on 127.0.0.1 that accepts connections and never answers; its host."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def closed_port() -> str:
    """``127.0.0.1:PORT`` where nothing listens (a port that was free a moment ago)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"
