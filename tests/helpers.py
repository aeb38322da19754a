"""Small builders shared by tests (pure: files under a temp folder)."""

from __future__ import annotations

import gzip
import io
import stat
import subprocess
import sys
import tarfile
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


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run ``python -m skillcrate`` in a subprocess (the real CLI, real exit codes)."""
    import os

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
