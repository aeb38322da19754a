"""Reading what other tools publish, end to end (formats.md §2–§6).

Every artifact here is built by hand, the way the other tool writes it: the manifest,
config and layer bytes come from ``json``, ``tarfile`` and ``gzip`` in this file, never
from skillcrate's own ``pack``. They are pushed with raw HTTP (``requests``) to the real
Distribution registry of ``conftest.py`` (or written as an OCI image layout by hand where
Distribution refuses them), and then the real CLI runs in a temporary project:
``init``, ``add``, ``install``, ``inspect``. The installed folder must hold exactly the
bytes that went in, executable bits included where the format carries modes.

The write side goes the other way: ``skillcrate push`` and then skopeo and umoci, which
know nothing of skills, must be able to copy and unpack what skillcrate wrote.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import make_skill, run_cli, tree_of
from registry_server import RegistryServer

TIMEOUT = 30
TAG = "1.0.0"

# media types, spelled out here on purpose (not imported from skillcrate)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ORAS_UNKNOWN_CONFIG = "application/vnd.unknown.config.v1+json"
AS_ARTIFACT = "application/vnd.agentskills.skill.v1"
AS_CONFIG = "application/vnd.agentskills.skill.config.v1+json"
AS_LAYER = "application/vnd.agentskills.skill.content.v1.tar+gzip"
ACR_ARTIFACT = "application/vnd.agent.skill.v1+json"
ACR_LAYER = "application/vnd.agent.skill.content.v1.tar+gzip"
RH_CONFIG = "application/vnd.redhat.agentskill.config.v1+json"
RH_LAYER = "application/vnd.redhat.agentskill.layer.v1.tar+gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
TITLE = "org.opencontainers.image.title"
CREATED = "2025-06-01T12:00:00Z"
EPOCH_MTIME = 1717243200  # the "real" mtime a foreign tool leaves in its tars


# ---------------------------------------------------------------- skill content


def skill_md(name: str, description: str = "Formats demo. Use when testing interop.") -> bytes:
    return (
        f"---\nname: {name}\ndescription: {description}\nlicense: MIT\n---\n"
        f"# {name}\n\nBody with UTF-8: caf\u00e9 \u2713\n"
    ).encode()


def skill_files(name: str, *, skill_file: str = "SKILL.md") -> dict[str, tuple[bytes, bool]]:
    """A skill folder: relative path -> (bytes, executable)."""
    return {
        skill_file: (skill_md(name), False),
        "scripts/run.sh": (b"#!/bin/sh\necho 'hello from run.sh'\n", True),
        "references/guide.md": (b"# Guide\n\nRead me.\n", False),
        "assets/logo.bin": (bytes(range(256)) * 3, False),
    }


def expected_tree(
    files: Mapping[str, tuple[bytes, bool]], *, modes: bool = True
) -> dict[str, tuple[bytes, int]]:
    """What ``tree_of`` must show once installed (no modes in the format: all 0644)."""
    return {rel: (data, 0o755 if (exe and modes) else 0o644) for rel, (data, exe) in files.items()}


# ---------------------------------------------------------------- foreign bytes


def foreign_tar(
    files: Mapping[str, tuple[bytes, bool]],
    *,
    prefix: str = "",
    dot: bool = False,
    dirs: bool = True,
    fmt: int = tarfile.GNU_FORMAT,
) -> bytes:
    """An uncompressed tar as GNU tar or Go's archive/tar write it, not as skillcrate does.

    Real mtimes, a real uid/gid and user name, group-writable modes (umask 002), entries in
    the caller's order (not sorted), directory entries only when ``dirs``; with ``dot`` every
    name starts with ``./`` (``tar -C dir -c .``) and a ``./`` entry comes first.
    """
    buf = io.BytesIO()
    lead = "./" if dot else ""
    seen: set[str] = set()

    def info(name: str, *, is_dir: bool, mode: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
        ti.mode, ti.size, ti.mtime = mode, size, EPOCH_MTIME
        ti.uid = ti.gid = 1000
        ti.uname = ti.gname = "dev"
        return ti

    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        if dot:
            tar.addfile(info("./", is_dir=True, mode=0o775))
        for rel, (data, exe) in files.items():
            path = f"{prefix}/{rel}" if prefix else rel
            parts = path.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if dirs and d not in seen:
                    seen.add(d)
                    tar.addfile(info(f"{lead}{d}/", is_dir=True, mode=0o775))
            ti = info(lead + path, is_dir=False, mode=0o775 if exe else 0o664, size=len(data))
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    """gzip as a foreign tool does it: a real timestamp in the header, default level."""
    return gzip.compress(data, mtime=EPOCH_MTIME)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def go_json(obj: Any) -> bytes:
    """Compact JSON in the caller's key order, as Go's encoding/json writes a struct."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def desc(
    media_type: str, data: bytes, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    d: dict[str, Any] = {"mediaType": media_type, "digest": sha(data), "size": len(data)}
    if annotations:
        d["annotations"] = dict(annotations)
    return d


@dataclass
class Artifact:
    """A manifest as the other tool serialises it, plus every blob it references."""

    manifest: bytes
    media_type: str
    blobs: list[bytes] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha(self.manifest)


def oci_manifest(
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    blobs: list[bytes],
    *,
    artifact_type: str | None = None,
    annotations: Mapping[str, str] | None = None,
    media_type: str = OCI_MANIFEST,
) -> Artifact:
    m: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type}
    if artifact_type:
        m["artifactType"] = artifact_type
    m["config"] = config
    m["layers"] = layers
    if annotations:
        m["annotations"] = dict(annotations)
    return Artifact(go_json(m), media_type, blobs)


# ---------------------------------------------------------------- the formats


def agentskills_artifact(name: str, files: Mapping[str, tuple[bytes, bool]]) -> Artifact:
    """skills-oci / Arconia: artifactType + skill config + one tar+gzip under ``<name>/``."""
    layer = gz(foreign_tar(files, prefix=name, fmt=tarfile.PAX_FORMAT))
    config = go_json(
        {
            "schemaVersion": "1",
            "name": name,
            "version": TAG,
            "description": "Formats demo. Use when testing interop.",
            "license": "MIT",
        }
    )
    return oci_manifest(
        desc(AS_CONFIG, config),
        [desc(AS_LAYER, layer)],
        [config, layer],
        artifact_type=AS_ARTIFACT,
        annotations={
            "org.opencontainers.image.created": CREATED,
            TITLE: name,
            "io.agentskills.skill.name": name,
            "org.opencontainers.image.version": TAG,
        },
    )


def acr_artifact(name: str, files: Mapping[str, tuple[bytes, bool]], *, prefix: str) -> Artifact:
    """Alibaba ``acr-skill``: the empty config with inline data, org.agent.skill.* annotations."""
    layer = gz(foreign_tar(files, prefix=prefix))
    empty = b"{}"
    config = {**desc(OCI_EMPTY, empty), "data": "e30="}
    return oci_manifest(
        config,
        [desc(ACR_LAYER, layer)],
        [empty, layer],
        artifact_type=ACR_ARTIFACT,
        annotations={
            "org.agent.skill.name": name,
            "org.agent.skill.version": TAG,
            "org.agent.skill.description": "Formats demo.",
            "org.agent.skill.compatibility": '["claude-code"]',
            "org.opencontainers.image.created": CREATED,
        },
    )


def image_config(tar: bytes, *, docker: bool = False) -> bytes:
    cfg: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
    }
    if docker:
        cfg["config"] = {}
        cfg["created"] = CREATED
    cfg["rootfs"] = {"type": "layers", "diff_ids": [sha(tar)]}
    if docker:
        cfg["history"] = [{"created": CREATED, "created_by": "COPY . / # buildkit"}]
    return go_json(cfg)


def image_artifact(
    files: Mapping[str, tuple[bytes, bool]], *, dot: bool = False, compressed: bool = True
) -> Artifact:
    """skillctl: an OCI image FROM scratch, files at the tar root, no artifactType."""
    tar = foreign_tar(files, dot=dot)
    layer = gz(tar) if compressed else tar
    config = image_config(tar)
    return oci_manifest(
        desc(OCI_IMAGE_CONFIG, config),
        [desc(OCI_LAYER_GZIP if compressed else OCI_LAYER_TAR, layer)],
        [config, layer],
        annotations={
            "org.opencontainers.image.created": CREATED,
            TITLE: "image-skill",
            "org.opencontainers.image.version": TAG,
            "io.skillimage.status": "published",
            "io.skillimage.tags": '["demo"]',
        },
    )


def docker_image_artifact(files: Mapping[str, tuple[bytes, bool]]) -> Artifact:
    """The same image as ``docker build`` + ``docker push`` write it (Docker v2 schema 2)."""
    tar = foreign_tar(files)
    layer = gz(tar)
    config = image_config(tar, docker=True)
    m = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": desc(DOCKER_CONFIG, config),
        "layers": [desc(DOCKER_LAYER, layer)],
    }
    # docker pretty-prints its manifests with three-space indents
    return Artifact(json.dumps(m, indent=3).encode(), DOCKER_MANIFEST, [config, layer])


def redhat_artifact(name: str, files: Mapping[str, tuple[bytes, bool]]) -> Artifact:
    """The Red Hat skillimage variant: its own config and layer media types."""
    layer = gz(foreign_tar(files))
    config = go_json({"name": name, "version": TAG, "description": "Formats demo."})
    return oci_manifest(
        desc(RH_CONFIG, config),
        [desc(RH_LAYER, layer)],
        [config, layer],
        annotations={"org.opencontainers.image.created": CREATED, TITLE: name},
    )


def oras_dir_layer(folder: str, files: Mapping[str, tuple[bytes, bool]]) -> tuple[dict, bytes]:
    """``oras push REF ./<folder>/``: one tar+gzip of the folder, rooted at ``<folder>/``."""
    tar = foreign_tar(files, prefix=folder, fmt=tarfile.PAX_FORMAT)
    layer = gz(tar)
    ann = {
        "io.deis.oras.content.digest": sha(tar),
        "io.deis.oras.content.unpack": "true",
        TITLE: folder,
    }
    return desc(OCI_LAYER_GZIP, layer, ann), layer


def oras_config(config_mt: str) -> tuple[dict[str, Any], bytes]:
    empty = b"{}"
    d = desc(config_mt, empty)
    if config_mt == OCI_EMPTY:
        d["data"] = "e30="
    return d, empty


# ---------------------------------------------------------------- raw HTTP push


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # 127.0.0.1 only: never a proxy, never ~/.netrc
    return s


def push_blob(registry: RegistryServer, repo: str, data: bytes) -> str:
    """POST an upload session, then PUT the whole blob with ``?digest=``."""
    digest = sha(data)
    s = _session()
    start = s.post(f"{registry.url}/v2/{repo}/blobs/uploads/", timeout=TIMEOUT)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    if location.startswith("/"):
        location = registry.url + location
    done = s.put(
        location,
        params={"digest": digest},
        data=data,
        headers={"Content-Type": "application/octet-stream"},
        timeout=TIMEOUT,
    )
    assert done.status_code == 201, done.text
    return digest


def put_manifest(
    registry: RegistryServer, repo: str, tag: str, body: bytes, media_type: str
) -> requests.Response:
    return _session().put(
        f"{registry.url}/v2/{repo}/manifests/{tag}",
        data=body,
        headers={"Content-Type": media_type},
        timeout=TIMEOUT,
    )


def publish(registry: RegistryServer, repo: str, art: Artifact, tag: str = TAG) -> str:
    """Push every blob, then the manifest under ``tag``; return ``host/repo:tag``."""
    for blob in art.blobs:
        push_blob(registry, repo, blob)
    resp = put_manifest(registry, repo, tag, art.manifest, art.media_type)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Docker-Content-Digest"] == art.digest  # the registry kept our bytes
    return f"{registry.host}/{repo}:{tag}"


def write_layout(root: Path, art: Artifact, tag: str = TAG) -> Path:
    """An OCI image layout written by hand (as ``oras push --oci-layout`` leaves it)."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for data in [*art.blobs, art.manifest]:
        (blobs / sha(data).split(":")[1]).write_bytes(data)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": art.media_type,
                "digest": art.digest,
                "size": len(art.manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    return root


# ---------------------------------------------------------------- CLI helpers


def ok(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = run_cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, f"skillcrate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def fails(*args: str, cwd: Path) -> str:
    """Run a command that must fail cleanly; return its one ``error:`` line."""
    proc = run_cli(*args, cwd=cwd)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[0] == errors[0], proc.stderr
    assert all(line.startswith(("error:", "hint:")) for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    return errors[0]


def new_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir(parents=True)
    ok("init", cwd=project)
    return project


def installed_tree(project: Path, name: str) -> dict[str, tuple[bytes, int]]:
    folder = project / ".agents" / "skills" / name
    assert folder.is_dir() and not folder.is_symlink(), sorted(
        p.name for p in (project / ".agents" / "skills").iterdir()
    )
    return tree_of(folder)


def assert_installs(
    tmp_path: Path,
    ref: str,
    *,
    name: str,
    fmt: str,
    tree: dict[str, tuple[bytes, int]],
    digest: str,
) -> Path:
    """``add`` then ``install`` in a new project: exact files, lock format, inspect format.

    Then the folder and the cache are thrown away and ``install`` rebuilds the folder from
    the lock alone (the manifest fetched again by digest).
    """
    project = new_project(tmp_path)
    ok("add", ref, cwd=project)
    assert installed_tree(project, name) == tree

    spec = json.loads((project / "skills.json").read_text())
    assert [s["name"] for s in spec["skills"]] == [name]
    lock = json.loads((project / "skills.lock.json").read_text())
    (entry,) = lock["skills"]
    assert (entry["name"], entry["format"]) == (name, fmt)
    assert entry["source"]["digest"] == digest

    ok("install", cwd=project)
    assert installed_tree(project, name) == tree

    info = json.loads(ok("inspect", ref, "--json", cwd=project))
    assert (info["format"], info["digest"]) == (fmt, digest)
    assert info["files"]

    shutil.rmtree(project / ".agents" / "skills" / name)
    other_cache = tmp_path / "second-cache"
    ok("install", cwd=project, env={"SKILLCRATE_CACHE_DIR": str(other_cache)})
    assert installed_tree(project, name) == tree
    assert any(other_cache.rglob("*")), "install did not go back to the source"
    return project


# ================================================================ reading: registry


def test_agentskills_skills_oci_arconia(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """skills-oci / Arconia bytes: PAX tar under ``<name>/``, real mtimes and owners."""
    files = skill_files("oci-spec-skill")
    art = agentskills_artifact("oci-spec-skill", files)
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="oci-spec-skill",
        fmt="agentskills",
        tree=expected_tree(files),
        digest=art.digest,
    )


def test_agentskills_with_an_extra_skillcard_layer(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """docsclaw-style: a ``skill.yaml`` card layer before the content layer; only the
    content layer (by media type) is the skill."""
    files = skill_files("carded")
    layer = gz(foreign_tar(files, prefix="carded"))
    card = b"apiVersion: skillimage.io/v1alpha1\nkind: SkillCard\nmetadata:\n  name: carded\n"
    config = go_json({"schemaVersion": "1", "name": "carded"})
    art = oci_manifest(
        desc(AS_CONFIG, config),
        [
            desc("application/vnd.docsclaw.skill.card.v1+yaml", card, {TITLE: "skill.yaml"}),
            desc(AS_LAYER, layer),
        ],
        [config, card, layer],
        artifact_type=AS_ARTIFACT,
    )
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="carded",
        fmt="agentskills",
        tree=expected_tree(files),
        digest=art.digest,
    )


@pytest.mark.parametrize("layout", ["under-name", "at-root"])
def test_acr_skill(registry: RegistryServer, repo_name: str, tmp_path: Path, layout: str) -> None:
    """Alibaba ``acr-skill``: config is the empty descriptor with ``data: e30=``."""
    files = skill_files("acr-skill-demo")
    art = acr_artifact(
        "acr-skill-demo", files, prefix="acr-skill-demo" if layout == "under-name" else ""
    )
    assert json.loads(art.manifest)["config"]["data"] == "e30="
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="acr-skill-demo",
        fmt="acr",
        tree=expected_tree(files),
        digest=art.digest,
    )


@pytest.mark.parametrize("dot", [False, True], ids=["plain-names", "dot-slash-names"])
def test_skillctl_oci_image(
    registry: RegistryServer, repo_name: str, tmp_path: Path, dot: bool
) -> None:
    """skillctl: FROM-scratch OCI image, files at the tar root, ``skill.yaml`` alongside."""
    files = skill_files("image-skill")
    files["skill.yaml"] = (
        b"apiVersion: skillimage.io/v1alpha1\nkind: SkillCard\nmetadata:\n"
        b"  name: image-skill\n  namespace: demo\n  version: 1.0.0\n"
        b"  description: Formats demo.\nspec:\n  prompt: SKILL.md\n",
        False,
    )
    art = image_artifact(files, dot=dot)
    cfg = json.loads(art.blobs[0])
    assert cfg["rootfs"]["diff_ids"] == [sha(foreign_tar(files, dot=dot))]
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path, ref, name="image-skill", fmt="image", tree=expected_tree(files), digest=art.digest
    )


def test_image_with_an_uncompressed_layer(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """``buildah push --disable-compression`` / ``skopeo copy --dest-decompress``: the layer
    is ``application/vnd.oci.image.layer.v1.tar``, the same tar without gzip."""
    files = skill_files("plain-tar-skill")
    art = image_artifact(files, compressed=False)
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="plain-tar-skill",
        fmt="image",
        tree=expected_tree(files),
        digest=art.digest,
    )


def test_skillctl_image_as_docker_v2_manifest(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """The image as ``docker push`` writes it: Docker v2 schema 2 manifest and media types."""
    files = skill_files("docker-skill")
    art = docker_image_artifact(files)
    ref = publish(registry, repo_name, art)
    raw = _session().get(
        f"{registry.url}/v2/{repo_name}/manifests/{TAG}",
        headers={"Accept": DOCKER_MANIFEST},
        timeout=TIMEOUT,
    )
    assert raw.headers["Content-Type"] == DOCKER_MANIFEST
    project = assert_installs(
        tmp_path,
        ref,
        name="docker-skill",
        fmt="image",
        tree=expected_tree(files),
        digest=art.digest,
    )
    info = json.loads(ok("inspect", ref, "--json", cwd=project))
    assert info["mediaType"] == DOCKER_MANIFEST


def test_redhat_skillimage_variant(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    files = skill_files("rh-skill")
    art = redhat_artifact("rh-skill", files)
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path, ref, name="rh-skill", fmt="image", tree=expected_tree(files), digest=art.digest
    )


@pytest.mark.parametrize(
    ("config_mt", "artifact_type"),
    [
        (ORAS_UNKNOWN_CONFIG, None),  # oras push REF ./dir/
        (OCI_EMPTY, "application/vnd.acme.skill"),  # oras push --artifact-type … (ORAS ≥ 1.2)
        (ORAS_UNKNOWN_CONFIG, "application/vnd.unknown.artifact.v1"),
    ],
    ids=["unknown-config", "empty-config-artifact-type", "unknown-artifact-type"],
)
def test_oras_folder_push(
    registry: RegistryServer,
    repo_name: str,
    tmp_path: Path,
    config_mt: str,
    artifact_type: str | None,
) -> None:
    files = skill_files("oras-folder")
    layer_desc, layer = oras_dir_layer("oras-folder", files)
    cfg_desc, cfg = oras_config(config_mt)
    art = oci_manifest(
        cfg_desc,
        [layer_desc],
        [cfg, layer],
        artifact_type=artifact_type,
        annotations={"org.opencontainers.image.created": CREATED},
    )
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="oras-folder",
        fmt="oras-dir",
        tree=expected_tree(files),
        digest=art.digest,
    )


def test_oras_folder_named_unlike_the_skill(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """``oras push REF ./src/`` of a skill called ``renamed-skill``: SKILL.md names it."""
    files = skill_files("renamed-skill")
    layer_desc, layer = oras_dir_layer("src", files)
    cfg_desc, cfg = oras_config(ORAS_UNKNOWN_CONFIG)
    art = oci_manifest(cfg_desc, [layer_desc], [cfg, layer])
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="renamed-skill",
        fmt="oras-dir",
        tree=expected_tree(files),
        digest=art.digest,
    )


@pytest.mark.parametrize(
    "layer_mt",
    [OCI_LAYER_TAR, None],
    ids=["oras-default-media-type", "per-file-media-types"],
)
def test_oras_files_push(
    registry: RegistryServer, repo_name: str, tmp_path: Path, layer_mt: str | None
) -> None:
    """``oras push REF SKILL.md scripts/run.sh …``: one raw layer per file, titled by its
    relative path. The format carries no modes, so every file installs as 0644."""
    files = skill_files("oras-files")
    per_file = {
        "SKILL.md": "text/markdown",
        "scripts/run.sh": "application/x-sh",
        "references/guide.md": "text/markdown",
        "assets/logo.bin": "application/octet-stream",
    }
    layers, blobs = [], []
    for rel, (data, _exe) in files.items():
        layers.append(desc(layer_mt or per_file[rel], data, {TITLE: rel}))
        blobs.append(data)
    cfg_desc, cfg = oras_config(ORAS_UNKNOWN_CONFIG)
    art = oci_manifest(cfg_desc, layers, [cfg, *blobs])
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="oras-files",
        fmt="oras-files",
        tree=expected_tree(files, modes=False),
        digest=art.digest,
    )


def test_oras_files_push_with_a_folder_among_the_files(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    """``oras push REF SKILL.md scripts/ references/``: the files are raw layers, each folder
    a tar+gzip layer titled with its name and ``io.deis.oras.content.unpack=true``."""
    files = skill_files("mixed-push")
    md, _ = files["SKILL.md"]
    layers = [desc("text/markdown", md, {TITLE: "SKILL.md"})]
    blobs = [md]
    for folder in ("scripts", "references", "assets"):
        inner = {k.split("/", 1)[1]: v for k, v in files.items() if k.startswith(folder + "/")}
        layer_desc, layer = oras_dir_layer(folder, inner)
        layers.append(layer_desc)
        blobs.append(layer)
    cfg_desc, cfg = oras_config(ORAS_UNKNOWN_CONFIG)
    art = oci_manifest(cfg_desc, layers, [cfg, *blobs])
    ref = publish(registry, repo_name, art)
    tree = expected_tree(files)  # the folder layers are tars: they keep their modes
    project = assert_installs(
        tmp_path, ref, name="mixed-push", fmt="oras-files", tree=tree, digest=art.digest
    )
    info = json.loads(ok("inspect", ref, "--json", cwd=project))
    listed = {f["path"]: f["mode"] for f in info["files"]}
    assert listed == {
        "SKILL.md": "0644",
        "scripts/run.sh": "0775",
        "references/guide.md": "0664",
        "assets/logo.bin": "0664",
    }


@pytest.mark.parametrize("fmt", ["agentskills", "image", "oras-files"])
def test_lowercase_skill_md(
    registry: RegistryServer, repo_name: str, tmp_path: Path, fmt: str
) -> None:
    """``skill.md`` instead of ``SKILL.md`` is read, and installed under its own name."""
    files = skill_files("lower-case", skill_file="skill.md")
    if fmt == "agentskills":
        art = agentskills_artifact("lower-case", files)
    elif fmt == "image":
        art = image_artifact(files)
    else:
        cfg_desc, cfg = oras_config(ORAS_UNKNOWN_CONFIG)
        art = oci_manifest(
            cfg_desc,
            [desc(OCI_LAYER_TAR, data, {TITLE: rel}) for rel, (data, _) in files.items()],
            [cfg, *(data for data, _ in files.values())],
        )
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name="lower-case",
        fmt=fmt,
        tree=expected_tree(files, modes=fmt != "oras-files"),
        digest=art.digest,
    )


@pytest.mark.parametrize("source", ["title-annotation", "repository-name"])
def test_name_falls_back_when_skill_md_has_none(
    registry: RegistryServer, repo_name: str, tmp_path: Path, source: str
) -> None:
    """§6: no ``name`` in SKILL.md → the annotations, then the repository's last segment."""
    files = skill_files("unused")
    files["SKILL.md"] = (b"---\ndescription: No name here.\n---\n# Nameless\n", False)
    if source == "title-annotation":
        art = image_artifact(files)  # annotated org.opencontainers.image.title=image-skill
        name, fmt = "image-skill", "image"
    else:
        cfg_desc, cfg = oras_config(ORAS_UNKNOWN_CONFIG)
        art = oci_manifest(
            cfg_desc,
            [desc(OCI_LAYER_TAR, data, {TITLE: rel}) for rel, (data, _) in files.items()],
            [cfg, *(data for data, _ in files.values())],
        )
        name, fmt = repo_name.rsplit("/", 1)[1], "oras-files"
    ref = publish(registry, repo_name, art)
    assert_installs(
        tmp_path,
        ref,
        name=name,
        fmt=fmt,
        tree=expected_tree(files, modes=fmt != "oras-files"),
        digest=art.digest,
    )


# ================================================================ OCI artifact manifest


def _artifact_manifest_push(files: Mapping[str, tuple[bytes, bool]]) -> Artifact:
    """``oras push --image-spec v1.1-artifact`` (ORAS 1.0): ``blobs`` instead of ``layers``."""
    layer_desc, layer = oras_dir_layer("artifact-skill", files)
    m = {
        "mediaType": OCI_ARTIFACT_MANIFEST,
        "artifactType": "application/vnd.acme.skill",
        "blobs": [layer_desc],
        "annotations": {"org.opencontainers.image.created": CREATED},
    }
    return Artifact(go_json(m), OCI_ARTIFACT_MANIFEST, [layer])


def test_oci_artifact_manifest(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    """The short-lived ``application/vnd.oci.artifact.manifest.v1+json``.

    Debian's docker-registry (Distribution 2.8.2) refuses it: the manifest PUT answers
    ``400 MANIFEST_INVALID`` (it predates OCI 1.1 and knows no such media type). So it is read
    through an OCI image layout written by hand (as ``oras push --oci-layout`` leaves it);
    should the registry ever accept it, the registry path is tested too.
    """
    files = skill_files("artifact-skill")
    art = _artifact_manifest_push(files)
    for blob in art.blobs:
        push_blob(registry, repo_name, blob)
    resp = put_manifest(registry, repo_name, TAG, art.manifest, art.media_type)
    if resp.status_code == 201:
        refs = [f"{registry.host}/{repo_name}:{TAG}"]
    else:
        assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
        refs = []
    layout = write_layout(tmp_path / "artifact-layout", art)
    refs.append(f"oci:{layout}:{TAG}")
    for i, ref in enumerate(refs):
        assert_installs(
            tmp_path / f"run-{i}",
            ref,
            name="artifact-skill",
            fmt="oras-dir",
            tree=expected_tree(files),
            digest=art.digest,
        )


def test_oci_artifact_manifest_is_refused_by_distribution(
    registry: RegistryServer, repo_name: str
) -> None:
    """Documents the registry behaviour the test above depends on (Distribution 2.x)."""
    art = _artifact_manifest_push(skill_files("artifact-skill"))
    for blob in art.blobs:
        push_blob(registry, repo_name, blob)
    resp = put_manifest(registry, repo_name, TAG, art.manifest, art.media_type)
    version = subprocess.run(
        [registry.binary, "--version"], capture_output=True, text=True, check=False
    ).stdout
    if " 2." not in version:
        pytest.skip(f"registry is not Distribution 2.x: {version.strip()}")
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert "MANIFEST_INVALID" in resp.text


# ================================================================ refusals


def _refused(tmp_path: Path, ref: str) -> str:
    """``add`` must fail with one ``error:`` line and leave the project untouched."""
    project = new_project(tmp_path)
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    line = fails("add", ref, cwd=project)
    after = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    assert after == before
    skills = project / ".agents" / "skills"
    assert not skills.exists() or not [p for p in skills.iterdir() if not p.name.startswith(".")]
    return line


def test_refuses_a_container_image_with_three_layers(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    tars = [
        foreign_tar({"etc/os-release": (b"ID=demo\n", False)}),
        foreign_tar({"usr/bin/tool": (os.urandom(512), True)}),
        foreign_tar({"app/main.py": (b"print('hi')\n", False), "app/README.md": (b"x", False)}),
    ]
    layers = [gz(t) for t in tars]
    config = go_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/usr/bin/tool"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(t) for t in tars]},
        }
    )
    art = oci_manifest(
        desc(OCI_IMAGE_CONFIG, config),
        [desc(OCI_LAYER_GZIP, layer) for layer in layers],
        [config, *layers],
    )
    line = _refused(tmp_path, publish(registry, repo_name, art))
    assert "a container image with 3 layers" in line, line


def test_refuses_a_docker_image_with_two_layers(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    tars = [foreign_tar({"bin/a": (b"a", True)}), foreign_tar({"bin/b": (b"b", True)})]
    layers = [gz(t) for t in tars]
    config = go_json(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    )
    m = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": desc(DOCKER_CONFIG, config),
        "layers": [desc(DOCKER_LAYER, layer) for layer in layers],
    }
    art = Artifact(go_json(m), DOCKER_MANIFEST, [config, *layers])
    line = _refused(tmp_path, publish(registry, repo_name, art))
    assert "a container image with 2 layers" in line, line


def test_refuses_a_helm_chart(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    chart = gz(
        foreign_tar(
            {
                "Chart.yaml": (b"apiVersion: v2\nname: mychart\nversion: 0.1.0\n", False),
                "values.yaml": (b"replicaCount: 1\n", False),
                "templates/deployment.yaml": (b"kind: Deployment\n", False),
            },
            prefix="mychart",
        )
    )
    config = go_json({"name": "mychart", "version": "0.1.0", "apiVersion": "v2"})
    art = oci_manifest(
        desc(HELM_CONFIG, config),
        [desc(HELM_LAYER, chart)],
        [config, chart],
        annotations={"org.opencontainers.image.title": "mychart"},
    )
    line = _refused(tmp_path, publish(registry, repo_name, art))
    assert "a Helm chart" in line, line


def test_refuses_a_single_layer_image_without_skill_md(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    files = {"README.md": (b"# not a skill\n", False), "bin/tool": (b"\x7fELF", True)}
    art = image_artifact(files)
    line = _refused(tmp_path, publish(registry, repo_name, art))
    assert "a container image with 1 layer and no SKILL.md" in line, line


@pytest.mark.parametrize("bad", ["My_Skill", "double--hyphen", "x" * 65])
def test_refuses_a_skill_name_that_breaks_the_pattern(
    registry: RegistryServer, repo_name: str, tmp_path: Path, bad: str
) -> None:
    files = skill_files("placeholder")
    files["SKILL.md"] = (skill_md(bad), False)
    art = agentskills_artifact("good-name", files)  # the annotations say a valid name
    line = _refused(tmp_path, publish(registry, repo_name, art))
    assert "not a valid skill name" in line and bad in line, line


def test_registry_refuses_a_layer_digest_that_names_no_blob(
    registry: RegistryServer, repo_name: str
) -> None:
    """A manifest whose layer digest lies cannot even be stored: Distribution checks every
    referenced blob exists. (The digest lie is therefore tested through a layout below.)"""
    files = skill_files("liar")
    art = agentskills_artifact("liar", files)
    m = json.loads(art.manifest)
    m["layers"][0]["digest"] = sha(b"some other bytes")
    for blob in art.blobs:
        push_blob(registry, repo_name, blob)
    resp = put_manifest(registry, repo_name, TAG, go_json(m), OCI_MANIFEST)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert "MANIFEST_BLOB_UNKNOWN" in resp.text


@pytest.mark.parametrize("delta", [-1, 1], ids=["short", "long"])
def test_refuses_a_layer_whose_size_lies(
    registry: RegistryServer, repo_name: str, tmp_path: Path, delta: int
) -> None:
    """The registry only checks that the blob exists, so a wrong ``size`` is stored; the
    client must notice the blob it gets is not the size the manifest promised."""
    files = skill_files("size-liar")
    art = agentskills_artifact("size-liar", files)
    m = json.loads(art.manifest)
    m["layers"][0]["size"] += delta
    art = Artifact(go_json(m), OCI_MANIFEST, art.blobs)
    for blob in art.blobs:
        push_blob(registry, repo_name, blob)
    resp = put_manifest(registry, repo_name, TAG, art.manifest, OCI_MANIFEST)
    if resp.status_code != 201:
        pytest.skip(f"registry refuses a wrong layer size itself: {resp.status_code}")
    layer = json.loads(art.manifest)["layers"][0]
    line = _refused(tmp_path, f"{registry.host}/{repo_name}:{TAG}")
    assert layer["digest"] in line and f"declared {layer['size']}" in line, line


@pytest.mark.parametrize("same_size", [True, False], ids=["same-size", "other-size"])
def test_refuses_a_layout_blob_whose_bytes_do_not_match_its_digest(
    tmp_path: Path, same_size: bool
) -> None:
    """A layout written by hand where the layer file was swapped after the manifest was
    written (Distribution would not store such a manifest, see above)."""
    files = skill_files("tampered")
    art = agentskills_artifact("tampered", files)
    layout = write_layout(tmp_path / "layout", art)
    layer = json.loads(art.manifest)["layers"][0]
    blob = layout / "blobs" / "sha256" / layer["digest"].split(":")[1]
    if same_size:  # one flipped byte in the deflate stream
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        evil = bytes(data)
    else:
        evil = gz(foreign_tar({**files, "scripts/run.sh": (b"#!/bin/sh\nrm -rf ~\n", True)}))
    assert len(evil) == layer["size"] or not same_size
    blob.write_bytes(evil)
    line = _refused(tmp_path, f"oci:{layout}:{TAG}")
    assert layer["digest"] in line, line
    if same_size:
        assert "digest" in line.replace(layer["digest"], ""), line


# ================================================================ writing: skopeo, umoci


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"`{name}` not found on PATH (install the `{package}` package to run this test)"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{message}; CI=true, so a missing tool is an error", pytrace=False)
    pytest.skip(message)


def _skill_folder(root: Path, name: str) -> Path:
    folder = make_skill(
        root,
        name,
        files={
            "scripts/run.sh": "#!/bin/sh\necho hello\n",
            "references/notes.md": "# Notes\n",
            "assets/data.txt": "a,b,c\n",
        },
        version=TAG,
    )
    (folder / "scripts" / "run.sh").chmod(0o755)
    return folder


def _skopeo_copy(skopeo: str, src: str, dest: str) -> None:
    proc = subprocess.run(
        [
            skopeo,
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            src,
            dest,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_pushed_image_unpacks_with_umoci(
    registry: RegistryServer, skopeo_bin: str, repo_name: str, tmp_path: Path
) -> None:
    """``push --format image`` is a real image: skopeo copies it into a layout and umoci,
    which checks the config's diff_ids against the layer, unpacks SKILL.md at the root."""
    umoci = _tool("umoci", "umoci")
    folder = _skill_folder(tmp_path / "src", "umoci-skill")
    ref = f"{registry.host}/{repo_name}:{TAG}"
    pushed = json.loads(ok("push", str(folder), ref, "--format", "image", "--json"))
    layout = tmp_path / "layout"
    _skopeo_copy(skopeo_bin, f"docker://{ref}", f"oci:{layout}:{TAG}")

    bundle = tmp_path / "rootfs"
    proc = subprocess.run(
        [umoci, "raw", "unpack", "--rootless", "--image", f"{layout}:{TAG}", str(bundle)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (bundle / "SKILL.md").is_file()
    assert tree_of(bundle) == tree_of(folder)
    assert tree_of(bundle)["scripts/run.sh"][1] == 0o755

    # and the layout skopeo wrote installs like the registry copy
    assert_installs(
        tmp_path / "from-layout",
        f"oci:{layout}:{TAG}",
        name="umoci-skill",
        fmt="image",
        tree=tree_of(folder),
        digest=pushed["digest"],
    )


@pytest.mark.parametrize("fmt", ["agentskills", "acr", "image"])
def test_push_round_trips_through_skopeo_into_another_repository(
    registry: RegistryServer, skopeo_bin: str, repo_name: str, tmp_path: Path, fmt: str
) -> None:
    """registry → ``skopeo copy`` → layout → ``skopeo copy`` → second repository: the
    manifest digest survives both copies and the second repository installs identically."""
    folder = _skill_folder(tmp_path / "src", "trip-skill")
    ref = f"{registry.host}/{repo_name}:{TAG}"
    pushed = json.loads(ok("push", str(folder), ref, "--format", fmt, "--json"))
    layout = tmp_path / "layout"
    _skopeo_copy(skopeo_bin, f"docker://{ref}", f"oci:{layout}:{TAG}")
    second = f"{registry.host}/{repo_name}-copy:{TAG}"
    _skopeo_copy(skopeo_bin, f"oci:{layout}:{TAG}", f"docker://{second}")

    for i, source in enumerate([ref, f"oci:{layout}:{TAG}", second]):
        assert_installs(
            tmp_path / f"run-{i}",
            source,
            name="trip-skill",
            fmt=fmt,
            tree=tree_of(folder),
            digest=pushed["digest"],
        )
