"""``skillcrate doctor``: check a project and explain what needs fixing.

Checks: skills.json and the lock (parse, agree), the installed tree (``verify``),
each registered agent's hook file (present, ours, launcher resolvable), and each
source's registry (reachable, credentials found and accepted) — never printing a
secret.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import agents
from .errors import AuthError, NotFound, RegistryUnreachable, SkillcrateError
from .oci.credentials import lookup
from .project import Project, frozen_problems, verify


@dataclass(frozen=True)
class Check:
    area: str  # "project" | "install" | "hooks" | "registry"
    subject: str
    status: str  # "ok" | "warn" | "fail"
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "subject": self.subject,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }


def _check_project(project: Project) -> list[Check]:
    out: list[Check] = []
    try:
        manifest = project.load_manifest()
    except SkillcrateError as exc:
        return [
            Check(
                "project",
                "skills.json",
                "fail",
                exc.message,
                "fix the file, or run `skillcrate init`",
            )
        ]
    out.append(Check("project", "skills.json", "ok", f"{len(manifest.skills)} skill(s)"))
    try:
        lock = project.load_lock()
    except SkillcrateError as exc:
        return [
            *out,
            Check(
                "project",
                "skills.lock.json",
                "fail",
                exc.message,
                "restore it from version control or delete it and run install",
            ),
        ]
    problems = frozen_problems(manifest, lock)
    if problems:
        out.append(
            Check(
                "project",
                "skills.lock.json",
                "fail",
                "; ".join(problems),
                "run `skillcrate install` and commit the lock",
            )
        )
    else:
        out.append(Check("project", "skills.lock.json", "ok", "in sync with skills.json"))
        drift = verify(project)
        if drift:
            detail = "; ".join(f"{d.name}: {d.problem}" for d in drift[:5])
            out.append(
                Check(
                    "install",
                    ".agents/skills",
                    "fail",
                    detail,
                    "run `skillcrate install` to restore the pinned files",
                )
            )
        else:
            out.append(Check("install", ".agents/skills", "ok", "matches the lock"))
    return out


def _launcher_resolvable(command: str, root: Path) -> tuple[bool, str]:
    try:
        words = shlex.split(command)
    except ValueError:
        return False, "cannot parse the command"
    if not words:
        return False, "empty command"
    exe = words[0]
    if "/" in exe:
        path = (root / exe) if not exe.startswith("/") else Path(exe)
        return path.exists(), str(path)
    found = shutil.which(exe)
    return found is not None, found or exe


def _check_hooks(root: Path) -> list[Check]:
    out: list[Check] = []
    found = agents.registered_hooks(root)
    for agent in agents.AGENTS:
        path = agents.hook_file(root, agent).relative_to(root).as_posix()
        commands = found.get(agent) or []
        if not commands:
            if (root / path).exists():
                out.append(
                    Check(
                        "hooks",
                        agent,
                        "warn",
                        f"{path} has no skillcrate hook",
                        f"run `skillcrate register --agent {agent}`",
                    )
                )
            continue
        ok, where = _launcher_resolvable(commands[0], root)
        if ok:
            out.append(Check("hooks", agent, "ok", f"{path}: {commands[0]} ({where})"))
        else:
            out.append(
                Check(
                    "hooks",
                    agent,
                    "fail",
                    f"{path}: launcher of {commands[0]!r} is not on PATH",
                    "install skillcrate on PATH or re-register with --command",
                )
            )
    if not any(c.area == "hooks" for c in out):
        out.append(
            Check(
                "hooks",
                "agents",
                "warn",
                "no agent is registered",
                "run `skillcrate register` so sessions start with install",
            )
        )
    return out


def _check_registries(project: Project) -> list[Check]:
    try:
        manifest = project.load_manifest()
    except SkillcrateError:
        return []
    out: list[Check] = []
    seen: set[str] = set()
    for spec in manifest.skills:
        ref = spec.reference()
        key = ref.name
        if key in seen:
            continue
        seen.add(key)
        if ref.layout:
            from .oci import open_target

            target = open_target(ref, project.options)
            exists = target.exists()  # type: ignore[attr-defined]
            out.append(
                Check(
                    "registry",
                    key,
                    "ok" if exists else "fail",
                    "OCI layout found" if exists else "OCI layout folder is missing",
                    "" if exists else "restore the folder or change the source",
                )
            )
            continue
        cred = lookup(ref.registry)
        who = f"credentials from {cred.source}" if cred else "anonymous"
        try:
            target = project.online_target(ref.with_tag(None).with_digest(None), "doctor")
            tags = target.tags()
            out.append(Check("registry", key, "ok", f"reachable ({who}), {len(tags)} tag(s)"))
        except RegistryUnreachable as exc:
            out.append(
                Check(
                    "registry",
                    key,
                    "fail",
                    exc.message,
                    "check the address and that the registry is up",
                )
            )
        except AuthError as exc:
            out.append(
                Check(
                    "registry",
                    key,
                    "fail",
                    f"{exc.message} ({who})",
                    "log in with `docker login` or `podman login`",
                )
            )
        except NotFound as exc:
            out.append(
                Check(
                    "registry", key, "fail", exc.message, "check the repository name in skills.json"
                )
            )
        except SkillcrateError as exc:
            out.append(Check("registry", key, "fail", exc.message))
    return out


def diagnose(project: Project) -> list[Check]:
    checks = _check_project(project)
    checks += _check_hooks(project.root)
    checks += _check_registries(project)
    return checks
