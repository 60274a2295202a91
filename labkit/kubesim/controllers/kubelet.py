"""The kubelets of all nodes: run bound pods through their lifecycle and report pod status.

The rules (which state follows which, after how long, with which events) are data:
``data/lifecycle.yaml``, loaded by ``stages.py`` with its named predicates, delays and effects
(start a container, record an exit, count a restart, the back-off). This module runs them, and
derives the pod status from the container states (phase, conditions, container statuses, IPs), as the kubelet
writes them. What each process does (exit code, logs, files for exec probes, ports for HTTP and
TCP probes) comes from ``programs.py``; which images exist and how long a pull takes from
``images.py``. Two jobs it asks others: ``probes.py`` (what the startup, liveness and readiness
probes answer and when: kills, started, ready, Unhealthy events) and ``podconfig.py`` (what the
container's config lets start: missing ConfigMaps, Secrets and keys; the process with its
environment).

Why one object for all nodes: each pod is handled by the kubelet of its node; a stopped node's
kubelet does nothing (its pods keep their last status, as when a real node loses power) until
the node starts again.
"""
from __future__ import annotations

import dataclasses

import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import addresses, images, requestlog
from ..clock import stamp
from ..objects import image_id
from ..programs import Program, simulate
from ..store import Event
from . import Controller
from ..stages import COUNTS, Stage, lifecycle
from . import podconfig, probes

try:  # the container's userland (issue 13): ConfigMap/Secret versions, what a shell wrote
    from .. import userland
    from ..userland import overlay
except ImportError:  # pragma: no cover - depends on the tree
    userland = overlay = None

Obj = dict[str, Any]
SANDBOX_RETRY = 10.0   # the kubelet's pod worker back-off after a failed sync
PER_POD = COUNTS["per-pod"]


@dataclass
class Run:
    """One container as the kubelet tracks it."""

    spec: Obj
    info: images.ImageInfo
    program: Program
    known: bool                     # we know what the process does (probes can fail)
    state: str = "New"
    since: float = 0.0
    started: float | None = None
    restarts: int = 0
    ever_started: bool = False
    exit_code: int = 0
    reason: str = ""
    finished: float | None = None
    last: Obj | None = None
    backoff: float | None = None
    cid: str = ""
    error: str = ""
    mount_backoff: float | None = None      # the volume manager's retry (FailedMount)
    ended: tuple[float, int] | None = None  # (when, exit code): the attached shell exited (process_ended)
    plan: probes.Plan | None = None         # the probes' plan (kill, started), until a file changes
    unhealthy: int = 0                       # Unhealthy events recorded for this instance
    changes: list[tuple[float, str, bool]] | None = None   # file changes since start (timeline, shells)
    base_files: dict[str, bool] = field(default_factory=dict)  # image and volume files, at start
    # what the probes counted for this instance (readiness streaks, answers asked): a restarted
    # container is a new instance, not ready until its own readiness probes say so
    probe_state: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec["name"]


@dataclass
class PodRun:
    uid: str
    node: str
    host_ip: str
    ip: str
    start: float
    runs: list[Run] = field(default_factory=list)
    adopted: bool = False
    terminating_since: float | None = None   # when this kubelet saw the deletion
    sandbox_error: str = ""                  # the CNI could not give the pod an IP: nothing starts
    key: tuple[str, str] = ("", "")          # (namespace, name)


def _when(t: float) -> str:
    return stamp(datetime.fromtimestamp(t, timezone.utc))


class Kubelet(Controller):
    name = "kubelet"
    watches = ("/pods", "/nodes")

    def __init__(self, mgr):
        super().__init__(mgr)
        self.pods: dict[str, PodRun] = {}
        self.node_images: dict[str, set[str]] = {}
        self.ip_used: dict[str, set[str]] = {}
        self.ip_last: dict[str, int] = {}    # node -> host number of the pod IP it gave last (host-local)
        self.stopped: set[str] = set()
        self.loaded_images: set[str] = set()
        self.pushed: set[str] = set()   # Artifact Registry references pushed to the rehearsal (push_image)
        self.probes = probes.Prober(mgr)   # startup, liveness and readiness probes (probes.py)

    # ---- start-up: adopt what the kind state says is already running -----------------
    def start(self) -> None:
        _KUBELETS[self.store] = self
        if userland is not None:
            # record ConfigMap/Secret versions from now on: the first update of a volume's source is
            # seen late (the kubelet's sync delay) even if no shell has looked at the container yet
            userland.track(self.store)
        if overlay is not None:   # a shell changed a container's files: re-plan its exec probes
            me = weakref.ref(self)

            def changed(namespace: str, pod: str, container: str) -> None:
                kubelet = me()
                if kubelet is not None:
                    kubelet._files_changed(namespace, pod, container)
            overlay.on_overlay_change(changed)
        for node in self.mgr.list("/nodes"):
            name = node["metadata"]["name"]
            self.node_images[name] = {n for img in (node.get("status") or {}).get("images") or [] for n in img.get("names", [])}
            self.ip_used.setdefault(name, set())
        for pod in self.mgr.list("/pods"):
            status = pod.get("status") or {}
            node = (pod.get("spec") or {}).get("nodeName")
            if status.get("podIP") and node:
                self.ip_used.setdefault(node, set()).add(status["podIP"])
            if node and status.get("phase") == "Running":
                self._adopt(pod)
            elif node:
                self.enqueue(_key(pod))

    def _adopt(self, pod: Obj) -> None:
        status = pod["status"]
        start = _ts(status.get("startTime")) or self.mgr.now()
        pr = PodRun(pod["metadata"]["uid"], pod["spec"]["nodeName"], status.get("hostIP", ""), status.get("podIP", ""), start,
                    adopted=True, key=_key(pod))
        for c, cs in zip(pod["spec"].get("containers") or [], status.get("containerStatuses") or []):
            info = self.image_info(c.get("image", ""))
            run = Run(c, info, Program(runs_for=None, logs=[(0.0, line) for line in info.logs]), known=False,
                      state="Running", since=start, started=start, ever_started=True,
                      restarts=cs.get("restartCount", 0), cid=(cs.get("containerID") or "").split("//")[-1])
            pr.runs.append(run)
        self.pods[pr.uid] = pr

    # ---- events -----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        obj = event.obj
        if event.resource.key == "/nodes":
            return
        uid = obj["metadata"].get("uid")
        if event.type == "DELETED":
            pr = self.pods.pop(uid, None)
            if pr is not None and pr.ip and pr.ip != pr.host_ip:
                self.ip_used.get(pr.node, set()).discard(pr.ip)
            return
        if (obj.get("spec") or {}).get("nodeName"):
            pr = self.pods.get(uid)
            if pr is None or obj["metadata"].get("deletionTimestamp"):
                self.enqueue(_key(obj))

    def node_stopped(self, node: str) -> None:
        self.stopped.add(node)

    def node_started(self, node: str) -> None:
        self.stopped.discard(node)
        for pod in self.mgr.list("/pods"):
            if (pod.get("spec") or {}).get("nodeName") == node:
                self.enqueue(_key(pod))

    def image_info(self, image: str) -> images.ImageInfo:
        """The catalogue's answer for ``image``, where an Artifact Registry reference exists once pushed."""
        info = images.lookup(image)
        if not info.exists and info.ref in self.pushed:
            return dataclasses.replace(info, exists=True, error="")
        return info

    def push_image(self, image: str) -> str:
        """Put an image in the cluster's Artifact Registry, as ``docker push`` does; returns its reference."""
        if not images.pushable(image):
            raise ValueError(f"{image!r} is not an image the rehearsal can push: it takes "
                             "REGION-docker.pkg.dev/PROJECT/REPOSITORY/course-webapp:TAG (the course's own image)")
        ref = images.lookup(image).ref
        self.pushed.add(ref)
        return ref

    def load_image(self, image: str) -> None:
        """Put an image on every node, as ``kind load docker-image`` does."""
        self.loaded_images.add(images.lookup(image).ref)
        self.loaded_images.add(image)

    # ---- the loop -----------------------------------------------------------------------
    def sync(self, key) -> None:
        namespace, name = key
        pod = self.mgr.find("/pods", namespace, name)
        if pod is None:
            return
        node = pod["spec"].get("nodeName")
        if not node or node in self.stopped or self.mgr.find("/nodes", "", node) is None:
            return
        now = self.mgr.now()
        uid = pod["metadata"]["uid"]
        pr = self.pods.get(uid)
        if pr is None:
            pr = self._accept(pod, node, now)
        elif pr.sandbox_error and not pod["metadata"].get("deletionTimestamp"):
            self._retry_sandbox(pod, pr)
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        if terminating and pr.terminating_since is None:
            pr.terminating_since = now
        if pr.adopted and terminating:
            pr.adopted = False  # a system pod being deleted goes through the stop stages like any other
        if not pr.adopted and (terminating or not pr.sandbox_error):
            for run in pr.runs:
                self._step(pod, pr, run, now, terminating)
                if run.state == "Running" and not terminating and probes.probed(run):
                    self.probes.record_unhealthy(pod, pr, run, now)
        if terminating and all(r.state in ("Stopped", "Exited") for r in pr.runs):
            self.mgr.api.finalize_pod(pod)
            return
        if pr.adopted:
            return
        self._write_status(pod, pr, now)
        due = self._next_due(pod, pr, now, terminating)
        if pr.sandbox_error and not terminating:
            due = now + SANDBOX_RETRY  # the pod worker tries again after its back-off
        if due is not None:
            self.mgr.at(due, self, key)

    def _accept(self, pod: Obj, node: str, now: float) -> PodRun:
        node_obj = self.mgr.find("/nodes", "", node) or {}
        host_ip = next((a["address"] for a in (node_obj.get("status") or {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), "")
        ip = host_ip if pod["spec"].get("hostNetwork") else self._allocate_ip(node_obj, node)
        pr = PodRun(pod["metadata"]["uid"], node, host_ip, ip or "", now, key=_key(pod))
        env = {"HOSTNAME": pod["metadata"]["name"]}
        for c in pod["spec"].get("containers") or []:
            info = self.image_info(c.get("image", ""))
            cenv = dict(env, **{e["name"]: str(e.get("value", "")) for e in c.get("env") or [] if "name" in e})
            program = simulate(info, c.get("command"), c.get("args"), cenv, stdin=bool(c.get("stdin")))
            known = info.exists or info.preloaded or bool(c.get("command") or c.get("args"))
            pr.runs.append(Run(c, info, program, known=known, since=now))
        self.pods[pr.uid] = pr
        if ip is None:
            self._sandbox_failed(pod, pr, (node_obj.get("spec") or {}).get("podCIDR"))
        return pr

    def _allocate_ip(self, node_obj: Obj, node: str) -> str | None:
        """The next free IP of the node's pod CIDR (host-local's rule), or None: no CIDR, or none free."""
        used = self.ip_used.setdefault(node, set())
        got = addresses.next_pod_ip((node_obj.get("spec") or {}).get("podCIDR"), used,
                                    self.ip_last.get(node, addresses.FIRST_POD_HOST - 1))
        if got is None:
            return None
        ip, host = got
        used.add(ip)
        self.ip_last[node] = host
        return ip

    def _sandbox_failed(self, pod: Obj, pr: PodRun, cidr: str | None) -> None:
        """No IP for the pod: its sandbox is not created, its containers wait in ContainerCreating,
        and the kubelet records FailedCreatePodSandBox (again at each retry: the count grows)."""
        sandbox = hashlib.sha256(f"{pr.uid}/sandbox".encode()).hexdigest()
        pr.sandbox_error = addresses.sandbox_error(cidr, sandbox)
        self.mgr.recorder.record(pod, "Warning", "FailedCreatePodSandBox", pr.sandbox_error, "kubelet", host=pr.node)

    def _retry_sandbox(self, pod: Obj, pr: PodRun) -> None:
        node_obj = self.mgr.find("/nodes", "", pr.node) or {}
        ip = self._allocate_ip(node_obj, pr.node)
        if ip is None:
            self._sandbox_failed(pod, pr, (node_obj.get("spec") or {}).get("podCIDR"))
            return
        pr.ip, pr.sandbox_error = ip, ""
        for run in pr.runs:
            run.since = self.mgr.now()

    # ---- stages (data/lifecycle.yaml; the named rules are in stages.py) ----------------
    def _pull_time(self, pr: PodRun, run: Run) -> float:
        """A registry pull; much faster when the node already has the layers (a re-pull of the same image)."""
        if run.info.ref in self.node_images.get(pr.node, set()):
            return images.data()["pull"]["fixedSeconds"]
        return images.pull_seconds(run.info)

    def _stage(self, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> Stage | None:
        for stage in lifecycle().by_state.get(run.state, ()):
            if stage.applies(self, pod, pr, run, terminating):
                return stage
        return None

    def _step(self, pod: Obj, pr: PodRun, run: Run, now: float, terminating: bool) -> None:
        for _ in range(50):
            stage = self._stage(pod, pr, run, terminating)
            if stage is None:
                return
            due = self._due(stage, pod, pr, run)
            if due > now + 1e-9:
                return
            self._apply(stage, pod, pr, run, due)

    def _due(self, stage: Stage, pod: Obj, pr: PodRun, run: Run) -> float:
        """When a stage fires: its delay counts from entering the state, or from the deletion for
        stages that react to it (a container running for an hour stops 0.5 s after the delete)."""
        start = run.since
        if stage.on_deletion and pr.terminating_since is not None:
            start = max(start, pr.terminating_since)
        return start + stage.seconds(self, pod, pr, run)

    def _apply(self, stage: Stage, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
        ctx = {"image": run.spec.get("image", ""), "container": run.name, "pod": pod["metadata"]["name"],
               "namespace": pod["metadata"]["namespace"], "uid": pod["metadata"]["uid"],
               "pull": _duration(self._pull_time(pr, run)), "size": run.info.size, "error": run.info.error,
               "probe": "", "exit_code": run.exit_code}
        killer = self.probes.plan(pr, run).killer if stage.probe_message else "liveness"
        if stage.probe_message:
            ctx["probe"] = self.probes.result(run.spec.get(f"{killer}Probe") or {}, pr, run, (at - (run.started or at)))[1]
        if stage.to == "Running" and run.state != "Running":
            run.program = self.program_at_start(pod, run, at)
        if stage.config_message:
            ctx["config_error"] = next(iter(self.env_errors(pod, run)), "")
        for effect in stage.effects:
            effect(self, pod, pr, run, at)
        run.state = stage.to
        run.since = at
        field_path = f"spec.containers{{{run.name}}}"
        for ev in stage.events:
            count = ev["repeat"](pr, run) if "repeat" in ev else 1
            path = None if ev.get("repeat") is PER_POD else field_path
            messages = ([m for _, m in self.mount_errors(pod)] if "{mount_error}" in ev["message"]
                        else [ev["message"].format(**ctx)])
            if killer == "startup":  # the liveness-kill stage, fired by the startup probe: the kubelet's wording for it
                messages = [m.replace("Liveness probe", "Startup probe").replace("liveness probe", "startup probe") for m in messages]
                if ev.get("repeat") is COUNTS["liveness-failures"]:
                    count = max(0, probes.threshold(run.spec["startupProbe"]) - run.unhealthy)
            for message in messages:
                for _ in range(count):
                    self.mgr.recorder.record(pod, ev["type"], ev["reason"], message, "kubelet", host=pr.node, field_path=path)

    # ---- status -------------------------------------------------------------------------------
    def _container_status(self, pr: PodRun, run: Run, now: float) -> tuple[Obj, bool]:
        states = lifecycle().states
        info = states.get(run.state, {})
        ready, _ = self.probes.ready(pr, run, now)
        cs: Obj = {"image": run.spec.get("image", ""), "imageID": image_id(run.spec.get("image", "")) if run.ever_started else "",
                   "lastState": {}, "name": run.name, "ready": ready, "restartCount": run.restarts,
                   "started": self.probes.started(pr, run, now)[0]}
        if run.cid and run.ever_started:
            cs["containerID"] = f"containerd://{run.cid}"
        if info.get("running"):
            cs["state"] = {"running": {"startedAt": _when(run.started or now)}}
        elif info.get("terminated") and run.finished is not None:
            cs["state"] = dict(run.last or {})
        else:
            reason = info.get("waiting", "ContainerCreating")
            waiting: Obj = {"reason": reason}
            if reason == "ErrImagePull":
                waiting["message"] = run.error
            elif reason == "ImagePullBackOff":
                waiting["message"] = f'Back-off pulling image "{run.spec.get("image")}": ErrImagePull: {run.error}'
            elif reason == "CreateContainerConfigError":
                waiting["message"] = run.error
            elif reason == "CrashLoopBackOff":
                waiting["message"] = (f"back-off {int(run.backoff or 10)}s restarting failed container={run.name} "
                                      f"pod={{pod}}")
            cs["state"] = {"waiting": waiting}
        if run.last and run.state not in ("Exited", "Stopped"):
            cs["lastState"] = dict(run.last)
        return cs, ready

    def _write_status(self, pod: Obj, pr: PodRun, now: float) -> None:
        statuses = []
        all_ready = True
        for run in pr.runs:
            cs, ready = self._container_status(pr, run, now)
            w = (cs["state"].get("waiting") or {})
            if "message" in w and "{pod}" in w["message"]:
                w["message"] = w["message"].replace("{pod}", f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pr.uid})")
            statuses.append(cs)
            all_ready = all_ready and ready
        policy = pod["spec"].get("restartPolicy", "Always")
        done = [r.state == "Exited" and not (policy == "Always" or (policy == "OnFailure" and r.exit_code != 0))
                for r in pr.runs]
        if pr.runs and all(done):
            phase = "Succeeded" if all(r.exit_code == 0 for r in pr.runs) else "Failed"
        elif pr.runs and all(r.ever_started for r in pr.runs):
            phase = "Running"
        else:
            phase = "Pending"
        old = pod.get("status") or {}
        old_conds = {c.get("type"): c for c in old.get("conditions") or []}
        stamp_now = _when(now)

        def cond(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
            prev = old_conds.get(type_)
            status = "True" if ok else "False"
            c: Obj = {"type": type_, "status": status, "lastProbeTime": None,
                      "lastTransitionTime": prev["lastTransitionTime"] if prev and prev.get("status") == status else stamp_now}
            if not ok and reason:
                c["reason"] = reason
                if message:
                    c["message"] = message
            return c
        unready = [r.name for r, cs in zip(pr.runs, statuses) if not cs["ready"]]
        if phase == "Succeeded" or phase == "Failed":
            ready_reason, msg = "PodCompleted", ""
            all_ready = False
        else:
            ready_reason, msg = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
        sandbox = phase not in ("Succeeded", "Failed") and not pr.sandbox_error
        conditions = [cond("PodReadyToStartContainers", sandbox), cond("Initialized", True),
                      cond("Ready", all_ready, ready_reason, msg), cond("ContainersReady", all_ready, ready_reason, msg),
                      cond("PodScheduled", True)]
        status: Obj = {"conditions": conditions, "containerStatuses": statuses, "hostIP": pr.host_ip,
                       "hostIPs": [{"ip": pr.host_ip}] if pr.host_ip else [], "phase": phase,
                       "qosClass": old.get("qosClass", "BestEffort"), "startTime": _when(pr.start)}
        if pr.ip:
            status["podIP"] = pr.ip
            status["podIPs"] = [{"ip": pr.ip}]
        if old == status:
            return

        def put(p: Obj) -> Obj | None:
            if p["metadata"].get("uid") != pr.uid:
                return None
            p["status"] = status
            return p
        self.mgr.mutate("/pods", pod["metadata"]["namespace"], pod["metadata"]["name"], put, shallow=True)

    def _next_due(self, pod: Obj, pr: PodRun, now: float, terminating: bool) -> float | None:
        due: list[float] = []
        for run in pr.runs:
            stage = self._stage(pod, pr, run, terminating)
            if stage is not None:
                due.append(self._due(stage, pod, pr, run))
            _, nxt = self.probes.ready(pr, run, now)
            if nxt is not None and nxt > now:
                due.append(nxt)
            if run.state == "Running" and not terminating and probes.probed(run):
                nxt = self.probes.record_unhealthy(pod, pr, run, now)
                if nxt is not None and nxt > now:
                    due.append(nxt)
        return min(due) if due else None

    # ---- the container's config (userland builds it; the kubelet refuses to start without it)
    def program_at_start(self, pod: Obj, run: Run, at: float) -> Program:
        """The process as the runtime starts it (``$(VAR)`` expanded, the kubelet's environment)."""
        return podconfig.program_at_start(self.store, pod, run.spec, run.info, run.program, at)

    def run_oneshot(self, pod: Obj, run: Run, at: float) -> None:
        """A one-shot command (``-- nslookup kubernetes.default``) as the container's process."""
        podconfig.run_oneshot(self.store, pod, run.name, run.program, at)

    def env_errors(self, pod: Obj, run: Run) -> list[str]:
        """Why the container's environment cannot be built (CreateContainerConfigError messages)."""
        return podconfig.env_errors(self.store, pod, run.spec)

    def mount_errors(self, pod: Obj) -> list[tuple[str, str]]:
        """(volume, FailedMount message) of each volume that cannot be set up now."""
        return podconfig.mount_errors(self.store, pod)

    # ---- for the streaming side (attach) and the userland ----------------------------------
    def process_ended(self, namespace: str, pod: str, container: str, exit_code: int) -> None:
        """The container's process (the attached interactive shell of a ``stdin: true`` container)
        exited with ``exit_code`` now: the container terminates, and its restart policy applies
        (``kubectl run -it --rm --restart=Never`` then sees the pod complete)."""
        obj = self.mgr.find("/pods", namespace, pod)
        pr = self.pods.get(obj["metadata"].get("uid")) if obj else None
        run = next((r for r in pr.runs if r.name == container), None) if pr else None
        if run is None or run.state != "Running" or run.ended is not None:
            return
        run.ended = (max(self.mgr.now(), run.since), int(exit_code))
        self.enqueue((namespace, pod))

    def _files_changed(self, namespace: str, name: str, container: str) -> None:
        """A shell wrote to the container: its probe plan is stale; sync the pod now."""
        with self.mgr.lock:
            pod = self.mgr.find("/pods", namespace, name)
            pr = self.pods.get(pod["metadata"].get("uid")) if pod else None
            for run in pr.runs if pr else ():
                if run.name == container:
                    self.probes.forget(run)
            if pr is not None:
                self.mgr.at(self.mgr.now(), self, (namespace, name))

    def container_started_at(self, pod: Obj, container: str) -> float | None:
        """When the container's current process started (sim clock, seconds since the epoch);
        None if it has not started (or the pod is not this kubelet's)."""
        uid = pod.get("metadata", {}).get("uid") if isinstance(pod, dict) else pod
        pr = self.pods.get(uid)
        run = next((r for r in pr.runs if r.name == container), None) if pr else None
        return run.started if run is not None else None

    # ---- logs -------------------------------------------------------------------------------
    def logs(self, pod: Obj, container: str) -> str | None:
        pr = self.pods.get(pod["metadata"].get("uid"))
        if pr is None or pr.adopted:
            return None
        run = next((r for r in pr.runs if r.name == container), None)
        if run is None or run.started is None:
            return None
        end = (run.finished if run.finished is not None and run.state != "Running" else self.mgr.now()) - run.started
        date = datetime.fromtimestamp(run.started, timezone.utc)
        marks = {"{date}": date.strftime("%a %b %d %H:%M:%S UTC %Y"),
                 "{isodate}": date.strftime("%Y-%m-%dT%H:%M:%S.") + f"{date.microsecond // 1000:03d}Z",
                 "{godate}": date.strftime("%Y/%m/%d %H:%M:%S"), "{hostname}": pod["metadata"]["name"]}
        lines = []
        for line in run.program.lines(end):
            if "{" in line:
                for mark, value in marks.items():
                    line = line.replace(mark, value)
            lines.append(line)
        until = run.finished if run.finished is not None and run.state != "Running" else None
        lines += requestlog.lines_since(self.store, pr.uid, container, run.started, until)  # its access log
        return "".join(line + "\n" for line in lines)


_KUBELETS: "weakref.WeakKeyDictionary[Any, Kubelet]" = weakref.WeakKeyDictionary()


def started_at(store: Any, pod: Obj, container: str) -> float | None:
    """When the container's current process started, to the fraction of a second (the status'
    ``startedAt`` has whole seconds): for servers whose answers depend on their age. None when no
    kubelet of ``store`` runs it."""
    kubelet = _KUBELETS.get(store)
    return kubelet.container_started_at(pod, container) if kubelet is not None else None


def _key(pod: Obj) -> tuple[str, str]:
    return (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    from ..clock import parse
    return parse(text).timestamp()


def _duration(seconds: float) -> str:
    """Go's time.Duration printing, as the Pulled event shows it (``1.234s``, ``512ms``)."""
    if seconds < 1:
        return f"{int(round(seconds * 1000))}ms"
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


lifecycle()  # load and check data/lifecycle.yaml at import: a misspelt name fails now, not mid-lesson
