"""Run an assignment's source notebook with some answers swapped, to test its tests.

Every assignment has a test proving that its hidden tests catch answers which only fit
the visible examples, and that answers returning objects which compare equal to
anything fail even the visible tests. This module is the shared machinery.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def visible_part(test_source: str) -> str:
    """A test cell as the learner sees it: everything before the hidden tests."""
    return re.split(r"^\s*### BEGIN HIDDEN TESTS", test_source, flags=re.M)[0]


def anything_class(keys: tuple[str, ...] = ()) -> str:
    """Source of `_Anything`: equal to everything, indexable, iterable over `keys`."""
    return f'''
class _Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __getitem__(self, key):
        return self
    def __iter__(self):
        return iter({list(keys)!r})
    def __len__(self):
        return {len(keys)}
    def get(self, *args):
        return self
'''


def run_with(
    notebook_path: Path, answers: dict[str, str], visible_only: bool, timeout: int = 180
) -> tuple[dict[str, bool], dict[str, str]]:
    """Execute the notebook with answers replaced by grade_id; which test cells passed, and their errors."""
    notebook = copy.deepcopy(nbformat.read(notebook_path, as_version=4))
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
        if visible_only and meta.get("grade") and cell.cell_type == "code":
            cell.source = visible_part(cell.source)
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(notebook_path.parent)}},
    ).execute()
    passed, errors = {}, {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            failures = [o for o in cell.outputs if o.get("output_type") == "error"]
            passed[meta["grade_id"]] = not failures
            if failures:
                errors[meta["grade_id"]] = f"{failures[0]['ename']}: {failures[0]['evalue']}"
    return passed, errors


def graded_cells(notebook_path: Path) -> list[dict]:
    """The nbgrader metadata of the notebook's graded cells, in order."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return [c.metadata["nbgrader"] for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]


def assert_hidden_tests_catch(notebook_path: Path, hard_coded: dict[str, str], timeout: int = 180) -> None:
    """Each hard-coded answer (by answer grade_id) passes its visible test and fails the full one."""
    visible, errors = run_with(notebook_path, hard_coded, visible_only=True, timeout=timeout)
    full, _ = run_with(notebook_path, hard_coded, visible_only=False, timeout=timeout)
    for answer in hard_coded:
        test = answer.replace("-answer", "-test")
        assert visible[test], f"the cheat for {answer} should pass the visible tests (fix the cheat): {errors.get(test)}"
        assert not full[test], f"hidden tests of {test} let a hard-coded answer through"


def assert_visible_tests_refuse(notebook_path: Path, answers: dict[str, str], timeout: int = 180) -> None:
    """Answers of objects equal to anything fail every visible test, each with an AssertionError."""
    visible, errors = run_with(notebook_path, answers, visible_only=True, timeout=timeout)
    assert visible == {answer.replace("-answer", "-test"): False for answer in answers}
    assert all("AssertionError" in error for error in errors.values()), errors
