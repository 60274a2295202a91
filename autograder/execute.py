"""Run one submission the way `nbgrader autograde` runs it, minus the gradebook writes.

nbgrader's autograde is two passes of preprocessors over each notebook:
sanitize (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
CheckCellMetadata), then execute and score (Execute, IgnorePattern, ClearMetadata,
LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata). This module runs
the very same classes, in the same order, with the course's config, up to LimitOutput;
the grader's parent process runs the last three (the ones that write the gradebook).
So the outputs, and therefore the scores, are nbgrader's.

Two subclasses add what nbgrader lacks, without changing what it does:
`FlaggingOverwriteCells` remembers every restored cell and points change as a flag, and
`GuardedExecute` runs in a pre-started kernel and caps the output a notebook may print.
Its subclass `trusted_execute.TrustedExecute` is what runs a submission: the learner's
cells in the sandbox, the test cells in a trusted evaluator kernel (see evaluators.py),
each test cell's score (a *verdict*) from nbgrader's own `determine_grade`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, Execute, IgnorePattern,
                                    LimitOutput, OverwriteCells, OverwriteKernelspec)
from traitlets.config import Config

from . import frozen_gradebook, schema_once
from .kernels import KernelPool
from .sandbox import Limits

schema_once.install()  # nbgrader's cell-metadata check, its schema checked once (see schema_once)


# The budget covers stopping the kernel too (measured: tens of milliseconds), so the
# timer fires this much before the deadline.
TEARDOWN_SECONDS = 0.2
# Files a notebook writes in its working directory are kept (in autograded/), up to this much.
FILES_LIMIT_MB = 64


class GraderFault(Exception):
    """The grader, not the learner, failed (a kernel that never started, a bug): the
    submission is left ungraded, reported, and graded on the next run."""


class FlaggingOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells (it restores locked cells and points), keeping a list of
    what it had to restore, so the instructor sees who edited or deleted a test. It reads the
    snapshot gradebook from memory (`frozen_gradebook`); the rest is nbgrader's own
    `OverwriteCells.preprocess`, step for step."""

    def preprocess(self, nb, resources):
        self.flags = resources.setdefault("autograder", {}).setdefault("flags", [])
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = frozen_gradebook.frozen(self.db_url, self.assignment_id)
        nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources

    def report_change(self, name, attr, old, new):
        super().report_change(name, attr, old, new)
        if attr == "checksum":
            self._source_restored = True  # judged in preprocess_cell: hidden tests alone do not count
        elif attr == "points":
            self.flags.append(f"changed the points of {name} from {old:g} to {new:g} (restored)")
        else:
            self.flags.append(f"changed {attr} of cell {name} from {old} to {new} (restored)")

    def preprocess_cell(self, cell, resources, cell_index):
        submitted = cell.source
        self._source_restored = False
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        # The released cell lacks the hidden tests, so nbgrader always "restores" such a
        # cell; flag it only when the learner's text differs from what was released.
        if self._source_restored and submitted != released_text(cell.source, self.config):
            self.flags.append(f"edited locked cell {cell.metadata.nbgrader['grade_id']} (restored from the gradebook)")
        return cell, resources

    def add_missing_grade_cells(self, nb, resources):
        present = {c.metadata.nbgrader.get("grade_id") for c in nb.cells if utils.is_grade(c) or utils.is_solution(c)}
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        for cell in source_nb.grade_cells:
            if cell.name not in present:
                self.flags.append(f"deleted grade cell {cell.name} (restored from the gradebook)")
        return super().add_missing_grade_cells(nb, resources)


class FrozenOverwriteKernelspec(OverwriteKernelspec):
    """nbgrader's OverwriteKernelspec, reading the snapshot gradebook from memory (`frozen_gradebook`)."""

    def preprocess(self, nb, resources):
        meta = resources["nbgrader"]
        kernelspec = frozen_gradebook.frozen(meta["db_url"], meta["assignment"]).find_notebook(
            meta["notebook"], meta["assignment"]).kernelspec
        if kernelspec is not None:
            kernelspec = json.loads(kernelspec)
        if kernelspec:
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources


_hidden_test_clearers: dict[int, tuple[Config, object]] = {}


def released_text(source: str, config: Config) -> str:
    """A locked cell's text as learners got it: nbgrader's ClearHiddenTests applied.

    Called for every test cell of every submission (twice), so the preprocessor is made once per
    config, and the cell it works on is a bare node: it reads and writes only the cell's source
    (`nbformat.v4.new_code_cell` would validate a new cell each time, a sixth of the worker's
    nbformat time)."""
    from nbformat import NotebookNode
    from nbgrader.preprocessors import ClearHiddenTests

    cached = _hidden_test_clearers.get(id(config))
    if cached is None or cached[0] is not config:
        cached = _hidden_test_clearers[id(config)] = (config, ClearHiddenTests(config=config))
    cell = NotebookNode(cell_type="code", source=source, metadata=NotebookNode(), outputs=[], execution_count=None)
    cached[1]._remove_hidden_test_region(cell)
    return cell.source


class GuardedExecute(Execute):
    """nbgrader's Execute in a kernel we started (from the pool), with an output cap,
    that notices at once when the budget's timer has killed the kernel."""

    walled_km = None
    output_limit = 8 * 1024 * 1024
    killed: threading.Event | None = None

    async def _async_poll_kernel_alive(self) -> None:
        # nbclient checks once a second whether the kernel died; a submission that ran out
        # of time would then overrun its budget by up to a second. Look at our own kill
        # flag twenty times as often (no system call), and ask the kernel manager as before.
        ticks = 0
        while True:
            await asyncio.sleep(0.05)
            ticks += 1
            if ticks % 20 and not (self.killed is not None and self.killed.is_set()):
                continue
            try:
                await self._async_check_alive()
            except DeadKernelError:
                self.task_poll_for_reply.cancel()
                return

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes = 0
        self.output_truncated = False
        return super().preprocess(nb, resources, km=self.walled_km)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        size += sum(len(line) for line in content.get("traceback", []))
        self._output_bytes += size
        if self._output_bytes > self.output_limit:
            if not self.output_truncated:
                self.output_truncated = True
                outs.append(new_output("stream", name="stdout", text=(
                    f"\n... output cut by the autograder: this notebook printed more than "
                    f"{self.output_limit // (1024 * 1024)} MB ...\n")))
            return None
        return super().output(outs, msg, display_id, cell_index)


def _exporter(config: Config, preprocessors: list) -> NotebookExporter:
    config = Config(config)
    config.Exporter.default_preprocessors = []
    exporter = NotebookExporter(config=config)
    for pp in preprocessors:
        exporter.register_preprocessor(pp)
    return exporter


def _resources(student: str, assignment: str, notebook: str, db_url: str, path: Path) -> dict:
    return {
        "unique_key": notebook,
        "output_files_dir": f"{notebook}_files",
        "nbgrader": {"student": student, "assignment": assignment, "notebook": notebook, "db_url": db_url},
        "metadata": {"name": notebook, "path": str(path)},
    }


@dataclass
class NotebookResult:
    """What happened to one notebook: `graded`, `failed` (zero), `unreadable` (zero) or `missing`."""

    status: str
    notebook: str | None = None  # the executed notebook, JSON text
    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    verdicts: dict[str, dict] = field(default_factory=dict)  # grade_id -> {score, max_score, problem}
    files: dict[str, str] = field(default_factory=dict)  # relative path -> base64 of what the notebook wrote
    cost: dict[str, float] = field(default_factory=dict)  # seconds: sandbox, evaluator, clusters

    def as_dict(self) -> dict:
        return {"status": self.status, "notebook": self.notebook, "flags": self.flags,
                "reasons": self.reasons, "seconds": round(self.seconds, 3),
                "verdicts": self.verdicts, "files": self.files}


def read_submitted(path: Path) -> str:
    """The text of a submitted notebook, never following a link nor opening anything but a
    regular file. Raises `Unreadable`, whose message never quotes the file's content."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise Unreadable(f"{path.name} could not be read ({error.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise Unreadable(f"{path.name} is a symbolic link, not a notebook: submit the notebook file itself")
    if not stat.S_ISREG(info.st_mode):
        raise Unreadable(f"{path.name} is not a regular file (a folder, a pipe or a device): submit the notebook file itself")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise Unreadable(f"{path.name} could not be read ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise Unreadable(f"{path.name} is not a regular file: submit the notebook file itself")
        data = handle.read()
    if not data:
        raise Unreadable(f"{path.name} could not be read as a notebook: the file is empty (0 bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name} could not be read as a notebook: it is not UTF-8 text") from None


class Unreadable(ValueError):
    """A submitted notebook we will not or cannot read; the message quotes none of its content."""


def _why_unreadable(notebook: str, error: Exception) -> str:
    """Why a notebook could not be sanitized, in words that quote nothing from the file."""
    if isinstance(error, Unreadable):
        return str(error)
    name = type(error).__name__
    if isinstance(error, json.JSONDecodeError) or name == "NotJSONError":
        what = "it is not valid JSON (was it saved by Jupyter, and completely?)"
    elif name == "ValidationError":
        what = "it is JSON but not a valid Jupyter notebook"
    elif "nbgrader" in type(error).__module__ or "metadata" in str(error).lower():
        what = "its nbgrader cell metadata is broken (cells copied or edited by hand?)"
    else:
        what = f"{name}"
    return f"{notebook}.ipynb could not be read as a notebook: {what}"


def sanitize(path: Path, student: str, assignment: str, notebook: str, snapshot_url: str,
             config: Config) -> tuple[nbformat.NotebookNode, list[str]]:
    """nbgrader's first pass (against a private copy of the gradebook). Raises on bad files."""
    text = read_submitted(path)
    exporter = _exporter(config, [ClearOutput, DeduplicateIds, FrozenOverwriteKernelspec, FlaggingOverwriteCells,
                                  CheckCellMetadata])
    resources = _resources(student, assignment, notebook, snapshot_url, path.parent)
    resources["autograder"] = {"flags": []}
    output, resources = exporter.from_notebook_node(nbformat.reads(text, as_version=4), resources=resources)
    return nbformat.reads(output, as_version=4), list(resources["autograder"]["flags"])


def sandbox_notebook(sanitized: nbformat.NotebookNode, config: Config) -> str:
    """The notebook as the sandbox may see it on disk: every test cell as released (no hidden
    tests), no outputs. The restored hidden tests exist only in the evaluator."""
    released = nbformat.from_dict(copy.deepcopy(dict(sanitized)))
    for cell in released.cells:
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            cell.source = released_text(cell.source, config)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(released)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepare_workdir(work: Path, submission_dir: Path, extra_files: list[tuple[Path, Path]],
                    notebook_text: str, notebook: str, ignore: list[str]) -> dict[str, str]:
    """The kernel's current directory, laid out as nbgrader lays out autograded/<student>/<assignment>:
    the learner's other files, then the assignment's files from source/ over them, then the notebook.
    Returns {relative path: sha256} of what it wrote, so `written_files` sees what the notebook changed."""
    for file in utils.find_all_files(str(submission_dir), list(ignore) + ["*.ipynb"]):
        file = Path(file)
        if file.is_symlink() or not file.is_file():
            continue
        target = work / file.relative_to(submission_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
    for source, relative in extra_files:
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        shutil.copyfile(source, target)
    (work / f"{notebook}.ipynb").write_text(notebook_text, encoding="utf-8")
    written = {str(p.relative_to(work)): _digest(p) for p in work.rglob("*") if p.is_file() and not p.is_symlink()}
    if os.geteuid() == 0:  # the learner's code may change these files, as under nbgrader
        owner = work.stat()
        for path in work.rglob("*"):
            os.chown(path, owner.st_uid, owner.st_gid, follow_symlinks=False)
    return written


def written_files(work: Path, before: dict[str, str], notebook: str,
                  limit_mb: float = FILES_LIMIT_MB) -> tuple[dict[str, str], list[str]]:
    """Regular files the notebook created or changed in `work` (not the notebook, not
    .ipynb_checkpoints, no links followed), as base64, at most `limit_mb` in all (the
    largest are left out); and flags saying what was left out."""
    found: list[tuple[int, str, Path]] = []
    for directory, dirs, names in os.walk(work, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints"]
        for name in names:
            path = Path(directory) / name
            relative = str(path.relative_to(work))
            if relative == f"{notebook}.ipynb":
                continue
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_size, relative, path))
    files: dict[str, str] = {}
    left_out: list[str] = []
    room = int(limit_mb * 1024 * 1024)
    for size, relative, path in sorted(found):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(room + 1)
        except OSError:
            continue
        if before.get(relative) == hashlib.sha256(data).hexdigest():
            continue  # as it was given to the notebook
        if len(data) > room:
            left_out.append(relative)
            continue
        room -= len(data)
        files[relative] = base64.b64encode(data).decode("ascii")
    flags = [f"wrote more than {limit_mb:g} MB of files: not kept: {', '.join(sorted(left_out)[:10])}"] if left_out else []
    return files, flags


def run_notebook(pool: KernelPool, sanitized: nbformat.NotebookNode, student: str, assignment: str,
                 notebook: str, submission_dir: Path, extra_files: list[tuple[Path, Path]], config: Config,
                 limits: Limits, deadline: float, ignore: list[str], prestart: bool = True,
                 evaluators: KernelPool | None = None, budget_text: str | None = None) -> NotebookResult:
    """nbgrader's second pass up to LimitOutput: the learner's cells in a fresh walled kernel,
    the test cells in a fresh evaluator (`trusted_execute`), within the deadline."""
    from .evaluators import prepare_evaluator_dir
    from .trusted_execute import TrustedExecute

    started = time.monotonic()
    budget_text = budget_text or f"the submission's budget is {limits.timeout:g} s"
    km, slot = pool.take()
    ekm, eslot = evaluators.take()
    if prestart:
        pool.prestart()  # the next submission's kernels boot while this one runs
        evaluators.prestart()
    before = prepare_workdir(slot.work, submission_dir, extra_files, sandbox_notebook(sanitized, config), notebook, ignore)
    prepare_evaluator_dir(eslot.work, extra_files)

    exporter = _exporter(config, [])
    executor = TrustedExecute(parent=exporter)
    executor.walled_km = km
    executor.evaluator_km = ekm
    executor.bridge_path = eslot.bridge
    executor.tunnel_dir = slot.kernel_dir
    executor.output_limit = int(limits.output_mb * 1024 * 1024)
    exporter.register_preprocessor(executor)
    for pp in (IgnorePattern, ClearMetadataPreprocessor, LimitOutput):
        exporter.register_preprocessor(pp)

    timed_out = threading.Event()
    executor.killed = threading.Event()

    def over_budget() -> None:
        timed_out.set()
        km.kill_now()
        ekm.kill_now()
        executor.killed.set()

    budget = max(0.0, deadline - time.monotonic() - TEARDOWN_SECONDS)
    timer = threading.Timer(budget, over_budget)
    timer.daemon = True
    timer.start()
    resources = _resources(student, assignment, notebook, "", slot.work)
    flags: list[str] = []
    try:
        output, _ = exporter.from_notebook_node(sanitized, resources=resources)
        status, reasons = "graded", []
    except DeadKernelError:
        status = "failed"
        output = nbformat.writes(executor.nb) if getattr(executor, "nb", None) else None
        if timed_out.is_set():
            reasons = [f"ran out of time: {budget_text} (an endless loop, or a loop that ignores interrupts?)"]
        else:
            reasons = ["the kernel died while running this notebook (os._exit, a crash, "
                       f"or more than {limits.memory_mb} MB of memory)"]
    except Exception as error:  # any failure of a submission is its own, never the cohort's
        status = "failed"
        output = nbformat.writes(executor.nb) if getattr(executor, "nb", None) else None
        reason = f"ran out of time: {budget_text}" if timed_out.is_set() \
            else f"could not run this notebook: {type(error).__name__}: {error}"
        reasons = [reason]
    finally:
        timer.cancel()
        pool.give_back(km, slot)
        evaluators.give_back(ekm, eslot)
    files, file_flags = written_files(slot.work, before, notebook)
    if status == "failed" and executor.code_cells_executed == 0 and not timed_out.is_set():
        # Not one cell ran: the kernel never started. That is never the learner's fault.
        log = ""
        for root in (slot.root, eslot.root):
            for name in ("launcher.log", "kernel.log"):
                try:
                    log += (root / name).read_text(errors="replace")[-800:]
                except OSError:
                    pass
        raise GraderFault(f"the kernel for {student}/{notebook} did not start ({reasons[0]}). "
                          f"Check --isolation/--image and the kernel's log: {log.strip() or 'empty'}")
    if executor.output_truncated:
        flags.append(f"printed more than {limits.output_mb:g} MB of output (cut)")
    cost = {key: round(value, 3) for key, value in getattr(executor, "cost", {}).items()}
    return NotebookResult(status, output, flags + file_flags, reasons, time.monotonic() - started,
                          verdicts=dict(getattr(executor, "verdicts", {})), files=files, cost=cost)


def submission_budget(limits: Limits, config: Config, notebooks: list[nbformat.NotebookNode]) -> float:
    """Seconds for the whole submission: `limits.timeout`, or nbgrader's per-cell limit
    (`Execute.timeout`) times the code cells, plus a start-up margin, when it is None."""
    if limits.timeout is not None:
        return float(limits.timeout)
    per_cell = Execute(config=config).timeout
    if not per_cell:
        return 24 * 3600.0
    cells = sum(1 for nb in notebooks for cell in nb.cells if cell.cell_type == "code")
    return float(per_cell) * max(1, cells) + 30.0


def budget_text(limits: Limits, config: Config, notebooks: list[nbformat.NotebookNode]) -> str:
    """How the submission's budget was set, in words for the learner and the instructor."""
    budget = submission_budget(limits, config, notebooks)
    if limits.timeout is not None:
        return f"the submission's budget is {budget:g} s (set with --timeout)"
    per_cell = Execute(config=config).timeout
    if not per_cell:
        return f"the submission's budget is {budget:g} s (nbgrader's per-cell limit is off)"
    cells = max(1, sum(1 for nb in notebooks for cell in nb.cells if cell.cell_type == "code"))
    return (f"the submission's budget is {budget:g} s (nbgrader's per-cell limit, Execute.timeout = {per_cell:g} s, "
            f"times {cells} code cells, plus 30 s)")


def grade_submission(pool: KernelPool, task: dict, config: Config, limits: Limits,
                     evaluators: KernelPool | None = None) -> dict:
    """Every notebook of one learner's submission (learner's cells in `pool`'s kernels, test
    cells in `evaluators`' kernels). Never raises for anything the learner did."""
    started = time.monotonic()
    submission_dir = Path(task["submission_dir"])
    extra_files = [(Path(a), Path(b)) for a, b in task["extra_files"]]
    results: dict[str, NotebookResult] = {}
    sanitized: dict[str, tuple[nbformat.NotebookNode, list[str]]] = {}
    for notebook in task["notebooks"]:
        path = submission_dir / f"{notebook}.ipynb"
        if not os.path.lexists(path):
            results[notebook] = NotebookResult("missing", reasons=[f"no {notebook}.ipynb in the submission"])
            continue
        try:
            sanitized[notebook] = sanitize(path, task["student"], task["assignment"], notebook,
                                           task["snapshot_url"], config)
        except Exception as error:  # a link, malformed JSON, an empty file, broken metadata
            results[notebook] = NotebookResult("unreadable", reasons=[_why_unreadable(notebook, error)])
    budget = submission_budget(limits, config, [nb for nb, _ in sanitized.values()])
    words = budget_text(limits, config, [nb for nb, _ in sanitized.values()])
    deadline = started + budget
    runnable = [name for name in task["notebooks"] if name in sanitized]
    for notebook in runnable:
        nb, flags = sanitized[notebook]
        if time.monotonic() >= deadline:
            results[notebook] = NotebookResult("failed", reasons=[f"ran out of time: {words}"])
            continue
        last = notebook == runnable[-1]
        result = run_notebook(pool, nb, task["student"], task["assignment"], notebook, submission_dir,
                              extra_files, config, replace(limits, timeout=budget), deadline, task.get("ignore", []),
                              prestart=not last or task.get("more", True), evaluators=evaluators, budget_text=words)
        result.flags = flags + result.flags
        results[notebook] = result
    cost = {"sandbox": 0.0, "evaluator": 0.0, "clusters": 0.0}
    for result in results.values():
        for key, value in result.cost.items():
            cost[key] = round(cost.get(key, 0.0) + value, 3)
    return {
        "student": task["student"],
        "assignment": task["assignment"],
        "digest": task["digest"],
        "notebooks": {name: results[name].as_dict() for name in task["notebooks"] if name in results},
        "seconds": round(time.monotonic() - started, 3),
        "cost": cost,
    }


def dumps(result: dict) -> str:
    return json.dumps(result)
