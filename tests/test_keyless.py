"""Keyless trust rules: Sigstore bundles with Fulcio-like certificates, verified offline.

The material comes from ``keyless_fixtures.FakeSigstore`` (own CA, CT log and Rekor
keys, written as a trusted_root.json); sigstore-python verifies it completely
(chain, SCT, tlog inclusion proof + checkpoint + SET, DSSE). Bundles are pushed as
referrers to the real Distribution registry (found through the fallback index) and
to an ``oci:`` layout, so discovery is exercised too. No network: every outbound
connection except to 127.0.0.1 fails the test.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sigstore")

from keyless_fixtures import GITHUB_ISSUER, FakeSigstore  # noqa: E402

import skillcrate.trust.keyless as keyless_mod  # noqa: E402
from skillcrate.errors import SigningError  # noqa: E402
from skillcrate.oci import open_target  # noqa: E402
from skillcrate.oci.model import OCI_MANIFEST, Descriptor
from skillcrate.oci.target import Target
from skillcrate.reference import Reference  # noqa: E402
from skillcrate.trust.keyless import (
    certificate_identities,
    certificate_issuers,
    load_trusted_root,
    verify_keyless,
)
from skillcrate.trust.policy import check  # noqa: E402
from skillcrate.trust.rules import Keyless, TrustRule  # noqa: E402
from skillcrate.trust.signing.bundle import COSIGN_SIGN_PREDICATE, statement  # noqa: E402
from skillcrate.trust.signing.keys import generate_key_pair  # noqa: E402
from skillcrate.trust.signing.store import attach_bundle, sign_manifest  # noqa: E402

from helpers import push_subject  # noqa: E402

WORKFLOW = "https://github.com/acme/repo/.github/workflows/release.yml@refs/heads/main"
GITLAB = "https://gitlab.com"
EXACT = Keyless(GITHUB_ISSUER, identity=WORKFLOW)
REGEXP = Keyless(GITHUB_ISSUER, identity_regexp=r"^https://github\.com/acme/")
LABEL = f"{WORKFLOW} ({GITHUB_ISSUER})"


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection that is not to the loopback registry."""
    real = socket.socket.connect

    def connect(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost") and self.family != socket.AF_UNIX:
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


@pytest.fixture(scope="module")
def sigstore_fake() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="module")
def root_file(sigstore_fake: FakeSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sigstore_fake.write_trusted_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture(params=["distribution", "layout"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "layout":
        return open_target(Reference.parse(f"oci:{tmp_path / 'layout'}"))
    server = request.getfixturevalue("registry")
    repo = request.getfixturevalue("repo_name")
    return open_target(Reference.parse(f"{server.host}/{repo}"))


@pytest.fixture
def layout(tmp_path: Path) -> Target:
    return open_target(Reference.parse(f"oci:{tmp_path / 'layout'}"))


def sign_statement(digest: str, predicate_type: str = COSIGN_SIGN_PREDICATE) -> bytes:
    return statement("registry.internal/team/skill", digest, predicate_type, {})


def keyless_sign(
    fake: FakeSigstore,
    target: Target,
    subject: Descriptor,
    identity: str = WORKFLOW,
    issuer: str | None = GITHUB_ISSUER,
    *,
    digest: str | None = None,
    predicate_type: str = COSIGN_SIGN_PREDICATE,
    **options: object,
) -> None:
    stmt = sign_statement(digest or subject.digest, predicate_type)
    attach_bundle(target, subject, fake.bundle(stmt, identity, issuer, **options))  # type: ignore[arg-type]


def run(
    target: Target, subject: Descriptor, rule: Keyless, root: Path | None
) -> tuple[str | None, list[str]]:
    problems: list[str] = []
    return verify_keyless(target, subject, rule, problems=problems, trusted_root=root), problems


# --------------------------------------------------------------------------- passing


@pytest.mark.parametrize("rule", [EXACT, REGEXP], ids=["identity", "identityRegexp"])
def test_matching_identity_verifies(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path, rule: Keyless
) -> None:
    subject = push_subject(target)
    keyless_sign(sigstore_fake, target, subject)
    label, problems = run(target, subject, rule, root_file)
    assert label == LABEL, problems


def test_identity_and_regexp_together_must_both_match(
    layout: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject)
    both = Keyless(GITHUB_ISSUER, identity=WORKFLOW, identity_regexp="^https://github.com/acme/")
    assert run(layout, subject, both, root_file)[0] == LABEL
    clash = Keyless(GITHUB_ISSUER, identity=WORKFLOW, identity_regexp="^https://github.com/evil/")
    label, problems = run(layout, subject, clash, root_file)
    assert label is None
    assert "does not match = " in problems[-1] and "~ ^https://github.com/evil/" in problems[-1]


def test_email_identity(layout: Target, sigstore_fake: FakeSigstore, root_file: Path) -> None:
    subject = push_subject(layout)
    keyless_sign(
        sigstore_fake,
        layout,
        subject,
        "dev@acme.example",
        "https://accounts.google.com",
        email=True,
    )
    rule = Keyless("https://accounts.google.com", identity="dev@acme.example")
    assert (
        run(layout, subject, rule, root_file)[0] == "dev@acme.example (https://accounts.google.com)"
    )


def test_regexp_is_unanchored_search(
    layout: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject)
    assert run(layout, subject, Keyless(GITHUB_ISSUER, identity_regexp="acme/repo"), root_file)[0]
    label, _ = run(layout, subject, Keyless(GITHUB_ISSUER, identity_regexp="^acme/repo"), root_file)
    assert label is None


@pytest.mark.parametrize("legacy", [True, False], ids=["only-1.1", "only-1.8"])
def test_either_issuer_extension_is_enough(
    layout: Target, sigstore_fake: FakeSigstore, root_file: Path, legacy: bool
) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject, legacy_issuer=legacy, v2_issuer=not legacy)
    label, problems = run(layout, subject, EXACT, root_file)
    assert label == LABEL, problems


def test_first_good_bundle_wins_after_bad_ones(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(target)
    keyless_sign(
        sigstore_fake,
        target,
        subject,
        "https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main",
    )
    sign_manifest(target, subject, generate_key_pair(), target.describe())
    keyless_sign(sigstore_fake, target, subject)
    label, problems = run(target, subject, REGEXP, root_file)
    assert label == LABEL  # whatever order the referrers are listed in
    assert all("does not match" in p or "signed with a key" in p for p in problems), problems


# --------------------------------------------------------------------------- failing


def _fails(target: Target, subject: Descriptor, rule: Keyless, root: Path | None) -> str:
    label, problems = run(target, subject, rule, root)
    assert label is None
    assert problems, "a failure must say why"
    return " | ".join(problems)


def test_wrong_issuer(target: Target, sigstore_fake: FakeSigstore, root_file: Path) -> None:
    subject = push_subject(target)
    keyless_sign(sigstore_fake, target, subject, WORKFLOW, GITLAB)
    reason = _fails(target, subject, EXACT, root_file)
    assert f"issued for {GITLAB}, not {GITHUB_ISSUER}" in reason


def test_no_issuer_extension(layout: Target, sigstore_fake: FakeSigstore, root_file: Path) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject, WORKFLOW, None)
    assert "names no OIDC issuer" in _fails(layout, subject, EXACT, root_file)


@pytest.mark.parametrize("rule", [EXACT, REGEXP], ids=["identity", "identityRegexp"])
def test_wrong_identity(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path, rule: Keyless
) -> None:
    subject = push_subject(target)
    other = "https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main"
    keyless_sign(sigstore_fake, target, subject, other)
    reason = _fails(target, subject, rule, root_file)
    assert f"identity {other} does not match" in reason


def test_statement_for_another_digest(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(target)
    other = push_subject(target, b"other skill", "2.0.0")
    keyless_sign(sigstore_fake, target, subject, digest=other.digest)
    reason = _fails(target, subject, EXACT, root_file)
    assert f"about {other.digest}, not {subject.digest}" in reason


@pytest.mark.parametrize("tamper", ["signature", "payload"])
def test_tampered_envelope(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path, tamper: str
) -> None:
    subject = push_subject(target)
    keyless_sign(sigstore_fake, target, subject, tamper=tamper)
    assert "DSSE" in _fails(target, subject, EXACT, root_file)


def test_certificate_from_a_ca_not_in_the_root(
    target: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(target)
    keyless_sign(sigstore_fake, target, subject, ca=FakeSigstore(name="rogue"))
    assert "certificate chain" in _fails(target, subject, EXACT, root_file)


def test_certificate_without_sct(
    layout: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject, sct=False)
    assert "SCT" in _fails(layout, subject, EXACT, root_file)


def test_bundle_from_another_instance(layout: Target, root_file: Path) -> None:
    """A complete bundle of another Sigstore instance: nothing in it is trusted."""
    subject = push_subject(layout)
    keyless_sign(FakeSigstore(name="elsewhere"), layout, subject)
    assert "certificate chain" in _fails(layout, subject, EXACT, root_file)


def test_tampered_log_entry(layout: Target, sigstore_fake: FakeSigstore, root_file: Path) -> None:
    subject = push_subject(layout)
    bundle = json.loads(sigstore_fake.bundle(sign_statement(subject.digest), WORKFLOW))
    entry = bundle["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 60)
    attach_bundle(layout, subject, json.dumps(bundle).encode())
    assert "inclusion promise" in _fails(layout, subject, EXACT, root_file)


def test_attestation_is_not_a_signature(
    layout: Target, sigstore_fake: FakeSigstore, root_file: Path
) -> None:
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject, predicate_type="https://slsa.dev/provenance/v1")
    assert "an attestation" in _fails(layout, subject, EXACT, root_file)


def test_key_based_bundle_is_not_keyless(target: Target, root_file: Path) -> None:
    subject = push_subject(target)
    sign_manifest(target, subject, generate_key_pair(), target.describe(), fmt="both")
    reason = _fails(target, subject, EXACT, root_file)
    assert "signed with a key, not a keyless certificate" in reason
    assert ".sig signature" in reason


def test_unsigned(target: Target, root_file: Path) -> None:
    subject = push_subject(target)
    assert run(target, subject, EXACT, root_file) == (None, [])


def test_garbage_bundle(layout: Target, root_file: Path) -> None:
    subject = push_subject(layout)
    attach_bundle(
        layout, subject, b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}'
    )
    assert "malformed Sigstore bundle: verificationMaterial: Field required" in _fails(
        layout, subject, EXACT, root_file
    )


# ------------------------------------------------------------------------ trusted root


def test_default_is_the_embedded_production_root_offline(
    layout: Target, sigstore_fake: FakeSigstore
) -> None:
    root = load_trusted_root()
    assert root.get_fulcio_certs()
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject)
    assert "certificate chain" in _fails(layout, subject, EXACT, None)


def test_unusable_trusted_root_is_a_policy_error(layout: Target, tmp_path: Path) -> None:
    subject = push_subject(layout)
    with pytest.raises(SigningError, match="cannot read trusted root"):
        verify_keyless(layout, subject, EXACT, trusted_root=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"mediaType": "nope"}')
    with pytest.raises(SigningError, match="not a Sigstore trusted root"):
        verify_keyless(layout, subject, EXACT, trusted_root=bad)


def test_certificate_helpers(sigstore_fake: FakeSigstore) -> None:
    leaf = sigstore_fake.issue("a@b.example", "https://issuer.example", email=True)
    assert certificate_identities(leaf.cert) == ["a@b.example"]
    assert certificate_issuers(leaf.cert) == ["https://issuer.example"] * 2


# ---------------------------------------------------------------------------- policy


def test_policy_check_uses_keyless(
    monkeypatch: pytest.MonkeyPatch,
    target: Target,
    sigstore_fake: FakeSigstore,
    root_file: Path,
    tmp_path: Path,
) -> None:
    """policy.check (which passes no trusted root yet) with the default root pinned."""
    monkeypatch.setattr(keyless_mod, "_production_root", lambda: load_trusted_root(root_file))
    subject = push_subject(target)
    rule = TrustRule("*", "enforce", (), REGEXP)
    result = check(target, subject, rule, tmp_path)
    assert not result.ok and result.reason() == "no signature found"
    keyless_sign(sigstore_fake, target, subject)
    result = check(target, subject, rule, tmp_path)
    assert result.ok, result.problems
    assert (result.signed_by, result.kind) == (LABEL, "keyless")


def test_policy_check_reports_keyless_failures(
    monkeypatch: pytest.MonkeyPatch,
    layout: Target,
    sigstore_fake: FakeSigstore,
    root_file: Path,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(keyless_mod, "_production_root", lambda: load_trusted_root(root_file))
    subject = push_subject(layout)
    keyless_sign(sigstore_fake, layout, subject, WORKFLOW, GITLAB)
    result = check(layout, subject, TrustRule("*", "warn", (), EXACT), tmp_path)
    assert not result.ok
    assert f"issued for {GITLAB}" in result.reason()


def test_without_sigstore_import_fails_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m == "sigstore" or m.startswith("sigstore.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sigstore", None)
    monkeypatch.delitem(sys.modules, "skillcrate.trust.keyless")
    with pytest.raises(ImportError, match=r"skillcrate\[sigstore\]"):
        importlib.import_module("skillcrate.trust.keyless")
    monkeypatch.delitem(sys.modules, "skillcrate.trust.keyless", raising=False)
    rule = TrustRule("registry.internal/team/*", "enforce", (), EXACT)
    with pytest.raises(SigningError) as info:
        check(None, Descriptor(OCI_MANIFEST, "sha256:" + "0" * 64, 1), rule, tmp_path)  # type: ignore[arg-type]
    assert "needs the sigstore extra" in str(info.value)
    assert any("skillcrate[sigstore]" in h for h in info.value.hints())


def test_too_old_sigstore_is_like_a_missing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import sigstore

    monkeypatch.setattr(sigstore, "__version__", "3.6.1")
    monkeypatch.delitem(sys.modules, "skillcrate.trust.keyless")
    with pytest.raises(ImportError, match=r"sigstore 3\.6\.1 is too old"):
        importlib.import_module("skillcrate.trust.keyless")


# ------------------------------------------------------------------------ end to end


def test_keyless_rule_in_skills_json_end_to_end(
    registry: object, repo_name: str, sigstore_fake: FakeSigstore, tmp_path: Path
) -> None:
    """skills.json's keyless rule with a project-relative trustedRoot: the real CLI adds a
    keyless-signed skill (signedBy = identity), and refuses one signed by someone else."""
    from helpers import make_skill, run_cli

    host = registry.host  # type: ignore[attr-defined]
    proj = tmp_path / "proj"
    sigstore_fake.write_trusted_root(_mkdir(proj / "sigstore") / "trusted_root.json")
    rule = {
        "mode": "enforce",
        "keyless": {
            "issuer": GITHUB_ISSUER,
            "identityRegexp": r"^https://github\.com/acme/",
            "trustedRoot": "sigstore/trusted_root.json",
        },
    }
    (proj / "skills.json").write_text(json.dumps({"skills": [], "trust": {f"{host}/*": rule}}))
    for name, identity in (
        ("signed-skill", WORKFLOW),
        ("other-skill", "https://github.com/evil/x"),
    ):
        folder = make_skill(tmp_path / "src", name, version="1.0.0")
        ref = f"{host}/{repo_name}/{name}:1.0.0"
        assert run_cli("push", str(folder), ref).returncode == 0
        target = open_target(Reference.parse(ref))
        keyless_sign(sigstore_fake, target, target.resolve("1.0.0"), identity)
    ok = run_cli("add", f"{host}/{repo_name}/signed-skill", cwd=proj)
    assert ok.returncode == 0, ok.stderr
    lock = json.loads((proj / "skills.lock.json").read_text())
    assert lock["skills"][0]["signedBy"] == LABEL
    before = (proj / "skills.json").read_bytes()
    bad = run_cli("add", f"{host}/{repo_name}/other-skill", cwd=proj)
    assert bad.returncode == 1 and "not signed as trust policy" in bad.stderr
    assert (proj / "skills.json").read_bytes() == before
    assert not (proj / ".agents/skills/other-skill").exists()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
