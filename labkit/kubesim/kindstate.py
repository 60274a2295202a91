"""Render the initial state of a fresh kind cluster from ``data/kind-cluster.yaml``.

Why this split: *what* a fresh kind cluster contains (namespaces, nodes' labels and taints,
system pods, services, config maps) is data a reviewer can compare with a real cluster; this
module only fills in what varies (names, IPs, uids, hashes, ages) from a seeded random source,
and builds the pods, replica sets and endpoints the way kind's controllers would have.
Same (name, workers, seed, now) -> the same objects, byte for byte.

The helpers ``pod_from_template`` and ``running_status`` are also what the controllers and
kubelet of the next issue need, so they are public.
"""
from __future__ import annotations

import copy
import hashlib
import random
import string
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from . import addresses, defaults
from .clock import micro_stamp, stamp

Obj = dict[str, Any]
DATA = Path(__file__).parent / "data" / "kind-cluster.yaml"
ALNUM = "bcdfghjklmnpqrstvwxz2456789"


@lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    return yaml.safe_load(DATA.read_text())


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

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(ALNUM) for _ in range(n))

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))


def node_names(name: str, workers: int) -> list[str]:
    """kind's naming: ``<name>-control-plane``, ``<name>-worker``, ``<name>-worker2``, ..."""
    return [f"{name}-control-plane"] + [f"{name}-worker" + (str(i + 1) if i else "") for i in range(workers)]


def image_id(image: str) -> str:
    repo = image.rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


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


def owner_ref(owner: Obj, block: bool = True) -> Obj:
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": True}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


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
        extra = [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                 ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                 ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")]
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
        pod["metadata"]["generateName"] = name.rsplit("-", 1)[0] + "-"
    return pod


def render(name: str = "course", workers: int = 2, seed: int = 0, now: datetime | None = None) -> list[Obj]:
    """The objects of a fresh kind cluster, in creation order (each with apiVersion and kind)."""
    if now is None:
        raise ValueError("render() needs `now` so that the same inputs give the same bytes")
    d = data()
    rnd = _Seeded(seed, name, workers)
    names = node_names(name, workers)
    cp = names[0]
    # Docker starts the node containers in parallel, so which node gets which address is seeded;
    # the control plane registers first, then the workers in a seeded order, each taking the next
    # free /24 (none once the cluster CIDR is used up).
    ips = addresses.node_ips(len(names))
    rnd.rng.shuffle(ips)
    registered = list(range(1, len(names)))
    rnd.rng.shuffle(registered)
    cidrs = addresses.pod_cidrs(len(names))
    node_ip = dict(zip(names, ips))
    pod_cidr = {node: cidrs[order] for node, order in zip(names, [0] + registered)}
    images = d["images"]
    version = d["kubernetesVersion"]
    ctx = {"name": name, "cp": cp, "version": version}

    def ts(age: float) -> str:
        return stamp(now - timedelta(seconds=age))

    def meta_age(meta: Obj) -> float:
        return float(meta.pop("age", 100))

    out: list[Obj] = []
    dctx = defaults.DefaultContext(suffix=rnd.suffix, cluster_ip=lambda: "", node_port=lambda taken: 30000)

    # namespaces
    for ns in d["namespaces"]:
        obj = {"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns, "uid": rnd.uid(), "creationTimestamp": ts(118 if ns != "local-path-storage" else 115)}}
        out.append(defaults.apply("Namespace", obj, dctx))

    # nodes
    node_objs = {}
    for index, node in enumerate(names):
        nctx = dict(ctx, node=node, node_ip=node_ip[node])
        nd = _subst(d["node"], nctx)
        role = "control-plane" if index == 0 else "worker"
        age = nd["ages"][role] - (index - 1) * 2 if index else nd["ages"][role]
        labels = dict(nd["labels"])
        annotations = dict(nd["annotations"])
        annotations["kubeadm.alpha.kubernetes.io/cri-socket"] = "unix:///run/containerd/containerd.sock"
        spec: Obj = {"podCIDR": pod_cidr[node]} if pod_cidr[node] else {}
        spec["providerID"] = f"kind://docker/{name}/{node}"
        if pod_cidr[node]:
            spec["podCIDRs"] = [pod_cidr[node]]
        if index == 0:
            labels.update(nd["controlPlane"]["labels"])
            spec["taints"] = copy.deepcopy(nd["controlPlane"]["taints"])
        heartbeat = ts(5 + rnd.rng.randint(0, 9))
        conditions = [dict(c, lastHeartbeatTime=heartbeat, lastTransitionTime=ts(age - (0 if c["type"] != "Ready" else 14)))
                      for c in nd["conditions"]]
        info = dict(nd["nodeInfo"], bootID=rnd.uid(), machineID=rnd.hex(32), systemUUID=rnd.uid())
        obj = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": node, "uid": rnd.uid(), "creationTimestamp": ts(age),
                            "labels": dict(sorted(labels.items())), "annotations": dict(sorted(annotations.items()))},
               "spec": spec,
               "status": {"addresses": [{"address": node_ip[node], "type": "InternalIP"},
                                        {"address": node, "type": "Hostname"}],
                          "allocatable": dict(nd["capacity"]), "capacity": dict(nd["capacity"]),
                          "conditions": conditions,
                          "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                          "images": [{"names": [image_id(images[k]), images[k]], "sizeBytes": 20_000_000 + 1_000_000 * i}
                                     for i, k in enumerate(sorted(images))],
                          "nodeInfo": info}}
        node_objs[node] = obj
        out.append(obj)

    # service accounts and root CA config maps
    for ns in d["namespaces"]:
        for sa in ["default"] + list(d["serviceAccounts"].get(ns, [])):
            out.append({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": sa, "namespace": ns, "uid": rnd.uid(), "creationTimestamp": ts(110)}})
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "uid": rnd.uid(),
                                 "annotations": {"kubernetes.io/description": (
                                     "Contains a CA bundle that can be used to verify the kube-apiserver when "
                                     "using internal endpoints such as the internal service IP or "
                                     "kubernetes.default.svc. No other usage is guaranteed across distributions "
                                     "of Kubernetes clusters.")},
                                 "creationTimestamp": ts(110)},
                    "data": dict(d["rootCA"])})

    # plain objects
    for raw in _subst(d["objects"], ctx):
        obj = copy.deepcopy(raw)
        obj["metadata"]["creationTimestamp"] = ts(meta_age(obj["metadata"]))
        obj["metadata"]["uid"] = rnd.uid()
        out.append(defaults.apply(obj["kind"], obj, dctx))

    # static pods on the control plane
    pods: list[Obj] = []
    cp_ip = node_ip[cp]
    for sp in _subst(d["staticPods"], dict(ctx, node=cp, node_ip=cp_ip)):
        container = dict(sp["container"], image=images[sp["container"]["image"]])
        config_hash = rnd.hex(32)
        age = sp["age"]
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{sp['name']}-{cp}", "namespace": "kube-system",
                            "labels": sp["labels"],
                            "annotations": dict(sp.get("annotations") or {}, **{
                                "kubernetes.io/config.hash": config_hash, "kubernetes.io/config.mirror": config_hash,
                                "kubernetes.io/config.seen": micro_stamp(now - timedelta(seconds=age + 2)),
                                "kubernetes.io/config.source": "file"}),
                            "ownerReferences": [{"apiVersion": "v1", "controller": True, "kind": "Node",
                                                 "name": cp, "uid": node_objs[cp]["metadata"]["uid"]}],
                            "uid": rnd.uid(), "creationTimestamp": ts(age)},
               "spec": {"containers": [container], "hostNetwork": True, "nodeName": cp,
                        "priority": 2000001000, "priorityClassName": "system-node-critical",
                        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                        "tolerations": [{"effect": "NoExecute", "operator": "Exists"}]}}
        defaults.apply("Pod", pod, dctx)
        pod["status"] = running_status(pod, cp_ip, cp_ip, ts(age + 3), [rnd.hex(64)])
        pods.append(pod)

    # workloads and what their controllers made
    extra: list[Obj] = []
    endpoints_pods: list[Obj] = []
    # coredns and local-path-provisioner tolerate the control-plane taint; they run on nodes that
    # had a pod CIDR (and so a working pod network) when they were scheduled
    tolerating = [node for node in names if pod_cidr[node]]
    pod_ips: set[str] = set()
    for raw in _subst(d["workloads"], ctx):
        wl = copy.deepcopy(raw)
        age = meta_age(wl["metadata"])
        wl["metadata"]["creationTimestamp"] = ts(age)
        wl["metadata"]["uid"] = rnd.uid()
        wl["metadata"]["generation"] = 1
        for c in wl["spec"]["template"]["spec"]["containers"]:
            c["image"] = images[c["image"]]
        defaults.apply(wl["kind"], wl, dctx)
        started = ts(age - 8)
        if wl["kind"] == "DaemonSet":
            revision = rnd.suffix(10)
            for node in names:
                pod = pod_from_template(wl, f"{wl['metadata']['name']}-{rnd.suffix()}", node,
                                        {"controller-revision-hash": revision, "pod-template-generation": "1"})
                pod["metadata"]["generateName"] = wl["metadata"]["name"] + "-"
                pod["metadata"]["uid"] = rnd.uid()
                pod["metadata"]["creationTimestamp"] = ts(age - 2)
                defaults.apply("Pod", pod, dctx)
                ip = node_ip[node]
                pod["status"] = running_status(pod, ip, ip, started, [rnd.hex(64) for _ in pod["spec"]["containers"]])
                pods.append(pod)
            n = len(names)
            wl["status"] = {"currentNumberScheduled": n, "desiredNumberScheduled": n, "numberAvailable": n,
                            "numberMisscheduled": 0, "numberReady": n, "observedGeneration": 1,
                            "updatedNumberScheduled": n}
            extra.append(wl)
            extra.append({"apiVersion": "apps/v1", "kind": "ControllerRevision",
                          "metadata": {"name": f"{wl['metadata']['name']}-{revision}", "namespace": wl["metadata"]["namespace"],
                                       "labels": dict(wl["spec"]["template"]["metadata"]["labels"], **{"controller-revision-hash": revision}),
                                       "ownerReferences": [owner_ref(wl)], "uid": rnd.uid(), "creationTimestamp": ts(age)},
                          "data": {"spec": {"template": {"$patch": "replace", **copy.deepcopy(wl["spec"]["template"])}}},
                          "revision": 1})
        else:  # Deployment -> ReplicaSet -> pods
            replicas = wl["spec"]["replicas"]
            hash_ = rnd.suffix(10)
            rs_labels = dict(wl["spec"]["template"]["metadata"]["labels"], **{"pod-template-hash": hash_})
            rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                  "metadata": {"name": f"{wl['metadata']['name']}-{hash_}", "namespace": wl["metadata"]["namespace"],
                               "labels": rs_labels,
                               "annotations": {"deployment.kubernetes.io/desired-replicas": str(replicas),
                                               "deployment.kubernetes.io/max-replicas": str(replicas + 1),
                                               "deployment.kubernetes.io/revision": "1"},
                               "ownerReferences": [owner_ref(wl)], "uid": rnd.uid(),
                               "creationTimestamp": ts(age - 1), "generation": 1},
                  "spec": {"replicas": replicas,
                           "selector": {"matchLabels": dict(wl["spec"]["selector"]["matchLabels"], **{"pod-template-hash": hash_})},
                           "template": copy.deepcopy(wl["spec"]["template"])}}
            rs["spec"]["template"]["metadata"]["labels"] = dict(rs_labels)
            rs["status"] = {"availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 1,
                            "readyReplicas": replicas, "replicas": replicas}
            counters: dict[str, int] = {}
            for _ in range(replicas):
                node = rnd.rng.choice(tolerating)
                pod = pod_from_template(rs, f"{rs['metadata']['name']}-{rnd.suffix()}", node)
                pod["metadata"]["uid"] = rnd.uid()
                pod["metadata"]["creationTimestamp"] = ts(age - 2)
                defaults.apply("Pod", pod, dctx)
                counters[node] = counters.get(node, 1 + rnd.rng.randint(0, 2)) + 1
                ip, counters[node] = addresses.next_pod_ip(pod_cidr[node], pod_ips, counters[node] - 1)
                pod_ips.add(ip)  # another workload's pod on this node may hold the address already
                pod["status"] = running_status(pod, node_ip[node], ip, ts(age - 20),
                                               [rnd.hex(64) for _ in pod["spec"]["containers"]])
                pods.append(pod)
                if wl["metadata"]["name"] == "coredns":
                    endpoints_pods.append(pod)
            wl["status"] = {"availableReplicas": replicas, "observedGeneration": 1, "readyReplicas": replicas,
                            "replicas": replicas, "updatedReplicas": replicas,
                            "conditions": [
                                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                 "message": "Deployment has minimum availability.",
                                 "lastTransitionTime": ts(age - 20), "lastUpdateTime": ts(age - 20)},
                                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                 "message": f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.',
                                 "lastTransitionTime": ts(age), "lastUpdateTime": ts(age - 20)}]}
            extra += [wl, rs]
    out += extra + pods

    # endpoints and endpoint slices of the two services
    dns_ports = [{"name": "dns-tcp", "port": 53, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"},
                 {"name": "metrics", "port": 9153, "protocol": "TCP"}]
    dns_addresses = [{"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                      "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "kube-system",
                                    "uid": p["metadata"]["uid"]}} for p in endpoints_pods]
    dns_addresses.sort(key=lambda a: a["ip"])
    out.append({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kubernetes", "namespace": "default", "uid": rnd.uid(),
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}, "creationTimestamp": ts(118)},
                "subsets": [{"addresses": [{"ip": cp_ip}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]})
    out.append({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": "kube-dns", "namespace": "kube-system", "uid": rnd.uid(),
                             "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                        "kubernetes.io/name": "CoreDNS"}, "creationTimestamp": ts(116)},
                "subsets": [{"addresses": dns_addresses, "ports": dns_ports}]})
    out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": "kubernetes", "namespace": "default", "uid": rnd.uid(), "generation": 1,
                             "labels": {"kubernetes.io/service-name": "kubernetes"}, "creationTimestamp": ts(118)},
                "endpoints": [{"addresses": [cp_ip], "conditions": {"ready": True}}],
                "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]})
    out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"kube-dns-{rnd.suffix()}", "generateName": "kube-dns-", "namespace": "kube-system",
                             "uid": rnd.uid(), "generation": 1, "creationTimestamp": ts(116),
                             "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                                        "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                        "kubernetes.io/name": "CoreDNS", "kubernetes.io/service-name": "kube-dns"}},
                "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": True, "serving": True, "terminating": False},
                               "nodeName": a["nodeName"], "targetRef": a["targetRef"]} for a in dns_addresses],
                "ports": dns_ports})

    # node leases and events
    for node in names:
        out.append({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": node, "namespace": "kube-node-lease", "uid": rnd.uid(),
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                                      "uid": node_objs[node]["metadata"]["uid"]}],
                                 "creationTimestamp": node_objs[node]["metadata"]["creationTimestamp"]},
                    "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                             "renewTime": micro_stamp(now - timedelta(seconds=rnd.rng.randint(1, 9)))}})
    for component in ("kube-controller-manager", "kube-scheduler"):
        out.append({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": component, "namespace": "kube-system", "uid": rnd.uid(), "creationTimestamp": ts(117)},
                    "spec": {"holderIdentity": f"{cp}_{rnd.uid()}", "leaseDurationSeconds": 15, "leaseTransitions": 0,
                             "acquireTime": micro_stamp(now - timedelta(seconds=117)),
                             "renewTime": micro_stamp(now - timedelta(seconds=rnd.rng.randint(1, 2)))}})
    for node in names:
        nd = node_objs[node]
        base = 120 if node == cp else 100
        for step, ev in enumerate(_subst(d["node"]["events"], dict(ctx, node=node))):
            when = ts(base - step)
            out.append({"apiVersion": "v1", "kind": "Event",
                        "metadata": {"name": f"{node}.{rnd.hex(16)}", "namespace": "default", "uid": rnd.uid(),
                                     "creationTimestamp": when},
                        "involvedObject": {"kind": "Node", "name": node, "uid": node if ev["component"] == "kubelet" else nd["metadata"]["uid"]},
                        "reason": ev["reason"], "message": ev["message"], "type": "Normal",
                        "source": {"component": ev["component"], **({"host": node} if ev["component"] == "kubelet" else {})},
                        "firstTimestamp": when, "lastTimestamp": when, "count": 1,
                        "reportingComponent": ev["component"], "reportingInstance": node if ev["component"] != "node-controller" else "",
                        "eventTime": None})
        if not pod_cidr[node]:  # the range allocator found no free /24 for it
            ev = addresses.CIDR_EVENT
            when = ts(base - 2)
            out.append({"apiVersion": "v1", "kind": "Event",
                        "metadata": {"name": f"{node}.{rnd.hex(16)}", "namespace": "default", "uid": rnd.uid(),
                                     "creationTimestamp": when},
                        "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": node, "uid": nd["metadata"]["uid"]},
                        "reason": ev["reason"], "message": ev["message"].format(node=node), "type": ev["type"],
                        "source": {"component": ev["component"]}, "firstTimestamp": when, "lastTimestamp": when,
                        "count": 1, "reportingComponent": ev["component"], "reportingInstance": "", "eventTime": None})
    return out
