"""Which files packing skips: built-in rules plus a ``.skillignore`` (gitignore syntax)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BUILTIN = (".git/", ".DS_Store", "__pycache__/", "*.pyc", ".skillignore")


@dataclass(frozen=True)
class _Rule:
    """One ``.skillignore`` pattern, compiled."""

    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """gitignore glob → regex over a relative POSIX path."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i : i + 3] == "**/":
                out.append("(?:.*/)?")
                i += 3
                continue
            if pattern[i : i + 2] == "**":
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                cls = pattern[i + 1 : j].replace("\\", "\\\\")
                if cls.startswith("!"):
                    cls = "^" + cls[1:]
                out.append(f"[{cls}]")
                i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    prefix = "^" if anchored else "^(?:.*/)?"
    return prefix + body + "$"


class IgnoreRules:
    def __init__(self, patterns: list[str]) -> None:
        self.rules: list[_Rule] = []
        for raw in patterns:
            line = raw.rstrip("\n").rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            if not line:
                continue
            self.rules.append(_Rule(re.compile(_translate(line)), negate, dir_only))

    @classmethod
    def for_folder(cls, folder: Path) -> IgnoreRules:
        patterns = list(BUILTIN)
        f = folder / ".skillignore"
        if f.is_file():
            patterns += f.read_text("utf-8").splitlines()
        return cls(patterns)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.regex.match(rel):
                result = not rule.negate
        return result
