"""Run an assignment's source notebook with some answers swapped, to test its tests.

Every assignment has a test proving that its hidden tests catch answers which only fit
the visible examples, and that answers returning objects which compare equal to
anything fail even the visible tests. This module is the shared machinery.
"""

from __future__ import annotations

import copy
import json
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


class InProcess:
    """An assignment's cells run in this process, without a kernel: fast checks of single answers.

    ``functions`` maps each answer cell's grade id to the function it defines, ``signatures`` to its
    parameters (as the question writes them). The setup cell runs with ``k8s = connect()`` left out, so
    nothing connects to a cluster of this machine."""

    def __init__(self, notebook_path: Path, functions: dict[str, str], signatures: dict[str, str]):
        notebook = nbformat.read(notebook_path, as_version=4)
        self.cells = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells if "nbgrader" in c.metadata}
        self.functions, self.signatures = functions, signatures

    def setup(self) -> dict:
        """The setup cell's names."""
        namespace: dict = {}
        exec(self.cells["setup"].replace("k8s = connect()", "k8s = None"), namespace)
        return namespace

    def answer_namespace(self, answer_id: str, source: str | None = None) -> dict:
        """The setup cell's names and an answer (the solution, or ``source``)."""
        namespace = self.setup()
        exec(source if source is not None else self.cells[answer_id], namespace)
        return namespace

    def visible_error(self, answer_id: str, source: str) -> str | None:
        """Run ``source`` as the answer and the visible part of its test cell, here: the error, or None."""
        namespace = self.answer_namespace(answer_id, source)
        try:
            exec(visible_part(self.cells[answer_id.replace("-answer", "-test")]), namespace)
        except Exception as error:  # what the notebook would show
            return f"{type(error).__name__}: {error}"
        return None

    def visible_calls(self, answer_id: str) -> dict[str, object]:
        """Every call the visible test makes of the solution (its arguments as JSON -> what it returned)."""
        namespace = self.answer_namespace(answer_id)
        real, seen = namespace[self.functions[answer_id]], {}

        def spy(*args):
            seen[json.dumps(list(args))] = result = real(*args)
            return result
        namespace[self.functions[answer_id]] = spy
        exec(visible_part(self.cells[answer_id.replace("-answer", "-test")]), namespace)
        return seen

    def lookup_cheat(self, answer_id: str) -> str:
        """An answer that knows only the visible calls, as a literal table."""
        name, signature = self.functions[answer_id], self.signatures[answer_id]
        return (f"_SEEN = {self.visible_calls(answer_id)!r}\n"
                f"def {name}({signature}):\n    return _SEEN[json.dumps([{signature}])]\n")
