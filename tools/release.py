"""Regenerate release/ from source/ with nbgrader, for every assignment in course.yml.

`make release` runs this. For each assignment it runs
`nbgrader generate_assignment <id> --force` (which records the assignment, its
cells and hidden tests in the instructor's gradebook and writes the learner's
copy without solutions or hidden tests), then copies the repository paths the
assignment ships (course.yml `ship:`, e.g. the web service) into
release/<id>/, so learners get the course's one copy of them.

`--course-dir DIR --no-db` writes into another course directory without a
gradebook: the tests use it to check that release/ is what source/ makes.

`--gradebook` only records in the gradebook the assignments it lacks (what
Formgrader lists and autograding needs), leaving release/ as it is:
`make lab-instructor` runs it, so a fresh clone's instructor view knows every
assignment of course.yml.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.course import REPO_ROOT, CourseManifest, load

SHIP_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "tests", ".ipynb_checkpoints")


def _nbgrader_env() -> dict[str, str]:
    """nbgrader runs `alembic` from PATH: put this interpreter's scripts first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


SCRATCH_RELEASE = ".gradebook-scratch"  # a course-root folder name, removed after use


def generate(assignment: str, course_dir: Path, no_db: bool = False, release_directory: str | None = None) -> None:
    """Run nbgrader's own generate_assignment; raise with its output when it fails."""
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"]
    if no_db:
        command.append("--no-db")
    if release_directory:
        command.append(f"--CourseDirectory.release_directory={release_directory}")
    result = subprocess.run(
        command, cwd=course_dir, env=_nbgrader_env(), capture_output=True, text=True
    )
    if result.returncode != 0 or "ERROR" in result.stderr:
        raise RuntimeError(
            f"nbgrader generate_assignment {assignment} failed in {course_dir}:\n{result.stderr}"
        )


def ship(assignment: str, paths: tuple[str, ...], course_dir: Path, repo_root: Path = REPO_ROOT) -> list[Path]:
    """Copy each shipped repository path into release/<assignment>/, replacing older copies."""
    copied = []
    for relative in paths:
        source = repo_root / relative
        if not source.exists():
            raise FileNotFoundError(f"course.yml ships {relative!r} with {assignment}, but it does not exist")
        target = course_dir / "release" / assignment / relative
        if target.is_dir():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=SHIP_IGNORE)
        else:
            shutil.copy2(source, target)
        copied.append(target)
    return copied


def release(course: CourseManifest, course_dir: Path = REPO_ROOT, no_db: bool = False) -> None:
    for step in course.assignments:
        generate(step.assignment, course_dir, no_db=no_db)
        ship(step.assignment, step.ship, course_dir)
        print(f"released {step.assignment} -> {course_dir / 'release' / step.assignment}")


def recorded_assignments(course_dir: Path) -> set[str]:
    """The assignments the course's gradebook knows (none when it does not exist yet)."""
    database = course_dir / "gradebook.db"
    if not database.exists():
        return set()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{database}") as gradebook:
        return {assignment.name for assignment in gradebook.assignments}


def record_in_gradebook(course: CourseManifest, course_dir: Path = REPO_ROOT) -> list[str]:
    """Record each assignment the gradebook lacks, as generate_assignment does, without touching release/.

    nbgrader writes the learner's copy to a scratch folder, removed afterwards; the
    gradebook gets the assignment, its notebooks, cells, points and hidden tests.
    """
    missing = [step.assignment for step in course.assignments if step.assignment not in recorded_assignments(course_dir)]
    scratch = course_dir / SCRATCH_RELEASE
    try:
        for assignment in missing:
            generate(assignment, course_dir, release_directory=SCRATCH_RELEASE)
            print(f"recorded {assignment} in {course_dir / 'gradebook.db'}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course-dir", type=Path, default=REPO_ROOT)
    parser.add_argument("--no-db", action="store_true", help="do not touch a gradebook")
    parser.add_argument("--gradebook", action="store_true",
                        help="only record in the gradebook the assignments it lacks; release/ is left as it is")
    args = parser.parse_args(argv)
    course_dir = args.course_dir.resolve()
    # The course directory's own table of contents when it has one (a scratch copy may differ).
    course = load(course_dir / "course.yml") if (course_dir / "course.yml").exists() else load()
    try:
        if args.gradebook:
            record_in_gradebook(course, course_dir)
        else:
            release(course, course_dir, no_db=args.no_db)
    except (RuntimeError, FileNotFoundError) as error:
        print(f"release failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
