"""`export`: one CSV row per learner: score, maximum, status, flags and reasons.

Scores come from the gradebook (nbgrader's own totals, late penalties included);
flags (restored cells, changed points, cut output) and reasons (why a notebook got
zero) come from the autograder's record of each submission.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import MissingEntry

from .course import Course, assignment_info
from .record import load_record

COLUMNS = ["student_id", "assignment", "score", "max_score", "status", "flags", "reasons", "graded_at"]


def export_csv(course: Course, assignment: str, target: Path) -> int:
    """Write the CSV; return the number of rows. Learners with no submission get no row."""
    info = assignment_info(course, assignment)
    rows = []
    with course.gradebook() as gb:
        for student in sorted(s.id for s in gb.students):
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            record = load_record(course, assignment, student) or {}
            rows.append({
                "student_id": student,
                "assignment": info.name,
                "score": f"{float(submission.score):g}",
                "max_score": f"{float(submission.max_score):g}",
                "status": record.get("status", "not graded by the autograder"),
                "flags": "; ".join(record.get("flags", [])),
                "reasons": "; ".join(record.get("reasons", [])),
                "graded_at": record.get("graded_at", ""),
            })
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
