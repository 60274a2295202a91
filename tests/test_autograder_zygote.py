"""The kernel fork server (autograder/zygote.py): forked kernels are fresh and walled in.

A kernel forked from the warm copy must be indistinguishable, for a submission, from one
started from scratch: nothing one kernel does reaches the next, `random` differs, the
kernel runs as its slot's uid without the course or the network, and a server that
cannot start leaves grading to the slow path instead of failing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_core.utils import run_sync

from conftest import REPO_ROOT, skip_unless_ci

from autograder import cohort, zygote
from autograder.course import Course
from autograder.grade import GradeOptions, grade
from autograder.kernels import KernelPool
from autograder.sandbox import Limits, ProcessIsolation, Slot, course_pythonpath


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the fork server's kernels get their own uid and namespaces only as root (CI runs as root)")


def blocking_client(km) -> BlockingKernelClient:
    kc = BlockingKernelClient(connection_file=km.connection_file)
    kc.load_connection_file()
    kc.start_channels()
    return kc


def run_code(km, code: str) -> str:
    """Execute `code` in the kernel; its stdout (errors fail the test with the traceback)."""
    kc = blocking_client(km)
    out: list[str] = []
    try:
        kc.wait_for_ready(timeout=60)

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + "\n".join(msg["content"]["traceback"]))

        kc.execute_interactive(code, output_hook=hook, timeout=60)
    finally:
        kc.stop_channels()
    text = "".join(out)
    assert "ERROR" not in text, text
    return text


def start_fork_server(tmp_path: Path, course: Path, preload: str) -> tuple[ProcessIsolation, zygote.ForkServer]:
    """A fork server for kernels walled in as the grader walls them, started on `preload`."""
    os.chmod(tmp_path, 0o711)
    isolation = ProcessIsolation(limits=Limits(), course_root=course)
    home = Slot(tmp_path / "zygote", -1, None)
    env = isolation.kernel_env(home)
    env["AUTOGRADER_PRELOAD"] = preload
    server = zygote.ForkServer(home.root, env)
    isolation.zygote = server.start()
    assert isolation.zygote, "the fork server did not start"
    return isolation, server


@pytest.fixture
def forked_pool(tmp_path: Path):
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "source" / "secret.txt").write_text("answers")
    # as setup_modules lists them: one loaded, one kept out, a course module; and one that acts on
    # import (setup_modules leaves it out, and the server drops it if something imported it)
    isolation, server = start_fork_server(tmp_path, course, "colorsys,!wave,labkit.cluster,labkit.checks")
    slots = [Slot(tmp_path / f"slot{k}", k, isolation.uid_for(k)) for k in range(2)]
    pool = KernelPool(isolation, slots, "python3")
    try:
        yield pool, course, slots
    finally:
        pool.close()
        server.stop()


def test_forked_kernels_are_fresh_and_walled_in(forked_pool) -> None:
    pool, course, slots = forked_pool
    probe = (
        "import os, random, sys, IPython, socket\n"
        "print('forked', 'zygote.py' in open('/proc/self/cmdline').read())\n"
        "print('leftover', hasattr(IPython, 'leftover'))\n"
        "IPython.leftover = True\n"
        "print('random', random.random())\n"
        "print('uid', os.getuid())\n"
        f"print('course', os.path.exists({str(course / 'source' / 'secret.txt')!r}))\n"
        "print('cwd', os.getcwd())\n"
        "print('pid', os.getpid())\n"
        "print('preloaded', 'colorsys' in sys.modules)\n"
        "print('kept_out', repr(sys.modules.get('wave', 'absent')))\n"
        "print('course_module', 'labkit.cluster' in sys.modules)\n"
        "print('when_called', all(m in sys.modules for m in sys.modules['labkit.cluster'].__imports_when_called__))\n"
        "print('acting_module', 'labkit.checks' in sys.modules)\n"
        "from labkit import checks\n"
        "print('trimming', getattr(get_ipython(), '_labkit_errors', False))\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1); print('net', 'connected')\n"
        "except OSError as error:\n"
        "    print('net', type(error).__name__)\n"
    )
    seen = []
    for _ in range(2):
        km, slot = pool.take()
        try:
            text = run_code(km, probe)
        finally:
            pool.give_back(km, slot)
        seen.append((dict(line.split(" ", 1) for line in text.strip().splitlines()), slot))
    for facts, slot in seen:
        assert facts["forked"] == "True", "the kernel did not come from the fork server"
        assert facts["leftover"] == "False", "a module change of an earlier kernel leaked into this one"
        assert facts["uid"] == str(slot.uid)
        assert facts["course"] == "False", "the course directory must be hidden from the kernel"
        assert facts["cwd"] == str(slot.work)
        assert facts["pid"] == "1", "the kernel should be PID 1 of its own PID namespace"
        assert facts["preloaded"] == "True", "a module of AUTOGRADER_PRELOAD was not loaded in the fork server"
        assert facts["kept_out"] == "None", "a module the setup cells kept from loading (!name) was loaded"
        assert facts["course_module"] == "True", "a course module the setup cells load was not preloaded"
        assert facts["when_called"] == "True", "what labkit.cluster imports when called (__imports_when_called__) " \
                                               "was not loaded with it"
        assert facts["acting_module"] == "False", "a module that acts on import was loaded ahead of the kernel"
        assert facts["trimming"] == "True", "labkit.checks, imported in the kernel, did not install its error trimming"
        assert facts["net"] in ("ConnectionRefusedError", "OSError"), facts["net"]
    assert seen[0][0]["random"] != seen[1][0]["random"], "two forked kernels drew the same random numbers"


def test_a_forked_kernel_has_its_own_roles_agent_before_any_request(forked_pool, tmp_path: Path) -> None:
    """No bootstrap request: the fork server registered the agents once; each kernel gets its role's."""
    from autograder.evaluators import EvaluatorIsolation, evaluator_slots

    pool, course, _ = forked_pool
    probe = ("import sys\n"
             "print('modules', sorted(n for n in sys.modules if n.startswith('_autograder_')))\n"
             "print('hooked', any(getattr(f, '__name__', '') == 'bind_pending' "
             "for f in get_ipython().events.callbacks['pre_run_cell']))\n"
             "print('agent_from', sys.modules['_autograder_plain'].__spec__ is None)\n")
    km, slot = pool.take()
    try:
        assert km.agent_preloaded, "a kernel of the fork server was not marked as having its agent"
        sandbox = dict(line.split(" ", 1) for line in run_code(km, probe).strip().splitlines())
    finally:
        pool.give_back(km, slot)
    evaluators = KernelPool(EvaluatorIsolation(limits=Limits(), course_root=course, zygote=pool.isolation.zygote),
                            evaluator_slots(tmp_path / "evaluators", 0, count=1), "python3")
    km, slot = evaluators.take()
    try:
        assert km.agent_preloaded
        evaluator = dict(line.split(" ", 1) for line in run_code(km, probe).strip().splitlines())
    finally:
        evaluators.give_back(km, slot)
        evaluators.close()
    assert sandbox["modules"] == "['_autograder_agent', '_autograder_plain']", "the sandbox has its agent, and only its own"
    assert sandbox["hooked"] == "False"
    assert evaluator["modules"] == "['_autograder_evaluator', '_autograder_plain']"
    assert evaluator["hooked"] == "True", "the evaluator's pre_run_cell hook was not installed at start"
    assert sandbox["agent_from"] == evaluator["agent_from"] == "True", "an agent was imported from a file, not registered"


def test_an_interrupt_reaches_a_forked_kernel(forked_pool) -> None:
    pool, _, _ = forked_pool
    km, slot = pool.take()
    try:
        kc = blocking_client(km)
        kc.wait_for_ready(timeout=60)
        msg_id = kc.execute("import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('interrupted')")
        time.sleep(1.0)
        run_sync(km.interrupt_kernel)()
        reply = kc.get_shell_msg(timeout=20)
        assert reply["parent_header"]["msg_id"] == msg_id and reply["content"]["status"] == "ok"
        kc.stop_channels()
    finally:
        pool.give_back(km, slot)


def test_a_fork_server_that_cannot_start_falls_back(tmp_path: Path, monkeypatch, capsys) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nsys.exit('no kernel libraries here')\n")
    monkeypatch.setattr(zygote, "SERVER", broken)
    server = zygote.ForkServer(tmp_path / "z", dict(os.environ))
    assert server.start(timeout=20) is None
    assert "no kernel libraries here" in capsys.readouterr().err
    assert server.process is None


def test_scores_do_not_depend_on_the_fork_server(tmp_path: Path) -> None:
    forked = cohort.make_course(REPO_ROOT, tmp_path / "forked")
    cohort.normal_cohort(forked, 4)
    scratch = tmp_path / "scratch"
    shutil.copytree(forked, scratch)
    grade(Course.open(forked), cohort.ASSIGNMENT, GradeOptions(jobs=2, progress=False))
    grade(Course.open(scratch), cohort.ASSIGNMENT, GradeOptions(jobs=2, progress=False, fork_server=False))
    assert cohort.gradebook_scores(forked) == cohort.gradebook_scores(scratch)
    assert len({s["total"] for s in cohort.gradebook_scores(forked).values()}) >= 2


def test_a_grading_run_forks_every_kernel_from_one_fork_server(tmp_path: Path, monkeypatch) -> None:
    """The workers share the run's fork server (grade.py starts it): the modules are imported once per run."""
    from autograder import evaluators, sandbox

    course = cohort.make_course(REPO_ROOT, tmp_path / "course")
    cohort.normal_cohort(course, 4)
    log = tmp_path / "log.txt"

    def logged(cls, method: str, what: str) -> None:
        real = getattr(cls, method)

        def wrapper(self, *args, **kwargs):
            answer = real(self, *args, **kwargs)
            words = answer[answer.index("--zygote") + 1] if isinstance(answer, list) and "--zygote" in answer else ""
            with open(log, "a") as out:  # appended by the grader and by its forked workers alike
                out.write(f"{what} {os.getpid()} {words}\n")
            return answer
        monkeypatch.setattr(cls, method, wrapper)

    logged(zygote.ForkServer, "start", "server")
    logged(sandbox.ProcessIsolation, "prefix", "sandbox")
    logged(evaluators.EvaluatorIsolation, "prefix", "evaluator")
    summary = grade(Course.open(course), cohort.ASSIGNMENT, GradeOptions(jobs=2, progress=False))
    assert len(summary["graded"]) == 4
    lines = [line.split(" ") for line in log.read_text().splitlines()]
    servers = [pid for what, pid, _ in lines if what == "server"]
    assert servers == [str(os.getpid())], f"fork servers started by {servers}: one, by the grader, was expected"
    kernels = [(what, pid, socket) for what, pid, socket in lines if what != "server"]
    assert len({pid for _, pid, _ in kernels}) == 2, "both workers should have started kernels"
    assert {what for what, _, _ in kernels} == {"sandbox", "evaluator"}
    assert len({socket for _, _, socket in kernels}) == 1 and kernels[0][2], \
        f"every kernel should come from the one fork server: {kernels}"


def test_setup_modules_lists_what_setup_cells_load_and_keep_out(tmp_path: Path) -> None:
    """The probe lists the modules the locked setup cells load (the course's own too, but not one that
    acts on import), and ``!name`` for one they kept from loading (labkit keeps jsonschema's slow
    rfc3987_syntax out, labkit.cloud_init_schema)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    cell = new_code_cell("import sys\nsys.modules.setdefault('wave', None)\nimport colorsys\nfrom labkit import checks, cluster")
    cell.metadata["nbgrader"] = {"locked": True, "solution": False, "grade": False, "grade_id": "setup", "schema_version": 3}
    path = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[cell]), path)
    listed = zygote.setup_modules([path], {**os.environ, "PYTHONPATH": course_pythonpath()}).split(",")
    assert "colorsys" in listed and "!wave" in listed, listed
    assert "labkit.cluster" in listed, "the course's own modules are preloaded too"
    assert "labkit.checks" not in listed, "labkit.checks acts on import (__acts_on_import__): each kernel imports it"


def test_what_labkit_cluster_says_it_imports_when_called_is_what_connect_imports(tmp_path: Path) -> None:
    """The fork server loads a module's `__imports_when_called__` ahead: a stale or misspelled name there
    would only cost speed, so it is checked here against what `connect()` (on the emulator) really loads."""
    code = ("import sys\nimport labkit.cluster as c\nlisted = c.__imports_when_called__\n"
            "before = [m for m in listed if m in sys.modules]\nc.connect(prefer='emulator')\n"
            "print('loaded-before', before)\nprint('missing-after', [m for m in listed if m not in sys.modules])\n")
    env = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    env.update(HOME=str(tmp_path), PYTHONPATH=course_pythonpath())
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert "loaded-before []" in result.stdout, f"labkit.cluster already imports these itself:\n{result.stdout}{result.stderr}"
    assert "missing-after []" in result.stdout, f"connect() never imports these:\n{result.stdout}{result.stderr}"


def test_imported_modules_reads_the_setup_cells_import_statements_without_running_them(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    setup = new_code_cell("import colorsys, os.path\nfrom labkit import checks\nfrom . import local\n"
                          "%matplotlib inline\nraise SystemExit('never run')\nimport autograder.plain")
    setup.metadata["nbgrader"] = {"locked": True, "solution": False, "grade": False, "grade_id": "setup", "schema_version": 3}
    answer = new_code_cell("import wave")
    answer.metadata["nbgrader"] = {"locked": False, "solution": True, "grade": False, "grade_id": "a", "schema_version": 3}
    path = tmp_path / "a.ipynb"
    nbformat.write(new_notebook(cells=[setup, answer]), path)
    assert zygote.imported_modules([path]) == "colorsys,os.path,labkit", \
        "the setup cell's absolute imports, the grader's own and the learner's cells left out"


def test_a_running_fork_server_loads_the_full_list_before_it_forks_again(tmp_path: Path) -> None:
    """grade.py starts the servers on the quick list and sends the probe's list later (ForkServer.preload)."""
    isolation, server = start_fork_server(tmp_path, tmp_path, "colorsys")
    pool = KernelPool(isolation, [Slot(tmp_path / "slot0", 0, isolation.uid_for(0))], "python3")
    try:
        assert server.preload("!wave,labkit.cluster,labkit.checks"), "the server did not say it had loaded the list"
        km, slot = pool.take()
        try:
            text = run_code(km, "import sys\nprint(sorted(m for m in ('colorsys', 'labkit.cluster', 'labkit.checks') "
                                "if m in sys.modules), repr(sys.modules.get('wave', 'absent')))\n")
        finally:
            pool.give_back(km, slot)
    finally:
        pool.close()
        server.stop()
    assert text.strip() == "['colorsys', 'labkit.cluster'] None", \
        "both lists loaded, the kept-out module kept out, the one that acts on import left to the kernel"
