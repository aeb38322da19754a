"""``skillcrate doctor``: check a project and explain what needs fixing.

Checks: skills.json and the lock (parse, agree), the installed tree (``verify``),
each registered agent's hook file (present, ours, launcher resolvable), and each
source's registry (reachable, credentials found and accepted) — never printing a
secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agents import hookfiles as agents
from .agents.specs import AGENTS
from .errors import AuthError, NotFound, RegistryUnreachable, SkillcrateError
from .installer.plan import frozen_problems
from .oci.credentials import lookup
from .oci.target import Existence
from .ops import verify
from .project.context import Project
from .text import one_line


@dataclass(frozen=True)
class Check:
    """One line of ``doctor``'s report: what was checked, its status, and how to fix it."""

    area: str  # "project" | "install" | "hooks" | "registry" | "mirror"
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
                # init refuses a malformed file (it never overwrites one): say what works
                "run `skillcrate init`"
                if not project.manifest_path.exists()
                else "fix the file at the place named (init will not overwrite it)",
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


def _plain_shape(command: str) -> bool:
    """Whether the hook is ``<plain launcher> install --hook <agent>`` and nothing more.

    Any ``$VAR``/``${VAR}``/``"$VAR"`` at the start of the launcher counts as an agent's
    project variable here (doctor may not know it); everything else must be plain.
    """
    shaped = re.sub(r'^"?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"?', "$CLAUDE_PROJECT_DIR", command)
    return agents.plain_hook(shaped) is not None


def codex_config() -> Path:
    """Codex's user config: ``$CODEX_HOME/config.toml``, else ``~/.codex/config.toml``."""
    home = os.environ.get("CODEX_HOME", "").strip()
    return (Path(home) if home else Path.home() / ".codex") / "config.toml"


def _check_codex_trust(root: Path) -> list[Check]:
    """Whether Codex trusts this project and has approved its hook (read-only).

    Codex stores both in its user config: ``[projects."<path>"] trust_level = "trusted"``
    and, per hook, ``[hooks.state."<path>/.codex/hooks.json:session_start:…"]
    trusted_hash``. It asks again when the entry changes, which this cannot tell.
    """
    import tomllib

    try:
        if not agents.registered_hooks(root).get("codex"):
            return []
    except SkillcrateError:
        return []  # reported by the hook checks
    path = codex_config()
    try:
        with open(path, "rb") as fh:
            config = tomllib.load(fh)
    except FileNotFoundError:
        config = {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [Check("hooks", "codex", "warn", f"cannot read {path}: {exc}", "")]
    real = os.path.realpath(root)
    projects = config.get("projects")
    entry = projects.get(real) if isinstance(projects, dict) else None
    trusted = isinstance(entry, dict) and entry.get("trust_level") == "trusted"
    hooks = config.get("hooks")
    state = hooks.get("state") if isinstance(hooks, dict) else None
    prefix = f"{real}/.codex/hooks.json:session_start:"
    approved = isinstance(state, dict) and any(
        key.startswith(prefix) and isinstance(value, dict) and value.get("trusted_hash")
        for key, value in state.items()
    )
    if trusted and approved:
        return [Check("hooks", "codex", "ok", f"Codex trusts this project and its hook ({path})")]
    missing = [
        *([] if trusted else ["the project is not trusted"]),
        *([] if approved else ["the hook has not been approved"]),
    ]
    return [
        Check(
            "hooks",
            "codex",
            "warn",
            f"Codex will not run the hook yet: {' and '.join(missing)} ({path})",
            "start `codex` in the project, trust it, and approve the hook with /hooks",
        )
    ]


def _check_hooks(root: Path, *, user: bool = False) -> list[Check]:
    out: list[Check] = []
    register = "skillcrate register -g" if user else "skillcrate register"
    try:
        found = agents.registered_hooks(root, user=user)
    except SkillcrateError as exc:  # a malformed hook file: report it, keep checking
        detail = exc.message.replace("; the file was not changed", "")
        return [Check("hooks", "agents", "fail", detail, "fix the JSON of that file by hand")]
    for agent in AGENTS:
        path = agents.hook_file(root, agent, user=user).relative_to(root).as_posix()
        commands = found.get(agent) or []
        if not commands:
            if (root / path).exists():
                out.append(
                    Check(
                        "hooks",
                        agent,
                        "warn",
                        f"{path} has no skillcrate hook",
                        f"run `{register} --agent {agent}`",
                    )
                )
            continue
        if not _plain_shape(commands[0]):
            out.append(
                Check(
                    "hooks",
                    agent,
                    "fail",
                    f"{path}: the hook runs more than skillcrate: {one_line(commands[0], 200)!r}",
                    f"remove that entry, then run `{register} --agent {agent}`",
                )
            )
            continue
        ok, where = agents.launcher_resolvable(commands[0], root)
        if ok:
            out.append(Check("hooks", agent, "ok", f"{path}: {commands[0]} ({where})"))
        elif ok is None:
            out.append(
                Check(
                    "hooks",
                    agent,
                    "warn",
                    f"{path}: cannot check the launcher of {commands[0]!r}: {where}",
                    "make sure the agent's shell can run it",
                )
            )
        elif "/" in where:
            out.append(
                Check(
                    "hooks",
                    agent,
                    "fail",
                    f"{path}: launcher of {commands[0]!r} is not an executable file ({where})",
                    "install skillcrate there or re-register with --command",
                )
            )
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
                f"run `{register}` so sessions start with install",
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
            target = project.target(ref)  # relative oci: paths resolve against the project
            exists = target is not None and isinstance(target, Existence) and target.exists()
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
        who = ""  # stays empty when the credentials themselves cannot be read
        try:
            cred = lookup(ref.registry)
            who = f"credentials from {cred.source}" if cred else "anonymous"
            target = project.online_target(ref.with_tag(None), "doctor")
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
        except AuthError as exc:  # rejected, or the credentials themselves cannot be read
            out.append(
                Check(
                    "registry",
                    key,
                    "fail",
                    f"{exc.message} ({who})" if who else exc.message,
                    "check the credential configuration, or log in with `docker login` "
                    "or `podman login`",
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
        if not project.offline:
            out += _check_mirrors(project, key)
    return out


def _check_mirrors(project: Project, key: str) -> list[Check]:
    """Each mirror registries.conf (or config.toml) names for ``key``, and whether it answers."""
    from .registries import endpoints

    try:
        rule, points = endpoints(project.client.rules(), key)
    except SkillcrateError as exc:
        return [Check("mirror", key, "fail", exc.message, "fix the registries configuration")]
    if rule is None:
        return []
    out: list[Check] = []
    for point in points:
        if not point.mirror and point.name == key:
            continue  # the primary is the registry checked above
        what = f"mirror ({point.pull_from_mirror})" if point.mirror else "rewritten location"
        label = f"{key} → {point.name}"
        target = project.client.endpoint(point)
        try:
            if isinstance(target, Existence):
                answers = target.exists()
                detail = "OCI layout found" if answers else "OCI layout folder is missing"
            else:
                detail = f"answers, {len(target.tags())} tag(s)"
                answers = True
        except NotFound:
            answers, detail = True, "answers (the repository is not there yet)"
        except SkillcrateError as exc:
            answers, detail = False, exc.message
        out.append(
            Check(
                "mirror",
                label,
                "ok" if answers else "warn",
                f"{what} from {rule.source}: {detail}",
                "" if answers else "installs fall back to the next mirror and the registry",
            )
        )
    return out


def diagnose(project: Project) -> list[Check]:
    """Every check of the project (with ``-g``: the user's own skills and user-level hooks;
    Codex's per-project trust does not apply there)."""
    checks = _check_project(project)
    checks += _check_hooks(project.root, user=project.is_global)
    if not project.is_global:
        checks += _check_codex_trust(project.root)
    checks += _check_registries(project)
    return checks
