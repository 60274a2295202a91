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


def stoppers(course: Path) -> dict[str, str]:
    """Submissions that stopped `grade` or `feedback` for everyone."""
    return {}


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
