from __future__ import annotations

import random

import pytest

from skillcrate.errors import NoMatchingVersion, UsageError
from skillcrate.versions import (
    SemVer,
    caret_spec,
    classify_spec,
    parse_range,
    parse_semver,
    pick_tag,
    require_tag,
    satisfies,
    sort_tags,
)

# --- parsing and precedence ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("1.2.3", SemVer(1, 2, 3)),
        ("v1.2.3", SemVer(1, 2, 3)),
        ("0.0.0", SemVer(0, 0, 0)),
        ("1.2.3-beta.1", SemVer(1, 2, 3, ("beta", 1))),
        ("1.2.3-0.3.7", SemVer(1, 2, 3, (0, 3, 7))),
        ("1.2.3-x-y-z.--", SemVer(1, 2, 3, ("x-y-z", "--"))),
        ("1.2.3+build.5", SemVer(1, 2, 3, (), ("build", "5"))),
        ("1.2.3_build.5", SemVer(1, 2, 3, (), ("build", "5"))),
        ("1.2.0-draft", SemVer(1, 2, 0, ("draft",))),
        ("10.20.30-rc.1+sha.abc", SemVer(10, 20, 30, ("rc", 1), ("sha", "abc"))),
    ],
)
def test_parse_semver_valid(tag: str, expected: SemVer) -> None:
    v = parse_semver(tag)
    assert v == expected
    assert v is not None and v.build == expected.build


@pytest.mark.parametrize(
    "tag",
    ["latest", "1.2", "1", "01.2.3", "1.02.3", "1.2.03", "1.2.3-01", "1.2.3-", "1.2.3.4",
     "V1.2.3", "vv1.2.3", "1.2.3-beta..1", "", " 1.2.3", "1.2.3+"],
)  # fmt: skip
def test_parse_semver_rejects(tag: str) -> None:
    assert parse_semver(tag) is None


def test_semver_precedence_spec_example() -> None:
    # semver.org section 11, in ascending order
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0-0",
        "2.0.0",
        "10.0.0",
    ]
    shuffled = ordered[:]
    random.Random(7).shuffle(shuffled)
    assert sorted(shuffled, key=parse_semver) == ordered
    versions = [parse_semver(t) for t in ordered]
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False))


def test_semver_equality_ignores_build_and_v() -> None:
    assert parse_semver("1.0.0+a") == parse_semver("v1.0.0+b")
    assert hash(parse_semver("1.0.0+a")) == hash(parse_semver("1.0.0"))
    assert parse_semver("1.0.0-1") < parse_semver("1.0.0-a")  # numeric < alphanumeric
    assert parse_semver("1.0.0-2") < parse_semver("1.0.0-10")  # numeric compared numerically
    assert parse_semver("1.0.0-B") < parse_semver("1.0.0-a")  # ASCII order


def test_semver_str_and_lifecycle() -> None:
    assert str(parse_semver("v1.2.3-rc.1_build")) == "1.2.3-rc.1+build"
    assert parse_semver("1.2.0-draft").is_prerelease
    assert parse_semver("1.2.0-testing") > parse_semver("1.2.0-draft")
    assert parse_semver("1.2.0-testing") < parse_semver("1.2.0")


# --- classification -----------------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (None, "latest"),
        ("", "latest"),
        ("  ", "latest"),
        ("*", "latest"),
        ("latest", "tag"),
        ("stable", "tag"),
        ("main", "tag"),
        ("1.2.3.4", "tag"),
        ("1.0-rc1", "tag"),
        ("1.2.3", "exact"),
        ("v1.2.3", "exact"),
        ("1.2.0-draft", "exact"),
        (DIGEST, "digest"),
        ("1", "range"),
        ("1.2", "range"),
        ("1.x", "range"),
        ("^1.2.3", "range"),
        ("~1.2", "range"),
        (">=1.0 <2", "range"),
        ("=1.2.3", "range"),
        ("1.2.3 - 1.4", "range"),
        ("1.x || >=2.5.0", "range"),
        ("x", "range"),
    ],
)
def test_classify_spec(spec: str | None, kind: str) -> None:
    assert classify_spec(spec).kind == kind


def test_classify_spec_carries_version_and_range() -> None:
    assert classify_spec("v1.2.3").version == SemVer(1, 2, 3)
    assert str(classify_spec("^1.2").range) == ">=1.2.0 <2.0.0-0"


@pytest.mark.parametrize(
    "spec",
    [
        ">=foo",
        "^1.2.3.4",
        "1.x ||",
        "|| 1.x",
        "^",
        ">=",
        "1.2.3 -",
        "~1.2-beta",
        "1.2 - >=2",
        ">>1",
        "sha256:abc",
        "sha256:" + "A" * 64,
        "not a tag",
        "1.2.3 - 2.0.0 - 3",
    ],
)
def test_invalid_specs_raise_usage_error_naming_the_spec(spec: str) -> None:
    with pytest.raises(UsageError) as info:
        classify_spec(spec)
    assert spec.strip() in str(info.value)
    assert info.value.exit_code == 2


# --- desugaring (npm's documented examples) -----------------------------------------------


@pytest.mark.parametrize(
    ("spec", "desugared"),
    [
        ("^1.2.3", ">=1.2.3 <2.0.0-0"),
        ("^0.2.3", ">=0.2.3 <0.3.0-0"),
        ("^0.0.3", ">=0.0.3 <0.0.4-0"),
        ("^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"),
        ("^0.0.3-beta", ">=0.0.3-beta <0.0.4-0"),
        ("^1.2.x", ">=1.2.0 <2.0.0-0"),
        ("^0.0.x", ">=0.0.0 <0.1.0-0"),
        ("^0.0", ">=0.0.0 <0.1.0-0"),
        ("^1.x", ">=1.0.0 <2.0.0-0"),
        ("^0.x", ">=0.0.0 <1.0.0-0"),
        ("~1.2.3", ">=1.2.3 <1.3.0-0"),
        ("~1.2", ">=1.2.0 <1.3.0-0"),
        ("~1", ">=1.0.0 <2.0.0-0"),
        ("~0.2.3", ">=0.2.3 <0.3.0-0"),
        ("~0.2", ">=0.2.0 <0.3.0-0"),
        ("~0", ">=0.0.0 <1.0.0-0"),
        ("~1.2.3-beta.2", ">=1.2.3-beta.2 <1.3.0-0"),
        ("~> 1.2", ">=1.2.0 <1.3.0-0"),
        ("*", "*"),
        ("1.x", ">=1.0.0 <2.0.0-0"),
        ("1.2.x", ">=1.2.0 <1.3.0-0"),
        ("1.*", ">=1.0.0 <2.0.0-0"),
        ("1", ">=1.0.0 <2.0.0-0"),
        ("1.2", ">=1.2.0 <1.3.0-0"),
        ("1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"),
        ("1.2 - 2.3.4", ">=1.2.0 <=2.3.4"),
        ("1.2.3 - 2.3", ">=1.2.3 <2.4.0-0"),
        ("1.2.3 - 2", ">=1.2.3 <3.0.0-0"),
        (">=1.0", ">=1.0.0"),
        (">= 1.0 < 2", ">=1.0.0 <2.0.0-0"),
        (">1.2", ">=1.3.0"),
        (">1", ">=2.0.0"),
        ("<1.2", "<1.2.0-0"),
        ("<=1.2", "<1.3.0-0"),
        ("<=1", "<2.0.0-0"),
        ("=1.2.3", "=1.2.3"),
        ("v1.2.3 || =v2", "=1.2.3 || >=2.0.0 <3.0.0-0"),
        (">*", "<0.0.0-0"),
    ],
)
def test_desugaring(spec: str, desugared: str) -> None:
    assert str(parse_range(spec)) == desugared


# --- matching -----------------------------------------------------------------------------

MATCHES = [
    # caret
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.9", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^1.2.3-beta.2", "1.2.3-beta.4", True),
    ("^1.2.3-beta.2", "1.2.3-beta.1", False),
    ("^1.2.3-beta.2", "1.2.4-beta.2", False),  # prerelease of another tuple
    ("^1.2.3-beta.2", "1.9.0", True),
    # tilde
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2", "1.2.0", True),
    ("~1", "1.99.0", True),
    ("~1", "2.0.0", False),
    # x-ranges
    ("1.x", "1.0.0", True),
    ("1.x", "2.0.0", False),
    ("1.2.x", "1.2.7", True),
    ("1.2.x", "1.3.0", False),
    ("1", "1.5.0", True),
    ("*", "0.0.1", True),
    ("*", "1.0.0-beta", False),
    # comparators
    (">=1.0.0 <2", "1.99.99", True),
    (">=1.0.0 <2", "2.0.0", False),
    (">=1.0.0 <2", "2.0.0-rc.1", False),
    (">=1.0.0 <2", "0.9.0", False),
    (">=1.0", "1.0.0", True),
    ("=1.2.3", "1.2.3", True),
    ("=1.2.3", "1.2.4", False),
    ("<1.2.3", "1.2.3-beta", False),  # prerelease rule: no 1.2.3-x comparator named
    (">1.2.3-alpha <1.2.3", "1.2.3-beta", True),
    # hyphen
    ("1.2.3 - 1.4", "1.4.9", True),
    ("1.2.3 - 1.4", "1.5.0", False),
    ("1.2.3 - 1.4.0", "1.4.0", True),
    ("1.2.3 - 1.4.0", "1.4.1", False),
    # or
    ("1.x || >=2.5.0", "2.6.0", True),
    ("1.x || >=2.5.0", "2.4.0", False),
    ("^1.0.0 || ^3.0.0-rc.1", "3.0.0-rc.2", True),
    ("^1.0.0 || ^3.0.0-rc.1", "1.1.0-rc.2", False),
    # prerelease rule (npm's own examples)
    (">1.2.3-alpha.3", "1.2.3-alpha.7", True),
    (">1.2.3-alpha.3", "3.4.5-alpha.9", False),
    (">1.2.3-alpha.3", "3.4.5", True),
    # lifecycle tags
    ("^1.2.0", "1.2.0-draft", False),
    ("^1.2.0", "1.3.0-testing", False),
    ("1.x", "1.2.0-testing", False),
    (">=1.2.0-draft", "1.2.0-draft", True),
    (">=1.2.0-draft", "1.2.0-testing", True),
    (">=1.2.0-draft", "1.3.0-draft", False),
    ("1.2.0-draft", "1.2.0-draft", True),
    # v prefix
    ("^1.2.0", "v1.4.0", True),
    ("^v1.2.0", "1.4.0", True),
]


@pytest.mark.parametrize(("spec", "version", "expected"), MATCHES)
def test_range_matching(spec: str, version: str, expected: bool) -> None:
    assert satisfies(spec, version) is expected


# --- picking tags -------------------------------------------------------------------------

TAGS = [
    "latest",
    "stable",
    "0.9.0",
    "1.0.0",
    "1.2.0",
    "1.2.5",
    "1.3.0-beta.1",
    "1.3.0-draft",
    "v1.4.0",
    "2.0.0-rc.1",
    "not.semver",
]


@pytest.mark.parametrize(
    ("spec", "tags", "expected"),
    [
        (None, TAGS, "v1.4.0"),
        ("*", TAGS, "v1.4.0"),
        ("", ["1.0.0", "2.0.0-rc.1", "latest"], "1.0.0"),
        (None, ["latest", "2.0.0-rc.1", "dev"], "latest"),
        (None, ["dev", "2.0.0-rc.1"], None),
        (None, [], None),
        ("latest", TAGS, "latest"),
        ("stable", TAGS, "stable"),
        ("nightly", TAGS, None),
        ("1.2.0", TAGS, "1.2.0"),
        ("1.4.0", TAGS, "v1.4.0"),  # v prefix matched
        ("v1.2.5", TAGS, "1.2.5"),
        ("1.2.4", TAGS, None),
        ("1.3.0-draft", TAGS, "1.3.0-draft"),
        ("^1.2.0", TAGS, "v1.4.0"),
        ("~1.2.0", TAGS, "1.2.5"),
        ("1.2.x", TAGS, "1.2.5"),
        ("^0.9", TAGS, "0.9.0"),
        ("^3", TAGS, None),
        ("<1", TAGS, "0.9.0"),
        # naming a 1.3.0 prerelease admits every 1.3.0 prerelease; -draft > -beta.1
        (">=1.3.0-beta.1 <1.4", TAGS, "1.3.0-draft"),
        (">=1.3.0-beta.1 <1.3.0-c", TAGS, "1.3.0-beta.1"),
        ("^2.0.0-rc.0", TAGS, "2.0.0-rc.1"),
        ("^2", TAGS, None),  # only a prerelease of 2.x exists
        (DIGEST, TAGS, None),
    ],
)
def test_pick_tag(spec: str | None, tags: list[str], expected: str | None) -> None:
    assert pick_tag(spec, tags) == expected


def test_pick_tag_prefers_plain_tag_on_equal_precedence() -> None:
    assert pick_tag("^1", ["v1.2.0", "1.2.0"]) == "1.2.0"
    assert pick_tag(None, ["v1.2.0", "1.2.0"]) == "1.2.0"


def test_pick_tag_accepts_any_iterable_once() -> None:
    assert pick_tag("^1", iter(["1.0.0", "1.1.0"])) == "1.1.0"


def test_require_tag() -> None:
    assert require_tag("^1", ["1.0.0"], source="ghcr.io/a/b") == "1.0.0"
    with pytest.raises(NoMatchingVersion, match=r"ghcr\.io/a/b matches \^3 .*1\.0\.0"):
        require_tag("^3", ["1.0.0", "latest"], source="ghcr.io/a/b")
    with pytest.raises(NoMatchingVersion, match="has no tags"):
        require_tag(None, [], source="ghcr.io/a/b")
    with pytest.raises(UsageError, match="digest"):
        require_tag(DIGEST, ["1.0.0"], source="ghcr.io/a/b")


def test_sort_tags() -> None:
    tags = [
        "stable",
        "1.0.0",
        "1.10.0",
        "1.2.0",
        "v1.2.0",
        "1.2.0-rc.1",
        "alpha",
        "1.2.0+b",
        "1.0.0",
    ]
    assert sort_tags(tags) == [
        "1.10.0",
        "1.2.0",
        "1.2.0+b",
        "v1.2.0",
        "1.2.0-rc.1",
        "1.0.0",
        "alpha",
        "stable",
    ]


# --- satisfies for lock checks ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        (None, "1.2.3", True),
        (None, "latest", True),
        (None, "1.3.0-beta", False),
        ("*", "2.0.0", True),
        ("1.2.3", "1.2.3", True),
        ("1.2.3", "v1.2.3", True),
        ("v1.2.3", "1.2.3", True),
        ("1.2.3", "1.2.4", False),
        ("1.2.3", "1.2.3-rc.1", False),
        ("stable", "stable", True),
        ("stable", "1.2.3", False),
        ("^1.2.0", "1.3.0", True),
        ("^1.2.0", "2.0.0", False),
        ("^1.2.0", "stable", False),
        (DIGEST, DIGEST, True),
        (DIGEST, "sha256:" + "b" * 64, False),
    ],
)
def test_satisfies(spec: str | None, version: str, expected: bool) -> None:
    assert satisfies(spec, version) is expected


def test_satisfies_rejects_invalid_spec() -> None:
    with pytest.raises(UsageError, match=">=foo"):
        satisfies(">=foo", "1.0.0")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.2.3", "^1.2.3"), ("v0.4.0", "^0.4.0"), ("1.3.0-rc.1+b", "^1.3.0-rc.1")],
)
def test_caret_spec(version: str, expected: str) -> None:
    spec = caret_spec(version)
    assert spec == expected
    assert satisfies(spec, version)


def test_caret_spec_rejects_non_semver() -> None:
    with pytest.raises(UsageError, match="latest"):
        caret_spec("latest")


@pytest.mark.parametrize(
    ("spec", "asks"),
    [
        ("^1.0.0", False),
        ("~1.2", False),
        (">=1.0.0 <2.0.0", False),
        ("1.0.0 - 2.0.0", False),
        ("^1.2.0-rc.1", True),
        (">=1.0.0-beta <2", True),
        ("1.2.0-testing", True),  # an exact prerelease
        ("", False),
    ],
)
def test_asks_for_prerelease_only_when_written(spec: str, asks: bool) -> None:
    from skillcrate.versions import asks_for_prerelease

    assert asks_for_prerelease(spec) is asks
