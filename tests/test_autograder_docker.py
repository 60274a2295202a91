"""The grading image (autograder/Dockerfile), built and used under the real Docker engine.

The image is tagged by a hash of what goes into it, so it is built once and reused
until labkit, webapp, pyproject.toml or the autograder change. `--isolation docker`
then grades submissions, each kernel in a fresh container with no network: an honest
learner gets full marks there too, and network attempts and reads of source/ fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT, skip_unless_ci

from autograder import cohort
from autograder.course import Course
from autograder.grade import GradeOptions, grade
from autograder.image import DEFAULT_BASE, build_image, content_tag, image_exists
from autograder.sandbox import Limits

ASSIGNMENT = cohort.ASSIGNMENT
# The first build of the image (pip installs the course environment; the vfs storage
# driver copies every layer) takes minutes on CI; later runs reuse it.
pytestmark = pytest.mark.timeout(1800)


def _engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def image() -> str:
    if not _engine():
        skip_unless_ci("no Docker engine reachable (CI starts one)")
    base = os.environ.get("LABKIT_BASE_IMAGE")
    if base is None and not image_exists(content_tag(None)):
        probe = subprocess.run(["docker", "image", "inspect", DEFAULT_BASE], capture_output=True)
        if probe.returncode != 0:
            skip_unless_ci(f"no base image: set LABKIT_BASE_IMAGE (CI does) or `docker pull {DEFAULT_BASE}`")
    return build_image(base_image=base)


def test_the_image_runs_as_a_non_root_user(image: str) -> None:
    config = json.loads(subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True,
                                       check=True).stdout)[0]["Config"]
    assert config["User"] and config["User"].split(":")[0] not in ("", "0", "root")
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", image, "python", "-c",
                          "import os, nbgrader, labkit, webapp, autograder; print(os.getuid())"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1000"


@pytest.fixture(scope="module")
def graded_in_docker(image: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("docker"))
    cases = cohort.adversarial_cohort(course, network=True)
    for student in list((course / "submitted").iterdir()):
        if student.name not in ("honest", "network", "reader", "osexit"):
            shutil.rmtree(student)
    summary = grade(Course.open(course), ASSIGNMENT, GradeOptions(
        jobs=2, isolation="docker", image=image, limits=Limits(timeout=240, memory_mb=1024), progress=False))
    records = {p.stem: json.loads(p.read_text()) for p in (course / "autograder-results" / ASSIGNMENT).glob("*.json")}
    return {"course": course, "summary": summary, "records": records, "cases": cases}


def _fit_output(course: Path, student: str) -> str:
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb", as_version=4)
    cell = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fit-answer"][0]
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) for o in cell.outputs)


def test_an_honest_learner_gets_full_marks_in_a_container(graded_in_docker: dict) -> None:
    record = graded_in_docker["records"]["honest"]
    assert record["score"] == record["max_score"] == 11.0, record


def test_no_network_and_no_course_files_in_the_container(graded_in_docker: dict) -> None:
    course = graded_in_docker["course"]
    network = _fit_output(course, "network")
    assert "NETWORK-OPEN" not in network and network.count("NETWORK-BLOCKED") == 2
    assert "SOURCE-BLOCKED" in _fit_output(course, "reader")
    assert graded_in_docker["records"]["network"]["score"] == 11.0


def test_a_crash_in_a_container_gets_zero_and_the_rest_is_graded(graded_in_docker: dict) -> None:
    record = graded_in_docker["records"]["osexit"]
    assert record["score"] == 0 and "kernel died" in "; ".join(record["reasons"])
    assert set(graded_in_docker["records"]) == {"honest", "network", "reader", "osexit"}


def test_no_container_outlives_grading(graded_in_docker: dict) -> None:
    label = f"label=autograder.course={graded_in_docker['course']}"
    names = subprocess.run(["docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"],
                           capture_output=True, text=True, check=True).stdout
    assert names.split() == []
