"""kubernetes.io's Kubernetes Basics (modules 2 to 6) typed as published, against labkit.kubesim.

Why: learners of the orchestration lessons type exactly these pages with real kubectl. The steps
are data (tests/data/tutorials/kubernetes-basics.yaml: the page's command, what the page says the
learner sees, and the only two rewrites this machine needs, each with its reason). A small driver
plays the learner: one shell environment carried from step to step (the page's `export POD_NAME`,
`NODE_PORT`, `AFFECTED_POD`), a second terminal for `kubectl proxy`, typed lines for an interactive
`kubectl exec -ti ... -- bash`, and, where the page says to wait or run a command again, simulated
time moved on between tries. The walkthrough runs once (a module fixture); each step is then its own
test, so one failure names its step, command, expectation and output, and the later steps still
report (the learner presses on).
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import skip_unless_ci
from labkit import kubesim

TUTORIAL = yaml.safe_load((Path(__file__).parent / "data" / "tutorials" / "kubernetes-basics.yaml").read_text())
STEPS: list[dict[str, Any]] = TUTORIAL["steps"]
RUNNABLE = [s for s in STEPS if s.get("run", True)]
DESCRIBES = [s for s in RUNNABLE if "kubectl describe" in s["command"]]
KUBECTL = "/usr/bin/kubectl"
PAGE_PROXY = "localhost:8001"
RETRY_STEP = 2.0          # simulated seconds between two tries of a step the page says to wait for
COMMAND_TIMEOUT = 60.0    # wall seconds one typed command may take (rollout status waits on the clock)
NOISE = {"_", "SHLVL", "PWD", "OLDPWD"}


@dataclass
class Run:
    """One typed command: what the terminal showed (stdout and stderr as they came) and its exit code."""

    output: str
    code: int | None


@dataclass
class Outcome:
    step: dict[str, Any]
    typed: str
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tries: int = 0

    def report(self) -> str:
        s = self.step
        shown = "\n".join(f"--- run {i + 1} (exit {r.code}):\n{r.output.rstrip() or '(no output at all)'}"
                          for i, r in enumerate(self.runs))
        typed = f"\n  typed instead: {self.typed}" if self.typed != s["command"].strip() else ""
        return (f"Kubernetes Basics module {s['module']}, step {s['id']}: `{s['command'].strip()}`{typed}\n"
                f"  the page says: {s.get('says', '(output as listed)')}\n"
                f"  not as expected ({self.tries} tr{'y' if self.tries == 1 else 'ies'}):\n    - "
                + "\n    - ".join(self.problems) + f"\n  what came out:\n{shown}")


class Learner:
    """Types the tutorial's steps into bash, like one learner with two terminals."""

    def __init__(self, sim: kubesim.KubeSim, where: Path):
        self.sim = sim
        self.where = where
        bin_dir = where / "bin"
        bin_dir.mkdir()
        (bin_dir / "kubectl").symlink_to(KUBECTL)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "POD_NAME", "NODE_PORT"))}
        self.env.update(KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(where / "kubecache"), HOME=str(where),
                        PATH=f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        # curl at a terminal prints no progress meter (its output is not redirected); errors it shows
        (where / ".curlrc").write_text("silent\nshow-error\n")
        self.terminal2: subprocess.Popen[str] | None = None
        self.proxy_port: str | None = None

    # ---- what is typed ----------------------------------------------------------------------
    def typed(self, step: dict[str, Any]) -> str:
        text = (step.get("typed") or step["command"]).strip()
        if self.proxy_port is not None:
            text = text.replace(PAGE_PROXY, f"localhost:{self.proxy_port}")
        return text

    # ---- the first terminal -------------------------------------------------------------------
    def shell(self, text: str, stdin: str) -> Run:
        state = self.where / "env.state"
        script = f"{text}\n__rc=$?\nenv -0 > {state}\nexit $__rc\n"
        try:
            done = subprocess.run(["bash", "-c", script], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=self.env, timeout=COMMAND_TIMEOUT, cwd=self.where)
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return Run(out + f"\n[still running after {COMMAND_TIMEOUT:.0f} s: stopped]", None)
        if state.exists():
            carried = dict(item.split("=", 1) for item in state.read_text().split("\0") if "=" in item)
            self.env = {k: v for k, v in carried.items() if k not in NOISE}
            state.unlink()
        return Run(done.stdout, done.returncode)

    # ---- the second terminal ------------------------------------------------------------------
    def background(self, text: str) -> Run:
        """Run ``text`` in terminal 2 (Ctrl-C first whatever runs there); what it prints in 15 s."""
        self.stop_terminal2()
        proc = subprocess.Popen(["bash", "-c", f"exec {text}"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=self.env, start_new_session=True)
        self.terminal2 = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline and not line.endswith("\n"):
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = proc.stdout.readline()
                if not chunk:
                    break
                line += chunk
        m = re.search(r"Starting to serve on 127\.0\.0\.1:(\d+)", line)
        if m:
            self.proxy_port = m.group(1)
        return Run(line, proc.poll())

    def stop_terminal2(self) -> None:
        proc, self.terminal2 = self.terminal2, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    # ---- one step ---------------------------------------------------------------------------
    def step(self, step: dict[str, Any]) -> Outcome:
        budget = float(step.get("until", 0))
        waited = 0.0
        while True:
            outcome = Outcome(step, self.typed(step))
            if step.get("terminal") == 2:
                outcome.runs.append(self.background(outcome.typed))
            else:
                stdin = "".join(line + "\n" for line in step.get("stdin") or [])
                for _ in range(int(step.get("repeat", 1))):
                    outcome.runs.append(self.shell(outcome.typed, stdin))
            outcome.problems = check(step.get("expect") or {}, outcome.runs, self.env)
            if not outcome.problems or waited >= budget:
                outcome.tries = int(waited / RETRY_STEP) + 1
                return outcome
            self.sim.advance(RETRY_STEP)
            waited += RETRY_STEP


def expand(text: str, env: dict[str, str], escape: bool) -> str:
    """``${VAR}`` in an expectation is the carried variable's value (regex-escaped for ``matches``)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: re.escape(env.get(m.group(1), "")) if escape else env.get(m.group(1), ""), text)


def check(expect: dict[str, Any], runs: list[Run], env: dict[str, str]) -> list[str]:
    """What the runs' output lacks against the page's expectations, in words (empty: as published)."""
    problems: list[str] = []
    want_exit = expect.get("exit", 0)
    for i, run in enumerate(runs):
        tag = f" (run {i + 1})" if len(runs) > 1 else ""
        if want_exit == "running":
            if run.code is not None:
                problems.append(f"it ended (exit {run.code}){tag}; the page's command keeps running")
        elif want_exit == "nonzero":
            if run.code == 0:
                problems.append(f"exit code 0{tag}, the page's command fails here")
        elif run.code != want_exit:
            problems.append(f"exit code {run.code}{tag}, expected {want_exit}")
        for text in expect.get("contains") or []:
            if expand(text, env, False) not in run.output:
                problems.append(f"no {expand(text, env, False)!r} in the output{tag}")
        for text in expect.get("not_contains") or []:
            if expand(text, env, False) in run.output:
                problems.append(f"{expand(text, env, False)!r} is in the output{tag}, the page says it is not")
        for pattern in expect.get("matches") or []:
            if not re.search(expand(pattern, env, True), run.output, re.M):
                problems.append(f"no line matches /{expand(pattern, env, True)}/{tag}")
        lines = expect.get("lines")
        if lines:
            rx = re.compile(expand(lines["regex"], env, True))
            n = sum(1 for line in run.output.splitlines() if rx.search(line))
            if n < lines.get("min", 0) or ("max" in lines and n > lines["max"]):
                span = f"{lines.get('min', 0)}" + (f"..{lines['max']}" if "max" in lines else " or more")
                problems.append(f"{n} line(s) match /{rx.pattern}/{tag}, expected {span}")
    distinct = expect.get("distinct")
    if distinct:
        rx = re.compile(expand(distinct["regex"], env, True), re.M)
        seen = {m.group(1) for run in runs for m in rx.finditer(run.output)}
        if len(seen) < distinct["min"]:
            problems.append(f"{len(seen)} different value(s) of /{rx.pattern}/ ({sorted(seen)}), expected {distinct['min']} or more")
    return problems


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    for tool in (KUBECTL, shutil.which("curl"), shutil.which("bash")):
        if tool is None or not Path(tool).exists():
            skip_unless_ci(f"the tutorial needs kubectl ({KUBECTL}), curl and bash on this machine")
    where = tmp_path_factory.mktemp("kubernetes-basics")
    sim = kubesim.start(where / "kubeconfig", seed=0)  # realtime: kubectl's waits run on the clock
    learner = Learner(sim, where)
    outcomes: dict[str, Outcome] = {}
    try:
        for step in RUNNABLE:
            outcomes[step["id"]] = learner.step(step)
    finally:
        learner.stop_terminal2()
        sim.stop()
        transcript = os.environ.get("LABKIT_TUTORIAL_TRANSCRIPT")  # a file: every step's typing and output, to read
        if transcript:
            Path(transcript).write_text("".join(
                f"### {o.step['id']} ({o.tries} tr{'y' if o.tries == 1 else 'ies'}){' FAILED' if o.problems else ''}\n"
                + "".join(f"$ {o.typed}\n{r.output}" for r in o.runs) + "\n" for o in outcomes.values()))
    return outcomes


def test_the_steps_are_the_pages_and_every_rewrite_says_why() -> None:
    """The data is the tutorial: each step has a module and a command; only two rewrites exist."""
    ids = [s["id"] for s in STEPS]
    assert len(ids) == len(set(ids)), "two steps share an id"
    assert {s["module"] for s in STEPS} == {2, 3, 4, 5, 6}
    for s in STEPS:
        if not s.get("run", True):
            assert s.get("why"), f"{s['id']} is not run but does not say why"
        if "typed" in s:
            assert s.get("replaced_because"), f"{s['id']} is typed differently but does not say why"
            assert (s["command"] == "kubectl proxy" and s["typed"] == "kubectl proxy --port=0") or (
                "minikube ip" in s["command"] and "/api/v1/nodes/" in s["typed"]), f"{s['id']}: an unexplained rewrite"
        elif s.get("run", True):
            assert "minikube" not in s["command"], f"{s['id']} needs minikube and has no kind equivalent"


@pytest.mark.parametrize("step", RUNNABLE, ids=[s["id"] for s in RUNNABLE])
def test_step_as_published(walkthrough: dict[str, Outcome], step: dict[str, Any]) -> None:
    outcome = walkthrough[step["id"]]
    assert not outcome.problems, outcome.report()


@pytest.mark.parametrize("step", DESCRIBES, ids=[s["id"] for s in DESCRIBES])
def test_describe_does_not_crash_kubectl(walkthrough: dict[str, Outcome], step: dict[str, Any]) -> None:
    """A Go panic in kubectl's describers (nil fields a real API server always sets) is our bug."""
    for run in walkthrough[step["id"]].runs:
        assert not re.search(r"^(panic: |goroutine \d+ \[)", run.output, re.M), (
            f"`{step['command']}` (module {step['module']}) crashed kubectl:\n{run.output[-3000:]}")
