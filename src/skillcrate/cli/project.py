"""Project commands: init, add, remove, install, update, outdated, list, why, verify, mirror."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..agents.specs import AGENTS
from . import CONTEXT, App, cli, pass_app
from .options import (
    PRE_HELP,
    _manifest_ref,
    _project,
    json_option,
    link_dir_option,
    parse_ref,
    skill_name_option,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..installer.apply import InstallResult
    from ..project.context import Project


def columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text columns (widths from the longest cell; "-" for empty cells)."""
    cells = [[c or "-" for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


def _print_result(
    app: App, result: InstallResult, as_json: bool, *, verb: str = "installed"
) -> None:
    if as_json:
        app.json(result.to_json())
        return
    for name in result.installed:
        was, now = result.versions.get(name, ("", ""))
        change = f"{was} → {now}" if was and was != now else now
        app.out(f"+ {name} {change}".rstrip())
    for name in result.removed:
        app.out(f"- {name}")
    for w in result.warnings:
        app.info(f"warning: {w}")
    for name, why in result.failed.items():
        app.err(f"error: {name}: {why.splitlines()[0] if why else 'failed'}")
    if result.failed:
        app.info(
            f"{len(result.failed)} skill(s) failed and were left as they were: "
            + ", ".join(result.failed)
        )
    if result.failed and not result.installed and not result.removed:
        return
    if not result.installed and not result.removed:
        app.info("updated skills.lock.json" if result.lock_written else "skills are up to date")
    else:
        total = len(result.installed) + len(result.unchanged)
        app.info(
            f"{verb} {len(result.installed)}, removed {len(result.removed)}; "
            f"{total} skill(s) in .agents/skills"
        )


@cli.command(context_settings=CONTEXT)
@click.option(
    "--with-skill",
    is_flag=True,
    help="Also add skillcrate's own skill, so agents can manage skills (see add --self).",
)
@pass_app
def init(app: App, with_skill: bool) -> None:
    """Create skills.json and the managed .gitignore block in the project.

    \b
    Examples:
      skillcrate init
      skillcrate -C path/to/project init
      skillcrate init --with-skill       # and the skill that teaches agents skillcrate
    """
    from ..ops import init as run

    project = _project(app)
    created = run(project)
    app.out(
        f"created {project.manifest_path}" if created else f"{project.manifest_path} already exists"
    )
    if with_skill:
        _add_self(app, project, as_json=False)


def _add_self(app: App, project: Project, *, as_json: bool) -> None:
    from ..ops import AddRequest, vendor_self
    from ..ops import add as run

    ref = vendor_self(project)
    app.info(f"wrote skillcrate's own skill to {ref.name}:{ref.tag}")
    result = run(project, [AddRequest(f"{ref.name}:{ref.tag}")], cwd=project.base_dir)
    _print_result(app, result, as_json)


@cli.command(context_settings=CONTEXT)
@click.argument("refs", nargs=-1)
@click.option(
    "--self",
    "self_",
    is_flag=True,
    help="Add skillcrate's own skill (written as an OCI layout into .agents/vendor/skillcrate).",
)
@click.option(
    "--version",
    "version",
    metavar="RANGE",
    help="Version range to save (default ^X.Y.Z of the newest version).",
)
@skill_name_option("Name in skills.json and .agents/skills (default: SKILL.md's name).")
@click.option("--exact", is_flag=True, help="Save the exact version instead of ^X.Y.Z.")
@click.option("--pre", is_flag=True, help=PRE_HELP)
@click.option(
    "--allow-external",
    is_flag=True,
    help="Also add collection members stored in other repositories than the collection.",
)
@link_dir_option
@json_option
@pass_app
def add(
    app: App,
    refs: tuple[str, ...],
    self_: bool,
    version: str | None,
    name: str | None,
    exact: bool,
    pre: bool,
    allow_external: bool,
    link_dirs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add skills to skills.json, lock them and install them.

    Saves ^X.Y.Z of the resolved version by default, the exact version with
    --exact, and the digest for @sha256: references. A reference equal to one
    of the repository's tags (1, v1, stable) selects that tag. Adding a skill
    that is already listed from the same source rewrites its version (or does
    nothing when it is the same). A relative oci: path is taken from the
    project folder with -C, else from the current folder.

    \b
    Examples:
      skillcrate add ghcr.io/acme/skills/review
      skillcrate add ghcr.io/acme/skills/review:1.2.0 --exact
      skillcrate add oci:./vendor/registry/hello-world --version '~1.0'
      skillcrate add ghcr.io/acme/skills/review@sha256:<hex> --name review-pinned
      skillcrate add -g ghcr.io/acme/skills/review   # for the user: ~/.agents/skills
      skillcrate add --self              # the skill that teaches agents skillcrate
    """
    from ..ops import AddRequest
    from ..ops import add as run

    if self_:
        if refs or version or name or exact:
            raise click.UsageError("--self adds skillcrate's own skill: give no REF or version")
        _add_self(app, _project(app, link_dirs=link_dirs), as_json=as_json)
        return
    if not refs:
        raise click.UsageError("give a reference to add (or --self)")
    if version and len(refs) > 1:
        raise click.UsageError("--version can only be used with a single reference")
    reqs = [AddRequest(ref, version=version, name=name, exact=exact) for ref in refs]
    project = _project(app, pre=pre, link_dirs=link_dirs, allow_external=allow_external)
    base = project.root if app.project_opt is not None else None  # -C: paths from the project
    existed = project.manifest_path.exists()
    result = run(project, reqs, cwd=base)
    if not existed and project.manifest_path.exists():
        app.info(f"created {project.manifest_path}")
    _print_result(app, result, as_json)


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True)
@link_dir_option
@json_option
@pass_app
def remove(app: App, names: tuple[str, ...], link_dirs: tuple[str, ...], as_json: bool) -> None:
    """Remove skills: skills.json entry, lock entry, installed folder and links.

    The skills they needed that nothing else needs go too. Never deletes a
    folder skillcrate did not create.

    \b
    Examples:
      skillcrate remove review
      skillcrate remove review hello-world
    """
    from ..ops import remove as run

    _print_result(app, run(_project(app, link_dirs=link_dirs), list(names)), as_json)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--frozen",
    is_flag=True,
    help="CI: fail if skills.json and the lock disagree; never write them.",
)
@click.option("--offline", is_flag=True, help="Use only the cache (no network).")
@click.option(
    "--keep-going",
    "-k",
    is_flag=True,
    help="Install every skill that can be; keep the others as they were, list them, exit 1.",
)
@click.option(
    "--hook",
    "hook",
    type=click.Choice(AGENTS),
    help="Run as an agent's session-start hook: JSON for the agent on stdout, always exit 0.",
)
@link_dir_option
@json_option
@click.argument("refs", nargs=-1, metavar="")
@pass_app
def install(
    app: App,
    refs: tuple[str, ...],
    frozen: bool,
    offline: bool,
    keep_going: bool,
    hook: str | None,
    link_dirs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Install exactly what skills.lock.json pins, resolving only new or changed entries.

    When nothing changed (same skills.json and lock, installed files untouched)
    this returns at once without any network access. --frozen always checks in
    full: the lock must match skills.json and hold exactly the skills they need
    (the whole dependency closure), and signatures are re-verified against the
    trust policy.

    With --keep-going (always in --hook mode) one unreachable or refused skill does
    not stop the others: they are installed, the failed ones keep their previous
    folder and lock entry (if any), and each failure is listed. --frozen stays
    all-or-nothing.

    \b
    Examples:
      skillcrate install
      skillcrate install --frozen        # CI: lockfile drift check
      skillcrate install --offline       # from the cache only
      skillcrate install --keep-going    # like make -k: install what can be
      skillcrate install --hook claude   # what `skillcrate register` puts in hooks
      skillcrate install -g              # the user's own skills (~/.agents/skills)
    """
    if refs:  # npm habit: `install PKG` adds it; here that is `add`
        raise click.UsageError(
            f"install takes no references; to add one, run `skillcrate add {refs[0]}`"
        )
    if hook:
        from ..agents.hook import run_hook

        sys.exit(run_hook(hook, app))
    from ..fastpath import is_up_to_date

    if not as_json and not frozen and is_up_to_date(app.project, app.files_dir):
        app.info("skills are up to date")
        return
    from ..ops import install as run

    if keep_going and frozen:
        raise click.UsageError("--keep-going cannot be combined with --frozen (all-or-nothing)")
    project = _project(app, offline=offline, link_dirs=link_dirs)
    result = run(project, frozen=frozen, keep_going=keep_going)
    _print_result(app, result, as_json)
    if result.failed:
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1)
@click.option("--latest", is_flag=True, help="Also move ranges to the newest version.")
@click.option("--pre", is_flag=True, help=PRE_HELP)
@link_dir_option
@json_option
@pass_app
def update(
    app: App,
    names: tuple[str, ...],
    latest: bool,
    pre: bool,
    link_dirs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Re-resolve skills within their ranges and rewrite the lock.

    Without names: every skill in the lock, those installed because others
    need them included. The whole dependency tree is solved again.

    \b
    Examples:
      skillcrate update
      skillcrate update review
      skillcrate update --latest        # ^1.2.0 becomes ^2.0.1 when 2.0.1 is newest
    """
    from ..ops import update as run

    project = _project(app, pre=pre, link_dirs=link_dirs)
    _print_result(app, run(project, list(names), latest=latest), as_json, verb="updated")


@cli.command(context_settings=CONTEXT)
@json_option
@pass_app
def outdated(app: App, as_json: bool) -> None:
    """Show current, wanted (newest in range) and latest version per skill.

    Skills installed because others need them are shown too: wanted is the
    newest version every dependent accepts. Exit 1 when any skill is outdated.

    \b
    Examples:
      skillcrate outdated
      skillcrate outdated --json
    """
    from ..ops import outdated as run

    rows = run(_project(app))
    if as_json:
        app.json([r.to_json() for r in rows])
    else:
        stale = [r for r in rows if r.is_outdated]
        if not stale:
            app.info("all skills are up to date")
        else:
            table: list[tuple[str, ...]] = [("name", "current", "wanted", "latest", "spec")]
            table += [(r.name, r.current, r.wanted, r.latest, r.spec) for r in stale]
            for line in columns(table):
                app.out(line)
    if any(r.is_outdated for r in rows):
        sys.exit(1)


def _listed(app: App, items: Sequence[Any], as_json: bool) -> bool:
    """``--json``: print ``items`` and say so (True); else note when there are none."""
    if as_json:
        app.json([i.to_json() for i in items])
        return True
    if not items:
        app.info("no skills installed")
    return False


@cli.command("list", context_settings=CONTEXT)
@click.option("--tree", "as_tree", is_flag=True, help="Show what each skill needs, as a tree.")
@json_option
@pass_app
def list_(app: App, as_tree: bool, as_json: bool) -> None:
    """List installed skills: name, version, digest, description, path.

    Skills installed because others need them say so (`needed by ...`); `--tree`
    shows each skills.json entry with the skills it needs, each expanded once.

    \b
    Examples:
      skillcrate list
      skillcrate list --tree
      skillcrate list --json
    """
    from ..ops import list_skills, tree

    if as_tree:
        nodes = tree(_project(app))
        if not _listed(app, nodes, as_json):
            for n in nodes:
                for line in n.lines():
                    app.out(line)
        return
    rows = list_skills(_project(app))
    if _listed(app, rows, as_json):
        return
    lines = columns([(r.name, r.version, r.digest[:19], r.path) for r in rows])
    for r, line in zip(rows, lines, strict=True):
        state = "" if r.installed else "  (not installed: run skillcrate install)"
        needed = "" if r.direct else f"  (needed by {', '.join(r.required_by)})"
        app.out(line + needed + state)
        if r.description:
            desc = r.description if len(r.description) <= 96 else r.description[:93] + "..."
            app.out(f"    {desc}")


@cli.command(context_settings=CONTEXT)
@click.argument("name")
@json_option
@pass_app
def why(app: App, name: str, as_json: bool) -> None:
    """Explain why a skill is installed: every way from skills.json to it.

    Reads the lock only (no network).

    \b
    Examples:
      skillcrate why testing
      skillcrate why testing --json
    """
    from ..ops import why as run

    found = run(_project(app), name)
    if as_json:
        app.json(found.to_json())
        return
    for line in found.lines():
        app.out(line)


@cli.command(context_settings=CONTEXT)
@click.argument("ref", required=False)
@click.option(
    "--key",
    "keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="With REF: a public key that must have signed it (repeatable).",
)
@click.option("--offline", is_flag=True, help="Only check installed files (skip signature checks).")
@json_option
@pass_app
def verify(app: App, ref: str | None, keys: tuple[Path, ...], offline: bool, as_json: bool) -> None:
    """Check installed skills against the lock, and signatures against the trust policy.

    Without REF: every installed folder must match its lock tree (offline), and every
    locked skill whose source has a "trust" rule in skills.json must carry a signature
    (a Sigstore bundle referrer or a cosign .sig) that verifies with the rule's keys
    and names the locked digest. With REF and --key: check that one artifact.

    Exit 1 on any drift or failed enforce rule (warn rules are reported, not fatal).

    \b
    Examples:
      skillcrate verify
      skillcrate verify --json
      skillcrate verify localhost:5000/review:1.2.0 --key cosign.pub
    """
    if ref is not None:
        _verify_ref(app, ref, keys, as_json)
        return
    if keys:
        raise click.UsageError("--key goes with REF; for the project, keys come from skills.json")
    from ..ops import verify as run
    from ..ops import verify_signatures

    project = _project(app)
    drift = run(project)
    signatures = [] if offline else verify_signatures(project)
    failed = [s for s in signatures if not s.result.ok and s.result.rule.mode == "enforce"]
    if as_json:
        app.json(
            {
                "drift": [d.to_json() for d in drift],
                "signatures": [s.to_json() for s in signatures],
            }
        )
    else:
        for d in drift:
            for p in d.paths or [""]:
                app.out(f"{d.name}: {d.problem}: {p}".rstrip(": "))
        for s in signatures:
            r = s.result
            if r.ok:
                app.out(f"{s.name}: signed by {r.signed_by} ({r.kind}; policy {r.rule.pattern})")
            else:
                level = "FAILED" if r.rule.mode == "enforce" else "warning"
                app.out(f"{s.name}: {level}: not verified by {r.rule.pattern}: {r.reason()}")
        if not drift:
            app.info("all installed skills match skills.lock.json")
    if drift or failed:
        sys.exit(1)


def _verify_ref(app: App, ref: str, keys: tuple[Path, ...], as_json: bool) -> None:
    from ..trust.policy import check
    from ..trust.rules import TrustRule

    if not keys:
        raise click.UsageError("verifying REF needs --key")
    reference = parse_ref(ref, default_tag="latest")
    target = app.target(reference)
    subject = target.resolve(_manifest_ref(reference))
    rule = TrustRule(str(reference.with_tag(None)), "enforce", tuple(str(k) for k in keys))
    result = check(target, subject, rule, Path.cwd())
    if as_json:
        app.json({"reference": str(reference), **result.to_json()})
    elif result.ok:
        app.out(f"{reference}@{subject.digest}: signed by {result.signed_by} ({result.kind})")
    else:
        app.out(f"{reference}@{subject.digest}: not verified: {result.reason()}")
    if not result.ok:
        sys.exit(1)


@cli.command(context_settings=CONTEXT)
@click.argument("dest")
@click.argument("refs", nargs=-1)
@click.option(
    "--from-lock",
    is_flag=True,
    help="Copy what skills.lock.json pins (the default when no REF is given).",
)
@json_option
@pass_app
def mirror(app: App, dest: str, refs: tuple[str, ...], from_lock: bool, as_json: bool) -> None:
    """Copy skills, their signatures and attestations to another registry or folder.

    For an air-gapped network, like `skopeo sync`: every skill the lock pins (by digest,
    with the tag the lock names), the collections skills.json names, and every referrer
    (Sigstore bundles, attestations, SBOMs) and cosign signature tag of each. DEST is a
    registry prefix or oci:DIR; a repository goes to DEST/<repository> (its path without
    the registry host), one OCI layout per repository under oci:DIR. Digests stay the
    same, so the same lock installs from the copy; point a registries.conf mirror at
    DEST there. A second run copies nothing that is already there.

    \b
    Examples:
      skillcrate mirror airgap.internal:5000/skills
      skillcrate mirror oci:/media/usb/skills
      skillcrate mirror oci:./mirror ghcr.io/acme/skills/review:1.2.0
    """
    from ..ops import mirror as run

    if from_lock and refs:
        raise click.UsageError("--from-lock copies what the lock pins; give it or REFs, not both")
    if dest.startswith("oci:") and not os.path.isabs(dest[4:]):
        dest = "oci:" + os.path.abspath(dest[4:])  # relative to where the command runs
    done = run(_project(app), dest, refs)
    if as_json:
        app.json([m.to_json() for m in done])
        return
    for m in done:
        app.out(f"{m.name}: {m.source} → {m.dest}: {m.copied.summary()}")
    if not done:
        app.info("nothing to mirror (no registry skills in the lock)")
