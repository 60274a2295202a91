"""Grade a cohort: plan, fan out to workers, record each result as it comes back.

The parent process plans which submissions need grading (a submission whose record
says it was graded from exactly these files is skipped unless `force`), starts `jobs`
worker processes, keeps each one busy, and records results one at a time (the only
gradebook writer). Ctrl-C stops handing out work, lets nothing half-written stay
behind, and kills every kernel; the next run picks up where this one stopped.

`shard_count`/`shard_index` select every n-th submission (sorted by student id), for
the Kubernetes Indexed Job: then results are written to `out_dir` as files instead of
into the gradebook, and `merge` records them later.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

from .course import Course, GradingError, assignment_info, snapshot_gradebook, tree_digest
from .progress import Progress
from .record import SubmissionRefused, admission, load_record, note_not_graded, record_result, refuse
from .sandbox import Limits
from .shared_gradebook import shared_engines


@dataclass
class GradeOptions:
    """How to grade. `timeout` and the other limits are per submission."""

    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    isolation: str = "process"
    image: str = "labkit/autograder:latest"
    force: bool = False
    students: tuple[str, ...] = ()
    shard_index: int | None = None
    shard_count: int | None = None
    out_dir: Path | None = None  # shard mode: write result files here, leave the gradebook alone
    progress: bool = True
    fork_server: bool = True  # process isolation: fork kernels from a warm copy (see zygote.py)


def shard_of(students: list[str], index: int, count: int) -> list[str]:
    """Shard `index` of `count`: every count-th student id in sorted order (disjoint, complete)."""
    if count < 1 or not 0 <= index < count:
        raise GradingError(f"shard {index} of {count} does not exist: use 0 <= index < count")
    return [s for i, s in enumerate(sorted(students)) if i % count == index]


def plan(course: Course, assignment: str, options: GradeOptions) -> tuple[list[str], list[str]]:
    """(to grade, skipped as already graded). See `plan_in_full` for the rest of the plan."""
    todo, skipped, _, _ = plan_in_full(course, assignment, options)
    return todo, skipped


def plan_in_full(course: Course, assignment: str, options: GradeOptions
                 ) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """(to grade, skipped, refused {student: why}, changed but skipped), by nbgrader's rules.

    As `nbgrader autograde`: students in `CourseDirectory.student_id_exclude` are left out; a
    submission whose autograded/ folder exists is skipped unless `force`, or its timestamp.txt
    is newer than the one graded (then regraded); one nbgrader would fail (an invalid
    timestamp.txt, an unknown student under `Autograde.create_student=False`) is refused.
    Ours adds: a submission with no record of ours (never graded by us, an interrupted run,
    a grader fault) is graded even if autograded/ exists, and one whose files changed without
    a newer timestamp is listed in the summary as skipped, not silently.
    """
    students = course.students_submitted(assignment)
    if options.students:
        unknown = sorted(set(options.students) - set(students))
        if unknown:
            raise GradingError(f"no submission of {assignment} for {', '.join(unknown)} under "
                               f"{course.root / 'submitted'}; check the ids (folders are submitted/<student>/{assignment}/ "
                               "and hold the notebooks)")
        students = [s for s in students if s in options.students]
    excluded = course.excluded_students()
    students = [s for s in students if s not in excluded]
    if options.shard_count is not None:
        students = shard_of(students, options.shard_index or 0, options.shard_count)
    todo, skipped, changed = [], [], []
    refused: dict[str, str] = {}
    for student in students:
        try:
            why = admission(course, assignment, student)
        except Exception as error:  # a gradebook we cannot read for one student: that student only
            why = f"the grader could not check this submission: {type(error).__name__}: {error}"
        if why:
            refused[student] = why
            continue
        if options.force or options.out_dir is not None:
            todo.append(student)
            continue
        submitted = course.step_dir("submitted", student, assignment)
        graded = course.step_dir("autograded", student, assignment)
        record = load_record(course, assignment, student)
        if record is None or not graded.exists():
            todo.append(student)
            continue
        try:
            digest = tree_digest(submitted)
        except OSError:
            digest = None
        if record.get("digest") == digest:
            skipped.append(student)
            continue
        try:
            old = course.timestamp(graded)
        except ValueError:
            old = None
        new = course.timestamp(submitted)  # valid: admission read it
        if new is not None and old is not None and new > old:
            todo.append(student)  # nbgrader's rule: a newer timestamp regrades
        else:
            skipped.append(student)
            changed.append(student)
    return todo, skipped, refused, changed


def _task(course: Course, assignment: str, student: str, notebooks: tuple[str, ...], snapshot_url: str) -> dict:
    submitted = course.step_dir("submitted", student, assignment)
    source = course.source_dir(assignment)
    return {
        "student": student,
        "assignment": assignment,
        "notebooks": list(notebooks),
        "submission_dir": str(submitted),
        "digest": tree_digest(submitted),
        "snapshot_url": snapshot_url,
        "extra_files": [(str(f), str(f.relative_to(source))) for f in course.extra_files(assignment)],
        "ignore": list(course.coursedir.ignore),
    }


class _Stop:
    """Ctrl-C once: stop handing out work, finish recording what is back, clean up."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum, frame) -> None:
        self.requested = True


def _preload(course: Course, assignment: str, info, options: GradeOptions, quick: bool = False) -> str:
    """What the kernels' fork server loads ahead for this assignment (see zygote.setup_modules);
    `quick`: only what the setup cells' import statements name (zygote.imported_modules), the list a
    fork server starts on while the full one is worked out."""
    if options.isolation != "process" or not options.fork_server:
        return ""
    from .sandbox import course_pythonpath
    from .zygote import imported_modules, setup_modules

    source = course.source_dir(assignment)
    notebooks = [source / f"{notebook}.ipynb" for notebook in info.notebooks]
    if quick:
        return imported_modules(notebooks)
    # the probe imports the same labkit as the kernels will (ProcessIsolation.kernel_env)
    env = {**os.environ, "PYTHONPATH": course_pythonpath()}
    return setup_modules(notebooks, env)


@shared_engines()  # one gradebook engine for the whole run's recording (see shared_gradebook)
def grade(course: Course, assignment: str, options: GradeOptions) -> dict:
    """Grade `assignment` for every submission that needs it. Returns a summary dict."""
    info = assignment_info(course, assignment)
    todo, skipped, refused, changed = plan_in_full(course, assignment, options)
    summary = {"assignment": assignment, "graded": [], "skipped": skipped, "zero": [], "interrupted": False,
               "seconds": 0.0, "faults": {}, "refused": refused, "changed": changed}
    for student, why in refused.items():
        if options.out_dir is None:
            try:
                refuse(course, assignment, student, why)
            except Exception:  # only a note and the student's gradebook entry: never a reason to stop
                pass
        else:  # the merge records the refusal, so that the student is not reported as missing
            _write_shard_result(Path(options.out_dir), {"student": student, "assignment": assignment, "refused": why,
                                                        "notebooks": {}})
        if options.progress:
            print(f"not graded (nbgrader fails it too): {student}: {why}", file=sys.stderr)
    if not todo:
        return summary
    if options.isolation == "docker" and shutil.which("docker") is None:
        raise GradingError("--isolation docker needs the `docker` command and a running engine; install Docker, "
                           "or grade with --isolation process")
    kernel_name = course.config.Execute.get("kernel_name", "") or "python3"
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(scratch, 0o711)
    snapshot_url = snapshot_gradebook(course, scratch / "gradebook-snapshot.db")
    settings = {
        "course_root": str(course.root),
        "limits": options.limits.as_dict(),
        "isolation": options.isolation,
        "image": options.image,
        "slots_dir": str(scratch / "slots"),
        "kernel_name": kernel_name,
        "fork_server": options.fork_server,
        "preload": _preload(course, assignment, info, options, quick=True),
    }
    # One fork server for the run, shared by the workers: the modules a kernel needs are imported once,
    # not once per worker (1.5 s of CPU each on assignment 3). It starts on the quick list; the full
    # list comes from running the setup cells (1.5 s on assignment 3), worked out meanwhile, then
    # loaded before any kernel forks; the workers hear of it with their first message.
    from .worker import start_fork_server

    fork_server = start_fork_server(settings, "zygote", wait=False)  # it comes up while the workers start
    settings["zygote"] = str(fork_server.socket) if fork_server else ""
    full_preload: list[str] = []
    jobs = max(1, min(options.jobs, len(todo)))
    # fork: a worker starts with nbgrader already imported (seconds saved per worker);
    # the parent has no threads and no open gradebook connection at this point.
    context = mp.get_context("fork")
    workers: dict = {}
    stop = _Stop()
    previous = signal.signal(signal.SIGINT, stop)
    progress = Progress(len(todo), enabled=options.progress)
    queue = list(todo)
    # connection -> students handed to that worker, oldest (the one it is grading) first.
    # Each worker gets two: it starts the next while this process records the last.
    busy: dict = {}

    def start_worker(index: int) -> None:
        parent_end, child_end = context.Pipe()
        from .worker import worker_main
        process = context.Process(target=worker_main, args=(child_end, index, settings), daemon=True)
        process.start()
        child_end.close()
        workers[parent_end] = (index, process)
        if full_preload:
            parent_end.send({"preload": full_preload[0], "zygote": settings["zygote"]})

    def hand_out(conn, depth: int = 2) -> None:
        while queue and not stop.requested and len(busy.get(conn, [])) < depth:
            student = queue.pop(0)
            try:
                task = _task(course, assignment, student, info.notebooks, snapshot_url)
            except Exception as error:  # an unreadable submission folder: this one only
                _finish(course, info, {"student": student, "assignment": assignment, "notebooks": {},
                                       "grader_fault": f"could not read the submission folder: {type(error).__name__}: "
                                                       f"{getattr(error, 'strerror', None) or error}"},
                        options, summary, progress)
                continue
            task["more"] = len(queue) >= len(workers)  # else no need to boot a kernel for later
            try:
                conn.send(task)
            except OSError:  # the worker died meanwhile (BrokenPipeError): the task waits for its successor
                queue.insert(0, student)
                return
            busy.setdefault(conn, []).append(student)

    try:
        for index in range(jobs):
            start_worker(index)
        full_preload.append(_preload(course, assignment, info, options))
        if fork_server is not None and not fork_server.preload(full_preload[0]):
            fork_server.stop()  # it could not load them: kernels start the slow way, walled in as well
            settings["zygote"] = ""
        for conn in list(workers):
            try:
                conn.send({"preload": full_preload[0], "zygote": settings["zygote"]})
            except OSError:  # died already: replaced below, and its successor gets the list at start
                pass
        for conn in list(workers):
            hand_out(conn)
        while busy or (queue and not stop.requested):  # a worker that died idle is replaced below
            ready = wait(list(busy) + [p.sentinel for _, p in workers.values()], timeout=0.5)
            for item in ready:
                if item in busy:
                    conn = item
                    try:
                        result = conn.recv()
                    except (EOFError, OSError):
                        continue  # the sentinel branch below deals with a dead worker
                    busy[conn].remove(result["student"])
                    if not busy[conn]:
                        del busy[conn]
                    hand_out(conn)
                    _finish(course, info, result, options, summary, progress)
            # A worker that died (killed by the OOM killer, say) costs only its submission.
            for conn, (index, process) in list(workers.items()):
                if process.is_alive():
                    continue
                del workers[conn]
                if conn in busy:
                    student, *not_started = busy.pop(conn)
                    queue[:0] = not_started
                    result = {"student": student, "assignment": assignment, "notebooks": {},
                              "grader_fault": f"the grading worker died (exit code {process.exitcode}) on this "
                                              "submission; it stays ungraded, run again to retry"}
                    _finish(course, info, result, options, summary, progress)
                if queue and not stop.requested:
                    start_worker(index)
                    hand_out([c for c, (i, _) in workers.items() if i == index][0])
            if stop.requested and not summary["interrupted"]:
                summary["interrupted"] = True
                progress.note("interrupted: finishing the submissions in progress; run again to grade the rest")
    finally:
        for conn in list(workers):
            try:
                conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        for conn, (index, process) in workers.items():
            process.join(timeout=300 if options.isolation == "docker" else 30)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        if fork_server is not None:
            fork_server.stop()
        signal.signal(signal.SIGINT, previous)
        progress.close()
        shutil.rmtree(scratch, ignore_errors=True)
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def _finish(course: Course, info, result: dict, options: GradeOptions, summary: dict, progress: Progress) -> None:
    """Record one result. Whatever goes wrong here costs this submission only, never the cohort."""
    student = result.get("student", "?")
    try:
        _finish_one(course, info, result, options, summary, progress)
    except SubmissionRefused as refusal:
        summary.setdefault("refused", {})[student] = str(refusal)
        try:
            refuse(course, info.name, student, str(refusal))
        except Exception:  # only a note and the student's gradebook entry: never a reason to stop
            pass
        progress.note(f"not graded (nbgrader fails it too): {student}: {refusal}")
    except Exception as error:
        message = f"the grader failed recording this submission: {type(error).__name__}: {error}"
        summary["faults"][student] = message
        if options.out_dir is None:
            note_not_graded(course, info.name, student, message, "grader")
        progress.note(f"not graded, the grader failed: {student}: {message}")


def _finish_one(course: Course, info, result: dict, options: GradeOptions, summary: dict, progress: Progress) -> None:
    student = result["student"]
    if result.get("refused"):
        raise SubmissionRefused(result["refused"])
    if result.get("grader_fault"):
        # Never a zero for the learner: nothing is recorded, the next run grades it again.
        summary["faults"][student] = result["grader_fault"]
        if options.out_dir is None:
            note_not_graded(course, info.name, student, result["grader_fault"], "grader")
        progress.note(f"not graded, the grader failed: {student}: {result['grader_fault']}")
        return
    if options.out_dir is not None:
        _write_shard_result(Path(options.out_dir), result)
        zero = result.get("error") or any(n["status"] != "graded" for n in result["notebooks"].values())
        (summary["zero"] if zero else summary["graded"]).append(student)
        progress.advance(student, None, bool(zero))
        return
    record = record_result(course, info, result)
    (summary["graded"] if record["status"] == "graded" else summary["zero"]).append(student)
    progress.advance(student, record, record["status"] != "graded")


def _write_shard_result(out: Path, result: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{result['student']}.json.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    os.replace(tmp, out / f"{result['student']}.json")


@shared_engines()
def merge(course: Course, assignment: str, result_dirs: list[Path]) -> dict:
    """Record the result files the shards wrote (one per student) into the gradebook.

    A result file that is broken, or that fails to record, costs its student only."""
    info = assignment_info(course, assignment)
    files: dict[str, Path] = {}
    for directory in result_dirs:
        for path in sorted(Path(directory).glob("*.json")):
            if path.stem in files:
                raise GradingError(f"{path.stem} was graded by two shards ({files[path.stem]} and {path}); "
                                   "shards must not overlap: rerun with the same --shard-count everywhere")
            files[path.stem] = path
    summary = {"assignment": assignment, "graded": [], "zero": [], "skipped": [], "missing": [], "faults": {},
               "refused": {}}
    excluded = course.excluded_students()
    for student in course.students_submitted(assignment):
        if student not in files and student not in excluded:
            summary["missing"].append(student)
    progress = Progress(len(files), enabled=False)
    options = GradeOptions(jobs=1, progress=False)
    for student, path in sorted(files.items()):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            summary["faults"][student] = f"shard result {path} could not be read ({error}); regrade that student's shard"
            continue
        if not isinstance(result, dict) or result.get("assignment") != assignment or result.get("student") != student:
            summary["faults"][student] = (f"{path} does not hold {student}/{assignment}; check the shared directory")
            continue
        _finish(course, info, result, options, summary, progress)
    return summary


def print_summary(summary: dict, stream=sys.stderr) -> None:
    parts = [f"{len(summary.get('graded', []))} graded", f"{len(summary.get('zero', []))} given zero on a notebook"]
    if summary.get("skipped"):
        parts.append(f"{len(summary['skipped'])} skipped (already graded from the same files; --force regrades)")
    if summary.get("missing"):
        parts.append(f"{len(summary['missing'])} with no shard result: {', '.join(summary['missing'])}")
    if summary.get("changed"):
        parts.append(f"{len(summary['changed'])} changed since graded but with no newer timestamp.txt, so not regraded "
                     f"(as nbgrader; --force regrades): {', '.join(summary['changed'])}")
    if summary.get("refused"):
        parts.append(f"{len(summary['refused'])} not graded, as nbgrader would not: "
                     + "; ".join(f"{s}: {why}" for s, why in summary["refused"].items()))
    if summary.get("faults"):
        parts.append(f"{len(summary['faults'])} NOT graded because the grader failed (see above; fix it and run "
                     "again: only those are regraded)")
    if summary.get("interrupted"):
        parts.append("interrupted: run the same command again to grade the rest")
    print(f"{summary['assignment']}: " + ", ".join(parts) + (f" in {summary['seconds']} s" if summary.get("seconds") else ""),
          file=stream)
