"""What a notebook that has just run must show: the promises the notebooks make to learners.

- no cell reported an error;
- a passing test cell prints nothing (every grade cell runs with the solutions in place, so
  each must end with no output at all: no stream, no display, no error);
- a markdown cell that says what the output above it shows carries that claim in its metadata,
  ``{"claims": {"in_output_above": ["DL3013", ...]}}``, and each claimed string is in the
  outputs of the nearest code cell above it.

tests/test_notebooks_run.py and tests/test_lessons_on_kind.py both check their runs with
`assert_ran_as_promised`, and both run a lesson as a learner does: the learner's edition's copy, with
the edition's own labkit (`run_lesson_in_edition`).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# appended to a lesson run from the edition: where the kernel found labkit and webapp
WHERE_FROM = "import labkit, webapp\nprint(labkit.__file__)\nprint(webapp.__file__)"


def run_lesson_in_edition(edition: Path, name: str, monkeypatch: pytest.MonkeyPatch, timeout: int = 300):
    """Run the edition's copy of lesson `name` top to bottom with the edition first on the kernel's path,
    as in a learner's clone, and check that labkit and webapp came from the edition (a module or data
    file the edition lacks fails here, not for a learner). Returns the executed notebook."""
    monkeypatch.setenv("PYTHONPATH", str(edition))
    path = edition / "notebooks" / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(WHERE_FROM))
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    probe = notebook.cells.pop()
    printed = probe.outputs[0]["text"].split()
    assert printed and all(Path(p).is_relative_to(edition) for p in printed), (
        f"{name} imported {printed}, not the edition's labkit and webapp")
    return notebook


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


def assert_ran_as_promised(notebook, name: str) -> None:
    """The executed notebook: no error output, passing grade cells silent, every claim met."""
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors, f"{name}: cells reported errors: {errors}"
    printing = grade_cells_with_output(notebook)
    assert not printing, f"{name}: a passing test cell must print nothing: {printing}"
    unmet = unmet_claims(notebook)
    assert not unmet, f"{name}: {unmet}"
