"""The no-op check every agent session start runs: stdlib only.

``install`` is a no-op when skills.json and skills.lock.json are byte-identical to what
the last install saw (their joint digest is in the install state, which lives outside
the project: :mod:`skillcrate.state`), every folder on the way to an installed path is a
real folder (not a symlink), every installed folder still ``lstat``s as recorded
(:func:`skillcrate.tree.scan_stat`) and every link still has its recorded target. This
reads two small project files and one state file, and ``lstat``s the installed tree: no
network, no YAML, no registry code, no hashing of skill files.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from .installer.state import InstallState, read_state
from .skill.tree import scan_stat

MANIFEST_NAME = "skills.json"  # the one place these file names are spelled
LOCK_NAME = "skills.lock.json"


def inputs_digest(manifest_bytes: bytes, lock_bytes: bytes) -> str:
    """What the install state is keyed by: skills.json and skills.lock.json together."""
    return "sha256:" + hashlib.sha256(manifest_bytes + b"\n\x00\n" + lock_bytes).hexdigest()


def read_inputs_digest(root: Path) -> str | None:
    try:
        return inputs_digest((root / MANIFEST_NAME).read_bytes(), (root / LOCK_NAME).read_bytes())
    except OSError:
        return None


def is_up_to_date(root: Path) -> bool:
    """True when ``install`` has nothing to do in ``root`` (see the module docstring)."""
    root = Path(os.path.realpath(root))
    digest = read_inputs_digest(root)
    if digest is None:
        return False
    state = read_state(root)
    return state is not None and state.inputs == digest and artifacts_fresh(root, state)


def artifacts_fresh(root: Path, state: InstallState) -> bool:
    """Whether every artifact of ``state`` is still in ``root`` as recorded (``lstat`` only)."""
    real_dirs: set[str] = set()
    try:
        for rel, art in state.artifacts.items():
            parts = rel.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in real_dirs:
                    if not stat.S_ISDIR(os.lstat(os.path.join(root, parent)).st_mode):
                        return False  # a symlink (or file) on the way
                    real_dirs.add(parent)
            full = os.path.join(root, rel)
            if art.link is not None:
                if os.readlink(full) != art.link or not os.path.isdir(full):
                    return False
            elif scan_stat(full) != art.stat:
                return False
    except (OSError, ValueError):
        return False
    return True
