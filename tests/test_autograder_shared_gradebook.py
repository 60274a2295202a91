"""autograder/shared_gradebook.py: one engine per gradebook for a grading run, same rows as nbgrader's.

Recording opens nbgrader's `Gradebook` four times per submission; inside `shared_engines()` those
openings share one SQLAlchemy engine. What must hold: the gradebook ends up exactly as without
sharing, every opening sees what the one before committed, a gradebook made again is not written
through a stale engine, and a process forked inside the block never touches the parent's connections.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbgrader import utils

from conftest import REPO_ROOT

from autograder import cohort
from autograder.shared_gradebook import SharedGradebook, shared_engines


@pytest.fixture(scope="module")
def base_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("shared") / "course")
    cohort.normal_cohort(course, 4)
    return course


def _url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def _students(course: Path) -> set[str]:
    with sqlite3.connect(course / "gradebook.db") as db:
        return {row[0] for row in db.execute("SELECT id FROM student")}


def _add_student(course: Path, student: str) -> Any:
    """Open the gradebook, add `student`, close it; the engine that opening used."""
    with SharedGradebook(_url(course)) as gb:
        gb.update_or_create_student(student)
        return gb.engine


def test_inside_the_block_openings_share_one_engine_and_see_each_other_s_commits(base_course: Path,
                                                                                 tmp_path: Path) -> None:
    course = Path(shutil.copytree(base_course, tmp_path / "course"))
    with shared_engines():
        engine = _add_student(course, "ada")
        with SharedGradebook(_url(course)) as second:
            assert second.engine is engine, "a second opening in the block builds its own engine"
            assert second.find_student("ada").id == "ada"
    assert "ada" in _students(course)
    with SharedGradebook(_url(course)) as outside, SharedGradebook(_url(course)) as again:
        assert outside.engine is not engine and again.engine is not outside.engine, \
            "outside the block each opening must be nbgrader's own (its own engine)"


def test_a_gradebook_made_again_is_not_written_through_the_old_engine(base_course: Path, tmp_path: Path) -> None:
    course = Path(shutil.copytree(base_course, tmp_path / "course"))
    with shared_engines():
        engine = _add_student(course, "ada")
        (course / "gradebook.db").unlink()
        shutil.copy(base_course / "gradebook.db", course / "gradebook.db")  # another file at the same path
        assert _add_student(course, "grace") is not engine
    assert "grace" in _students(course) and "ada" not in _students(course), \
        "the write went to the deleted file, not to the gradebook on disk"


def test_a_process_forked_inside_the_block_opens_its_own_engine(base_course: Path, tmp_path: Path) -> None:
    course = Path(shutil.copytree(base_course, tmp_path / "course"))
    with shared_engines():
        engine = _add_student(course, "parent")
        pid = os.fork()
        if pid == 0:  # the child: a grading worker forked while the parent records
            code = 1
            try:
                with SharedGradebook(_url(course)) as child:
                    code = 2 if child.engine is engine else 0
                    child.update_or_create_student("child")
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child used (2) or could not open (1) the gradebook"
        with SharedGradebook(_url(course)) as gb:  # the parent's pooled connection still works
            assert gb.engine is engine
            assert gb.find_student("child").id == "child"
            gb.update_or_create_student("after")
    assert _students(course) >= {"parent", "child", "after"}


def _results(course: Path) -> list[dict]:
    """What the workers would send for each submission: the first pass's notebook and varied verdicts."""
    from autograder.course import Course
    from autograder.execute import sanitize

    loaded = Course.open(course)
    results = []
    for index, student in enumerate(sorted(p.name for p in (course / "submitted").iterdir())):
        path = course / "submitted" / student / cohort.ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb"
        nb, _ = sanitize(path, student, cohort.ASSIGNMENT, cohort.NOTEBOOK, loaded.db_url, loaded.config)
        verdicts = {}
        for number, cell in enumerate(c for c in nb.cells if utils.is_grade(c) and not utils.is_solution(c)):
            points = float(cell.metadata.nbgrader.points)
            verdicts[cell.metadata.nbgrader.grade_id] = {"score": points if (index + number) % 3 else 0.0,
                                                         "max_score": points, "problem": None}
        results.append({"student": student, "assignment": cohort.ASSIGNMENT, "digest": "d",
                        "notebooks": {cohort.NOTEBOOK: {"status": "graded", "notebook": nbformat.writes(nb),
                                                        "flags": [], "reasons": [], "verdicts": verdicts}}})
    return results


def test_recording_a_cohort_in_the_block_builds_one_engine_and_the_same_gradebook(base_course: Path, tmp_path: Path,
                                                                                  monkeypatch) -> None:
    import nbgrader.api

    from autograder.course import Course, assignment_info
    from autograder.record import record_result

    plain, shared = (Path(shutil.copytree(base_course, tmp_path / name)) for name in ("plain", "shared"))
    results = _results(plain)
    built = []
    real_create_engine = nbgrader.api.create_engine
    monkeypatch.setattr(nbgrader.api, "create_engine", lambda *a, **k: built.append(a) or real_create_engine(*a, **k))

    course = Course.open(plain)
    for result in results:
        record_result(course, assignment_info(course, cohort.ASSIGNMENT), result)
    plain_engines, built[:] = len(built), []
    course = Course.open(shared)
    with shared_engines():
        for result in results:
            record_result(course, assignment_info(course, cohort.ASSIGNMENT), result)
    assert plain_engines >= 4 * len(results), "nbgrader's own path opens the gradebook per preprocessor"
    assert len(built) == 1, f"{len(built)} engines for {len(results)} submissions in the block"
    scores = cohort.gradebook_scores(shared)
    assert scores == cohort.gradebook_scores(plain)
    assert len({s["total"] for s in scores.values()}) > 1, "the verdicts should spread the scores"
