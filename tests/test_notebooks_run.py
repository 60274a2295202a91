"""Every lesson and every source notebook runs top to bottom, as a learner would run it.

The same run checks two promises the notebooks make to learners:
- a passing test cell prints nothing (every grade cell runs with the solutions in place, so
  each must end with no output at all: no stream, no display, no error);
- a markdown cell that says what the output above it shows carries that claim in its metadata,
  ``{"claims": {"in_output_above": ["DL3013", ...]}}``, and each claimed string is in the
  outputs of the nearest code cell above it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from assignment_runner import visible_part
from conftest import ids, lesson_notebooks, source_notebooks

NOTEBOOKS = lesson_notebooks() + source_notebooks()

# Rule codes of hadolint (DL....) and of ShellCheck, which hadolint runs on RUN lines (SC....).
RULE_CODE = re.compile(r"\b(?:DL|SC)\d{4}\b")


def _output_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        for kind in ("text/plain", "text/html", "text/markdown"):
            parts.append(output.get("data", {}).get(kind, ""))
        parts.append(output.get("evalue", ""))
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


def unmet_claims(notebook) -> list[str]:
    """Each claimed string that the outputs of the nearest code cell above its markdown cell lack."""
    problems = []
    above = None
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            above = cell
            continue
        for claimed in cell.metadata.get("claims", {}).get("in_output_above", []):
            if above is None or claimed not in _output_text(above):
                problems.append(f"cell {number} says the output above shows {claimed!r}, and it does not")
    return problems


def grade_cells_with_output(notebook) -> list[str]:
    return [
        f"{cell.metadata['nbgrader'].get('grade_id')}: {[o.get('output_type') for o in cell.outputs]} "
        f"{_output_text(cell)[:300]!r}"
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade") and cell.outputs
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: cells reported errors: {errors}"
    assert grade_cells_with_output(notebook) == [], f"{path.name}: a passing test cell must print nothing"
    assert unmet_claims(notebook) == [], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_rule_codes_in_the_text_are_claims_a_run_checks(path: Path) -> None:
    """A sentence that names a linter's rule code says it about an output, so the run must check it."""
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        named = set(RULE_CODE.findall(cell.source))
        claimed = set(cell.metadata.get("claims", {}).get("in_output_above", []))
        assert named <= claimed, (
            f"{path.name} cell {number} names {sorted(named - claimed)} without claiming them: add "
            '{"claims": {"in_output_above": [...]}} to its metadata'
        )


SOURCES = source_notebooks()


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_passing_visible_tests_print_nothing(path: Path) -> None:
    """The learner's test cells are the visible parts only: with right answers, each prints nothing either.

    (The full run above ends many test cells inside the hidden tests; a visible part can end
    differently, e.g. with ``checks.expect_raises(...)``, whose value IPython would show.)
    """
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = visible_part(cell.source)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    assert grade_cells_with_output(notebook) == [], f"{path.name}: a passing test cell must print nothing"


def test_the_checks_above_would_catch_what_they_promise() -> None:
    """The helpers find a printing grade cell and an unmet claim."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('x')", outputs=[nbformat.v4.new_output("stream", text="DL3013 only\n")]),
        nbformat.v4.new_markdown_cell("It shows DL3013 and DL3042.", metadata={
            "claims": {"in_output_above": ["DL3013", "DL3042"]}}),
    ])
    notebook.cells[0].metadata["nbgrader"] = {"grade": True, "grade_id": "t"}
    assert unmet_claims(notebook) == ["cell 1 says the output above shows 'DL3042', and it does not"]
    assert grade_cells_with_output(notebook)[0].startswith("t: ['stream']")
