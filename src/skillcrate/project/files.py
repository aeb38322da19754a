"""Find the project folder: -C, else the nearest ancestor holding skills.json, else cwd."""

from __future__ import annotations

from pathlib import Path

from ..fastpath import LOCK_NAME, MANIFEST_NAME, find_project_root

__all__ = ["LOCK_NAME", "MANIFEST_NAME", "find_project"]


def find_project(explicit: Path | None = None, start: Path | None = None) -> Path:
    if explicit is not None:
        return Path(explicit).absolute()
    return Path(find_project_root(str(start) if start is not None else str(Path.cwd())))
