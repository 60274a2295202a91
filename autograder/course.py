"""The course as nbgrader sees it: its config, its folders, its gradebook.

Everything is read through nbgrader itself (`nbgrader_config.py`, `CourseDirectory`,
`Gradebook`), so the grader finds the same files and the same assignment that
`nbgrader autograde` would.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .shared_gradebook import SharedGradebook


class GradingError(Exception):
    """A problem the operator must fix before grading can go on (the message says how)."""


# nbgrader options given on our command line (`--Execute.timeout=30`): set once by the CLI,
# before any worker is forked, so the workers' `load_config` sees them too.
_COMMAND_LINE = Config()


def set_command_line_config(config: Config) -> None:
    """Apply `config` over `nbgrader_config.py` from now on, as nbgrader applies its command line."""
    global _COMMAND_LINE
    _COMMAND_LINE = Config(config)


def parse_nbgrader_options(argv: list[str]) -> Config:
    """`--Class.trait=value` / `--Class.trait value` arguments, read as nbgrader's own command line reads them.

    Raises GradingError for anything else, naming it (the caller has taken its own options out).
    """
    from traitlets.config.loader import KVArgParseConfigLoader

    for arg in argv:
        if arg.startswith("-") and not re.match(r"^--[A-Za-z_]\w*\.[A-Za-z_]\w*(=.*)?$", arg):
            raise GradingError(f"unrecognized option {arg}: ours are listed by --help; nbgrader's are written "
                               "--Class.trait=value (e.g. --Execute.timeout=30)")
    if argv and not argv[0].startswith("--"):
        raise GradingError(f"unexpected argument {argv[0]!r}; see --help")
    try:
        return KVArgParseConfigLoader(argv).load_config()
    except (SystemExit, Exception) as error:  # argparse exits on what it cannot read
        raise GradingError(f"could not read the nbgrader options {' '.join(argv)}: {error}") from None


def load_config(root: Path) -> Config:
    """nbgrader's settings from `<root>/nbgrader_config.py` (empty when there is none), then the
    command line's, as nbgrader merges them."""
    config = Config()
    if (root / "nbgrader_config.py").exists():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(_COMMAND_LINE)
    config.CourseDirectory.root = str(root)
    return config


def parse_timestamp(text: str):
    """A timestamp.txt's text as nbgrader reads it: a UTC datetime, None when empty; ValueError when not a date."""
    from nbgrader.utils import parse_utc

    text = text.strip()
    if not text:
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError) as error:
        raise ValueError(str(error)) from None


@dataclass
class Course:
    """A course directory: `source/`, `submitted/`, `autograded/`, `feedback/`, the gradebook."""

    root: Path
    config: Config
    coursedir: CourseDirectory

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Course":
        root = Path(root).resolve()
        if not root.is_dir():
            raise GradingError(f"course directory {root} does not exist; pass --course DIR (the folder with nbgrader_config.py)")
        config = load_config(root)
        return cls(root=root, config=config, coursedir=CourseDirectory(config=config))

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def db_path(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.db_url[len(prefix):]) if self.db_url.startswith(prefix) else None

    def gradebook(self) -> Gradebook:
        return SharedGradebook(self.db_url, self.coursedir.course_id)

    def step_dir(self, step: str, student: str, assignment: str) -> Path:
        """`<root>/<step>/<student>/<assignment>` as nbgrader's directory_structure says."""
        directory = getattr(self.coursedir, f"{step}_directory")
        return Path(self.coursedir.format_path(directory, student, assignment))

    def state_dir(self, assignment: str) -> Path:
        """Where the autograder keeps its per-student records (never shown to learners)."""
        return self.root / "autograder-results" / assignment

    def students_submitted(self, assignment: str) -> list[str]:
        """Students with a submission: a folder holding at least one notebook, as nbgrader's glob
        (`submitted/*/<assignment>/*.ipynb`) finds them; a folder with no notebook is not one."""
        base = Path(self.coursedir.format_path(self.coursedir.submitted_directory, ".", ".")).resolve()
        if not base.is_dir():
            return []
        found = []
        for student in base.iterdir():
            folder = student / assignment
            try:
                if folder.is_dir() and any(p.name.endswith(".ipynb") for p in folder.iterdir()):
                    found.append(student.name)
            except OSError:  # an unreadable folder: nbgrader's glob skips it too
                continue
        return sorted(found)

    def excluded_students(self) -> set[str]:
        """`CourseDirectory.student_id_exclude` (comma-separated), which nbgrader skips."""
        value = self.coursedir.student_id_exclude
        return {s for s in value.split(",") if s} if value else set()

    def autograde_settings(self):
        """nbgrader's Autograde converter with this course's config: its traits (create_student,
        exclude_overwriting), typed as nbgrader types them (a command line gives strings)."""
        from nbgrader.converters import Autograde

        return Autograde(coursedir=self.coursedir, config=self.config)

    def timestamp(self, directory: Path):
        """The submission's time from `directory/timestamp.txt` (None: no file, or an empty one).
        Raises ValueError, with a message for the instructor, when the file does not hold a date."""
        path = Path(directory) / "timestamp.txt"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ValueError(f"{path} could not be read ({error.strerror})") from None
        try:
            return parse_timestamp(text)
        except ValueError:
            raise ValueError(f"{path} does not hold a date and time (nbgrader fails such a submission too); "
                             "write one like 2026-03-01 17:00:00 UTC, or delete the file, and grade again") from None

    def extra_files(self, assignment: str) -> list[Path]:
        """The assignment's non-notebook files in source/, which nbgrader copies beside each submission."""
        from nbgrader import utils

        source = Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))
        exclude = set(self.autograde_settings().exclude_overwriting.get(assignment, []))
        files = utils.find_all_files(str(source), list(self.coursedir.ignore) + ["*.ipynb"]) if source.is_dir() else []
        return [Path(f) for f in sorted(files) if os.path.relpath(f, source) not in exclude]

    def source_dir(self, assignment: str) -> Path:
        return Path(self.coursedir.format_path(self.coursedir.source_directory, ".", assignment))


@dataclass(frozen=True)
class AssignmentInfo:
    """What the gradebook knows about an assignment: its notebooks and their grade cells."""

    name: str
    notebooks: tuple[str, ...]
    grade_cells: dict  # notebook -> {grade_id: max_score}


def assignment_info(course: Course, assignment: str) -> AssignmentInfo:
    """Read the assignment from the gradebook, or say how to put it there."""
    db = course.db_path
    if db is not None and not db.exists():
        raise GradingError(
            f"no gradebook at {db}: run `nbgrader generate_assignment {assignment}` (or `make release`) "
            "in the course directory first")
    with course.gradebook() as gb:
        try:
            record = gb.find_assignment(assignment)
        except MissingEntry:
            known = ", ".join(a.name for a in gb.assignments) or "none"
            raise GradingError(
                f"assignment {assignment!r} is not in the gradebook {course.db_url} (it has: {known}); "
                f"run `nbgrader generate_assignment {assignment}` first") from None
        notebooks = tuple(sorted(nb.name for nb in record.notebooks))
        cells = {nb.name: {c.name: float(c.max_score) for c in nb.grade_cells} for nb in record.notebooks}
    if not notebooks:
        raise GradingError(f"assignment {assignment!r} has no notebooks in the gradebook; run `nbgrader generate_assignment {assignment} --force`")
    return AssignmentInfo(assignment, notebooks, cells)


def snapshot_gradebook(course: Course, target: Path) -> str:
    """A private read-only copy of the gradebook for workers (the real one has one writer: us).

    Uses SQLite's online backup, so a consistent copy is taken even while it is in use.
    """
    db = course.db_path
    if db is None:
        raise GradingError(f"the gradebook {course.db_url} is not SQLite; the autograder needs a SQLite gradebook")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    with copy:
        source.backup(copy)
    source.close()
    copy.close()
    return f"sqlite:///{target}"


def tree_digest(path: Path) -> str:
    """A fingerprint of every file under `path` (names and bytes), to notice resubmissions."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def copy_tree_safely(source: Path, target: Path) -> None:
    """Copy a learner's folder without following symlinks out of it."""
    shutil.copytree(source, target, symlinks=True, ignore_dangling_symlinks=True, dirs_exist_ok=True)
    for link in [p for p in target.rglob("*") if p.is_symlink()]:
        link.unlink()
