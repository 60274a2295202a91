"""Every assignment follows the grading contract (README, "Writing tests the grader can trust").

At grading, test cells run in a trusted evaluator, not in the learner's kernel. A test cell
sees only its own setup (the locked cells before it, which the evaluator runs too), what
earlier test cells defined, `labkit`, Python's builtins, and the names the learner's answer
cells define (functions, called across the wall, and plain-data constants, copied). These
tests read each source notebook and check that its test cells use nothing else, so no test
depends on state that exists only in the learner's kernel.
"""

from __future__ import annotations

import ast
import builtins

import nbformat
import pytest
from conftest import REPO_ROOT

SOURCE_NOTEBOOKS = sorted((REPO_ROOT / "source").glob("*/*.ipynb"))
IPYTHON_NAMES = {"get_ipython", "display", "In", "Out"}


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_test(cell) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def _is_answer(cell) -> bool:
    return cell.cell_type == "code" and _nbgrader(cell).get("solution", False)


def _is_setup(cell) -> bool:
    return cell.cell_type == "code" and _nbgrader(cell).get("locked", False) and not _is_test(cell) and not _is_answer(cell)


def _code(cell) -> str:
    lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def defined_names(tree: ast.AST) -> set[str]:
    """Every name a piece of code binds anywhere (assignments, defs, imports, loop targets, arguments)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def top_level_definitions(tree: ast.Module) -> dict[str, str]:
    """What an answer cell gives the grader: {name: "function" | "value"} for its top-level bindings."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = "function"
        elif isinstance(node, ast.ClassDef):
            found[node.name] = "class"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id] = "value"
    return found


def used_names(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_test_cells_use_only_what_the_evaluator_has(path) -> None:
    nb = nbformat.read(path, as_version=4)
    evaluator_has = set(dir(builtins)) | IPYTHON_NAMES
    learner_gives: dict[str, str] = {}
    problems = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_code(cell))
        grade_id = _nbgrader(cell).get("grade_id", "?")
        if _is_setup(cell):
            evaluator_has |= defined_names(tree)
        elif _is_answer(cell):
            learner_gives.update(top_level_definitions(tree))
        elif _is_test(cell):
            unknown = used_names(tree) - evaluator_has - defined_names(tree) - set(learner_gives)
            if unknown:
                problems.append(f"{grade_id} uses {sorted(unknown)}: define them in a locked setup cell or in the test cell")
            classes = sorted(n for n in used_names(tree) if learner_gives.get(n) == "class")
            if classes:
                problems.append(f"{grade_id} uses the learner's classes {classes}: ask for functions or plain data")
            evaluator_has |= defined_names(tree)
    assert not problems, f"{path.relative_to(REPO_ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_every_test_cell_has_points_and_follows_an_answer(path) -> None:
    nb = nbformat.read(path, as_version=4)
    seen_answer = False
    for cell in nb.cells:
        if _is_answer(cell):
            seen_answer = True
        if _is_test(cell):
            assert _nbgrader(cell).get("points", 0) > 0, f"{_nbgrader(cell)['grade_id']} has no points"
            assert _nbgrader(cell).get("locked", False), f"{_nbgrader(cell)['grade_id']} is not locked"
            assert seen_answer, f"{_nbgrader(cell)['grade_id']} comes before any answer cell"


def test_the_checker_catches_a_test_that_relies_on_the_learners_kernel() -> None:
    """The check itself: a name only an unlocked cell defines is reported."""
    setup = ast.parse("from labkit import checks")
    test = ast.parse("checks.expect_equal(answer(), scratch, 'x')")
    evaluator_has = set(dir(builtins)) | defined_names(setup)
    unknown = used_names(test) - evaluator_has - defined_names(test) - {"answer"}
    assert unknown == {"scratch"}
