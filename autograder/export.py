"""`export`: one CSV row per learner: nbgrader's columns, then the autograder's.

The first columns are exactly `nbgrader export`'s (CsvExportPlugin), with its values and
its way of writing them: `raw_score` is the gradebook's total, `late_submission_penalty`
what nbgrader's LateSubmissionPlugin took off, `score` the raw score minus the penalty
(never below 0), and a learner in the gradebook with no submission gets a row of zeros.
Then ours: status (graded, zero, or why it is not graded yet), flags (restored cells,
changed points, cut output), reasons (why a notebook or a cell got zero), graded_at.
A script written for nbgrader's CSV reads ours.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import MissingEntry

from .course import Course, assignment_info
from .record import load_not_graded, load_record

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
COLUMNS = NBGRADER_COLUMNS + ["status", "flags", "reasons", "graded_at"]


def _text(value) -> str:
    """A value as nbgrader's CSV writes it: str(), None as ''."""
    return "" if value is None else str(value)


def export_csv(course: Course, assignment: str, target: Path) -> int:
    """Write the CSV; return the number of rows (every student in the gradebook, as nbgrader)."""
    info = assignment_info(course, assignment)
    rows = []
    with course.gradebook() as gb:
        record_of_assignment = gb.find_assignment(assignment)
        duedate, max_score = record_of_assignment.duedate, record_of_assignment.max_score
        for student in gb.students:
            row = {"assignment": info.name, "duedate": duedate, "student_id": student.id,
                   "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                   "max_score": max_score}
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                has_submission = False
            else:
                penalty = submission.late_submission_penalty
                row.update(timestamp=submission.timestamp, raw_score=submission.score, late_submission_penalty=penalty,
                           score=max(0.0, submission.score - (penalty or 0.0)))
                has_submission = True
            row = {key: _text(value) for key, value in row.items()}
            row.update(_ours(course, assignment, student.id, has_submission))
            rows.append(row)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def _ours(course: Course, assignment: str, student: str, has_submission: bool) -> dict[str, str]:
    record = load_record(course, assignment, student) or {}
    pending = load_not_graded(course, assignment, student)
    if pending:
        whose = "the grader failed" if pending.get("whose") == "grader" else "nbgrader would not grade it either"
        status = f"not graded ({whose}): {pending.get('why', '')}"
    elif record:
        status = record.get("status", "")
    elif has_submission:
        status = "not graded by the autograder"
    else:
        status = "no submission"
    return {"status": status, "flags": "; ".join(record.get("flags", [])),
            "reasons": "; ".join(record.get("reasons", [])), "graded_at": record.get("graded_at", "")}
