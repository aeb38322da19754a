"""Publishing commands: validate, pack, push, pull, inspect, versions, promote,
collection push, attach, discover.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..states import PUSH_STATES, STATES
from . import CONTEXT, App, cli, pass_app
from .options import _manifest_ref, format_option, json_option, parse_ref, skill_name_option

if TYPE_CHECKING:
    from ..oci import Target
    from ..reference import Reference


@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path), default=".")
@click.option(
    "--strict",
    is_flag=True,
    help="Front-matter fields outside the spec's six are errors (as in skills-ref).",
)
@json_option
@pass_app
def validate(app: App, path: Path, strict: bool, as_json: bool) -> None:
    """Check a skill folder against the Agent Skills rules.

    Lists every problem with its file, field and a fix. Exit 1 on any error
    (warnings alone exit 0). A skills.json in the folder declares the skills
    this one needs; it is checked too.

    \b
    Examples:
      skillcrate validate examples/hello-world
      skillcrate validate ./my-skill --json
      skillcrate validate ./my-skill --strict   # unknown fields are errors
    """
    from ..skill.rules import validate as run

    problems = run(path, strict=strict)
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

    The same folder gives the same content-layer digest on every run with the same
    skillcrate and zlib (sorted entries, zeroed times and owners, normalised modes,
    gzip level 9, gzip mtime 0); another deflate build (zlib-ng) compresses
    differently. The tree digest, printed too, depends on the files alone: it is
    what an install of the skill records in skills.lock.json. The manifest digest
    also changes with the creation time unless SOURCE_DATE_EPOCH is set. The
    skills a skills.json in the folder declares are recorded in the manifest
    (io.skillcrate.dependencies) and printed.

    \b
    Examples:
      skillcrate pack examples/hello-world
      skillcrate pack ./my-skill --format image -o my-skill.tar.gz
    """
    from .._fs import atomic_copy, atomic_write
    from ..formats import pack as run

    packed = run(path, fmt, tag=tag, annotations=_parse_annotations(annotations))
    for warning in packed.warnings:
        app.info(f"warning: {warning}")
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
        "tree": packed.tree,
        "dependencies": [d.to_json() for d in packed.dependencies],
    }
    if as_json:
        app.json(data)
        return
    app.out(f"{packed.name} {packed.version or ''}".rstrip() + f" ({packed.format})")
    app.out(f"  manifest {packed.digest}")
    app.out(f"  config   {packed.config.digest}")
    app.out(f"  layer    {layer.digest} ({layer.size} bytes)")
    app.out(f"  tree     {packed.tree}")
    for dep in packed.dependencies:
        app.out(f"  needs    {dep.name} {dep.version or '*'} from {dep.source}")
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
@click.option(
    "--force",
    is_flag=True,
    help="Move a version tag that already names other content (versions are immutable).",
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
    force: bool,
    as_json: bool,
) -> None:
    """Validate, pack and push a skill to a registry or an OCI layout.

    REF's tag is the version; without one the skill's metadata.version is used.
    A version that is already published with other content is refused (npm's
    rule): publish a new version, or --force to move the tag.
    The manifest records the lifecycle state in io.skillimage.status (as skillctl
    does); move it on with `skillcrate promote`.

    \b
    Examples:
      skillcrate push examples/hello-world ghcr.io/acme/skills/hello-world:1.0.0
      skillcrate push ./review oci:./registry/review:1.2.0 --format acr
      skillcrate push ./review localhost:5000/review:1.3.0 --status draft
      skillcrate push ./review localhost:5000/review:1.2.0 --annotation team=platform
      skillcrate push ./review localhost:5000/review:1.2.0 --force   # move a published version
    """
    from ..formats import pack as run
    from ..publish.push import push_skill
    from ..states import base_version

    reference = parse_ref(ref)
    if reference.digest:
        raise click.BadParameter("push to a tag, not a digest", param_hint="REF")
    version_tag = base_version(reference.tag) if reference.tag else None
    packed = run(
        path, fmt, tag=version_tag, annotations=_parse_annotations(annotations), status=status
    )
    for warning in packed.warnings:
        app.info(f"warning: {warning}")
    version_tag = version_tag or packed.version
    if not version_tag:
        raise click.BadParameter(
            "REF has no tag and the skill has no metadata.version; add :<version>", param_hint="REF"
        )
    app.progress(
        f"pushing {packed.name} {version_tag} ({status}) to {reference.with_tag(None)} ..."
    )
    declared = packed.declared_version
    if declared and reference.tag and declared != version_tag:
        app.info(
            f"warning: the tag says {version_tag}, but SKILL.md's metadata.version is {declared}"
        )
    desc, tags = push_skill(
        app.target(reference),
        packed,
        version_tag,
        status=status,
        extra_tags=extra_tags,
        force=force,
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
@skill_name_option("Skill to take from a collection.")
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
    from ..publish.push import pull_to

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
    from ..project.files import MANIFEST_NAME
    from ..project.manifest import load_manifest
    from ..trust.rules import rule_for

    path = app.project / MANIFEST_NAME
    if not path.is_file():
        return reference
    rules = load_manifest(path).trust
    rule = rule_for(rules, reference.name) if rules else None
    if rule is None:
        return reference
    from ..trust.policy import check, refusal

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
    from ..fetch import inspect as run

    reference = parse_ref(ref, default_tag="latest")
    from ..states import status_of

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
        from ..text import one_line

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
        from ..text import one_line

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
    from ..versions import sort_tags

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
    from ..publish.promote import promote as run

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
    from ..publish.collection import push_collection

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
    from ..oci.referrers import attach_file

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
    from ..oci.referrers import discover as run

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
