"""The lessons and every source notebook run top to bottom, as a learner would run them.

Each run is checked for what the notebooks promise learners (tests/notebook_checks.py): no error
output, a passing test cell prints nothing, and each claim a markdown cell makes in its metadata,
``{"claims": {"in_output_above": ["DL3013", ...]}}``, is in the outputs of the nearest code cell
above it. The Kubernetes lessons of tests/test_lessons_on_kind.py (its LESSONS) are not run here:
that module runs each once, against a cluster that looks like kind, with the same checks. The rule
codes a markdown cell names are checked for claims in every notebook, those lessons included.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from assignment_runner import visible_part
from conftest import ids, lesson_notebooks, source_notebooks
from notebook_checks import assert_ran_as_promised, grade_cells_with_output, run_lesson_in_edition, unmet_claims
from test_lessons_on_kind import LESSONS as RUN_ON_KIND

NOTEBOOKS = lesson_notebooks() + source_notebooks()
# each lesson runs once in the suite: these run in tests/test_lessons_on_kind.py, with the same checks
RUN_HERE = [path for path in NOTEBOOKS if not (path.parent.name == "notebooks" and path.stem in RUN_ON_KIND)]

# Rule codes of hadolint (DL....) and of ShellCheck, which hadolint runs on RUN lines (SC....).
RULE_CODE = re.compile(r"\b(?:DL|SC)\d{4}\b")


@pytest.mark.parametrize("path", RUN_HERE, ids=ids(RUN_HERE))
def test_notebook_runs_top_to_bottom(path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.parent.name == "notebooks":
        notebook = run_lesson_in_edition(request.getfixturevalue("edition_to_run"), path.stem, monkeypatch)
        assert_ran_as_promised(notebook, path.name)
        return
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    assert_ran_as_promised(notebook, path.name)


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
    """The helpers find a printing grade cell and an unmet claim, and `assert_ran_as_promised` fails on them."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('x')", outputs=[nbformat.v4.new_output("stream", text="DL3013 only\n")]),
        nbformat.v4.new_markdown_cell("It shows DL3013 and DL3042.", metadata={
            "claims": {"in_output_above": ["DL3013", "DL3042"]}}),
    ])
    notebook.cells[0].metadata["nbgrader"] = {"grade": True, "grade_id": "t"}
    assert unmet_claims(notebook) == ["cell 1 says the output above shows 'DL3042', and it does not"]
    assert grade_cells_with_output(notebook)[0].startswith("t: ['stream']")
    with pytest.raises(AssertionError, match="a passing test cell must print nothing"):
        assert_ran_as_promised(notebook, "made-up.ipynb")


def test_every_lesson_runs_once_here_or_on_kind() -> None:
    """A lesson added to tests/test_lessons_on_kind.py's LESSONS leaves this module's runs; none is run twice or never."""
    lessons = {path.stem for path in lesson_notebooks()}
    assert set(RUN_ON_KIND) <= lessons, f"tests/test_lessons_on_kind.py names no such lesson: {set(RUN_ON_KIND) - lessons}"
    here = {path.stem for path in RUN_HERE if path.parent.name == "notebooks"}
    assert here | set(RUN_ON_KIND) == lessons and not here & set(RUN_ON_KIND)
