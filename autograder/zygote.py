"""A kernel fork server: fresh kernels without paying for Python's imports each time.

Most of a Python kernel's start-up is importing ipykernel, IPython, ZeroMQ, tornado and
debugpy (about 0.2 CPU-seconds, a quarter of what grading a small notebook costs).
A grading run starts one fork server, shared by its workers (a worker started on its own starts
its own), which imports all that once and then waits.
For every kernel, `jail.py --zygote` (the command the kernel manager runs) connects,
and the server forks: the copy walls itself in exactly as `jail.py` does (namespaces,
hidden files, limits, its own uid) and starts the kernel in-process, on modules that
are already loaded.

Fresh means fresh: the server runs no notebook's code (it only imports libraries: the
kernel's, and those the setup cells load, the course's own among them; and it registers the
grader's two agents, each kernel getting only its own role's at start), holds no threads,
sockets or ZeroMQ context when it forks, and every kernel is a new copy of it, used
for one submission and killed. What a forked kernel shares with its siblings is the
imported library code (copy-on-write) and the string-hash seed; `random` reseeds
itself in every fork.

Runs as a script, `python -s zygote.py SOCKET`, next to `jail.py`. The grader's side is
`ForkServer`, which starts it and stops it.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__)
READY = b"ready\n"
# What a started ipykernel has imported that `import ipykernel.kernelapp` alone does not.
PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
    "IPython.core.interactiveshell", "IPython.core.completerlib", "IPython.core.debugger",
    "IPython.core.oinspect", "IPython.core.logger", "IPython.extensions.storemagic",
    "tornado.platform.asyncio", "debugpy.server.api", "psutil", "sqlite3", "faulthandler", "runpy",
)
LAUNCHER = ("-m", "ipykernel_launcher")
# Which grader agent a kernel gets at start ("sandbox" or "evaluator"), set by its isolation's env.
AGENT_ENV = "AUTOGRADER_AGENT"


def starts_in_process(command: list[str]) -> bool:
    """Whether the fork server starts this kernel command in its own forked copy (with the modules,
    and the grader's agent, it has loaded) rather than by exec'ing a new interpreter."""
    return command[1:3] == list(LAUNCHER) and Path(command[0]).resolve() == Path(sys.executable).resolve()


def agent_preloaded(kernel_cmd: list[str]) -> bool:
    """Whether a kernel launched with `kernel_cmd` (the jail's argv) has its agent before any request:
    it goes through a fork server (``--zygote``) that starts it in process."""
    if "--" not in kernel_cmd:
        return False
    split = kernel_cmd.index("--")
    return "--zygote" in kernel_cmd[:split] and starts_in_process(kernel_cmd[split + 1:])


# Runs the setup cells given on stdin (JSON list of code) in a throwaway interpreter and lists
# the modules they loaded, in the order they loaded (see `setup_modules`).
_PROBE = """
import json, sys
before = set(sys.modules)
namespace = {"__name__": "__main__"}
for code in json.load(sys.stdin):
    try:
        exec(compile(code, "<setup>", "exec"), namespace)
    except BaseException:
        pass
never = ("autograder", "__main__")
def acts(name):  # a module that does something when imported in a kernel (its __acts_on_import__)
    return bool(getattr(sys.modules[name], "__acts_on_import__", False))
new = [m for m in list(sys.modules) if m not in before and m.split(".")[0] not in never
       and (sys.modules[m] is None or not acts(m))]
# A module the setup cells kept from loading (None in sys.modules) is listed as "!name".
print(",".join(("!" + m) if sys.modules[m] is None else m for m in new))
"""


def setup_modules(notebooks: list[Path], env: dict[str, str], timeout: float = 120.0) -> str:
    """The modules the locked setup cells of `notebooks` load, comma-separated (one they kept
    from loading, a None in `sys.modules`, as ``!name``).

    Why: the heavy imports of an assignment (the official Kubernetes client takes 1.5 s, the
    course's emulator about 0.5 s) are paid by both kernels of every submission; loaded once
    in the fork server, they cost each kernel nothing. The setup cells (trusted: the
    instructor's, from source/) run once per grading run in a throwaway interpreter in an
    empty folder, since labkit imports some modules only when called. The course's own
    modules are listed too, from the same allow-listed folder the kernels import them from,
    except one that says it acts on import (``__acts_on_import__ = True``: `labkit.checks`
    installs its traceback trimming in the running IPython, which a fork server has not got),
    so that each kernel imports that one itself.
    """
    import json
    import tempfile

    setup = setup_cells(notebooks)
    if not setup:
        return ""
    with tempfile.TemporaryDirectory(prefix="autograder-probe-") as folder:
        clean = {key: value for key, value in env.items() if key != "KUBECONFIG"}  # never a real cluster
        try:
            probe = subprocess.run([sys.executable, "-s", "-c", _PROBE], input=json.dumps(setup), env={**clean, "HOME": folder},
                                   capture_output=True, text=True, timeout=timeout, cwd=folder)
        except (OSError, subprocess.TimeoutExpired):
            return ""
    return probe.stdout.strip().splitlines()[-1] if probe.returncode == 0 and probe.stdout.strip() else ""


def setup_cells(notebooks: list[Path]) -> list[str]:
    """The code of the locked setup cells of `notebooks` (IPython's ``%`` and ``!`` lines left out)."""
    import json

    setup: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.get("cell_type") == "code" and meta.get("locked") and not meta.get("solution") and not meta.get("grade"):
                source = "".join(cell.get("source", ""))
                setup.append("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
    return setup


def imported_modules(notebooks: list[Path]) -> str:
    """The modules the setup cells' own import statements name, comma-separated: a first list for
    the fork server to load while `setup_modules` runs the cells (it finds what they load when
    called, seconds later on assignment 3). Read, never run."""
    import ast

    names: list[str] = []
    for code in setup_cells(notebooks):
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found = [node.module]
            else:
                continue
            names += [name for name in found if name.split(".")[0] not in ("autograder", "__main__") and name not in names]
    return ",".join(names)


class ForkServer:
    """The grader's handle on a fork server: start, socket path, stop.

    `start` returns None (and says why on stderr) when the server cannot come up; the
    grader then starts kernels the ordinary way, which is slower but just as walled in.
    """

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.socket = directory / "zygote.sock"
        self.env = env
        self.process: subprocess.Popen | None = None
        self._ready: bool | None = None  # None: not asked yet (see started)

    def start(self, timeout: float = 60.0, wait: bool = True) -> str | None:
        """Start the server; its socket's path once it is ready, None if it did not come up.
        With `wait=False` it returns at once, and `started()` must be asked before any use."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        log = open(self.directory / "zygote.log", "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-s", str(SERVER), str(self.socket), str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=self.env,
                cwd=self.directory)
        finally:
            log.close()
        if not wait:
            return str(self.socket)
        return str(self.socket) if self.started(timeout) else None

    def started(self, timeout: float = 60.0) -> bool:
        """Whether the server has come up (waiting up to `timeout` for it to say so)."""
        if self._ready is None:
            ready, _, _ = select.select([self.process.stdout], [], [], timeout) if self.process else ([], [], [])
            self._ready = bool(ready) and self.process.stdout.readline() == READY
            if not self._ready:
                tail = ""
                if self.process is not None:
                    self.stop()
                    tail = (self.directory / "zygote.log").read_text(errors="replace")[-500:].strip()
                print(f"autograder: the kernel fork server did not start ({tail or 'no message'}); "
                      "kernels start the slow way", file=sys.stderr)
        return self._ready

    def preload(self, names: str, timeout: float = 120.0) -> bool:
        """Have the running server load more modules (comma-separated, as `setup_modules` lists them)
        before it forks again; True once it says it has."""
        if self.process is None or not self.started(timeout):
            return False
        try:
            self.process.stdin.write(names.replace("\n", "").encode() + b"\n")
            self.process.stdin.flush()
        except OSError:
            return False
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        return bool(ready) and self.process.stdout.readline() == READY

    def stop(self) -> None:
        """Closing its stdin ends the server; kernels already forked live on until killed."""
        if self.process is None:
            return
        try:
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None


# ---- the server process (everything below runs only as `python zygote.py`) ----

def _preload(names: str) -> None:
    import gc
    import importlib
    import threading

    extra = [name for name in names.split(",") if name]
    for name in extra:  # kept from loading by the setup cells: kept out here too (see _PROBE)
        if name.startswith("!"):
            sys.modules.setdefault(name[1:], None)
    for name in (*PRELOAD, *(name for name in extra if not name.startswith("!"))):
        try:
            module = importlib.import_module(name)
        except BaseException:  # an optional part of the kernel; it loads later if needed
            continue
        # What the module's functions would import when called, as it lists them (labkit.cluster's
        # official client): loaded now, before the setup cells' full list arrives.
        for later in getattr(module, "__imports_when_called__", ()):
            try:
                importlib.import_module(later)
            except BaseException:
                pass
    # A module that acts on import must be imported by the kernel itself, even when a preloaded
    # module imported it along the way.
    for name, module in list(sys.modules.items()):
        if module is not None and getattr(module, "__acts_on_import__", False):
            del sys.modules[name]
            parent, _, leaf = name.rpartition(".")
            if parent and getattr(sys.modules.get(parent), leaf, None) is module:
                delattr(sys.modules[parent], leaf)
    if not _AGENTS:
        _load_agents()
    # What is loaded now is shared by every kernel: keep the garbage collector off it, or each
    # kernel's first collection writes to (and so copies) every page of it.
    gc.freeze()
    if threading.active_count() != 1:
        raise SystemExit(f"zygote: importing the kernel started threads ({threading.enumerate()}); "
                         "forking now would not be safe")


_AGENTS: dict[str, dict[str, object]] = {}  # role -> the modules its bootstrap registers


def _load_agents() -> None:
    """The grader's agents (`sandbox_agent`, `evaluator_agent`), registered once here, by the very
    text a bootstrap request runs, and kept out of `sys.modules`: a kernel gets its own role's
    modules as it starts (`_start_kernel`). Why: compiling an agent is about 20 ms of CPU per kernel,
    and its bootstrap request a round of kernel messages, two kernels per submission."""
    sys.path.insert(0, str(SERVER.parent.parent))
    try:
        from autograder import evaluator_agent, sandbox_agent
        texts = {"sandbox": sandbox_agent.bootstrap(), "evaluator": evaluator_agent.bootstrap_modules()}
    finally:
        sys.path.pop(0)
        for name in [name for name in sys.modules if name == "autograder" or name.startswith("autograder.")]:
            del sys.modules[name]  # the kernels must not import the grader's modules
    for role, text in texts.items():
        exec(compile(text, f"<{role} agent>", "exec"), {"__name__": f"_autograder_{role}_bootstrap"})
        _AGENTS[role] = {name: sys.modules.pop(name) for name in list(sys.modules) if name.startswith("_autograder_")}


def _start_kernel(env: dict[str, str], cwd: str, command: list[str]) -> None:
    """In the jailed child: become `python -m ipykernel_launcher ARGS` without exec."""
    import atexit
    import tempfile

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    tempfile.tempdir = None
    import ipykernel_launcher
    from ipykernel import kernelapp

    sys.argv = [ipykernel_launcher.__file__, *command[3:]]
    role = env.get(AGENT_ENV)
    sys.modules.update(_AGENTS.get(role, {}))
    code = 0
    try:
        app = kernelapp.IPKernelApp.instance()  # what kernelapp.launch_new_instance() does, with the agent's start between
        app.initialize()
        if role == "evaluator":
            sys.modules["_autograder_evaluator"].install()
        app.start()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # report, as a kernel that crashed would
        import traceback
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code & 0xFF)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    import json

    head, fds, _, _ = socket.recv_fds(conn, 4, 3)
    if len(head) != 4 or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise OSError("a malformed request")
    (length,) = struct.unpack("!I", head)
    data = b""
    while len(data) < length:
        chunk = conn.recv(length - len(data))
        if not chunk:
            raise OSError("the request was cut short")
        data += chunk
    return json.loads(data), fds


def _warden(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """The forked copy: jail and start the kernel, relay signals, report its exit code."""
    import jail

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):  # this copy's stdio are the launcher's
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    opts, command = jail._parse(request["argv"])
    if starts_in_process(command):
        start = lambda cmd: _start_kernel(request["env"], request["cwd"], cmd)  # noqa: E731
    else:
        start = jail._exec
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
    pid = jail.jail(opts, command, start=start, before_start=conn.close)
    try:
        kernel = [os.pidfd_open(pid)]  # readable when the kernel exits (Linux 5.3+)
    except (AttributeError, OSError):
        kernel = []  # an older kernel: look every 50 ms instead
    while True:
        ready, _, _ = select.select([conn, *kernel], [], [], None if kernel else 0.05)
        if set(ready) & set(kernel) or (not kernel and _exited(pid)):
            break
        if conn not in ready:
            continue
        try:
            data = conn.recv(64)
        except OSError:
            data = b""
        if not data:  # the launcher is gone: so is the kernel
            jail._forward(pid, signal.SIGKILL)
            break
        for signum in data:
            jail._forward(pid, signum)
    code = jail.reap(pid)
    try:
        conn.send(bytes([code]))
    except OSError:
        pass
    os._exit(0)


def _exited(pid: int) -> bool:
    """Whether the child `pid` has exited, without reaping it (`jail.reap` does that)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _serve(path: str, parent: int) -> None:
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader that started it
    if os.getppid() != parent:
        return
    _preload(os.environ.get("AUTOGRADER_PRELOAD", ""))
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # wardens are reaped by the system
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    me = os.geteuid()
    pending = b""
    while True:
        ready, _, _ = select.select([listener, 0], [], [])
        if 0 in ready:
            data = os.read(0, 1 << 16)
            if not data:
                return  # the grader closed our stdin: done
            pending += data
            while b"\n" in pending:  # a line of module names: load them, then say so (ForkServer.preload)
                line, pending = pending.split(b"\n", 1)
                _preload(line.decode(errors="replace"))
                sys.stdout.buffer.write(READY)
                sys.stdout.buffer.flush()
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        try:
            conn.settimeout(10)
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            if uid != me:
                raise OSError(f"a connection from uid {uid}")
            request, fds = _receive(conn)
            conn.settimeout(None)
        except (OSError, ValueError) as error:
            print(f"zygote: refused {error}", file=sys.stderr, flush=True)
            conn.close()
            continue
        if os.fork() == 0:
            listener.close()
            try:
                _warden(conn, request, fds)
            finally:
                os._exit(70)
        conn.close()
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    sys.path.pop(0)  # this file's directory: kernels must not import the grader's modules
    sys.path.insert(0, str(SERVER.parent))
    import jail  # noqa: F401 - loaded here, before any fork
    sys.path.pop(0)
    _serve(sys.argv[1], int(sys.argv[2]))
