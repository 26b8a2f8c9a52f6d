"""The package's layers, bottom-up, and the check that no import runs upward: `python -m adaworld_gym.devtools.layers`.

A layer is a set of units. A unit is a top-level module or package of `adaworld_gym` (a dotted name such as
`evaluation.metrics` sets one module of a package apart; `adaworld_gym` is the package root, `__init__.py`), and
a module belongs to the unit with the longest name that contains it. A unit may import from itself and from
the units of the layers below its own. Units on the same layer are independent: neither imports the other.

Every import statement counts, wherever it stands (inside functions too); `from adaworld_gym.x import y` counts
as importing the module `x.y` where there is one, else `x`. The check exits 1 listing each violating import
(file, line, imported module) and each module that no layer places, else 0 with a one-line summary.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "adaworld_gym"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

Layers = tuple[tuple[str, ...], ...]

LAYERS: Layers = (
    ("version", "io", "weights", "devtools", "config_cli"),  # nothing from the package
    ("video", "envs", "models"),  # mp4 files; the real environments; the networks
    ("data", "evaluation.metrics"),  # datasets from the real environments; frame metrics
    ("adaptation", "training"),  # the models fitted to real actions; the models trained
    ("simulator",),  # the adapted world model served as Gymnasium environments
    ("agents", "evaluation", "side_by_side", "transfer"),  # what runs the simulator and the models
    ("compare", "play"),  # the real environment and its simulator, shown together
    ("cli",),
    ("__main__", PACKAGE),  # `python -m adaworld_gym`; the root registers the environments
)
NOT_PLACED = "in no layer: place its unit in LAYERS"


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int  # 0: the module itself is in no layer
    imported: str  # the module imported (line 0: the module no layer places)
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: imports {self.imported}" if self.line else f"{self.path}: {self.imported}"
        return f"{where} ({self.reason})"


@dataclass(frozen=True)
class Report:
    violations: list[Violation]
    modules: int
    imports: int  # import statements' names that are modules of the package


def unit_of(module: str, layers: Layers = LAYERS) -> str | None:
    """The declared unit holding `module` (a full dotted name), or None."""
    if module == PACKAGE:
        return PACKAGE if any(PACKAGE in layer for layer in layers) else None
    name = module.removeprefix(PACKAGE + ".")
    holding = [unit for layer in layers for unit in layer if name == unit or name.startswith(unit + ".")]
    return max(holding, key=len, default=None)


def layer_of(unit: str, layers: Layers = LAYERS) -> int:
    """The layer's number, 1 at the bottom."""
    return next(i for i, layer in enumerate(layers, 1) if unit in layer)


def module_name(path: Path, package_dir: Path) -> str:
    parts = path.relative_to(package_dir).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imported_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The full name of the module a `from ... import` in `module` reads from (relative imports resolved)."""
    if not node.level:
        return node.module
    package = module.split(".") if is_package else module.split(".")[:-1]
    return ".".join([*package[:len(package) - node.level + 1], *([node.module] if node.module else [])])


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> list[tuple[int, str]]:
    """(line, module) for every module of the package that the tree imports, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = imported_from(node, module, is_package)
            # `from package import name` imports the submodule `name` where there is one.
            found += [(node.lineno, f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
                      for alias in node.names]
    ours = [(line, name) for line, name in found if name == PACKAGE or name.startswith(PACKAGE + ".")]
    return list(dict.fromkeys(ours))  # two names from one module on one line: one import


def why_not(unit: str, other: str | None, layers: Layers = LAYERS) -> str | None:
    """Why `unit` may not import `other` (None: it may)."""
    if other is None:
        return NOT_PLACED
    if other == unit:
        return None
    mine, theirs = layer_of(unit, layers), layer_of(other, layers)
    if theirs > mine:
        return f"{other} is on layer {theirs}, above {unit} on layer {mine}"
    if theirs == mine:
        return f"{other} and {unit} share layer {mine}, so neither imports the other"
    return None


def check_source(source: str, module: str, path: Path, known: set[str], *, is_package: bool = False,
                 layers: Layers = LAYERS) -> tuple[list[Violation], int]:
    """The violations of one module's source, and how many imports of the package it makes."""
    unit = unit_of(module, layers)
    if unit is None:
        return [Violation(path, 0, module, NOT_PLACED)], 0
    imports = imported_modules(ast.parse(source, str(path)), module, is_package, known)
    violations = [Violation(path, line, imported, reason) for line, imported in imports
                  if (reason := why_not(unit, unit_of(imported, layers), layers))]
    return violations, len(imports)


def check_package(package_dir: Path = PACKAGE_DIR, layers: Layers = LAYERS) -> Report:
    paths = sorted(package_dir.rglob("*.py"))
    known = {module_name(path, package_dir) for path in paths}
    violations, imports = [], 0
    for path in paths:
        found, count = check_source(path.read_text(), module_name(path, package_dir),
                                    path.relative_to(package_dir.parent), known,
                                    is_package=path.name == "__init__.py", layers=layers)
        violations += found
        imports += count
    return Report(violations, len(paths), imports)


def main() -> int:
    report = check_package()
    for violation in report.violations:
        print(violation)
    if report.violations:
        print(f"layers: {len(report.violations)} violating imports or unplaced modules in {report.modules} modules",
              file=sys.stderr)
        return 1
    print(f"layers: {report.modules} modules, {report.imports} imports of the package, {len(LAYERS)} layers, "
          "none upward or sideways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
