"""What importing the package costs: every command pays it before it does anything.

A dataclass without a docstring makes Python 3.11 build one from ``inspect.signature`` of
the class as it is created: 17 such calls cost 0.9 ms of importing the CLI and the install
code (of ~50 dataclasses created there), so every dataclass in the package has a docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "skillcrate"


def _is_dataclass(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "dataclass":
            return True
    return False


def test_every_dataclass_has_a_docstring() -> None:
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and _is_dataclass(node):
                if ast.get_docstring(node) is None:
                    missing.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert missing == [], "dataclasses without a docstring: " + ", ".join(missing)


def test_the_check_sees_dataclasses_in_every_spelling() -> None:
    """Control: the check finds ``@dataclass``, ``@dataclass(...)`` and
    ``@dataclasses.dataclass(...)``, and only those."""
    source = (
        "import dataclasses\nfrom dataclasses import dataclass\n"
        "@dataclass\nclass A:\n    x: int\n"
        "@dataclass(frozen=True)\nclass B:\n    x: int\n"
        "@dataclasses.dataclass(eq=False)\nclass C:\n    x: int\n"
        "@staticmethod\nclass D:\n    x: int\n"
    )
    found = [
        node.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef) and _is_dataclass(node)
    ]
    assert found == ["A", "B", "C"]
