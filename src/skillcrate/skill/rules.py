"""The skill folder: ``SKILL.md`` front matter and the Agent Skills validation rules.

Rules (formats.md §1): ``name`` required, 1–64 chars, ``^[a-z0-9]+(-[a-z0-9]+)*$``,
equal to the folder name; ``description`` required, 1–1024 chars; ``license``
optional string; ``compatibility`` optional, ≤ 500 chars; ``metadata`` optional map
of string → string; ``allowed-tools`` optional space-separated string. Other
top-level keys are warnings. Symlinks inside the folder are errors (cannot be packed).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import SkillcrateError, ValidationError
from ..names import NAME_RE

KNOWN_KEYS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
SKILL_FILES = ("SKILL.md", "skill.md")


@dataclass(frozen=True)
class Problem:
    """One validation finding on a skill (error or warning), with a fix when there is one."""

    severity: str  # "error" | "warning"
    field: str
    message: str
    file: str = "SKILL.md"
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class SkillInfo:
    """What the front matter says about a skill (after validation)."""

    name: str
    description: str
    license: str = ""
    compatibility: str = ""
    metadata: Mapping[str, str] | None = None
    allowed_tools: tuple[str, ...] = ()
    extra: Mapping[str, Any] | None = None

    @classmethod
    def from_front_matter(cls, fm: Mapping[str, Any]) -> SkillInfo:
        meta = fm.get("metadata") if isinstance(fm.get("metadata"), dict) else None
        tools = fm.get("allowed-tools")
        return cls(
            name=str(fm.get("name") or ""),
            description=str(fm.get("description") or "").strip(),
            license=str(fm.get("license") or ""),
            compatibility=str(fm.get("compatibility") or ""),
            metadata={str(k): str(v) for k, v in meta.items()} if meta else None,
            allowed_tools=tuple(str(tools).split()) if tools else (),
            extra={k: v for k, v in fm.items() if k not in KNOWN_KEYS} or None,
        )


def find_skill_md(folder: Path) -> Path | None:
    for name in SKILL_FILES:
        p = folder / name
        if p.is_file():
            return p
    return None


def split_front_matter(text: str) -> tuple[str | None, str]:
    """Return (front matter YAML text or None, body)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return None, text


@functools.lru_cache(maxsize=1)
def _yaml12_loader() -> type:
    """PyYAML's safe loader with YAML 1.2 core-schema scalars: no implicit dates or
    timestamps, and only ``true``/``false`` are booleans (not ``yes``/``no``/``on``/``off``),
    so ``updated: 2026-03-01`` is the string the spec's YAML makes of it."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in (_TIMESTAMP, _BOOL)]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.yaml_implicit_resolvers = resolvers
    Loader.add_implicit_resolver(
        _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )
    return Loader


_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"


def parse_front_matter(text: str, file: str = "SKILL.md") -> dict[str, Any]:
    """Parse the YAML front matter of a SKILL.md; raise ValidationError when missing/invalid."""
    import yaml

    fm_text, _ = split_front_matter(text)
    if fm_text is None:
        raise ValidationError(f"{file}: no YAML front matter (start the file with '---')")
    try:
        fm = yaml.load(fm_text, Loader=_yaml12_loader()) or {}  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 2}" if mark is not None else ""
        raise ValidationError(f"{file}{where}: front matter is not valid YAML") from exc
    if not isinstance(fm, dict):
        raise ValidationError(f"{file}: front matter must be a mapping of fields")
    return fm


def read_skill(folder: Path) -> SkillInfo:
    """Read a skill folder's front matter (lenient: only name must be usable)."""
    md = find_skill_md(folder)
    if md is None:
        raise ValidationError(f"{folder}: no SKILL.md")
    return SkillInfo.from_front_matter(parse_front_matter(md.read_text("utf-8"), md.name))


def _check_fields(fm: Mapping[str, Any], folder_name: str | None, file: str) -> list[Problem]:
    out: list[Problem] = []

    def err(fld: str, msg: str, fix: str) -> None:
        out.append(Problem("error", fld, msg, file, fix))

    name = fm.get("name")
    if name is None or name == "":
        err(
            "name", "missing required field 'name'", "add `name: <folder-name>` to the front matter"
        )
    elif not isinstance(name, str):
        err("name", "'name' must be a string", "quote the value")
    else:
        if len(name) > 64:
            err("name", f"'name' is {len(name)} characters (max 64)", "shorten the name")
        if not NAME_RE.match(name):
            err(
                "name",
                f"'name' {name!r} must be lowercase letters, digits and single hyphens",
                "use e.g. `my-skill` (no leading, trailing or double hyphens)",
            )
        if folder_name is not None and name != folder_name and NAME_RE.match(name):
            err(
                "name",
                f"'name' {name!r} does not match the folder name {folder_name!r}",
                f"rename the folder to {name!r} or set `name: {folder_name}`",
            )
    desc = fm.get("description")
    if desc is None or (isinstance(desc, str) and not desc.strip()):
        err(
            "description",
            "missing required field 'description'",
            "add `description:` saying what the skill does and when to use it",
        )
    elif not isinstance(desc, str):
        err("description", "'description' must be a string", "quote the value")
    elif len(desc) > 1024:
        err("description", f"'description' is {len(desc)} characters (max 1024)", "shorten it")
    lic = fm.get("license")
    if lic is not None and not isinstance(lic, str):
        err("license", "'license' must be a string", "use an SPDX identifier such as `MIT`")
    comp = fm.get("compatibility")
    if comp is not None:
        if not isinstance(comp, str):
            err("compatibility", "'compatibility' must be a string", "quote the value")
        elif len(comp) > 500:
            err(
                "compatibility",
                f"'compatibility' is {len(comp)} characters (max 500)",
                "shorten it",
            )
    meta = fm.get("metadata")
    if meta is not None:
        if not isinstance(meta, dict):
            err(
                "metadata",
                "'metadata' must be a map of string keys to string values",
                'write `metadata:` with indented `key: "value"` lines',
            )
        else:
            for k, v in meta.items():
                if not isinstance(k, str) or not isinstance(v, str):
                    err(
                        f"metadata.{k}",
                        f"metadata value for {k!r} must be a string",
                        f'quote it: `{k}: "{v}"`',
                    )
    tools = fm.get("allowed-tools")
    if tools is not None and not isinstance(tools, str):
        err(
            "allowed-tools",
            "'allowed-tools' must be a space-separated string",
            "write e.g. `allowed-tools: Bash(git:*) Read`",
        )
    for key in fm:
        if key not in KNOWN_KEYS:
            out.append(
                Problem(
                    "warning",
                    str(key),
                    f"unknown front matter field {key!r} (the reference validator, "
                    "skills-ref, refuses fields outside the spec's six)",
                    file,
                    "agents may ignore it; remove it unless a vendor reads it "
                    "(`validate --strict` treats it as an error)",
                )
            )
    return out


def validate(folder: Path, *, strict: bool = False) -> list[Problem]:
    """Every problem with a skill folder, errors and warnings, in a stable order.

    ``strict``: unknown front-matter fields are errors, as in the reference validator.
    """
    problems = _validate(folder)
    if not strict:
        return problems
    return [
        Problem("error", p.field, p.message, p.file, p.fix)
        if p.severity == "warning" and p.message.startswith("unknown front matter field")
        else p
        for p in problems
    ]


def _validate(folder: Path) -> list[Problem]:
    folder = Path(folder)
    if not folder.is_dir():
        return [
            Problem(
                "error", "path", f"{folder} is not a folder", str(folder), "pass the skill's folder"
            )
        ]
    md = find_skill_md(folder)
    if md is None:
        return [
            Problem(
                "error",
                "SKILL.md",
                "no SKILL.md in the folder",
                "SKILL.md",
                "create SKILL.md with `name` and `description` front matter",
            )
        ]
    problems: list[Problem] = []
    try:
        fm = parse_front_matter(md.read_text("utf-8"), md.name)
    except UnicodeDecodeError:
        return [
            Problem("error", "SKILL.md", "SKILL.md is not UTF-8 text", md.name, "save it as UTF-8")
        ]
    except ValidationError as exc:
        return [
            Problem(
                "error",
                "front matter",
                exc.message,
                md.name,
                "start SKILL.md with a `---` line, YAML fields, then `---`",
            )
        ]
    problems += _check_fields(fm, folder.resolve().name, md.name)
    problems += _check_files(folder)
    problems += _check_dependencies(folder, fm.get("name"))
    return problems


def _check_dependencies(folder: Path, name: object) -> list[Problem]:
    """The skill's own skills.json (what it needs), when it has one."""
    from .dependencies import FILE, read_folder

    declared = read_folder(folder, own_name=name if isinstance(name, str) else None)
    if declared is None:
        return []
    fix = "see docs/formats.md, Dependencies"
    return [Problem("error", "dependencies", m, FILE, fix) for m in declared.errors] + [
        Problem("warning", "dependencies", m, FILE, "remove it") for m in declared.warnings
    ]


def _check_files(folder: Path) -> list[Problem]:
    """What packing would refuse or change about the folder's files (as ``pack`` walks it)."""
    from .archive import collect, limit_problem

    refused: list[tuple[str, str]] = []
    entries = collect(folder, refused)
    out = [
        Problem("error", "files", message, rel, "remove it, or list it in .skillignore")
        for rel, message in refused
    ]
    for e in entries:
        if e.link:
            out.append(
                Problem(
                    "warning",
                    "files",
                    f"{e.rel} is a symbolic link to {e.link!r}; pack stores a copy of the file",
                    e.rel,
                    "",
                )
            )
        problem = _name_problem(e.rel)
        if problem:  # the rule installs apply (skill.tree.check_tree_path): refuse it here
            out.append(Problem("error", "files", problem, repr(e.rel), "rename the file"))
    too_big = limit_problem(entries)
    if too_big:
        out.append(Problem("error", "files", too_big, ".", "move large assets out of the skill"))
    return out


def _name_problem(rel: str) -> str | None:
    """Why a file name cannot be installed (what ``skill.tree`` refuses), or None."""
    from .tree import check_tree_path

    try:
        check_tree_path(rel, rel)
    except SkillcrateError as exc:
        return f"{exc.message}; consumers could not install it"
    return None
