"""The package's layering: each package imports only packages below it, never above.

    errors, config  <-  data  <-  metrics  <-  scratch  <-  cells  <-  layers  <-  models
      <-  train  <-  diagnose  <-  tasks  <-  serve  <-  cli

The test reads every module's source (imports inside functions included) rather than
importing it, so a lazy import cannot hide an upward dependency; with one total order of the
packages, a circular dependency between two packages is an upward import on one side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rnnkit

ORDER = [
    "errors",
    "config",
    "data",
    "metrics",
    "scratch",
    "cells",
    "layers",
    "models",
    "train",
    "diagnose",
    "tasks",
    "serve",
    "cli",
]
RANK = {name: i for i, name in enumerate(ORDER)}
# Beyond the order: the command line reaches the data only through the task recipes.
FORBIDDEN = {"cli": {"data"}}
ROOT = Path(rnnkit.__file__).parent


def package_of(module: str) -> str:
    """'rnnkit.train.fit' -> 'train'; 'rnnkit' (the root, holding __version__) -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rnnkit_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of an rnnkit module in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "rnnkit":  # `from rnnkit import cli` imports a package
                names = [f"rnnkit.{a.name}" for a in node.names if a.name != "__version__"]
            found += [(node.lineno, n) for n in names if n.split(".")[0] == "rnnkit"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "rnnkit"]
    return found


def modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_package_has_a_place_in_the_order() -> None:
    packages = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in modules()}
    assert packages - {"__init__", "__main__"} <= set(ORDER), packages - set(ORDER)


def test_no_upward_or_circular_package_dependency() -> None:
    violations = []
    for path in modules():
        rel = path.relative_to(ROOT)
        own = rel.parts[0].removesuffix(".py")
        if own in ("__init__", "__main__"):
            own = "cli" if own == "__main__" else ""
        for line, imported in rnnkit_imports(path):
            other = package_of(imported)
            if other == own or other == "":
                continue
            if own == "" or RANK[other] > RANK[own] or other in FORBIDDEN.get(own, set()):
                violations.append(f"{rel}:{line}: {own or 'rnnkit'} imports {imported}")
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from rnnkit.train.fit import fit\n", [(1, "rnnkit.train.fit")]),
        ("def f():\n    import rnnkit.cli\n", [(2, "rnnkit.cli")]),
        ("from rnnkit import cli, __version__\n", [(1, "rnnkit.cli")]),
        ("from . import x\nimport torch\n", []),
    ],
)
def test_the_import_reader_sees_lazy_and_package_imports(
    tmp_path: Path, source: str, expected: list[tuple[int, str]]
) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert rnnkit_imports(path) == expected


def test_layers_know_nothing_of_tag_schemes() -> None:
    """A network layer takes tag constraints as data (masks); `rnnkit.data.tags` builds them."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "layers").rglob("*.py"))
        for line, imported in rnnkit_imports(path)
        if imported == "rnnkit.data.tags"
    ]
    assert not found, found


def test_no_module_over_500_lines_and_no_function_over_60() -> None:
    """The size limits of the README's layout section, for the package and its tests."""
    too_long = []
    for path in [*modules(), *sorted(Path(__file__).parent.rglob("*.py"))]:
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 500:
            too_long.append(f"{path.name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{path.name}:{node.lineno}: {node.name} has {length} lines")
    assert not too_long, "\n".join(too_long)
