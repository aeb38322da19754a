"""The ``skillcrate`` command line: parse, call the library, print. Nothing else.

Exit codes: 0 success; 1 failure (any skillcrate error, drift, outdated skills);
2 usage error (bad flags or arguments). Library modules are imported inside the
commands so that ``skillcrate install`` on an unchanged project stays cheap.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .agents.specs import AGENTS
from .errors import SkillcrateError
from .names import SIGNATURE_FORMATS, WRITE_FORMATS
from .states import PUSH_STATES, STATES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import TypeVar

    from .agents.hookfiles import RegisterResult
    from .cache import Cache
    from .installer.apply import InstallResult
    from .oci import Client, ClientOptions, Target
    from .project.context import Project
    from .reference import Reference
    from .trust.signing.keys import PrivateKey

    F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class App:
    project_opt: Path | None = None
    quiet: bool = False
    verbose: int = 0
    plain_http: bool | None = None
    insecure: bool = False
    _project: Path | None = field(default=None, repr=False)

    def client_options(self, base_dir: Path | None = None) -> ClientOptions:
        from .oci import ClientOptions

        return ClientOptions(
            plain_http=self.plain_http, insecure=self.insecure, base_dir=base_dir or Path.cwd()
        )

    @cached_property
    def client(self) -> Client:  # oci.Client, imported when a command needs it
        """This command's registry client (transports shared by its targets)."""
        from .oci import Client

        return Client(self.client_options())

    def target(self, ref: Reference, base_dir: Path | None = None) -> Target:
        return self.client.open(ref, base_dir or Path.cwd())

    def cache(self) -> Cache:
        from .cache import Cache

        return Cache()

    @property
    def project(self) -> Path:
        if self._project is None:
            from .project.files import find_project

            self._project = find_project(self.project_opt)
        return self._project

    # output: everything passes through text.inert (registry and project text is hostile)
    def out(self, text: str = "") -> None:
        from .text import inert

        click.echo(inert(text))

    def info(self, text: str) -> None:
        """Human progress and notes: stderr, hidden by -q."""
        if not self.quiet:
            from .text import inert

            click.echo(inert(text), err=True)

    def progress(self, text: str) -> None:
        """Progress on long work: stderr, only when it is a terminal."""
        if not self.quiet and sys.stderr.isatty():
            from .text import inert

            click.echo(inert(text), err=True)

    def json(self, data: Any) -> None:
        from .text import json_inert

        click.echo(json_inert(json.dumps(data, indent=2, ensure_ascii=False)))


pass_app = click.make_pass_decorator(App)


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(WRITE_FORMATS),
        default="agentskills",
        show_default=True,
        help="Artifact format to write.",
    )(f)


def parse_ref(text: str, *, default_tag: str | None = None) -> Reference:
    """Parse a reference; give it ``default_tag`` when it names neither tag nor digest."""
    from .reference import Reference

    ref = Reference.parse(text)
    return ref.with_tag(default_tag) if default_tag and not ref.reference else ref


def _manifest_ref(ref: Reference) -> str:
    """The tag or digest of a ``parse_ref(..., default_tag="latest")`` result (always set)."""
    return ref.reference or "latest"


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="skillcrate")
@click.option(
    "-C",
    "--project",
    "project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project folder (default: nearest ancestor with skills.json, else cwd).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors.")
@click.option("-v", "--verbose", count=True, help="More detail; -vv logs HTTP requests.")
@click.option(
    "--plain-http",
    is_flag=True,
    default=None,
    help="Talk plain HTTP to registries (loopback registries do by default).",
)
@click.option("--insecure", is_flag=True, help="HTTPS without certificate verification.")
@click.pass_context
def cli(
    ctx: click.Context,
    project: Path | None,
    quiet: bool,
    verbose: int,
    plain_http: bool | None,
    insecure: bool,
) -> None:
    """skillcrate: share agent skills through OCI registries, like npm.

    \b
    Project:   init, add, remove, install, update, outdated, list, verify
    Agents:    register, unregister, doctor
    Publish:   validate, pack, push, pull, inspect, versions
    Cache:     cache dir|list|verify|clean|prune

    \b
    Exit codes: 0 ok, 1 failure, 2 usage error.
    References: ghcr.io/acme/skills/review:1.2.3, 127.0.0.1:5000/x@sha256:…,
    or oci:PATH[:tag] for an OCI image layout folder (no server needed).
    """
    if verbose >= 2:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")
    ctx.obj = App(
        project_opt=project,
        quiet=quiet,
        verbose=verbose,
        plain_http=True if plain_http else None,
        insecure=insecure,
    )


# ------------------------------------------------------------------ publish
@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path), default=".")
@json_option
@pass_app
def validate(app: App, path: Path, as_json: bool) -> None:
    """Check a skill folder against the Agent Skills rules.

    Lists every problem with its file, field and a fix. Exit 1 on any error
    (warnings alone exit 0).

    \b
    Examples:
      skillcrate validate examples/hello-world
      skillcrate validate ./my-skill --json
    """
    from .skill.rules import validate as run

    problems = run(path)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        app.json(
            [
                {
                    "severity": p.severity,
                    "field": p.field,
                    "message": p.message,
                    "file": p.file,
                    "fix": p.fix,
                }
                for p in problems
            ]
        )
    else:
        for p in problems:
            app.out(f"{p.file}: {p.severity}: {p.field}: {p.message}")
            if p.fix:
                app.out(f"  fix: {p.fix}")
        warnings = len(problems) - len(errors)
        if errors:
            app.out(f"{path}: {len(errors)} error(s), {warnings} warning(s)")
        else:
            app.out(f"{path}: valid" + (f" ({warnings} warning(s))" if warnings else ""))
    if errors:
        sys.exit(1)


def _parse_annotations(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{v!r} is not key=value", param_hint="--annotation")
        out[key] = val
    return out


@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@format_option
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the content layer (.tar.gz) to this file.",
)
@click.option("--tag", help="Version tag to record (default: metadata.version).")
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra manifest annotation (repeatable).",
)
@json_option
@pass_app
def pack(
    app: App,
    path: Path,
    fmt: str,
    output: Path | None,
    tag: str | None,
    annotations: tuple[str, ...],
    as_json: bool,
) -> None:
    """Pack a skill folder into a deterministic artifact and print its digests.

    The same folder gives the same content-layer digest on every run and machine
    (sorted entries, zeroed times and owners, normalised modes, gzip mtime 0).
    The manifest digest also changes with the creation time unless
    SOURCE_DATE_EPOCH is set.

    \b
    Examples:
      skillcrate pack examples/hello-world
      skillcrate pack ./my-skill --format image -o my-skill.tar.gz
    """
    from ._fs import atomic_copy, atomic_write
    from .formats import pack as run

    packed = run(path, fmt, tag=tag, annotations=_parse_annotations(annotations))
    layer = packed.layers[0]
    if output:
        blob = packed.blobs[layer.digest]
        if isinstance(blob, bytes):
            atomic_write(output, blob)
        else:
            atomic_copy(blob, output)
    data = {
        "name": packed.name,
        "version": packed.version,
        "format": packed.format,
        "manifest": packed.digest,
        "config": packed.config.digest,
        "layer": layer.digest,
        "size": layer.size,
    }
    if as_json:
        app.json(data)
        return
    app.out(f"{packed.name} {packed.version or ''}".rstrip() + f" ({packed.format})")
    app.out(f"  manifest {packed.digest}")
    app.out(f"  config   {packed.config.digest}")
    app.out(f"  layer    {layer.digest} ({layer.size} bytes)")
    if output:
        app.out(f"  wrote    {output}")


@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@click.argument("ref")
@format_option
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra manifest annotation (repeatable).",
)
@click.option("--tag", "extra_tags", multiple=True, help="Also apply this tag (repeatable).")
@click.option(
    "--status",
    type=click.Choice(PUSH_STATES),
    default="published",
    show_default=True,
    help="Lifecycle state to start in: draft tags <ver>-draft, testing <ver>-testing, "
    "published <ver> (and latest when it is the newest release).",
)
@json_option
@pass_app
def push(
    app: App,
    path: Path,
    ref: str,
    fmt: str,
    annotations: tuple[str, ...],
    extra_tags: tuple[str, ...],
    status: str,
    as_json: bool,
) -> None:
    """Validate, pack and push a skill to a registry or an OCI layout.

    REF's tag is the version; without one the skill's metadata.version is used.
    The manifest records the lifecycle state in io.skillimage.status (as skillctl
    does); move it on with `skillcrate promote`.

    \b
    Examples:
      skillcrate push examples/hello-world ghcr.io/acme/skills/hello-world:1.0.0
      skillcrate push ./review oci:./registry/review:1.2.0 --format acr
      skillcrate push ./review localhost:5000/review:1.3.0 --status draft
      skillcrate push ./review localhost:5000/review:1.2.0 --annotation team=platform
    """
    from .formats import pack as run
    from .publish.push import push_skill
    from .states import base_version

    reference = parse_ref(ref)
    if reference.digest:
        raise click.BadParameter("push to a tag, not a digest", param_hint="REF")
    version_tag = base_version(reference.tag) if reference.tag else None
    packed = run(
        path, fmt, tag=version_tag, annotations=_parse_annotations(annotations), status=status
    )
    version_tag = version_tag or packed.version
    if not version_tag:
        raise click.BadParameter(
            "REF has no tag and the skill has no metadata.version; add :<version>", param_hint="REF"
        )
    app.progress(
        f"pushing {packed.name} {version_tag} ({status}) to {reference.with_tag(None)} ..."
    )
    desc, tags = push_skill(
        app.target(reference), packed, version_tag, status=status, extra_tags=extra_tags
    )
    pushed = reference.with_tag(tags[0]).with_digest(desc.digest)
    if as_json:
        app.json(
            {
                "reference": str(pushed),
                "digest": desc.digest,
                "name": packed.name,
                "version": packed.version,
                "format": packed.format,
                "status": status,
                "tags": tags,
            }
        )
    else:
        app.out(f"pushed {pushed}")
        app.info(f"  {status}; tags: {', '.join(tags)}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write the skill into (default: ./<name>).",
)
@click.option("--name", help="Skill to take from a collection.")
@click.option("--force", is_flag=True, help="Replace an existing folder.")
@json_option
@pass_app
def pull(
    app: App, ref: str, output: Path | None, name: str | None, force: bool, as_json: bool
) -> None:
    """Fetch one skill into a folder, every blob verified by digest.

    Reads every format skillcrate knows (agentskills, acr, image, ORAS pushes).

    \b
    Examples:
      skillcrate pull ghcr.io/acme/skills/review:1.2.3
      skillcrate pull oci:examples/registry/hello-world:1.0.0 -o /tmp/hello-world
    """
    from .publish.push import pull_to

    reference = parse_ref(ref, default_tag="latest")
    app.progress(f"pulling {reference} ...")
    target = app.target(reference)
    reference = _checked_by_policy(app, target, reference)
    result, dest = pull_to(target, reference, app.cache(), output, name=name, force=force)
    if as_json:
        app.json(
            {
                "name": result.name,
                "path": str(dest),
                "digest": result.digest,
                "format": result.format,
            }
        )
    else:
        app.out(f"pulled {result.name} ({result.format}) {result.digest} -> {dest}")


def _checked_by_policy(app: App, target: Target, reference: Reference) -> Reference:
    """Apply the project's trust rule (if any) to what ``reference`` names; pinned by digest.

    Refuses (enforce) or warns (warn) before anything is written, as install does.
    """
    from .project.files import MANIFEST_NAME
    from .project.manifest import load_manifest
    from .trust.rules import rule_for

    path = app.project / MANIFEST_NAME
    if not path.is_file():
        return reference
    rules = load_manifest(path).trust
    rule = rule_for(rules, reference.name) if rules else None
    if rule is None:
        return reference
    from .trust.policy import check, refusal

    subject = target.resolve(_manifest_ref(reference))
    result = check(target, subject, rule, app.project)
    if not result.ok:
        if rule.mode == "enforce":
            raise refusal(reference.last_segment, f"{reference}@{subject.digest}", result)
        app.info(f"warning: {reference} is not verified by {rule.pattern!r}: {result.reason()}")
    return reference.with_digest(subject.digest)


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@json_option
@pass_app
def inspect(app: App, ref: str, as_json: bool) -> None:
    """Show a skill artifact: digest, format, annotations, config and files.

    \b
    Examples:
      skillcrate inspect ghcr.io/acme/skills/review:1.2.3
      skillcrate inspect oci:examples/registry/hello-world:1.0.0 --json
    """
    from .fetch import inspect as run

    reference = parse_ref(ref, default_tag="latest")
    from .states import status_of

    info = run(app.target(reference), _manifest_ref(reference), app.cache(), display=str(reference))
    status = status_of(info.annotations)
    if as_json:
        app.json({**info.to_json(), "status": status})
        return
    app.out(f"reference  {info.reference}")
    app.out(f"digest     {info.digest}")
    app.out(f"mediaType  {info.media_type}")
    if info.artifact_type:
        app.out(f"artifact   {info.artifact_type}")
    app.out(f"format     {info.format}")
    if not info.entries:
        app.out(f"status     {status}")
    app.out(f"size       {info.size} bytes")
    if info.annotations:
        from .text import one_line

        app.out("annotations:")
        for k, v in sorted(info.annotations.items()):
            app.out(f"  {one_line(str(k))}: {one_line(str(v))}")
    if info.config:
        app.out("config:")
        app.out("  " + json.dumps(info.config, ensure_ascii=False))
    if info.entries:
        app.out("skills:")
        for e in info.entries:
            n = e["annotations"].get("io.agentskills.skill.ref") or e["digest"]
            app.out(f"  {n}  {e['digest']}")
    if info.files:
        from .text import one_line

        app.out("files:")
        for f in info.files:
            app.out(f"  {f['mode']} {f['size']:>8}  {one_line(str(f['path']))}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@json_option
@pass_app
def versions(app: App, ref: str, as_json: bool) -> None:
    """List a repository's tags, semver-sorted, newest first.

    \b
    Examples:
      skillcrate versions ghcr.io/acme/skills/review
      skillcrate versions oci:examples/registry/hello-world --json
    """
    from .versions import sort_tags

    reference = parse_ref(ref)
    tags = sort_tags(app.target(reference).tags())
    if as_json:
        app.json(tags)
    else:
        for t in tags:
            app.out(t)


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@click.option(
    "--to",
    "status",
    required=True,
    type=click.Choice(STATES[1:]),
    help="The next lifecycle state (one step: draft → testing → published → deprecated → "
    "archived).",
)
@click.option(
    "-m", "--message", help="Why it is deprecated (shown when it is installed); --to deprecated."
)
@json_option
@pass_app
def promote(app: App, ref: str, status: str, message: str | None, as_json: bool) -> None:
    """Move a skill version one lifecycle step, as skillctl does.

    Re-pushes the manifest with io.skillimage.status set to the new state (config and
    layers keep their digests) and moves the tags: testing → <ver>-testing,
    published → <ver> and latest, deprecated → <ver>, archived → no tags (digest only).
    Ranges in add/update skip draft, testing and archived versions unless --pre.

    \b
    Examples:
      skillcrate promote localhost:5000/review:1.3.0-draft --to testing
      skillcrate promote localhost:5000/review:1.3.0-testing --to published
      skillcrate promote ghcr.io/acme/skills/review:1.2.0 --to deprecated -m "use 1.3"
      skillcrate promote ghcr.io/acme/skills/review:1.2.0 --to archived
    """
    from .publish.promote import promote as run

    reference = parse_ref(ref, default_tag="latest")
    done = run(app.target(reference), _manifest_ref(reference), status, message=message)
    for note in done.notes:
        app.info(f"note: {note}")
    if as_json:
        app.json({"reference": str(reference.with_tag(None)), **done.to_json()})
        return
    where = reference.with_tag(None).with_digest(done.digest)
    app.out(f"{done.version}: {done.previous} -> {done.status} {where}")
    if done.tagged:
        app.info(f"  tagged {', '.join(done.tagged)}")
    if done.untagged:
        app.info(f"  untagged {', '.join(done.untagged)}")


@cli.group(context_settings=CONTEXT)
def collection() -> None:
    """Publish several skills under one reference (an OCI image index).

    \b
    Examples:
      skillcrate collection push team-kit localhost:5000/team/kit:1.0.0 \\
          --skill localhost:5000/team/kit:review-1.2.0
      skillcrate add localhost:5000/team/kit:1.0.0   # adds every skill it lists
    """


@collection.command("push", context_settings=CONTEXT)
@click.argument("name")
@click.argument("ref")
@click.option(
    "--skill",
    "skills",
    multiple=True,
    required=True,
    metavar="REF",
    help="A skill to list (repeatable); a tag, digest or both.",
)
@click.option(
    "--copy",
    is_flag=True,
    help="Copy skills from other repositories into REF's repository first.",
)
@json_option
@pass_app
def collection_push(
    app: App, name: str, ref: str, skills: tuple[str, ...], copy: bool, as_json: bool
) -> None:
    """Push the collection NAME to REF, listing each --skill.

    `skillcrate add REF` then adds every skill of the collection to skills.json.
    Registries require an index's entries to be in its own repository: push the
    skills there, or pass --copy.

    \b
    Examples:
      skillcrate collection push team-kit localhost:5000/team/kit:1.0.0 \\
          --skill localhost:5000/team/kit:review-1.2.0 --skill localhost:5000/team/kit:lint-2.0.0
      skillcrate collection push team-kit ghcr.io/acme/kit:1.0.0 --copy \\
          --skill ghcr.io/acme/skills/review:1.2.0 --skill ghcr.io/acme/skills/lint:2.0.0
    """
    from .publish.collection import push_collection

    reference = parse_ref(ref)
    members = [parse_ref(s, default_tag="latest") for s in skills]
    done = push_collection(
        name,
        reference,
        members,
        lambda r: app.target(r),
        app.cache(),
        copy=copy,
    )
    if as_json:
        app.json(done.to_json())
        return
    app.out(f"pushed collection {name} {reference.with_digest(done.digest)}")
    for m in done.members:
        copied = " (copied)" if m.name in done.copied else ""
        app.info(f"  {m.name}  {m.ref.with_digest(None)}{copied}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--artifact-type",
    required=True,
    metavar="TYPE",
    help="Media type of what is attached, e.g. application/spdx+json.",
)
@click.option("--media-type", metavar="TYPE", help="Media type of the file's layer.")
@click.option(
    "--annotation",
    "annotations",
    multiple=True,
    metavar="KEY=VALUE",
    help="Manifest annotation (repeatable).",
)
@json_option
@pass_app
def attach(
    app: App,
    ref: str,
    file: Path,
    artifact_type: str,
    media_type: str | None,
    annotations: tuple[str, ...],
    as_json: bool,
) -> None:
    """Attach FILE (an SBOM, a scan report) to the skill at REF as a referrer.

    Uses the registry's referrers API when it has one, else also maintains the
    OCI 1.1 fallback tag sha256-<hex>.

    \b
    Examples:
      skillcrate attach localhost:5000/review:1.2.0 sbom.spdx.json \\
          --artifact-type application/spdx+json
    """
    from .oci.referrers import attach_file

    reference = parse_ref(ref, default_tag="latest")
    target = app.target(reference)
    subject = target.resolve(_manifest_ref(reference))
    desc = attach_file(
        target,
        subject,
        file,
        artifact_type,
        media_type=media_type,
        annotations=_parse_annotations(annotations),
    )
    if as_json:
        app.json({"subject": subject.digest, "digest": desc.digest, "artifactType": artifact_type})
        return
    app.out(f"attached {reference.with_tag(None).with_digest(desc.digest)} to {subject.digest}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@click.option("--artifact-type", metavar="TYPE", help="Only referrers of this type.")
@json_option
@pass_app
def discover(app: App, ref: str, artifact_type: str | None, as_json: bool) -> None:
    """List what refers to the skill at REF (signatures, SBOMs, attestations).

    Asks the referrers API, falling back to the sha256-<hex> tag on registries
    without it; each entry is read from its own manifest.

    \b
    Examples:
      skillcrate discover localhost:5000/review:1.2.0
      skillcrate discover ghcr.io/acme/skills/review:1.2.0 --json
    """
    from .oci.referrers import discover as run

    reference = parse_ref(ref, default_tag="latest")
    target = app.target(reference)
    subject = target.resolve(_manifest_ref(reference))
    found = run(target, subject, artifact_type)
    if as_json:
        app.json({"subject": subject.digest, "referrers": [r.to_json() for r in found]})
        return
    app.out(f"{reference} {subject.digest}")
    if not found:
        app.info("no referrers")
    for r in found:
        app.out(f"  {r.artifact_type}  {r.digest}  ({r.size} bytes)")


# ------------------------------------------------------------------ project
PRE_HELP = "Let ranges pick prereleases and draft/testing versions."


def _project(
    app: App,
    *,
    offline: bool = False,
    pre: bool = False,
    link_dirs: tuple[str, ...] = (),
    allow_external: bool = False,
) -> Project:
    from .project.context import Project

    return Project(
        root=app.project,
        cache=app.cache(),
        options=app.client_options(app.project),
        offline=offline,
        report=app.progress,
        pre=pre,
        allow_link_dirs=link_dirs,
        allow_external=allow_external,
    )


def link_dir_option(f: F) -> F:
    return click.option(
        "--allow-link-dir",
        "link_dirs",
        multiple=True,
        metavar="DIR",
        help="Also allow this link folder from skills.json (repeatable; by default only "
        ".<agent>/skills folders are). allow_link_dirs in config.toml makes it permanent.",
    )(f)


def _print_result(
    app: App, result: InstallResult, as_json: bool, *, verb: str = "installed"
) -> None:
    if as_json:
        app.json(result.to_json())
        return
    for name in result.installed:
        app.out(f"+ {name}")
    for name in result.removed:
        app.out(f"- {name}")
    for w in result.warnings:
        app.info(f"warning: {w}")
    if not result.installed and not result.removed:
        app.info("updated skills.lock.json" if result.lock_written else "skills are up to date")
    else:
        total = len(result.installed) + len(result.unchanged)
        app.info(
            f"{verb} {len(result.installed)}, removed {len(result.removed)}; "
            f"{total} skill(s) in .agents/skills"
        )


@cli.command(context_settings=CONTEXT)
@pass_app
def init(app: App) -> None:
    """Create skills.json and the managed .gitignore block in the project.

    \b
    Examples:
      skillcrate init
      skillcrate -C path/to/project init
    """
    from .ops import init as run

    created = run(_project(app))
    app.out(
        f"created {app.project / 'skills.json'}"
        if created
        else f"{app.project / 'skills.json'} already exists"
    )


@cli.command(context_settings=CONTEXT)
@click.argument("refs", nargs=-1, required=True)
@click.option(
    "--version",
    "version",
    metavar="RANGE",
    help="Version range to save (default ^X.Y.Z of the newest version).",
)
@click.option("--name", help="Name in skills.json and .agents/skills (default: SKILL.md's name).")
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
    --exact, and the digest for @sha256: references.

    \b
    Examples:
      skillcrate add ghcr.io/acme/skills/review
      skillcrate add ghcr.io/acme/skills/review:1.2.0 --exact
      skillcrate add oci:./vendor/registry/hello-world --version '~1.0'
      skillcrate add ghcr.io/acme/skills/review@sha256:<hex> --name review-pinned
    """
    from .ops import AddRequest
    from .ops import add as run

    if version and len(refs) > 1:
        raise click.UsageError("--version can only be used with a single reference")
    reqs = [AddRequest(ref, version=version, name=name, exact=exact) for ref in refs]
    project = _project(app, pre=pre, link_dirs=link_dirs, allow_external=allow_external)
    _print_result(app, run(project, reqs), as_json)


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True)
@link_dir_option
@json_option
@pass_app
def remove(app: App, names: tuple[str, ...], link_dirs: tuple[str, ...], as_json: bool) -> None:
    """Remove skills: skills.json entry, lock entry, installed folder and links.

    Never deletes a folder skillcrate did not create.

    \b
    Examples:
      skillcrate remove review
      skillcrate remove review hello-world
    """
    from .ops import remove as run

    _print_result(app, run(_project(app, link_dirs=link_dirs), list(names)), as_json)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--frozen",
    is_flag=True,
    help="CI: fail if skills.json and the lock disagree; never write them.",
)
@click.option("--offline", is_flag=True, help="Use only the cache (no network).")
@click.option(
    "--hook",
    "hook",
    type=click.Choice(AGENTS),
    help="Run as an agent's session-start hook: JSON for the agent on stdout, always exit 0.",
)
@link_dir_option
@json_option
@pass_app
def install(
    app: App,
    frozen: bool,
    offline: bool,
    hook: str | None,
    link_dirs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Install exactly what skills.lock.json pins, resolving only new or changed entries.

    When nothing changed (same skills.json and lock, installed files untouched)
    this returns at once without any network access. --frozen always checks in
    full: the lock must match skills.json, and signatures are re-verified against
    the trust policy.

    \b
    Examples:
      skillcrate install
      skillcrate install --frozen        # CI: lockfile drift check
      skillcrate install --offline       # from the cache only
      skillcrate install --hook claude   # what `skillcrate register` puts in hooks
    """
    if hook:
        from .agents.hook import run_hook

        sys.exit(run_hook(hook, app))
    from .fastpath import is_up_to_date

    if not as_json and not frozen and is_up_to_date(app.project):
        app.info("skills are up to date")
        return
    from .ops import install as run

    project = _project(app, offline=offline, link_dirs=link_dirs)
    _print_result(app, run(project, frozen=frozen), as_json)


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

    \b
    Examples:
      skillcrate update
      skillcrate update review
      skillcrate update --latest        # ^1.2.0 becomes ^2.0.1 when 2.0.1 is newest
    """
    from .ops import update as run

    project = _project(app, pre=pre, link_dirs=link_dirs)
    _print_result(app, run(project, list(names), latest=latest), as_json, verb="updated")


@cli.command(context_settings=CONTEXT)
@json_option
@pass_app
def outdated(app: App, as_json: bool) -> None:
    """Show current, wanted (newest in range) and latest version per skill.

    Exit 1 when any skill is outdated.

    \b
    Examples:
      skillcrate outdated
      skillcrate outdated --json
    """
    from .ops import outdated as run

    rows = run(_project(app))
    if as_json:
        app.json([r.to_json() for r in rows])
    else:
        stale = [r for r in rows if r.is_outdated]
        if not stale:
            app.info("all skills are up to date")
        else:
            app.out(f"{'name':20} {'current':12} {'wanted':12} {'latest':12} spec")
            for r in stale:
                app.out(
                    f"{r.name:20} {r.current or '-':12} {r.wanted or '-':12} "
                    f"{r.latest or '-':12} {r.spec}"
                )
    if any(r.is_outdated for r in rows):
        sys.exit(1)


@cli.command("list", context_settings=CONTEXT)
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List installed skills: name, version, digest, description, path.

    \b
    Examples:
      skillcrate list
      skillcrate list --json
    """
    from .ops import list_skills

    rows = list_skills(_project(app))
    if as_json:
        app.json([r.to_json() for r in rows])
        return
    if not rows:
        app.info("no skills installed")
    for r in rows:
        state = "" if r.installed else "  (not installed: run skillcrate install)"
        app.out(f"{r.name} {r.version or '-'} {r.digest[:19]}  {r.path}{state}")
        if r.description:
            desc = r.description if len(r.description) <= 96 else r.description[:93] + "..."
            app.out(f"    {desc}")


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
    from .ops import verify as run
    from .ops import verify_signatures

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
    from .trust.policy import check
    from .trust.rules import TrustRule

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


# ----------------------------------------------------------------- signing
PREDICATE_TYPES = {
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
}


def _password(*, confirm: bool) -> bytes:
    """The key password: $SKILLCRATE_PASSWORD, $COSIGN_PASSWORD, else a prompt."""
    for var in ("SKILLCRATE_PASSWORD", "COSIGN_PASSWORD"):
        if var in os.environ:
            return os.environ[var].encode("utf-8")
    if not sys.stdin.isatty():
        raise click.UsageError(
            "the key needs a password: set SKILLCRATE_PASSWORD (or COSIGN_PASSWORD), "
            "or run in a terminal"
        )
    text = click.prompt(
        "Password for the private key",
        hide_input=True,
        confirmation_prompt=confirm,
        default="",
        show_default=False,
    )
    return text.encode("utf-8")


private_key_option = click.option(
    "--key",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Private key (cosign.key, or a PKCS#8 PEM).",
)


def _private_key(path: Path) -> PrivateKey:
    from .trust.signing.keys import load_private_key

    data = path.read_bytes()
    password = _password(confirm=False) if b"ENCRYPTED" in data else None
    return load_private_key(data, password, source=str(path))


@cli.command(context_settings=CONTEXT)
@click.option(
    "--output-key-prefix",
    "prefix",
    default="cosign",
    show_default=True,
    help="Write PREFIX.key and PREFIX.pub.",
)
@pass_app
def keygen(app: App, prefix: str) -> None:
    """Make an ECDSA P-256 key pair in cosign's format.

    PREFIX.key is encrypted as cosign encrypts keys (scrypt + nacl secretbox), with
    the password from SKILLCRATE_PASSWORD, COSIGN_PASSWORD or a prompt; PREFIX.pub
    is the PEM public key to list under "trust" in skills.json. Existing files are
    never overwritten. cosign reads both files.

    \b
    Examples:
      skillcrate keygen
      SKILLCRATE_PASSWORD=... skillcrate keygen --output-key-prefix keys/acme
    """
    from .trust.signing.keys import write_key_pair

    key_path, pub_path = write_key_pair(Path(prefix), _password(confirm=True))
    app.out(f"wrote {key_path} (private, keep it secret) and {pub_path}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@private_key_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SIGNATURE_FORMATS),
    default="bundle",
    show_default=True,
    help="bundle: Sigstore bundle v0.3 referrer; legacy: cosign's sha256-<hex>.sig tag.",
)
@json_option
@pass_app
def sign(app: App, ref: str, key: Path, fmt: str, as_json: bool) -> None:
    """Sign the skill at REF (its manifest digest) with a key, as cosign does.

    The tag is resolved first and the digest is what gets signed, so the signature
    stays true whatever the tag later points at. No transparency log is used:
    cosign users verify with `cosign verify --key cosign.pub
    --insecure-ignore-tlog=true REF`.

    \b
    Examples:
      skillcrate sign localhost:5000/review:1.2.0 --key cosign.key
      skillcrate sign ghcr.io/acme/skills/review:1.2.0 --key cosign.key --format both
    """
    from .trust.signing.store import sign_manifest

    private = _private_key(key)
    reference = parse_ref(ref, default_tag="latest")
    target = app.target(reference)
    subject = target.resolve(_manifest_ref(reference))
    app.info(f"signing {reference.with_tag(None)}@{subject.digest}")
    pushed = sign_manifest(target, subject, private, reference.name, fmt)  # type: ignore[arg-type]
    if as_json:
        app.json(
            {
                "digest": subject.digest,
                "format": fmt,
                "keyId": private.public_key().key_id(),
                "signatures": [d.digest for d in pushed],
            }
        )
        return
    app.out(f"signed {reference.with_tag(None)}@{subject.digest}")


@cli.command(context_settings=CONTEXT)
@click.argument("ref")
@click.option(
    "--predicate",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The predicate: a JSON object (SLSA provenance, SBOM, scan results).",
)
@click.option(
    "--type",
    "predicate_type",
    required=True,
    help="Predicate type URI, or cosign's shorthand: " + ", ".join(PREDICATE_TYPES) + ".",
)
@private_key_option
@click.option("--legacy", is_flag=True, help="Also write cosign's sha256-<hex>.att tag.")
@json_option
@pass_app
def attest(
    app: App,
    ref: str,
    predicate: Path,
    predicate_type: str,
    key: Path,
    legacy: bool,
    as_json: bool,
) -> None:
    """Attach a signed in-toto attestation about the skill at REF.

    A Sigstore bundle (DSSE over an in-toto Statement v1) attached as a referrer;
    with --legacy also a DSSE layer on cosign's sha256-<hex>.att tag.

    \b
    Examples:
      skillcrate attest localhost:5000/review:1.2.0 --predicate prov.json \\
          --type slsaprovenance1 --key cosign.key
      skillcrate attest localhost:5000/review:1.2.0 --predicate sbom.json --type spdxjson \\
          --key cosign.key
    """
    from .trust.signing.store import attest as run

    uri = PREDICATE_TYPES.get(predicate_type, predicate_type)
    if "://" not in uri:
        raise click.BadParameter(
            f"{predicate_type!r} is neither a URI nor one of {', '.join(PREDICATE_TYPES)}",
            param_hint="--type",
        )
    try:
        body = json.loads(predicate.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise click.BadParameter(f"{predicate}: not JSON ({e})", param_hint="--predicate") from None
    if not isinstance(body, dict):
        raise click.BadParameter(f"{predicate}: must be a JSON object", param_hint="--predicate")
    private = _private_key(key)
    reference = parse_ref(ref, default_tag="latest")
    target = app.target(reference)
    subject = target.resolve(_manifest_ref(reference))
    pushed = [run(target, subject, private, uri, body, subject_name=reference.name)]
    if legacy:
        pushed.append(
            run(target, subject, private, uri, body, legacy=True, subject_name=reference.name)
        )
    if as_json:
        app.json(
            {
                "digest": subject.digest,
                "predicateType": uri,
                "attestations": [d.digest for d in pushed],
            }
        )
        return
    app.out(f"attested {reference.with_tag(None)}@{subject.digest} ({uri})")


# -------------------------------------------------------------------- cache
@cli.group(context_settings=CONTEXT)
def cache() -> None:
    """Inspect and maintain the content-addressed cache.

    \b
    Examples:
      skillcrate cache dir
      skillcrate cache verify --remove
      skillcrate cache prune        # keep what this project's lock pins
    """


@cache.command("dir", context_settings=CONTEXT)
@pass_app
def cache_dir(app: App) -> None:
    """Print the cache folder (SKILLCRATE_CACHE_DIR overrides it).

    \b
    Example:
      skillcrate cache dir
    """
    app.out(str(app.cache().root))


@cache.command("list", context_settings=CONTEXT)
@json_option
@pass_app
def cache_list(app: App, as_json: bool) -> None:
    """List cached blobs, manifests and unpacked trees.

    \b
    Example:
      skillcrate cache list --json
    """
    entries = app.cache().entries()
    if as_json:
        app.json([{"kind": e.kind, "digest": e.digest, "size": e.size} for e in entries])
        return
    for e in entries:
        app.out(f"{e.kind:9} {e.digest} {e.size:>10}")
    app.info(f"{len(entries)} entries")


@cache.command("verify", context_settings=CONTEXT)
@click.option("--remove", is_flag=True, help="Delete corrupt entries.")
@pass_app
def cache_verify(app: App, remove: bool) -> None:
    """Re-hash every cached blob and manifest; exit 1 on corruption.

    \b
    Example:
      skillcrate cache verify --remove
    """
    problems = app.cache().verify(remove=remove)
    for p in problems:
        app.out(f"{p.kind} {p.digest}: {p.message}" + (" (removed)" if p.removed else ""))
    if not problems:
        app.info("cache is intact")
    if problems and not remove:
        sys.exit(1)


@cache.command("clean", context_settings=CONTEXT)
@pass_app
def cache_clean(app: App) -> None:
    """Remove everything from the cache.

    \b
    Example:
      skillcrate cache clean
    """
    freed = app.cache().clean()
    app.out(f"freed {freed} bytes")


@cache.command("prune", context_settings=CONTEXT)
@pass_app
def cache_prune(app: App) -> None:
    """Remove cache entries that the project's lock does not pin.

    \b
    Example:
      skillcrate -C path/to/project cache prune
    """
    from .ops import cache_keep_set

    c = app.cache()
    freed = c.prune(cache_keep_set(_project(app), c))
    app.out(f"freed {freed} bytes")


# ------------------------------------------------------------------- agents
AGENT_CHOICES = click.Choice([*AGENTS, "all"])


def _print_register(app: App, results: Sequence[RegisterResult], as_json: bool) -> None:
    if as_json:
        app.json(
            [
                {
                    "agent": r.agent,
                    "changes": [{"path": str(c.path), "action": c.action} for c in r.changes],
                    "notices": list(r.notices),
                }
                for r in results
            ]
        )
        return
    for r in results:
        for c in r.changes:
            try:
                shown = Path(c.path).relative_to(app.project)
            except ValueError:
                shown = c.path
            app.out(f"{r.agent}: {c.action} {shown}")
        for n in r.notices:
            app.info(f"{r.agent}: note: {n}")


@cli.command(context_settings=CONTEXT)
@click.option(
    "--agent",
    "agent_names",
    multiple=True,
    type=AGENT_CHOICES,
    help="Agent to register (repeatable; default: agents whose folder exists, else claude).",
)
@click.option(
    "--command",
    "launcher",
    default="skillcrate",
    show_default=True,
    help="Launcher for the hook, e.g. 'uvx skillcrate' or '.venv/bin/skillcrate'.",
)
@json_option
@pass_app
def register(app: App, agent_names: tuple[str, ...], launcher: str, as_json: bool) -> None:
    """Add a session-start hook so every agent session starts with `skillcrate install`.

    Merges into existing hook files (other hooks and keys are kept, our entry is
    never duplicated). Hook files are meant to be committed.

    \b
    Examples:
      skillcrate register                     # agents found in the project, else Claude Code
      skillcrate register --agent all
      skillcrate register --agent cursor --command 'uvx skillcrate'
    """
    from .agents.hookfiles import default_agents, resolve_agents
    from .agents.hookfiles import register as run

    names = resolve_agents(list(agent_names)) if agent_names else default_agents(app.project)
    _print_register(app, run(app.project, names, launcher), as_json)


@cli.command(context_settings=CONTEXT)
@click.option(
    "--agent",
    "agent_names",
    multiple=True,
    type=AGENT_CHOICES,
    help="Agent to unregister (repeatable; default: all).",
)
@json_option
@pass_app
def unregister(app: App, agent_names: tuple[str, ...], as_json: bool) -> None:
    """Remove skillcrate's session-start hooks, leaving every other hook as it was.

    \b
    Examples:
      skillcrate unregister
      skillcrate unregister --agent cursor
    """
    from .agents.hookfiles import resolve_agents
    from .agents.hookfiles import unregister as run

    names = resolve_agents(list(agent_names)) if agent_names else list(AGENTS)
    _print_register(app, run(app.project, names), as_json)


@cli.command(context_settings=CONTEXT)
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check the project, installed skills, agent hooks and registries; explain fixes.

    Exit 1 when something needs fixing. Credentials are never printed.

    \b
    Examples:
      skillcrate doctor
      skillcrate doctor --json
    """
    from .doctor import diagnose

    checks = diagnose(_project(app))
    if as_json:
        app.json([c.to_json() for c in checks])
    else:
        marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
        for c in checks:
            app.out(f"[{marks[c.status]}] {c.area}: {c.subject}: {c.detail}")
            if c.fix and c.status != "ok":
                app.out(f"       fix: {c.fix}")
    if any(c.status == "fail" for c in checks):
        sys.exit(1)


def _render_error(exc: SkillcrateError, verbose: int) -> None:
    from .text import inert

    click.echo(f"error: {inert(exc.message)}", err=True)
    if verbose:
        cause = exc.__cause__
        while cause is not None:
            click.echo(f"  caused by: {inert(str(cause))}", err=True)
            cause = cause.__cause__
    for hint in exc.hints():
        click.echo(f"hint: {inert(hint)}", err=True)


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and map errors to exit codes in one place."""
    args = sys.argv[1:] if argv is None else argv
    verbose = sum(a.count("v") for a in args if a.startswith("-") and set(a[1:]) == {"v"})
    try:
        cli.main(args=args, prog_name="skillcrate", standalone_mode=False)
    except SkillcrateError as exc:
        _render_error(exc, verbose)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else 1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        os._exit(1)
    except OSError as exc:  # read-only project, full disk: name the path and the cause
        from .text import inert

        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {inert(where)}{exc.strerror or exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # an internal error: still one line, -v for the traceback
        if verbose:
            raise
        click.echo(f"error: internal error: {exc.__class__.__name__}: {exc}", err=True)
        click.echo("hint: run again with -v for a traceback, and report it", err=True)
        sys.exit(1)
    sys.exit(0)
