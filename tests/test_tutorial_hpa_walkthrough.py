"""kubernetes.io's HorizontalPodAutoscaler Walkthrough typed from a terminal, against the emulator.

Why: issue 14's "Done when". A learner without a real cluster starts the emulator on the command
line (`python -m labkit.kubesim --kubeconfig F --speed 10`) and types the walkthrough as published
with real kubectl: the load generator runs in a second terminal (a real pseudo-terminal here, so
kubectl has a TTY, puts it in raw mode and forwards Ctrl-C as a keyboard does), `kubectl get hpa
php-apache --watch` runs in a third, and the page's "wait a minute" is the emulator's control
command (`python -m labkit.kubesim ctl advance 1m`). Nothing here calls into the emulator from
Python: the server is a subprocess, and every step is a command a learner can type. The steps are
data (tests/data/tutorials/hpa-walkthrough.yaml), as issue 13's Kubernetes Basics
(tests/test_tutorial_kubernetes_basics.py, whose output checks are reused); the walkthrough runs
once (a module fixture) and each step is its own test, so a failure names its step, what was
typed, what the page shows and what came out.
"""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import skip_unless_ci
from test_tutorial_kubernetes_basics import Run, check

DATA = Path(__file__).parent / "data" / "tutorials"
TUTORIAL = yaml.safe_load((DATA / "hpa-walkthrough.yaml").read_text())
STEPS: list[dict[str, Any]] = TUTORIAL["steps"]
KUBECTL = "/usr/bin/kubectl"
SPEED = 10                 # the server's --speed: simulated seconds per wall second
COMMAND_TIMEOUT = 60.0     # wall seconds one typed command may take
SERVER_START = 60.0        # wall seconds the emulator may take to print its URL
KEYS = {"ctrl-c": b"\x03"}


def seconds(duration: str) -> float:
    """A Go duration as the control command takes it (``90s``, ``1m``, ``1h30m``), in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", duration)
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in parts)


def tidy(raw: bytes) -> str:
    """What a terminal shows, as lines: CRLF to LF, a lone CR dropped, escape sequences removed."""
    text = raw.decode(errors="replace").replace("\r\n", "\n").replace("\r", "")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@dataclass
class Outcome:
    step: dict[str, Any]
    typed: str
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    waited: list[str] = field(default_factory=list)   # the control commands typed between tries

    def report(self) -> str:
        s = self.step
        shown = "\n".join(f"--- run {i + 1} (exit {r.code}):\n{r.output.rstrip()[-4000:] or '(no output at all)'}"
                          for i, r in enumerate(self.runs))
        typed = f"\n  typed instead: {self.typed}" if self.typed != s["command"].strip() else ""
        waits = f"\n  time moved between tries: {', '.join(self.waited)}" if self.waited else ""
        return (f"HPA walkthrough, step {s['id']}: `{s['command'].strip()}`{typed}\n"
                f"  the page says: {s.get('says', s.get('why', '(output as listed)'))}{waits}\n"
                f"  not as expected:\n    - " + "\n    - ".join(self.problems) + f"\n  what came out:\n{shown}")


def in_order(patterns: list[str], output: str) -> list[str]:
    """Lines of ``output`` must match ``patterns`` one after the other (others may come between)."""
    lines = output.splitlines()
    at = 0
    for pattern in patterns:
        rx = re.compile(pattern)
        hit = next((i for i in range(at, len(lines)) if rx.search(lines[i])), None)
        if hit is None:
            before = "" if at == 0 else f" after line {at} ({lines[at - 1].strip()!r})"
            return [f"no line matches /{pattern}/{before}; the watch should show the rise, then the fall"]
        at = hit + 1
    return []


class Terminal:
    """A command in a real pseudo-terminal (kubectl sees a TTY, as at a learner's keyboard)."""

    def __init__(self, text: str, env: dict[str, str], cwd: Path):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.proc = subprocess.Popen(["bash", "-c", f"exec {text}"], stdin=slave, stdout=slave, stderr=slave,
                                     env=env, cwd=cwd, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.raw = bytearray()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, name="hpa-walkthrough-pty", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:   # EIO: the other end closed (the process ended)
                return
            if not chunk:
                return
            with self.lock:
                self.raw += chunk

    def output(self) -> str:
        with self.lock:
            return tidy(bytes(self.raw))

    def wait_for(self, done, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(self.output()) and self.proc.poll() is None:
            time.sleep(0.1)

    def press(self, key: bytes, timeout: float) -> int | None:
        os.write(self.master, key)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join(5)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.reader.join(5)
        os.close(self.master)


class Watch:
    """``kubectl get ... --watch`` in the background: every line it prints, as it comes."""

    def __init__(self, text: str, env: dict[str, str], cwd: Path):
        self.proc = subprocess.Popen(["bash", "-c", f"exec {text}"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, name="hpa-walkthrough-watch", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def interrupt(self) -> int | None:
        """Ctrl-C at the watch's terminal: SIGINT to its process group."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        self.reader.join(5)
        return self.proc.returncode


class Learner:
    """Types the walkthrough's steps into three terminals against the emulator's command line."""

    def __init__(self, where: Path, kubeconfig: Path):
        self.where = where
        bin_dir = where / "bin"
        bin_dir.mkdir()
        (bin_dir / "kubectl").symlink_to(KUBECTL)
        # `python -m labkit.kubesim ctl ...`, as typed: this interpreter (a script, not a symlink: a
        # symlinked venv python outside its venv's bin/ finds no pyvenv.cfg and loses the venv's packages)
        shim = bin_dir / "python"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        shim.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        self.env.update(KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(where / "kubecache"), HOME=str(where),
                        PATH=f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", TERM="xterm")
        shutil.copy(DATA / TUTORIAL["manifest"]["file"], where / TUTORIAL["manifest"]["file"])
        self.load: Terminal | None = None
        self.watch: Watch | None = None

    def shell(self, text: str) -> Run:
        try:
            done = subprocess.run(["bash", "-c", text], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=self.env, timeout=COMMAND_TIMEOUT, cwd=self.where)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return Run(out + f"\n[still running after {COMMAND_TIMEOUT:.0f} s: stopped]", None)
        return Run(done.stdout, done.returncode)

    def terminal2(self, step: dict[str, Any], text: str) -> Run:
        expect = step.get("expect") or {}
        wait = float(step.get("wait", 30))
        if step.get("keys"):
            if self.load is None:
                return Run("(nothing runs in terminal 2)", None)
            before = len(self.load.output())
            code = self.load.press(KEYS[step["keys"]], wait)
            return Run(self.load.output()[before:], code)
        self.load = Terminal(text, self.env, self.where)
        self.load.wait_for(lambda out: not check(expect, [Run(out, 0)], {}), wait)
        return Run(self.load.output(), self.load.proc.poll())

    def terminal3(self, step: dict[str, Any], text: str) -> Run:
        if step.get("keys"):
            if self.watch is None:
                return Run("(nothing runs in terminal 3)", None)
            code = self.watch.interrupt()
            return Run(self.watch.output(), code)
        self.watch = Watch(text, self.env, self.where)
        expect = step.get("expect") or {}
        deadline = time.monotonic() + float(step.get("wait", 15))
        while time.monotonic() < deadline and check(expect, [Run(self.watch.output(), 0)], {}):
            time.sleep(0.1)
        return Run(self.watch.output(), self.watch.proc.poll())

    def step(self, step: dict[str, Any]) -> Outcome:
        outcome = Outcome(step, (step.get("typed") or step["command"]).strip())
        expect = dict(step.get("expect") or {})
        order = expect.pop("in_order", None)
        terminal = step.get("terminal", 1)
        if terminal in (2, 3) and not step.get("keys"):
            expect.setdefault("exit", "running")
        budget, waited, every = float(step.get("until", 0)), 0.0, str(step.get("every", "15s"))
        while True:
            if terminal == 2:
                run = self.terminal2(step, outcome.typed)
            elif terminal == 3:
                run = self.terminal3(step, outcome.typed)
            else:
                run = self.shell(outcome.typed)
            outcome.runs.append(run)
            outcome.problems = check(expect, [run], {}) + (in_order(order, run.output) if order else [])
            if not outcome.problems or waited >= budget:
                return outcome
            typed = f"python -m labkit.kubesim ctl advance {every}"
            moved = self.shell(typed)
            outcome.waited.append(f"`{typed}` (exit {moved.code})")
            if moved.code != 0:
                outcome.problems.append(f"the control command failed: `{typed}`:\n{moved.output}")
                return outcome
            waited += seconds(every)

    def close(self) -> None:
        if self.watch is not None:
            self.watch.interrupt()
        if self.load is not None:
            self.load.close()


def start_server(where: Path) -> tuple[subprocess.Popen[str], Path]:
    """``python -m labkit.kubesim --kubeconfig F --speed N`` as a learner starts it; waits for its URL line."""
    kubeconfig = where / "kubeconfig"
    server = subprocess.Popen([sys.executable, "-m", "labkit.kubesim", "--kubeconfig", str(kubeconfig),
                               "--speed", str(SPEED)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert server.stdout is not None
    ready, _, _ = select.select([server.stdout], [], [], SERVER_START)
    line = server.stdout.readline() if ready else ""
    if not line.startswith("kubesim: Kubernetes API at http://127.0.0.1:"):
        stop_server(server)
        rest = server.stdout.read() if server.stdout else ""
        pytest.fail(f"`python -m labkit.kubesim --kubeconfig F --speed {SPEED}` did not start:\n{line}{rest}")
    # keep reading its output so that a full pipe never blocks it
    threading.Thread(target=server.stdout.read, name="hpa-walkthrough-server", daemon=True).start()
    return server, kubeconfig


def stop_server(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    for tool in (KUBECTL, shutil.which("bash")):
        if tool is None or not Path(tool).exists():
            skip_unless_ci(f"the walkthrough needs kubectl ({KUBECTL}) and bash on this machine")
    where = tmp_path_factory.mktemp("hpa-walkthrough")
    server, kubeconfig = start_server(where)
    learner = Learner(where, kubeconfig)
    outcomes: dict[str, Outcome] = {}
    try:
        for step in STEPS:
            outcomes[step["id"]] = learner.step(step)
    finally:
        learner.close()
        stop_server(server)
        transcript = os.environ.get("LABKIT_TUTORIAL_TRANSCRIPT")  # a file: every step's typing and output, to read
        if transcript:
            Path(transcript).write_text("".join(
                f"### {o.step['id']}{' FAILED' if o.problems else ''}\n"
                + "".join(f"$ {o.typed}\n{r.output}\n[exit {r.code}]\n" for r in o.runs) + "\n" for o in outcomes.values()))
    return outcomes


def test_the_manifest_is_the_pages() -> None:
    """php-apache.yaml is the published manifest: the numbers the walkthrough's arithmetic rests on."""
    deployment, service = yaml.safe_load_all((DATA / TUTORIAL["manifest"]["file"]).read_text())
    assert (deployment["kind"], deployment["metadata"]["name"]) == ("Deployment", "php-apache")
    container, = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.k8s.io/hpa-example"
    assert container["resources"] == {"limits": {"cpu": "500m"}, "requests": {"cpu": "200m"}}
    assert container["ports"] == [{"containerPort": 80}]
    assert (service["kind"], service["metadata"]["name"], service["spec"]["ports"]) == ("Service", "php-apache", [{"port": 80}])
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_every_step_is_the_pages_or_says_why() -> None:
    """Each step is a command of the page, typed as published, unless it says why not."""
    ids = [s["id"] for s in STEPS]
    assert len(ids) == len(set(ids)), "two steps share an id"
    for s in STEPS:
        if "typed" in s:
            assert s.get("replaced_because"), f"{s['id']} is typed differently but does not say why"
        if s.get("source") == "emulator":
            assert s.get("why") and s["command"].startswith("python -m labkit.kubesim ctl "), s["id"]
    generator = next(s for s in STEPS if s["id"] == "load-generator")
    assert " ".join(generator["command"].split()) == (
        'kubectl run -i --tty load-generator --rm --image=busybox:1.28 --restart=Never -- '
        '/bin/sh -c "while sleep 0.01; do wget -q -O- http://php-apache; done"')


@pytest.mark.parametrize("step", STEPS, ids=[s["id"] for s in STEPS])
def test_step_as_published(walkthrough: dict[str, Outcome], step: dict[str, Any]) -> None:
    outcome = walkthrough[step["id"]]
    assert not outcome.problems, outcome.report()
