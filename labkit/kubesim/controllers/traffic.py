"""The traffic engine: client loops running in pods send their requests through the cluster, and
the pods that answer them get busy.

Why: kubernetes.io's HPA walkthrough loads php-apache with a pod, not with Python
(``kubectl run load-generator --image=busybox:1.28 --restart=Never -- /bin/sh -c "while sleep 0.01;
do wget -q -O- http://php-apache; done"``); a Service's spread over replicas, a readiness failure or a
rolling update are seen from such a client. ``programs.py`` recognises the loop (``Program.client``);
this controller runs it.

How, on a short tick (``TICK``, only while some client loop runs: an idle cluster has no timer):
- each running client loop runs a bounded sample of iterations (``SAMPLE``) of its loop through the
  container's own shell (:mod:`..userland`): each ``wget``/``curl`` really resolves the name (DNS),
  goes through the Service (kube-proxy's random ready endpoint, :mod:`..backends`) and gets the
  server's answer (``serving.http_request``: its status, body and ``cpu``); its ``sleep`` does not
  block: it is the loop's think time (the shell's ``sleep`` adds to ``think_time`` when the view
  carries one, so nested ``sh -c`` and ``$(...)`` count too);
- an iteration lasts its think time plus each request's latency (the shared rule: ``cpu /
  min(1, the CPU limit in cores)`` + 1 ms, one request is one thread); the loop is closed, so
  its rate is 1 / that; iterations beyond the sample repeat the sampled ones (their output and
  their backends);
- a backend serves at most ``min(1 core x workers, limit) / cost`` requests per second (``workers``
  from the image's catalogue entry, default 1); clients over that wait (their extra iterations
  shrink);
- what the loop prints goes to its container's log (``kubectl logs``, ``attach``, ``run -i``;
  at most ``MAX_LOG`` bytes kept, the newest); the served requests and their cost per backend
  container are kept for metrics-server's window (:meth:`TrafficEngine.load`), next to the host's
  own requests that :mod:`..requestlog` counts.

A client pod being deleted, or its process ending, takes its load away at once.
"""
from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from .. import images, quantity, requestlog, userland  # userland: the shell that runs a loop's body
from ..store import Event
from ..userland import syntax
from ..userland.shell import IO, Shell, ShellExit
from ..userland.terminal import Input
from . import Controller

Obj = dict[str, Any]
TICK = 1.0            # seconds of simulated time between two rounds of the engine
SAMPLE = 8            # iterations of each loop really run per tick; the rest repeat them
MIN_ITERATION = 0.001  # seconds: a loop with no sleep and no request still takes a moment
MAX_LOG = 2 * 2**20   # bytes of a client's output kept (the newest), as a rotated container log
WINDOW = 60.0         # seconds of served-request history kept per backend container


@dataclass
class Request:
    """One request an iteration made: who answered (None: refused) and what it cost."""

    backend: tuple[str, str] | None   # (pod uid, container)
    cost: float                       # core-seconds
    latency: float                    # seconds


@dataclass
class Iteration:
    out: bytes
    think: float
    requests: list[Request]

    @property
    def seconds(self) -> float:
        return max(MIN_ITERATION, self.think + sum(r.latency for r in self.requests))


@dataclass
class ClientLoop:
    """One client loop: a container's process, its shell and its output."""

    key: tuple[str, str]        # (pod uid, container)
    namespace: str
    pod: str
    loop: Any                   # the syntax.Loop node
    after: list[Any]            # what the script runs once the loop ends
    shell: Any
    last: float                 # simulated time run up to
    started: float = 0.0        # when the container's process started (its run)
    carry: float = 0.0          # seconds the iteration under way still runs into the next tick
    fraction: float = 0.0       # the fractional repeated iteration carried over
    log: bytearray = field(default_factory=bytearray)
    dropped: int = 0            # bytes of output dropped from the front of ``log``
    rate: float = 0.0           # iterations per second in the last tick
    requests: list[Request] = field(default_factory=list)   # the requests of the iteration under way
    ended: bool = False
    sleeping: bool = False      # slept forever (``sleep infinity``): no more iterations


class TrafficEngine(Controller):
    name = "traffic"
    watches = ("/pods",)

    def __init__(self, mgr):
        super().__init__(mgr)
        self.clients: dict[tuple[str, str], ClientLoop] = {}
        self.finished: dict[tuple[str, str], ClientLoop] = {}   # ended loops, whose output stays in the log
        self.served: dict[tuple[str, str], collections.deque[tuple[float, float, float]]] = {}
        self.armed = False
        self.log_lock = threading.Lock()   # a log's front and its dropped count change together (logs -f reads them)

    # ---- which pods run a client loop ---------------------------------------------------
    def on_event(self, event: Event) -> None:
        uid = event.obj["metadata"].get("uid", "")
        if event.type == "DELETED" or event.obj["metadata"].get("deletionTimestamp"):
            if any(k[0] == uid for k in self.clients) or any(k[0] == uid for k in self.finished):
                self.enqueue(uid)
            return
        run = self.mgr.kubelet.pods.get(uid)
        if run is not None and any(r.program.client for r in run.runs):
            self.enqueue(uid)
        elif any(k[0] == uid for k in self.clients):
            self.enqueue(uid)

    def sync(self, key: Any) -> None:
        if key == "tick":
            self.armed = False
            self.tick()
        else:
            self.refresh(key)
        if self.clients and not self.armed:
            self.armed = True
            self.after(TICK, "tick")

    def refresh(self, uid: str) -> None:
        """Start the client loops of pod ``uid`` that now run; drop those that no longer do."""
        pr = self.mgr.kubelet.pods.get(uid)
        pod = self.mgr.find("/pods", *pr.key) if pr is not None else None
        live: set[tuple[str, str]] = set()
        if pod is not None and pod["metadata"].get("uid") == uid and not pod["metadata"].get("deletionTimestamp"):
            now = self.mgr.now()
            for run in pr.runs:
                if not run.program.client or run.state != "Running" or run.started is None or run.ended is not None:
                    continue
                key = (uid, run.name)
                live.add(key)
                current = self.clients.get(key)
                if current is not None and current.started == run.started:
                    continue
                client = self._start(pod, run, max(now, run.started + run.program.client_start))
                if client is not None:
                    self.clients[key] = client
                    self.finished.pop(key, None)
        for key in [k for k in self.clients if k[0] == uid and k not in live]:
            self.finished[key] = self.clients.pop(key)   # its load ends now; its output stays
        if pod is None or pod["metadata"].get("uid") != uid:
            self.forget(uid)   # the pod is gone: so is its log

    def _start(self, pod: Obj, run: Any, at: float) -> ClientLoop | None:
        try:
            items = syntax.parse(run.program.client)
        except syntax.ShellSyntaxError:
            return None
        index = next((i for i, item in enumerate(items) if not item.rest and len(item.first.commands) == 1
                      and isinstance(item.first.commands[0], syntax.Loop)), None)
        if index is None:
            return None
        view = userland.container_view(self.store, pod, run.name, self.mgr.now(), started=run.started, program=run.program)
        client = ClientLoop((pod["metadata"]["uid"], run.name), pod["metadata"]["namespace"], pod["metadata"]["name"],
                            items[index].first.commands[0], items[index + 1:], None, at)
        view.observe = lambda backend, answer, failed_after=0.0: self._observed(client, backend, answer, failed_after)
        view.think_time = 0.0
        client.started = run.started
        client.shell = Shell(view, IO(Input(data=b""), client.log.extend, client.log.extend), "sh", store=self.store)
        client.requests = []
        discard = IO(Input(data=b""), lambda data: None, lambda data: None)
        with requestlog.uncounted():
            try:   # what comes before the loop (its echo lines are the kubelet's): variables, cd...
                client.shell.run_list(items[:index], discard)
            except ShellExit:
                client.ended = True
        view.think_time = 0.0
        client.requests = []
        return client

    # ---- one request, as the shell's wget/curl made it -------------------------------------
    def _observed(self, client: ClientLoop, backend: Any, answer: Any, failed_after: float = 0.0) -> None:
        if backend is None or backend.pod is None or answer is None:
            client.requests.append(Request(None, 0.0, max(MIN_ITERATION, failed_after)))
            return
        pod = backend.pod
        container = _serving_container(self.store, pod, backend.port)
        info = images.lookup((container or {}).get("image", ""))
        cost = answer.cpu if answer.cpu > 0 else info.cpu_per_rps / 1000.0
        cores = _limit_cores(container)
        latency = cost / min(1.0, cores) + 0.001 if cores else cost + 0.001
        client.requests.append(Request((pod["metadata"].get("uid", ""), (container or {}).get("name", "")), cost, latency))

    # ---- the tick -------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.mgr.now()
        plans: list[tuple[ClientLoop, list[Iteration], float]] = []
        for key in sorted(self.clients):
            client = self.clients[key]
            if client.ended or client.sleeping:
                client.last = now
                continue
            plans.append(self._sample(client, now))
        # demand per backend container (requests this tick), the mean cost, and what each can serve
        demand: dict[tuple[str, str], float] = collections.defaultdict(float)
        costs: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
        for client, sample, extra in plans:
            times = 1.0 + (extra / len(sample) if sample else 0.0)
            for it in sample:
                for r in it.requests:
                    if r.backend is not None:
                        demand[r.backend] += times
                        cost = costs[r.backend]
                        cost[0] += 1
                        cost[1] += r.cost
        factor = {b: self._capacity(b, costs[b][1] / costs[b][0]) / d if d > 0 else 1.0 for b, d in demand.items()}
        counts: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
        for client, sample, extra in plans:
            slow = min([min(1.0, factor.get(r.backend, 1.0)) for it in sample for r in it.requests if r.backend] or [1.0])
            extra = extra * slow
            whole = int(extra + client.fraction)
            client.fraction = extra + client.fraction - whole
            for it in sample:
                self._account(it, 1.0, counts)
            if sample and whole:
                for n in range(whole):
                    it = sample[n % len(sample)]
                    client.log.extend(it.out)
                    if len(client.log) > 2 * MAX_LOG:
                        self._trim(client)
                for it in sample:
                    self._account(it, whole / len(sample), counts)
            self._trim(client)
            if sample:
                client.rate = len(sample) / sum(it.seconds for it in sample) * slow
        for backend, (n, cpu) in counts.items():
            log = self.served.setdefault(backend, collections.deque())
            log.append((now, n, cpu))
        for backend in list(self.served):
            log = self.served[backend]
            while log and log[0][0] < now - WINDOW:
                log.popleft()
            if not log:
                del self.served[backend]
        for key in [k for k, c in self.clients.items() if c.ended]:
            self._end(key)

    def _sample(self, client: ClientLoop, now: float) -> tuple[ClientLoop, list[Iteration], float]:
        """Run up to SAMPLE iterations of the loop in the time since the last tick; how many more
        iterations (repeats) that time holds."""
        budget = (now - client.last) - client.carry
        client.last = now
        sample: list[Iteration] = []
        with requestlog.uncounted():
            while budget > 0 and len(sample) < SAMPLE:
                it = self._iterate(client)
                sample.append(it)
                budget -= it.seconds
                if client.ended or client.sleeping:   # the process is done (or sleeps for ever)
                    break
        if budget <= 0 or not sample or client.ended or client.sleeping:
            client.carry = max(0.0, -budget) if math.isfinite(budget) else 0.0
            return client, sample, 0.0
        client.carry = 0.0
        mean = sum(it.seconds for it in sample) / len(sample)
        return client, sample, budget / mean

    def _iterate(self, client: ClientLoop) -> Iteration:
        """One pass of the loop: its condition, then (while it holds) its body."""
        sh, loop = client.shell, client.loop
        sh.view.think_time, client.requests = 0.0, []
        before = len(client.log)
        io = sh.io
        try:
            ok = sh.run_list(loop.cond, io) == 0
            if ok == loop.until:
                client.ended = True
                code = sh.run_list(client.after, io) if client.after else sh.status
                self._exit(client, code)
            else:
                sh.run_list(loop.body, io)
        except ShellExit as done:
            client.ended = True
            self._exit(client, done.code)
        except Exception:   # a bug in the userland must not stop the cluster
            client.ended = True
            self._exit(client, 1)
        think = sh.view.think_time
        if math.isinf(think):
            client.sleeping = True
        return Iteration(bytes(client.log[before:]), think if math.isfinite(think) else 0.0, client.requests)

    def _exit(self, client: ClientLoop, code: int) -> None:
        """The loop's process ended (its loop stopped, or ``exit``): the kubelet hears it."""
        self.mgr.kubelet.process_ended(client.namespace, client.pod, client.key[1], int(code))

    def _end(self, key: tuple[str, str]) -> None:
        self.finished[key] = self.clients.pop(key)

    def _trim(self, client: ClientLoop) -> None:
        if len(client.log) > MAX_LOG:
            with self.log_lock:
                cut = len(client.log) - MAX_LOG
                del client.log[:cut]
                client.dropped += cut

    @staticmethod
    def _account(it: Iteration, times: float, counts: dict) -> None:
        for r in it.requests:
            if r.backend is not None:
                c = counts[r.backend]
                c[0] += times
                c[1] += times * r.cost

    def _capacity(self, backend: tuple[str, str], cost: float) -> float:
        """Requests the backend container can serve in one tick: min(1 core x workers, limit) / cost."""
        pr = self.mgr.kubelet.pods.get(backend[0])
        run = next((r for r in pr.runs if r.name == backend[1]), None) if pr is not None else None
        if run is None or cost <= 0:
            return math.inf
        workers = float(run.info.entry.get("workers", 1) or 1)
        cores = _limit_cores(run.spec)
        return (min(workers, cores) if cores else workers) / cost * TICK

    # ---- what others read ------------------------------------------------------------------
    def load(self, uid: str, container: str, since: float, until: float) -> tuple[float, float]:
        """(requests, core-seconds) that the container served to client loops in (since, until]."""
        log = self.served.get((uid, container))
        if not log:
            return 0.0, 0.0
        n = cpu = 0.0
        for at, count, cost in log:
            if since < at <= until:
                n += count
                cpu += cost
        return n, cpu

    def output(self, uid: str, container: str) -> tuple[str, int] | None:
        """What a client loop printed (the newest MAX_LOG bytes) and how many bytes went before."""
        client = self.clients.get((uid, container)) or self.finished.get((uid, container))
        if client is None:
            return None
        with self.log_lock:
            return client.log.decode("utf-8", "replace"), client.dropped

    def forget(self, uid: str) -> None:
        for key in [k for k in self.finished if k[0] == uid]:
            del self.finished[key]


def _serving_container(store: Any, pod: Obj, port: int) -> Obj | None:
    from ..backends import listening_container
    return listening_container(pod, port, store)


def _limit_cores(container: Obj | None) -> float:
    """The container's CPU limit in cores (0.0: none)."""
    limit = (((container or {}).get("resources") or {}).get("limits") or {}).get("cpu")
    return quantity.milli(limit) / 1000.0 if limit is not None else 0.0
