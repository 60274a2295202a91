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
from .sandbox import UID_BASE


def tampering(course: Path) -> dict[str, str]:
    """Learner code that patches checks, the shell or the emulator to pass the tests."""
    return {}


def shadowing(course: Path) -> dict[str, str]:
    """A `labkit/` (or other course module) folder beside the notebook in the submission."""
    return {}


def reading_notebook(course: Path) -> dict[str, str]:
    """Reading the hidden tests: the notebook on disk in the working directory, the kernel's memory."""
    return {}


# Looks for any readable copy of the assignment's source notebook (solutions and hidden
# tests) anywhere on the machine, and runs its solution cells in the learner's namespace.
_STEAL = """import json as _json, os as _os, time as _time
def _find_solutions(assignment, notebook, own=_os.getcwd()):
    deadline = _time.monotonic() + 20
    skip = {'proc', 'sys', 'dev', '.git', 'node_modules', 'site-packages', '__pycache__', 'docker'}
    for top, dirs, files in _os.walk('/', onerror=lambda error: None):
        dirs[:] = [d for d in dirs if d not in skip]
        if _time.monotonic() > deadline:
            return None
        if notebook in files and _os.path.basename(top) == assignment and top != own:
            try:
                cells = _json.load(open(_os.path.join(top, notebook)))['cells']
            except Exception:
                continue
            answers = [''.join(c['source']) for c in cells if c['cell_type'] == 'code'
                       and 'BEGIN SOLUTION' in ''.join(c['source'])]
            if answers:
                return _os.path.join(top, notebook), answers
    return None
if '_stolen' not in globals():
    _stolen = _find_solutions(%(assignment)r, %(notebook)r)
    print('COPY-FOUND', _stolen[0] if _stolen else 'COPY-NOT-FOUND')
if _stolen:
    for _code in _stolen[1]:
        exec(_code, globals())
"""


def reading_copies(course: Path) -> dict[str, str]:
    """Reading solutions from any other readable copy of the course on the machine (its source/).

    The learner answers nothing: every answer cell searches the whole file system for the
    assignment's source notebook and runs its solutions. Under a jail that hides a fixed
    list of paths, any copy it does not name (a second checkout, a backup in /srv) scores
    full marks; in a root built from an allow-list there is no copy to find.
    """
    nb = cohort.learner_version(course, {exercise: "stub" for exercise in cohort.EXERCISES})
    steal = _STEAL % {"assignment": cohort.ASSIGNMENT, "notebook": f"{cohort.NOTEBOOK}.ipynb"}
    for exercise in cohort.EXERCISES:
        cell = cohort.answer_cell(nb, exercise)
        cell.source = cell.source + "\n" + steal
    cohort.write(course, "copier", nb)
    return {"copier": "answers nothing; runs the solutions of any copy of source/ it finds on the machine"}


# Tries each place; prints WROTE or BLOCKED per place (the tests read these lines).
_WRITE = """import os as _os
def _attempt(label, action):
    try:
        action()
        print('WROTE', label)
    except Exception as error:
        print('BLOCKED', label, type(error).__name__)
def _fill(path, megabytes):
    with open(path, 'wb') as handle:
        for _ in range(megabytes):
            handle.write(b'x' * 1024 * 1024)
"""

# Names planted in the shared places, so a test can look for leftovers on the machine.
MARK = "autograder-attack"
# Where the grader kept its uid locks (/run/lock) and keeps them now (/run/autograder).
LOCK_PLACES = ("/run/lock", "/run/autograder")
# The uids whose lock files the attack plants links for (the old range and today's), and
# the one it plants a folder for.
PLANTED_UIDS = (*range(400000, 400008), *range(UID_BASE, UID_BASE + 8))
FOLDER_UID = UID_BASE + 9
SPILL_PLACES = ("/run/lock", "/run/autograder", "/run", "/var/tmp", "/home", "/root", "/etc", "/usr/lib",
                "/srv", "/opt", "/work", "/mnt")


def _write_attack(course: Path, student: str, body: str) -> None:
    nb = cohort.learner_version(course, {})
    cell = cohort.answer_cell(nb, "fit")
    cell.source = _WRITE + body + "\n" + cell.source
    cohort.write(course, student, nb)


def writing(course: Path) -> dict[str, str]:
    """Writing outside the walls (shared scratch dirs, lock files) or filling the disk.

    Every answer is right, so each submission deserves 11/11; what must not happen is a
    file outside the kernel's own places (`/run/lock`, `/var/tmp`, the host's `/tmp` and
    `/dev/shm`, the packages), a planted link or folder where the grader, as root, takes
    its uid locks, or more than `Limits.work_mb` in the working directory and
    `Limits.tmp_mb` in the kernel's `/tmp`.
    """
    body = "import labkit as _labkit\n"
    body += f"for _place in {list(SPILL_PLACES)!r} + [_os.path.dirname(_labkit.__file__)]:\n"
    body += f"    _attempt(_place, lambda: _fill(_os.path.join(_place, '{MARK}-spill'), 8))\n"
    for place in LOCK_PLACES:  # links and folders where the grader's lock files go
        body += (f"for _uid in {list(PLANTED_UIDS)!r}:\n"
                 f"    _attempt('link {place}', lambda: [_os.symlink('/etc/{MARK}-planted', f'{place}/autograder-uid-{{_uid}}.lock'),\n"
                 f"                                      _os.symlink('/etc/{MARK}-planted', f'{place}/uid-{{_uid}}.lock')])\n"
                 f"_attempt('folder {place}', lambda: _os.makedirs('{place}/uid-{FOLDER_UID}.lock'))\n")
    _write_attack(course, "spiller", body)

    fill = ("_total = 0\n"
            "try:\n"
            "    for _k in range(64):\n"
            "        _fill(f'filler-{_k}.bin', 16)\n"
            "        _total += 16\n"
            "except OSError as _error:\n"
            "    print('STOPPED', type(_error).__name__)\n"
            "print('FILLED-MB', _total)\n"
            "for _k in range(64):\n"
            "    if _os.path.exists(f'filler-{_k}.bin'):\n"
            "        _os.remove(f'filler-{_k}.bin')\n")
    _write_attack(course, "filler", fill)

    tmp = ("for _place in ('/tmp', '/dev/shm'):\n"
           f"    _path, _written = _os.path.join(_place, '{MARK}-fill'), 0\n"
           "    try:\n"
           "        with open(_path, 'wb') as _handle:\n"
           "            for _ in range(1024):\n"
           "                _handle.write(b'x' * 1024 * 1024)\n"
           "                _written += 1\n"
           "    except OSError:\n"
           "        pass\n"
           "    print('TMP-FILLED-MB', _place, _written)\n"
           "    _os.remove(_path)\n")
    _write_attack(course, "tmpfiller", tmp)
    return {"spiller": "writes into /run/lock, /var/tmp, /home, the packages...; plants links and folders where uid locks go",
            "filler": "writes 1 GiB into its working directory (64 files of 16 MiB)",
            "tmpfiller": "writes up to 1 GiB into /tmp and /dev/shm"}


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
