"""The ReplicaSet controller: keep ``spec.replicas`` active pods, report what they are doing.

As kube-controller-manager's replicaset controller: pods are named ``<rs>-<5 random chars>``;
surplus pods are deleted in the documented order (unscheduled before scheduled, pending before
running, not ready before ready, more restarts first, newest first); status counts replicas,
fully labelled, ready and available (ready for ``minReadySeconds``) pods. Events:
``SuccessfulCreate`` "Created pod: NAME" and ``SuccessfulDelete`` "Deleted pod: NAME".
"""
from __future__ import annotations

from typing import Any

from .. import naming
from ..objects import active, controller_of, pod_from_template, ready_since
from ..store import Event
from . import Controller

Obj = dict[str, Any]


def available(pod: Obj, min_ready: int, now: float) -> bool:
    since = ready_since(pod)
    return since is not None and (min_ready <= 0 or since + min_ready <= now)


def deletion_rank(pod: Obj) -> tuple:
    """Lower sorts first = deleted first (controller.ActivePods ordering, simplified)."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    since = ready_since(pod)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = pod["metadata"].get("creationTimestamp", "")
    return (1 if pod["spec"].get("nodeName") else 0, phase_rank, 0 if since is None else 1,
            -(since or 0), -restarts, _neg(created), pod["metadata"]["name"])


def _neg(text: str) -> tuple:
    return tuple(-ord(ch) for ch in text)


class ReplicaSetController(Controller):
    """Why counters: a ReplicaSet is re-synced after every change of any of its pods; recounting
    thousands of pods each time would make one pod's change O(pods). Counts (active, ready,
    terminating) are kept per ReplicaSet from pod events; pods are listed only to create or delete."""

    name = "replicaset-controller"
    watches = ("apps/replicasets", "/pods")

    def __init__(self, mgr):
        super().__init__(mgr)
        self.pod_state: dict[tuple[str, str], tuple[str, tuple[int, int, int]]] = {}
        self.totals: dict[str, list[int]] = {}

    def start(self) -> None:
        for pod in self.mgr.list("/pods"):
            self._count(pod, False)
        for rs in self.mgr.list("apps/replicasets"):
            self.enqueue((rs["metadata"]["namespace"], rs["metadata"]["name"]))

    def _count(self, pod: Obj, gone: bool) -> None:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        old = self.pod_state.pop(key, None)
        if old is not None:
            t = self.totals.setdefault(old[0], [0, 0, 0])
            for i, v in enumerate(old[1]):
                t[i] -= v
        ref = controller_of(pod)
        if gone or not ref or ref.get("kind") != "ReplicaSet":
            return
        live = active(pod)
        row = (1 if live else 0, 1 if live and ready_since(pod) is not None else 0,
               1 if pod["metadata"].get("deletionTimestamp") else 0)
        self.pod_state[key] = (ref.get("uid", ""), row)
        t = self.totals.setdefault(ref.get("uid", ""), [0, 0, 0])
        for i, v in enumerate(row):
            t[i] += v

    def on_event(self, event: Event) -> None:
        obj = event.obj
        if event.resource.key == "apps/replicasets":
            if event.type != "DELETED":
                self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))
            else:
                self.totals.pop(obj["metadata"].get("uid", ""), None)
            return
        self._count(obj, event.type == "DELETED")
        ref = controller_of(obj)
        if ref and ref.get("kind") == "ReplicaSet":
            self.enqueue((obj["metadata"]["namespace"], ref["name"]))

    def sync(self, key) -> None:
        namespace, name = key
        rs = self.mgr.find("apps/replicasets", namespace, name)
        if rs is None:
            return
        counts = self.totals.get(rs["metadata"]["uid"], [0, 0, 0])
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        created = deleted = 0
        if not rs["metadata"].get("deletionTimestamp") and counts[0] < want:
            for _ in range(want - counts[0]):
                self._create_pod(rs)
                created += 1
        elif not rs["metadata"].get("deletionTimestamp") and counts[0] > want:
            live = [p for p in self.mgr.index.owned(rs, "/pods") if active(p)]
            if len(live) > want:
                for pod in sorted(live, key=deletion_rank)[:len(live) - want]:
                    self.mgr.delete("/pods", pod)
                    deleted += 1
                    self.mgr.recorder.record(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                             "replicaset-controller")
        self._status(rs, counts, created, deleted)

    def _create_pod(self, rs: Obj) -> Obj:
        base = rs["metadata"]["name"]
        while True:
            name = naming.generated(base, self.mgr.suffix("pod/" + rs["metadata"]["uid"]))
            if self.mgr.find("/pods", rs["metadata"]["namespace"], name) is None:
                break
        pod = pod_from_template(rs, name, None)
        made = self.mgr.create("/pods", pod)
        self.mgr.recorder.record(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}", "replicaset-controller")
        return made

    def _status(self, rs: Obj, counts: list[int], created: int, deleted: int) -> None:
        now = self.mgr.now()
        min_ready = int(rs["spec"].get("minReadySeconds", 0) or 0)
        live_count, ready, terminating = counts
        avail = ready
        if min_ready > 0 and ready:
            live = [p for p in self.mgr.index.owned(rs, "/pods") if active(p)]
            avail = sum(1 for p in live if available(p, min_ready, now))
            pending = [ready_since(p) for p in live if ready_since(p) is not None and not available(p, min_ready, now)]
            if pending:
                self.after(max(0.0, min(pending) + min_ready - now), (rs["metadata"]["namespace"], rs["metadata"]["name"]))
        replicas = live_count + created - deleted
        status = {"availableReplicas": avail, "fullyLabeledReplicas": replicas,
                  "observedGeneration": rs["metadata"].get("generation", 1), "readyReplicas": ready,
                  "replicas": replicas, "terminatingReplicas": terminating}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}

        def put(obj: Obj) -> Obj | None:
            if (obj.get("status") or {}) == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], put, shallow=True)
