"""A grading worker: a process that executes submissions one after another.

The parent hands it tasks over a pipe and gets results back; the worker never opens
the real gradebook (only a private snapshot, for nbgrader's OverwriteCells), so the
gradebook keeps a single writer. Each worker owns two sandbox slots (the learner's
kernels: one runs a submission while the other boots) and two evaluator slots (the trusted
kernels that run the test cells, see evaluators.py), forked from the same fork server.
"""

from __future__ import annotations

import ctypes
import os
import signal
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

from .course import load_config
from .evaluators import EvaluatorIsolation, evaluator_slots
from .execute import GraderFault, grade_submission
from .kernels import KernelPool
from .sandbox import GRADER_IMAGE_UID, DockerIsolation, Limits, ProcessIsolation, Slot
from .zygote import ForkServer

PR_SET_DUMPABLE = 4


def make_isolation(settings: dict):
    limits = Limits(**settings["limits"])
    course_root = Path(settings["course_root"])
    if settings["isolation"] == "docker":
        return DockerIsolation(limits=limits, course_root=course_root, image=settings["image"])
    return ProcessIsolation(limits=limits, course_root=course_root)


def start_fork_server(settings: dict, name: str, wait: bool = True) -> ForkServer | None:
    """A fork server (zygote.py) for kernels walled in as `settings` say, started on the first
    module list (`settings["preload"]`); None when kernels start the ordinary way (Docker, or
    --no-fork-server) or when it could not start (it says why). `wait=False`: see ForkServer.start."""
    isolation = make_isolation(settings)
    if not isinstance(isolation, ProcessIsolation) or not settings.get("fork_server", True):
        return None
    home = Slot(Path(settings["slots_dir"]) / name, -1, None)
    env = isolation.kernel_env(home)
    env["AUTOGRADER_PRELOAD"] = settings.get("preload", "")  # a first list; the full one follows (ForkServer.preload)
    server = ForkServer(home.root, env)
    return server if server.start(wait=wait) else None


def worker_main(conn: Connection, index: int, settings: dict) -> None:
    """Loop: receive a task dict, send back a result dict; `None` ends the loop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # Not dumpable: a kernel running as this same user cannot open /proc/<worker>/fd or memory.
    try:
        ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    config = load_config(Path(settings["course_root"]))
    isolation = make_isolation(settings)
    limits = isolation.limits
    isolation_root = Path(settings["slots_dir"])
    slots = []
    for k in range(settings.get("kernels_per_worker", 2)):
        number = index * 2 + k
        if isinstance(isolation, ProcessIsolation):
            uid = isolation.uid_for(number)
        else:  # the container's user must own the slot it writes to
            uid = GRADER_IMAGE_UID if os.geteuid() == 0 else None
        slots.append(Slot(isolation_root / f"slot{number}", number, uid))
    # The grading run's one fork server (grade.py starts it: "" when there is none), else this worker's own.
    shared = "zygote" in settings
    fork_server = None if shared else start_fork_server(settings, f"zygote{index}")
    if isinstance(isolation, ProcessIsolation):
        isolation.zygote = (settings["zygote"] or None) if shared else (str(fork_server.socket) if fork_server else None)
    pool = KernelPool(isolation, slots, settings["kernel_name"])
    # One practice-cluster cache per grading run, shared by its workers (labkit.practice_clusters).
    cache = isolation_root.parent / "practice-cache"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    evaluator_isolation = EvaluatorIsolation(limits=limits, course_root=Path(settings["course_root"]),
                                             zygote=isolation.zygote if isinstance(isolation, ProcessIsolation) else None,
                                             practice_cache=str(cache))
    evaluators = KernelPool(evaluator_isolation, evaluator_slots(isolation_root, index), settings["kernel_name"])
    try:
        while True:
            try:
                task = conn.recv()
            except EOFError:
                break
            if task is None:
                break
            if "preload" in task:  # the parent's full list (grade.py sends it first): loaded before any kernel forks
                if fork_server is not None and isolation.zygote and not fork_server.preload(task["preload"]):
                    fork_server.stop()  # it could not load them: kernels start the slow way, walled in as well
                    isolation.zygote = evaluator_isolation.zygote = None
                if shared and not task.get("zygote"):  # the run's server could not load it (grade.py): the slow way
                    isolation.zygote = evaluator_isolation.zygote = None
                pool.prestart()
                evaluators.prestart()
                continue
            # Boot a kernel for later if the parent said more is coming, or already sent it.
            task["more"] = task.get("more", True) or conn.poll()
            try:
                result = grade_submission(pool, task, config, limits, evaluators)
            except Exception as error:  # a grader fault: report it, keep serving the others
                message = str(error) if isinstance(error, GraderFault) else \
                    f"the grader failed on this submission: {type(error).__name__}: {error}"
                result = {"student": task["student"], "assignment": task["assignment"], "digest": task["digest"],
                          "grader_fault": message, "traceback": traceback.format_exc(), "notebooks": {}}
            conn.send(result)
    finally:
        pool.close()
        evaluators.close()
        if fork_server is not None:
            fork_server.stop()
        conn.close()
