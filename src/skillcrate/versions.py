"""Version specs and tag picking for skill tags.

Tags
----
A tag is a semver 2.0.0 version when it matches::

    ["v"] MAJOR "." MINOR "." PATCH ["-" PRERELEASE] [("+" | "_") BUILD]

MAJOR/MINOR/PATCH are ``0`` or digits without a leading zero; PRERELEASE is dot
separated identifiers (numeric without leading zeros, or ``[0-9A-Za-z-]`` with
a letter or ``-``); BUILD is dot separated ``[0-9A-Za-z-]+``.  OCI tags cannot
hold ``+``, so ``_`` is accepted as the build separator too (Helm's convention).
Every other tag (``latest``, ``stable``, ``1.2``) is a plain tag.

Precedence is semver's: compare MAJOR, MINOR, PATCH numerically; a prerelease
is lower than its release; prerelease identifiers compare left to right,
numeric ones numerically, alphanumeric ones in ASCII order, numeric lower than
alphanumeric, and a shorter list lower when all shared identifiers are equal
(``1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-rc.1
< 1.0.0``); build metadata is ignored.  ``packaging.version.Version`` follows
PEP 440, whose pre-release ordering differs (``1.0.0-alpha.beta`` is not even
valid there), so precedence is implemented here.  Lifecycle tags such as
``1.2.0-draft`` and ``1.2.0-testing`` are ordinary prereleases.

Specs
-----
The ``version`` of a skills.json entry is classified by :func:`classify_spec`:

- ``latest``: absent, ``""`` or ``*`` -- the highest non-prerelease semver tag,
  else the tag ``latest``.  (The string ``latest`` itself is a plain tag.)
- ``digest``: ``sha256:<64 hex>`` -- that manifest, no tag involved.
- ``exact``: a semver version (``1.2.3``, ``v1.2.3``, ``1.2.0-draft``) -- that tag,
  with or without a ``v`` prefix.
- ``range``: an npm range (grammar below) -- the highest satisfying tag.
- ``tag``: any other OCI tag (``stable``, ``main``, ``latest``) -- that tag.

Range grammar (npm's, without its "loose" mode)::

    range-set  ::= range ( "||" range )*          any alternative matches
    range      ::= hyphen | simple ( " " simple )* all comparators match (AND)
    hyphen     ::= partial " - " partial
    simple     ::= primitive | partial | tilde | caret
    primitive  ::= ( "<" | ">" | ">=" | "<=" | "=" ) partial
    tilde      ::= ( "~" | "~>" ) partial
    caret      ::= "^" partial
    partial    ::= ["v"] xr ( "." xr ( "." xr qualifier? )? )?
    xr         ::= "x" | "X" | "*" | "0" | [1-9][0-9]*
    qualifier  ::= ( "-" prerelease )? ( "+" build )?

Whitespace after an operator is allowed (``>= 1.2``).  An empty alternative
(``1.x ||``) is rejected rather than read as ``*``.  Desugaring, as npm does:

- ``1.2.3`` / ``=1.2.3``: exactly 1.2.3.  ``1`` = ``1.x`` = ``1.*`` = ``>=1.0.0 <2.0.0-0``;
  ``1.2`` = ``1.2.x`` = ``>=1.2.0 <1.3.0-0``; ``*``, ``x`` = any release.
- ``^1.2.3`` = ``>=1.2.3 <2.0.0-0``; ``^0.2.3`` = ``>=0.2.3 <0.3.0-0``;
  ``^0.0.3`` = ``>=0.0.3 <0.0.4-0``; ``^1.2`` = ``>=1.2.0 <2.0.0-0``;
  ``^0.0`` = ``>=0.0.0 <0.1.0-0``; ``^1`` = ``>=1.0.0 <2.0.0-0``.
- ``~1.2.3`` = ``>=1.2.3 <1.3.0-0``; ``~1.2`` = ``>=1.2.0 <1.3.0-0``; ``~1`` = ``>=1.0.0 <2.0.0-0``.
- ``>=1.0`` = ``>=1.0.0``; ``>1.2`` = ``>=1.3.0``; ``<1.2`` = ``<1.2.0-0``;
  ``<=1.2`` = ``<1.3.0-0``.
- ``1.2.3 - 2.3.4`` = ``>=1.2.3 <=2.3.4``; a partial upper bound takes everything it
  names: ``1.2.3 - 2.3`` = ``>=1.2.3 <2.4.0-0``, ``1.2.3 - 2`` = ``>=1.2.3 <3.0.0-0``;
  a partial lower bound is zero-filled: ``1.2 - 2.3.4`` = ``>=1.2.0 <=2.3.4``.

Prerelease rule (npm): a prerelease version satisfies a comparator set only if
some comparator of that set names a prerelease of the same MAJOR.MINOR.PATCH,
so ``^1.2.0`` never picks ``1.3.0-beta.1`` while ``>=1.3.0-beta.1`` picks
``1.3.0-beta.2`` (but not ``1.4.0-beta.1``).  Lifecycle tags follow from it:
``1.2.0-draft`` only matches a range that names a ``1.2.0-…`` prerelease.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ._json import text_problem
from .digests import check_digest
from .errors import NoMatchingVersion, UsageError
from .names import TAG_RE

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_PRE = rf"{_PRE_ID}(?:\.{_PRE_ID})*"
_BUILD = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_SEMVER_RE = re.compile(rf"^v?({_NUM})\.({_NUM})\.({_NUM})(?:-({_PRE}))?(?:[+_]({_BUILD}))?$")
_XR = r"x|X|\*|0|[1-9]\d*"
_PARTIAL_RE = re.compile(
    rf"^v?({_XR})(?:\.({_XR})(?:\.({_XR})(?:-({_PRE}))?(?:\+({_BUILD}))?)?)?$",
)
_OPERATORS = ("<=", ">=", "~>", "<", ">", "=", "^", "~")
_OP_SPACE_RE = re.compile(r"(<=|>=|~>|<|>|=|\^|~)\s+")
_HYPHEN_RE = re.compile(r"^(\S+)\s+-\s+(\S+)$")
_RANGE_CHARS = set("^~<>=|* ")

SpecKind = Literal["latest", "exact", "tag", "range", "digest"]
Identifier = int | str


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class SemVer:
    """A semver 2.0.0 version ordered by semver precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()

    @property
    def release(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``."""
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @functools.cached_property
    def _key(self) -> tuple[object, ...]:
        if not self.prerelease:
            pre: tuple[object, ...] = (1,)
        else:
            pre = (0, *((0, i) if isinstance(i, int) else (1, i) for i in self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key == other._key

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        out = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            out += "-" + ".".join(str(i) for i in self.prerelease)
        if self.build:
            out += "+" + ".".join(self.build)
        return out


def _identifiers(text: str | None) -> tuple[Identifier, ...]:
    if not text:
        return ()
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


@functools.lru_cache(maxsize=4096)
def parse_semver(tag: str) -> SemVer | None:
    """The :class:`SemVer` a tag spells (``1.2.3``, ``v1.2.3-rc.1``, ``1.2.3+b``), else None."""
    m = _SEMVER_RE.match(tag)
    if not m:
        return None
    major, minor, patch, pre, build = m.groups()
    return SemVer(
        int(major),
        int(minor),
        int(patch),
        _identifiers(pre),
        tuple(build.split(".")) if build else (),
    )


# --- ranges -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparator:
    """One ``op version`` test, op in ``< <= > >= =``."""

    op: str
    version: SemVer

    def test(self, v: SemVer) -> bool:
        if self.op == "=":
            return v == self.version
        if self.op == "<":
            return v < self.version
        if self.op == "<=":
            return v <= self.version
        if self.op == ">":
            return v > self.version
        return v >= self.version

    def __str__(self) -> str:
        return f"{self.op}{self.version}"


ComparatorSet = tuple[Comparator, ...]


_WRITTEN_PRERELEASE = re.compile(r"\d+\.\d+\.\d+-[0-9A-Za-z]")


@dataclass(frozen=True)
class Range:
    """An npm range: alternatives (OR) of comparator sets (AND); an empty set matches any."""

    text: str
    sets: tuple[ComparatorSet, ...]

    def test(self, v: SemVer, *, include_prerelease: bool = False) -> bool:
        """Whether ``v`` satisfies the range, applying npm's prerelease rule
        (``include_prerelease`` lifts it, like npm's ``--include-prerelease``)."""
        return any(_test_set(cset, v, include_prerelease) for cset in self.sets)

    @property
    def mentions_prerelease(self) -> bool:
        """Whether the range as written names a prerelease (``^1.2.0-rc.1``); the
        ``-0`` bounds that ``^``/``~`` expand to do not count."""
        return _WRITTEN_PRERELEASE.search(self.text) is not None

    def __str__(self) -> str:
        return " || ".join(" ".join(str(c) for c in cset) or "*" for cset in self.sets)


def _test_set(cset: ComparatorSet, v: SemVer, include_prerelease: bool = False) -> bool:
    if not all(c.test(v) for c in cset):
        return False
    if not v.prerelease or include_prerelease:
        return True
    return any(c.version.prerelease and c.version.release == v.release for c in cset)


@dataclass(frozen=True)
class _Partial:
    """A version with parts left out (``1``, ``1.2``), as a range names it."""

    major: int | None
    minor: int | None
    patch: int | None
    prerelease: tuple[Identifier, ...] = ()

    def full(self) -> SemVer:
        assert self.major is not None and self.minor is not None and self.patch is not None
        return SemVer(self.major, self.minor, self.patch, self.prerelease)


def _v(op: str, major: int, minor: int, patch: int, pre: tuple[Identifier, ...] = ()) -> Comparator:
    return Comparator(op, SemVer(major, minor, patch, pre))


def _below(major: int, minor: int, patch: int) -> Comparator:
    """``<M.m.p-0``: below every version (prereleases included) of ``M.m.p``."""
    return _v("<", major, minor, patch, (0,))


_NOTHING: ComparatorSet = (_below(0, 0, 0),)


def _parse_partial(text: str, spec: str) -> _Partial:
    m = _PARTIAL_RE.match(text)
    if not m:
        raise UsageError(f"invalid version range {spec!r}: {text!r} is not a version")
    nums = [None if g in (None, "x", "X", "*") else int(g) for g in m.groups()[:3]]
    if nums[0] is None:
        nums = [None, None, None]
    elif nums[1] is None:
        nums[2] = None
    pre = _identifiers(m.group(4))
    if pre and nums[2] is None:
        raise UsageError(f"invalid version range {spec!r}: a prerelease needs a full version")
    return _Partial(nums[0], nums[1], nums[2], pre)


def _primitive(op: str, p: _Partial) -> ComparatorSet:
    """``op`` in ``"" = < <= > >=`` applied to a partial version (npm's x-range rules)."""
    if p.patch is not None:
        return (Comparator("=" if op in ("", "=") else op, p.full()),)
    if p.major is None:
        return _NOTHING if op in ("<", ">") else ()
    big, minor = p.major, p.minor
    if op in ("", "="):
        if minor is None:
            return (_v(">=", big, 0, 0), _below(big + 1, 0, 0))
        return (_v(">=", big, minor, 0), _below(big, minor + 1, 0))
    if op == ">":
        return (_v(">=", big + 1, 0, 0),) if minor is None else (_v(">=", big, minor + 1, 0),)
    if op == "<=":
        return (_below(big + 1, 0, 0),) if minor is None else (_below(big, minor + 1, 0),)
    if op == "<":
        return (_below(big, minor or 0, 0),)
    return (_v(">=", big, minor or 0, 0),)


def _caret(p: _Partial) -> ComparatorSet:
    if p.major is None:
        return ()
    big, minor, patch = p.major, p.minor, p.patch
    if minor is None:
        return (_v(">=", big, 0, 0), _below(big + 1, 0, 0))
    if patch is None:
        upper = _below(0, minor + 1, 0) if big == 0 else _below(big + 1, 0, 0)
        return (_v(">=", big, minor, 0), upper)
    if big == 0 and minor == 0:
        upper = _below(0, 0, patch + 1)
    elif big == 0:
        upper = _below(0, minor + 1, 0)
    else:
        upper = _below(big + 1, 0, 0)
    return (Comparator(">=", p.full()), upper)


def _tilde(p: _Partial) -> ComparatorSet:
    if p.major is None:
        return ()
    big, minor = p.major, p.minor
    if minor is None:
        return (_v(">=", big, 0, 0), _below(big + 1, 0, 0))
    if p.patch is None:
        return (_v(">=", big, minor, 0), _below(big, minor + 1, 0))
    return (Comparator(">=", p.full()), _below(big, minor + 1, 0))


def _hyphen(low: _Partial, high: _Partial) -> ComparatorSet:
    out: list[Comparator] = []
    if low.major is not None:
        if low.patch is not None:
            out.append(Comparator(">=", low.full()))
        else:
            out.append(_v(">=", low.major, low.minor or 0, 0))
    if high.major is not None:
        if high.minor is None:
            out.append(_below(high.major + 1, 0, 0))
        elif high.patch is None:
            out.append(_below(high.major, high.minor + 1, 0))
        else:
            out.append(Comparator("<=", high.full()))
    return tuple(out)


def _simple(token: str, spec: str) -> ComparatorSet:
    op = next((o for o in _OPERATORS if token.startswith(o)), "")
    p = _parse_partial(token[len(op) :], spec)
    if op == "^":
        return _caret(p)
    if op in ("~", "~>"):
        return _tilde(p)
    return _primitive(op, p)


def _comparator_set(text: str, spec: str) -> ComparatorSet:
    text = _OP_SPACE_RE.sub(r"\1", text.strip())
    if not text:
        raise UsageError(f"invalid version range {spec!r}: empty alternative around '||'")
    hyphen = _HYPHEN_RE.match(text)
    if hyphen:
        return _hyphen(_parse_partial(hyphen[1], spec), _parse_partial(hyphen[2], spec))
    out: list[Comparator] = []
    for token in text.split():
        out.extend(_simple(token, spec))
    return tuple(out)


@functools.lru_cache(maxsize=512)
def parse_range(text: str) -> Range:
    """Parse an npm range (grammar in the module docstring); raise UsageError if invalid."""
    if not text.strip():
        raise UsageError("invalid version range '': empty")
    sets = tuple(_comparator_set(alt, text) for alt in text.split("||"))
    return Range(text, sets)


# --- specs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A classified skills.json ``version`` (see the module docstring for the kinds)."""

    kind: SpecKind
    text: str  # the spec as written, stripped ("" for latest)
    version: SemVer | None = None  # exact
    range: Range | None = None  # range

    def __str__(self) -> str:
        return self.text or "*"


@functools.lru_cache(maxsize=512)
def _classify(text: str) -> Spec:
    if text in ("", "*"):
        return Spec("latest", text)
    if text.startswith("sha256:"):
        check_digest(text, error=UsageError)
        return Spec("digest", text)
    version = parse_semver(text)
    if version is not None:
        return Spec("exact", text, version=version)
    try:
        return Spec("range", text, range=parse_range(text))
    except UsageError:
        if TAG_RE.match(text) and not _RANGE_CHARS.intersection(text):
            return Spec("tag", text)
        raise


def classify_spec(spec: str | Spec | None) -> Spec:
    """Classify a ``version`` spec as latest, exact, tag, range or digest.

    Raises UsageError (naming the spec) for an invalid range or digest, or a
    string that is neither a range nor a valid OCI tag.
    """
    if isinstance(spec, Spec):
        return spec
    return _classify((spec or "").strip())


def _strip_v(tag: str) -> str:
    return tag[1:] if tag.startswith("v") and parse_semver(tag) else tag


def sort_tags(tags: Iterable[str]) -> list[str]:
    """Semver tags newest first (ties by name), then the other tags alphabetically."""
    unique = list(dict.fromkeys(tags))
    parsed = [(v, t) for t in sorted(unique) if (v := parse_semver(t)) is not None]
    parsed.sort(key=lambda pair: pair[0], reverse=True)  # stable: ties stay alphabetical
    others = sorted(t for t in unique if parse_semver(t) is None)
    return [t for _, t in parsed] + others


def candidate_tags(
    spec: str | Spec | None, tags: Iterable[str], *, include_prerelease: bool = False
) -> list[str]:
    """Every tag ``spec`` may select among ``tags``, best first.

    latest: non-prerelease semver tags newest first (any semver tag with
    ``include_prerelease``), else ``latest`` if present; exact: that tag, also
    matched with/without a ``v`` prefix; tag: itself if present; range: the
    satisfying semver tags newest first; digest: none (a digest names no tag).
    """
    s = classify_spec(spec)
    ordered = sort_tags(tags)
    if s.kind == "latest":
        found = [
            t
            for t in ordered
            if (v := parse_semver(t)) is not None and (include_prerelease or not v.is_prerelease)
        ]
        return found or (["latest"] if "latest" in ordered else [])
    if s.kind == "exact":
        if s.text in ordered:
            return [s.text]
        wanted = _strip_v(s.text)
        return [t for t in ordered if _strip_v(t) == wanted][:1]
    if s.kind == "tag":
        return [s.text] if s.text in ordered else []
    if s.kind == "range":
        assert s.range is not None
        return [
            t
            for t in ordered
            if (v := parse_semver(t)) is not None
            and s.range.test(v, include_prerelease=include_prerelease)
        ]
    return []


def pick_tag(spec: str | Spec | None, tags: Iterable[str]) -> str | None:
    """The best tag ``spec`` selects among ``tags`` (see :func:`candidate_tags`), or None."""
    found = candidate_tags(spec, tags)
    return found[0] if found else None


def asks_for_prerelease(spec: str | Spec | None) -> bool:
    """Whether a spec names a prerelease itself (an exact tag, or a range like ``^1.2.0-rc.1``)."""
    s = classify_spec(spec)
    if s.kind in ("exact", "tag", "digest"):
        return True
    return s.kind == "range" and s.range is not None and s.range.mentions_prerelease


def require_tag(spec: str | Spec | None, tags: Iterable[str], *, source: str) -> str:
    """Like :func:`pick_tag` but raise NoMatchingVersion naming ``source`` and its newest tags."""
    s = classify_spec(spec)
    if s.kind == "digest":
        raise UsageError(f"{s.text} is a digest, not a tag; resolve {source} by digest")
    ordered = sort_tags(tags)
    tag = pick_tag(s, ordered)
    if tag is not None:
        return tag
    if not ordered:
        raise NoMatchingVersion(f"{source} has no tags (wanted {s})")
    shown = ", ".join(ordered[:8]) + (", ..." if len(ordered) > 8 else "")
    raise NoMatchingVersion(f"no tag of {source} matches {s} (available: {shown})")


def satisfies(spec: str | Spec | None, version: str) -> bool:
    """Whether a locked ``version`` (a tag, or a digest for digest specs) still fits ``spec``.

    latest: any non-prerelease semver or non-semver tag; exact: the same tag
    (``v`` prefix ignored); tag and digest: string equality; range: the
    version is semver and satisfies the range.
    """
    s = classify_spec(spec)
    if s.kind == "latest":
        v = parse_semver(version)
        return v is None or not v.is_prerelease
    if s.kind == "exact":
        return _strip_v(version) == _strip_v(s.text)
    if s.kind == "range":
        assert s.range is not None
        v = parse_semver(version)
        return v is not None and s.range.test(v)
    return version == s.text


def caret_spec(version: str) -> str:
    """``^X.Y.Z`` (prerelease kept, ``v`` and build dropped) for a semver tag."""
    v = parse_semver(version)
    if v is None:
        raise UsageError(f"cannot make a caret range from {version!r}: not a semver version")
    return "^" + str(SemVer(v.major, v.minor, v.patch, v.prerelease))


def spec_problem(version: object) -> str | None:
    """Why ``version`` (a skills.json ``version``; None is absent) is not a spec, or None."""
    return None if version is None else text_problem(version, classify_spec, UsageError)
