"""The kubelet's probe worker: what a container's startup, liveness and readiness probes answer
and when, so that the kubelet knows when to kill a container and when it counts as started and ready.

Why its own module: the kubelet (``kubelet.py``) drives each container through its lifecycle and
writes the pod status; probing is a second job with its own rules (kubernetes.io "Configure
Liveness, Readiness and Startup Probes"), asked by both:

- a probe's result ``t`` seconds after the container started (:meth:`Prober.result`): ``exec``
  (the command read as the container's shell runs it: ``cat``/``test``/``ls`` of a file that
  follows the process's timeline, what a learner's ``kubectl exec`` wrote, the image's and
  volumes' files), ``httpGet`` (a GET with ``User-Agent: kube-probe/1.36`` to the container's
  server, :func:`..serving.answer_of`: the same answers any client gets), ``tcpSocket`` (a port
  the server listens on, after its ``startupSeconds``), ``grpc`` (its gRPC health service), with
  the kubelet's failure messages;
- the schedule (``initialDelaySeconds``, then every ``periodSeconds``) and each container
  instance's :class:`Plan`: when ``failureThreshold`` failures in a row kill it (liveness, or a
  startup probe that never succeeds), when the startup probe first succeeds (liveness and
  readiness wait for it); readiness now and when it may change next;
- the Unhealthy events of the failed probes before the kill, recorded as they happen.

The process's timeline is known in advance, so a plan is computed once per container instance, up
to a horizon, and dropped (:meth:`Prober.forget`) when a shell changes the container's files.
Catalogue servers are planned from their answers at each age (no request is made, nothing logged);
a server whose answers can change at any time (the course web service's ``/readyz`` reads files) is
planned as it answers now, and the probe made now is a real request (:meth:`Prober._ask`).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .. import images, kindstate, quantity, serving
from ..programs import Program
from ..stages import COUNTS, lifecycle

from ..userland import overlay  # the container's userland: what a shell wrote
from ..userland.view import file_exists as userland_file_exists  # the image's and volumes' files

if TYPE_CHECKING:  # only for type hints: the kubelet's records of pods and containers
    from . import Manager, kubelet

Obj = dict[str, Any]
HORIZON = 86400.0   # how far ahead a plan looks (seconds after the container started)
# the prober's User-Agent: kube-probe/<major>.<minor> of the kubelet (the nodes' version, kind-cluster.yaml)
PROBE_AGENT = "kube-probe/" + ".".join(kindstate.kubernetes_version().lstrip("v").split(".")[:2])


def latency(cpu: float, container: Obj) -> float:
    """Seconds a request costing ``cpu`` core-seconds takes: one thread, at most the container's
    CPU limit (issue 14's shared rule), plus a millisecond."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    cores = 1.0
    if limit is not None:
        try:
            cores = min(1.0, quantity.milli(str(limit)) / 1000.0)
        except Exception:
            cores = 1.0
    return cpu / max(cores, 1e-3) + 0.001


@dataclass(frozen=True)
class Plan:
    """What the container's startup and liveness probes will do, in seconds after it started:
    ``kill`` when the failing probe (``killer``: "startup" or "liveness") has failed failureThreshold
    times in a row; ``started`` when the startup probe first succeeds (0 without one; None: not
    within the horizon), which holds liveness and readiness off until then."""

    kill: float | None = None
    killer: str = "liveness"
    started: float | None = 0.0


def probed(run: kubelet.Run) -> bool:
    """Whether the container has a probe that can kill it (liveness or startup)."""
    return "livenessProbe" in run.spec or "startupProbe" in run.spec


def threshold(probe: Obj) -> int:
    """How many failures in a row make a probe fail (``failureThreshold``, 3 by default)."""
    return int(probe.get("failureThreshold", 3) or 3)


def _period(probe: Obj) -> float:
    return float(probe.get("periodSeconds", 10) or 10)


def probe_times(probe: Obj, horizon: float, after: float = 0.0) -> Iterator[float]:
    """When the probe worker probes (initialDelaySeconds, then every periodSeconds), from ``after`` on."""
    t = float(probe.get("initialDelaySeconds", 0) or 0)
    period = _period(probe)
    while t <= horizon:
        if t >= after - 1e-9:
            yield t
        t += period


def as_instance(pod: Obj, run: kubelet.Run) -> Obj:
    """The pod as the container instance `run` sees it: its status names the run's container ID.
    Why: the kubelet plans a restarted container's probes before it writes the new instance's
    status, and the files (a `touch` in the old instance's writable layer) are found by that ID;
    read through the stored status, the new instance would see the old one's files."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if not run.cid or not any(cs.get("name") == run.name for cs in statuses):
        return pod
    current = f"containerd://{run.cid}"
    if all(cs.get("containerID") == current for cs in statuses if cs.get("name") == run.name):
        return pod
    return {**pod, "status": {**pod["status"], "containerStatuses": [
        {**cs, "containerID": current} if cs.get("name") == run.name else cs for cs in statuses]}}


class Prober:
    """The probe worker of every node's kubelet: results, plans, readiness, Unhealthy events.

    It keeps its per-container state on the kubelet's ``Run`` (``plan``, ``unhealthy``, the file
    ``changes`` and ``base_files`` it has read), so a restarted container starts afresh."""

    def __init__(self, mgr: Manager):
        self.mgr = mgr
        self.store = mgr.store

    @staticmethod
    def forget(run: kubelet.Run) -> None:
        """A shell changed the container's files: its plan and the file changes it read are stale."""
        run.plan = run.changes = None

    def result(self, probe: Obj, pr: kubelet.PodRun, run: kubelet.Run, t: float) -> tuple[bool, str]:
        """(passes, failure message) of ``probe`` ``t`` seconds after the container started."""
        if not run.known:
            return True, ""
        if "exec" in probe:
            return self._exec(pr, run, (probe["exec"] or {}).get("command") or [], t)
        for kind in ("httpGet", "tcpSocket", "grpc"):
            if kind in probe:
                spec = probe[kind] or {}
                port = spec.get("port")
                if isinstance(port, str):
                    port = next((p.get("containerPort") for p in run.spec.get("ports") or [] if p.get("name") == port), port)
                return getattr(self, "_" + kind.lower())(probe, spec, pr, run, port, t)
        return True, ""

    # ---- the three network probes ask the container's server (the same answers as any client)
    def _listens(self, run: kubelet.Run, port: Any, t: float, tcp: bool = False) -> bool:
        """Whether the container's server listens on ``port`` ``t`` seconds after it started
        (its process serves it, and its ``startupSeconds`` have passed)."""
        ports = images.server_ports(run.spec, run.program.serves)
        if port not in ports and not (tcp and port in serving.echo_ports(run.spec)):
            return False
        return t >= images.startup_seconds(run.spec) - 1e-9

    def _httpget(self, probe: Obj, spec: Obj, pr: kubelet.PodRun, run: kubelet.Run, port: Any, t: float) -> tuple[bool, str]:
        """GET the path as the kubelet's prober does (``User-Agent: kube-probe/1.36``): 2xx and 3xx
        pass; the kubelet's messages for a status, a refused connection, a timeout, a non-HTTP server."""
        path = spec.get("path", "/") or "/"
        if not path.startswith("/"):
            path = "/" + path
        host = spec.get("host") or pr.ip
        url = f'{(spec.get("scheme") or "HTTP").lower()}://{host}:{port}{path}'
        target = f"{host}:{port}"
        if not self._listens(run, port, t):
            return False, f'Get "{url}": dial tcp {target}: connect: connection refused'
        pod = self.mgr.find("/pods", *pr.key)
        if pod is None or str(spec.get("scheme", "HTTP")).upper() == "HTTPS":
            return True, ""
        pod = as_instance(pod, run)
        headers = {"Host": target, "User-Agent": PROBE_AGENT, "Accept": "*/*", "Connection": "close"}
        for h in spec.get("httpHeaders") or []:
            if h.get("name"):
                headers[h["name"]] = str(h.get("value", ""))
        try:
            answer = self._ask(pod, pr, run, port, path, headers, t)
        except serving.ConnectionClosed:
            return False, f'Get "{url}": EOF'
        except serving.ConnectionRefused:
            return False, f'Get "{url}": dial tcp {target}: connect: connection refused'
        timeout = float(probe.get("timeoutSeconds", 1) or 1)
        if latency(answer.cpu, run.spec) > timeout:
            return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
        if not 200 <= answer.status < 400:
            return False, f"HTTP probe failed with statuscode: {answer.status}"
        return True, ""

    def _ask(self, pod: Obj, pr: kubelet.PodRun, run: kubelet.Run, port: int, path: str, headers: dict[str, str],
             t: float) -> serving.HttpAnswer:
        """The server's answer to the probe at ``t``: a real request (counted and logged, from the
        node's address) when ``t`` is the probe being made now; for a plan ahead, the answer as
        the server is then (a server whose answers can change at any time is asked as it is now)."""
        now = self.mgr.now() - (run.started or 0.0)
        memo = run.probe_state.setdefault("answers", {})
        client = pr.host_ip or pr.ip
        if abs(t - now) < 0.5:
            key = ("now", port, path, round(t, 3))
            if key not in memo:
                memo.clear()  # only the latest real probe (and what was planned from it) is kept
                memo[key] = serving.answer_of(self.store, pod, run.spec, port, "GET", path, headers, b"", client=client)
            return memo[key]
        if serving.answers_anytime(run.spec):
            if t < now:   # a plan made again (a file changed) reads the files as they were then
                return serving.answer_of(self.store, pod, run.spec, port, "GET", path, headers, b"", client=client, age=t)
            key = ("ahead", port, path, round(now, 3))
            if key not in memo:   # ahead: as it answers now (what changes it re-plans: Prober.forget)
                memo[key] = serving.answer_of(self.store, pod, run.spec, port, "GET", path, headers, b"", client=client,
                                              age=now)
            return memo[key]
        return serving.planned_answer(run.spec, port, path, t)

    def _tcpsocket(self, probe: Obj, spec: Obj, pr: kubelet.PodRun, run: kubelet.Run, port: Any, t: float) -> tuple[bool, str]:
        """A TCP connect: whoever listens passes (redis, postgres, an HTTP server alike)."""
        target = f"{spec.get('host') or pr.ip}:{port}"
        if not self._listens(run, port, t, tcp=True):
            return False, f"dial tcp {target}: connect: connection refused"
        return True, ""

    def _grpc(self, probe: Obj, spec: Obj, pr: kubelet.PodRun, run: kubelet.Run, port: Any, t: float) -> tuple[bool, str]:
        """grpc.health.v1.Health/Check of ``service`` (pkg/probe/grpc's wording): a server without
        the health service on that port never completes the connection (the kubelet dials with a
        block until its timeout)."""
        target = f"{pr.ip}:{port}"
        timeout = int(float(probe.get("timeoutSeconds", 1) or 1))
        health = (images.server(run.spec).get("grpc") or {}).get(port)
        if not self._listens(run, port, t) or health is None:
            return False, f'timeout: failed to connect service "{target}" within {timeout}s: context deadline exceeded'
        status = health.get(spec.get("service") or "")
        if status is None:
            return False, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
        if status != "SERVING":
            return False, f'service unhealthy (responded with "{status}")'
        return True, ""

    def _exec(self, pr: kubelet.PodRun, run: kubelet.Run, cmd: list[str], t: float) -> tuple[bool, str]:
        """An exec probe's command, read as the container's shell would run it: ``cat``/``test``/``ls``
        of a file follow the process's timeline (``touch``/``rm`` in its command), what a learner's
        ``kubectl exec`` wrote or removed, and the image's and volumes' files."""
        words = cmd[2].split() if len(cmd) >= 3 and cmd[0].rsplit("/", 1)[-1] in ("sh", "bash", "ash") and cmd[1] == "-c" else list(cmd)
        prog = words[0].rsplit("/", 1)[-1] if words else ""
        if prog in ("cat", "test", "[", "ls", "stat", "head") and len(words) > 1:
            path = [w for w in words[1:] if w not in ("]",) and not w.startswith("-")][-1:] or [words[-1]]
            if self._file_exists(pr, run, path[0], t):
                return True, ""
            return False, {"cat": f"cat: can't open '{path[0]}': No such file or directory",
                           "head": f"head: {path[0]}: No such file or directory",
                           "ls": f"ls: {path[0]}: No such file or directory",
                           "stat": f"stat: can't stat '{path[0]}': No such file or directory"}.get(prog, "")
        if prog == "false":
            return False, ""
        return True, ""

    def _file_exists(self, pr: kubelet.PodRun, run: kubelet.Run, path: str, t: float) -> bool:
        """Whether ``path`` exists ``t`` seconds after the container started."""
        path = posixpath.normpath("/" + path)
        if run.changes is None:
            started = run.started or 0.0
            # the process's own touch/rm land a moment after their second (`sleep 30; rm ...` removes
            # the file just after the probe of second 30 has read it)
            changes = [(ft + 0.01, p, present) for ft, p, present in run.program.files]
            layer = self._layer(pr, run)
            if layer is not None:
                changes += [(at - started, p, content is not overlay.GONE) for at, p, content in layer.writes]
            run.changes = sorted(((ft, posixpath.normpath("/" + p), present) for ft, p, present in changes), key=lambda c: c[0])
        state = None
        for ft, p, present in run.changes:
            if ft > t + 1e-9:
                break
            if p == path or (not present and path.startswith(p.rstrip("/") + "/")):
                state = present
        if state is not None:
            return state
        if path not in run.base_files:
            run.base_files[path] = self._base_file(pr, run, path)
        return run.base_files[path]

    def _layer(self, pr: kubelet.PodRun, run: kubelet.Run):
        if not run.cid:
            return None
        pod = self.mgr.find("/pods", *pr.key)
        return overlay.layer(self.store, as_instance(pod, run), run.name) if pod is not None else None

    def _base_file(self, pr: kubelet.PodRun, run: kubelet.Run, path: str) -> bool:
        """A file of the image or a volume (``cat /etc/config/key``), as the userland builds it."""
        pod = self.mgr.find("/pods", *pr.key)
        try:
            return pod is not None and bool(userland_file_exists(self.store, pod, run.name, path, run.started or 0.0,
                                                                 started=run.started, program=Program()))
        except Exception:  # the userland cannot build this container: the file is not there
            return False

    def _readiness_failed(self, pr: kubelet.PodRun, run: kubelet.Run, t: float, message: str) -> None:
        """The kubelet's Unhealthy event for a failed readiness probe, once per probe made."""
        if run.probe_state.get("readiness_failed_at") == round(t, 3) or not message:
            return
        run.probe_state["readiness_failed_at"] = round(t, 3)
        pod = self.mgr.find("/pods", *pr.key)
        if pod is not None and pod["metadata"].get("uid") == pr.uid:
            self.mgr.recorder.record(pod, "Warning", "Unhealthy", f"Readiness probe failed: {message}", "kubelet",
                                     host=pr.node, field_path=f"spec.containers{{{run.name}}}")

    def record_unhealthy(self, pod: Obj, pr: kubelet.PodRun, run: kubelet.Run, now: float) -> float | None:
        """Record each failed liveness (or startup) probe as it happens (Unhealthy, before the kill
        that the liveness-kill stage records); when the next one is due."""
        kill = self.kill_at(pr, run)
        if kill is None or run.started is None:
            return None
        killer = run.plan.killer if run.plan is not None else "liveness"
        probe = run.spec[f"{killer}Probe"]
        limit = threshold(probe)
        period = _period(probe)
        first = kill - (limit - 1) * period
        template = next(ev for st in lifecycle().stages for ev in st.events if ev.get("repeat") is COUNTS["liveness-failures"])
        text = template["message"] if killer == "liveness" else template["message"].replace("Liveness probe", "Startup probe")
        while run.unhealthy < limit - 1 and run.started + first + run.unhealthy * period <= now + 1e-9:
            t = first + run.unhealthy * period
            message = text.format(probe=self.result(probe, pr, run, t)[1])
            self.mgr.recorder.record(pod, template["type"], template["reason"], message, "kubelet", host=pr.node,
                                     field_path=f"spec.containers{{{run.name}}}")
            run.unhealthy += 1
        return run.started + first + run.unhealthy * period if run.unhealthy < limit - 1 else None

    def kill_at(self, pr: kubelet.PodRun, run: kubelet.Run) -> float | None:
        """Seconds after start when the startup or liveness probe has failed failureThreshold times in a row."""
        return self.plan(pr, run).kill

    def plan(self, pr: kubelet.PodRun, run: kubelet.Run) -> Plan:
        """The probes' plan of this container instance (cached until a file it reads changes).

        A startup probe runs first; until it succeeds liveness and readiness are not probed, and
        if it fails failureThreshold times in a row the container is killed (kubernetes.io
        "Configure Liveness, Readiness and Startup Probes")."""
        if run.plan is None:
            run.plan = self._make_plan(pr, run)
        return run.plan

    def _make_plan(self, pr: kubelet.PodRun, run: kubelet.Run) -> Plan:
        end = min(run.program.runs_for if run.program.runs_for is not None else HORIZON, HORIZON)
        started: float | None = 0.0
        startup = run.spec.get("startupProbe")
        if startup:
            started, fails = None, 0
            for t in probe_times(startup, end):
                if self.result(startup, pr, run, t)[0]:
                    started = t
                    break
                fails += 1
                if fails >= threshold(startup):
                    return Plan(kill=t, killer="startup", started=None)
            if started is None:
                return Plan(started=None)
        probe = run.spec.get("livenessProbe")
        if not probe or not run.known:
            return Plan(started=started)
        fails = 0
        for t in probe_times(probe, end, after=started):
            ok, _ = self.result(probe, pr, run, t)
            fails = 0 if ok else fails + 1
            if fails >= threshold(probe):
                return Plan(kill=t, started=started)
        return Plan(started=started)

    def started(self, pr: kubelet.PodRun, run: kubelet.Run, now: float) -> tuple[bool, float | None]:
        """(the container counts as started now, when it will): its startup probe has succeeded."""
        if run.state not in ("Running", "Stopping") or run.started is None:
            return False, None
        if "startupProbe" not in run.spec:
            return True, None
        after = self.plan(pr, run).started
        if after is None:
            return False, None
        return now - run.started >= after - 1e-9, run.started + after

    def ready(self, pr: kubelet.PodRun, run: kubelet.Run, now: float) -> tuple[bool, float | None]:
        """(ready now, when readiness may change next) of a container: its readiness probe, if any."""
        if run.state != "Running" or run.started is None:
            return False, None
        started, when = self.started(pr, run, now)
        if not started:
            return False, when
        probe = run.spec.get("readinessProbe")
        if not probe:
            return True, None
        first = float(probe.get("initialDelaySeconds", 0) or 0)
        period = _period(probe)
        elapsed = now - run.started
        after = self.plan(pr, run).started or 0.0 if "startupProbe" in run.spec else 0.0
        if after > first:  # the first readiness probe after the startup probe succeeded
            first += -(-(after - first - 1e-9) // period) * period
        if elapsed < first - 1e-9:
            return False, run.started + first
        index = int((elapsed - first + 1e-9) // period)  # the probe made last (0: the first one)
        ready = self._readiness(probe, pr, run, first, period, index)
        # re-probed at every period: exec (files change) and httpGet (a real request each time: it
        # shows in the server's access log, and answers may change with age or at any time);
        # tcpSocket and grpc answers follow only the process, known ahead
        again = "exec" in probe or "httpGet" in probe
        return ready, (run.started + first + (index + 1) * period if again else None)

    def _readiness(self, probe: Obj, pr: kubelet.PodRun, run: kubelet.Run, first: float, period: float,
                   index: int) -> bool:
        """Ready after probe number `index`: a container starts not ready, becomes ready after
        successThreshold successes in a row and unready after failureThreshold failures in a row
        (the kubelet's results manager; defaults 1 and 3). The probes not yet counted are counted
        now, at most the last failureThreshold + successThreshold of them after a jump of the clock."""
        failures, successes = threshold(probe), int(probe.get("successThreshold", 1) or 1)
        seen, ready, streak = run.probe_state.get("readiness", (-1, False, 0))
        for k in range(max(seen + 1, index - failures - successes + 1), index + 1):
            t = first + k * period
            ok, message = self.result(probe, pr, run, t)
            if not ok:
                self._readiness_failed(pr, run, t, message)
            streak = streak + 1 if ok != ready else 0  # results in a row that disagree with the state
            if streak >= (successes if ok else failures):
                ready, streak = ok, 0
        if index > seen:
            run.probe_state["readiness"] = (index, ready, streak)
        return ready

