"""Render the initial state of a fresh GKE-like cluster (``start(profile="gke")``) from
``data/gke-cluster.yaml``.

Why a second state: the deploy lesson rehearses GKE (issue 18): ``kubectl get nodes -o wide``
should show what a learner sees after ``gcloud container clusters create NAME --zone ZONE`` and
``get-credentials``, and a ``type: LoadBalancer`` Service should get an external IP from a cloud
controller (``controllers/cloud.py``). What differs from kind is data (the YAML file); this module
only lays out what varies, and renders with ``kindstate``'s renderers (namespaces, accounts,
plain objects, workloads, endpoints, leases, node events: imported from it, private as they are,
because they are the same renderers), so the two states cannot drift apart.

What it is, as GKE shows it:
- one node pool ``default-pool`` of ``workers`` e2-medium nodes named as GKE names them,
  ``gke-<cluster>-default-pool-<8 hex: the pool's instance group>-<4 chars: the VM>``, with GKE's
  labels, ``providerID: gce://PROJECT/ZONE/NAME``, an InternalIP (10.128.0.0/20) and an ExternalIP
  (198.51.100.0/24, a documentation range), GKE's kubelet version, e2-medium's capacity and the
  allocatable GKE leaves after its reservations (940m CPU, ~2.75 GiB);
- no control-plane node (GKE hides it): the ``kubernetes`` Service's endpoint is the control
  plane's endpoint on port 443 (192.0.2.0/24, a documentation range);
- kube-system holds GKE's main system pods: kube-dns (+ its autoscaler), konnectivity-agent (one
  per node, up to 6), metrics-server-v1.32.2, event-exporter-gke, l7-default-backend, the
  DaemonSets fluentbit-gke, gke-metrics-agent and pdcsi-node, and kube-proxy as a static pod on
  every node (``kube-proxy-<node>``);
- pod CIDRs: a /24 per node of 10.52.0.0/14 (a 10.x /14 as GKE picks one), in registration order.

Defaults (``DEFAULTS``): project ``labkit-rehearsal``, zone ``us-central1-a`` (region
``us-central1``); ``start(name="cloud-kubernetes", profile="gke")`` is the cluster the outline's
``gcloud container clusters create cloud-kubernetes`` makes, and its kubeconfig context is
``gke_labkit-rehearsal_us-central1-a_cloud-kubernetes`` (:func:`context_name`), as
``gcloud container clusters get-credentials`` names it. The service range stays kind's
(10.96.0.0/16; a real GKE cluster's is chosen at creation, e.g. 34.118.224.0/20).
Same (name, workers, seed, now) -> the same objects, byte for byte.
"""
from __future__ import annotations

import copy
import string
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .datafile import load_yaml
from . import addresses, defaults, kindstate
from .kindstate import _Cluster, _Seeded
from .objects import running_status

Obj = dict[str, Any]
DATA = Path(__file__).parent / "data" / "gke-cluster.yaml"
VM_SUFFIX = string.ascii_lowercase + string.digits  # a GCE managed instance's 4-character suffix
MAX_NAME = 63   # a GCE instance name (and so the node name) has at most 63 characters
MAX_AGENTS = 6  # konnectivity-agent-autoscaler: one agent per node, up to this many
__all__ = ["DEFAULTS", "context_name", "data", "node_names", "region", "render"]


@lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    return load_yaml(DATA)


DEFAULTS: dict[str, str] = dict(data()["defaults"])


def region(zone: str) -> str:
    """``us-central1-a`` -> ``us-central1``."""
    return zone.rsplit("-", 1)[0]


def context_name(cluster: str, project: str = DEFAULTS["project"], zone: str = DEFAULTS["zone"]) -> str:
    """The kubeconfig context ``gcloud container clusters get-credentials`` writes."""
    return f"gke_{project}_{zone}_{cluster}"


def node_names(cluster: str, workers: int, rnd: _Seeded, pool: str = DEFAULTS["nodePool"]) -> list[str]:
    """GKE's node names: ``gke-<cluster>-<pool>-<instance group hash>-<vm suffix>``. GKE shortens
    the cluster part of a long name; its exact rule is not modelled: here it is cut only as far as
    GCE's 63-character limit on an instance name needs."""
    group = rnd.hex(8)
    tail = f"-{pool}-{group}-xxxx"
    short = cluster[:max(1, MAX_NAME - len("gke-") - len(tail))]
    names: list[str] = []
    while len(names) < workers:
        vm = "".join(rnd.rng.choice(VM_SUFFIX) for _ in range(4))
        name = f"gke-{short}-{pool}-{group}-{vm}"
        if name not in names:
            names.append(name)
    return names


@dataclass
class _GkeCluster(_Cluster):
    """kindstate's cluster layout with GKE's nodes, addresses and no control-plane node."""

    project: str = DEFAULTS["project"]
    zone: str = DEFAULTS["zone"]
    external_ip: dict[str, str] = field(default_factory=dict)
    endpoint: str = ""
    control_plane: str = ""

    def __post_init__(self) -> None:
        self.names = node_names(self.name, self.workers, self.rnd)
        internal, external = addresses.gke_node_ips(len(self.names), self.rnd.rng)
        self.node_ip = dict(zip(self.names, internal))
        self.external_ip = dict(zip(self.names, external))
        registered = list(range(len(self.names)))
        self.rnd.rng.shuffle(registered)
        cidrs = addresses.pod_cidrs(len(self.names), addresses.GKE_CLUSTER_CIDR)
        self.pod_cidr = {node: cidrs[order] for node, order in zip(self.names, registered)}
        self.endpoint = addresses.control_plane_endpoint(self.rnd.rng)
        # the hidden control plane: the name its leader-elected components hold their leases by,
        # and (for kindstate's renderers) the address of the `kubernetes` endpoint
        self.control_plane = f"gke-{self.rnd.hex(20)}-{self.rnd.hex(4)}-vm"
        self.node_ip[self.control_plane] = self.endpoint
        self.defaults = defaults.DefaultContext(suffix=self.rnd.suffix, cluster_ip=lambda: "",
                                                node_port=lambda taken: 30000)

    @property
    def cp(self) -> str:
        return self.control_plane

    @property
    def ctx(self) -> dict[str, str]:
        return {"name": self.name, "cp": self.cp, "version": self.d["kubernetesVersion"], "project": self.project,
                "zone": self.zone, "region": region(self.zone), "endpoint": self.endpoint,
                "cluster_cidr": str(addresses.GKE_CLUSTER_CIDR)}


def _node(c: _GkeCluster, index: int, node: str) -> Obj:
    nd = kindstate._subst(c.d["node"], dict(c.ctx, node=node))
    age = nd["ages"]["worker"] - index * nd["workerStagger"]
    cidr = c.pod_cidr[node]
    spec: Obj = {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"gce://{c.project}/{c.zone}/{node}"}
    conditions, info = kindstate.node_status_draws(c, nd, age)
    instance_id = str(c.rnd.rng.randint(10 ** 18, 10 ** 19 - 1))
    annotations = dict(nd["annotations"], **{
        "container.googleapis.com/instance_id": instance_id,
        "csi.volume.kubernetes.io/nodeid": f'{{"pd.csi.storage.gke.io":"projects/{c.project}/zones/{c.zone}/instances/{node}"}}'})
    addresses = [{"address": c.node_ip[node], "type": "InternalIP"}, {"address": c.external_ip[node], "type": "ExternalIP"},
                 {"address": f"{node}.{c.zone}.c.{c.project}.internal", "type": "InternalDNS"},
                 {"address": node, "type": "Hostname"}]
    return kindstate.node_object(c, nd, node, age, nd["labels"], annotations, spec, addresses, nd["allocatable"],
                                 conditions, info)


def _static_pods(c: _GkeCluster) -> list[Obj]:
    """kube-proxy on every node: mirror pods owned by their Node, named ``kube-proxy-<node>``."""
    times = c.d["staticPodTimes"]
    pods = []
    for node in c.names:
        ip = c.node_ip[node]
        for sp in kindstate._subst(c.d["staticPods"], dict(c.ctx, node=node, node_ip=ip)):
            container = dict(sp["container"], image=c.d["images"][sp["container"]["image"]])
            config_hash = c.rnd.hex(32)
            age = sp["age"]
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": f"{sp['name']}-{node}", "namespace": "kube-system", "labels": sp["labels"],
                                "annotations": {"kubernetes.io/config.hash": config_hash,
                                                "kubernetes.io/config.mirror": config_hash,
                                                "kubernetes.io/config.seen": c.micro(age + times["configSeen"]),
                                                "kubernetes.io/config.source": "file"},
                                "ownerReferences": [{"apiVersion": "v1", "controller": True, "kind": "Node",
                                                     "name": node, "uid": c.node_uid[node]}],
                                "uid": c.rnd.uid(), "creationTimestamp": c.ts(age)},
                   "spec": dict(containers=[container], **copy.deepcopy(c.d["staticPodSpec"]), nodeName=node)}
            pod["spec"] = dict(sorted(pod["spec"].items()))
            defaults.apply("Pod", pod, c.defaults)
            pod["status"] = running_status(pod, ip, ip, c.ts(age + times["started"]), [c.rnd.hex(64)])
            pods.append(pod)
    return pods


def render(name: str = "cloud-kubernetes", workers: int = 3, seed: int = 0, now: datetime | None = None, *,
           project: str = DEFAULTS["project"], zone: str = DEFAULTS["zone"]) -> list[Obj]:
    """The objects of a fresh GKE-like cluster, in creation order (each with apiVersion and kind)."""
    if now is None:
        raise ValueError("render() needs `now` so that the same inputs give the same bytes")
    if workers < 1:
        raise ValueError("a GKE node pool needs at least 1 node (gcloud's default is 3)")
    d = copy.deepcopy(data())
    for wl in d["workloads"]:
        if wl["spec"].get("replicas") == "nodes":
            wl["spec"]["replicas"] = min(workers, MAX_AGENTS)
    c = _GkeCluster(name, workers, now, _Seeded(seed, "gke/" + name, workers), d, project=project, zone=zone)
    out = kindstate._namespaces(c)
    nodes = {node: _node(c, index, node) for index, node in enumerate(c.names)}
    out += list(nodes.values())
    out += kindstate._accounts(c)
    out += kindstate._plain(c)
    static = _static_pods(c)
    workloads, pods = kindstate._workloads(c)
    out += workloads + static + pods
    out += kindstate._endpoints(c, pods)
    out += kindstate._leases(c, nodes)
    out += kindstate._node_events(c)
    return out
