"""The README's instructor workflow, command for command, on a scratch copy of the course.

Generate the assignment, take in two submissions from an LMS-style zip
(`nbgrader zip_collect`), autograde, make feedback and export grades: a learner
who submitted the solutions gets every point, one who submitted the untouched
release notebook gets none, and the feedback keeps hidden tests out of sight
only where nbgrader does (see README).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT, nbgrader_env

ASSIGNMENT = "01-vms-and-containers"
NOTEBOOK = "vms-and-containers.ipynb"


def nbgrader(course_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=nbgrader_env(),
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def total_points(path: Path) -> float:
    cells = nbformat.read(path, as_version=4).cells
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in cells if c.metadata.get("nbgrader", {}).get("grade"))


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course)
    shutil.copytree(REPO_ROOT / "source", course / "source")

    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")

    # An LMS download: one zip, files named <student>_<notebook>.
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as bundle:
        bundle.write(course / "source" / ASSIGNMENT / NOTEBOOK, f"alice_{NOTEBOOK}")
        bundle.write(course / "release" / ASSIGNMENT / NOTEBOOK, f"bob_{NOTEBOOK}")
    nbgrader(
        course, "zip_collect", ASSIGNMENT, "--force",
        r"--FileNameCollectorPlugin.named_regexp=.*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$",
    )
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", "grades.csv")
    return course


def test_zip_collect_puts_each_learner_in_submitted(graded_course: Path) -> None:
    for student in ("alice", "bob"):
        assert (graded_course / "submitted" / student / ASSIGNMENT / NOTEBOOK).exists()


def test_grades_reward_answers_and_nothing_else(graded_course: Path) -> None:
    rows = {row["student_id"]: row for row in csv.DictReader((graded_course / "grades.csv").open())}
    maximum = total_points(REPO_ROOT / "source" / ASSIGNMENT / NOTEBOOK)
    assert float(rows["alice"]["max_score"]) == maximum
    assert float(rows["alice"]["score"]) == maximum
    assert float(rows["bob"]["score"]) == 0.0


def test_feedback_is_written_for_each_learner(graded_course: Path) -> None:
    for student in ("alice", "bob"):
        feedback = graded_course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        assert feedback.exists()
        assert "how_many_fit" in feedback.read_text(encoding="utf-8")


def test_a_deleted_test_cell_is_restored_and_graded(tmp_path: Path, graded_course: Path) -> None:
    """OverwriteCells.add_missing_cells: deleting a test cell does not dodge it."""
    submission = nbformat.read(graded_course / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    submission.cells = [c for c in submission.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "fit-test"]
    # carol also breaks her answer, so the restored test must fail
    for cell in submission.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "fit-answer":
            cell.source = "def how_many_fit(host_gib, reserved_gib, per_instance_mib):\n    return 1\n"
    target = graded_course / "submitted" / "carol" / ASSIGNMENT / NOTEBOOK
    target.parent.mkdir(parents=True)
    nbformat.write(submission, target)
    nbgrader(graded_course, "autograde", ASSIGNMENT, "--student", "carol", "--force")
    graded = nbformat.read(graded_course / "autograded" / "carol" / ASSIGNMENT / NOTEBOOK, as_version=4)
    restored = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fit-test"]
    assert restored, "the deleted test cell was not put back"
    assert any(o.get("output_type") == "error" for o in restored[0].outputs)
