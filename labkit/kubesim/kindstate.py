"""Render the initial state of a fresh kind cluster from ``data/kind-cluster.yaml``.

Why this split: *what* a fresh kind cluster contains (namespaces, nodes' labels and taints,
system pods, services, endpoints, leases, config maps, ages) is data a reviewer can compare with
a real cluster; this module only fills in what varies (names, IPs, uids, hashes, ages) from a
seeded random source, one small renderer per kind of object. What kind's controllers made (a
Deployment's ReplicaSet, a DaemonSet's pods) is built by the same builders the emulator's
controllers use (``objects``), so the two cannot drift apart.
Same (name, workers, seed, now) -> the same objects, byte for byte: every random draw comes from
one generator, in a fixed order (namespaces, nodes, accounts, objects, static pods, workloads,
endpoints, leases, events).
"""
from __future__ import annotations

import copy
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from .datafile import load_yaml
from . import addresses, defaults, naming
from .clock import micro_stamp, stamp
from .objects import daemon_pod, image_id, owner_ref, pod_from_template, replica_set_for, running_status

Obj = dict[str, Any]
DATA = Path(__file__).parent / "data" / "kind-cluster.yaml"
node_names = naming.node_names  # kind's node naming, kept here for callers of the initial state
__all__ = ["data", "kubernetes_version", "node_names", "render"]


@lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    return load_yaml(DATA)


def kubernetes_version() -> str:
    return data()["kubernetesVersion"]


def _subst(node: Any, ctx: dict[str, str]) -> Any:
    if isinstance(node, str):
        return string.Template(node).safe_substitute(ctx) if "$" in node else node
    if isinstance(node, list):
        return [_subst(item, ctx) for item in node]
    if isinstance(node, dict):
        return {_subst(k, ctx): _subst(v, ctx) for k, v in node.items()}
    return node


class _Seeded:
    """Every random choice of a render, from one seeded generator, in a fixed order."""

    def __init__(self, seed: int, name: str, workers: int):
        self.rng = random.Random(f"kubesim/{name}/{workers}/{seed}")

    def suffix(self, n: int = naming.SUFFIX_LENGTH) -> str:
        return naming.suffix(self.rng, n)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def container_ids(self, pod: Obj) -> list[str]:
        return [self.hex(64) for _ in pod["spec"]["containers"]]


@dataclass
class _Cluster:
    """What every renderer needs: the data, the seeded draws, the clock and the node layout."""

    name: str
    workers: int
    now: datetime
    rnd: _Seeded
    d: dict[str, Any] = field(default_factory=data)
    names: list[str] = field(default_factory=list)
    node_ip: dict[str, str] = field(default_factory=dict)
    pod_cidr: dict[str, str | None] = field(default_factory=dict)
    node_uid: dict[str, str] = field(default_factory=dict)
    pod_ips: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.names = naming.node_names(self.name, self.workers)
        # Docker starts the node containers in parallel, so which node gets which address is seeded;
        # the control plane registers first, then the workers in a seeded order, each taking the next
        # free /24 (none once the cluster CIDR is used up).
        ips = addresses.node_ips(len(self.names))
        self.rnd.rng.shuffle(ips)
        registered = list(range(1, len(self.names)))
        self.rnd.rng.shuffle(registered)
        cidrs = addresses.pod_cidrs(len(self.names))
        self.node_ip = dict(zip(self.names, ips))
        self.pod_cidr = {node: cidrs[order] for node, order in zip(self.names, [0] + registered)}
        self.defaults = defaults.DefaultContext(suffix=self.rnd.suffix, cluster_ip=lambda: "",
                                                node_port=lambda taken: 30000)

    @property
    def cp(self) -> str:
        return self.names[0]

    @property
    def ctx(self) -> dict[str, str]:
        return {"name": self.name, "cp": self.cp, "version": self.d["kubernetesVersion"]}

    def ts(self, age: float) -> str:
        """The timestamp ``age`` seconds before the emulator started."""
        return stamp(self.now - timedelta(seconds=age))

    def micro(self, age: float) -> str:
        return micro_stamp(self.now - timedelta(seconds=age))

    def created(self, obj: Obj, age: float) -> Obj:
        """Give ``obj`` a uid (the next draw) and its creation time."""
        obj["metadata"]["uid"] = self.rnd.uid()
        obj["metadata"]["creationTimestamp"] = self.ts(age)
        return obj


def _age(meta: Obj) -> float:
    return float(meta.pop("age", 100))


# ---- the renderers, in the order they draw --------------------------------------------------
def _namespaces(c: _Cluster) -> list[Obj]:
    return [defaults.apply("Namespace", {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": ns, "uid": c.rnd.uid(),
                                                      "creationTimestamp": c.ts(c.d["namespaceAges"][ns])}}, c.defaults)
            for ns in c.d["namespaces"]]


def _node(c: _Cluster, index: int, node: str) -> Obj:
    nd = _subst(c.d["node"], dict(c.ctx, node=node, node_ip=c.node_ip[node]))
    role = "control-plane" if index == 0 else "worker"
    age = nd["ages"][role] - (index - 1) * nd["workerStagger"] if index else nd["ages"][role]
    labels = dict(nd["labels"])
    cidr = c.pod_cidr[node]
    spec: Obj = {"podCIDR": cidr} if cidr else {}
    spec["providerID"] = f"kind://docker/{c.name}/{node}"
    if cidr:
        spec["podCIDRs"] = [cidr]
    if index == 0:
        labels.update(nd["controlPlane"]["labels"])
        spec["taints"] = copy.deepcopy(nd["controlPlane"]["taints"])
    conditions, info = node_status_draws(c, nd, age)
    addresses = [{"address": c.node_ip[node], "type": "InternalIP"}, {"address": node, "type": "Hostname"}]
    return node_object(c, nd, node, age, labels, nd["annotations"], spec, addresses, nd["capacity"], conditions, info)


def node_status_draws(c: Any, nd: Obj, age: float) -> tuple[list[Obj], Obj]:
    """A node's conditions (one heartbeat; Ready since ``readyAfter``) and its nodeInfo with the
    machine's ids, drawn in this order from the cluster's random source (both profiles)."""
    low, high = nd["heartbeat"]
    heartbeat = c.ts(low + c.rnd.rng.randint(0, high - low))
    conditions = [dict(cond, lastHeartbeatTime=heartbeat,
                       lastTransitionTime=c.ts(age - (nd["readyAfter"] if cond["type"] == "Ready" else 0)))
                  for cond in nd["conditions"]]
    info = dict(nd["nodeInfo"], bootID=c.rnd.uid(), machineID=c.rnd.hex(32), systemUUID=c.rnd.uid())
    return conditions, info


def node_object(c: Any, nd: Obj, node: str, age: float, labels: Obj, annotations: Obj, spec: Obj,
                addresses: list[Obj], allocatable: Obj, conditions: list[Obj], info: Obj) -> Obj:
    """A Node as the kubelet registers it, from the profile's node data ``nd`` and what the
    profile decided (its uid is the next draw); kind's and the GKE-like profile's nodes differ in
    those facts only."""
    images = c.d["images"]
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": node, "uid": c.rnd.uid(), "creationTimestamp": c.ts(age),
                        "labels": dict(sorted(labels.items())), "annotations": dict(sorted(annotations.items()))},
           "spec": spec,
           "status": {"addresses": addresses,
                      "allocatable": dict(allocatable), "capacity": dict(nd["capacity"]),
                      "conditions": conditions,
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": nd["kubeletPort"]}},
                      "images": [{"names": [image_id(images[k]), images[k]], "sizeBytes": 20_000_000 + 1_000_000 * i}
                                 for i, k in enumerate(sorted(images))],
                      "nodeInfo": info}}
    c.node_uid[node] = obj["metadata"]["uid"]
    return obj


def _accounts(c: _Cluster) -> list[Obj]:
    """Each namespace's service accounts and the kube-root-ca.crt config map."""
    out: list[Obj] = []
    age = c.d["accountsAge"]
    for ns in c.d["namespaces"]:
        for sa in ["default"] + list(c.d["serviceAccounts"].get(ns, [])):
            out.append({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": sa, "namespace": ns, "uid": c.rnd.uid(), "creationTimestamp": c.ts(age)}})
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "uid": c.rnd.uid(),
                                 "annotations": {"kubernetes.io/description": c.d["rootCADescription"]},
                                 "creationTimestamp": c.ts(age)},
                    "data": dict(c.d["rootCA"])})
    return out


def _plain(c: _Cluster) -> list[Obj]:
    out = []
    for raw in _subst(c.d["objects"], c.ctx):
        obj = copy.deepcopy(raw)
        obj["metadata"]["creationTimestamp"] = c.ts(_age(obj["metadata"]))
        obj["metadata"]["uid"] = c.rnd.uid()
        out.append(defaults.apply(obj["kind"], obj, c.defaults))
    return out


def _static_pods(c: _Cluster) -> list[Obj]:
    """The control plane's mirror pods: owned by its Node, named ``<component>-<node>``."""
    cp, cp_ip = c.cp, c.node_ip[c.cp]
    times = c.d["staticPodTimes"]
    pods = []
    for sp in _subst(c.d["staticPods"], dict(c.ctx, node=cp, node_ip=cp_ip)):
        container = dict(sp["container"], image=c.d["images"][sp["container"]["image"]])
        config_hash = c.rnd.hex(32)
        age = sp["age"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{sp['name']}-{cp}", "namespace": "kube-system",
                            "labels": sp["labels"],
                            "annotations": dict(sp.get("annotations") or {}, **{
                                "kubernetes.io/config.hash": config_hash, "kubernetes.io/config.mirror": config_hash,
                                "kubernetes.io/config.seen": c.micro(age + times["configSeen"]),
                                "kubernetes.io/config.source": "file"}),
                            "ownerReferences": [{"apiVersion": "v1", "controller": True, "kind": "Node",
                                                 "name": cp, "uid": c.node_uid[cp]}],
                            "uid": c.rnd.uid(), "creationTimestamp": c.ts(age)},
               "spec": dict(containers=[container], **copy.deepcopy(c.d["staticPodSpec"]), nodeName=cp)}
        pod["spec"] = dict(sorted(pod["spec"].items()))  # kind's field order
        defaults.apply("Pod", pod, c.defaults)
        pod["status"] = running_status(pod, cp_ip, cp_ip, c.ts(age + times["started"]), [c.rnd.hex(64)])
        pods.append(pod)
    return pods


def _daemonset(c: _Cluster, ds: Obj, age: float) -> tuple[list[Obj], list[Obj]]:
    """A DaemonSet, its ControllerRevision and its pods on every node."""
    times = c.d["workloadTimes"]["DaemonSet"]
    started = c.ts(age + times["started"])
    revision = c.rnd.suffix(naming.HASH_LENGTH)
    pods = []
    for node in c.names:
        pod = daemon_pod(ds, naming.generated(ds["metadata"]["name"], c.rnd.suffix()), node, revision, "1")
        c.created(pod, age + times["pods"])
        defaults.apply("Pod", pod, c.defaults)
        ip = c.node_ip[node]
        pod["status"] = running_status(pod, ip, ip, started, c.rnd.container_ids(pod))
        pods.append(pod)
    n = len(c.names)
    ds["status"] = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
                    "numberMisscheduled": 0, "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n}
    meta = ds["metadata"]
    cr = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
          "metadata": {"name": naming.generated(meta["name"], revision), "namespace": meta["namespace"],
                       "labels": dict(ds["spec"]["template"]["metadata"]["labels"], **{"controller-revision-hash": revision}),
                       "ownerReferences": [owner_ref(ds)]},
          "data": {"spec": {"template": {"$patch": "replace", **copy.deepcopy(ds["spec"]["template"])}}},
          "revision": 1}
    c.created(cr, age)
    return [ds, cr], pods


def _deployment(c: _Cluster, d: Obj, age: float) -> tuple[list[Obj], list[Obj]]:
    """A Deployment, its ReplicaSet and the pods, placed on nodes with a pod network."""
    times = c.d["workloadTimes"]["Deployment"]
    replicas = d["spec"]["replicas"]
    rs = replica_set_for(d, c.rnd.suffix(naming.HASH_LENGTH), replicas, 1)
    c.created(rs, age + times["replicaSet"])
    rs["metadata"]["generation"] = 1
    rs["status"] = {"availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 1,
                    "readyReplicas": replicas, "replicas": replicas}
    # coredns and local-path-provisioner tolerate the control-plane taint and are scheduled as soon as
    # the control plane's pod network is up, before a worker has joined: kind shows them there (pod IPs
    # 10.244.0.x). So a worker's failure or drain leaves cluster DNS running. (Other nodes only if the
    # control plane got no pod CIDR.)
    tolerating = [c.names[0]] if c.pod_cidr[c.names[0]] else [node for node in c.names if c.pod_cidr[node]]
    counters: dict[str, int] = {}
    pods = []
    for _ in range(replicas):
        node = c.rnd.rng.choice(tolerating)
        pod = pod_from_template(rs, naming.generated(rs["metadata"]["name"], c.rnd.suffix()), node)
        c.created(pod, age + times["pods"])
        defaults.apply("Pod", pod, c.defaults)
        counters[node] = counters.get(node, 1 + c.rnd.rng.randint(0, 2)) + 1
        ip, counters[node] = addresses.next_pod_ip(c.pod_cidr[node], c.pod_ips, counters[node] - 1)
        c.pod_ips.add(ip)  # another workload's pod on this node may hold the address already
        pod["status"] = running_status(pod, c.node_ip[node], ip, c.ts(age + times["started"]), c.rnd.container_ids(pod))
        pods.append(pod)
    ready = c.ts(age + times["started"])
    d["status"] = {"availableReplicas": replicas, "observedGeneration": 1, "readyReplicas": replicas,
                   "replicas": replicas, "updatedReplicas": replicas,
                   "conditions": [
                       {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.",
                        "lastTransitionTime": ready, "lastUpdateTime": ready},
                       {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                        "message": f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
                        "lastTransitionTime": c.ts(age), "lastUpdateTime": ready}]}
    return [d, rs], pods


def _workloads(c: _Cluster) -> tuple[list[Obj], list[Obj]]:
    """Every workload with what its controller made: (workloads and their children, pods)."""
    objs: list[Obj] = []
    pods: list[Obj] = []
    for raw in _subst(c.d["workloads"], c.ctx):
        wl = copy.deepcopy(raw)
        age = _age(wl["metadata"])
        wl["metadata"]["creationTimestamp"] = c.ts(age)
        wl["metadata"]["uid"] = c.rnd.uid()
        wl["metadata"]["generation"] = 1
        for container in wl["spec"]["template"]["spec"]["containers"]:
            container["image"] = c.d["images"][container["image"]]
        defaults.apply(wl["kind"], wl, c.defaults)
        made, its_pods = (_daemonset if wl["kind"] == "DaemonSet" else _deployment)(c, wl, age)
        objs += made
        pods += its_pods
    return objs, pods


def _endpoints(c: _Cluster, pods: list[Obj]) -> list[Obj]:
    """Each service's Endpoints, then each one's EndpointSlice."""
    cp_ip = c.node_ip[c.cp]
    addresses_of = {}
    for ep in c.d["endpoints"]:
        if "pods" not in ep:
            addresses_of[ep["service"]] = [{"ip": cp_ip}]
            continue
        owned = [p for p in pods if p["metadata"]["namespace"] == ep["namespace"]
                 and p["metadata"]["name"].startswith(ep["pods"] + "-")
                 and p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"]
        found = [{"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                  "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ep["namespace"],
                                "uid": p["metadata"]["uid"]}} for p in owned]
        addresses_of[ep["service"]] = sorted(found, key=lambda a: a["ip"])
    out: list[Obj] = []
    for ep in c.d["endpoints"]:
        out.append({"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": ep["service"], "namespace": ep["namespace"], "uid": c.rnd.uid(),
                                 "labels": dict(ep["labels"]), "creationTimestamp": c.ts(ep["age"])},
                    "subsets": [{"addresses": addresses_of[ep["service"]], "ports": copy.deepcopy(ep["ports"])}]})
    for ep in c.d["endpoints"]:
        found = addresses_of[ep["service"]]
        if "pods" not in ep:  # the API server's own slice, named as its service
            out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                        "metadata": {"name": ep["service"], "namespace": ep["namespace"], "uid": c.rnd.uid(),
                                     "generation": 1, "labels": dict(ep["sliceLabels"]), "creationTimestamp": c.ts(ep["age"])},
                        "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": True}} for a in found],
                        "ports": copy.deepcopy(ep["ports"])})
            continue
        out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                    "metadata": {"name": naming.generated(ep["service"], c.rnd.suffix()),
                                 "generateName": ep["service"] + "-", "namespace": ep["namespace"],
                                 "uid": c.rnd.uid(), "generation": 1, "creationTimestamp": c.ts(ep["age"]),
                                 "labels": dict(ep["sliceLabels"])},
                    "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": True, "serving": True, "terminating": False},
                                   "nodeName": a["nodeName"], "targetRef": a["targetRef"]} for a in found],
                    "ports": copy.deepcopy(ep["ports"])})
    return out


def _leases(c: _Cluster, nodes: dict[str, Obj]) -> list[Obj]:
    out: list[Obj] = []
    node_lease = c.d["leases"]["node"]
    for node in c.names:
        out.append({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": node, "namespace": "kube-node-lease", "uid": c.rnd.uid(),
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                                      "uid": c.node_uid[node]}],
                                 "creationTimestamp": nodes[node]["metadata"]["creationTimestamp"]},
                    "spec": {"holderIdentity": node, "leaseDurationSeconds": node_lease["leaseDurationSeconds"],
                             "renewTime": c.micro(c.rnd.rng.randint(1, node_lease["renewedWithin"]))}})
    comp = c.d["leases"]["components"]
    for component in comp["names"]:
        out.append({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": component, "namespace": "kube-system", "uid": c.rnd.uid(),
                                 "creationTimestamp": c.ts(comp["age"])},
                    "spec": {"holderIdentity": f"{c.cp}_{c.rnd.uid()}", "leaseDurationSeconds": comp["leaseDurationSeconds"],
                             "leaseTransitions": 0, "acquireTime": c.micro(comp["age"]),
                             "renewTime": c.micro(c.rnd.rng.randint(1, comp["renewedWithin"]))}})
    return out


def _event(c: _Cluster, node: str, when: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{node}.{c.rnd.hex(16)}", "namespace": "default", "uid": c.rnd.uid(),
                         "creationTimestamp": when}}


def _node_events(c: _Cluster) -> list[Obj]:
    """The events of each node's start (kubelet, kube-proxy, node controller), oldest first."""
    out: list[Obj] = []
    for node in c.names:
        base = c.d["node"]["ages"]["control-plane" if node == c.cp else "worker"]
        for step, ev in enumerate(_subst(c.d["node"]["events"], dict(c.ctx, node=node))):
            when = c.ts(base - step)
            kubelet = ev["component"] == "kubelet"
            out.append(dict(_event(c, node, when), **{
                "involvedObject": {"kind": "Node", "name": node, "uid": node if kubelet else c.node_uid[node]},
                "reason": ev["reason"], "message": ev["message"], "type": "Normal",
                "source": {"component": ev["component"], **({"host": node} if kubelet else {})},
                "firstTimestamp": when, "lastTimestamp": when, "count": 1,
                "reportingComponent": ev["component"],
                "reportingInstance": node if ev["component"] != "node-controller" else "", "eventTime": None}))
        if not c.pod_cidr[node]:  # the range allocator found no free /24 for it
            ev = addresses.CIDR_EVENT
            when = c.ts(base - 2)
            out.append(dict(_event(c, node, when), **{
                "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": c.node_uid[node]},
                "reason": ev["reason"], "message": ev["message"].format(node=node), "type": ev["type"],
                "source": {"component": ev["component"]}, "firstTimestamp": when, "lastTimestamp": when,
                "count": 1, "reportingComponent": ev["component"], "reportingInstance": "", "eventTime": None}))
    return out


RBAC_GROUP = "rbac.authorization.k8s.io"


@lru_cache(maxsize=1)
def rbac_defaults() -> dict[str, Any]:
    return load_yaml(Path(__file__).parent / "data" / "rbac-defaults.yaml")


def _rbac(c: _Cluster) -> list[Obj]:
    """The bootstrap ClusterRoles and ClusterRoleBindings (data/rbac-defaults.yaml); drawn after every
    other object, so that the rest of the cluster's names and uids are what they were before."""
    d = rbac_defaults()
    out: list[Obj] = []

    def meta(name: str, bootstrap: bool = True) -> Obj:
        extra = {"labels": dict(d["labels"]), "annotations": dict(d["annotations"])} if bootstrap else {}
        return {"name": name, **extra, "uid": c.rnd.uid(), "creationTimestamp": c.ts(d["age"])}

    for name, role in d["clusterRoles"].items():
        obj: Obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": meta(name)}
        if isinstance(role, dict):  # an aggregated role: its selector, and the rules aggregation gave it
            obj["aggregationRule"] = {"clusterRoleSelectors": [
                {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{role['aggregateTo']}": "true"}}]}
            role = role["rules"]
        # an entry that is a list is one of the shared rule lists (data/rbac-defaults.yaml's ruleLists)
        obj["rules"] = copy.deepcopy([rule for entry in role for rule in (entry if isinstance(entry, list) else [entry])])
        out.append(obj)
    for name, binding in d["clusterRoleBindings"].items():
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
                    "metadata": meta(name, binding.get("bootstrap", True)),
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": binding["role"]},
                    "subjects": [{"apiGroup": RBAC_GROUP, **subject} for subject in binding["subjects"]]})
    return out


def render(name: str = "course", workers: int = 2, seed: int = 0, now: datetime | None = None) -> list[Obj]:
    """The objects of a fresh kind cluster, in creation order (each with apiVersion and kind)."""
    if now is None:
        raise ValueError("render() needs `now` so that the same inputs give the same bytes")
    c = _Cluster(name, workers, now, _Seeded(seed, name, workers))
    out = _namespaces(c)
    nodes = {node: _node(c, index, node) for index, node in enumerate(c.names)}
    out += list(nodes.values())
    out += _accounts(c)
    out += _plain(c)
    static = _static_pods(c)
    workloads, pods = _workloads(c)
    out += workloads + static + pods
    out += _endpoints(c, pods)
    out += _leases(c, nodes)
    out += _node_events(c)
    out += _rbac(c)
    return out
