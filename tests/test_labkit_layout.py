"""The library's house rules (issue 12): no import cycle among labkit's modules, none of them huge.

The import graph counts every ``labkit`` import in a module, also those inside a function: a
lazy import hides a cycle from the interpreter, not from the design.
"""
from __future__ import annotations

import ast
from pathlib import Path

LABKIT = Path(__file__).resolve().parents[1] / "labkit"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    """labkit's top-level modules (the emulator, a package of its own, is left out)."""
    return {path.stem: path for path in sorted(LABKIT.glob("*.py")) if path.stem != "__init__"}


def _imports(path: Path, known: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if node.level == 0 and parts[0] == "labkit":
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
            elif node.level == 1:
                found.add(parts[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "labkit" and len(parts) > 1:
                    found.add(parts[1])
    return (found & known) - {path.stem}


def test_no_import_cycle_among_labkit_modules() -> None:
    modules = _modules()
    graph = {name: _imports(path, set(modules)) for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name):] + [name]
            raise AssertionError("labkit modules import each other: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, trail + [name])
        done.add(name)

    for name in graph:
        visit(name, [])


def test_the_vm_modules_no_longer_import_each_other() -> None:
    modules = _modules()
    assert "vm_checks" not in _imports(modules["vm_provisioning"], set(modules))
    assert "vm_provisioning" not in _imports(modules["vm_serving_checks"], set(modules))


def test_no_labkit_module_outside_the_emulator_is_huge() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}, f"split by job: over {MAX_LINES} lines"
