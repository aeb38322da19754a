"""What a skill needs: the ``skills.json`` in a skill's own folder, and the manifest
annotation ``pack`` records it in (``io.skillcrate.dependencies``, docs/formats.md).

A skill's ``skills.json`` has a project's shape, ``{"skills": [{"name", "source",
"version"}]}``; ``name`` may be left out, and is then the source repository's last
segment (the name ``push`` gives a skill's repository). A tag or digest written in
``source`` is its version, as in a project. What only a project decides is not read
from a skill: ``trust`` and ``links`` (and an entry's ``additionalBasePaths``) are
ignored with a warning, so a dependency can neither loosen the consumer's trust policy
nor write outside ``.agents/skills``. A dependency names a registry: an ``oci:`` folder
means nothing on the machine that installs the published skill (``registries.conf`` maps
a registry to a folder for air-gapped use).

Everything here is pure but :func:`read_folder`; an annotation comes from a registry
nobody here controls, so it is bounded and checked like the file.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._json import json_type, loads
from ..errors import FormatError, SkillcrateError
from ..names import name_problem
from ..reference import Reference, source_problem
from ..versions import spec_problem

FILE = "skills.json"
MAX_DEPENDENCIES = 256
MAX_BYTES = 64 * 1024
_PROJECT_ONLY = ("trust", "links")


@dataclass(frozen=True, order=True)
class Dependency:
    """One skill a skill needs: its name in the project, where from, which versions."""

    name: str
    source: str  # a registry repository, without tag or digest
    version: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "source": self.source}
        if self.version is not None:
            out["version"] = self.version
        return out


@dataclass(frozen=True)
class Declared:
    """A skill's declared dependencies, with what is wrong (errors) or ignored (warnings)."""

    dependencies: tuple[Dependency, ...] = ()
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _entry(index: int, entry: object, errors: list[str], warnings: list[str]) -> Dependency | None:
    label = f"skills[{index}]"
    if not isinstance(entry, dict):
        errors.append(f"{label}: must be an object, not {json_type(entry)}")
        return None
    source = entry.get("source")
    problem = "is missing" if source is None else source_problem(source)
    if problem:
        errors.append(f'{label}: "source" {problem}')
        return None
    assert isinstance(source, str)
    ref = Reference.parse(source)
    if ref.layout:
        errors.append(
            f'{label}: "source" {source} is a folder; a dependency names a registry '
            "(registries.conf can map a registry to a folder)"
        )
        return None
    version = entry.get("version")
    problem = spec_problem(version)
    if problem:
        errors.append(f'{label}: "version" {problem}')
        return None
    if version is None:
        version = ref.digest or ref.tag
    name = entry.get("name", ref.last_segment)
    problem = name_problem(name)
    if problem:
        fix = "" if "name" in entry else f" (the last segment of {ref.name}; give a name)"
        errors.append(f'{label}: "name" {problem}{fix}')
        return None
    if "additionalBasePaths" in entry:
        warnings.append(f"{label}: additionalBasePaths is ignored (links are the project's)")
    return Dependency(str(name), ref.name, version)


def parse(data: object, *, own_name: str | None = None) -> Declared:
    """Check a parsed skills.json of a skill (``own_name``: the skill's, which it may not need)."""
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(data, dict):
        return Declared(errors=(f"top level must be a JSON object, not {json_type(data)}",))
    for key in _PROJECT_ONLY:
        if key in data:
            warnings.append(
                f'"{key}" is ignored in a skill: only the project that installs it decides it'
            )
    entries = data.get("skills", [])
    if not isinstance(entries, list):
        return Declared(errors=(f'"skills" must be an array, not {json_type(entries)}',))
    if len(entries) > MAX_DEPENDENCIES:
        return Declared(errors=(f"{len(entries)} dependencies (at most {MAX_DEPENDENCIES})",))
    found: dict[str, Dependency] = {}
    for index, entry in enumerate(entries):
        dep = _entry(index, entry, errors, warnings)
        if dep is None:
            continue
        if dep.name in found:
            errors.append(f"skills[{index}]: {dep.name} is listed twice")
        elif dep.name == own_name:
            errors.append(f"skills[{index}]: a skill cannot depend on itself ({dep.name})")
        else:
            found[dep.name] = dep
    deps = tuple(sorted(found.values()))
    return Declared(deps, tuple(errors), tuple(warnings))


def read_folder(folder: Path, *, own_name: str | None = None) -> Declared | None:
    """The dependencies ``folder/skills.json`` declares; None when there is no such file.

    The file must be a regular file (not a link) of at most 64 KiB."""
    path = Path(folder) / FILE
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            return Declared(errors=(f"{FILE} is a symbolic link; dependencies must be a file",))
        return Declared(errors=(f"{FILE}: cannot read: {exc.strerror or exc}",))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return Declared(errors=(f"{FILE} is not a regular file",))
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return Declared(errors=(f"{FILE} is larger than {MAX_BYTES // 1024} KiB",))
    try:
        data = loads(raw, FILE, error=FormatError)
    except SkillcrateError as exc:
        return Declared(errors=(exc.message,))
    return parse(data, own_name=own_name)


def to_annotation(deps: tuple[Dependency, ...]) -> str:
    """The annotation value: compact JSON, sorted by name, ASCII only (deterministic)."""
    return json.dumps([d.to_json() for d in sorted(deps)], separators=(",", ":"))


def from_annotation(text: str, where: str) -> tuple[Dependency, ...]:
    """Read an annotation (from a registry: hostile); FormatError naming ``where``."""
    if len(text) > MAX_BYTES:
        raise FormatError(f"{where}: dependencies annotation larger than {MAX_BYTES // 1024} KiB")
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise FormatError(f"{where}: dependencies annotation is not JSON") from None
    if not isinstance(data, list):
        raise FormatError(f"{where}: dependencies annotation must be an array")
    declared = parse({"skills": data})
    if declared.errors:
        raise FormatError(f"{where}: dependencies annotation: {declared.errors[0]}")
    return declared.dependencies
