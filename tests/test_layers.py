"""The import-layer contract, read from docs/design.md's module table.

Each table row is a layer; a module may import modules of its own row or of rows above
it, never below. Imports under ``if TYPE_CHECKING:`` do not count (annotations only).
The table must name every module of the package exactly once, so it cannot go stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "skillcrate"
DESIGN = ROOT / "docs" / "design.md"


def table_layers(text: str) -> dict[str, int]:
    """Module (dotted, below ``skillcrate``; the package itself is "") → its row number."""
    section = text.split("## Modules and data flow", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for number, row in enumerate(rows):
        first = row.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first):
            key = "" if name == "skillcrate" else name.replace("/", ".")
            assert key not in layers, f"design.md names {name} twice"
            layers[key] = number
    return layers


def package_modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def runtime_imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports at run time (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking_only(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if module else []
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("skillcrate"):
                target = node.module.removeprefix("skillcrate").lstrip(".")
            else:
                return
            for alias in node.names:
                candidate = f"{target}.{alias.name}".lstrip(".")
                found.add(candidate if candidate in known else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("skillcrate"):
                    found.add(alias.name.removeprefix("skillcrate").lstrip("."))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    resolved = set()
    for name in found:
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != module:
            resolved.add(name if name in known else "")
    return resolved


def violations(layers: dict[str, int], modules: dict[str, Path]) -> list[str]:
    out = []
    for module, path in modules.items():
        for dep in sorted(runtime_imports(module, path, set(modules))):
            if layers[dep] > layers[module]:
                out.append(
                    f"{module or 'skillcrate'} (row {layers[module] + 1}) imports "
                    f"{dep or 'skillcrate'} (row {layers[dep] + 1})"
                )
    return out


def test_the_table_names_every_module_exactly_once() -> None:
    layers = table_layers(DESIGN.read_text(encoding="utf-8"))
    modules = package_modules()
    assert sorted(set(modules) - set(layers)) == [], "modules missing from design.md"
    assert sorted(set(layers) - set(modules)) == [], "design.md names modules that do not exist"


def test_no_module_imports_a_lower_layer() -> None:
    layers = table_layers(DESIGN.read_text(encoding="utf-8"))
    assert violations(layers, package_modules()) == []


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """Control: the checker itself finds an import of a module further down the table."""
    (tmp_path / "low.py").write_text("from . import high\n", encoding="utf-8")
    (tmp_path / "high.py").write_text("", encoding="utf-8")
    (tmp_path / "typed.py").write_text(
        "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from . import high\n", encoding="utf-8"
    )
    modules = {"low": tmp_path / "low.py", "high": tmp_path / "high.py"}
    modules["typed"] = tmp_path / "typed.py"
    layers = {"low": 0, "typed": 0, "high": 1}
    assert violations(layers, modules) == ["low (row 1) imports high (row 2)"]


@pytest.mark.parametrize("module", ["fastpath", "names", "digests", "errors", "text"])
def test_the_no_op_path_modules_import_only_the_standard_library(module: str) -> None:
    """The warm session-start check must not pull in third-party packages."""
    path = package_modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    third_party = set()
    import sys

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "skillcrate":
                third_party.add(name)
    assert third_party == set()
