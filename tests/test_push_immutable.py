"""A published version is immutable: push refuses to move its tag to other content."""

from __future__ import annotations

from pathlib import Path

from skillcrate.oci.layout import LayoutRepository

from helpers import make_skill, run_cli


def skill(tmp_path: Path, body: str, version: str | None = None) -> Path:
    return make_skill(
        tmp_path / f"src-{body}" / "review",
        "review",
        "Review skill.",
        files={"references/notes.md": body + "\n"},
        version=version,
    )


def test_pushing_other_content_under_a_published_version_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "store" / "review"
    first = run_cli("push", str(skill(tmp_path, "one")), f"oci:{store}:1.0.0")
    assert first.returncode == 0, first.stderr
    before = LayoutRepository(store).resolve("1.0.0").digest

    again = run_cli("push", str(skill(tmp_path, "one")), f"oci:{store}:1.0.0")
    assert again.returncode == 0, again.stderr  # the same content: fine

    other = run_cli("push", str(skill(tmp_path, "two")), f"oci:{store}:1.0.0")
    assert other.returncode == 1
    assert "already holds other content" in other.stderr and "--force" in other.stderr
    assert LayoutRepository(store).resolve("1.0.0").digest == before

    forced = run_cli("push", str(skill(tmp_path, "two")), f"oci:{store}:1.0.0", "--force")
    assert forced.returncode == 0, forced.stderr
    assert LayoutRepository(store).resolve("1.0.0").digest != before


def test_a_tag_that_contradicts_metadata_version_is_warned_about(tmp_path: Path) -> None:
    store = tmp_path / "store" / "review"
    folder = skill(tmp_path, "one", version="1.1.0")
    done = run_cli("push", str(folder), f"oci:{store}:1.2.0")
    assert done.returncode == 0
    assert "metadata.version is 1.1.0" in done.stderr
