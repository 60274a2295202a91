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

import os
from pathlib import Path

from . import cohort
from .sandbox import UID_BASE


def _all_wrong(course: Path, prefix: str = ""):
    """A submission whose every answer is wrong or a stub (it deserves 0/11), with `prefix`
    (the attack) as a cell of its own at the top of the first answer cell."""
    nb = cohort.learner_version(course, {exercise: "wrong" for exercise in cohort.EXERCISES})
    if prefix:
        cell = cohort.answer_cell(nb, "fit")
        cell.source = prefix + "\n" + cell.source
    return nb


_NO_OPS = "\n".join(f"checks.{name} = lambda *args, **kwargs: None" for name in (
    "expect_equal", "expect_raises", "expect_type", "expect_no_problems", "expect_true", "expect_close"))

TAMPERING = {
    "t-noop-checks": ("replaces labkit.checks.expect_* with no-ops (every answer wrong)",
                      "from labkit import checks\n" + _NO_OPS),
    "t-rebind-checks": ("rebinds the name `checks` to an object whose every method passes (every answer wrong)",
                        "class _Pass:\n    def __getattr__(self, name):\n        return lambda *args, **kwargs: None\n"
                        "checks = _Pass()\nvm_checks = _Pass()"),
    "t-sys-modules": ("puts a fake labkit.checks in sys.modules and labkit (every answer wrong)",
                      "import sys, types, labkit\n_fake = types.ModuleType('labkit.checks')\n"
                      "_fake.__getattr__ = lambda name: (lambda *a, **k: None)\n"
                      "sys.modules['labkit.checks'] = _fake\nlabkit.checks = _fake\nchecks = _fake"),
    "t-transformer": ("an IPython input transformer that turns every test cell into `pass` (every answer wrong)",
                      "def _blank(lines):\n    text = ''.join(lines)\n"
                      "    return ['pass\\n'] if 'checks.' in text and 'def ' not in text else lines\n"
                      "get_ipython().input_transformers_post.append(_blank)"),
    "t-run-cell": ("overrides get_ipython().run_cell to skip test cells (every answer wrong)",
                   "_ip = get_ipython()\n_real = _ip.run_cell\n"
                   "def _run_cell(raw_cell, *args, **kwargs):\n"
                   "    return _real('pass' if 'checks.' in raw_cell else raw_cell, *args, **kwargs)\n"
                   "_ip.run_cell = _run_cell"),
    "t-pre-run-hook": ("a pre_run_cell hook that publishes an execute_result of 1 before each cell (every answer wrong)",
                       "def _score(info):\n    ip = get_ipython()\n"
                       "    ip.kernel.session.send(ip.kernel.iopub_socket, 'execute_result', "
                       "{'data': {'text/plain': '1'}, 'metadata': {}, 'execution_count': 1}, "
                       "parent=ip.kernel.get_parent('shell'), ident=ip.kernel._topic('execute_result'))\n"
                       "get_ipython().events.register('pre_run_cell', _score)"),
}


def tampering(course: Path) -> dict[str, str]:
    """Learner code that patches checks, the shell or the emulator to pass the tests.

    Every answer of these submissions is wrong: each deserves 0 points, and gets full marks
    when the tests run in the learner's kernel (the grader before issue 15; plain nbgrader).
    """
    written = {}
    for student, (what, attack) in TAMPERING.items():
        nb = _all_wrong(course, attack)
        cohort.write(course, student, nb)
        written[student] = what
    return written


def shadowing(course: Path) -> dict[str, str]:
    """A `labkit/` (or other course module) folder beside the notebook in the submission."""
    passing = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
    written = {}
    for student, what, files in (
        ("s-labkit", "a labkit/ folder whose checks pass everything (every answer wrong)",
         {"labkit/__init__.py": "", "labkit/checks.py": passing, "labkit/vm_checks.py": passing,
          "labkit/vm_provisioning.py": passing}),
    ):
        target = cohort.write(course, student, _all_wrong(course))
        for relative, text in files.items():
            (target.parent / relative).parent.mkdir(parents=True, exist_ok=True)
            (target.parent / relative).write_text(text)
        written[student] = what
    return written


HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "how_many_fit(64, 4, 2048)", "(64, 4, 512, 2048, 8)")

_READ_DISK = (
    "import glob as _glob\n"
    "for _path in _glob.glob('*.ipynb') + _glob.glob('**/*.ipynb', recursive=True):\n"
    "    _text = open(_path).read()\n"
    "    print('LEAK', _path, [line for line in _text.splitlines() if 'HIDDEN ' + 'TESTS' in line])\n"
    "    open('leak.txt', 'a').write(_text)\n")
_READ_MEMORY = (
    "import gc as _gc\n"
    "_found = [o for o in _gc.get_objects() if isinstance(o, str) and 'HIDDEN ' + 'TESTS' in o]\n"
    "_found += [s for s in In if 'HIDDEN ' + 'TESTS' in s]\n"
    "print('LEAK', _found[:5])\n"
    "def _spy(info):\n"
    "    open('seen.txt', 'a').write(info.raw_cell + '\\n----\\n')\n"
    "    if 'HIDDEN ' + 'TESTS' in info.raw_cell:\n"
    "        print('LEAK', info.raw_cell)\n"
    "get_ipython().events.register('pre_run_cell', _spy)\n")


def reading_notebook(course: Path) -> dict[str, str]:
    """Reading the hidden tests: the notebook on disk in the working directory, the kernel's memory."""
    written = {}
    for student, what, attack in (
        ("r-disk", "prints and copies every notebook in its working directory (answers right)", _READ_DISK),
        ("r-memory", "searches its memory and In[] for hidden tests, and logs every cell it is given (answers right)",
         _READ_MEMORY),
    ):
        cohort.write(course, student, cohort._with_prefix(course, "fit", attack))
        written[student] = what
    return written


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


SECRET = "TOP-SECRET-6f1d: the content of a file a link points to"


def links(course: Path) -> dict[str, str]:
    """Submitted notebooks that are symlinks or not regular files.

    Each is refused as unreadable without being opened, with a reason that quotes nothing:
    a link to the source notebook (11/11 before), a link to a secret file (its first bytes
    landed in the reasons), a dangling link, a fifo (reading it would hang), a folder.
    """
    secret = course / "outside-secret.txt"
    secret.write_text(SECRET + "\n")
    source = course / "source" / cohort.ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb"
    written = {}
    for student, what in (("l-source", "a symlink to the source notebook (solutions and hidden tests)"),
                          ("l-secret", "a symlink to a secret file outside the course"),
                          ("l-dangling", "a symlink to nothing"),
                          ("l-fifo", "a named pipe instead of a notebook"),
                          ("l-folder", "a folder named like the notebook")):
        target = course / "submitted" / student / cohort.ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        if student == "l-source":
            target.symlink_to(source.resolve())
        elif student == "l-secret":
            target.symlink_to(secret.resolve())
        elif student == "l-dangling":
            target.symlink_to(course / "no-such-file.ipynb")
        elif student == "l-fifo":
            os.mkfifo(target)
        else:
            target.mkdir()
            (target / "x.txt").write_text(SECRET)
        written[student] = what
    return written


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
