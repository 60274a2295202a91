"""Synthetic cohorts of assignment 1, for the tests and `bench/autograde`.

`make_course` builds a scratch course (nbgrader config, source/, a gradebook from
`nbgrader generate_assignment`). `normal_cohort` writes submissions with a mix of right,
wrong and missing answers (different scores); `adversarial_cohort` writes the ones
that break graders: loops, bombs, exits, huge output, edited or deleted tests,
broken files, and attempts on the gradebook, source/ and the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ASSIGNMENT = "01-vms-and-containers"
NOTEBOOK = "vms-and-containers"
EXERCISES = ("fit", "density", "choose", "gcloud", "userdata")

WRONG = {
    "fit": "def how_many_fit(host_gib, reserved_gib, per_instance_mib):\n    return int(host_gib * 1024 // per_instance_mib)\n",
    "density": "def density(host_gib, reserved_gib, app_mib, guest_os_mib, container_overhead_mib):\n    return {'vms': 1, 'containers': 2}\n",
    "choose": "def choose_platform(situation):\n    return 'vm' if situation.get('other_kernel') else 'container'\n",
    "gcloud": "def gcloud_command(name, zone, machine_type, user_data_path):\n    return ['gcloud', 'compute', 'instances', 'create', name]\n",
    "userdata": None,  # keeps the stub
}


def nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def make_course(repo_root: Path, target: Path, assignment: str = ASSIGNMENT) -> Path:
    """A scratch course with the repository's config and source/, and a fresh gradebook for `assignment`."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(repo_root / "nbgrader_config.py", target)
    shutil.copytree(repo_root / "source", target / "source", dirs_exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                            cwd=target, env=nbgrader_env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed in {target}:\n{result.stderr}")
    return target


def _cells(nb, suffix: str) -> list:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith(suffix)]


def answer_cell(nb, exercise: str):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{exercise}-answer"][0]


def solved(course: Path, assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK):
    """The source notebook with hidden tests and solutions: every answer right."""
    return nbformat.read(course / "source" / assignment / f"{notebook}.ipynb", as_version=4)


def released(course: Path, assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK):
    return nbformat.read(course / "release" / assignment / f"{notebook}.ipynb", as_version=4)


def learner_version(course: Path, choices: dict[str, str], assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK,
                    exercises: tuple[str, ...] = EXERCISES, wrong: dict | None = None):
    """A submission with each exercise `right`, `wrong` (`wrong[exercise]`) or `stub` (untouched)."""
    wrong = WRONG if wrong is None else wrong
    nb = released(course, assignment, notebook)
    source = solved(course, assignment, notebook)
    for exercise in exercises:
        choice = choices.get(exercise, "right")
        cell = answer_cell(nb, exercise)
        if choice == "right":
            lines = answer_cell(source, exercise).source.split("\n")
            cell.source = "\n".join(line for line in lines if "### BEGIN SOLUTION" not in line
                                     and "### END SOLUTION" not in line)
        elif choice == "wrong" and wrong[exercise]:
            cell.source = wrong[exercise]
    return nb


def write(course: Path, student: str, nb, assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK) -> Path:
    target = course / "submitted" / student / assignment / f"{notebook}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, (str, bytes)):
        target.write_bytes(nb.encode() if isinstance(nb, str) else nb)
    else:
        nbformat.write(nb, target)
    return target


def normal_cohort(course: Path, count: int) -> list[str]:
    """`count` learners with a deterministic mix of right, wrong and untouched answers."""
    students = []
    for i in range(count):
        choices = {ex: ("right", "wrong", "stub")[(i * (k + 2) + k) % 3 if i % 4 else 0]
                   for k, ex in enumerate(EXERCISES)}
        nb = learner_version(course, choices)
        if i % 5 == 3:  # a learner who prints to stderr in an answer (does not cost points)
            cell = answer_cell(nb, "choose")
            cell.source = "import sys\nprint('debug', file=sys.stderr)\n" + cell.source
        student = f"learner{i:03d}"
        write(course, student, nb)
        students.append(student)
    return students


def prefixed(nb, exercise: str, prefix: str):
    """`nb` with `prefix` run first in the answer cell of `exercise`."""
    cell = answer_cell(nb, exercise)
    cell.source = prefix + "\n" + cell.source
    return nb


def _with_prefix(course: Path, exercise: str, prefix: str):
    """A submission with every answer right and `prefix` run first in one answer cell."""
    return prefixed(learner_version(course, {}), exercise, prefix)


def adversarial_cohort(course: Path, network: bool = False) -> dict[str, str]:
    """Write the adversarial submissions; returns {student: what it does}."""
    course = course.resolve()
    gradebook = course / "gradebook.db"
    source_nb = course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    cohort = {}

    def add(student: str, what: str, nb) -> None:
        write(course, student, nb)
        cohort[student] = what

    add("honest", "all answers right", learner_version(course, {}))
    add("loop", "an endless loop", _with_prefix(course, "fit", "while True:\n    pass"))
    add("swallow", "a loop that swallows KeyboardInterrupt", _with_prefix(course, "fit",
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"))
    add("membomb", "a memory bomb", _with_prefix(course, "fit",
        "hog = []\nwhile True:\n    hog.append(bytearray(50 * 1024 * 1024))"))
    add("forkbomb", "a fork bomb", _with_prefix(course, "fit",
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"))
    add("osexit", "os._exit(1)", _with_prefix(course, "fit", "import os\nos._exit(1)"))
    add("sysexit", "sys.exit(3)", _with_prefix(course, "fit", "import sys\nsys.exit(3)"))
    add("shouter", "50 MB of output", _with_prefix(course, "fit", "print('x' * (50 * 1024 * 1024))"))
    add("daemon", "starts a process that tries to outlive the kernel", _with_prefix(course, "fit",
        "import subprocess\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)"))

    nb = learner_version(course, {"fit": "wrong"})
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "fit-test"]
    add("deleter", "deleted the fit test cell (and got fit wrong)", nb)

    nb = learner_version(course, {"density": "wrong"})
    _cells(nb, "density-test")[0].source = "pass  # nothing to see here"
    add("editor", "replaced the density test with `pass` (and got density wrong)", nb)

    nb = learner_version(course, {})
    _cells(nb, "choose-test")[0].metadata["nbgrader"]["points"] = 20
    add("pointer", "raised the points of the choose test to 20", nb)

    add("malformed", "malformed JSON", '{"cells": [ this is not json')
    add("empty", "an empty file", "")
    add("vandal", "writes to the gradebook and deletes source/", _with_prefix(course, "fit", (
        "import shutil\n"
        "for attempt in (lambda: open(%r, 'ab').write(b'garbage' * 1000), lambda: shutil.rmtree(%r),\n"
        "                lambda: open('../../../gradebook.db', 'ab').write(b'garbage')):\n"
        "    try:\n        attempt()\n        print('VANDAL-SUCCEEDED')\n"
        "    except Exception as error:\n        print('VANDAL-BLOCKED', type(error).__name__)") % (str(gradebook), str(course / "source"))))
    add("reader", "reads the solutions in source/", _with_prefix(course, "fit", (
        "try:\n    leaked = open(%r).read()\n    print('SOURCE-LEAKED', len(leaked))\n"
        "except Exception as error:\n    print('SOURCE-BLOCKED', type(error).__name__)") % str(source_nb)))
    if network:
        add("network", "tries the network", _with_prefix(course, "fit", (
            "import socket\n"
            "for host in (('pypi.org', 443), ('1.1.1.1', 53)):\n"
            "    try:\n        socket.create_connection(host, timeout=3).close()\n        print('NETWORK-OPEN', host)\n"
            "    except OSError as error:\n        print('NETWORK-BLOCKED', host, type(error).__name__)")))
    return cohort


def copy_cohort(course: Path, target_course: Path) -> None:
    """The same submissions in another course (to grade them with plain nbgrader too)."""
    shutil.copytree(course / "submitted", target_course / "submitted", dirs_exist_ok=True)


def gradebook_scores(course: Path, assignment: str = ASSIGNMENT) -> dict[str, dict[str, float | None]]:
    """{student: {grade cell: score}} from a course's gradebook, via nbgrader's API."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            cells = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[f"{notebook.name}/{grade.name}"] = None if grade.score is None else float(grade.score)
            cells["total"] = float(submission.score)
            scores[student.id] = cells
    return scores

