"""`feedback`: nbgrader's GenerateFeedback, with the hidden tests kept out by default.

nbgrader's feedback shows the hidden tests' source (nbgrader issue #917). Here the
autograded notebooks go through nbgrader's own converter with one more preprocessor
first: it removes the `### BEGIN HIDDEN TESTS` blocks from the test cells (nbgrader's
ClearHiddenTests) and shortens the tracebacks of those cells to their last line (a
traceback quotes the failing line, which would show the hidden test). Only the locked
test cells are touched: a learner's own cell that happens to hold the marker is the
learner's text. `include_hidden` keeps nbgrader's behaviour. A learner whose notebook
could not be graded gets a short page that says why; one whose page nbgrader could not
make gets a short page too, and the others are made all the same.
"""

from __future__ import annotations

import html
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from traitlets.config import Config

from .course import Course, assignment_info
from .record import is_test_cell, load_record


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests on the locked test cells, and their tracebacks cut to `Error: message`."""

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_test_cell(cell):
            return cell, resources  # a learner's cell: their own text, whatever it holds
        had_hidden = self.begin_test_delimeter in cell.source
        try:
            cell, resources = super().preprocess_cell(cell, resources, cell_index)
        except RuntimeError:  # an unbalanced marker: hide everything from the first one on
            lines = cell.source.split("\n")
            first = next(i for i, line in enumerate(lines) if self.begin_test_delimeter in line)
            cell.source = "\n".join(lines[:first])
        if had_hidden and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def generate_feedback(course: Course, assignment: str, include_hidden: bool = False,
                      students: tuple[str, ...] = (), with_problems: bool = False):
    """Write feedback/<student>/<assignment>/*.html for every graded learner; return the files
    (and, with `with_problems`, {student: why nbgrader's page could not be made} too).

    One learner's notebook never costs the others their pages: each is made on its own."""
    info = assignment_info(course, assignment)
    config = Config(course.config)
    config.CourseDirectory.assignment_id = assignment
    config.CourseDirectory.root = str(course.root)
    preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor]
    if not include_hidden:
        preprocessors.insert(0, HideHiddenTests)
        config.ClearHiddenTests.enforce_metadata = False
    config.GenerateFeedback.preprocessors = preprocessors
    config.GenerateFeedback.force = True
    autograded = Path(course.coursedir.format_path(course.coursedir.autograded_directory, ".", ".")).resolve()
    graded = sorted(p.name for p in autograded.iterdir() if (p / assignment).is_dir()) if autograded.is_dir() else []
    excluded = course.excluded_students()
    written: list[Path] = []
    problems: dict[str, str] = {}
    for student in graded:
        if (students and student not in students) or student in excluded:
            continue
        target = course.step_dir("feedback", student, assignment)
        record = load_record(course, assignment, student) or {}
        present = [nb for nb in info.notebooks if (autograded / student / assignment / f"{nb}.ipynb").exists()]
        if present:
            config.CourseDirectory.student_id = student
            try:
                coursedir = CourseDirectory(config=config)
                GenerateFeedback(coursedir=coursedir, config=config).start()
            except BaseException as error:  # nbgrader's own failure (NbGraderException, a bad cell...): this learner only
                if isinstance(error, KeyboardInterrupt):
                    raise
                problems[student] = f"nbgrader could not make the page ({type(error).__name__}); a short page says so"
        for notebook in info.notebooks:
            page = target / f"{notebook}.html"
            if notebook not in present:
                reasons = record.get("reasons") or ["the notebook was not in the submission"]
                _write(page, _no_notebook_page(student, assignment, notebook, reasons))
            elif student in problems:
                _write(page, _no_page(student, assignment, notebook, record))
            if page.exists():
                written.append(page)
    return (written, problems) if with_problems else written


def _write(page: Path, text: str) -> None:
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")


def _no_page(student: str, assignment: str, notebook: str, record: dict) -> str:
    score = (f" It scored {record['score']:g} out of {record['max_score']:g}."
             if isinstance(record.get("score"), (int, float)) and isinstance(record.get("max_score"), (int, float)) else "")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(notebook)}</title></head><body>"
            f"<h1>{html.escape(assignment)}: {html.escape(notebook)}</h1>"
            f"<p>{html.escape(student)}, your notebook was graded, but its feedback page could not be made.{score}</p>"
            "<p>Ask your instructor for the details.</p></body></html>")


def _no_notebook_page(student: str, assignment: str, notebook: str, reasons: list[str]) -> str:
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(notebook)}</title></head><body>"
            f"<h1>{html.escape(assignment)}: {html.escape(notebook)}</h1>"
            f"<p>{html.escape(student)}, this notebook could not be graded, so it scored 0:</p><ul>{items}</ul>"
            "<p>Ask your instructor if you think this is wrong.</p></body></html>")

