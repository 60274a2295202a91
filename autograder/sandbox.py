"""Where and how a student's kernel runs: one private slot per kernel, and its walls.

A *slot* is a directory the grader owns (`work/`: the kernel's current directory, with
the assignment's files; `kernel/`: its connection file and ZeroMQ sockets) and, when
the grader runs as root, a uid of its own that nothing else on the machine uses. The
kernel talks to the grader over Unix sockets (ZeroMQ `ipc`), not TCP, so it can run
with no network at all and no other kernel can reach it.

Two kinds of walls (`--isolation`):

- `process`: the kernel runs through `jail.py` (namespaces, hidden course files,
  resource limits, an unprivileged uid). Fast: this is what makes grading a cohort
  quick.
- `docker`: the kernel runs in a fresh container of the grading image per submission
  (`--network none`, memory and pids limits, read-only root file system, the work
  directory the only writable place), with the same Unix-socket connection through a
  bind mount. The trusted grader stays outside the container.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

JAIL = Path(__file__).with_name("jail.py")
# uids for kernels when grading as root: far above any real account.
UID_BASE = 400000
GRADER_IMAGE_UID = 1000  # the `grader` user in autograder/Dockerfile


@dataclass(frozen=True)
class Limits:
    """What one submission may use. `timeout` is wall clock for the whole submission.

    `timeout=None` (the default) derives the budget from nbgrader's own per-cell limit
    (`Execute.timeout` x the notebook's code cells, see `execute.submission_budget`), so
    the budget never cuts short a submission that nbgrader would have run to the end.
    """

    timeout: float | None = None
    memory_mb: int = 2048
    processes: int = 256
    file_size_mb: int = 256
    output_mb: float = 8.0

    def as_dict(self) -> dict:
        return {"timeout": self.timeout, "memory_mb": self.memory_mb, "processes": self.processes,
                "file_size_mb": self.file_size_mb, "output_mb": self.output_mb}


def _cpu_seconds(limits: Limits) -> int:
    """The CPU-time rlimit: the budget and a margin (a day when the budget is derived per notebook)."""
    return int(limits.timeout) + 30 if limits.timeout else 24 * 3600


@dataclass
class Slot:
    """One kernel's private place. `index` picks its uid when grading as root."""

    root: Path
    index: int
    uid: int | None

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def kernel_dir(self) -> Path:
        return self.root / "kernel"

    @property
    def log(self) -> Path:
        return self.root / "kernel.log"

    def reset(self) -> None:
        """Empty the slot and make it the kernel's (its uid may write only `work/`)."""
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.kernel_dir.mkdir()
        os.chmod(self.root, 0o711)
        for path in (self.work, self.kernel_dir):
            if self.uid is not None:
                os.chown(path, self.uid, self.uid)
                os.chmod(path, 0o700)
            else:
                os.chmod(path, 0o777 if path == self.kernel_dir else 0o700)


def _package_dirs(names: tuple[str, ...]) -> list[str]:
    """Directories of importable packages (editable installs live outside site-packages)."""
    found = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec and spec.submodule_search_locations:
            found.extend(str(Path(p).resolve()) for p in spec.submodule_search_locations)
        elif spec and spec.origin:
            found.append(str(Path(spec.origin).resolve()))
    return found


def _is_world_traversable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXOTH)


@dataclass
class Isolation:
    """Base: the command prefix that walls a kernel in, and how to make sure it is gone."""

    limits: Limits
    course_root: Path
    packages: tuple[str, ...] = ("labkit", "webapp")
    name: str = "none"
    warnings: list[str] = field(default_factory=list)

    def prefix(self, slot: Slot) -> list[str]:
        raise NotImplementedError

    def python(self) -> str:
        return sys.executable

    def kernel_env(self, slot: Slot) -> dict[str, str]:
        """A small, clean environment: nothing of the grader's leaks into the kernel."""
        env = {
            "PATH": f"{Path(self.python()).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(slot.work),
            "TMPDIR": str(slot.work),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "NBGRADER_EXECUTION": "autograde",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        for key in ("LABKIT_CONTAINER_IMAGE", "LABKIT_BASE_IMAGE"):
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    def cleanup(self, slot: Slot, launcher: subprocess.Popen | None = None) -> None:
        """Kill whatever may still run for this slot. Safe to call twice."""


@dataclass
class ProcessIsolation(Isolation):
    """The kernel runs through jail.py on this machine (through the worker's kernel fork
    server, `zygote.py`, when `zygote` is its socket)."""

    name: str = "process"
    zygote: str | None = None

    def __post_init__(self) -> None:
        self.root = os.geteuid() == 0
        if not self.root:
            self.warnings.append(
                "grading as a non-root user: kernels get their own namespaces only if this machine "
                "allows unprivileged user namespaces (else they run with limits only, as you). "
                "Run as root, or use --isolation docker, for full isolation.")

    def uid_for(self, index: int) -> int | None:
        """A uid no other kernel on this machine has now (see `claim_uid`); None unless root."""
        return claim_uid() if self.root else None

    def exposed(self) -> list[str]:
        paths = {str(Path(sys.prefix).resolve()), str(Path(sys.base_prefix).resolve())}
        paths.update(_package_dirs(self.packages))
        return sorted(paths)

    def hidden(self, slot: Slot) -> list[str]:
        """The course, every project an exposed package comes from, and shared scratch dirs."""
        hide = {str(self.course_root.resolve()) + ":0755"}
        for pkg in _package_dirs(self.packages):
            hide.add(str(Path(pkg).parent) + ":0755")
        for scratch in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(scratch):
                hide.add(scratch + ":1777")
        # A directory on the way to the interpreter that the kernel's uid may not enter
        # (pyenv under /root): replace it by a traversable empty one.
        if self.root:
            for path in self.exposed() + [str(slot.root)]:
                for parent in Path(path).parents:
                    if parent != Path("/") and parent.exists() and not _is_world_traversable(parent):
                        hide.add(f"{parent}:0755")
        return sorted(hide)

    def prefix(self, slot: Slot) -> list[str]:
        lim = self.limits
        cmd = [sys.executable, "-I", "-S", str(JAIL), "--no-network", "--log", str(slot.log)]
        if self.zygote:
            cmd += ["--zygote", self.zygote]
        for path in self.hidden(slot):
            cmd += ["--hide", path]
        for path in self.exposed():
            cmd += ["--expose", path]
        cmd += ["--expose-rw", str(slot.work), "--expose-rw", str(slot.kernel_dir)]
        if slot.uid is not None:
            cmd += ["--uid", str(slot.uid), "--gid", str(slot.uid)]
            nproc = lim.processes
        else:
            # RLIMIT_NPROC counts every process of this user: leave room for the ones running.
            nproc = lim.processes + _processes_of(os.getuid())
        cmd += [
            "--rlimit", f"as={lim.memory_mb * 1024 * 1024}",
            "--rlimit", f"nproc={nproc}",
            "--rlimit", f"fsize={lim.file_size_mb * 1024 * 1024}",
            "--rlimit", f"cpu={_cpu_seconds(lim)}",
            "--rlimit", "core=0",
            "--",
        ]
        return cmd

    def cleanup(self, slot: Slot, launcher: subprocess.Popen | None = None) -> None:
        if slot.uid is not None:
            kill_uid(slot.uid)


@dataclass
class DockerIsolation(Isolation):
    """The kernel runs in a fresh container of the grading image, one per submission."""

    image: str = "labkit/autograder:latest"
    name: str = "docker"
    python_in_image: str = "/opt/venv/bin/python"

    def python(self) -> str:
        return self.python_in_image

    def container_name(self, slot: Slot) -> str:
        return f"autograder-{os.getpid()}-{slot.index}-{slot.root.stat().st_ino}"

    def prefix(self, slot: Slot) -> list[str]:
        lim = self.limits
        return [
            "docker", "run", "--rm", "--init", "--name", self.container_name(slot),
            "--label", f"autograder.course={self.course_root}",
            "--network", "none",
            "--memory", f"{lim.memory_mb}m", "--memory-swap", f"{lim.memory_mb}m",
            "--pids-limit", str(lim.processes),
            "--ulimit", f"fsize={lim.file_size_mb * 1024 * 1024}",
            "--ulimit", f"cpu={_cpu_seconds(lim)}",
            "--read-only", "--tmpfs", "/tmp:size=64m",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", f"{GRADER_IMAGE_UID}:{GRADER_IMAGE_UID}",
            # Same paths inside and out, so the connection file and sockets need no rewriting.
            "-v", f"{slot.work}:{slot.work}:rw", "-v", f"{slot.kernel_dir}:{slot.kernel_dir}:rw",
            "-w", str(slot.work),
            *[arg for key, value in self.kernel_env(slot).items() for arg in ("-e", f"{key}={value}")],
            self.image,
        ]

    def kernel_env(self, slot: Slot) -> dict[str, str]:
        env = super().kernel_env(slot)
        env["PATH"] = f"{Path(self.python_in_image).parent}:/usr/local/bin:/usr/bin:/bin"
        return env

    def cleanup(self, slot: Slot, launcher: subprocess.Popen | None = None) -> None:
        """Remove the container, and wait until its `docker run` is gone too.

        A container still being created (seconds, with the vfs storage driver) cannot be
        removed yet; removing again until `docker run` exits catches it once it exists.
        """
        name = self.container_name(slot)
        deadline = time.monotonic() + 300
        while True:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=120)
            if launcher is None or launcher.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)


_claimed: dict[int, int] = {}


def claim_uid() -> int:
    """Claim a kernel uid for this process's lifetime: a lock file per uid, held open.

    Two grading runs on one machine (or the pods of a Job run side by side in a test)
    never share a uid, so killing "every process of my uid" never hits another's kernel.
    """
    import fcntl

    lock_dir = Path("/run/lock") if os.access("/run/lock", os.W_OK) else Path(tempfile.gettempdir())
    for number in range(4096):
        uid = UID_BASE + number
        if uid in _claimed:
            continue
        fd = os.open(lock_dir / f"autograder-uid-{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _claimed[uid] = fd
        kill_uid(uid)  # leftovers of a run that crashed
        return uid
    raise RuntimeError(f"no free kernel uid in {UID_BASE}..{UID_BASE + 4095}: too many grading runs at once")


def _processes_of(uid: int) -> int:
    """Live (not zombie) processes whose owner is `uid`."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid != uid:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
                if state not in (b"Z", b"X"):
                    count += 1
            except (OSError, IndexError):
                pass
    return count


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (as root): kill(-1) from a child that became that uid.

    kill(-1) is done by the kernel in one sweep, so a fork bomb cannot outrun it; the
    sweep is repeated until no process of the uid is left.
    """
    if os.geteuid() != 0:
        return
    for _ in range(20):
        if _processes_of(uid) == 0:
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.01)
