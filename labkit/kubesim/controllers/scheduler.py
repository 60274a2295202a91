"""The scheduler: binds pending pods to nodes as kube-scheduler's default profile would.

Filters, in the default plugin order (the first that rejects a node gives that node's reason):
NodeUnschedulable, TaintToleration (NoSchedule/NoExecute taints), NodeAffinity (nodeSelector and
required node affinity), NodePorts (hostPort), NodeResourcesFit (requests against allocatable, and
110 pods per node), then PodTopologySpread and InterPodAffinity (``topology.py``: a pod's topology
spread constraints and pod (anti-)affinity, and the required anti-affinity of pods already placed).
Scoring prefers what those two plugins score (ScheduleAnyway skew, preferred (anti-)affinity), then
the node with the fewest pods of the same owner (the default topology spreading), then the least
requested CPU and memory (LeastAllocated), and breaks ties with a seeded choice, as the scheduler
picks at random among equal nodes.

A pod that fits nowhere stays Pending with ``PodScheduled=False`` / ``Unschedulable`` and a
``FailedScheduling`` event worded as kube-scheduler's FitError (reasons counted and sorted, then
the preemption summary). It is retried when nodes change or pods go away, and every 5 minutes.

Why an in-memory node table: per pod the work is O(nodes), not O(pods); the table is kept up to
date from pod events (see ``bench/kubesim`` for the figures).
"""
from __future__ import annotations

import collections
from typing import Any

from .. import quantity
from ..selectors import parse_labels
from ..store import Event
from ..objects import label_match, matches_affinity, tolerates
from . import Controller
from . import topology

Obj = dict[str, Any]
RETRY_SECONDS = 300
UNRESOLVABLE = ("node(s) were unschedulable", "node(s) had untolerated taint", "node(s) didn't match Pod's node affinity/selector")


class Scheduler(Controller):
    name = "default-scheduler"
    watches = ("/pods", "/nodes")

    def __init__(self, mgr):
        super().__init__(mgr)
        self.assigned: dict[tuple[str, str], tuple[str, int, int, str, tuple[int, ...]]] = {}
        self.used: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0])  # cpu m, memory, pods
        self.owner_count: dict[tuple[str, str], int] = collections.defaultdict(int)
        self.ports: dict[str, set[int]] = collections.defaultdict(set)
        self.unschedulable: dict[tuple[str, str], None] = {}
        self.anti_affine: set[tuple[str, str]] = set()  # placed pods with a required anti-affinity (topology.py)
        self._alloc: dict[str, tuple[str, int, int, int]] = {}  # node -> (resourceVersion, cpu m, memory, pods)

    def _allocatable(self, node: Obj) -> tuple[int, int, int]:
        """A node's allocatable cpu (m), memory (bytes) and pods, parsed once per node version."""
        name, rv = node["metadata"]["name"], node["metadata"].get("resourceVersion", "")
        cached = self._alloc.get(name)
        if cached is None or cached[0] != rv:
            alloc = (node.get("status") or {}).get("allocatable") or {}
            cached = (rv, quantity.milli(alloc.get("cpu", "0")), quantity.milli(alloc.get("memory", "0")) // 1000,
                      int(alloc.get("pods", "110")))
            self._alloc[name] = cached
        return cached[1], cached[2], cached[3]

    def start(self) -> None:
        for pod in self.mgr.list("/pods"):
            self._account(pod)
            if self._wants(pod):
                self.enqueue((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    @staticmethod
    def _wants(pod: Obj) -> bool:
        spec = pod.get("spec") or {}
        return (not spec.get("nodeName") and not pod["metadata"].get("deletionTimestamp")
                and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
                and not spec.get("schedulingGates"))

    def _account(self, pod: Obj, gone: bool = False) -> None:
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self.assigned.pop(key, None)
        self.anti_affine.discard(key)
        if old is not None:
            node, cpu, mem, owner, ports = old
            u = self.used[node]
            u[0] -= cpu
            u[1] -= mem
            u[2] -= 1
            self.owner_count[(owner, node)] -= 1
            self.ports[node].difference_update(ports)
        spec = pod.get("spec") or {}
        node = spec.get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if gone or not node or phase in ("Succeeded", "Failed"):
            return
        cpu = quantity.pod_requests(spec, "cpu")
        mem = quantity.pod_requests(spec, "memory") // 1000
        owner = next((r.get("uid", "") for r in meta.get("ownerReferences") or [] if r.get("controller")), "")
        ports = tuple(p["hostPort"] for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort"))
        self.assigned[key] = (node, cpu, mem, owner, ports)
        if topology.required_anti_affinity(pod) and not meta.get("deletionTimestamp"):
            self.anti_affine.add(key)
        u = self.used[node]
        u[0] += cpu
        u[1] += mem
        u[2] += 1
        self.owner_count[(owner, node)] += 1
        self.ports[node].update(ports)

    def on_event(self, event: Event) -> None:
        obj = event.obj
        if event.resource.key == "/nodes":
            if event.type != "DELETED":
                for key in self.unschedulable:
                    self.enqueue(key)
            return
        self._account(obj, gone=event.type == "DELETED")
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event.type == "DELETED" or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self.unschedulable.pop(key, None)
            for other in self.unschedulable:
                self.enqueue(other)
            return
        if self._wants(obj) and event.type == "ADDED":
            self.enqueue(key)

    def sync(self, key) -> None:
        namespace, name = key
        pod = self.mgr.find("/pods", namespace, name)
        if pod is None or not self._wants(pod):
            self.unschedulable.pop(key, None)
            return
        nodes = self.mgr.list("/nodes")
        node, reasons = self.choose(pod, nodes)
        if node is None:
            self._fail(pod, key, nodes, reasons)
            return
        self.unschedulable.pop(key, None)
        now = self.mgr.stamp()

        def bind(p: Obj) -> Obj | None:
            if p["spec"].get("nodeName"):
                return None
            p["spec"]["nodeName"] = node
            status = p.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now})
            status["conditions"] = conds
            return p
        bound = self.mgr.mutate("/pods", namespace, name, bind, shallow=True)
        if bound is not None and bound["spec"].get("nodeName") == node:
            self._account(bound)  # now, not when the event arrives: the next pod of this batch must see it
            self.mgr.recorder.record(bound, "Normal", "Scheduled", f"Successfully assigned {namespace}/{name} to {node}",
                                     "default-scheduler")

    def choose(self, pod: Obj, nodes: list[Obj]) -> tuple[str | None, list[str]]:
        spec = pod.get("spec") or {}
        cpu = quantity.pod_requests(spec, "cpu")
        mem = quantity.pod_requests(spec, "memory") // 1000
        tolerations = spec.get("tolerations") or []
        want_ports = [p["hostPort"] for c in spec.get("containers") or [] for p in c.get("ports") or [] if p.get("hostPort")]
        owner = next((r.get("uid", "") for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), "")
        reasons: list[str] = []
        best: tuple | None = None
        rng = self.mgr.rng_for("schedule", pod["metadata"].get("uid", pod["metadata"]["name"]))
        place = self._placement(nodes) if topology.has_constraints(pod) or self.anti_affine else None
        for node in nodes:
            nname = node["metadata"]["name"]
            nspec = node.get("spec") or {}
            if nspec.get("unschedulable"):
                reasons.append("node(s) were unschedulable")
                continue
            bad = next((t for t in nspec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")
                        and not tolerates(tolerations, t)), None)
            if bad is not None:
                reasons.append(f"node(s) had untolerated taint {{{bad.get('key')}: {bad.get('value', '')}}}")
                continue
            if not matches_affinity(spec, node):
                reasons.append("node(s) didn't match Pod's node affinity/selector")
                continue
            if want_ports and self.ports[nname].intersection(want_ports):
                reasons.append("node(s) didn't have free ports for the requested pod ports")
                continue
            used = self.used[nname]
            a_cpu, a_mem, a_pods = self._allocatable(node)
            short = []
            if used[2] + 1 > a_pods:
                short.append("Too many pods")
            if cpu and used[0] + cpu > a_cpu:
                short.append("Insufficient cpu")
            if mem and used[1] + mem > a_mem:
                short.append("Insufficient memory")
            if short:
                reasons.extend(short)
                continue
            if place is not None:
                why = topology.filter_reason(pod, nname, place)
                if why is not None:
                    reasons.append(why)
                    continue
            soft = round(topology.penalty(pod, nname, place), 6) if place is not None else 0.0
            spread = self.owner_count.get((owner, nname), 0) if owner else 0
            load = ((used[0] + cpu) / a_cpu if a_cpu else 0) + ((used[1] + mem) / a_mem if a_mem else 0)
            score = (soft, spread, round(load, 3), used[2], rng.random())
            if best is None or score < best[0]:
                best = (score, nname)
        return (best[1] if best else None), reasons

    def _placement(self, nodes: list[Obj]) -> topology.Placement:
        """The placed pods (bound, not finished, not being deleted) and the nodes, for topology.py."""
        placed = [p for p in self.mgr.list("/pods") if (p.get("spec") or {}).get("nodeName")
                  and not p["metadata"].get("deletionTimestamp")
                  and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        return topology.Placement({n["metadata"]["name"]: n for n in nodes}, placed)

    def _fail(self, pod: Obj, key, nodes: list[Obj], reasons: list[str]) -> None:
        n = len(nodes)
        counts = collections.Counter(reasons)
        text = ", ".join(sorted(f"{c} {r}" for r, c in counts.items()))
        pre = collections.Counter("Preemption is not helpful for scheduling" if r.startswith(UNRESOLVABLE)
                                  else "No preemption victims found for incoming pod" for r in reasons)
        pre_text = ", ".join(sorted(f"{c} {r}" for r, c in pre.items()))
        message = f"0/{n} nodes are available: {text}. preemption: 0/{n} nodes are available: {pre_text}." if n else \
            "no nodes available to schedule pods"
        first = key not in self.unschedulable
        self.unschedulable[key] = None
        now = self.mgr.stamp()

        def mark(p: Obj) -> Obj | None:
            status = p.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            old = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
            if old and old.get("message") == message and old.get("status") == "False":
                return None
            conds.append({"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                          "lastTransitionTime": old["lastTransitionTime"] if old and old.get("status") == "False" else now,
                          "reason": "Unschedulable", "message": message})
            status["conditions"] = conds
            status.setdefault("phase", "Pending")
            return p
        updated = self.mgr.mutate("/pods", key[0], key[1], mark, shallow=True)
        if updated is not None:
            self.mgr.recorder.record(updated, "Warning", "FailedScheduling", message, "default-scheduler")
        del first
        self.after(RETRY_SECONDS, key)


__all__ = ["Scheduler", "tolerates", "matches_affinity", "label_match", "parse_labels"]
