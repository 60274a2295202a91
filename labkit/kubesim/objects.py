"""Shared builders and predicates of Kubernetes objects, used by the initial kind state and by the
controllers alike.

Why one module: what a controller creates (a pod from a template, a Deployment's ReplicaSet, a
DaemonSet's pod) is built by the same function whether the controller makes it while the
emulator runs or ``kindstate`` renders it as part of a fresh cluster; and the predicates every
controller asks (is this pod active? ready since when? does it tolerate that taint? does a
selector match?) live here instead of in whichever controller wrote them first.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from . import defaults, naming
from .clock import parse

Obj = dict[str, Any]
HASH = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"  # why a revision was made: `kubectl rollout history` shows it
# the tolerations the DaemonSet controller adds to every pod it creates
DAEMON_TOLERATIONS = [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                      ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                      ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]


# ---- copies and references ----------------------------------------------------------------
def copy_obj(obj: Obj) -> Obj:
    """A copy deep enough to edit: dicts and lists are copied, leaves shared (they are immutable)."""
    if isinstance(obj, dict):
        return {k: copy_obj(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_obj(v) for v in obj]
    return obj


def owner_ref(owner: Obj, block: bool = True) -> Obj:
    """The controller ownerReference a workload controller puts on what it creates."""
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": True}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with ``controller: true``, if any."""
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


# ---- hashes --------------------------------------------------------------------------------
def template_hash(template: Obj, collisions: int = 0) -> str:
    """FNV-32a of the template, printed as decimal and mapped onto the safe alphabet (as ComputeHash)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode() + str(collisions or "").encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return naming.safe_encode(str(h))


def image_id(image: str) -> str:
    """The digest reference a node reports for an image (stable: derived from the name)."""
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


# ---- builders ------------------------------------------------------------------------------
def pod_from_template(owner: Obj, name: str, node: str | None, extra_labels: dict[str, str] | None = None) -> Obj:
    """A pod as a workload controller creates it from ``owner.spec.template``."""
    template = copy.deepcopy(owner["spec"]["template"])
    meta = template.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    spec = template["spec"]
    if node is not None and owner["kind"] == "DaemonSet":
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
        tolerations = spec.setdefault("tolerations", [])
        extra = list(DAEMON_TOLERATIONS)
        if spec.get("hostNetwork"):
            extra.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
        for key, effect in extra:
            tolerations.append({"effect": effect, "key": key, "operator": "Exists"})
    if node is not None:
        spec["nodeName"] = node
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": owner["metadata"]["namespace"], "labels": labels,
                        "ownerReferences": [owner_ref(owner)]},
           "spec": spec}
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = dict(meta["annotations"])
    if owner["kind"] == "ReplicaSet" or owner["kind"] == "Job":
        pod["metadata"]["generateName"] = naming.generate_name(name)
    return pod


def daemon_pod(ds: Obj, name: str, node: str, revision: str, generation: str) -> Obj:
    """The pod the DaemonSet controller creates for ``ds`` on ``node``."""
    pod = pod_from_template(ds, name, node, {"controller-revision-hash": revision, "pod-template-generation": generation})
    pod["metadata"]["generateName"] = ds["metadata"]["name"] + "-"
    return pod


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent against ``total`` (maxSurge rounds up, maxUnavailable down)."""
    if isinstance(value, str) and value.endswith("%"):
        frac = int(value[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(value or 0)


def max_surge(d: Obj, replicas: int) -> int:
    """A Deployment's maxSurge in pods (0 unless it is a RollingUpdate with one)."""
    return resolve(((d["spec"].get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", 0), replicas, True)


def replica_set_for(d: Obj, pod_hash: str, replicas: int, revision: int) -> Obj:
    """The ReplicaSet the Deployment controller creates for ``d``'s current template: named
    ``<deployment>-<hash>``, its template and selector labelled ``pod-template-hash``, annotated
    with the desired and max replicas and its revision."""
    template = copy_obj(d["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH] = pod_hash
    selector = copy_obj(d["spec"].get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH] = pod_hash
    desired = int(d["spec"].get("replicas", 1))
    annotations = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
                   if k not in (REVISION, "kubectl.kubernetes.io/last-applied-configuration")}
    annotations.update({"deployment.kubernetes.io/desired-replicas": str(desired),
                        "deployment.kubernetes.io/max-replicas": str(desired + max_surge(d, desired)),
                        REVISION: str(revision)})
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": naming.generated(d["metadata"]["name"], pod_hash), "namespace": d["metadata"]["namespace"],
                       "labels": dict(template["metadata"]["labels"]), "annotations": annotations,
                       "ownerReferences": [owner_ref(d)]},
          "spec": {"replicas": replicas, "minReadySeconds": d["spec"].get("minReadySeconds", 0) or 0,
                   "selector": selector, "template": template}}
    if not rs["spec"]["minReadySeconds"]:
        del rs["spec"]["minReadySeconds"]
    return rs


def running_status(pod: Obj, host_ip: str, pod_ip: str, started: str, container_ids: list[str]) -> Obj:
    """The status the kubelet reports for a pod whose containers all run and are ready."""
    spec = pod["spec"]
    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": started}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    statuses = []
    for container, cid in zip(spec["containers"], container_ids):
        statuses.append({
            "containerID": f"containerd://{cid}", "image": container["image"],
            "imageID": image_id(container["image"]), "lastState": {}, "name": container["name"],
            "ready": True, "restartCount": 0, "started": True,
            "state": {"running": {"startedAt": started}},
        })
    return {"conditions": conditions, "containerStatuses": statuses, "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}], "phase": "Running", "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
            "qosClass": defaults.qos_class(spec), "startTime": started}


# ---- pod predicates ------------------------------------------------------------------------
def active(pod: Obj) -> bool:
    """Not being deleted and not finished: a pod that counts towards its controller's replicas."""
    return (not pod["metadata"].get("deletionTimestamp")
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))


def ready_since(pod: Obj) -> float | None:
    """When the pod became Ready (None when it is not ready)."""
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            if c.get("status") != "True":
                return None
            return parse(c["lastTransitionTime"]).timestamp() if c.get("lastTransitionTime") else 0.0
    return None


# ---- selectors, taints and affinity ----------------------------------------------------------
def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    """Whether one of ``tolerations`` tolerates ``taint``."""
    for t in tolerations or []:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def match_expression(labels: dict[str, str], expr: Obj, fields: dict[str, str] | None = None) -> bool:
    """One selector requirement (In, NotIn, Exists, DoesNotExist, Gt, Lt) against labels or fields."""
    source = fields if fields is not None else labels
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    present = key in source
    if op == "In":
        return present and source[key] in values
    if op == "NotIn":
        return not present or source[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            a, b = int(source[key]), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def matches_affinity(pod_spec: Obj, node: Obj) -> bool:
    """Whether ``node`` satisfies the pod's nodeSelector and required node affinity."""
    labels = node["metadata"].get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if not terms:
        return True
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:  # terms are ORed, expressions within a term ANDed
        exprs = term.get("matchExpressions") or []
        fexprs = term.get("matchFields") or []
        if not exprs and not fexprs:
            continue
        if all(match_expression(labels, e) for e in exprs) and all(match_expression(labels, e, fields) for e in fexprs):
            return True
    return False


def label_match(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels / matchExpressions) against labels; an empty selector matches all."""
    if not selector:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    return all(match_expression(labels, e) for e in selector.get("matchExpressions") or [])
