"""The DaemonSet controller: one pod on every node the pod template fits.

As the daemonset controller: a node is eligible when the template's nodeSelector / required
node affinity match and its NoSchedule/NoExecute taints are tolerated (DaemonSet pods also get
the not-ready/unreachable/pressure/unschedulable tolerations, added by ``pod_from_template``).
Pods are bound directly to their node (node affinity on ``metadata.name``), named
``<ds>-<5 chars>``, labelled ``controller-revision-hash`` and ``pod-template-generation``. A
template change is rolled out node by node (RollingUpdate, maxUnavailable 1): the outdated pod
is deleted, a new one created once it is gone. Status: desired/current/ready/available/updated.
Events: ``SuccessfulCreate`` "Created pod: NAME", ``SuccessfulDelete`` "Deleted pod: NAME".
"""
from __future__ import annotations

from typing import Any

from .. import naming
from ..objects import active, controller_of, daemon_pod, matches_affinity, pod_from_template, ready_since, template_hash, tolerates
from ..store import Event
from . import Controller

Obj = dict[str, Any]


class DaemonSetController(Controller):
    name = "daemonset-controller"
    watches = ("apps/daemonsets", "/pods", "/nodes")

    def start(self) -> None:
        for ds in self.mgr.list("apps/daemonsets"):
            self.enqueue((ds["metadata"]["namespace"], ds["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        obj = event.obj
        key = event.resource.key
        if key == "apps/daemonsets":
            if event.type != "DELETED":
                self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))
        elif key == "/nodes":
            if event.type in ("ADDED", "DELETED") or event.type == "MODIFIED":
                for ds in self.mgr.list("apps/daemonsets"):
                    self.enqueue((ds["metadata"]["namespace"], ds["metadata"]["name"]))
        else:
            ref = controller_of(obj)
            if ref and ref.get("kind") == "DaemonSet":
                self.enqueue((obj["metadata"]["namespace"], ref["name"]))

    def _eligible(self, ds: Obj, node: Obj) -> bool:
        probe = pod_from_template(ds, "probe", node["metadata"]["name"])
        spec = probe["spec"]
        if not matches_affinity(spec, node):
            return False
        return all(tolerates(spec.get("tolerations") or [], t) for t in node["spec"].get("taints") or []
                   if t.get("effect") in ("NoSchedule", "NoExecute") and t.get("key") not in (
                       "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"))

    def sync(self, key) -> None:
        namespace, name = key
        ds = self.mgr.find("apps/daemonsets", namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        generation = str(ds["metadata"].get("generation", 1))
        pods = self.mgr.index.owned(ds, "/pods")
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            by_node.setdefault(p["spec"].get("nodeName", ""), []).append(p)
        nodes = self.mgr.list("/nodes")
        desired = 0
        unavailable_budget = 1
        max_unavailable = ((ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", 1)
        if isinstance(max_unavailable, int):
            unavailable_budget = max(1, max_unavailable)
        rolling = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        unavailable_now = sum(1 for ps in by_node.values() for p in ps if active(p) and ready_since(p) is None)
        for node in nodes:
            nname = node["metadata"]["name"]
            here = [p for p in by_node.pop(nname, []) if active(p)]
            if not self._eligible(ds, node):
                for p in here:
                    self._delete(ds, p)
                continue
            desired += 1
            if not here:
                if not any(p["spec"].get("nodeName") == nname for p in pods):  # wait for a terminating one
                    self._create(ds, nname, generation)
                continue
            for extra in here[1:]:
                self._delete(ds, extra)
            current = here[0]
            outdated = (current["metadata"].get("labels") or {}).get("pod-template-generation") != generation
            if outdated and rolling and unavailable_now < unavailable_budget:
                self._delete(ds, current)
                unavailable_now += 1
        for leftovers in by_node.values():  # pods on nodes that are gone
            for p in leftovers:
                if active(p):
                    self._delete(ds, p)
        self._status(ds, desired, generation)

    def _create(self, ds: Obj, node: str, generation: str) -> None:
        revision = template_hash(ds["spec"]["template"])
        name = naming.generated(ds["metadata"]["name"], self.mgr.suffix("pod/" + ds["metadata"]["uid"]))
        pod = daemon_pod(ds, name, node, revision, generation)
        self.mgr.create("/pods", pod)
        self.mgr.recorder.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {name}", "daemonset-controller")

    def _delete(self, ds: Obj, pod: Obj) -> None:
        self.mgr.delete("/pods", pod)
        self.mgr.recorder.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                 "daemonset-controller")

    def _status(self, ds: Obj, desired: int, generation: str) -> None:
        pods = [p for p in self.mgr.index.owned(ds, "/pods") if active(p)]
        ready = sum(1 for p in pods if ready_since(p) is not None)
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get("pod-template-generation") == generation)
        status = {"currentNumberScheduled": len(pods), "desiredNumberScheduled": desired, "numberAvailable": ready,
                  "numberMisscheduled": 0, "numberReady": ready, "observedGeneration": ds["metadata"].get("generation", 1),
                  "updatedNumberScheduled": updated}
        if desired - ready > 0:
            status["numberUnavailable"] = desired - ready

        def put(obj: Obj) -> Obj | None:
            if obj.get("status") == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("apps/daemonsets", ds["metadata"]["namespace"], ds["metadata"]["name"], put, shallow=True)
