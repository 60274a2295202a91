"""A failing cell in a real kernel: the message comes first, and a missing name explains itself."""
from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO_ROOT
from labkit import notebook_errors


def _run(*sources: str) -> list[dict]:
    """Run the cells in a fresh kernel (carrying on after errors); return each cell's error output or None."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(REPO_ROOT)}})
    client.execute()
    return [next((output for output in cell.outputs if output.output_type == "error"), None)
            for cell in notebook.cells]


@pytest.fixture(scope="module")
def errors() -> list[dict]:
    return _run(
        "from labkit import checks",
        'checks.expect_equal(1 + 1, 3, "one plus one", "Add them again.")',
        "print(DOCKERIGNORE)",
        'raise NameError("my own words")',
        "def f():\n    x\n    x = 1\nf()",
        "checks.expect_true(True, 'fine')",
    )


def test_a_failing_check_shows_the_message_without_the_helpers_frames(errors):
    error = errors[1]
    assert error is not None, "a failing check must give the cell an error output (nbgrader counts it)"
    assert error.ename == "AssertionError"
    assert error.evalue == "one plus one: expected 3, got 2. Add them again."
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    assert "checks.py" not in text
    assert "expect_equal(1 + 1, 3" in text  # the learner's own line is still there


def test_an_undefined_name_says_why_it_may_be_missing(errors):
    error = errors[2]
    assert error is not None and error.ename == "NameError"
    assert error.evalue.startswith("name 'DOCKERIGNORE' is not defined. ")
    assert notebook_errors.NOT_DEFINED_HINT in error.evalue
    assert "Run All Above" in error.evalue


def test_other_name_errors_keep_their_words(errors):
    assert errors[3].ename == "NameError" and errors[3].evalue == "my own words"
    assert errors[4].ename == "UnboundLocalError"
    assert notebook_errors.NOT_DEFINED_HINT not in errors[4].evalue
    assert errors[0] is None and errors[5] is None


def test_explain_name_error_adds_the_hint_once():
    error = NameError("name 'x' is not defined")
    assert notebook_errors.explain_name_error(error) is True
    assert notebook_errors.explain_name_error(error) is False
    assert str(error).count(notebook_errors.NOT_DEFINED_HINT) == 1


def test_install_does_nothing_in_plain_python():
    assert notebook_errors.install() is False
