"""The trusted evaluator (autograder/trusted_execute.py, evaluators.py), through a real grading worker.

Test cells run in a fresh trusted kernel, never in the learner's: so honest submissions
score as before, every tampering attack of `attacks.tampering`/`shadowing` gains nothing,
the sandbox never sees a test cell (on disk or as code to run), each test cell's points
are nbgrader's `determine_grade` on the evaluator's outputs (the verdicts), learner
functions called by the tests behave as under nbgrader (stderr costs the cell, their
exceptions are the same builtins, a test that times out interrupts the learner's call),
and submitted notebooks that are links or not files are refused without being read.

Needs root, as the grader's other isolation tests (CI runs as root).
"""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from assignment_runner import anything_class
from conftest import REPO_ROOT, skip_unless_ci

from autograder import attacks, cohort
from autograder.course import Course, snapshot_gradebook
from autograder.sandbox import Limits

ASSIGNMENT_3 = "03-kubernetes-hierarchy"
ASSIGNMENT_4 = "04-health-discovery-config"
ASSIGNMENT_5 = "05-scaling-and-availability"
ASSIGNMENT_6 = "06-deploy-to-gke"
# student -> (assignment, notebook) for the submissions that are not of assignment 1
OTHER_ASSIGNMENTS = {"honest3": (ASSIGNMENT_3, "kubernetes-hierarchy"),
                     **{student: (ASSIGNMENT_4, "health-discovery-config") for student in ("honest4", "blank4", "anything4")},
                     **{student: (ASSIGNMENT_5, "scaling-and-availability") for student in ("honest5", "blank5", "anything5")},
                     **{student: (ASSIGNMENT_6, "deploy-to-gke") for student in ("honest6", "blank6", "anything6")}}
FIT_POINTS = 2.0

# Learner code beside the right answers, to check what a called function may do.
CALLED = {
    # prints to stderr inside the function the tests call: nbgrader gives the test cell 0
    "p-stderr": ("fit", "import sys\n", "    print('debug', file=sys.stderr)\n"),
    # answers a numpy-like object (a tuple here): not plain data
    "p-tuple": ("density", "", None),
    # loops forever on a hidden input only: that test cell times out, the next ones still score
    "p-hang": ("fit", "", "    while host_gib == 64 and per_instance_mib == 2048:\n        pass\n"),
    # writes a file in its working directory: kept in the result's files
    "p-writer": ("fit", "import os\nos.makedirs('notes', exist_ok=True)\nopen('notes/out.txt', 'w').write('hello')\n", None),
}


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the evaluator's tests grade with process isolation, which needs root (CI runs as root)")


def _called_submission(course: Path, student: str):
    exercise, before, inside = CALLED[student]
    nb = cohort.learner_version(course, {})
    cell = cohort.answer_cell(nb, exercise)
    if student == "p-tuple":
        cell.source += "\n_density = density\ndef density(*args):\n    return tuple(_density(*args).items())\n"
    elif inside:
        head, body = cell.source.split(":\n", 1)
        cell.source = before + head + ":\n" + inside + body
    else:
        cell.source = before + cell.source
    return nb


def _answered(course: Path, assignment: str, notebook: str, answer=None):
    """The released notebook with each answer cell replaced: by the source's solution (``answer`` None),
    or by ``answer(grade_id, solution)``; a blank submission is the release itself."""
    source = nbformat.read(course / "source" / assignment / f"{notebook}.ipynb", as_version=4)
    nb = nbformat.read(course / "release" / assignment / f"{notebook}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            solution = "\n".join(line for line in answers[grade_id].split("\n") if "### " not in line)
            cell.source = solution if answer is None else answer(grade_id, solution)
    return nb


def _equal_to_anything(grade_id: str, solution: str) -> str:
    """Every function of the cell answers an object equal to everything (not plain data: it must score 0)."""
    head = solution.split(":\n", 1)[0]
    return anything_class() + head + ":\n    return _Anything()\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every submission of this module graded by one real worker (fork server, evaluators)."""
    scratch = tmp_path_factory.mktemp("evaluator")
    os.chmod(scratch, 0o711)
    course_root = cohort.make_course(REPO_ROOT, scratch / "course")
    with (course_root / "nbgrader_config.py").open("a") as config:
        # short, so that p-hang's timed-out cell costs little; long enough for assignment 6's deploy test,
        # whose first submission asks gcloud about 15 commands (about 1 s of CPU each; 8 s was too short on 2 busy cores)
        config.write("\nc.Execute.timeout = 20\n")
    for assignment in (ASSIGNMENT_3, ASSIGNMENT_4, ASSIGNMENT_5, ASSIGNMENT_6):
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"], cwd=course_root,
                       env=cohort.nbgrader_env(), capture_output=True, check=True)
    cases = {**attacks.tampering(course_root), **attacks.shadowing(course_root),
             **attacks.reading_notebook(course_root), **attacks.links(course_root)}
    cohort.write(course_root, "honest", cohort.learner_version(course_root, {}))
    cohort.write(course_root, "allwrong", attacks._all_wrong(course_root))
    for student in CALLED:
        cohort.write(course_root, student, _called_submission(course_root, student))
    for student, (assignment, notebook) in OTHER_ASSIGNMENTS.items():
        target = course_root / "submitted" / student / assignment / f"{notebook}.ipynb"
        target.parent.mkdir(parents=True)
        if student.startswith("blank"):
            shutil.copy(course_root / "release" / assignment / f"{notebook}.ipynb", target)
        else:
            nbformat.write(_answered(course_root, assignment, notebook, _equal_to_anything if student.startswith("anything") else None), target)

    course = Course.open(course_root)
    snapshot = snapshot_gradebook(course, scratch / "snapshot.db")
    settings = {"course_root": str(course_root), "limits": Limits().as_dict(), "isolation": "process",
                "image": "", "slots_dir": str(scratch / "run" / "slots"), "kernel_name": "python3", "fork_server": True}
    env = dict(os.environ)
    from autograder.worker import worker_main

    parent, child = mp.get_context("fork").Pipe()
    worker = mp.get_context("fork").Process(target=worker_main, args=(child, 0, settings), daemon=True)
    worker.start()
    results = {}
    try:
        students = sorted(p.name for p in (course_root / "submitted").iterdir())
        for student in students:
            assignment, notebook = OTHER_ASSIGNMENTS.get(student, (cohort.ASSIGNMENT, cohort.NOTEBOOK))
            source = course_root / "source" / assignment
            parent.send({"student": student, "assignment": assignment, "notebooks": [notebook], "digest": "",
                         "submission_dir": str(course_root / "submitted" / student / assignment),
                         "snapshot_url": snapshot, "ignore": [], "more": student != students[-1],
                         "extra_files": [(str(f), str(f.relative_to(source))) for f in source.rglob("*")
                                         if f.is_file() and f.suffix != ".ipynb"]})
            assert parent.poll(600), f"the worker did not answer for {student}"
            results[student] = parent.recv()
            if "grader_fault" in results[student]:
                print(f"FAULT {student}: {results[student]['grader_fault']}", file=sys.stderr)
        parent.send(None)
        worker.join(60)
    finally:
        if worker.is_alive():
            worker.kill()
        os.environ.clear()
        os.environ.update(env)
    return {"course": course_root, "cases": cases, "results": results}


def notebook_of(graded: dict, student: str) -> dict:
    result = graded["results"][student]
    assert "grader_fault" not in result, result["grader_fault"] + result.get("traceback", "")
    return next(iter(result["notebooks"].values()))


def cell_outputs(entry: dict, grade_id: str) -> str:
    nb = nbformat.reads(entry["notebook"], as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(str(o.get("text", "")) + str(o.get("ename", "")) + str(o.get("evalue", "")) + str(o.get("data", "")) for o in cell.outputs)


def total(entry: dict) -> float:
    return sum(v["score"] for v in entry["verdicts"].values())


def test_an_honest_submission_gets_every_point_from_the_verdicts(graded: dict) -> None:
    entry = notebook_of(graded, "honest")
    assert entry["status"] == "graded", entry["reasons"]
    assert set(entry["verdicts"]) == {f"{e}-test" for e in cohort.EXERCISES}
    assert all(v["score"] == v["max_score"] and v["problem"] is None for v in entry["verdicts"].values()), entry["verdicts"]
    assert total(entry) == 11.0


def test_wrong_answers_score_zero_and_the_tests_say_why(graded: dict) -> None:
    entry = notebook_of(graded, "allwrong")
    assert total(entry) == 0.0
    assert "how_many_fit(16, 2, 1536)" in cell_outputs(entry, "fit-test")


@pytest.mark.parametrize("student", sorted(attacks.TAMPERING) + ["s-labkit"])
def test_tampering_from_the_learners_kernel_gains_nothing(graded: dict, student: str) -> None:
    """Each of these got 5 to 11 of 11 points for wrong answers before the evaluator (see attacks.py)."""
    entry = notebook_of(graded, student)
    assert entry["status"] == "graded", entry["reasons"]
    assert len(entry["verdicts"]) == 5 and total(entry) == 0.0, entry["verdicts"]


def test_the_sandbox_never_holds_a_test_cell(graded: dict) -> None:
    disk = notebook_of(graded, "r-disk")
    memory = notebook_of(graded, "r-memory")
    assert total(disk) == total(memory) == 11.0
    # what the learner's code printed (and copied) holds no hidden test...
    for entry in (disk, memory):
        printed = cell_outputs(entry, "fit-answer")
        assert "LEAK" in printed
        for marker in attacks.HIDDEN_MARKERS:
            assert marker not in printed
    leak = base64.b64decode(disk["files"]["leak.txt"]).decode()
    assert "how_many_fit(16, 2, 1536)" in leak  # it did read the notebook: the tests as released
    assert not any(marker in leak for marker in attacks.HIDDEN_MARKERS)
    # ...and no test cell was ever given to the learner's kernel to run, not even the visible part
    # (before, its pre_run_cell hook printed each hidden test into the test cell's output)
    assert "LEAK" not in cell_outputs(memory, "density-test")
    seen = base64.b64decode(memory["files"]["seen.txt"]).decode()
    assert "def density(" in seen
    assert "checks.expect" not in seen and "HIDDEN" not in seen.replace("'HIDDEN ' + 'TESTS'", "")


@pytest.mark.parametrize("student", ["l-source", "l-secret", "l-dangling", "l-fifo", "l-folder"])
def test_a_notebook_that_is_a_link_or_not_a_file_is_refused_unread(graded: dict, student: str) -> None:
    entry = notebook_of(graded, student)
    assert entry["status"] == "unreadable" and not entry["verdicts"]
    reason = " ".join(entry["reasons"])
    assert "submit the notebook file itself" in reason
    assert attacks.SECRET[:10] not in reason and "cells" not in reason


def test_a_called_function_that_prints_to_stderr_costs_its_test_cell(graded: dict) -> None:
    entry = notebook_of(graded, "p-stderr")
    # density's answer calls how_many_fit too: both test cells see the stderr, as under nbgrader
    for test in ("fit-test", "density-test"):
        assert entry["verdicts"][test]["score"] == 0.0
        assert "debug" in cell_outputs(entry, test)
    assert total(entry) == 11.0 - 2 * FIT_POINTS


def test_an_answer_that_is_not_plain_data_fails_with_what_to_return(graded: dict) -> None:
    entry = notebook_of(graded, "p-tuple")
    assert entry["verdicts"]["density-test"]["score"] == 0.0
    assert "plain data" in cell_outputs(entry, "density-test")


def test_a_test_that_times_out_interrupts_the_learners_call_and_grading_goes_on(graded: dict) -> None:
    entry = notebook_of(graded, "p-hang")
    assert entry["status"] == "graded", entry["reasons"]
    assert entry["verdicts"]["fit-test"]["score"] == 0.0
    assert "CellTimeoutError" in cell_outputs(entry, "fit-test")
    # density calls how_many_fit again: the sandbox was interrupted, not left looping
    assert total(entry) == 11.0 - FIT_POINTS


def test_files_the_notebook_writes_are_returned_and_the_cost_is_split(graded: dict) -> None:
    result = graded["results"]["p-writer"]
    entry = notebook_of(graded, "p-writer")
    assert base64.b64decode(entry["files"]["notes/out.txt"]) == b"hello"
    assert f"{cohort.NOTEBOOK}.ipynb" not in entry["files"]
    assert set(result["cost"]) == {"sandbox", "evaluator", "clusters"}
    assert result["cost"]["sandbox"] > 0 and result["cost"]["evaluator"] > 0


def test_assignment_3_reaches_the_learners_functions_through_tunnels(graded: dict) -> None:
    """The evaluator's practice clusters are handed to the sandbox as tunnels: the solution scores all."""
    result = graded["results"]["honest3"]
    entry = notebook_of(graded, "honest3")
    assert entry["status"] == "graded", entry["reasons"]
    assert entry["verdicts"] and all(v["score"] == v["max_score"] for v in entry["verdicts"].values()), entry["verdicts"]
    assert result["cost"]["evaluator"] > 0


def test_assignment_4_solution_scores_full_and_blank_or_always_equal_answers_score_zero(graded: dict) -> None:
    """Live practice clusters (controllers on a frozen clock) built in the evaluator, learners' functions
    called through tunnels: the solution gets all 16 points; a blank submission and one whose every
    function returns an object equal to anything get none, and the tests say why."""
    solved = notebook_of(graded, "honest4")
    assert solved["status"] == "graded", solved["reasons"]
    assert len(solved["verdicts"]) == 6 and all(v["score"] == v["max_score"] for v in solved["verdicts"].values()), solved["verdicts"]
    assert total(solved) == 16.0
    for student in ("blank4", "anything4"):
        entry = notebook_of(graded, student)
        assert total(entry) == 0.0, (student, entry["verdicts"])
    assert "NotImplementedError" in cell_outputs(notebook_of(graded, "blank4"), "probes-test")
    assert "returned a __main__._Anything: return plain data" in cell_outputs(notebook_of(graded, "anything4"), "diagnose-test")


def test_assignment_5_solution_scores_full_and_blank_or_always_equal_answers_score_zero(graded: dict) -> None:
    """Plain-data exercises checked against labkit.autoscaling and live rollouts, drains and zone failures
    in the evaluator: the solution gets all 16 points, a blank or always-equal submission none."""
    solved = notebook_of(graded, "honest5")
    assert solved["status"] == "graded", solved["reasons"]
    assert len(solved["verdicts"]) == 5 and all(v["score"] == v["max_score"] for v in solved["verdicts"].values()), solved["verdicts"]
    assert total(solved) == 16.0
    for student in ("blank5", "anything5"):
        assert total(notebook_of(graded, student)) == 0.0, (student, notebook_of(graded, student)["verdicts"])
    assert "NotImplementedError" in cell_outputs(notebook_of(graded, "blank5"), "hpa-test")
    assert "return plain data" in cell_outputs(notebook_of(graded, "anything5"), "hpa-test")


def test_assignment_6_solution_scores_full_and_blank_or_always_equal_answers_score_zero(graded: dict) -> None:
    """Command plans checked by gcloud and gke_plan, manifests applied to a GKE-like rehearsal cluster, costs and
    a mode choice, in the evaluator: the solution gets all 17 points, a blank or always-equal submission none."""
    solved = notebook_of(graded, "honest6")
    assert solved["status"] == "graded", solved["reasons"]
    assert len(solved["verdicts"]) == 5, solved["verdicts"]
    for test, verdict in solved["verdicts"].items():
        assert verdict["score"] == verdict["max_score"], (test, verdict, cell_outputs(solved, test)[-1500:])
    assert total(solved) == 17.0
    for student in ("blank6", "anything6"):
        assert total(notebook_of(graded, student)) == 0.0, (student, notebook_of(graded, student)["verdicts"])
    assert "NotImplementedError" in cell_outputs(notebook_of(graded, "blank6"), "deploy-test")
    assert "return plain data" in cell_outputs(notebook_of(graded, "anything6"), "mode-test")
