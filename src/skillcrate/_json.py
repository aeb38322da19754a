"""Parsing JSON that came from outside: one place for the failure modes.

``json.loads`` raises ``ValueError`` for bad syntax and ``RecursionError`` for
deeply nested input (a few thousand ``[``); both become the caller's error class
with a one-line message naming ``where``. Sizes are bounded by the callers, which
read at most a fixed number of bytes before parsing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import FormatError, SkillcrateError


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type (object, array, string, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def text_problem(
    value: object,
    check: Callable[[str], object],
    errors: type[Exception],
    *,
    kind: str = "string",
) -> str | None:
    """Why ``value`` (parsed JSON) is not a string ``check`` accepts: ``check``'s error
    message, or that it is not a string; None when it is fine."""
    if not isinstance(value, str):
        return f"must be a {kind}, not {json_type(value)}"
    try:
        check(value)
    except errors as e:
        return str(e)
    return None


def syntax_error(exc: json.JSONDecodeError) -> tuple[int, int, str]:
    """``(line, column, message)`` for a syntax error, naming a trailing comma where it is.

    ``json`` reports a trailing comma at the ``]`` or ``}`` after it, often a line later
    (``Expecting value``); the comma itself is what to fix.
    """
    doc, pos = exc.doc, exc.pos
    before = len(doc[:pos].rstrip(" \t\r\n")) - 1
    if before >= 0 and doc[before] == "," and doc[pos : pos + 1] in ("]", "}"):
        line = doc.count("\n", 0, before) + 1
        column = before - doc.rfind("\n", 0, before)
        return line, column, f"trailing comma before `{doc[pos]}` (JSON allows none)"
    return exc.lineno, exc.colno, exc.msg


def loads(data: bytes | str, where: str, *, error: type[SkillcrateError] = FormatError) -> Any:
    """Parse ``data``; raise ``error`` (naming ``where``) for anything that is not JSON."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes | bytearray) else data
        return json.loads(text)
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        line, column, message = syntax_error(exc)
        raise error(f"{where}:{line}:{column}: invalid JSON: {message}") from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # e.g. numbers too large to parse
        raise error(f"{where}: invalid JSON: {exc}") from None


_encode_str: Callable[[str], str] = json.encoder.encode_basestring


class _NotPlain(Exception):
    """A dict key that is not a string: the value goes through ``json.dumps`` whole."""


def dumps_stable(value: object) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False) + "\\n"``, byte for byte, faster.

    ``indent`` makes ``json`` use its pure-Python encoder (a generator per value); this
    writes the same text with the C string encoder, so a lock of hundreds of skills
    is written in a few milliseconds. A value holding a dict with a key that is not a
    string goes through ``json.dumps`` whole; values other than dicts, lists, strings,
    booleans, None and ints each go through it."""
    out: list[str] = []
    add = out.append
    enc = _encode_str

    def emit(v: object, pad: str) -> None:
        if type(v) is str:
            add(enc(v))
        elif isinstance(v, dict):
            if not v:
                add("{}")
                return
            inner = pad + "  "
            add("{")
            sep = "\n" + inner
            for k, item in v.items():
                if type(k) is not str:
                    raise _NotPlain
                if type(item) is str:
                    add(sep + enc(k) + ": " + enc(item))
                else:
                    add(sep + enc(k) + ": ")
                    emit(item, inner)
                sep = ",\n" + inner
            add("\n" + pad + "}")
        elif isinstance(v, list):
            if not v:
                add("[]")
                return
            inner = pad + "  "
            add("[")
            sep = "\n" + inner
            for item in v:
                if type(item) is str:
                    add(sep + enc(item))
                else:
                    add(sep)
                    emit(item, inner)
                sep = ",\n" + inner
            add("\n" + pad + "]")
        elif isinstance(v, str):  # a str subclass
            add(enc(v))
        elif v is None or isinstance(v, bool) or type(v) is int:
            add(json.dumps(v))
        else:
            add(json.dumps(v, indent=2, ensure_ascii=False).replace("\n", "\n" + pad))

    try:
        emit(value, "")
    except _NotPlain:
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    add("\n")
    return "".join(out)
