"""The managed block of the project's ``.gitignore``: installed folders, links, temporary names.

The rest of the file is kept byte for byte. Written through the project boundary."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path

from ..boundary import SKILLS_DIR, TEMP_PREFIX, Boundary
from ..errors import ProjectError

GITIGNORE_NAME = ".gitignore"
"""The file in the project's top folder that holds the managed block."""

GITIGNORE_START = "# >>> skillcrate managed (do not edit) >>>"


GITIGNORE_END = "# <<< skillcrate managed <<<"


TEMP_PATTERN = f"{TEMP_PREFIX}*"
"""The .gitignore pattern (unanchored) for skillcrate's temporary names anywhere."""


_GLOB_ESCAPES = str.maketrans({c: "\\" + c for c in "\\*?["})


def _escape_pattern(rel: str) -> str:
    """A path as a literal gitignore pattern: glob characters and a trailing space escaped."""
    out = rel.translate(_GLOB_ESCAPES)
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def update_gitignore(
    boundary: Boundary, paths: Mapping[str, bool], *, keep_block: bool = False
) -> bool:
    """Rewrite the managed block of ``.gitignore`` to list ``paths``; True if changed.

    ``paths`` maps each path skillcrate just made to whether it is a real folder (what
    the caller wrote, so nothing is ``lstat``-ed again). Each path becomes an anchored,
    escaped pattern: ``/.agents/skills/review/`` for a real folder, no trailing slash for
    anything else (git never matches a symlink with a ``dir/`` pattern). Whenever the
    block is present it also ignores skillcrate's temporary names (:data:`TEMP_PATTERN`).
    Entries are sorted and deduplicated; ``.agents/skills`` itself is never listed. The
    rest of the file is kept byte for byte (its line endings and a missing final newline
    too). With no paths (and not
    ``keep_block``) the block is removed, and a file left empty is deleted.
    """
    st = boundary.lstat(GITIGNORE_NAME)
    raw = None
    if st is not None and stat.S_ISREG(st.st_mode):
        raw = boundary.path(GITIGNORE_NAME).read_bytes()
    text = raw.decode("utf-8", "surrogateescape") if raw is not None else ""
    patterns = _gitignore_patterns(paths)
    if keep_block or patterns:
        patterns = sorted({*patterns, TEMP_PATTERN})
    new_text = _render_gitignore(text, patterns, boundary.root / GITIGNORE_NAME)
    if raw is not None and new_text == text:
        return False
    if raw is None and not new_text:
        return False
    if not new_text:
        boundary.remove(GITIGNORE_NAME)
        return True
    boundary.write_file(GITIGNORE_NAME, new_text.encode("utf-8", "surrogateescape"))
    return True


def _gitignore_patterns(paths: Mapping[str, bool]) -> list[str]:
    from ..boundary import check_relpath

    patterns: set[str] = set()
    for path, is_dir in paths.items():
        rel = check_relpath(path)
        if rel == SKILLS_DIR:
            continue
        escaped = _escape_pattern(rel)
        patterns.add(f"/{escaped}/" if is_dir else f"/{escaped}")
    return sorted(patterns)


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` kept (``\\r`` stays part of the line); only ``\\n`` splits."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _render_gitignore(text: str, patterns: list[str], path: Path) -> str:
    """``text`` with its managed block replaced by one listing ``patterns`` (or removed)."""
    lines = _split_lines(text)
    eol = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    start = end = None
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if start is None and bare == GITIGNORE_START:
            start = i
        elif start is not None and bare == GITIGNORE_END:
            end = i
            break
    if start is not None and end is None:
        raise ProjectError(f"{path}: skillcrate block start marker has no end marker")
    block = [GITIGNORE_START, *patterns, GITIGNORE_END] if patterns else []
    if start is None or end is None:
        if not block:
            return text
        prefix = text
        if prefix and not prefix.endswith("\n"):
            # No final newline: separate, and let the block inherit the missing newline.
            return prefix + eol + eol.join(block)
        return prefix + "".join(line + eol for line in block)
    prefix = "".join(lines[:start])
    suffix = "".join(lines[end + 1 :])
    had_final_newline = lines[end].endswith("\n")
    if not block:
        if not suffix and not had_final_newline:
            if prefix.endswith("\r\n"):
                prefix = prefix[:-2]
            elif prefix.endswith("\n"):
                prefix = prefix[:-1]
        return prefix + suffix
    rendered = "".join(line + eol for line in block)
    if not suffix and not had_final_newline:
        rendered = rendered[: -len(eol)]
    return prefix + rendered + suffix
