"""Signing commands: keygen, sign, attest."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..names import SIGNATURE_FORMATS
from . import CONTEXT, App, cli, pass_app
from .options import _manifest_ref, json_option, parse_ref, private_key_option

if TYPE_CHECKING:
    from ..trust.signing.keys import PrivateKey


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


def _private_key(path: Path) -> PrivateKey:
    from ..trust.signing.keys import load_private_key

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
    from ..trust.signing.keys import write_key_pair

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
    from ..trust.signing.store import sign_manifest

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
    from ..trust.signing.store import attest as run

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
