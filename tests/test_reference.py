import pytest

from skillcrate.errors import InvalidReference
from skillcrate.reference import Reference

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repo", "tag", "digest"),
    [
        ("ghcr.io/acme/skills/review:1.2.3", "ghcr.io", "acme/skills/review", "1.2.3", None),
        ("hello", "docker.io", "library/hello", None, None),
        ("acme/hello:latest", "docker.io", "acme/hello", "latest", None),
        (f"127.0.0.1:5000/a/b@{D}", "127.0.0.1:5000", "a/b", None, D),
        (f"localhost:5000/a:1.0@{D}", "localhost:5000", "a", "1.0", D),
        ("localhost/x", "localhost", "x", None, None),
        ("index.docker.io/acme/x:1", "docker.io", "acme/x", "1", None),
    ],
)
def test_parse_registry_refs(text, registry, repo, tag, digest):
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert not ref.layout


@pytest.mark.parametrize(
    ("text", "path", "tag", "digest"),
    [
        ("oci:./vendor/x", "./vendor/x", None, None),
        ("oci:./vendor/x:1.0.0", "./vendor/x", "1.0.0", None),
        (f"oci:/abs/x@{D}", "/abs/x", None, D),
        ("oci:layout", "layout", None, None),
    ],
)
def test_parse_layout_refs(text, path, tag, digest):
    ref = Reference.parse(text)
    assert ref.layout and (ref.repository, ref.tag, ref.digest) == (path, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "https://ghcr.io/a",
        "ghcr.io/UPPER/x",
        "a:b:c",
        "x@sha256:abc",
        "ghcr.io/a/b:bad tag",
        "oci:",
        "ghcr.io/a//b",
    ],
)
def test_invalid_refs(text):
    with pytest.raises(InvalidReference):
        Reference.parse(text)


def test_loopback_detection():
    assert Reference.parse("127.0.0.1:5000/x").is_loopback
    assert Reference.parse("localhost:5000/x").is_loopback
    assert Reference.parse("[::1]:5000/x").is_loopback
    assert not Reference.parse("ghcr.io/x").is_loopback
    assert not Reference.parse("registry.local:5000/x").is_loopback
