"""The Deployment controller: ReplicaSets per pod template, rolling updates, revisions, status.

Follows kube-controller-manager's deployment controller (pkg/controller/deployment):
- the ReplicaSet whose template equals the Deployment's (ignoring ``pod-template-hash``) is the
  *new* one; when none does, one is created, named ``<deployment>-<hash of the template>``, with
  revision = highest revision + 1 (a rollback re-uses the old ReplicaSet and gives it the next
  revision, keeping the old numbers in ``deployment.kubernetes.io/revision-history``);
- RollingUpdate: scale the new ReplicaSet up while all pods <= replicas + maxSurge, scale old ones
  down (unhealthy first, then oldest first) while available pods >= replicas - maxUnavailable
  (percentages: surge rounds up, unavailable rounds down; both 0 means maxUnavailable 1);
  Recreate: old ReplicaSets to 0, wait for their pods to be gone, then the new one up;
- status (replicas, updated, ready, available, unavailable) and the conditions Available and
  Progressing with the controller's reasons (NewReplicaSetCreated, FoundNewReplicaSet,
  ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded) and messages, which is
  what ``kubectl rollout status`` reads; old ReplicaSets beyond ``revisionHistoryLimit`` deleted.
Events: ``ScalingReplicaSet`` "Scaled up replica set X from A to B" / "Scaled down ...".
"""
from __future__ import annotations

from typing import Any

from ..clock import parse
from ..objects import CHANGE_CAUSE, HASH, REVISION, max_surge, replica_set_for, resolve, template_hash
from . import WorkloadController

Obj = dict[str, Any]


def _strip_hash(template: Obj) -> Obj:
    """The template without ``pod-template-hash`` and without nulls (Go compares the decoded structs,
    where ``creationTimestamp: null`` and no creationTimestamp are the same)."""
    t = _no_nulls(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH, None)
    return t


def _no_nulls(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _no_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_no_nulls(v) for v in node]
    return node


def revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController(WorkloadController):
    name = "deployment-controller"
    watches = ("apps/deployments", "apps/replicasets")

    workload = "apps/deployments"
    workload_kind = "Deployment"

    # ---- the sync -------------------------------------------------------------------------
    def sync(self, key) -> None:
        namespace, name = key
        d = self.mgr.find("apps/deployments", namespace, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        rss = sorted(self.mgr.index.owned(d, "apps/replicasets"),
                     key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]))
        template = _strip_hash(d["spec"]["template"])
        new = next((r for r in rss if _strip_hash(r["spec"]["template"]) == template), None)
        olds = [r for r in rss if r is not new]
        created = False
        if d["spec"].get("paused"):
            self._status(d, new, olds, False)
            return
        if new is None:
            new = self._create_rs(d, rss)
            created = True
        else:
            new = self._ensure_revision(d, new, olds)
        self._annotate(d, new)
        new = self._change_cause(d, new)
        replicas = int(d["spec"].get("replicas", 1))
        strategy = (d["spec"].get("strategy") or {}).get("type", "RollingUpdate")
        if strategy == "Recreate":
            self._recreate(d, new, olds, replicas)
        else:
            self._rolling(d, new, olds, replicas)
        self._cleanup(d, olds)
        self._status(d, self.mgr.find("apps/replicasets", namespace, new["metadata"]["name"]) or new,
                     [self.mgr.find("apps/replicasets", namespace, o["metadata"]["name"]) or o for o in olds], created)

    def _create_rs(self, d: Obj, rss: list[Obj]) -> Obj:
        collisions = int((d.get("status") or {}).get("collisionCount", 0) or 0)
        h = template_hash(_strip_hash(d["spec"]["template"]), collisions)
        rs = replica_set_for(d, h, 0, max([revision(r) for r in rss] + [0]) + 1)
        return self.mgr.create("apps/replicasets", rs)

    def _ensure_revision(self, d: Obj, new: Obj, olds: list[Obj]) -> Obj:
        top = max([revision(r) for r in olds] + [0])
        if revision(new) > top:
            return new
        def bump(rs: Obj) -> Obj:
            ann = rs["metadata"].setdefault("annotations", {})
            old = ann.get(REVISION)
            if old:
                history = [h for h in ann.get("deployment.kubernetes.io/revision-history", "").split(",") if h]
                ann["deployment.kubernetes.io/revision-history"] = ",".join(history + [old])
            ann[REVISION] = str(top + 1)
            cause = (d["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
            if cause:
                ann[CHANGE_CAUSE] = cause
            return rs
        return self.mgr.mutate("apps/replicasets", new["metadata"]["namespace"], new["metadata"]["name"], bump) or new

    def _annotate(self, d: Obj, new: Obj) -> None:
        rev = (new["metadata"].get("annotations") or {}).get(REVISION)
        if (d["metadata"].get("annotations") or {}).get(REVISION) == rev:
            return
        def put(obj: Obj) -> Obj:
            obj["metadata"].setdefault("annotations", {})[REVISION] = rev
            return obj
        self.mgr.mutate("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"], put, shallow=True)

    def _change_cause(self, d: Obj, new: Obj) -> Obj:
        """The Deployment's change-cause follows onto its current ReplicaSet, as the controller copies
        the Deployment's annotations to it on every sync (what `kubectl rollout history` shows)."""
        cause = (d["metadata"].get("annotations") or {}).get(CHANGE_CAUSE)
        if cause is None or (new["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) == cause:
            return new

        def put(rs: Obj) -> Obj:
            rs["metadata"].setdefault("annotations", {})[CHANGE_CAUSE] = cause
            return rs
        return self.mgr.mutate("apps/replicasets", new["metadata"]["namespace"], new["metadata"]["name"], put) or new

    def _scale(self, d: Obj, rs: Obj, to: int) -> Obj:
        current = int(rs["spec"].get("replicas", 0))
        if current == to:
            return rs
        replicas = int(d["spec"].get("replicas", 1))
        surge = max_surge(d, replicas)

        def put(obj: Obj) -> Obj:
            obj["spec"]["replicas"] = to
            ann = obj["metadata"].setdefault("annotations", {})
            ann["deployment.kubernetes.io/desired-replicas"] = str(replicas)
            ann["deployment.kubernetes.io/max-replicas"] = str(replicas + surge)
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            return obj
        out = self.mgr.mutate("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], put) or rs
        verb = "up" if to > current else "down"
        self.mgr.recorder.record(d, "Normal", "ScalingReplicaSet",
                                 f"Scaled {verb} replica set {rs['metadata']['name']} from {current} to {to}",
                                 "deployment-controller")
        return out

    def _rolling(self, d: Obj, new: Obj, olds: list[Obj], replicas: int) -> None:
        rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = resolve(rolling.get("maxSurge", "25%"), replicas, True)
        unavailable = resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        all_rs = [new] + olds
        new_replicas = int(new["spec"].get("replicas", 0))
        # scale up (or down) the new ReplicaSet
        if new_replicas > replicas:
            new = self._scale(d, new, replicas)
        elif new_replicas < replicas:
            total = sum(int(r["spec"].get("replicas", 0)) for r in all_rs)
            room = replicas + surge - total
            if room > 0:
                new = self._scale(d, new, new_replicas + min(room, replicas - new_replicas))
        # scale down old ReplicaSets
        old_total = sum(int(r["spec"].get("replicas", 0)) for r in olds)
        if old_total == 0:
            return
        all_total = int(new["spec"].get("replicas", 0)) + old_total
        min_available = replicas - unavailable
        new_unavailable = int(new["spec"].get("replicas", 0)) - int((new.get("status") or {}).get("availableReplicas", 0))
        budget = all_total - min_available - new_unavailable
        if budget <= 0:
            return
        current = {r["metadata"]["name"]: int(r["spec"].get("replicas", 0)) for r in olds}
        for rs in olds:  # unhealthy replicas of old ReplicaSets first (oldest first)
            if budget <= 0:
                break
            have = current[rs["metadata"]["name"]]
            unhealthy = have - int((rs.get("status") or {}).get("availableReplicas", 0))
            cut = min(unhealthy, budget)
            if cut > 0:
                self._scale(d, rs, have - cut)
                current[rs["metadata"]["name"]] = have - cut
                budget -= cut
        available = int((new.get("status") or {}).get("availableReplicas", 0)) + sum(
            min(current[r["metadata"]["name"]], int((r.get("status") or {}).get("availableReplicas", 0))) for r in olds)
        left = available - min_available
        for rs in olds:
            if left <= 0:
                break
            have = current[rs["metadata"]["name"]]
            cut = min(have, left)
            if cut > 0:
                self._scale(d, rs, have - cut)
                current[rs["metadata"]["name"]] = have - cut
                left -= cut

    def _recreate(self, d: Obj, new: Obj, olds: list[Obj], replicas: int) -> None:
        for rs in olds:
            if int(rs["spec"].get("replicas", 0)) > 0:
                self._scale(d, rs, 0)
        if any(self.mgr.index.owned(rs, "/pods") for rs in olds):
            return  # wait until the old pods are gone
        self._scale(d, new, replicas)

    def _cleanup(self, d: Obj, olds: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit", 10)
        if limit is None:
            return
        idle = [r for r in olds if int(r["spec"].get("replicas", 0)) == 0
                and not int((r.get("status") or {}).get("replicas", 0))]
        idle.sort(key=revision)
        for rs in idle[:max(0, len(idle) - int(limit))]:
            self.mgr.delete("apps/replicasets", rs)

    # ---- status ------------------------------------------------------------------------------
    def _status(self, d: Obj, new: Obj | None, olds: list[Obj], created: bool) -> None:
        now = self.mgr.now()
        stamp = self.mgr.stamp()
        replicas = int(d["spec"].get("replicas", 1))
        rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        unavailable_ok = resolve(rolling.get("maxUnavailable", "25%"), replicas, False) \
            if (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate" else 0
        all_rs = ([new] if new else []) + olds

        def total(field: str) -> int:
            return sum(int((r.get("status") or {}).get(field, 0) or 0) for r in all_rs)
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1), "replicas": total("replicas"),
                       "updatedReplicas": int((new.get("status") or {}).get("replicas", 0)) if new else 0,
                       "readyReplicas": total("readyReplicas"), "availableReplicas": total("availableReplicas")}
        if total("terminatingReplicas"):
            status["terminatingReplicas"] = total("terminatingReplicas")
        missing = replicas - status["availableReplicas"]
        if missing > 0:
            status["unavailableReplicas"] = missing
        old = d.get("status") or {}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        old_conds = {c["type"]: c for c in old.get("conditions") or []}

        def cond(type_: str, ok: bool, reason: str, message: str, progress: bool = False) -> Obj:
            prev = old_conds.get(type_)
            state = "True" if ok else "False"
            same = prev is not None and prev.get("status") == state
            unchanged = same and prev.get("reason") == reason and prev.get("message") == message
            return {"type": type_, "status": state,
                    "lastUpdateTime": prev["lastUpdateTime"] if unchanged and not progress else stamp,
                    "lastTransitionTime": prev["lastTransitionTime"] if same else stamp,
                    "reason": reason, "message": message}
        available = status["availableReplicas"] >= replicas - unavailable_ok
        conditions = [cond("Available", available, "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                           "Deployment has minimum availability." if available else "Deployment does not have minimum availability.")]
        name = new["metadata"]["name"] if new else ""
        complete = (new is not None and status["updatedReplicas"] == replicas and status["replicas"] == replicas
                    and status["availableReplicas"] >= replicas and status["observedGeneration"] >= d["metadata"].get("generation", 1))
        prev = old_conds.get("Progressing")
        progressed = (old.get("replicas"), old.get("updatedReplicas"), old.get("readyReplicas"), old.get("availableReplicas")) != \
            (status["replicas"], status["updatedReplicas"], status["readyReplicas"], status["availableReplicas"])
        deadline = d["spec"].get("progressDeadlineSeconds")
        if complete:
            progressing = cond("Progressing", True, "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.')
        elif created:
            progressing = cond("Progressing", True, "NewReplicaSetCreated", f'Created new replica set "{name}"', True)
        elif progressed or prev is None or prev.get("reason") == "NewReplicaSetAvailable":
            progressing = cond("Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.', True)
        else:
            progressing = dict(prev)
            if deadline is not None and prev.get("status") == "True" and prev.get("reason") != "NewReplicaSetAvailable":
                since = parse(prev["lastUpdateTime"]).timestamp()
                if since + int(deadline) <= now:
                    progressing = cond("Progressing", False, "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.')
        if progressing["status"] == "True" and progressing["reason"] != "NewReplicaSetAvailable" and deadline is not None:
            self.after(parse(progressing["lastUpdateTime"]).timestamp() + int(deadline) - now + 0.001,
                       (d["metadata"]["namespace"], d["metadata"]["name"]))
        conditions.append(progressing)
        order = {"Available": 0, "Progressing": 1}
        if old_conds and list(old_conds)[0] == "Progressing":
            order = {"Progressing": 0, "Available": 1}
        status["conditions"] = sorted(conditions, key=lambda c: order[c["type"]])

        def put(obj: Obj) -> Obj | None:
            if (obj.get("status") or {}) == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"], put, shallow=True)
