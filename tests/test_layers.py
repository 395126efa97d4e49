"""Imports point down the layers: core → store → domains → platform → serving/sdk → cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "steadyml"

# Lower numbers are lower layers. Siblings share a number and may not import each other.
LAYERS = {
    "core": 0,
    "store": 1,
    "tracking": 2, "registry": 2, "deployments": 2, "access": 2, "monitoring": 2,
    "platform": 3,
    "serving": 4, "sdk": 4, "control": 4,
    "pipelines": 4,
    "cli": 5,
    "__init__": 6, "__main__": 6,
}


def _domain(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "steadyml"]


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_domain_has_a_layer() -> None:
    assert {_domain(p) for p in _modules()} <= set(LAYERS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_down(path: Path) -> None:
    domain = _domain(path)
    for line, name in _imports(path):
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else "__init__"
        if target == domain:
            continue
        assert LAYERS[target] < LAYERS[domain], (
            f"{path.relative_to(SRC)}:{line} imports {name}: {domain} (layer "
            f"{LAYERS[domain]}) may not import {target} (layer {LAYERS[target]})")


def test_no_module_over_600_lines() -> None:
    long = {str(p.relative_to(SRC)): n for p in _modules()
            if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}
