"""Reading every format of formats.md through an OCI layout and the cache."""

import json

import pytest

from skillcrate.cache import Cache
from skillcrate.errors import DigestMismatch, FormatError, NotFound
from skillcrate.fetch import fetch_skill, inspect
from skillcrate.formats import detect, pack
from skillcrate.oci.layout import LayoutRepository
from skillcrate.oci.model import OCI_EMPTY, OCI_INDEX, OCI_MANIFEST, Descriptor, canonical_json
from skillcrate.publish.push import push_packed
from skillcrate.skill import archive

from helpers import make_skill, tree_of


@pytest.fixture
def skill(tmp_path):
    folder = make_skill(
        tmp_path / "src",
        "round-trip",
        files={
            "scripts/run.sh": "#!/bin/sh\necho hi\n",
            "references/guide.md": "# Guide\n",
            "assets/logo.txt": "logo",
        },
    )
    (folder / "scripts/run.sh").chmod(0o755)
    return folder


@pytest.mark.parametrize("fmt", ["agentskills", "acr", "image"])
def test_layout_round_trip_each_written_format(tmp_path, skill, fmt):
    layout = LayoutRepository(tmp_path / "layout")
    packed = pack(skill, fmt, tag="1.0.0")
    push_packed(layout, packed, ["1.0.0"])
    got = fetch_skill(layout, "1.0.0", Cache(tmp_path / "cache"), fallback_name="x")
    assert got.name == "round-trip"
    assert got.format == fmt
    assert tree_of(got.root) == tree_of(skill)


def test_formats_manifest_shapes(skill):
    m = json.loads(pack(skill, "agentskills", tag="1.2.3").manifest)
    assert m["artifactType"] == "application/vnd.agentskills.skill.v1"
    assert m["config"]["mediaType"] == "application/vnd.agentskills.skill.config.v1+json"
    assert [x["mediaType"] for x in m["layers"]] == [
        "application/vnd.agentskills.skill.content.v1.tar+gzip"
    ]
    for key in (
        "org.opencontainers.image.created",
        "org.opencontainers.image.title",
        "io.agentskills.skill.name",
        "org.opencontainers.image.version",
    ):
        assert key in m["annotations"]
    acr = json.loads(pack(skill, "acr", tag="1.2.3").manifest)
    assert acr["artifactType"] == "application/vnd.agent.skill.v1+json"
    assert acr["config"] == {
        "mediaType": OCI_EMPTY,
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
        "data": "e30=",
    }
    assert acr["annotations"]["org.agent.skill.version"] == "1.2.3"
    img = json.loads(pack(skill, "image").manifest)
    assert "artifactType" not in img
    assert img["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"


def test_agentskills_config_fields(tmp_path):
    folder = make_skill(
        tmp_path, "cfg", extra_fm="license: MIT\nallowed-tools: Read Bash(git:*)\n", version="2.0.0"
    )
    packed = pack(folder, "agentskills", tag="2.0.0")
    cfg = packed.read(packed.config.digest)
    assert cfg.startswith(b'{"schemaVersion":"1","name":"cfg","version":"2.0.0"')
    assert json.loads(cfg)["allowedTools"] == ["Read", "Bash(git:*)"]


def _push_raw(layout, manifest: dict, blobs: dict[str, bytes], tag="1.0.0"):
    for digest, data in blobs.items():
        layout.push_blob(Descriptor("application/octet-stream", digest, len(data)), data)
    return layout.push_manifest(
        canonical_json(manifest), manifest.get("mediaType", OCI_MANIFEST), tag
    )


def test_oras_folder_push(tmp_path, skill):
    tar = archive.gzip_bytes(archive.build_tar(skill, prefix="round-trip"))
    layer = Descriptor.for_bytes(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        tar,
        {"org.opencontainers.image.title": "round-trip", "io.deis.oras.content.unpack": "true"},
    )
    empty = Descriptor.for_bytes("application/vnd.unknown.config.v1+json", b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": empty.to_json(),
        "layers": [layer.to_json()],
    }
    layout = LayoutRepository(tmp_path / "l")
    _push_raw(layout, manifest, {layer.digest: tar, empty.digest: b"{}"})
    got = fetch_skill(layout, "1.0.0", Cache(tmp_path / "c"), fallback_name="x")
    assert got.format == "oras-dir"
    assert tree_of(got.root) == tree_of(skill)


def test_oras_files_push_and_artifact_manifest(tmp_path):
    blobs, layers = {}, []
    for title, data in {
        "SKILL.md": b"---\nname: filed\ndescription: d\n---\n",
        "references/a.md": b"A",
    }.items():
        d = Descriptor.for_bytes("text/markdown", data, {"org.opencontainers.image.title": title})
        blobs[d.digest] = data
        layers.append(d.to_json())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.artifact.manifest.v1+json",
        "artifactType": "application/vnd.example",
        "blobs": layers,
    }
    layout = LayoutRepository(tmp_path / "l")
    _push_raw(layout, manifest, blobs)
    got = fetch_skill(layout, "1.0.0", Cache(tmp_path / "c"), fallback_name="x")
    assert got.format == "oras-files" and got.name == "filed"
    assert (got.root / "references/a.md").read_bytes() == b"A"


def test_redhat_skillimage_variant_and_name_fallback(tmp_path, skill):
    tar = archive.gzip_bytes(archive.build_tar(skill, prefix=None))
    layer = Descriptor.for_bytes("application/vnd.redhat.agentskill.layer.v1.tar+gzip", tar)
    cfg = Descriptor.for_bytes("application/vnd.redhat.agentskill.config.v1+json", b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": cfg.to_json(),
        "layers": [layer.to_json()],
    }
    layout = LayoutRepository(tmp_path / "l")
    _push_raw(layout, manifest, {layer.digest: tar, cfg.digest: b"{}"})
    got = fetch_skill(layout, "1.0.0", Cache(tmp_path / "c"), fallback_name="x")
    assert (got.format, got.name) == ("image", "round-trip")


def test_collection_index(tmp_path, skill):
    layout = LayoutRepository(tmp_path / "l")
    other = make_skill(tmp_path / "o", "other-skill")
    descs = []
    for folder in (skill, other):
        p = pack(folder, tag="1.0.0")
        d = push_packed(layout, p, [])
        descs.append(
            Descriptor(
                d.media_type,
                d.digest,
                d.size,
                {"io.agentskills.skill.ref": f"reg/{p.name}:1.0.0"},
                "application/vnd.agentskills.skill.v1",
            )
        )
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": "application/vnd.agentskills.collection.v1",
        "manifests": [d.to_json() for d in descs],
        "annotations": {"io.agentskills.collection.name": "pack"},
    }
    layout.push_manifest(canonical_json(index), OCI_INDEX, "bundle")
    cache = Cache(tmp_path / "c")
    got = fetch_skill(layout, "bundle", cache, fallback_name="x", name="other-skill")
    assert got.name == "other-skill"
    with pytest.raises(FormatError, match="collection of 2 skills"):
        fetch_skill(layout, "bundle", cache, fallback_name="x")
    info = inspect(layout, "bundle", cache, display="oci:l:bundle")
    assert info.format == "collection" and len(info.entries) == 2


@pytest.mark.parametrize(
    ("manifest", "what"),
    [
        (
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.cncf.helm.config.v1+json",
                    "digest": "sha256:" + "0" * 64,
                    "size": 1,
                },
                "layers": [],
            },
            "Helm chart",
        ),
        (
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": "sha256:" + "0" * 64,
                    "size": 1,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": "sha256:" + "1" * 64,
                        "size": 1,
                    }
                ]
                * 3,
            },
            "container image with 3 layers",
        ),
        (
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": "sha256:" + "0" * 64,
                        "size": 1,
                        "platform": {"os": "linux", "architecture": "amd64"},
                    }
                ],
            },
            "image index",
        ),
    ],
)
def test_not_a_skill_is_refused_by_name(manifest, what):
    with pytest.raises(FormatError, match=what):
        detect(manifest)


def test_no_skill_md_in_content(tmp_path):
    folder = tmp_path / "noskill"
    folder.mkdir()
    (folder / "README.md").write_text("x")
    tar = archive.gzip_bytes(archive.build_tar(folder, prefix="noskill"))
    layer = Descriptor.for_bytes("application/vnd.agentskills.skill.content.v1.tar+gzip", tar)
    cfg = Descriptor.for_bytes("application/vnd.agentskills.skill.config.v1+json", b"{}")
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.agentskills.skill.v1",
        "config": cfg.to_json(),
        "layers": [layer.to_json()],
    }
    layout = LayoutRepository(tmp_path / "l")
    _push_raw(layout, manifest, {layer.digest: tar, cfg.digest: b"{}"})
    with pytest.raises(FormatError, match="no SKILL.md"):
        fetch_skill(layout, "1.0.0", Cache(tmp_path / "c"), fallback_name="x")


def test_tampered_layout_blob_is_refused(tmp_path, skill):
    layout = LayoutRepository(tmp_path / "l")
    packed = pack(skill)
    push_packed(layout, packed, ["1.0.0"])
    blob = tmp_path / "l/blobs/sha256" / packed.layers[0].digest.split(":")[1]
    blob.write_bytes(blob.read_bytes()[:-3] + b"xyz")
    cache = Cache(tmp_path / "c")
    with pytest.raises(DigestMismatch):
        fetch_skill(layout, "1.0.0", cache, fallback_name="x")
    assert not cache.has_blob(packed.layers[0].digest)


def test_layout_missing_tag(tmp_path, skill):
    layout = LayoutRepository(tmp_path / "l")
    push_packed(layout, pack(skill), ["1.0.0"])
    with pytest.raises(NotFound, match="2.0.0"):
        layout.resolve("2.0.0")
    assert layout.tags() == ["1.0.0"]
