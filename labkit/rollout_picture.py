"""Where one app's pods run, node by node: a snapshot as data, as text and as a picture.

Why a module of its own: lesson 5 asks what happens to an app's replicas when a node dies, is
drained or a rollout replaces them, and a learner would rather look at the pods on their nodes,
before and after, than compare two ``kubectl get pods -o wide`` listings. The hierarchy picture of
:mod:`labkit.cluster_tree` draws every pod of every namespace (kindnet, kube-proxy, ...), so one
app's few pods get lost among them; this picture draws only the pods a label selector picks, each
node with what matters for availability (its zone, Ready or NotReady, cordoned), and each pod
with the STATUS kubectl would print (``Running``, ``Terminating``, ``ImagePullBackOff``,
``Pending``) and whether it is ready (it gets a Service's traffic).

Like :mod:`labkit.cluster_hierarchy`, it reads the cluster only through the official client's
``CoreV1Api`` (``connect().core``) and the public Kubernetes API, so it is the same on kind and on
the emulator.

- :func:`snapshot`: the nodes and the selected pods, now (two API calls);
- :func:`snapshot_text`: the same as a few lines of text;
- :func:`placement_figure` / :func:`picture`: one panel per snapshot, side by side (before, after).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from labkit.cluster_hierarchy import ROLE_LABEL, get_field, natural_key
from labkit.figures import png_image

__all__ = ["AppPod", "NodeColumn", "Snapshot", "pod_status", "snapshot", "snapshot_text", "placement_figure", "picture",
           "ZONE_LABEL"]

ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class AppPod:
    """One selected pod: its name, the STATUS kubectl shows, and whether it is Ready."""

    name: str
    status: str
    ready: bool
    node: str | None


@dataclass(frozen=True)
class NodeColumn:
    """One node: its name and zone, Ready or not, cordoned or not, and the selected pods on it."""

    name: str
    zone: str | None
    ready: bool
    schedulable: bool
    control_plane: bool
    pods: tuple[AppPod, ...] = ()

    @property
    def state(self) -> str:
        """``Ready``, ``NotReady``, with ``,SchedulingDisabled`` when cordoned (kubectl's STATUS)."""
        return ("Ready" if self.ready else "NotReady") + ("" if self.schedulable else ",SchedulingDisabled")


@dataclass(frozen=True)
class Snapshot:
    """The nodes and the pods ``selector`` picks, at one moment; ``pending`` pods have no node yet."""

    title: str
    selector: str
    nodes: tuple[NodeColumn, ...]
    pending: tuple[AppPod, ...] = field(default_factory=tuple)

    @property
    def pods(self) -> list[AppPod]:
        return [pod for node in self.nodes for pod in node.pods] + list(self.pending)

    def count(self, node: str, ready_only: bool = True) -> int:
        """How many selected pods run on ``node`` (only the ready ones, by default)."""
        return sum(1 for n in self.nodes if n.name == node for p in n.pods if p.ready or not ready_only)


def pod_status(pod: Any) -> str:
    """The STATUS column of ``kubectl get pods`` for a client ``V1Pod``, in short: ``Terminating``
    once it is being deleted, a waiting or terminated container's reason, else the phase."""
    if get_field(pod, "metadata", "deletion_timestamp") is not None:
        return "Terminating"
    for status in get_field(pod, "status", "container_statuses") or []:
        waiting = get_field(status, "state", "waiting")
        if waiting is not None and waiting.reason:
            return waiting.reason
        terminated = get_field(status, "state", "terminated")
        if terminated is not None and terminated.reason:
            return terminated.reason
    return get_field(pod, "status", "phase") or "Unknown"


def _ready(pod: Any) -> bool:
    if get_field(pod, "metadata", "deletion_timestamp") is not None:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in get_field(pod, "status", "conditions") or [])


def _node_ready(node: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in get_field(node, "status", "conditions") or [])


def snapshot(core: Any, selector: str, namespace: str = "default", title: str = "") -> Snapshot:
    """Read the nodes and the pods of ``namespace`` that ``selector`` (``app=web``) picks: two API calls."""
    pods = [AppPod(p.metadata.name, pod_status(p), _ready(p), get_field(p, "spec", "node_name"))
            for p in core.list_namespaced_pod(namespace, label_selector=selector).items]
    pods.sort(key=lambda p: natural_key(p.name))
    columns = []
    for listed in core.list_node().items:
        node_labels = listed.metadata.labels or {}
        columns.append(NodeColumn(
            name=listed.metadata.name, zone=node_labels.get(ZONE_LABEL), ready=_node_ready(listed),
            schedulable=not get_field(listed, "spec", "unschedulable"),
            control_plane=f"{ROLE_LABEL}control-plane" in node_labels,
            pods=tuple(p for p in pods if p.node == listed.metadata.name)))
    columns.sort(key=lambda n: (not n.control_plane, natural_key(n.name)))
    return Snapshot(title or selector, selector, tuple(columns), tuple(p for p in pods if not p.node))


def _pod_text(pod: AppPod) -> str:
    return f"{pod.name} {pod.status}{'' if pod.ready else ' (not ready)'}"


def snapshot_text(snap: Snapshot) -> str:
    """The snapshot as text: one line per node with its pods, then the pods no node has taken."""
    lines = [f"{snap.title}:"]
    for node in snap.nodes:
        zone = f", zone {node.zone}" if node.zone else ""
        pods = ", ".join(_pod_text(p) for p in node.pods) or "-"
        lines.append(f"  {node.name} ({node.state}{zone}): {pods}")
    if snap.pending:
        lines.append(f"  not scheduled: {', '.join(_pod_text(p) for p in snap.pending)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The picture (matplotlib boxes, no pyplot, as labkit.cluster_tree draws its own)
# ---------------------------------------------------------------------------------------------

_NODE_FACE = {"ready": "#e8f2e3", "down": "#f6dede", "control": "#dce6f5"}
_POD = {"ready": ("#cfe8c8", "#2e7d32"), "not ready": ("#fdf0d5", "#b26a00"),
        "Terminating": ("#e6e6e6", "#777777"), "problem": ("#f8d3d3", "#c62828")}
_FINE = {"Running", "ContainerCreating", "PodInitializing"}


def _pod_colours(pod: AppPod) -> tuple[str, str]:
    if pod.status == "Terminating":
        return _POD["Terminating"]
    if pod.ready:
        return _POD["ready"]
    return _POD["not ready"] if pod.status in _FINE else _POD["problem"]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _columns(snap: Snapshot) -> list[NodeColumn | None]:
    """The columns drawn: every node except a control plane that runs none of the pods (the usual
    case: its taint keeps them off), then one for the pods no node has taken (None), if any."""
    shown: list[NodeColumn | None] = [n for n in snap.nodes if n.pods or not n.control_plane]
    return shown + ([None] if snap.pending else [])


def _draw(axes: Any, snap: Snapshot, rows: int, max_pods: int) -> None:
    from matplotlib.patches import FancyBboxPatch

    columns = _columns(snap)
    node_w, gap, pod_h = 3.0, 0.3, 0.42
    height = 1.2 + rows * (pod_h + 0.1) + 0.5
    width = len(columns) * (node_w + gap) + gap
    for index, node in enumerate(columns):
        x = gap + index * (node_w + gap)
        if node is None:
            face, edge, title, sub, pods = "#ffffff", "#c62828", "not scheduled", "Pending: no node took them", snap.pending
            style = "--"
        else:
            kind = "control" if node.control_plane else ("ready" if node.ready else "down")
            face, edge, style = _NODE_FACE[kind], ("#555555" if node.ready else "#c62828"), "-"
            title = node.name
            sub = " · ".join(part for part in (node.zone and f"zone {node.zone}", node.state) if part)
            pods = node.pods
        axes.add_patch(FancyBboxPatch((x, 0.1), node_w, height - 0.2, boxstyle="round,pad=0,rounding_size=0.08",
                                      facecolor=face, edgecolor=edge, linewidth=1.6 if edge == "#c62828" else 1.0,
                                      linestyle=style))
        axes.text(x + 0.12, height - 0.38, _short(title, 28), fontsize=8.5, fontweight="bold", va="center")
        axes.text(x + 0.12, height - 0.7, sub, fontsize=7, va="center",
                  color="#c62828" if node is not None and not node.ready else "#333333")
        y = height - 1.0
        for pod in pods[:max_pods]:
            pod_face, pod_edge = _pod_colours(pod)
            axes.add_patch(FancyBboxPatch((x + 0.12, y - pod_h), node_w - 0.24, pod_h, boxstyle="round,pad=0,rounding_size=0.05",
                                          facecolor=pod_face, edgecolor=pod_edge, linewidth=1.0,
                                          linestyle="--" if pod.status == "Terminating" else "-"))
            axes.text(x + 0.2, y - pod_h * 0.32, _short(pod.name, 30), fontsize=6.5, va="center", family="monospace")
            axes.text(x + 0.2, y - pod_h * 0.74, pod.status + ("" if pod.ready else " · not ready"), fontsize=6.2,
                      va="center", color=pod_edge)
            y -= pod_h + 0.1
        if len(pods) > max_pods:
            axes.text(x + 0.2, y - 0.15, f"... {len(pods) - max_pods} more", fontsize=7, style="italic", va="center")
        if not pods and node is not None:
            axes.text(x + 0.2, y - 0.2, "none of these pods", fontsize=7, style="italic", va="center", color="#666666")
    ready = sum(1 for p in snap.pods if p.ready)
    axes.set_title(f"{snap.title}: {ready} of {len(snap.pods)} pods ready", fontsize=9.5)
    axes.set_xlim(0, max(width, 1.0))
    axes.set_ylim(0, height)
    axes.set_aspect("equal")
    axes.axis("off")


def placement_figure(*snapshots: Snapshot, max_pods: int = 8):
    """One panel per snapshot, left to right: nodes as columns (red edge: NotReady; a control plane
    that runs none of the pods is left out), the selected pods in them (green: ready; amber:
    running, not ready; grey dashed: Terminating; red: failing, such as ImagePullBackOff), and a dashed column
    for pods no node has taken. All panels share one height, so before and after line up."""
    from matplotlib.figure import Figure

    if not snapshots:
        raise ValueError("pass one snapshot or more (labkit.rollout_picture.snapshot(core, 'app=web'))")
    widest = max(len(_columns(s)) for s in snapshots)
    rows = min(max_pods, max([len(n.pods) for s in snapshots for n in s.nodes] + [len(s.pending) for s in snapshots] + [1]))
    figure = Figure(figsize=(min(16.0, 1.0 + 2.1 * widest * len(snapshots)), 1.9 + 0.36 * rows), layout="constrained")
    axes = figure.subplots(1, len(snapshots), squeeze=False)[0]
    for one, snap in zip(axes, snapshots):
        _draw(one, snap, rows, max_pods)
    figure.text(0.5, 0.01, "green: ready (gets traffic) · amber: running, not ready · grey dashed: Terminating · "
                "red: failing (e.g. ImagePullBackOff) · red node: NotReady", ha="center", fontsize=7, color="#444444")
    return figure


def picture(*snapshots: Snapshot, max_pods: int = 8) -> Any:
    """:func:`placement_figure` as a PNG a notebook shows by itself (the last line of a cell)."""
    return png_image(placement_figure(*snapshots, max_pods=max_pods))
