"""Read, validate, edit and write a project's ``skills.json``.

Format (compatible with skills-oci)::

    {
      "skills": [
        {"name": "review", "source": "ghcr.io/acme/skills/review", "version": "^1.2.0"},
        {"name": "hello-world", "source": "oci:./vendor/registry/hello-world",
         "version": "1.0.0", "additionalBasePaths": [".github/skills"]}
      ],
      "links": [".claude/skills"]
    }

- ``skills`` (optional, default ``[]``): entries with ``name`` (``^[a-z0-9]+(-[a-z0-9]+)*$``,
  1-64 characters, unique), ``source`` (a registry reference or ``oci:PATH`` layout),
  optional ``version`` (a spec, see :mod:`skillcrate.versions`; ``null`` = absent) and
  optional ``additionalBasePaths`` (relative POSIX folders).
- ``links`` (optional, default ``[".claude/skills"]``): relative POSIX folders.

Unknown keys and key order, at the top level and in entries, survive a
load/edit/save round trip: the parsed dict is kept and edited in place.
Loading never writes; only :meth:`Manifest.save` does, so a malformed file is
never overwritten.  Every problem found is reported in one ManifestError whose
message names the file, the line (when known), the skill and the field.

This module is on the CLI's hot path: it imports only the stdlib and
skillcrate's stdlib-only modules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]  # in the C module, not the stub
from pathlib import Path
from typing import Any, cast

from .._json import dumps_stable, json_type, loads
from ..boundary import Boundary, path_problem
from ..errors import ManifestError
from ..names import name_problem
from ..reference import Reference, source_problem
from ..text import one_line
from ..trust.rules import TrustRule, parse_trust, rule_problems
from ..versions import spec_problem

DEFAULT_LINKS = (".claude/skills",)

JsonPath = tuple[str | int, ...]


# --- shared helpers (also used by lockfile.py) --------------------------------------------


def relative_path_problem(path: object) -> str | None:
    """Why ``path`` is not a safe relative POSIX folder path, or None (the boundary's rule)."""
    if not isinstance(path, str):
        return f"must be a string, not {json_type(path)}"
    return path_problem(path)


_WS_RE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _ws(text: str, idx: int) -> int:
    m = _WS_RE.match(text, idx)
    return m.end() if m else idx


def _child(text: str, idx: int, step: str | int) -> tuple[int, int] | None:
    """(line anchor, value start) of ``step`` inside the object/array starting at ``idx``."""
    opener = text[idx : idx + 1]
    if opener == "{" and isinstance(step, str):
        found = None
        idx = _ws(text, idx + 1)
        while text[idx] == '"':
            key_at = idx
            key, idx = scanstring(text, idx + 1)
            idx = _ws(text, _ws(text, idx) + 1)  # past ':'
            if key == step:
                found = (key_at, idx)
            _, idx = _DECODER.raw_decode(text, idx)
            idx = _ws(text, idx)
            if text[idx] != ",":
                break
            idx = _ws(text, idx + 1)
        return found
    if opener == "[" and isinstance(step, int) and not isinstance(step, bool):
        idx = _ws(text, idx + 1)
        for _ in range(step):
            if text[idx] == "]":
                return None
            _, idx = _DECODER.raw_decode(text, idx)
            idx = _ws(text, idx)
            if text[idx] != ",":
                return None
            idx = _ws(text, idx + 1)
        return None if text[idx] == "]" else (idx, idx)
    return None


def json_line(text: str, path: JsonPath) -> int | None:
    """1-based line of the value at ``path`` (of its key, for object members) in JSON ``text``.

    ``path`` steps are object keys and array indexes, e.g. ``("skills", 2, "version")``.
    Meant for error messages: returns None when the path is absent or ``text`` is not JSON.
    """
    try:
        anchor = idx = _ws(text, 0)
        for step in path:
            found = _child(text, idx, step)
            if found is None:
                return None
            anchor, idx = found
        return text.count("\n", 0, anchor) + 1
    except (ValueError, IndexError):
        return None


class Problems:
    """Collects validation problems and raises them as one error, each located in the file."""

    def __init__(self, display: str, text: str) -> None:
        self.display = display
        self.text = text
        self.items: list[str] = []

    def add(self, path: JsonPath, message: str) -> None:
        line = json_line(self.text, path)
        where = f"{self.display}:{line}" if line else self.display
        self.items.append(f"{where}: {message}")

    def raise_if_any(self, error: type[Exception]) -> None:
        """One problem: one line. Several: a headline, then one indented line each."""
        if len(self.items) == 1:
            raise error(self.items[0])
        if self.items:
            lines = "".join(f"\n  {one_line(item)}" for item in self.items)
            raise error(f"{self.display}: {len(self.items)} problems:{lines}")


# --- the manifest -------------------------------------------------------------------------


@dataclass(frozen=True)
class SkillSpec:
    """One ``skills`` entry: what to install and from where."""

    name: str
    source: str
    version: str | None = None
    additional_base_paths: tuple[str, ...] = ()
    collection: str | None = None  # the collection reference it was added from

    def reference(self) -> Reference:
        """The parsed ``source``."""
        return Reference.parse(self.source)


def _label(index: int, entry: object) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"skills[{index}] ({name!r})" if isinstance(name, str) and name else f"skills[{index}]"


def _paths_problems(value: object) -> list[tuple[int | None, str]]:
    if not isinstance(value, list):
        return [(None, f"must be an array of paths, not {json_type(value)}")]
    out: list[tuple[int | None, str]] = []
    for i, item in enumerate(value):
        problem = relative_path_problem(item)
        if problem:
            out.append((i, f"[{i}] {problem}"))
    return out


def _check_entry(problems: Problems, index: int, entry: object) -> None:
    here: JsonPath = ("skills", index)
    label = _label(index, entry)
    if not isinstance(entry, dict):
        problems.add(here, f"{label}: must be an object, not {json_type(entry)}")
        return
    for field in ("name", "source"):
        if field not in entry:
            problems.add(here, f'{label}: missing "{field}"')
    checks = (
        ("name", name_problem),
        ("source", source_problem),
        ("version", spec_problem),
        ("collection", source_problem),
    )
    for field, check in checks:
        if field in entry:
            problem = check(entry[field])
            if problem:
                problems.add((*here, field), f'{label}: "{field}" {problem}')
    if "additionalBasePaths" in entry:
        for i, problem in _paths_problems(entry["additionalBasePaths"]):
            at = (*here, "additionalBasePaths") + (() if i is None else (i,))
            problems.add(at, f'{label}: "additionalBasePaths" {problem}')


def _validate(problems: Problems, data: object) -> None:
    if not isinstance(data, dict):
        problems.add((), f"top level must be a JSON object, not {json_type(data)}")
        return
    skills = data.get("skills", [])
    if not isinstance(skills, list):
        problems.add(("skills",), f'"skills" must be an array, not {json_type(skills)}')
    else:
        first_index: dict[str, int] = {}
        for index, entry in enumerate(skills):
            _check_entry(problems, index, entry)
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name:
                if name in first_index:
                    problems.add(
                        ("skills", index, "name"),
                        f"{_label(index, entry)}: duplicate name "
                        f"(also skills[{first_index[name]}])",
                    )
                else:
                    first_index[name] = index
    if "trust" in data:
        trust = data["trust"]
        if not isinstance(trust, dict):
            problems.add(("trust",), f'"trust" must be an object, not {json_type(trust)}')
        else:
            for pattern, rule in trust.items():
                for sub, message in rule_problems(pattern, rule):
                    problems.add(("trust", pattern, *sub), f'"trust" {pattern!r}: {message}')
    if "links" in data:
        for i, problem in _paths_problems(data["links"]):
            problems.add(("links",) + (() if i is None else (i,)), f'"links" {problem}')


def _spec_from_entry(entry: dict[str, Any]) -> SkillSpec:
    return SkillSpec(
        name=entry["name"],
        source=entry["source"],
        version=entry.get("version"),
        additional_base_paths=tuple(entry.get("additionalBasePaths") or ()),
        collection=entry.get("collection"),
    )


class Manifest:
    """A loaded (or new) skills.json; edits mutate the parsed dict so unknown keys survive."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = Path(path)
        self.data = data

    @property
    def _display(self) -> str:
        return self.path.name

    def _entries(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.data.setdefault("skills", []))

    @property
    def skills(self) -> list[SkillSpec]:
        """The entries, in file order."""
        return [_spec_from_entry(e) for e in self.data.get("skills", [])]

    @property
    def links(self) -> list[str]:
        """Folders to link installed skills into (``[".claude/skills"]`` when absent)."""
        links = self.data.get("links")
        return list(DEFAULT_LINKS) if links is None else list(links)

    @property
    def trust(self) -> tuple[TrustRule, ...]:
        """The ``trust`` policy rules (see :mod:`skillcrate.trust`)."""
        return parse_trust(self.data.get("trust"))

    def names(self) -> list[str]:
        return [e["name"] for e in self.data.get("skills", [])]

    def get(self, name: str) -> SkillSpec | None:
        """The entry called ``name``, or None."""
        entry = self._find(name)
        return None if entry is None else _spec_from_entry(entry)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def _find(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.data.get("skills", []) if e["name"] == name), None)

    def _require(self, name: str) -> dict[str, Any]:
        entry = self._find(name)
        if entry is None:
            raise ManifestError(f"{self._display}: no skill named {name!r}")
        return entry

    def _check_spec(self, spec: SkillSpec) -> None:
        problems = []
        for field, problem in (
            ("name", name_problem(spec.name)),
            ("source", source_problem(spec.source)),
            ("version", spec_problem(spec.version)),
        ):
            if problem:
                problems.append(f'"{field}" {problem}')
        problems += [
            f'"additionalBasePaths" {p}'
            for _, p in _paths_problems(list(spec.additional_base_paths))
        ]
        if problems:
            raise ManifestError(f"{self._display}: skill {spec.name!r}: " + "; ".join(problems))

    def add(self, spec: SkillSpec) -> None:
        """Append an entry; ManifestError if the name is taken or a field is invalid."""
        self._check_spec(spec)
        if spec.name in self:
            raise ManifestError(f"{self._display}: skill {spec.name!r} is already listed")
        entry: dict[str, Any] = {"name": spec.name, "source": spec.source}
        if spec.version is not None:
            entry["version"] = spec.version
        if spec.collection:
            entry["collection"] = spec.collection
        if spec.additional_base_paths:
            entry["additionalBasePaths"] = list(spec.additional_base_paths)
        self._entries().append(entry)

    def set_version(self, name: str, version: str | None) -> None:
        """Set (or with None, drop) the ``version`` of ``name``; a new key goes after ``source``."""
        entry = self._require(name)
        problem = spec_problem(version)
        if problem:
            raise ManifestError(f'{self._display}: skill {name!r}: "version" {problem}')
        if version is None:
            entry.pop("version", None)
        elif "version" in entry:
            entry["version"] = version
        else:
            items = list(entry.items())
            at = next((i + 1 for i, (k, _) in enumerate(items) if k == "source"), len(items))
            items.insert(at, ("version", version))
            entry.clear()
            entry.update(items)

    def remove(self, name: str) -> None:
        """Drop the entry called ``name``; ManifestError if there is none."""
        entry = self._require(name)
        self._entries().remove(entry)

    def dumps(self) -> str:
        """2-space JSON, non-ASCII kept, trailing newline, key order as loaded."""
        return dumps_stable(self.data)

    def save(self) -> bool:
        """Write the file atomically; skip (and return False) when its bytes are unchanged."""
        data = self.dumps().encode("utf-8")
        try:
            if self.path.read_bytes() == data:
                return False
        except OSError:
            pass
        Boundary(self.path.parent).write_file(self.path.name, data)
        return True


def parse_manifest(text: str, path: Path) -> Manifest:
    """Parse and validate skills.json ``text`` (``path`` names it in errors)."""
    display = Path(path).name
    data = loads(text, display, error=ManifestError)
    problems = Problems(display, text)
    _validate(problems, data)
    problems.raise_if_any(ManifestError)
    return Manifest(Path(path), data)


def load_manifest(path: Path) -> Manifest:
    """Read and validate ``path``; ManifestError (file, line, skill, field) on any problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"{path}: not found") from None
    except OSError as e:
        raise ManifestError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path.name}: not UTF-8 (byte {e.start})") from None
    return parse_manifest(text, path)


def new_manifest(path: Path) -> Manifest:
    """An empty manifest (``{"skills": []}``) for ``path``; nothing is written until save()."""
    return Manifest(Path(path), {"skills": []})
