"""Write one executed submission into the gradebook and `autograded/`: the only writer.

This is the end of nbgrader's autograde (init_assignment's student, submission and
file copying; then SaveAutoGrades, AssignLatePenalties and CheckCellMetadata), run
in the parent process, one submission at a time, so the SQLite gradebook never sees
two writers. Test cells are scored from the worker's `verdicts` (the trusted
evaluator's outcome of each test cell, computed with nbgrader's own rule), manual
cells as nbgrader scores them; a result without verdicts is scored by nbgrader's
SaveAutoGrades from the outputs. A notebook that failed (out of time, dead kernel,
unreadable) gets zero on every grade cell and a reason. The last step writes the
student's record file: it is the mark that the submission is done, so an interrupted
run regrades exactly the submissions that have no record yet.

A submission nbgrader itself would refuse (a timestamp.txt that holds no date, a
student not in the gradebook with `Autograde.create_student=False`) is refused here
too, before anything is written: `SubmissionRefused`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path, PurePosixPath

import nbformat
from nbgrader import utils
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, SaveAutoGrades

from . import shared_gradebook
from .course import AssignmentInfo, Course
from .execute import _exporter, _resources

# nbgrader's recording preprocessors open the grading run's one engine (see shared_gradebook)
shared_gradebook.install()


class SubmissionRefused(Exception):
    """A submission nbgrader would fail as a whole (its message says what the instructor fixes)."""


def is_test_cell(cell) -> bool:
    """An autograded test cell: a grade cell of code that is not an answer (nbgrader's "autograder tests")."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class VerdictSaveAutoGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, with each test cell's score taken from its verdict.

    `resources["autograder"]["verdicts"]` is {grade_id: {"score", "max_score", "problem"}}
    (None: the result has none, then every cell is scored as nbgrader scores it). A test
    cell with no verdict scores 0. A cell nbgrader itself cannot score (partial credit
    above its points, an empty `text/plain`) scores 0 with a problem instead of stopping
    the cohort; the problems are listed in `resources["autograder"]["problems"]`.
    """

    def _set(self, cell, score: float | None) -> None:
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        grade.auto_score = score
        grade.needs_manual_grade = grade.manual_score is not None or score is None  # nbgrader's rule
        self.gradebook.db.commit()

    def _add_score(self, cell, resources) -> None:
        state = resources.setdefault("autograder", {})
        problems = state.setdefault("problems", [])
        verdicts = state.get("verdicts")
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        points = float(cell.metadata["nbgrader"]["points"])
        if verdicts is not None and is_test_cell(cell):
            verdict = verdicts.get(grade_id)
            if not isinstance(verdict, dict):
                self._set(cell, 0.0)
                return
            try:
                score = float(verdict.get("score") or 0.0)
            except (TypeError, ValueError):
                score, verdict = 0.0, {"problem": "the grader's verdict had no number for the score"}
            if verdict.get("problem"):
                problems.append(f"{grade_id} scored 0: {verdict['problem']}")
            self._set(cell, max(0.0, min(score, points)))
            return
        try:
            super()._add_score(cell, resources)
        except Exception as error:  # nbgrader's determine_grade raises on these; one cell, not the cohort
            self.gradebook.db.rollback()
            problems.append(f"{grade_id} scored 0: {_score_problem(error, points)}")
            self._set(cell, 0.0)


def _score_problem(error: Exception, points: float) -> str:
    if isinstance(error, KeyError):
        return "its result was empty (nbgrader reads a test cell's result as partial credit)"
    if "max" in str(error).lower() or "greater" in str(error).lower():
        return f"its result is more than the cell's {points:g} points (nbgrader reads a test cell's result as partial credit)"
    return f"nbgrader could not score its output ({type(error).__name__})"


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


def not_graded_path(course: Course, assignment: str, student: str) -> Path:
    return course.state_dir(assignment) / "not-graded" / f"{student}.json"


def load_record(course: Course, assignment: str, student: str) -> dict | None:
    path = record_path(course, assignment, student)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def note_not_graded(course: Course, assignment: str, student: str, why: str, whose: str) -> None:
    """Remember why the last run left this submission ungraded (`whose`: "grader" or "submission"),
    for `export`'s status column; the next run grades it again."""
    try:
        _atomic_write(not_graded_path(course, assignment, student), json.dumps({
            "why": why, "whose": whose, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}))
    except OSError:
        pass  # a note for the export; never a reason to stop


def load_not_graded(course: Course, assignment: str, student: str) -> dict | None:
    try:
        return json.loads(not_graded_path(course, assignment, student).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def admission(course: Course, assignment: str, student: str) -> str | None:
    """Why nbgrader would fail this submission before grading it (None: it may be graded).

    As nbgrader's Autograde.init_assignment: an unknown student is created unless
    `Autograde.create_student` is False, and timestamp.txt must hold a date when present.
    """
    if not course.autograde_settings().create_student:
        with course.gradebook() as gb:
            try:
                gb.find_student(student)
            except MissingEntry:
                return (f"no student {student!r} in the gradebook and Autograde.create_student is False "
                        "(as nbgrader, not graded): add the student (`nbgrader db student add`) or drop the setting")
    try:
        course.timestamp(course.step_dir("submitted", student, assignment))
    except ValueError as error:
        return str(error)
    return None


def refuse(course: Course, assignment: str, student: str, why: str) -> None:
    """Leave a refused submission as nbgrader leaves it: the student is in the gradebook (when
    `create_student`), with no submission; and note why, for the export."""
    note_not_graded(course, assignment, student, why, "submission")
    if course.autograde_settings().create_student:
        with course.gradebook() as gb:
            gb.update_or_create_student(student)


def safe_relative(name: str) -> PurePosixPath | None:
    """`name` as a path inside a folder, or None when it would leave it (absolute, '..', empty)."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        return None
    if ".ipynb_checkpoints" in path.parts:
        return None
    return path


def write_files(staging: Path, files: dict, notebooks: tuple[str, ...]) -> list[str]:
    """Files the notebook wrote in its working directory, into autograded/ (as nbgrader leaves them
    there, since its kernel runs in that folder). Never the notebooks themselves; never outside."""
    problems = []
    for name, encoded in sorted((files or {}).items()):
        path = safe_relative(name)
        if path is None or (len(path.parts) == 1 and path.suffix == ".ipynb" and path.stem in notebooks):
            continue
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError, ValueError):
            problems.append(f"the file {name} the notebook wrote could not be kept (bad encoding)")
            continue
        target = staging / path
        try:
            parent = staging
            for part in path.parts[:-1]:  # never through a link or over a file
                parent = parent / part
                if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
                    raise OSError(f"{parent.name} is not a folder")
                parent.mkdir(exist_ok=True)
            if target.is_symlink() or target.is_dir():
                raise OSError("a folder or link is in the way")
            if target.exists():
                target.unlink()
            target.write_bytes(data)
        except OSError as error:
            problems.append(f"the file {name} the notebook wrote could not be kept ({error})")
    return problems


def record_result(course: Course, info: AssignmentInfo, result: dict) -> dict:
    """Put `result` (from a worker, or a shard's file) into the gradebook and autograded/.

    Raises SubmissionRefused (nbgrader would fail it too) or any error of ours; the caller
    counts either against this submission only. autograded/ is swapped in whole or not at all.
    """
    assignment, student = result["assignment"], result["student"]
    why = admission(course, assignment, student)
    if why:
        raise SubmissionRefused(why)
    submitted = course.step_dir("submitted", student, assignment)
    final = course.step_dir("autograded", student, assignment)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{assignment}.grading."))
    try:
        return _record(course, info, result, submitted, final, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record(course: Course, info: AssignmentInfo, result: dict, submitted: Path, final: Path, staging: Path) -> dict:
    assignment, student = result["assignment"], result["student"]
    # nbgrader's own API warns on every new submission (SQLAlchemy autoflush); it is harmless.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    flags, reasons = [], []
    if result.get("error"):
        reasons.append(result["error"])
    with course.gradebook() as gb:
        gb.update_or_create_student(student)
        timestamp = course.timestamp(submitted)
        if timestamp:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assignment, student)
    # The learner's own extra files, then the assignment's files over them (as nbgrader).
    for file in utils.find_all_files(str(submitted), list(course.coursedir.ignore) + ["*.ipynb"]):
        if not Path(file).is_symlink() and Path(file).is_file():
            target = staging / os.path.relpath(file, submitted)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
    source = course.source_dir(assignment)
    for file in course.extra_files(assignment):
        target = staging / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)

    def mark(notebook: str, items: list[str]) -> list[str]:
        return [f"{notebook}: {item}" if len(info.notebooks) > 1 else item for item in items]

    statuses = {}
    outcomes = result.get("notebooks", {})
    # Then what the notebooks wrote in their working folder (nbgrader's kernel runs in that folder).
    for notebook in info.notebooks:
        outcome = outcomes.get(notebook) or {}
        reasons += mark(notebook, write_files(staging, outcome.get("files") or {}, info.notebooks))
    reasons += write_files(staging, result.get("files") or {}, info.notebooks)
    for notebook in info.notebooks:
        outcome = outcomes.get(notebook) or {
            "status": "failed", "notebook": None, "flags": [],
            "reasons": ["the grader did not return this notebook (see the error above)"]}
        statuses[notebook] = outcome["status"]
        flags += mark(notebook, outcome.get("flags", []))
        reasons += mark(notebook, outcome.get("reasons", []))
        text = outcome.get("notebook")
        resources = _resources(student, assignment, notebook, course.db_url, staging)
        verdicts = outcome.get("verdicts")
        resources["autograder"] = {"verdicts": verdicts if isinstance(verdicts, dict) else None, "problems": []}
        if text is not None:
            exporter = _exporter(course.config, [VerdictSaveAutoGrades, AssignLatePenalties, CheckCellMetadata])
            output, resources = exporter.from_notebook_node(nbformat.reads(text, as_version=4), resources=resources)
            (staging / f"{notebook}.ipynb").write_text(output, encoding="utf-8")
            if outcome["status"] == "graded":
                reasons += mark(notebook, resources["autograder"]["problems"])
        if outcome["status"] != "graded":
            with course.gradebook() as gb:
                _zero(gb, assignment, student, notebook)
                if text is None:
                    submission = gb.find_submission_notebook(notebook, assignment, student)
                    submission.late_submission_penalty = None
                    gb.db.commit()
    permissions = int(str(664 if course.coursedir.groupshared else 444), 8)
    for path in staging.rglob("*"):
        if path.is_file() and not path.is_symlink():
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
        penalty = float(submission.late_submission_penalty or 0.0)
    summary = {
        "student": student,
        "assignment": assignment,
        "digest": result.get("digest"),
        "score": score,
        "max_score": max_score,
        "late_submission_penalty": penalty,
        "status": "graded" if all(s == "graded" for s in statuses.values()) and not result.get("error") else "zero",
        "notebooks": statuses,
        "flags": flags,
        "reasons": reasons,
        "seconds": result.get("seconds"),
        "cost": result.get("cost"),
        "graded_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _atomic_write(record_path(course, assignment, student), json.dumps(summary, indent=1))
    try:
        not_graded_path(course, assignment, student).unlink()
    except OSError:
        pass
    return summary
