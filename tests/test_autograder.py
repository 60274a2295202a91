"""The cohort grader (autograder/) with process isolation, on scratch copies of the course.

- an adversarial cohort (loops, bombs, exits, huge output, edited and deleted tests,
  broken files, a notebook that attacks the gradebook or reads source/) is graded
  right, nothing a learner submitted changes, and no process outlives grading;
- a normal cohort gets exactly the scores `nbgrader autograde` gives it, cell by cell;
- interrupting and rerunning loses nothing and regrades nothing twice;
- import, feedback (no hidden tests) and the CSV export.

Grading as root is what CI does; elsewhere these tests skip (they need root to give
each kernel its own uid and namespaces).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT, nbgrader_env, skip_unless_ci

from autograder import cohort
from autograder.course import Course
from autograder.grade import GradeOptions, grade
from autograder.sandbox import UID_BASE, Limits

ASSIGNMENT = cohort.ASSIGNMENT
BUDGET = 12.0


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the autograder's process isolation tests need root (CI runs them as root)")


def autograder_cli(course: Path, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    env = nbgrader_env()
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env.update(kwargs.pop("env", {}))
    result = subprocess.run([sys.executable, "-m", "autograder", *args, "--course", str(course)], cwd=course, env=env,
                            capture_output=True, text=True, timeout=600, **kwargs)
    if check:
        assert result.returncode == 0, f"autograder {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def fingerprint(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def kernel_processes() -> list[str]:
    """Processes owned by the uids kernels get, and kernel fork servers (there must be
    none once grading is over)."""
    left = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if UID_BASE <= entry.stat().st_uid < UID_BASE + 1000 or \
                        str(REPO_ROOT / "autograder" / "zygote.py").encode() in (Path(entry.path) / "cmdline").read_bytes():
                    state = (Path(entry.path) / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        left.append(f"{entry.name}: {(Path(entry.path) / 'cmdline').read_bytes()!r}")
            except OSError:
                pass
    return left


def outputs_of(course: Path, student: str, grade_id: str) -> str:
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb", as_version=4)
    cell = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id][0]
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) for o in cell.outputs)


def rows(path: Path) -> dict[str, dict]:
    return {row["student_id"]: row for row in csv.DictReader(path.open())}


# --- the adversarial cohort ---------------------------------------------------------

@pytest.fixture(scope="module")
def adversarial(tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("adversarial"))
    cases = cohort.adversarial_cohort(course)
    submitted = fingerprint(course / "submitted")
    source = fingerprint(course / "source")
    started = time.monotonic()
    result = autograder_cli(course, "grade", ASSIGNMENT, "--jobs", "2", "--timeout", str(BUDGET), "--quiet")
    seconds = time.monotonic() - started
    autograder_cli(course, "export", ASSIGNMENT, "--csv", str(course / "grades.csv"))
    return {"course": course, "cases": cases, "submitted": submitted, "source": source, "seconds": seconds,
            "stderr": result.stderr, "rows": rows(course / "grades.csv")}


def test_every_adversarial_submission_gets_a_row(adversarial: dict) -> None:
    assert set(adversarial["rows"]) == set(adversarial["cases"])
    for row in adversarial["rows"].values():
        assert float(row["max_score"]) == 11.0, row


@pytest.mark.parametrize("student", ["loop", "swallow", "forkbomb"])
def test_endless_submissions_get_zero_for_running_out_of_time(adversarial: dict, student: str) -> None:
    row = adversarial["rows"][student]
    assert float(row["score"]) == 0 and row["status"] == "zero"
    assert "ran out of time" in row["reasons"]


def test_a_looping_submission_costs_at_most_its_budget(adversarial: dict) -> None:
    record = (adversarial["course"] / "autograder-results" / ASSIGNMENT / "swallow.json").read_text()
    seconds = float(__import__("json").loads(record)["seconds"])
    assert seconds <= BUDGET, f"a loop that swallows KeyboardInterrupt cost {seconds} s for a {BUDGET} s budget"
    assert seconds >= BUDGET - 1, f"the loop was stopped after {seconds} s, well before its {BUDGET} s budget"


def test_a_dying_kernel_gets_zero_and_the_reason(adversarial: dict) -> None:
    row = adversarial["rows"]["osexit"]
    assert float(row["score"]) == 0 and "kernel died" in row["reasons"]


@pytest.mark.parametrize("student", ["sysexit", "membomb"])
def test_errors_cost_only_the_tests_that_fail(adversarial: dict, student: str) -> None:
    """sys.exit and MemoryError are errors in one cell, as under nbgrader: fit and density fail."""
    row = adversarial["rows"][student]
    assert float(row["score"]) == 7.0, row
    assert row["status"] == "graded"


def test_huge_output_is_cut_and_flagged_but_scored(adversarial: dict) -> None:
    row = adversarial["rows"]["shouter"]
    assert float(row["score"]) == 11.0
    assert "printed more than" in row["flags"]
    graded = adversarial["course"] / "autograded" / "shouter" / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb"
    assert graded.stat().st_size < 1024 * 1024


def test_broken_files_get_zero_and_a_reason(adversarial: dict) -> None:
    for student, words in (("malformed", "JSON"), ("empty", "empty")):
        row = adversarial["rows"][student]
        assert float(row["score"]) == 0 and words in row["reasons"], row


def test_deleted_and_edited_tests_are_restored_and_flagged(adversarial: dict) -> None:
    deleter, editor, pointer = (adversarial["rows"][s] for s in ("deleter", "editor", "pointer"))
    assert float(deleter["score"]) == 7.0 and "deleted grade cell fit-test" in deleter["flags"]
    assert float(editor["score"]) == 9.0 and "edited locked cell density-test" in editor["flags"]
    assert float(pointer["score"]) == 11.0 and float(pointer["max_score"]) == 11.0
    assert "changed the points of choose-test from 2 to 20" in pointer["flags"]
    assert adversarial["rows"]["honest"]["flags"] == "", "an untouched notebook must not be flagged"


def test_the_gradebook_and_source_are_out_of_reach(adversarial: dict) -> None:
    course = adversarial["course"]
    assert float(adversarial["rows"]["vandal"]["score"]) == 11.0
    assert "VANDAL-SUCCEEDED" not in outputs_of(course, "vandal", "fit-answer")
    assert outputs_of(course, "vandal", "fit-answer").count("VANDAL-BLOCKED") == 3
    assert b"garbage" not in (course / "gradebook.db").read_bytes()
    assert fingerprint(course / "source") == adversarial["source"]
    assert "SOURCE-BLOCKED" in outputs_of(course, "reader", "fit-answer")


def test_kernels_have_no_network_in_process_isolation(adversarial: dict, tmp_path: Path) -> None:
    course = cohort.make_course(REPO_ROOT, tmp_path / "net")
    nb = cohort._with_prefix(course, "fit", "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
                             "    print('NETWORK-OPEN')\nexcept OSError as e:\n    print('NETWORK-BLOCKED', e)")
    cohort.write(course, "net", nb)
    grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, limits=Limits(timeout=60), progress=False))
    assert "NETWORK-BLOCKED" in outputs_of(course, "net", "fit-answer")


def test_nothing_submitted_is_changed_and_nothing_outlives_grading(adversarial: dict) -> None:
    assert fingerprint(adversarial["course"] / "submitted") == adversarial["submitted"]
    assert kernel_processes() == []
    assert float(adversarial["rows"]["daemon"]["score"]) == 11.0


def test_a_rerun_skips_what_is_graded(adversarial: dict) -> None:
    result = autograder_cli(adversarial["course"], "grade", ASSIGNMENT, "--quiet")
    assert f"{len(adversarial['cases'])} skipped" in result.stderr


def test_feedback_leaves_hidden_tests_out(adversarial: dict) -> None:
    course = adversarial["course"]
    autograder_cli(course, "feedback", ASSIGNMENT, "--student", "honest", "--student", "empty", "--student", "deleter")
    page = (course / "feedback" / "honest" / ASSIGNMENT / f"{cohort.NOTEBOOK}.html").read_text()
    assert "how_many_fit(16, 2, 1536)" in page          # a visible test
    assert "how_many_fit(64, 4, 2048)" not in page      # a hidden one
    assert "HIDDEN TESTS" not in page
    deleter = (course / "feedback" / "deleter" / ASSIGNMENT / f"{cohort.NOTEBOOK}.html").read_text()
    assert "how_many_fit(64, 4, 2048)" not in deleter, "a failing hidden test's traceback must not quote it"
    empty = (course / "feedback" / "empty" / ASSIGNMENT / f"{cohort.NOTEBOOK}.html").read_text()
    assert "could not be graded" in empty and "empty" in empty


# --- submissions that used to stop everyone ------------------------------------------

def test_no_submission_stops_the_cohort_s_grading_or_feedback(tmp_path: Path) -> None:
    """A test cell's result nbgrader cannot score (1000 for 2 points, an empty text/plain), a
    hidden-tests marker in an answer, a timestamp.txt with no date, a folder with no notebook:
    each costs at most its own submission; everyone else is graded, exported and gets a page."""
    from autograder import attacks

    course = cohort.make_course(REPO_ROOT, tmp_path / "stoppers")
    cohort.write(course, "honest", cohort.learner_version(course, {}))
    cases = attacks.stoppers(course)
    result = autograder_cli(course, "grade", ASSIGNMENT, "--jobs", "2", "--quiet", check=False)
    assert result.returncode == 1, result.stderr  # as nbgrader: one submission was not graded
    assert "stop-stamp" in result.stderr and "does not hold a date" in result.stderr, result.stderr
    assert "sometime last week" not in result.stderr
    autograder_cli(course, "export", ASSIGNMENT, "--csv", str(course / "grades.csv"))
    table = rows(course / "grades.csv")
    assert set(table) == {"honest", "stop-points", "stop-blank", "stop-marker", "stop-stamp"}, (sorted(table), result.stderr)
    assert float(table["honest"]["score"]) == 11 and float(table["stop-marker"]["score"]) == 11
    for student in ("stop-points", "stop-blank"):
        assert table[student]["status"] == "graded", table[student]
        assert float(table[student]["score"]) >= 9, table[student]  # at worst the fit test's 2 points
    assert table["stop-stamp"]["status"].startswith("not graded") and float(table["stop-stamp"]["score"]) == 0
    again = autograder_cli(course, "grade", ASSIGNMENT, "--quiet", check=False)
    assert "4 skipped" in again.stderr, again.stderr
    feedback = autograder_cli(course, "feedback", ASSIGNMENT)
    for student in ("honest", "stop-points", "stop-blank", "stop-marker"):
        page = course / "feedback" / student / ASSIGNMENT / f"{cohort.NOTEBOOK}.html"
        assert page.exists(), (student, feedback.stderr)
        assert "how_many_fit(64, 4, 2048)" not in page.read_text()
    assert "# ### BEGIN HIDDEN TESTS" in (course / "feedback" / "stop-marker" / ASSIGNMENT / f"{cohort.NOTEBOOK}.html").read_text()
    assert set(cases) >= {"stop-empty"}


# --- a normal cohort, against nbgrader autograde -------------------------------------

@pytest.fixture(scope="module")
def normal(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ours = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("ours"))
    students = cohort.normal_cohort(ours, 6)
    theirs = tmp_path_factory.mktemp("theirs")
    shutil.copytree(ours, theirs, dirs_exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT], cwd=theirs,
                            env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    summary = grade(Course.open(ours), ASSIGNMENT, GradeOptions(jobs=2, progress=False))
    return {"ours": ours, "theirs": theirs, "students": students, "summary": summary}


def test_scores_are_exactly_nbgrader_autograde_scores(normal: dict) -> None:
    ours = cohort.gradebook_scores(normal["ours"])
    theirs = cohort.gradebook_scores(normal["theirs"])
    assert set(ours) == set(normal["students"])
    assert ours == theirs
    assert len({s["total"] for s in ours.values()}) >= 3, "the cohort should have a spread of scores"


def test_autograded_notebooks_match_nbgrader_cell_by_cell(normal: dict) -> None:
    for student in normal["students"]:
        def outcome(root: Path) -> list:
            nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb", as_version=4)
            return [(c.metadata.get("nbgrader", {}).get("grade_id"), c.source,
                     [o.get("output_type") for o in c.get("outputs", [])]) for c in nb.cells]
        assert outcome(normal["ours"]) == outcome(normal["theirs"]), student


def test_interrupt_and_rerun_loses_nothing(normal: dict, tmp_path: Path) -> None:
    course = tmp_path / "interrupted"
    shutil.copytree(normal["ours"], course, ignore=shutil.ignore_patterns("autograded", "autograder-results", "feedback"))
    env = nbgrader_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    process = subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--jobs", "1", "--quiet"],
                               cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = course / "autograder-results" / ASSIGNMENT
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (records.exists() and any(records.glob("*.json"))):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    first = {p.stem for p in records.glob("*.json")}
    assert 0 < len(first) < len(normal["students"]), err
    assert kernel_processes() == []
    result = autograder_cli(course, "grade", ASSIGNMENT, "--jobs", "2", "--quiet")
    assert f"{len(first)} skipped" in result.stderr
    assert cohort.gradebook_scores(course) == cohort.gradebook_scores(normal["theirs"])


def test_export_has_a_row_per_learner(normal: dict, tmp_path: Path) -> None:
    autograder_cli(normal["ours"], "export", ASSIGNMENT, "--csv", str(tmp_path / "grades.csv"))
    table = rows(tmp_path / "grades.csv")
    theirs = cohort.gradebook_scores(normal["theirs"])
    assert set(table) == set(normal["students"])
    for student, row in table.items():
        assert float(row["score"]) == theirs[student]["total"]
        assert set(row) >= {"score", "max_score", "flags", "reasons"}


# --- import ---------------------------------------------------------------------------

def test_import_takes_good_files_and_refuses_the_rest(tmp_path: Path) -> None:
    course = cohort.make_course(REPO_ROOT, tmp_path / "course")
    good = (course / "release" / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb").read_bytes()
    bundle = tmp_path / "lms.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr(f"alice_{cohort.NOTEBOOK}.ipynb", good)
        archive.writestr(f"bob_12345_{cohort.NOTEBOOK}.ipynb", good)            # Canvas-style numbers
        archive.writestr(f"../evil_{cohort.NOTEBOOK}.ipynb", good)              # path traversal
        archive.writestr(f"/abs_{cohort.NOTEBOOK}.ipynb", good)
        archive.writestr(f"carol_{cohort.NOTEBOOK}.ipynb", good)
        archive.writestr(f"sub/carol_{cohort.NOTEBOOK}.ipynb", good + b" ")      # a duplicate
        archive.writestr(f"dave;rm_{cohort.NOTEBOOK}.ipynb", good)              # unsafe id
        archive.writestr("erin_other.ipynb", good)                              # not this assignment
        archive.writestr("notes.txt", b"hello")
        link = zipfile.ZipInfo(f"frank_{cohort.NOTEBOOK}.ipynb")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    before = bundle.read_bytes()
    out = autograder_cli(course, "import", ASSIGNMENT, str(bundle)).stdout
    assert bundle.read_bytes() == before
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["alice", "bob"]
    assert "2 taken, 8 refused" in out, out
    for words in ("path traversal", "duplicate", "unsafe student id", "not a notebook", "symbolic link", "not named"):
        assert words in out, words


def test_a_kernel_that_cannot_start_is_the_graders_fault_not_a_zero(tmp_path: Path) -> None:
    """With 8 MB of memory not even Python starts: nothing is recorded, the rerun grades it."""
    course = cohort.make_course(REPO_ROOT, tmp_path / "fault")
    cohort.write(course, "unlucky", cohort.learner_version(course, {}))
    summary = grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, limits=Limits(memory_mb=8), progress=False))
    assert list(summary["faults"]) == ["unlucky"] and "did not start" in summary["faults"]["unlucky"]
    assert not (course / "autograder-results" / ASSIGNMENT / "unlucky.json").exists()
    summary = grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, progress=False))
    assert summary["graded"] == ["unlucky"]


@pytest.mark.parametrize("victim, fork_server", [("bob", True), ("dave", True), ("dave", False)])
def test_a_worker_that_dies_costs_only_the_submission_it_was_grading(tmp_path: Path, monkeypatch, victim: str,
                                                                    fork_server: bool) -> None:
    """The worker dies (as under the OOM killer) on taking `victim`: that submission stays
    ungraded (the grader's fault, not a zero), the task queued behind it goes to a new
    worker, nothing the dead worker started lives on, and a rerun grades the victim."""
    from autograder import worker

    students = ["alice", "bob", "carol", "dave"]
    course = cohort.make_course(REPO_ROOT, tmp_path / "dying")
    for student in students:
        cohort.write(course, student, cohort.learner_version(course, {}))
    real_worker = worker.worker_main

    class DiesOnVictim:
        def __init__(self, conn) -> None:
            self.conn = conn

        def recv(self):
            task = self.conn.recv()
            if task is not None and task.get("student") == victim:
                os._exit(9)
            return task

        def __getattr__(self, name):
            return getattr(self.conn, name)

    monkeypatch.setattr(worker, "worker_main",
                        lambda conn, index, settings: real_worker(DiesOnVictim(conn), index, settings))
    summary = grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, progress=False, fork_server=fork_server))
    others = [s for s in students if s != victim]
    assert list(summary["faults"]) == [victim] and "worker died" in summary["faults"][victim]
    assert sorted(summary["graded"]) == others
    time.sleep(1)
    assert kernel_processes() == [], "the dead worker's kernels outlived it"
    monkeypatch.setattr(worker, "worker_main", real_worker)
    again = grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, progress=False))
    assert again["graded"] == [victim] and sorted(again["skipped"]) == others
    assert cohort.gradebook_scores(course)[victim]["total"] == 11
    assert kernel_processes() == []


def test_a_task_sent_to_a_worker_that_just_died_goes_to_its_successor(tmp_path: Path, monkeypatch) -> None:
    """The worker dies on taking bob while this process is about to send it carol: the send
    fails (a broken pipe), and carol waits for the new worker instead of the run stopping."""
    import multiprocessing.connection

    from autograder import worker

    students = ["alice", "bob", "carol", "dave"]
    course = cohort.make_course(REPO_ROOT, tmp_path / "dying")
    for student in students:
        cohort.write(course, student, cohort.learner_version(course, {}))
    real_worker, real_send, parent = worker.worker_main, multiprocessing.connection.Connection.send, os.getpid()

    def dies_on_bob(conn, index, settings):
        class Dies:
            def recv(self):
                task = conn.recv()
                if task is not None and task.get("student") == "bob":
                    os._exit(9)
                return task

            def __getattr__(self, name):
                return getattr(conn, name)
        return real_worker(Dies(), index, settings)

    def late_send(self, obj):
        if os.getpid() == parent and isinstance(obj, dict) and obj.get("student") == "carol" and "submission_dir" in obj:
            time.sleep(3)  # the worker takes bob and dies meanwhile: this send meets a closed pipe
        return real_send(self, obj)

    monkeypatch.setattr(worker, "worker_main", dies_on_bob)
    monkeypatch.setattr(multiprocessing.connection.Connection, "send", late_send)
    summary = grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=1, progress=False))
    assert list(summary["faults"]) == ["bob"] and "worker died" in summary["faults"]["bob"]
    assert sorted(summary["graded"]) == ["alice", "carol", "dave"]
