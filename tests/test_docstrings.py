"""Every public name has a docstring: the API reference (``pdoc``) is built from them.

Read from the source (``ast``), so that this test needs neither pdoc nor the export extra.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(p for package in ("taotp", "constructions")
                 for p in (ROOT / package).rglob("*.py"))


def public(name: str) -> bool:
    return not name.startswith("_")


def undocumented(path: Path) -> list[str]:
    """Public functions, classes and methods of ``path`` that have no docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    missing = [] if ast.get_docstring(tree) else ["(module)"]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and public(node.name):
            if not ast.get_docstring(node):
                missing.append(node.name)
            if isinstance(node, ast.ClassDef):
                missing += [f"{node.name}.{item.name}" for item in node.body
                            if isinstance(item, ast.FunctionDef) and public(item.name)
                            and not ast.get_docstring(item)]
    return missing


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_public_name_has_a_docstring(path):
    assert undocumented(path) == []
