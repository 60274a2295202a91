"""`python -m autograder`: grade a cohort with nbgrader's gradebook, in parallel, walled in.

    python -m autograder import ASSIGNMENT ZIP_OR_DIR [--force]
    python -m autograder grade ASSIGNMENT [--jobs N] [--timeout S] [--isolation process|docker] [--force]
    python -m autograder feedback ASSIGNMENT [--include-hidden]
    python -m autograder export ASSIGNMENT --csv FILE
    python -m autograder shard ASSIGNMENT --out DIR [--index K] [--count N]   (one pod of the Job)
    python -m autograder merge ASSIGNMENT DIR...                               (after the Job)
    python -m autograder image [--tag TAG]                                     (build the grading image)

Run it in the course directory (the folder with nbgrader_config.py and gradebook.db),
or pass --course DIR. nbgrader's own settings can be given as on nbgrader's command line,
--Class.trait=value (e.g. --Execute.timeout=30 --Autograde.create_student=False
--CourseDirectory.student_id_exclude=a,b --LateSubmissionPlugin.penalty_method=zero):
they apply over nbgrader_config.py, as nbgrader applies them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _skip_slow_optional_imports() -> None:
    """Start the command 1.4 s sooner (measured here: 2.5 s -> 1.1 s to import nbgrader).

    jsonschema, which nbformat imports, loads the optional `rfc3987_syntax` package when it
    is installed (Jupyter's event library asks for it); that package builds a parser for
    IRIs at import time. It only serves the "iri" string format, which no nbgrader or
    nbformat schema uses, and jsonschema carries on without it. Kernels are not affected:
    they are other processes.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # None makes `import rfc3987_syntax` fail fast


_skip_slow_optional_imports()

from .course import Course, GradingError, parse_nbgrader_options, set_command_line_config  # noqa: E402 - after the line above, on purpose
from .sandbox import Limits  # noqa: E402 - after the line above, on purpose


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help="the assignment id, e.g. 01-vms-and-containers")
    parser.add_argument("--course", default=os.environ.get("AUTOGRADER_COURSE", "."),
                        help="the course directory (default: here, or $AUTOGRADER_COURSE)")


def _limits(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=defaults.timeout,
                        help="wall-clock seconds per submission, all cells together (default: nbgrader's per-cell "
                             "limit, Execute.timeout, times the notebook's code cells, so never less than nbgrader allows)")
    parser.add_argument("--memory", type=int, default=defaults.memory_mb, help=f"MB per kernel (default {defaults.memory_mb})")
    parser.add_argument("--processes", type=int, default=defaults.processes,
                        help=f"processes and threads per kernel (default {defaults.processes})")
    parser.add_argument("--output", type=float, default=defaults.output_mb,
                        help=f"MB of output a notebook may print before it is cut (default {defaults.output_mb:g})")
    parser.add_argument("--isolation", choices=["process", "docker"], default="process",
                        help="process: namespaces, limits and a private uid on this machine (fast); "
                             "docker: a fresh container per submission")
    parser.add_argument("--image", default=os.environ.get("AUTOGRADER_IMAGE", "labkit/autograder:latest"),
                        help="the grading image for --isolation docker (see `image`)")
    parser.add_argument("--no-fork-server", dest="fork_server", action="store_false",
                        help="process isolation: start every kernel from scratch instead of forking it "
                             "from a warm copy (slower; for a kernel that is not ipykernel, or to rule the fork server out)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _options(args, **extra):
    from .grade import GradeOptions

    limits = Limits(timeout=args.timeout, memory_mb=args.memory, processes=args.processes, output_mb=args.output)
    return GradeOptions(jobs=args.jobs, limits=limits, isolation=args.isolation, image=args.image,
                        progress=not args.quiet, fork_server=args.fork_server, **extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("import", help="bring an LMS zip or folder into submitted/")
    _common(p)
    p.add_argument("source", type=Path, help="the zip file or folder of <student>_<notebook>.ipynb files")
    p.add_argument("--force", action="store_true", help="replace submissions already in submitted/")

    p = commands.add_parser("grade", help="grade every submission that needs it")
    _common(p)
    _limits(p)
    p.add_argument("--force", action="store_true", help="regrade submissions graded before")
    p.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")

    p = commands.add_parser("shard", help="grade shard K of N into DIR, without touching the gradebook (a Job's pod)")
    _common(p)
    _limits(p)
    p.add_argument("--out", type=Path, required=True, help="the shared folder for result files")
    p.add_argument("--index", type=int, default=None, help="this shard (default: $JOB_COMPLETION_INDEX)")
    p.add_argument("--count", type=int, default=None, help="number of shards (default: $SHARD_COUNT)")

    p = commands.add_parser("merge", help="record the shards' results in the gradebook")
    _common(p)
    p.add_argument("dirs", type=Path, nargs="+", help="the folders the shards wrote")

    p = commands.add_parser("feedback", help="feedback/<student>/<assignment>/*.html, hidden tests left out")
    _common(p)
    p.add_argument("--include-hidden", action="store_true", help="show hidden tests, as plain nbgrader does")
    p.add_argument("--student", action="append", default=[], help="only this student (repeatable)")

    p = commands.add_parser("export", help="a CSV row per learner: score, max, status, flags, reasons")
    _common(p)
    p.add_argument("--csv", type=Path, required=True, help="the file to write")

    p = commands.add_parser("image", help="build the grading image (autograder/Dockerfile)")
    p.add_argument("--tag", default=None, help="image tag (default: labkit/autograder:<content hash>)")
    p.add_argument("--base-image", default=os.environ.get("LABKIT_BASE_IMAGE"),
                   help="FROM image with python3 (default: the Dockerfile's; $LABKIT_BASE_IMAGE)")
    return parser


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise GradingError(f"${name} is {value!r}, not a whole number; set it to the shard number") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    try:
        if extra:
            if args.command == "image":
                raise GradingError(f"unrecognized arguments: {' '.join(extra)}")
            set_command_line_config(parse_nbgrader_options(extra))
        return _run(args)
    except GradingError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "image":
        from .image import build_image

        tag = build_image(tag=args.tag, base_image=args.base_image)
        print(tag)
        return 0
    course = Course.open(args.course)
    if args.command == "import":
        from .intake import import_submissions

        report = import_submissions(course, args.assignment, args.source, force=args.force)
        print("\n".join(report.lines()))
        return 0
    if args.command == "grade":
        from .grade import grade, print_summary

        force = args.force or course.autograde_settings().force  # nbgrader's --BaseConverter.force=True too
        summary = grade(course, args.assignment, _options(args, force=force, students=tuple(args.student)))
        print_summary(summary)
        return _exit_code(summary)
    if args.command == "shard":
        from .grade import grade, print_summary

        index = args.index if args.index is not None else _env_int("JOB_COMPLETION_INDEX")
        count = args.count if args.count is not None else _env_int("SHARD_COUNT")
        if index is None or count is None:
            raise GradingError("shard needs its number and the number of shards: pass --index K --count N, "
                               "or set JOB_COMPLETION_INDEX (Kubernetes does, in an Indexed Job) and SHARD_COUNT")
        summary = grade(course, args.assignment,
                        _options(args, shard_index=index, shard_count=count, out_dir=args.out / f"shard-{index}"))
        print_summary(summary)
        return _exit_code(summary)
    if args.command == "merge":
        from .grade import merge, print_summary

        dirs = []
        for directory in args.dirs:
            shards = sorted(directory.glob("shard-*"))
            dirs.extend(shards or [directory])
        summary = merge(course, args.assignment, dirs)
        print_summary(summary)
        return 1 if summary["missing"] or summary["faults"] or summary["refused"] else 0
    if args.command == "feedback":
        from .feedback import generate_feedback

        report = generate_feedback(course, args.assignment, include_hidden=args.include_hidden,
                                   students=tuple(args.student), with_problems=True)
        pages, problems = report
        for student, why in sorted(problems.items()):
            print(f"feedback for {student}: {why}", file=sys.stderr)
        print(f"{len(pages)} feedback pages under {course.root / 'feedback'}"
              + ("" if args.include_hidden else " (hidden tests left out; --include-hidden shows them)"))
        return 1 if problems else 0
    if args.command == "export":
        from .export import export_csv

        rows = export_csv(course, args.assignment, args.csv)
        print(f"{rows} rows written to {args.csv}")
        return 0
    raise GradingError(f"unknown command {args.command}")


def _exit_code(summary: dict) -> int:
    """130 interrupted; 1 when a submission was not graded (as nbgrader exits 1 then); else 0."""
    if summary["interrupted"]:
        return 130
    return 1 if summary["faults"] or summary.get("refused") else 0


if __name__ == "__main__":
    sys.exit(main())
