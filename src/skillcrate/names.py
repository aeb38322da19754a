"""The skill-name and tag rules, in one place (formats.md §1, the OCI distribution spec).

A skill name is 1-64 characters of lowercase letters, digits and single hyphens, not
starting or ending with a hyphen: ``^[a-z0-9]+(-[a-z0-9]+)*$``. It is the folder name
under ``.agents/skills/`` and in every link folder, so it is also a path component:
the rule keeps it to one visible component with no separators, dots or controls.

Stdlib only (the no-op path reads skill names from the install state).
"""

from __future__ import annotations

import re

from ._json import json_type
from .errors import UnsafePath

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
NAME_MAX = 64

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
"""An OCI tag (distribution-spec): also what is accepted from a registry's tag list."""

WRITE_FORMATS = ("agentskills", "acr", "image")
"""The artifact formats ``pack``/``push`` write (docs/formats.md); all of them are read."""

SIGNATURE_FORMATS = ("bundle", "legacy", "both")
"""How ``sign`` stores a signature: a Sigstore bundle referrer, cosign's tag, or both."""


def is_name(value: object) -> bool:
    """Whether ``value`` is a valid skill name."""
    return isinstance(value, str) and len(value) <= NAME_MAX and bool(NAME_RE.match(value))


def name_problem(value: object) -> str | None:
    """Why ``value`` is not a valid skill name, or None."""
    if not isinstance(value, str):
        return f"must be a string, not {json_type(value)}"
    if not is_name(value):
        return (
            f"{value!r} is not a valid skill name "
            f"(lowercase letters, digits and single hyphens, 1-{NAME_MAX} characters)"
        )
    return None


def check_name(value: str) -> str:
    """``value`` if it is a valid skill name; UnsafePath otherwise (it becomes a path)."""
    if not is_name(value):
        raise UnsafePath(f"unsafe skill name {value!r}: {name_problem(value)}")
    return value
