"""Write one executed submission into the gradebook and `autograded/`: the only writer.

This is the end of nbgrader's autograde (init_assignment's student, submission and
file copying; then SaveAutoGrades, AssignLatePenalties and CheckCellMetadata), run
in the parent process, one submission at a time, so the SQLite gradebook never sees
two writers. A notebook that failed (out of time, dead kernel, unreadable) gets zero
on every grade cell and a reason. The last step writes the student's record file:
it is the mark that the submission is done, so an interrupted run regrades exactly
the submissions that have no record yet.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

from .course import AssignmentInfo, Course
from .execute import _exporter, _resources


def _zero(gb, assignment: str, student: str, notebook: str) -> None:
    """What nbgrader does for a missing notebook: every grade cell 0, nothing to grade by hand."""
    submission = gb.find_submission_notebook(notebook, assignment, student)
    for grade in submission.grades:
        grade.auto_score = 0
        grade.needs_manual_grade = False
    gb.db.commit()


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def record_path(course: Course, assignment: str, student: str) -> Path:
    return course.state_dir(assignment) / f"{student}.json"


def load_record(course: Course, assignment: str, student: str) -> dict | None:
    path = record_path(course, assignment, student)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def record_result(course: Course, info: AssignmentInfo, result: dict) -> dict:
    """Put `result` (from a worker, or a shard's file) into the gradebook and autograded/."""
    assignment, student = result["assignment"], result["student"]
    submitted = course.step_dir("submitted", student, assignment)
    final = course.step_dir("autograded", student, assignment)
    staging = Path(tempfile.mkdtemp(dir=final.parent if final.parent.exists() else _mkdir(final.parent),
                                    prefix=f".{assignment}.grading."))
    # nbgrader's own API warns on every new submission (SQLAlchemy autoflush); it is harmless.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    flags, reasons = [], []
    if result.get("error"):
        reasons.append(result["error"])
    with course.gradebook() as gb:
        gb.update_or_create_student(student)
        timestamp = course.coursedir.get_existing_timestamp(str(submitted))
        if timestamp:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assignment, student)
    # The learner's own extra files, then the assignment's files over them (as nbgrader).
    for file in utils.find_all_files(str(submitted), list(course.coursedir.ignore) + ["*.ipynb"]):
        if not Path(file).is_symlink():
            target = staging / os.path.relpath(file, submitted)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
    source = course.source_dir(assignment)
    for file in course.extra_files(assignment):
        target = staging / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)

    statuses = {}
    for notebook in info.notebooks:
        outcome = result.get("notebooks", {}).get(notebook) or {
            "status": "failed", "notebook": None, "flags": [],
            "reasons": ["the grader did not return this notebook (see the error above)"]}
        statuses[notebook] = outcome["status"]
        flags += [f"{notebook}: {f}" if len(info.notebooks) > 1 else f for f in outcome.get("flags", [])]
        reasons += [f"{notebook}: {r}" if len(info.notebooks) > 1 else r for r in outcome.get("reasons", [])]
        text = outcome.get("notebook")
        resources = _resources(student, assignment, notebook, course.db_url, staging)
        if text is not None:
            exporter = _exporter(course.config, [SaveAutoGrades, AssignLatePenalties, CheckCellMetadata])
            output, _ = exporter.from_notebook_node(nbformat.reads(text, as_version=4), resources=resources)
            (staging / f"{notebook}.ipynb").write_text(output, encoding="utf-8")
        if outcome["status"] != "graded":
            with course.gradebook() as gb:
                _zero(gb, assignment, student, notebook)
                if text is None:
                    submission = gb.find_submission_notebook(notebook, assignment, student)
                    submission.late_submission_penalty = None
                    gb.db.commit()
    permissions = int(str(664 if course.coursedir.groupshared else 444), 8)
    for path in staging.rglob("*"):
        if path.is_file():
            os.chmod(path, permissions)
    os.chmod(staging, 0o755)
    # Swap the new folder in; an old one (from --force) goes only once the new one is there.
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old.{os.getpid()}")
        os.replace(final, old)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

    with course.gradebook() as gb:
        submission = gb.find_submission(assignment, student)
        score, max_score = float(submission.score), float(submission.max_score)
    summary = {
        "student": student,
        "assignment": assignment,
        "digest": result.get("digest"),
        "score": score,
        "max_score": max_score,
        "status": "graded" if all(s == "graded" for s in statuses.values()) and not result.get("error") else "zero",
        "notebooks": statuses,
        "flags": flags,
        "reasons": reasons,
        "seconds": result.get("seconds"),
        "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _atomic_write(record_path(course, assignment, student), json.dumps(summary, indent=1))
    return summary


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
