"""The no-op check every agent session start runs: stdlib and ``install`` only.

``install`` is a no-op when skills.json and skills.lock.json are byte-identical
to what the last install saw (their joint digest is recorded in the install
state) and every installed file still has the recorded size, mtime and mode.
This reads two small files and ``lstat``s the installed tree: no network, no
YAML, no registry code, no hashing of skill files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .install import read_state, state_is_fresh
from .project_dir import LOCK_NAME, MANIFEST_NAME


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
    digest = read_inputs_digest(root)
    if digest is None:
        return False
    state = read_state(root)
    return state is not None and state_is_fresh(root, state, digest)
