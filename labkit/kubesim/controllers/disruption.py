"""The disruption controller: a PodDisruptionBudget's status, what the eviction API decides by.

As kube-controller-manager's disruption controller computes it, for each PodDisruptionBudget:

- its pods: those of its namespace that its selector matches (an empty selector: every pod);
- ``expectedPods`` and ``desiredHealthy``: with an integer ``minAvailable``, the pods counted and
  that number; with a percentage ``minAvailable`` or any ``maxUnavailable``, the scale of the pods'
  controllers (a ReplicaSet owned by a Deployment counts the Deployment's ``replicas``; each
  controller once), and ``desiredHealthy`` is the percentage of it rounded up, or the scale minus
  ``maxUnavailable`` (rounded up too);
- ``currentHealthy``: the pods that are Ready and not being deleted, leaving out the ones the
  eviction API has just evicted (``disruptedPods``: until the pod is being deleted, at most 2
  minutes);
- ``disruptionsAllowed`` = currentHealthy - desiredHealthy (never below 0), and the condition
  ``DisruptionAllowed`` (``SufficientPods`` / ``InsufficientPods``).

The eviction API (``labkit/kubesim/eviction.py``) reads this status and lowers
``disruptionsAllowed`` itself when it evicts, as the apiserver does; this controller then
recomputes it from the pods.
"""
from __future__ import annotations

import copy
from typing import Any

from ..clock import parse
from ..objects import controller_of, label_match, resolve
from ..store import Event
from . import Controller

Obj = dict[str, Any]
KEY = "policy/poddisruptionbudgets"
DELETION_TIMEOUT = 120.0  # an evicted pod not being deleted by then counts again (the controller's DeletionTimeout)


def ready(pod: Obj) -> bool:
    """Ready and not being deleted: what the budget counts as healthy."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def selected(pdb: Obj, pod: Obj) -> bool:
    selector = (pdb.get("spec") or {}).get("selector")
    return selector is not None and label_match(selector, pod["metadata"].get("labels") or {})


class DisruptionController(Controller):
    name = "disruption-controller"
    watches = (KEY, "/pods")

    def start(self) -> None:
        for pdb in self.mgr.list(KEY):
            self.enqueue((pdb["metadata"]["namespace"], pdb["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        obj = event.obj
        namespace = obj["metadata"].get("namespace", "")
        if event.resource.key == KEY:
            if event.type != "DELETED":
                self.enqueue((namespace, obj["metadata"]["name"]))
            return
        for pdb in self.mgr.list(KEY, namespace):
            if selected(pdb, obj):
                self.enqueue((namespace, pdb["metadata"]["name"]))

    def _scale(self, pods: list[Obj]) -> int:
        """The pods' controllers' scale, each controller once (a Deployment's for its ReplicaSets)."""
        seen: dict[tuple[str, str], int] = {}
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                seen[("Pod", pod["metadata"]["name"])] = 1
                continue
            namespace = pod["metadata"]["namespace"]
            key = {"ReplicaSet": "apps/replicasets", "StatefulSet": "apps/statefulsets",
                   "ReplicationController": "/replicationcontrollers"}.get(ref["kind"])
            owner = self.mgr.find(key, namespace, ref["name"]) if key else None
            if owner is None:
                seen[(ref["kind"], ref["name"])] = 1
                continue
            above = controller_of(owner)
            if ref["kind"] == "ReplicaSet" and above and above.get("kind") == "Deployment":
                deployment = self.mgr.find("apps/deployments", namespace, above["name"])
                if deployment is not None:
                    owner, ref = deployment, above
            seen[(ref["kind"], ref["name"])] = int((owner.get("spec") or {}).get("replicas", 1))
        return sum(seen.values())

    def sync(self, key) -> None:
        namespace, name = key
        pdb = self.mgr.find(KEY, namespace, name)
        if pdb is None:
            return
        spec = pdb.get("spec") or {}
        pods = [p for p in self.mgr.list("/pods", namespace) if selected(pdb, p)
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        minimum, most = spec.get("minAvailable"), spec.get("maxUnavailable")
        if most is not None:
            expected = self._scale(pods)
            desired = max(0, expected - resolve(most, expected, True))
        elif isinstance(minimum, str) and minimum.endswith("%"):
            expected = self._scale(pods)
            desired = resolve(minimum, expected, True)
        else:
            expected, desired = len(pods), int(minimum or 0)
        now = self.mgr.now()
        status = pdb.get("status") or {}
        disrupted = {}
        by_name = {p["metadata"]["name"]: p for p in pods}
        for pod_name, when in (status.get("disruptedPods") or {}).items():
            pod = by_name.get(pod_name)
            evicted_at = parse(when).timestamp() if isinstance(when, str) else now
            if pod is not None and not pod["metadata"].get("deletionTimestamp") and now - evicted_at < DELETION_TIMEOUT:
                disrupted[pod_name] = when
                self.after(DELETION_TIMEOUT - (now - evicted_at), key)
        healthy = sum(1 for p in pods if ready(p) and p["metadata"]["name"] not in disrupted)
        allowed = max(0, healthy - desired)
        old_condition = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
        state = "True" if allowed > 0 else "False"
        condition = {"type": "DisruptionAllowed", "status": state,
                     "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
                     "observedGeneration": pdb["metadata"].get("generation", 1),
                     "lastTransitionTime": old_condition["lastTransitionTime"]
                     if old_condition and old_condition.get("status") == state else self.mgr.stamp()}
        new_status = {"observedGeneration": pdb["metadata"].get("generation", 1), "disruptionsAllowed": allowed,
                      "currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                      "conditions": [condition]}
        if disrupted:
            new_status["disruptedPods"] = disrupted
        if new_status != status:
            updated = copy.deepcopy(pdb)
            updated["status"] = new_status
            self.mgr.update(KEY, updated)
