"""Skill artifact formats: pack (write), detect and unpack (read). See docs/formats.md.

Written: ``agentskills`` (default), ``acr`` and ``image``. Read: those three, the
Red Hat skillimage variant, plain ORAS folder and file pushes, and agentskills
collections (an index of skill manifests).

What differs between the written formats is data: one ``_Writer`` per format in
``_WRITERS`` (media types, config, annotations), read by the one :func:`pack`. Reading
goes the other way: :func:`detect` names the format from the manifest alone, and
:func:`unpack` extracts whatever layer layout that format uses.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .digests import finish_reading, sha256_digest
from .errors import DigestMismatch, FormatError, SkillcrateError, ValidationError
from .names import NAME_RE, WRITE_FORMATS
from .oci.model import (
    A_CREATED,
    A_DESCRIPTION,
    A_LICENSES,
    A_REVISION,
    A_SOURCE,
    A_TITLE,
    A_VERSION,
    EMPTY_JSON,
    OCI_ARTIFACT_MANIFEST,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
    created_timestamp,
)
from .skill.rules import SkillInfo, read_skill, validate
from .skill.tree import FileRecord
from .states import A_STATUS, STATES

if TYPE_CHECKING:  # imported where used: install never packs, and rarely unpacks
    from .skill import archive
    from .skill.dependencies import Dependency

# agentskills (OCI Artifacts spec for Agent Skills v0.1)
AS_ARTIFACT = "application/vnd.agentskills.skill.v1"
AS_CONFIG = "application/vnd.agentskills.skill.config.v1+json"
AS_LAYER = "application/vnd.agentskills.skill.content.v1.tar+gzip"
AS_COLLECTION = "application/vnd.agentskills.collection.v1"
# Alibaba Cloud ACR
ACR_ARTIFACT = "application/vnd.agent.skill.v1+json"
ACR_LAYER = "application/vnd.agent.skill.content.v1.tar+gzip"
# skillimage / skillctl
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
IMAGE_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# image layers read: gzip'd, and plain tar (buildah --disable-compression, skopeo --dest-decompress)
IMAGE_LAYERS = (
    IMAGE_LAYER,
    DOCKER_LAYER,
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
)
RH_LAYER = "application/vnd.redhat.agentskill.layer.v1.tar+gzip"
RH_CONFIG = "application/vnd.redhat.agentskill.config.v1+json"
# annotations
A_SKILL_NAME = "io.agentskills.skill.name"
A_SKILL_COMPAT = "io.agentskills.skill.compatibility"
A_SKILL_REF = "io.agentskills.skill.ref"
A_COLLECTION_NAME = "io.agentskills.collection.name"
A_ORAS_UNPACK = "io.deis.oras.content.unpack"
A_DEPENDENCIES = "io.skillcrate.dependencies"  # compact JSON (skill/dependencies.py)


def _semver_like(tag: str | None) -> bool:
    if not tag:
        return False
    from .versions import parse_semver

    return parse_semver(tag) is not None


# ---------------------------------------------------------------- packing
@dataclass(frozen=True)
class Packed:
    """A packed skill: the manifest bytes plus every blob it references."""

    format: str
    name: str
    version: str
    manifest: bytes
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    blobs: Mapping[str, bytes | Path] = field(repr=False, default_factory=dict)  # layers: files
    declared_version: str = ""  # SKILL.md's metadata.version, when it has one
    warnings: tuple[str, ...] = ()  # what packing changed: each symlink stored as its file
    dependencies: tuple[Dependency, ...] = ()  # what the skill's own skills.json declares
    tree: str = ""  # tree digest of the packed files: what an install of it records

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    def read(self, digest: str) -> bytes:
        """A blob's bytes (the layer is read from its temp file)."""
        blob = self.blobs[digest]
        return blob.read_bytes() if isinstance(blob, Path) else blob


def git_info(folder: Path) -> tuple[str, str]:
    """(source URL, revision) of the git repository holding ``folder``, or empty strings."""
    import subprocess

    def run(*args: str) -> str:
        try:
            p = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return p.stdout.strip() if p.returncode == 0 else ""

    rev = run("rev-parse", "HEAD")
    if not rev:
        return "", ""
    url = run("config", "--get", "remote.origin.url")
    if "@" in url and "://" in url:  # strip credentials embedded in a URL
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://{rest.split('@', 1)[1]}"
    return url, rev


def _version_for(info: SkillInfo, folder: Path, tag: str | None) -> str:
    if tag and _semver_like(tag):
        return tag
    if info.metadata and info.metadata.get("version"):
        return info.metadata["version"]
    card = folder / "skill.yaml"
    if card.is_file():
        import yaml

        try:
            data = yaml.safe_load(card.read_text("utf-8")) or {}
            ver = (data.get("metadata") or {}).get("version")
            if ver:
                return str(ver)
        except (yaml.YAMLError, AttributeError):
            pass
    return ""


def agentskills_config(info: SkillInfo, version: str) -> bytes:
    cfg: dict[str, Any] = {"schemaVersion": "1", "name": info.name}
    if version:
        cfg["version"] = version
    if info.description:
        cfg["description"] = info.description
    if info.license:
        cfg["license"] = info.license
    if info.compatibility:
        cfg["compatibility"] = info.compatibility
    if info.allowed_tools:
        cfg["allowedTools"] = list(info.allowed_tools)
    if info.metadata:
        cfg["metadata"] = dict(sorted(info.metadata.items()))
    return canonical_json(cfg)


@dataclass(frozen=True)
class _Writer:
    """How one format writes a packed skill: the per-format half of :func:`pack`."""

    layer_media_type: str
    artifact_type: str | None
    named_layer: bool  # the layer's files sit under a folder named after the skill
    config: Callable[[SkillInfo, str, archive.Layer], tuple[bytes, str]]
    annotations: Callable[[SkillInfo, str, str], dict[str, str]]  # (info, version, created)
    oci_descriptions: bool = True  # org.opencontainers description/licenses annotations
    inline_config: bool = False  # the config descriptor carries its bytes ("data")
    dependencies: bool = True  # declared dependencies as an annotation (else only in the layer)


def _agentskills_annotations(info: SkillInfo, version: str, created: str) -> dict[str, str]:
    ann = {A_CREATED: created, A_TITLE: info.name, A_SKILL_NAME: info.name}
    if info.compatibility:
        ann[A_SKILL_COMPAT] = info.compatibility
    return ann


def _acr_annotations(info: SkillInfo, version: str, created: str) -> dict[str, str]:
    ann = {
        "org.agent.skill.name": info.name,
        "org.agent.skill.version": version or "0.0.0",
        A_CREATED: created,
    }
    if info.description:
        ann["org.agent.skill.description"] = info.description
    if info.license:
        ann["org.agent.skill.license"] = info.license
    if info.metadata and info.metadata.get("author"):
        ann["org.agent.skill.author"] = info.metadata["author"]
    if info.compatibility:
        ann["org.agent.skill.compatibility"] = json.dumps([info.compatibility])
    return ann


def _image_config(info: SkillInfo, version: str, built: archive.Layer) -> tuple[bytes, str]:
    rootfs = {"type": "layers", "diff_ids": [built.diff_id]}
    return canonical_json({"architecture": "amd64", "os": "linux", "rootfs": rootfs}), IMAGE_CONFIG


_WRITERS: dict[str, _Writer] = {
    "agentskills": _Writer(
        layer_media_type=AS_LAYER,
        artifact_type=AS_ARTIFACT,
        named_layer=True,
        config=lambda info, version, _built: (agentskills_config(info, version), AS_CONFIG),
        annotations=_agentskills_annotations,
    ),
    "acr": _Writer(
        layer_media_type=ACR_LAYER,
        artifact_type=ACR_ARTIFACT,
        named_layer=True,
        config=lambda _info, _version, _built: (EMPTY_JSON, OCI_EMPTY),
        annotations=_acr_annotations,
        oci_descriptions=False,
        inline_config=True,
        dependencies=False,  # ACR's manifests carry only its own annotations
    ),
    "image": _Writer(
        layer_media_type=IMAGE_LAYER,
        artifact_type=None,
        named_layer=False,
        config=_image_config,
        annotations=lambda info, _version, created: {A_CREATED: created, A_TITLE: info.name},
    ),
}
assert tuple(_WRITERS) == WRITE_FORMATS


def pack(
    folder: Path,
    fmt: str = "agentskills",
    *,
    tag: str | None = None,
    annotations: Mapping[str, str] | None = None,
    status: str | None = None,
    env: Mapping[str, str] | None = None,
    git: bool = True,
) -> Packed:
    """Validate and pack a skill folder into an artifact of format ``fmt``.

    ``git``: record the folder's git remote and commit as annotations (when it is in a
    repository); off for skillcrate's own skill, whose digest must not depend on where
    the package was installed from."""
    import base64
    import tempfile
    import weakref

    from .skill import archive
    from .skill.dependencies import read_folder, to_annotation

    folder = Path(folder)
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise FormatError(f"unknown format {fmt!r} (choose from {', '.join(WRITE_FORMATS)})")
    if status and status not in STATES:
        raise FormatError(f"unknown lifecycle status {status!r} ({', '.join(STATES)})")
    problems = validate(folder)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        first = errors[0]
        more = (
            f" (and {len(errors) - 1} more; run `skillcrate validate`)" if len(errors) > 1 else ""
        )
        raise ValidationError(f"{folder}: {first.file}: {first.message}{more}")
    info = read_skill(folder)
    version = _version_for(info, folder, tag)
    created = created_timestamp(env)
    source, revision = git_info(folder) if git else ("", "")
    workdir = Path(tempfile.mkdtemp(prefix="skillcrate-pack-"))
    layer_path = workdir / "layer.tar.gz"
    try:
        with open(layer_path, "wb") as out:
            built = archive.write_layer(folder, info.name if writer.named_layer else None, out)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    config_bytes, config_mt = writer.config(info, version, built)
    ann = writer.annotations(info, version, created)
    general = {
        A_VERSION: version,
        A_DESCRIPTION: info.description if writer.oci_descriptions else "",
        A_LICENSES: info.license if writer.oci_descriptions else "",
        A_SOURCE: source,
        A_REVISION: revision,
        A_STATUS: status or "",
    }
    ann.update({key: value for key, value in general.items() if value})
    declared = read_folder(folder, own_name=info.name)
    if declared is not None and declared.dependencies and writer.dependencies:
        ann[A_DEPENDENCIES] = to_annotation(declared.dependencies)
    ann.update(annotations or {})

    config = Descriptor.for_bytes(config_mt, config_bytes)
    layer = Descriptor(writer.layer_media_type, built.digest, built.size)
    manifest: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if writer.artifact_type:
        manifest["artifactType"] = writer.artifact_type
    cfg_json = config.to_json()
    if writer.inline_config:
        cfg_json["data"] = base64.b64encode(config_bytes).decode("ascii")
    manifest["config"] = cfg_json
    manifest["layers"] = [layer.to_json()]
    manifest["annotations"] = dict(sorted(ann.items()))
    packed = Packed(
        format=fmt,
        name=info.name,
        version=version,
        manifest=canonical_json(manifest),
        media_type=OCI_MANIFEST,
        config=config,
        layers=(layer,),
        blobs={config.digest: config_bytes, layer.digest: layer_path},
        declared_version=str((info.metadata or {}).get("version") or ""),
        warnings=tuple(
            p.message
            for p in problems
            if p.severity == "warning" and p.field in ("files", "dependencies")
        ),
        dependencies=declared.dependencies if declared else (),
        tree=built.tree,
    )
    weakref.finalize(packed, shutil.rmtree, workdir, True)  # the layer file lives as long
    return packed


# --------------------------------------------------------------- detection
@dataclass(frozen=True)
class Detected:
    """What an artifact is and where its skill content lives."""

    format: str  # agentskills | acr | image | skillimage-rh | oras-dir | oras-files | collection
    layers: tuple[Descriptor, ...]
    config: Descriptor | None
    annotations: Mapping[str, str]
    artifact_type: str | None
    entries: tuple[Descriptor, ...] = ()  # collection members

    @property
    def is_collection(self) -> bool:
        return self.format == "collection"


def _describe_foreign(
    mt: str, artifact_type: str | None, config_mt: str, layers: list[Descriptor]
) -> str:
    hints = {
        "application/vnd.cncf.helm.config.v1+json": "a Helm chart",
        "application/vnd.wasm.config.v0+json": "a WebAssembly module",
        "application/vnd.dev.cosign.artifact.sig.v1+json": "a cosign signature",
        "application/vnd.cncf.notary.signature": "a Notary signature",
    }
    kind = hints.get(artifact_type or "") or hints.get(config_mt)
    if kind:
        return kind
    if config_mt in (IMAGE_CONFIG, DOCKER_CONFIG):
        n = len(layers)
        return f"a container image with {n} layer{'' if n == 1 else 's'}"
    return f"an artifact of type {artifact_type or config_mt or mt or 'unknown'}"


def detect(manifest: Mapping[str, Any], media_type: str = "") -> Detected:
    """Detect the skill format of a parsed manifest (formats.md §6)."""
    mt = str(manifest.get("mediaType") or media_type or "")
    artifact_type = manifest.get("artifactType")
    annotations = dict(manifest.get("annotations") or {})
    if mt in (OCI_INDEX, "application/vnd.docker.distribution.manifest.list.v2+json") or (
        "manifests" in manifest and "layers" not in manifest
    ):
        entries = tuple(Descriptor.from_json(m) for m in manifest.get("manifests") or [])
        if artifact_type == AS_COLLECTION or any(e.artifact_type == AS_ARTIFACT for e in entries):
            return Detected("collection", (), None, annotations, artifact_type, entries)
        raise FormatError("not a skill: an image index (multi-platform image or list)")
    raw_layers = manifest.get("layers") if mt != OCI_ARTIFACT_MANIFEST else manifest.get("blobs")
    layers = [Descriptor.from_json(x) for x in raw_layers or []]
    config = Descriptor.from_json(manifest["config"]) if manifest.get("config") else None
    config_mt = config.media_type if config else ""
    layer_types = {layer.media_type for layer in layers}

    def one(kind: str, wanted: tuple[str, ...]) -> Detected:
        chosen = [layer for layer in layers if layer.media_type in wanted] or layers
        if len(chosen) != 1:
            raise FormatError(
                f"{kind} artifact must have exactly one content layer, found {len(chosen)}"
            )
        return Detected(kind, (chosen[0],), config, annotations, artifact_type)

    if artifact_type == AS_ARTIFACT or config_mt == AS_CONFIG or AS_LAYER in layer_types:
        return one("agentskills", (AS_LAYER,))
    if artifact_type == ACR_ARTIFACT or ACR_LAYER in layer_types:
        return one("acr", (ACR_LAYER,))
    if config_mt == RH_CONFIG or RH_LAYER in layer_types:
        return one("image", (RH_LAYER,))
    if (
        not artifact_type
        and config_mt in (IMAGE_CONFIG, DOCKER_CONFIG)
        and len(layers) == 1
        and layers[0].media_type in IMAGE_LAYERS
    ):
        return Detected("image", tuple(layers), config, annotations, artifact_type)
    if layers and all(layer.annotations.get(A_TITLE) for layer in layers):
        if len(layers) == 1 and layers[0].annotations.get(A_ORAS_UNPACK) == "true":
            return Detected("oras-dir", tuple(layers), config, annotations, artifact_type)
        return Detected("oras-files", tuple(layers), config, annotations, artifact_type)
    what = _describe_foreign(mt, artifact_type, config_mt, layers)
    raise FormatError(f"not a skill: {what}")


def select_collection_entry(det: Detected, name: str | None) -> Descriptor:
    """Pick one skill manifest from a collection by skill name (or the only one)."""

    def entry_name(d: Descriptor) -> str:
        ref = d.annotations.get(A_SKILL_REF) or d.annotations.get(
            "org.opencontainers.image.ref.name", ""
        )
        return d.annotations.get(A_SKILL_NAME) or ref.rsplit("/", 1)[-1].split(":")[0]

    skills = [e for e in det.entries if e.artifact_type in (AS_ARTIFACT, None)]
    names = [entry_name(e) for e in skills]
    if name:
        for e, n in zip(skills, names, strict=True):
            if n == name:
                return e
        raise FormatError(
            f"collection has no skill {name!r} (it has: {', '.join(names) or 'none'})"
        )
    if len(skills) == 1:
        return skills[0]
    raise FormatError(
        f"reference is a collection of {len(skills)} skills "
        f"({', '.join(names)}); name one with --name"
    )


# --------------------------------------------------------------- unpacking
def _find_root(tree: Path) -> Path:
    from .skill.rules import find_skill_md

    if find_skill_md(tree):
        return tree
    children = [p for p in tree.iterdir() if not p.name.startswith(".")]
    dirs = [p for p in children if p.is_dir()]
    if len(children) == 1 and dirs and find_skill_md(dirs[0]):
        return dirs[0]
    raise FormatError(
        "artifact holds no skill: no SKILL.md at the root or in a single top-level folder"
    )


def skill_name(root: Path, det: Detected, fallback: str) -> str:
    """The installed folder name: SKILL.md's name, else annotations, else ``fallback``."""
    return named_skill(root, det, fallback)[0]


def named_skill(root: Path, det: Detected, fallback: str) -> tuple[str, bool]:
    """(:func:`skill_name`, whether SKILL.md gave it): one read of SKILL.md. A name that
    did not come from SKILL.md depends on ``fallback``, so a cached tree records it."""
    name = ""
    try:
        name = read_skill(root).name
    except ValidationError:
        name = ""
    own = bool(name)
    if not name:
        ann = det.annotations
        name = (
            ann.get(A_SKILL_NAME) or ann.get("org.agent.skill.name") or ann.get(A_TITLE) or fallback
        )
    if not NAME_RE.match(name) or len(name) > 64:
        raise FormatError(
            f"skill name {name!r} is not a valid skill name "
            "(lowercase letters, digits, single hyphens)"
        )
    return name, own


def unpack(
    det: Detected,
    open_blob: Callable[[Descriptor], BinaryIO],
    dest: Path,
    *,
    fallback_name: str,
    hash_files: bool = True,
    read_name: bool = True,
    umask: bool = False,
) -> tuple[str, bool, Path, list[FileRecord]]:
    """Extract a detected skill into the empty folder ``dest``.

    Returns the skill name, whether SKILL.md gave it (:func:`named_skill`), the skill
    root (``dest/content`` or the single folder in it that holds SKILL.md) and the
    records of the files below that root. Without ``read_name`` SKILL.md is not parsed
    (no YAML loaded): the name is ``""`` and not SKILL.md's (an install from a lock
    names the folder after the lock entry). ``open_blob`` must
    return verified content (a :class:`~skillcrate.digests.ChunkReader` is finished
    here, after the whole layer was read). Without ``hash_files`` the records carry no
    file hashes. ``umask``: the files get the modes of files made in a project
    (:func:`skillcrate.skill.archive.write_file`).
    """
    from .skill import archive

    work = dest / "content"
    work.mkdir(parents=True, exist_ok=True)
    budget = archive.Budget()
    records: list[FileRecord] = []
    for layer in det.layers:
        src = open_blob(layer)
        with src:
            try:
                if det.format != "oras-files" or layer.annotations.get(A_ORAS_UNPACK) == "true":
                    records += archive.extract(
                        src, work, budget=budget, hash_files=hash_files, umask=umask
                    )
                else:
                    title = layer.annotations[A_TITLE]
                    records.append(
                        archive.write_file(
                            work,
                            title,
                            src,
                            layer.size,
                            False,
                            budget,
                            hash_files=hash_files,
                            umask=umask,
                        )
                    )
            except DigestMismatch:
                raise
            except SkillcrateError:
                # The archive reader trips over damaged bytes before their digest is seen:
                # read to the end first, so that damage is reported (and a damaged cached
                # blob fetched again) as what it is; an intact but bad archive stays an error.
                finish_reading(src)
                raise
            finish_reading(src)
    try:
        root = _find_root(work)
    except FormatError:
        if det.format != "image":
            raise
        config_mt = det.config.media_type if det.config else ""
        what = _describe_foreign("", det.artifact_type, config_mt, list(det.layers))
        raise FormatError(
            f"not a skill: {what} and no SKILL.md at its root or in a single top-level folder"
        ) from None
    if root != work:
        prefix = root.name + "/"
        records = [
            FileRecord(
                r.path[len(prefix) :], r.sha256, r.executable, r.size, r.mtime_ns, r.ctime_ns
            )
            for r in records
            if r.path.startswith(prefix)
        ]
    if not read_name:
        return "", False, root, records
    name, own = named_skill(root, det, fallback_name)
    return name, own, root, records
