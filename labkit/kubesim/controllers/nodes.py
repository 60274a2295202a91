"""Node heartbeats, node stop/start, and the node lifecycle and taint eviction controllers.

- A running node's kubelet renews its Lease (``kube-node-lease``) every 10 s.
- ``stop(node)`` is the machine losing power: no more heartbeats, its kubelet does nothing.
  After the node monitor grace period (50 s in Kubernetes 1.32+) the node lifecycle controller
  sets the node's conditions to Unknown ("Kubelet stopped posting node status."), taints it
  ``node.kubernetes.io/unreachable`` (NoSchedule and NoExecute), marks its pods not Ready and
  records ``NodeNotReady``.
- The taint eviction controller then deletes each pod when its toleration of the NoExecute
  taint runs out (``tolerationSeconds``: 300 s by default, added to every pod by the API server;
  DaemonSet pods tolerate it for ever) with the event ``TaintManagerEviction``. The pods stay
  Terminating while the node is down (nobody can confirm they stopped); their ReplicaSets
  create replacements on the other nodes.
- ``start(node)``: heartbeats resume, conditions go back to True, the taints are removed, the
  kubelet finishes the terminating pods, and ``NodeReady`` is recorded.
"""
from __future__ import annotations

from typing import Any

from .. import backends
from ..clock import micro_stamp, parse
from ..store import Event
from . import Controller

Obj = dict[str, Any]
HEARTBEAT = 10.0
GRACE = 50.0
MONITOR = 5.0
UNREACHABLE = "node.kubernetes.io/unreachable"


class NodeLifecycle(Controller):
    name = "node-controller"
    watches = ("/pods",)

    def __init__(self, mgr):
        super().__init__(mgr)
        self.stopped_at: dict[str, float] = {}
        self.unreachable: set[str] = set()
        self.evict_due: dict[tuple[str, str], float] = {}

    def start(self) -> None:
        for node in self.mgr.list("/nodes"):
            self.after(HEARTBEAT, ("heartbeat", node["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        pod = event.obj
        node = (pod.get("spec") or {}).get("nodeName")
        if node in self.unreachable and event.type == "ADDED":
            self.enqueue(("evict", node))

    # ---- the Python API ---------------------------------------------------------------
    def stop(self, node: str) -> None:
        if self.mgr.find("/nodes", "", node) is None:
            raise KeyError(f"no node named {node!r}")
        if node in self.stopped_at:
            return
        self.stopped_at[node] = self.mgr.now()
        backends.set_power(self.mgr.store, node, on=False)
        self.mgr.kubelet.node_stopped(node)
        self.after(GRACE, ("monitor", node))

    def start_node(self, node: str) -> None:
        if self.mgr.find("/nodes", "", node) is None:
            raise KeyError(f"no node named {node!r}")
        if node not in self.stopped_at:
            return
        del self.stopped_at[node]
        backends.set_power(self.mgr.store, node, on=True)
        self.mgr.kubelet.node_started(node)
        self.enqueue(("recover", node))
        self.enqueue(("heartbeat", node))

    # ---- work ---------------------------------------------------------------------------
    def sync(self, key) -> None:
        what, node = key
        if what == "heartbeat":
            if node in self.stopped_at:
                return
            now = micro_stamp(self.mgr.clock.now())

            def renew(lease: Obj) -> Obj:
                lease["spec"]["renewTime"] = now
                return lease
            self.mgr.mutate("coordination.k8s.io/leases", "kube-node-lease", node, renew)
            self.after(HEARTBEAT, ("heartbeat", node))
        elif what == "monitor":
            if node in self.stopped_at and self.mgr.now() - self.stopped_at[node] >= GRACE - 1e-6:
                self._unreachable(node)
        elif what == "recover":
            self._recover(node)
        elif what == "evict":
            self._evict(node)

    def _unreachable(self, node: str) -> None:
        if node in self.unreachable:
            return
        self.unreachable.add(node)
        now = self.mgr.stamp()
        message = "Kubelet stopped posting node status."

        def mark(n: Obj) -> Obj:
            conds = []
            for c in (n.get("status") or {}).get("conditions") or []:
                c = dict(c)
                if c.get("status") != "Unknown":
                    c["lastTransitionTime"] = now
                c.update(status="Unknown", reason="NodeStatusUnknown", message=message)
                conds.append(c)
            n["status"]["conditions"] = conds
            taints = [t for t in n["spec"].get("taints") or [] if t.get("key") != UNREACHABLE]
            taints += [{"effect": "NoSchedule", "key": UNREACHABLE, "timeAdded": now},
                       {"effect": "NoExecute", "key": UNREACHABLE, "timeAdded": now}]
            n["spec"]["taints"] = taints
            return n
        node_obj = self.mgr.mutate("/nodes", "", node, mark)
        if node_obj is not None:
            self.mgr.recorder.record(node_obj, "Normal", "NodeNotReady", f"Node {node} status is now: NodeNotReady",
                                     "node-controller")
        for pod in self.mgr.list("/pods"):
            if (pod.get("spec") or {}).get("nodeName") != node:
                continue
            def not_ready(p: Obj) -> Obj | None:
                conds = (p.get("status") or {}).get("conditions") or []
                if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
                    return None
                p["status"]["conditions"] = [dict(c, status="False", lastTransitionTime=now)
                                             if c.get("type") in ("Ready", "ContainersReady") else c for c in conds]
                for cs in p["status"].get("containerStatuses") or []:
                    cs["ready"] = False
                return p
            updated = self.mgr.mutate("/pods", pod["metadata"]["namespace"], pod["metadata"]["name"], not_ready)
            if updated is not None and updated is not pod:
                self.mgr.recorder.record(updated, "Warning", "NodeNotReady", "Node is not ready", "node-controller")
        self._evict(node)

    def _evict(self, node: str) -> None:
        if node not in self.unreachable:
            return
        node_obj = self.mgr.find("/nodes", "", node)
        if node_obj is None:
            return
        added = next((t.get("timeAdded") for t in node_obj["spec"].get("taints") or []
                      if t.get("key") == UNREACHABLE and t.get("effect") == "NoExecute"), None)
        since = parse(added).timestamp() if added else self.mgr.now()
        now = self.mgr.now()
        soonest = None
        for pod in self.mgr.list("/pods"):
            if (pod.get("spec") or {}).get("nodeName") != node or pod["metadata"].get("deletionTimestamp"):
                continue
            seconds = self._toleration(pod)
            if seconds is None:
                continue  # tolerates for ever (DaemonSet pods, static pods)
            due = since + max(0, seconds)
            if due <= now + 1e-6:
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                self.mgr.recorder.record(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}",
                                         "taint-eviction-controller")
                self.mgr.delete("/pods", pod)
            else:
                soonest = due if soonest is None else min(soonest, due)
        if soonest is not None:
            self.mgr.at(soonest, self, ("evict", node))

    @staticmethod
    def _toleration(pod: Obj) -> float | None:
        """Seconds the pod tolerates the unreachable NoExecute taint; None for ever; 0 if not at all."""
        best: float | None = 0.0
        found = False
        for t in (pod.get("spec") or {}).get("tolerations") or []:
            if t.get("effect") not in (None, "", "NoExecute"):
                continue
            if t.get("operator") == "Exists" and not t.get("key") or t.get("key") == UNREACHABLE:
                found = True
                secs = t.get("tolerationSeconds")
                if secs is None:
                    return None
                best = max(best or 0.0, float(secs))
        return best if found else 0.0

    def _recover(self, node: str) -> None:
        was = node in self.unreachable
        self.unreachable.discard(node)
        now = self.mgr.stamp()
        ready_messages = {"Ready": ("KubeletReady", "kubelet is posting ready status"),
                          "MemoryPressure": ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                          "DiskPressure": ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                          "PIDPressure": ("KubeletHasSufficientPID", "kubelet has sufficient PID available")}

        def heal(n: Obj) -> Obj:
            conds = []
            for c in (n.get("status") or {}).get("conditions") or []:
                c = dict(c)
                reason, message = ready_messages.get(c["type"], (c.get("reason"), c.get("message")))
                status = "True" if c["type"] == "Ready" else "False"
                if c.get("status") != status:
                    c["lastTransitionTime"] = now
                c.update(status=status, reason=reason, message=message, lastHeartbeatTime=now)
                conds.append(c)
            n["status"]["conditions"] = conds
            taints = [t for t in n["spec"].get("taints") or [] if t.get("key") != UNREACHABLE]
            if taints:
                n["spec"]["taints"] = taints
            else:
                n["spec"].pop("taints", None)
            return n
        node_obj = self.mgr.mutate("/nodes", "", node, heal)
        if was and node_obj is not None:
            self.mgr.recorder.record(node_obj, "Normal", "NodeReady", f"Node {node} status is now: NodeReady",
                                     "kubelet", host=node)
