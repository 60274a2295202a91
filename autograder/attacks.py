"""Hostile submissions of assignment 1, one family per way a grader can be fooled or stopped.

`cohort.adversarial_cohort` holds the first adversarial cohort (loops, bombs, exits, edited
tests, broken files...). These are the attacks that broke that grader, by class, so that
each class has its own tests (tests/test_autograder_*.py) and the bench can grade them all:

- `tampering`: learner code that changes what the tests do, from inside the kernel;
- `shadowing`: learner files that take the place of the course's modules;
- `reading_notebook`: learner code that reads the hidden tests from the notebook it runs in;
- `reading_copies`: learner code that reads solutions from other copies of the course;
- `writing`: learner code that writes outside its walls, or too much inside them;
- `links`: submitted files that are not plain files (symlinks, fifos, folders);
- `stoppers`: submissions that used to stop the whole cohort's grading or feedback.

Each function writes its submissions into `course` (a course made by `cohort.make_course`)
and returns {student id: what the submission does}. `every_attack` writes them all.
"""

from __future__ import annotations

from pathlib import Path

from . import cohort


def tampering(course: Path) -> dict[str, str]:
    """Learner code that patches checks, the shell or the emulator to pass the tests."""
    return {}


def shadowing(course: Path) -> dict[str, str]:
    """A `labkit/` (or other course module) folder beside the notebook in the submission."""
    return {}


def reading_notebook(course: Path) -> dict[str, str]:
    """Reading the hidden tests: the notebook on disk in the working directory, the kernel's memory."""
    return {}


def reading_copies(course: Path) -> dict[str, str]:
    """Reading solutions from any other readable copy of the course on the machine (its source/)."""
    return {}


def writing(course: Path) -> dict[str, str]:
    """Writing outside the walls (shared scratch dirs, lock files) or filling the disk."""
    return {}


def links(course: Path) -> dict[str, str]:
    """Submitted notebooks that are symlinks or not regular files."""
    return {}


_PUBLISH_BEFORE_FIT_TEST = """from IPython import get_ipython
_ip = get_ipython()
def _before_each_cell(info):
    if 'how_many_fit(16, 2, 1536)' in (info.raw_cell or ''):
        _ip.displayhook({value})
_ip.events.register('pre_run_cell', _before_each_cell)"""


def stoppers(course: Path) -> dict[str, str]:
    """Submissions that stopped `grade` or `feedback` for everyone (nbgrader fails only that one,
    or none): a test cell's result nbgrader cannot score, a hidden-tests marker in an answer,
    a timestamp.txt that holds no date, a folder with no notebook."""
    course = Path(course).resolve()
    written = {}

    def add(student: str, what: str, nb) -> None:
        cohort.write(course, student, nb)
        written[student] = what

    add("stop-points", "an execute_result of 1000 before the fit test (more than its 2 points)",
        cohort._with_prefix(course, "fit", _PUBLISH_BEFORE_FIT_TEST.format(value="1000")))
    add("stop-blank", "an execute_result with an empty text/plain before the fit test",
        cohort._with_prefix(course, "fit", _PUBLISH_BEFORE_FIT_TEST.format(
            value="type('Blank', (), {'__repr__': lambda self: ''})()")))
    add("stop-marker", "a '# ### BEGIN HIDDEN TESTS' comment in an answer cell (all answers right)",
        cohort._with_prefix(course, "fit", "# ### BEGIN HIDDEN TESTS"))
    add("stop-stamp", "a timestamp.txt that holds no date (all answers right)", cohort.learner_version(course, {}))
    folder = course / "submitted" / "stop-stamp" / cohort.ASSIGNMENT
    (folder / "timestamp.txt").write_text("sometime last week\n")
    folder = course / "submitted" / "stop-empty" / cohort.ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.txt").write_text("I will hand it in tomorrow\n")
    written["stop-empty"] = "a submission folder with no notebook (not a submission, as for nbgrader)"
    return written


FAMILIES = (tampering, shadowing, reading_notebook, reading_copies, writing, links, stoppers)


def every_attack(course: Path) -> dict[str, str]:
    """All the families above, written into `course`: {student: what it does}."""
    written: dict[str, str] = {}
    for family in FAMILIES:
        for student, what in family(course).items():
            if student in written:
                raise ValueError(f"two attacks use the student id {student!r}")
            written[student] = what
    return written


__all__ = ["FAMILIES", "every_attack", "cohort", *[f.__name__ for f in FAMILIES]]
