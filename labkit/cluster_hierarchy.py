"""The cluster -> node -> pod -> container hierarchy as plain data: read it, and print it as text.

Why a module of its own: lesson 3 looks at one cluster from three sides (``kubectl``, the
official Python client, pictures), and every view must stay true to the live cluster, kind
or the course's emulator alike. So everything here talks to the cluster only through the
official client's ``CoreV1Api`` (what ``labkit.cluster.connect().core`` is) and the public
Kubernetes API: nothing is emulator-only, and nothing here needs a widget.

:func:`nodes` (the cluster's nodes as :class:`NodeInfo`), :func:`pods_on` (the pods one node
runs, as :class:`PodInfo` with their :class:`ContainerInfo`), :func:`unscheduled_pods`, and
:func:`text_tree` (the hierarchy as indented text). :func:`node_info` and :func:`pod_info` turn
client objects into those. The views over this data are :mod:`labkit.cluster_tree` (the tree
widget and the picture); generated clusters to practise on are :mod:`labkit.practice_clusters`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labkit.kubesim import quantity as _quantity

__all__ = [
    "ContainerInfo", "PodInfo", "NodeInfo", "node_info", "pod_info", "nodes", "pods_on", "unscheduled_pods", "text_tree",
    "node_line", "pod_line", "container_line", "natural_key", "get_field", "quantity", "ROLE_LABEL", "MIRROR_ANNOTATION",
]

ROLE_LABEL = "node-role.kubernetes.io/"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def natural_key(text: str) -> tuple:
    """Sort key that puts ``worker2`` before ``worker10`` (as a person would)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


def quantity(text: str | int | float | None) -> float | None:
    """A Kubernetes quantity as a number: ``"32866492Ki"`` -> bytes, ``"500m"`` -> 0.5, ``"8"`` -> 8.

    The parsing is the emulator's (:func:`labkit.kubesim.quantity.parse`, one parser for the
    course); this only adds what a reader of node and pod fields needs: ``None`` for a field
    that is not set, a float, and a message that says what was wrong.
    """
    if text is None:
        return None
    try:
        return float(_quantity.parse(text))
    except ValueError:
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from None


@dataclass(frozen=True)
class ContainerInfo:
    """One container of a pod: what it runs (spec) and how it is doing (status)."""

    name: str
    image: str
    ready: bool
    restarts: int
    state: str  # "running", "waiting: ImagePullBackOff", "terminated: Completed", "unknown"


@dataclass(frozen=True)
class PodInfo:
    """One pod: where it runs, its own IP (or its node's, with hostNetwork), who made it."""

    namespace: str
    name: str
    node: str | None
    ip: str | None
    phase: str
    host_network: bool
    owner: str | None  # "ReplicaSet/web-5d9c...", "DaemonSet/kindnet", "Node/<node>" (a static pod), None
    mirror: bool  # a static pod's mirror: the kubelet runs it from a file on the node
    containers: tuple[ContainerInfo, ...] = ()
    terminating: bool = False  # deleted (metadata.deletionTimestamp set), its containers not yet stopped

    @property
    def status(self) -> str:
        """What kubectl's STATUS column leads with: ``Terminating`` once deleted, else the phase, and
        ``not ready`` for a Running pod one of whose containers is not ready (no Service traffic)."""
        if self.terminating:
            return "Terminating"
        if self.phase == "Running" and self.containers and not all(c.ready for c in self.containers):
            return "Running, not ready"
        return self.phase

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class NodeInfo:
    """One node: a machine (a kind node is a Docker container) that runs pods."""

    name: str
    roles: tuple[str, ...]
    internal_ip: str | None
    pod_cidr: str | None
    cpu: str | None
    memory: str | None
    max_pods: str | None
    ready: bool

    @property
    def role(self) -> str:
        """``control-plane`` or ``worker`` (kubectl shows a worker's ROLES as ``<none>``)."""
        return ",".join(self.roles) if self.roles else "worker"

    @property
    def memory_gib(self) -> float | None:
        value = quantity(self.memory)
        return None if value is None else value / 2**30

    def cidr_text(self) -> str:
        """``pods 10.244.3.0/24``, or ``no pod CIDR`` (a node the cluster CIDR had no room for)."""
        return f"pods {self.pod_cidr}" if self.pod_cidr else "no pod CIDR"

    def capacity_text(self) -> str:
        memory = f"{self.memory_gib:.1f} GiB" if self.memory_gib is not None else "? GiB"
        return f"{self.cpu or '?'} CPU, {memory}, up to {self.max_pods or '?'} pods"


def get_field(obj: Any, *names: str) -> Any:
    """Follow attributes, stopping at the first None (client objects leave unset fields None)."""
    for name in names:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def node_info(node: Any) -> NodeInfo:
    """A client ``V1Node`` as a :class:`NodeInfo`."""
    labels = get_field(node, "metadata", "labels") or {}
    roles = tuple(sorted(key[len(ROLE_LABEL):] for key in labels if key.startswith(ROLE_LABEL)))
    addresses = get_field(node, "status", "addresses") or []
    internal = next((a.address for a in addresses if a.type == "InternalIP"), None)
    capacity = get_field(node, "status", "capacity") or {}
    conditions = get_field(node, "status", "conditions") or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    return NodeInfo(
        name=node.metadata.name, roles=roles, internal_ip=internal, pod_cidr=get_field(node, "spec", "pod_cidr"),
        cpu=capacity.get("cpu"), memory=capacity.get("memory"), max_pods=capacity.get("pods"), ready=ready,
    )


def _state(status: Any) -> str:
    state = get_field(status, "state")
    if state is None:
        return "unknown"
    if state.running is not None:
        return "running"
    if state.waiting is not None:
        return f"waiting: {state.waiting.reason or '?'}"
    if state.terminated is not None:
        return f"terminated: {state.terminated.reason or state.terminated.exit_code}"
    return "unknown"


def pod_info(pod: Any) -> PodInfo:
    """A client ``V1Pod`` as a :class:`PodInfo` (containers in the order of the pod's spec)."""
    statuses = {s.name: s for s in (get_field(pod, "status", "container_statuses") or [])}
    containers = []
    for container in get_field(pod, "spec", "containers") or []:
        status = statuses.get(container.name)
        containers.append(ContainerInfo(
            name=container.name, image=container.image, ready=bool(get_field(status, "ready")),
            restarts=int(get_field(status, "restart_count") or 0), state=_state(status),
        ))
    owners = get_field(pod, "metadata", "owner_references") or []
    controller = next((o for o in owners if o.controller), owners[0] if owners else None)
    annotations = get_field(pod, "metadata", "annotations") or {}
    return PodInfo(
        namespace=pod.metadata.namespace, name=pod.metadata.name, node=get_field(pod, "spec", "node_name"),
        ip=get_field(pod, "status", "pod_ip"), phase=get_field(pod, "status", "phase") or "Unknown",
        host_network=bool(get_field(pod, "spec", "host_network")),
        owner=f"{controller.kind}/{controller.name}" if controller else None,
        mirror=MIRROR_ANNOTATION in annotations, containers=tuple(containers),
        terminating=get_field(pod, "metadata", "deletion_timestamp") is not None,
    )


def nodes(core: Any) -> list[NodeInfo]:
    """The cluster's nodes, control plane first, then workers in natural order (one API call)."""
    found = [node_info(node) for node in core.list_node().items]
    return sorted(found, key=lambda n: (n.role == "worker", natural_key(n.name)))


def pods_on(core: Any, node: str, label_selector: str | None = None) -> list[PodInfo]:
    """The pods bound to one node, by namespace and name (one API call, filtered by the server);
    ``label_selector`` (``app=web``) keeps only those pods."""
    extra = {"label_selector": label_selector} if label_selector else {}
    listed = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}", **extra).items
    return sorted((pod_info(pod) for pod in listed), key=lambda p: (p.namespace, natural_key(p.name)))


def unscheduled_pods(core: Any) -> list[PodInfo]:
    """Pods that no node has taken yet (``spec.nodeName`` empty): the scheduler's to-do list."""
    listed = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=").items
    return sorted((pod_info(pod) for pod in listed), key=lambda p: (p.namespace, natural_key(p.name)))


def node_line(node: NodeInfo) -> str:
    """One node as one line of text (the text tree and the tree widget both show it so)."""
    ready = "" if node.ready else ", NotReady"
    return f"node {node.name} ({node.role}{ready}, IP {node.internal_ip}, {node.cidr_text()}; {node.capacity_text()})"


def pod_line(pod: PodInfo) -> str:
    """One pod as one line: its name, phase, IP and where the IP comes from."""
    how = "node's IP: hostNetwork" if pod.host_network else "its own IP"
    return f"pod {pod.key}  {pod.status}, IP {pod.ip or '-'} ({how})"


def container_line(container: ContainerInfo) -> str:
    """One container as one line: its image, readiness, restarts and state."""
    ready = "ready" if container.ready else "not ready"
    return f"container {container.name}  {container.image}  {ready}, {container.restarts} restarts, {container.state}"


def text_tree(core: Any, cluster: str = "cluster", max_nodes: int | None = None,
              max_pods: int | None = None) -> str:
    """The hierarchy as indented text, like the ``tree`` command (one call per node shown)."""
    listed = nodes(core)
    lines = [f"{cluster}: {len(listed)} nodes"]
    shown = listed if max_nodes is None else listed[:max_nodes]
    for node in shown:
        lines.append(f"└─ {node_line(node)}")
        pods = pods_on(core, node.name)
        for pod in pods if max_pods is None else pods[:max_pods]:
            lines.append(f"   └─ {pod_line(pod)}")
            lines.extend(f"      └─ {container_line(c)}" for c in pod.containers)
        if max_pods is not None and len(pods) > max_pods:
            lines.append(f"   └─ ... and {len(pods) - max_pods} more pods")
    if len(shown) < len(listed):
        lines.append(f"└─ ... and {len(listed) - len(shown)} more nodes")
    return "\n".join(lines)
