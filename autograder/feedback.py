"""`feedback`: nbgrader's GenerateFeedback, with the hidden tests kept out by default.

nbgrader's feedback shows the hidden tests' source (nbgrader issue #917). Here the
autograded notebooks go through nbgrader's own converter with one more preprocessor
first: it removes the `### BEGIN HIDDEN TESTS` blocks from the test cells (nbgrader's
ClearHiddenTests) and shortens the tracebacks of those cells to their last line (a
traceback quotes the failing line, which would show the hidden test). `include_hidden`
keeps nbgrader's behaviour. A learner whose notebook could not be graded gets a short
page that says why.
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
from .record import load_record


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests on grade cells, and their tracebacks cut to `Error: message`."""

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def generate_feedback(course: Course, assignment: str, include_hidden: bool = False,
                      students: tuple[str, ...] = ()) -> list[Path]:
    """Write feedback/<student>/<assignment>/*.html for every graded learner; return the files."""
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
    written = []
    for student in graded:
        if students and student not in students:
            continue
        if any((autograded / student / assignment / f"{nb}.ipynb").exists() for nb in info.notebooks):
            config.CourseDirectory.student_id = student
            coursedir = CourseDirectory(config=config)
            GenerateFeedback(coursedir=coursedir, config=config).start()
        target = course.step_dir("feedback", student, assignment)
        record = load_record(course, assignment, student) or {}
        for notebook in info.notebooks:
            page = target / f"{notebook}.html"
            if not (autograded / student / assignment / f"{notebook}.ipynb").exists():
                target.mkdir(parents=True, exist_ok=True)
                reasons = record.get("reasons") or ["the notebook was not in the submission"]
                page.write_text(_no_notebook_page(student, assignment, notebook, reasons), encoding="utf-8")
            if page.exists():
                written.append(page)
    return written


def _no_notebook_page(student: str, assignment: str, notebook: str, reasons: list[str]) -> str:
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(notebook)}</title></head><body>"
            f"<h1>{html.escape(assignment)}: {html.escape(notebook)}</h1>"
            f"<p>{html.escape(student)}, this notebook could not be graded, so it scored 0:</p><ul>{items}</ul>"
            "<p>Ask your instructor if you think this is wrong.</p></body></html>")

