"""Deterministic packing and safe extraction."""

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from skillcrate.errors import FormatError, UnsafePath, ValidationError
from skillcrate.formats import pack
from skillcrate.skill import archive
from skillcrate.skill.tree import tree_digest_of

from helpers import file_info, make_skill, run_cli, tar_gz

# The layer digest of test_layers_are_compressed_at_level_9…'s folder with stock zlib at
# level 9: it changes only when the archive format or the level does (a CHANGELOG entry).
PINNED_LAYER = "sha256:750688b39639520e6f1490651fa21e98903da74c7d8736fb9c1ebf7ee3817e7e"


def layer_digest(folder, fmt="agentskills"):
    return pack(folder, fmt).layers[0].digest


@pytest.mark.parametrize("fmt", ["agentskills", "acr", "image"])
def test_pack_twice_same_layer_digest(tmp_path, fmt):
    folder = make_skill(
        tmp_path, files={"scripts/run.sh": "#!/bin/sh\necho hi\n", "references/a.md": "A"}
    )
    assert layer_digest(folder, fmt) == layer_digest(folder, fmt)


def test_touched_mtime_and_permissions_do_not_change_digest(tmp_path):
    folder = make_skill(tmp_path, files={"references/a.md": "A", "scripts/run.sh": "x"})
    os.chmod(folder / "scripts/run.sh", 0o755)
    before = layer_digest(folder)
    os.utime(folder / "references/a.md", (1, 1))
    os.utime(folder / "SKILL.md", None)
    os.chmod(folder / "references/a.md", 0o600)  # a stricter umask elsewhere
    os.chmod(folder / "scripts/run.sh", 0o700)
    assert layer_digest(folder) == before


def test_content_and_exec_bit_change_digest(tmp_path):
    folder = make_skill(tmp_path, files={"scripts/run.sh": "x"})
    before = layer_digest(folder)
    os.chmod(folder / "scripts/run.sh", 0o755)
    after_mode = layer_digest(folder)
    assert after_mode != before
    (folder / "scripts/run.sh").write_text("y")
    assert layer_digest(folder) != after_mode


def test_same_folder_elsewhere_gives_same_digest(tmp_path):
    a = make_skill(tmp_path / "one", files={"references/a.md": "A", "z.txt": "z"})
    b = make_skill(tmp_path / "two", files={"z.txt": "z", "references/a.md": "A"})
    assert layer_digest(a) == layer_digest(b)


def test_layer_entries_are_normalised(tmp_path):
    folder = make_skill(tmp_path, files={"scripts/run.sh": "x", "references/a.md": "A"})
    os.chmod(folder / "scripts/run.sh", 0o755)
    packed = pack(folder)
    data = packed.read(packed.layers[0].digest)
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    assert not (data[3] & 0x08)  # no FNAME in the gzip header
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == [
        "demo-skill",
        "demo-skill/SKILL.md",
        "demo-skill/references",
        "demo-skill/references/a.md",
        "demo-skill/scripts",
        "demo-skill/scripts/run.sh",
    ]
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.mode == (0o755 if m.isdir() or m.name.endswith(".sh") else 0o644)


def test_image_format_has_files_at_root(tmp_path):
    folder = make_skill(tmp_path, files={"a.txt": "A"})
    packed = pack(folder, "image")
    data = gzip.decompress(packed.read(packed.layers[0].digest))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert sorted(tar.getnames()) == ["SKILL.md", "a.txt"]


def test_ignored_files_are_skipped(tmp_path):
    folder = make_skill(
        tmp_path,
        files={
            ".git/config": "x",
            "__pycache__/m.cpython-311.pyc": "x",
            "mod.pyc": "x",
            ".DS_Store": "x",
            "build/out.bin": "x",
            "notes.tmp": "x",
            "keep.tmp": "x",
            "a.md": "A",
        },
    )
    (folder / ".skillignore").write_text("build/\n*.tmp\n!keep.tmp\n")
    rels = [e.rel for e in archive.collect(folder)]
    assert rels == ["SKILL.md", "a.md", "keep.tmp"]


def test_a_symlinked_skill_md_is_packed_as_the_file_it_points_to(tmp_path):
    """Real suites link one shared SKILL.md into each agent's folder: pack stores the file."""
    shared = make_skill(tmp_path / "shared", files={"scripts/run.sh": "#!/bin/sh\n"})
    os.chmod(shared / "scripts/run.sh", 0o755)
    linked = tmp_path / "linked" / "demo-skill"
    (linked / "scripts").mkdir(parents=True)
    (linked / "SKILL.md").symlink_to(shared / "SKILL.md")
    (linked / "scripts/run.sh").symlink_to("../../../shared/demo-skill/scripts/run.sh")
    packed = pack(linked)
    assert packed.layers[0].digest == pack(shared).layers[0].digest  # same bytes, same modes
    assert [w.split(" is ")[0] for w in packed.warnings] == ["SKILL.md", "scripts/run.sh"]
    assert pack(shared).warnings == ()


def test_dangling_and_folder_symlinks_are_refused_at_pack(tmp_path):
    folder = make_skill(tmp_path)
    (folder / "gone.md").symlink_to("nowhere.md")
    with pytest.raises(
        ValidationError, match="gone.md: symbolic link to 'nowhere.md' points at nothing"
    ):
        pack(folder)
    (folder / "gone.md").unlink()
    (tmp_path / "elsewhere").mkdir()
    (folder / "refs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValidationError, match="refs: symbolic link to the folder"):
        pack(folder)
    (folder / ".skillignore").write_text("refs/\n")  # an ignored link is no problem
    assert pack(folder).warnings == ()


def test_pack_refuses_what_consumers_could_not_extract(tmp_path, monkeypatch):
    """The extraction cap (256 MiB) is checked before upload, as install checks it."""
    folder = make_skill(tmp_path, files={"assets/big.bin": "x" * 2000})
    monkeypatch.setattr(archive, "MAX_EXTRACT", 1024)
    with pytest.raises(ValidationError, match="past the 0 MiB a consumer extracts"):
        pack(folder)
    monkeypatch.setattr(archive, "MAX_EXTRACT", 1024 * 1024)
    monkeypatch.setattr(archive, "MAX_ENTRIES", 3)
    with pytest.raises(ValidationError, match="files and folders, past the 3"):
        pack(folder)
    monkeypatch.setattr(archive, "MAX_ENTRIES", 4)  # SKILL.md, assets/, big.bin + the wrapper
    pack(folder, "image")


def test_invalid_skill_refused_at_pack(tmp_path):
    folder = make_skill(tmp_path, "x")
    (folder / "SKILL.md").write_text("---\nname: x\n---\n")
    with pytest.raises(ValidationError, match="description"):
        pack(folder)


def test_source_date_epoch_makes_manifest_stable(tmp_path):
    folder = make_skill(tmp_path)
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    assert pack(folder, env=env).digest == pack(folder, env=env).digest


# ------------------------------------------------------------- extraction
def extract(data, dest, **kw):
    archive.extract(io.BytesIO(data), dest, **kw)


@pytest.mark.parametrize("name", ["/etc/passwd", "../evil", "a/../../evil", "a/b/../../../c"])
def test_extract_refuses_escaping_paths(tmp_path, name):
    with pytest.raises(UnsafePath):
        extract(tar_gz([(file_info(name), b"x")]), tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_extract_refuses_symlinks_hardlinks_devices_fifos(tmp_path):
    for kind in (
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
    ):
        ti = tarfile.TarInfo("x/thing")
        ti.type = kind
        ti.linkname = "/etc/passwd"
        with pytest.raises(UnsafePath):
            extract(tar_gz([(ti, None)]), tmp_path / f"out{kind!r}")


def test_extract_refuses_a_name_twice_and_a_folder_that_leads_out(tmp_path):
    twice = tar_gz([(file_info("s/a.md"), b"x"), (file_info("s/a.md"), b"y")])
    with pytest.raises(UnsafePath, match="twice"):
        extract(twice, tmp_path / "out")
    # each folder is proven a real folder (lstat) before anything is made in it: a symlink
    # planted on the way (nothing in an archive can make one) leads nowhere, at any depth,
    # not even to an empty folder made out there
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "s").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(UnsafePath, match="escapes"):
        extract(tar_gz([(file_info("s/a.md"), b"x")]), dest)
    assert not (tmp_path / "elsewhere" / "a.md").exists()
    deep = tmp_path / "deep"
    (deep / "s").mkdir(parents=True)
    (deep / "s" / "t").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UnsafePath, match="escapes"):
        extract(tar_gz([(file_info("s/t/u/a.md"), b"x")]), deep)
    assert list((tmp_path / "elsewhere").iterdir()) == []
    control = tar_gz([(file_info("s/a.md"), b"x"), (file_info("s/b/c.md"), b"y")])
    extract(control, tmp_path / "ok")
    assert (tmp_path / "ok/s/b/c.md").read_bytes() == b"y"


def test_extract_refuses_a_member_below_a_file(tmp_path):
    below = tar_gz([(file_info("s/a.md"), b"x"), (file_info("s/a.md/b.md"), b"y")])
    with pytest.raises(UnsafePath, match="below a file"):
        extract(below, tmp_path / "out")
    assert (tmp_path / "out/s/a.md").read_bytes() == b"x"


def test_extract_size_limit(tmp_path):
    with pytest.raises(FormatError, match="limit"):
        extract(tar_gz([(file_info("x/big"), b"0" * 4096)]), tmp_path / "out", limit=1024)


def test_extract_normalises_modes(tmp_path):
    data = tar_gz([(file_info("s/run.sh", 0o4777), b"x"), (file_info("s/a.md", 0o600), b"y")])
    extract(data, tmp_path / "out")
    assert (tmp_path / "out/s/run.sh").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "out/s/a.md").stat().st_mode & 0o7777 == 0o644


def test_extract_damaged_archive(tmp_path):
    with pytest.raises(FormatError):
        extract(b"\x1f\x8b\x08\x00garbage", tmp_path / "out")


def test_pack_and_push_keep_memory_flat(tmp_path):
    import tracemalloc

    from skillcrate.oci.layout import LayoutRepository
    from skillcrate.publish.push import push_packed

    folder = make_skill(tmp_path, "big-skill")
    with open(folder / "assets.bin", "wb") as fh:
        for _ in range(32):  # 32 MiB that gzip cannot shrink much
            fh.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        packed = pack(folder)
        push_packed(LayoutRepository(tmp_path / "layout"), packed, ["1.0.0"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert packed.layers[0].size > 32 * 1024 * 1024
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes for a 32 MiB layer"


def test_layers_are_compressed_at_level_9_and_a_fixed_folder_keeps_its_digests(tmp_path):
    """The level is part of the layer digest (docs/formats.md): gzip's header says
    "maximum compression" (XFL 2) whatever the deflate build, and with stock zlib a fixed
    folder keeps the digest it has always had. The tree and the uncompressed tar's digest
    do not depend on zlib at all."""
    import zlib

    folder = make_skill(
        tmp_path / "pinned",
        "pinned",
        "A skill whose digests are pinned.",
        files={"scripts/run.sh": "#!/bin/sh\necho pinned\n", "references/a.md": "A\n" * 500},
    )
    os.chmod(folder / "scripts" / "run.sh", 0o755)
    packed = pack(folder, "agentskills")
    layer = packed.read(packed.layers[0].digest)
    assert layer[:3] == b"\x1f\x8b\x08" and layer[8] == 2  # XFL 2: level 9
    image = pack(folder, "image")  # its config names the uncompressed tar
    [diff_id] = json.loads(image.read(image.config.digest))["rootfs"]["diff_ids"]
    unzipped = gzip.decompress(image.read(image.layers[0].digest))
    assert diff_id == "sha256:" + hashlib.sha256(unzipped).hexdigest()
    assert packed.tree == tree_digest_of(folder)
    if "ng" not in zlib.ZLIB_RUNTIME_VERSION:  # zlib-ng deflates the same tar differently
        assert packed.layers[0].digest == PINNED_LAYER


def test_pack_prints_the_tree_an_install_records(tmp_path):
    """Reproducibility across machines is checked by the tree digest, which pack prints
    and the lock records: the same value, also for a symlinked SKILL.md and an ignored file."""
    folder = make_skill(tmp_path / "src" / "treed", "treed", "Tree.", files={"a.md": "A\n"})
    real = folder.parent / "real-skill.md"
    (folder / "SKILL.md").rename(real)
    (folder / "SKILL.md").symlink_to(real)
    (folder / ".skillignore").write_text("notes.txt\n")
    (folder / "notes.txt").write_text("not packed\n")
    shown = run_cli("pack", str(folder), "--json")
    assert shown.returncode == 0, shown.stderr
    tree = json.loads(shown.stdout)["tree"]
    text = run_cli("pack", str(folder))
    assert f"  tree     {tree}" in text.stdout.splitlines()
    store = tmp_path / "store"
    assert run_cli("push", str(folder), f"oci:{store}:1.0.0").returncode == 0
    proj = tmp_path / "proj"
    proj.mkdir()
    added = run_cli("add", f"oci:{store}:1.0.0", cwd=proj)
    assert added.returncode == 0, added.stderr
    [entry] = json.loads((proj / "skills.lock.json").read_text())["skills"]
    assert entry["tree"] == tree
    assert tree_digest_of(proj / ".agents" / "skills" / "treed") == tree
