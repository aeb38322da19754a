"""Read and write ``skills.lock.json``, the pinned result of resolving skills.json.

Shape (written only by skillcrate; deterministic: skills sorted by name, keys in
this order, 2-space JSON, trailing newline, no timestamps)::

    {
      "lockfileVersion": 1,
      "skills": [
        {
          "name": "review",
          "path": ".agents/skills/review",
          "version": "1.2.3",
          "format": "agentskills",
          "source": {
            "registry": "ghcr.io",
            "repository": "acme/skills/review",
            "tag": "1.2.3",
            "digest": "sha256:<manifest digest>",
            "ref": "ghcr.io/acme/skills/review:1.2.3@sha256:<manifest digest>"
          },
          "spec": {"source": "ghcr.io/acme/skills/review", "version": "^1.2.0"},
          "tree": "sha256:<digest of the installed file tree>",
          "signedBy": "keys/acme.pub",
          "additionalInstalledPaths": [".claude/skills/review"],
          "dependencies": ["testing"],
          "requiredBy": ["release"]
        }
      ]
    }

Optional keys are omitted when empty: ``source.tag`` (digest-pinned),
``spec.version`` (no version in skills.json), ``tree`` (unknown, e.g. after a
migration), ``signedBy`` (the key or identity that satisfied the trust policy;
absent when no rule applies), ``additionalInstalledPaths``, ``dependencies`` (the
names of the locked skills this one declares it needs, sorted) and ``requiredBy`` (the
names of the locked skills that need this one, sorted).  An entry skills.json does not
list is a transitive one: it is in the lock because an entry needs it, and its ``spec``
has the dependency's ``source`` only (the ranges asked for are in its dependents).
``source.ref`` is always derived from the other source fields.  For an ``oci:`` layout
source ``registry`` is ``""`` and ``repository`` is the ``oci:PATH`` as written in skills.json.

A skills-oci lock (``generatedAt``, per-entry ``installedAt``, no ``spec`` or
``tree``, ``digest``/``ref`` possibly at entry level) is read leniently: the
result has ``migrated=True`` and is written back in this shape by the next
:func:`save_lockfile`.  A newer ``lockfileVersion`` is refused.

This module is on the CLI's hot path: it imports only the stdlib and
skillcrate's stdlib-only modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._json import dumps_stable, json_type, loads, text_problem
from ..boundary import Boundary
from ..errors import InvalidReference, LockfileError
from ..names import name_problem
from ..reference import Reference, check_digest
from .files import LOCK_NAME
from .manifest import JsonPath, Problems, relative_path_problem

LOCK_VERSION = 1
DEFAULT_FORMAT = "agentskills"
INSTALL_ROOT = ".agents/skills"
_TIMESTAMP_KEYS = ("generatedAt", "installedAt", "updatedAt")


@dataclass(frozen=True)
class LockedSource:
    """Where a locked skill came from, pinned to a manifest digest."""

    registry: str  # "" for an oci: layout
    repository: str  # "acme/skills/review", or "oci:./vendor/x" for a layout
    tag: str | None
    digest: str

    @property
    def is_layout(self) -> bool:
        return self.registry == ""

    @property
    def name(self) -> str:
        """``registry/repository``, or the ``oci:PATH`` of a layout."""
        if self.is_layout:
            repo = self.repository
            return repo if repo.startswith("oci:") else f"oci:{repo}"
        return f"{self.registry}/{self.repository}"

    @property
    def ref(self) -> str:
        """``name[:tag]@digest``, a reference that pins this exact manifest."""
        tag = f":{self.tag}" if self.tag else ""
        return f"{self.name}{tag}@{self.digest}"

    def reference(self) -> Reference:
        """The pinned reference, parsed."""
        return Reference.parse(self.ref)

    @classmethod
    def from_reference(cls, ref: Reference, digest: str) -> LockedSource:
        """The source for ``ref`` resolved to manifest ``digest``."""
        repository = ref.name if ref.layout else ref.repository
        return cls(ref.registry, repository, ref.tag, digest)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"registry": self.registry, "repository": self.repository}
        if self.tag:
            out["tag"] = self.tag
        out["digest"] = self.digest
        out["ref"] = self.ref
        return out


@dataclass(frozen=True)
class LockedSkill:
    """One installed skill: what was resolved, from which spec, and where it lives."""

    name: str
    path: str  # project-relative install folder, e.g. ".agents/skills/review"
    version: str  # the tag resolved ("" when pinned by digest only)
    source: LockedSource
    spec_source: str  # skills.json "source" this was resolved from
    spec_version: str | None = None  # skills.json "version" this was resolved from
    tree: str | None = None  # sha256 of the installed file tree
    format: str = DEFAULT_FORMAT
    additional_installed_paths: tuple[str, ...] = ()
    signed_by: str | None = None  # the key or identity the trust policy verified
    dependencies: tuple[str, ...] = ()  # locked skills this one needs (names, sorted)
    required_by: tuple[str, ...] = ()  # locked skills that need this one (names, sorted)

    def resolved_from(self, source: str, version: str | None) -> bool:
        """Whether this entry was resolved from exactly this skills.json source and version."""
        return self.spec_source == source and self.spec_version == version

    def to_dict(self) -> dict[str, Any]:
        """The entry as written, keys in the lock's fixed order."""
        spec: dict[str, Any] = {"source": self.spec_source}
        if self.spec_version is not None:
            spec["version"] = self.spec_version
        out: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "version": self.version,
            "format": self.format,
            "source": self.source.to_dict(),
            "spec": spec,
        }
        if self.tree:
            out["tree"] = self.tree
        if self.signed_by:
            out["signedBy"] = self.signed_by
        if self.additional_installed_paths:
            out["additionalInstalledPaths"] = list(self.additional_installed_paths)
        if self.dependencies:
            out["dependencies"] = sorted(self.dependencies)
        if self.required_by:
            out["requiredBy"] = sorted(self.required_by)
        return out


def _sorted_unique(skills: tuple[LockedSkill, ...]) -> tuple[LockedSkill, ...]:
    ordered = tuple(sorted(skills, key=lambda s: s.name))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.name == b.name:
            raise LockfileError(f"{LOCK_NAME}: skill {a.name!r} is locked twice")
    return ordered


@dataclass(frozen=True)
class Lockfile:
    """The whole lock; ``skills`` is kept sorted by name and names are unique."""

    version: int = LOCK_VERSION
    skills: tuple[LockedSkill, ...] = ()
    migrated: bool = field(default=False, compare=False)  # read from a skills-oci lock

    _by_name: dict[str, LockedSkill] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "skills", _sorted_unique(tuple(self.skills)))
        object.__setattr__(self, "_by_name", {s.name: s for s in self.skills})

    def names(self) -> list[str]:
        return [s.name for s in self.skills]

    def get(self, name: str) -> LockedSkill | None:
        """The entry called ``name``, or None."""
        return self._by_name.get(name)

    def with_skill(self, entry: LockedSkill) -> Lockfile:
        """A copy with ``entry`` added, replacing any entry of the same name."""
        rest = tuple(s for s in self.skills if s.name != entry.name)
        return replace(self, skills=(*rest, entry))

    def without(self, name: str) -> Lockfile:
        """A copy without the entry called ``name`` (unchanged if absent)."""
        return replace(self, skills=tuple(s for s in self.skills if s.name != name))

    def closure(self, roots: Iterable[str]) -> tuple[set[str], list[tuple[str, str]]]:
        """The names the entries' ``dependencies`` reach from ``roots`` (roots included),
        and each dependency named but not held (``(needing, needed)`` pairs, sorted)."""
        reach: set[str] = set()
        missing: list[tuple[str, str]] = []
        todo = [r for r in roots if r in self._by_name]
        by_name = self._by_name
        while todo:
            name = todo.pop()
            if name in reach:
                continue
            reach.add(name)
            for dep in by_name[name].dependencies:
                if dep not in by_name:
                    missing.append((name, dep))
                elif dep not in reach:
                    todo.append(dep)
        return reach, sorted(missing)

    def to_json(self) -> str:
        """The deterministic file text (always the current ``lockfileVersion``)."""
        data = {"lockfileVersion": LOCK_VERSION, "skills": [s.to_dict() for s in self.skills]}
        return dumps_stable(data)

    @classmethod
    def from_json(cls, text: str, path: Path | str = LOCK_NAME) -> Lockfile:
        """Parse lock ``text``; every problem is collected into one LockfileError."""
        display = Path(path).name
        data = loads(text, display, error=LockfileError)
        return _Reader(Problems(display, text)).read(data)


# --- reading ------------------------------------------------------------------------------


def _digest_problem(value: object) -> str | None:
    return text_problem(value, check_digest, InvalidReference, kind="digest string")


class _Reader:
    """Validates a parsed lock, leniently accepting skills-oci's shape."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.migrated = False

    def read(self, data: object) -> Lockfile:
        if not isinstance(data, dict):
            self.problems.add((), f"top level must be a JSON object, not {json_type(data)}")
            self.problems.raise_if_any(LockfileError)
        assert isinstance(data, dict)
        self._check_version(data)
        entries = self._entries(data)
        skills: list[LockedSkill] = []
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            skill = self._entry(("skills", index), f"skills[{index}]", entry)
            if skill is None:
                continue
            if skill.name in seen:
                first = seen[skill.name]
                self.problems.add(
                    ("skills", index, "name"),
                    f"skills[{index}] ({skill.name!r}): duplicate name (also skills[{first}])",
                )
                continue
            seen[skill.name] = index
            skills.append(skill)
        self.problems.raise_if_any(LockfileError)
        return Lockfile(LOCK_VERSION, tuple(skills), migrated=self.migrated)

    def _check_version(self, data: dict[str, Any]) -> None:
        if any(k in data for k in _TIMESTAMP_KEYS):
            self.migrated = True
        if "lockfileVersion" not in data:
            self.migrated = True
            return
        version = data["lockfileVersion"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.problems.add(
                ("lockfileVersion",),
                f'"lockfileVersion" must be a positive integer, got {version!r}',
            )
        elif version > LOCK_VERSION:
            raise LockfileError(
                f"{self.problems.display}: lockfileVersion {version} is newer than this "
                f"skillcrate supports ({LOCK_VERSION}); upgrade skillcrate",
            )

    def _entries(self, data: dict[str, Any]) -> list[Any]:
        skills = data.get("skills", [])
        if isinstance(skills, dict):  # keyed by name: an older or foreign shape
            self.migrated = True
            return [{"name": k, **v} if isinstance(v, dict) else v for k, v in skills.items()]
        if not isinstance(skills, list):
            self.problems.add(("skills",), f'"skills" must be an array, not {json_type(skills)}')
            return []
        return skills

    def _bad(self, at: JsonPath, label: str, message: str) -> None:
        self.problems.add(at, f"{label}: {message}")

    def _str(self, at: JsonPath, label: str, obj: dict[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            self._bad((*at, key), label, f'"{key}" must be a string, not {json_type(value)}')
            return None
        return value

    def _entry(self, at: JsonPath, label: str, entry: object) -> LockedSkill | None:
        if not isinstance(entry, dict):
            self._bad(at, label, f"must be an object, not {json_type(entry)}")
            return None
        name = entry.get("name")
        problem = name_problem(name)
        if problem:
            self._bad((*at, "name"), label, f'"name" {problem}')
            return None
        assert isinstance(name, str)
        label = f"{label} ({name!r})"
        errors_before = len(self.problems.items)
        if any(k in entry for k in _TIMESTAMP_KEYS):
            self.migrated = True
        path = entry.get("path", f"{INSTALL_ROOT}/{name}")
        problem = relative_path_problem(path)
        if problem:
            self._bad((*at, "path"), label, f'"path" {problem}')
        source = self._source(at, label, entry)
        tag = source.tag if source else None
        version = self._str(at, label, entry, "version")
        fmt = self._str(at, label, entry, "format")
        tree = entry.get("tree")
        if tree is not None:
            problem = _digest_problem(tree)
            if problem:
                self._bad((*at, "tree"), label, f'"tree" {problem}')
        spec_source, spec_version = self._spec(at, label, entry, source)
        extra = self._paths(at, label, entry)
        signed_by = self._str(at, label, entry, "signedBy")
        dependencies = self._names(at, label, entry, "dependencies")
        required_by = self._names(at, label, entry, "requiredBy")
        if source is None or len(self.problems.items) != errors_before:
            return None
        return LockedSkill(
            name=name,
            path=path,
            version=version if version is not None else (tag or ""),
            source=source,
            spec_source=spec_source,
            spec_version=spec_version,
            tree=tree,
            format=fmt or DEFAULT_FORMAT,
            additional_installed_paths=extra,
            signed_by=signed_by or None,
            dependencies=dependencies,
            required_by=required_by,
        )

    def _source(self, at: JsonPath, label: str, entry: dict[str, Any]) -> LockedSource | None:
        raw = entry.get("source")
        here = (*at, "source")
        if isinstance(raw, str):  # a bare reference string
            self.migrated = True
            raw = {"ref": raw}
        elif raw is None:
            raw = {}
        elif not isinstance(raw, dict):
            self._bad(here, label, f'"source" must be an object, not {json_type(raw)}')
            return None
        fields: dict[str, Any] = {k: raw.get(k) for k in ("registry", "repository", "tag")}
        fields["digest"] = raw.get("digest", entry.get("digest"))
        ref_text = raw.get("ref", entry.get("ref"))
        if ref_text is not None:
            parsed = self._parse_ref(here, label, ref_text)
            if parsed is None:
                return None
            parsed_fields = {
                "registry": parsed.registry,
                "repository": parsed.name if parsed.layout else parsed.repository,
                "tag": parsed.tag,
                "digest": parsed.digest,
            }
            for key, value in parsed_fields.items():
                if fields[key] is None:
                    fields[key] = value
        ok = True
        for key in ("registry", "repository", "tag"):
            value = fields[key]
            if value is not None and not isinstance(value, str):
                self._bad((*here, key), label, f'"source.{key}" must be a string')
                ok = False
        if not fields["repository"]:
            self._bad(here, label, '"source" needs a "repository" (or a "ref")')
            ok = False
        if fields["digest"] is None:
            self._bad(here, label, '"source" needs a "digest"')
            return None
        problem = _digest_problem(fields["digest"])
        if problem:
            self._bad((*here, "digest"), label, f'"source.digest" {problem}')
            ok = False
        if not ok:
            return None
        return LockedSource(
            registry=fields["registry"] or "",
            repository=fields["repository"],
            tag=fields["tag"] or None,
            digest=fields["digest"],
        )

    def _parse_ref(self, at: JsonPath, label: str, ref_text: object) -> Reference | None:
        if not isinstance(ref_text, str):
            self._bad(at, label, f'"ref" must be a string, not {json_type(ref_text)}')
            return None
        try:
            return Reference.parse(ref_text)
        except InvalidReference as e:
            self._bad(at, label, f'"ref" {e}')
            return None

    def _spec(
        self, at: JsonPath, label: str, entry: dict[str, Any], source: LockedSource | None
    ) -> tuple[str, str | None]:
        spec = entry.get("spec")
        if spec is None:  # skills-oci: the tag was the version asked for
            self.migrated = True
            return (source.name if source else ""), (source.tag if source else None)
        if not isinstance(spec, dict):
            self._bad((*at, "spec"), label, f'"spec" must be an object, not {json_type(spec)}')
            return "", None
        spec_at = (*at, "spec")
        spec_source = self._str(spec_at, label, spec, "source")
        spec_version = self._str(spec_at, label, spec, "version")
        if not spec_source:
            self._bad(spec_at, label, '"spec" needs a "source"')
        return spec_source or "", spec_version

    def _names(self, at: JsonPath, label: str, entry: dict[str, Any], key: str) -> tuple[str, ...]:
        value = entry.get(key, [])
        if not isinstance(value, list):
            self._bad((*at, key), label, f'"{key}" must be an array, not {json_type(value)}')
            return ()
        for i, item in enumerate(value):
            problem = name_problem(item)
            if problem:
                self._bad((*at, key, i), label, f'"{key}"[{i}] {problem}')
        return tuple(sorted({v for v in value if isinstance(v, str)}))

    def _paths(self, at: JsonPath, label: str, entry: dict[str, Any]) -> tuple[str, ...]:
        value = entry.get("additionalInstalledPaths", [])
        here = (*at, "additionalInstalledPaths")
        if not isinstance(value, list):
            self._bad(
                here, label, f'"additionalInstalledPaths" must be an array, not {json_type(value)}'
            )
            return ()
        for i, item in enumerate(value):
            problem = relative_path_problem(item)
            if problem:
                self._bad((*here, i), label, f'"additionalInstalledPaths"[{i}] {problem}')
        return tuple(v for v in value if isinstance(v, str))


# --- files --------------------------------------------------------------------------------


def load_lockfile(path: Path) -> Lockfile | None:
    """Read the lock at ``path``; None when it does not exist, LockfileError when malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LockfileError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise LockfileError(f"{path.name}: not UTF-8 (byte {e.start})") from None
    return Lockfile.from_json(text, path)


def save_lockfile(path: Path, lock: Lockfile) -> bool:
    """Write ``lock`` atomically (through the project boundary of its folder); False (no
    write) when the bytes are already there."""
    path = Path(path)
    data = lock.to_json().encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    Boundary(path.parent).write_file(path.name, data)
    return True
