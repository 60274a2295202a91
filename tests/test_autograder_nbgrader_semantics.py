"""The cohort grader against plain `nbgrader autograde` / `nbgrader export`, on the same inputs.

A tiny scratch course (assignment `ps1`, two small notebooks, a due date, the "zero" late
penalty) and one submission per scenario of issue 15, graded twice: by nbgrader in one
copy of the course and by `python -m autograder` in another. The gradebooks and the CSVs
agree (nbgrader's columns, value for value), except where the README says ours is
deliberately different: a test cell nbgrader cannot score (a result above its points, an
empty result) fails nbgrader's whole submission and scores 0 with a reason in ours.

Grading as root is what CI does; elsewhere these tests skip.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import REPO_ROOT, nbgrader_env, skip_unless_ci

from autograder.cohort import gradebook_scores

ASSIGNMENT = "ps1"
DUE = "2026-01-10 12:00:00 UTC"
# nbgrader options given on both command lines (nbgrader's and ours), as an instructor would.
OPTIONS = ["--Execute.timeout=4", "--Autograde.create_student=False", "--CourseDirectory.student_id_exclude=skipme"]
DIFFERENT = {"overflow", "blank"}  # where ours is deliberately different (see the module docstring)


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the autograder's process isolation tests need root (CI runs them as root)")


def _meta(cell, **nbgrader):
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": False, "solution": False, "locked": False,
                                 "task": False, **nbgrader}
    return cell


def _test(grade_id: str, source: str, points: float):
    return _meta(new_code_cell(source), grade=True, locked=True, points=points, grade_id=grade_id)


def _answer(grade_id: str, source: str):
    return _meta(new_code_cell(source), solution=True, grade_id=grade_id)


def source_notebooks() -> dict[str, nbformat.NotebookNode]:
    one = new_notebook(cells=[
        new_markdown_cell("Write `double(x)`."),
        _answer("double-answer", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        _test("double-test", "assert double(2) == 4, 'double(2) should be 4'\n"
              "### BEGIN HIDDEN TESTS\nassert double(5) == 10\n### END HIDDEN TESTS", 2),
        _test("double-partial", "checks = [double(i) == 2 * i for i in (1, 2, 3)]\nsum(checks)", 3),
        _meta(new_markdown_cell("YOUR ANSWER HERE"), grade=True, solution=True, points=1, grade_id="explain-answer"),
    ])
    two = new_notebook(cells=[
        new_code_cell("import time"),
        _answer("pause-answer", "def pause():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        _test("pause-1", "pause()\nassert True", 1),
        _test("pause-2", "pause()\nassert True", 1),
        _test("pause-3", "assert pause() == 1", 1),
    ])
    for nb in (one, two):
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return {"one": one, "two": two}


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = nbgrader_env()
    env["PYTHONPATH"] = f"{REPO_ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def make_course(root: Path, students_in_gradebook: list[str], config: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'tiny'\nc.LateSubmissionPlugin.penalty_method = 'zero'\n" + config)
    for name, nb in source_notebooks().items():
        target = root / "source" / ASSIGNMENT / f"{name}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    run(["-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], root)
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "tiny") as gb:  # as `nbgrader db ... add` does, in one go
        gb.update_or_create_assignment(ASSIGNMENT, duedate=parse_utc(DUE))
        for student in students_in_gradebook:
            gb.update_or_create_student(student)
    return root


@pytest.fixture(scope="module")
def base_course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny course with its gradebook, made once; tests grade copies of it."""
    return make_course(tmp_path_factory.mktemp("tiny-base") / "course", IN_GRADEBOOK)


def copy_course(base: Path, target: Path, config: str = "") -> Path:
    shutil.copytree(base, target)
    if config:
        with (target / "nbgrader_config.py").open("a") as handle:
            handle.write(config)
    return target


def learner(course: Path, notebook: str, answer: str | None = None, extra_cells: tuple = ()) -> nbformat.NotebookNode:
    """The released notebook with the answer cell replaced (None: the solution, without its markers)."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    solved = nbformat.read(course / "source" / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    for cell, source in zip(nb.cells, solved.cells):
        if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
            cell.source = answer if answer is not None else "\n".join(
                line for line in source.source.split("\n") if "### " not in line)
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "explain-answer":
            cell.source = "Because."
    for index, text in extra_cells:
        nb.cells.insert(index, new_code_cell(text))
    return nb


def submit(course: Path, student: str, notebooks: dict, timestamp: str | None = None, files: dict | None = None) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)


OVERFLOW = ("class Big:\n    def __eq__(self, other):\n        return 1000\n"
            "def double(x):\n    return Big() if x == 1 else 2 * x")
BLANK = ("class Blank:\n    def __eq__(self, other):\n        return Blank()\n    def __add__(self, other):\n        return self\n"
         "    __radd__ = __add__\n    def __repr__(self):\n        return ''\n"
         "def double(x):\n    return Blank() if x == 1 else 2 * x")


def scenarios(course: Path) -> dict[str, str]:
    """Write one submission per scenario; {student: what it is}."""
    right = {"one": learner(course, "one"), "two": learner(course, "two")}
    cases = {}

    def add(student: str, what: str, notebooks: dict, **kwargs) -> None:
        submit(course, student, notebooks, **kwargs)
        cases[student] = what

    add("right", "every answer right", right, timestamp="2026-01-09 10:00:00 UTC")
    add("partial", "partial credit: double is wrong above 2", {
        "one": learner(course, "one", "def double(x):\n    return 2 * x if x < 3 else 0"), "two": right["two"]},
        timestamp="2026-01-09 10:00:00 UTC")
    add("errors", "an answer that raises; a stub", {
        "one": learner(course, "one", "def double(x):\n    raise ValueError('no')"),
        "two": learner(course, "two", "def pause():\n    raise NotImplementedError()")})
    stale = learner(course, "one")
    for cell in stale.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "double-partial":
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "0"}, execution_count=1)]
            cell.execution_count = 1
    add("stale", "right, saved with stale outputs that say 0", {"one": stale, "two": right["two"]})
    add("onlyone", "several notebooks: only one submitted", {"one": right["one"]})
    add("late", "right but two days late (the zero penalty)", right, timestamp="2026-01-12 12:00:00 UTC")
    add("badtime", "an invalid timestamp.txt", right, timestamp="the day before yesterday")
    add("overflow", "a partial-credit result above the cell's points", {
        "one": learner(course, "one", OVERFLOW), "two": right["two"]})
    add("blank", "a partial-credit result with an empty text/plain", {
        "one": learner(course, "one", BLANK), "two": right["two"]})
    add("stranger", "not in the gradebook, under Autograde.create_student=False", right)
    add("skipme", "in CourseDirectory.student_id_exclude", right)
    add("writer", "the notebook writes a file beside itself", {
        "one": learner(course, "one", "def double(x):\n    return 2 * x\nopen('answers.txt', 'w').write('42')"),
        "two": right["two"]}, files={"notes.txt": "mine"})
    add("looper", "an endless loop in a cell of its own (nbgrader's per-cell limit interrupts it)", {
        "one": learner(course, "one", extra_cells=((2, "while True:\n    pass"),)), "two": right["two"]})
    add("sleeper", "three test cells of 2.5 s each, under the 4 s per-cell limit", {
        "one": right["one"], "two": learner(course, "two", "import time\ndef pause():\n    time.sleep(2.5)\n    return 1")})
    add("marker", "an answer cell holding '### BEGIN HIDDEN TESTS'", {
        "one": learner(course, "one", "def double(x):\n    # ### BEGIN HIDDEN TESTS\n    return 2 * x"), "two": right["two"]})
    (course / "submitted" / "nonb" / ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / "nonb" / ASSIGNMENT / "notes.txt").write_text("no notebook here")
    cases["nonb"] = "a folder with no notebook (not a submission)"
    return cases


IN_GRADEBOOK = ["ghost", "right", "partial", "errors", "stale", "onlyone", "late", "badtime", "overflow", "blank",
                "skipme", "writer", "looper", "sleeper", "marker", "nonb"]


def csv_rows(path: Path) -> dict[str, dict]:
    return {row["student_id"]: row for row in csv.DictReader(path.open())}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, base_course: Path) -> dict:
    base = copy_course(base_course, tmp_path_factory.mktemp("tiny") / "course")
    cases = scenarios(base)
    theirs, ours = base.parent / "theirs", base.parent / "ours"
    shutil.copytree(base, theirs)
    shutil.copytree(base, ours)
    nbgrader = run(["-m", "nbgrader", "autograde", ASSIGNMENT, *OPTIONS], theirs, check=False)
    mine = run(["-m", "autograder", "grade", ASSIGNMENT, "--jobs", "2", "--quiet", *OPTIONS], ours, check=False)
    run(["-m", "nbgrader", "export", "--to", str(theirs / "grades.csv")], theirs)
    run(["-m", "autograder", "export", ASSIGNMENT, "--csv", str(ours / "grades.csv")], ours)
    return {"cases": cases, "theirs": theirs, "ours": ours, "nbgrader": nbgrader, "mine": mine,
            "their_scores": gradebook_scores(theirs, ASSIGNMENT), "our_scores": gradebook_scores(ours, ASSIGNMENT),
            "their_rows": csv_rows(theirs / "grades.csv"), "our_rows": csv_rows(ours / "grades.csv")}


def test_the_gradebooks_agree_for_every_well_formed_submission(graded: dict) -> None:
    theirs, ours = graded["their_scores"], graded["our_scores"]
    assert set(ours) == set(theirs), (sorted(ours), sorted(theirs))
    for student in sorted(set(theirs) - DIFFERENT):
        assert ours[student] == theirs[student], student
    # the spread the scenarios are there for
    assert ours["right"]["one/double-partial"] == 3 and ours["partial"]["one/double-partial"] == 2
    assert ours["errors"]["one/double-test"] == 0 and ours["stale"]["one/double-partial"] == 3
    assert ours["onlyone"]["two/pause-1"] == 0
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['ours'] / 'gradebook.db'}") as gb:  # a written answer waits for a person
        grade = gb.find_grade("explain-answer", "one", ASSIGNMENT, "right")
        assert grade.auto_score is None and grade.needs_manual_grade
    assert ours["sleeper"]["total"] == ours["right"]["total"], "the whole-submission budget cut short what nbgrader allows"
    assert ours["looper"]["total"] == ours["right"]["total"]


def test_submissions_nbgrader_would_not_grade_are_not_graded(graded: dict) -> None:
    """An invalid timestamp.txt or an unknown student (create_student=False) fails that submission
    only, as nbgrader; an excluded student and a folder with no notebook are left out, as nbgrader."""
    for student in ("badtime", "stranger", "skipme", "nonb"):
        assert student not in graded["our_scores"], student
    assert "stranger" not in graded["our_rows"] and "stranger" not in graded["their_rows"]
    assert graded["mine"].returncode == 1 and graded["nbgrader"].returncode == 1
    stderr = graded["mine"].stderr
    assert "badtime" in stderr and "timestamp.txt does not hold a date" in stderr, stderr
    assert "stranger" in stderr and "create_student is False" in stderr, stderr
    assert "the day before yesterday" not in stderr, "a reason never quotes the file"
    assert graded["our_rows"]["badtime"]["status"].startswith("not graded (nbgrader would not grade it either)")


def test_the_export_has_nbgrader_columns_and_values(graded: dict) -> None:
    """Penalties in `score` (the zero method: 0 for a late one), raw score, penalty, timestamp,
    due date, and a row of zeros for a student with no submission, value for value as nbgrader."""
    from autograder.export import NBGRADER_COLUMNS

    theirs, ours = graded["their_rows"], graded["our_rows"]
    header = (graded["ours"] / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:len(NBGRADER_COLUMNS)] == (graded["theirs"] / "grades.csv").read_text().splitlines()[0].split(",")
    assert set(ours) == set(theirs)
    for student in sorted(set(theirs) - DIFFERENT):
        assert {k: ours[student][k] for k in NBGRADER_COLUMNS} == theirs[student], student
    assert float(ours["late"]["raw_score"]) == 8 and float(ours["late"]["score"]) == 0
    assert float(ours["late"]["late_submission_penalty"]) == 8 and ours["late"]["duedate"].startswith("2026-01-10")
    assert ours["ghost"]["score"] == "0.0" and ours["ghost"]["status"] == "no submission"


def test_a_cell_nbgrader_cannot_score_costs_that_cell_not_the_cohort(graded: dict) -> None:
    """Deliberately different: nbgrader fails the whole submission (and exits 1); ours records it,
    with 0 for that cell and the rest scored. The learner's object never reaches the test cell (the
    trusted evaluator takes only plain data), so the cell fails saying what to return."""
    assert "There was an error processing assignment" in graded["nbgrader"].stderr
    for student in DIFFERENT:
        scores = graded["our_scores"][student]
        assert scores["one/double-partial"] == 0 and scores["one/double-test"] == 2, scores
        assert scores["two/pause-3"] == 1
        row = graded["our_rows"][student]
        assert row["status"] == "graded", row
        nb = nbformat.read(graded["ours"] / "autograded" / student / ASSIGNMENT / "one.ipynb", as_version=4)
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double-partial")
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors and "plain data" in errors[0].evalue, cell.outputs


def test_files_a_notebook_writes_are_kept_in_autograded(graded: dict) -> None:
    for root in (graded["theirs"], graded["ours"]):
        folder = root / "autograded" / "writer" / ASSIGNMENT
        assert (folder / "answers.txt").read_text() == "42", root
        assert (folder / "notes.txt").read_text() == "mine"


def test_feedback_for_every_learner_even_with_a_marker_in_an_answer(graded: dict) -> None:
    course = graded["ours"]
    result = run(["-m", "autograder", "feedback", ASSIGNMENT], course)
    graded_students = sorted(p.name for p in (course / "autograded").iterdir())
    for student in graded_students:
        for notebook in ("one", "two"):
            assert (course / "feedback" / student / ASSIGNMENT / f"{notebook}.html").exists(), (student, result.stderr)
    page = (course / "feedback" / "marker" / ASSIGNMENT / "one.html").read_text()
    assert "# ### BEGIN HIDDEN TESTS" in page, "the learner's own text stays on their page"
    assert "double(5)" not in page and "double(2) should be 4" in page


def test_regrade_rules_are_nbgrader_s(graded: dict, tmp_path: Path) -> None:
    """Changed without a newer timestamp.txt: skipped by both (ours says so); with a newer one:
    regraded by both; --force regrades."""
    courses = {}
    for name in ("theirs", "ours"):
        courses[name] = tmp_path / name
        shutil.copytree(graded[name], courses[name], symlinks=True)
        folder = courses[name] / "submitted"
        fixed = learner(courses[name], "one")  # partial now has it right, same timestamp
        nbformat.write(fixed, folder / "partial" / ASSIGNMENT / "one.ipynb")
        nbformat.write(learner(courses[name], "one"), folder / "errors" / ASSIGNMENT / "one.ipynb")
        (folder / "right" / ASSIGNMENT / "one.ipynb").write_text(
            (folder / "errors" / ASSIGNMENT / "one.ipynb").read_text().replace("return 2 * x", "return 0"))
        (folder / "right" / ASSIGNMENT / "timestamp.txt").write_text("2026-01-09 11:00:00 UTC")
    run(["-m", "nbgrader", "autograde", ASSIGNMENT, *OPTIONS], courses["theirs"], check=False)
    again = run(["-m", "autograder", "grade", ASSIGNMENT, "--jobs", "2", "--quiet", *OPTIONS], courses["ours"], check=False)
    theirs, ours = gradebook_scores(courses["theirs"], ASSIGNMENT), gradebook_scores(courses["ours"], ASSIGNMENT)
    for student in sorted(set(theirs) - DIFFERENT):
        assert ours[student] == theirs[student], student
    assert ours["partial"]["one/double-partial"] == 2, "changed with the same timestamp: not regraded"
    assert ours["right"]["one/double-test"] == 0, "a newer timestamp regrades"
    assert "changed since graded" in again.stderr and "partial" in again.stderr
    run(["-m", "autograder", "grade", ASSIGNMENT, "--jobs", "2", "--quiet", "--force", "--student", "partial", *OPTIONS],
        courses["ours"], check=False)
    assert gradebook_scores(courses["ours"], ASSIGNMENT)["partial"]["one/double-partial"] == 3


def test_a_penalty_plugin_is_applied_in_the_exported_score(tmp_path: Path, base_course: Path) -> None:
    plugin = ("from nbgrader.plugins import LateSubmissionPlugin\n\n"
              "class MinusOne(LateSubmissionPlugin):\n"
              "    def late_submission_penalty(self, student_id, score, total_seconds_late):\n"
              "        return 1.0 if total_seconds_late > 0 else 0.0\n")
    base = copy_course(base_course, tmp_path / "course", config="c.AssignLatePenalties.plugin_class = 'penalty.MinusOne'\n")
    (base / "penalty.py").write_text(plugin)
    right = {"one": learner(base, "one"), "two": learner(base, "two")}
    submit(base, "late", right, timestamp="2026-01-12 12:00:00 UTC")
    submit(base, "ontime", right, timestamp="2026-01-09 12:00:00 UTC")
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    shutil.copytree(base, theirs)
    shutil.copytree(base, ours)
    run(["-m", "nbgrader", "autograde", ASSIGNMENT], theirs)
    run(["-m", "autograder", "grade", ASSIGNMENT, "--jobs", "2", "--quiet"], ours)
    run(["-m", "nbgrader", "export", "--to", str(theirs / "grades.csv")], theirs)
    run(["-m", "autograder", "export", ASSIGNMENT, "--csv", str(ours / "grades.csv")], ours)
    from autograder.export import NBGRADER_COLUMNS

    mine, nbg = csv_rows(ours / "grades.csv"), csv_rows(theirs / "grades.csv")
    assert {s: {k: r[k] for k in NBGRADER_COLUMNS} for s, r in mine.items()} == nbg
    assert float(mine["late"]["score"]) == 6.0 and float(mine["late"]["late_submission_penalty"]) == 2.0
    assert float(mine["ontime"]["score"]) == 8.0


# --- recording from verdicts and files, without kernels ------------------------------

def test_test_cells_are_scored_from_verdicts_and_files_are_kept(tmp_path: Path, base_course: Path) -> None:
    """A result with verdicts is scored from them, not from its outputs (an empty test cell
    would be full marks); a test cell without a verdict scores 0; a problem is a reason;
    files the notebook wrote land in autograded/, never outside it."""
    from autograder.course import Course, assignment_info
    from autograder.execute import sanitize
    from autograder.record import record_result

    course_dir = copy_course(base_course, tmp_path / "course")
    submit(course_dir, "ada", {"one": learner(course_dir, "one"), "two": learner(course_dir, "two")})
    course = Course.open(course_dir)
    info = assignment_info(course, ASSIGNMENT)
    notebooks = {}
    for name in info.notebooks:
        nb, _ = sanitize(course_dir / "submitted" / "ada" / ASSIGNMENT / f"{name}.ipynb", "ada", ASSIGNMENT, name,
                         course.db_url, course.config)
        notebooks[name] = {"status": "graded", "notebook": nbformat.writes(nb), "flags": [], "reasons": []}
    notebooks["one"]["verdicts"] = {
        "double-test": {"score": 0.0, "max_score": 2.0, "problem": None},
        "double-partial": {"score": 0.0, "max_score": 3.0, "problem": "partial credit 7 is more than the cell's 3 points"}}
    notebooks["one"]["files"] = {"out/answers.txt": base64.b64encode(b"42").decode(),
                                 "../escape.txt": base64.b64encode(b"x").decode(),
                                 "one.ipynb": base64.b64encode(b"not this").decode()}
    notebooks["two"]["verdicts"] = {"pause-1": {"score": 1.0, "max_score": 1.0, "problem": None}}
    record = record_result(course, info, {"student": "ada", "assignment": ASSIGNMENT, "digest": "d", "notebooks": notebooks})
    scores = gradebook_scores(course_dir, ASSIGNMENT)["ada"]
    assert scores["one/double-test"] == 0 and scores["one/double-partial"] == 0
    assert scores["two/pause-1"] == 1 and scores["two/pause-2"] == 0 and scores["two/pause-3"] == 0
    assert any("double-partial scored 0: partial credit 7" in r for r in record["reasons"]), record["reasons"]
    folder = course_dir / "autograded" / "ada" / ASSIGNMENT
    assert (folder / "out" / "answers.txt").read_bytes() == b"42"
    assert not (folder.parent / "escape.txt").exists()
    assert json.loads((folder / "one.ipynb").read_text())["cells"], "the notebook is the graded one, not a written file"
    # without verdicts, nbgrader's own scoring: the outputs (none) give full marks
    for outcome in notebooks.values():
        outcome.pop("verdicts")
    record_result(course, info, {"student": "ada", "assignment": ASSIGNMENT, "digest": "d", "notebooks": notebooks})
    assert gradebook_scores(course_dir, ASSIGNMENT)["ada"]["one/double-test"] == 2


def test_nbgrader_options_on_our_command_line_apply_over_the_config_file(tmp_path: Path, capsys) -> None:
    """`--Class.trait=value` as nbgrader reads it, over nbgrader_config.py; anything else is refused by name."""
    from nbgrader.preprocessors import Execute

    from autograder import __main__ as cli
    from autograder import course as course_module

    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 60\n")
    try:
        course_module.set_command_line_config(course_module.parse_nbgrader_options(
            ["--Execute.timeout=7", "--Autograde.create_student=False", "--CourseDirectory.student_id_exclude", "a,b"]))
        course = course_module.Course.open(tmp_path)
        assert Execute(config=course_module.load_config(tmp_path)).timeout == 7  # what a worker reads
        assert course.autograde_settings().create_student is False
        assert course.excluded_students() == {"a", "b"}
    finally:
        course_module.set_command_line_config(course_module.Config())
    assert Execute(config=course_module.load_config(tmp_path)).timeout == 60
    assert cli.main(["export", ASSIGNMENT, "--csv", "x.csv", "--course", str(tmp_path), "--bogus"]) == 2
    assert "unrecognized option --bogus" in capsys.readouterr().err
