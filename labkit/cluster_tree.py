"""The cluster -> node -> pod -> container hierarchy: read it, show it as a tree, draw it.

Why a module of its own: lesson 3 looks at one cluster from three sides (``kubectl``, the
official Python client, pictures), and every view must stay true to the live cluster, kind
or the course's emulator alike. So everything here talks to the cluster only through the
official client's ``CoreV1Api`` (what ``labkit.cluster.connect().core`` is) and the public
Kubernetes API: nothing is emulator-only.

- Data, plain functions without widgets: :func:`nodes` (the cluster's nodes as
  :class:`NodeInfo`), :func:`pods_on` (the pods one node runs, as :class:`PodInfo` with their
  :class:`ContainerInfo`), :func:`unscheduled_pods`, and :func:`text_tree` (the hierarchy as
  indented text). :func:`node_info` and :func:`pod_info` turn client objects into those.
- :class:`ClusterTree`: an ipywidgets tree over those functions. It lists the nodes (one API
  call, a page at a time) and loads a node's pods only when the node is expanded (one call,
  ``fieldSelector=spec.nodeName=...``), so it stays responsive on a cluster of hundreds of
  nodes. ``Refresh`` reloads what is shown and keeps what was open.
- :func:`hierarchy_figure` / :func:`picture`: the same hierarchy drawn as nested boxes
  (matplotlib, from live data; large clusters are cut down to a readable sample, and it says so).
- :func:`practice_cluster`: a started emulator (API server only, so nothing changes unless you
  change it) with generated workloads on its nodes: Deployment pods with two containers, a
  DaemonSet, bare pods, a static pod, a finished Job pod, a pod no node can take. The
  assignment's tests and this module's tests use it; other seeds and sizes give other clusters.
"""
from __future__ import annotations

import io
import json
import logging
import random
import re
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ContainerInfo", "PodInfo", "NodeInfo", "node_info", "pod_info", "nodes", "pods_on",
    "unscheduled_pods", "text_tree", "ClusterTree", "cluster_tree", "hierarchy_figure", "picture",
    "PracticeCluster", "practice_cluster", "natural_key", "quantity", "ROLE_LABEL",
    "MIRROR_ANNOTATION", "ClusterUnavailable", "GONE",
]

ROLE_LABEL = "node-role.kubernetes.io/"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def natural_key(text: str) -> tuple:
    """Sort key that puts ``worker2`` before ``worker10`` (as a person would)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}


def quantity(text: str | int | float | None) -> float | None:
    """A Kubernetes quantity as a number: ``"32866492Ki"`` -> bytes, ``"500m"`` -> 0.5, ``"8"`` -> 8."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    match = re.fullmatch(r"\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([KMGTPE]i|[numkMGTPE]?)\s*", str(text))
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number, suffix = match.groups()
    return float(number) * (_BINARY.get(suffix) or _DECIMAL[suffix])


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


def _get(obj: Any, *names: str) -> Any:
    """Follow attributes, stopping at the first None (client objects leave unset fields None)."""
    for name in names:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def node_info(node: Any) -> NodeInfo:
    """A client ``V1Node`` as a :class:`NodeInfo`."""
    labels = _get(node, "metadata", "labels") or {}
    roles = tuple(sorted(key[len(ROLE_LABEL):] for key in labels if key.startswith(ROLE_LABEL)))
    addresses = _get(node, "status", "addresses") or []
    internal = next((a.address for a in addresses if a.type == "InternalIP"), None)
    capacity = _get(node, "status", "capacity") or {}
    conditions = _get(node, "status", "conditions") or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    return NodeInfo(
        name=node.metadata.name, roles=roles, internal_ip=internal, pod_cidr=_get(node, "spec", "pod_cidr"),
        cpu=capacity.get("cpu"), memory=capacity.get("memory"), max_pods=capacity.get("pods"), ready=ready,
    )


def _state(status: Any) -> str:
    state = _get(status, "state")
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
    statuses = {s.name: s for s in (_get(pod, "status", "container_statuses") or [])}
    containers = []
    for container in _get(pod, "spec", "containers") or []:
        status = statuses.get(container.name)
        containers.append(ContainerInfo(
            name=container.name, image=container.image, ready=bool(_get(status, "ready")),
            restarts=int(_get(status, "restart_count") or 0), state=_state(status),
        ))
    owners = _get(pod, "metadata", "owner_references") or []
    controller = next((o for o in owners if o.controller), owners[0] if owners else None)
    annotations = _get(pod, "metadata", "annotations") or {}
    return PodInfo(
        namespace=pod.metadata.namespace, name=pod.metadata.name, node=_get(pod, "spec", "node_name"),
        ip=_get(pod, "status", "pod_ip"), phase=_get(pod, "status", "phase") or "Unknown",
        host_network=bool(_get(pod, "spec", "host_network")),
        owner=f"{controller.kind}/{controller.name}" if controller else None,
        mirror=MIRROR_ANNOTATION in annotations, containers=tuple(containers),
    )


def nodes(core: Any) -> list[NodeInfo]:
    """The cluster's nodes, control plane first, then workers in natural order (one API call)."""
    found = [node_info(node) for node in core.list_node().items]
    return sorted(found, key=lambda n: (n.role == "worker", natural_key(n.name)))


def pods_on(core: Any, node: str) -> list[PodInfo]:
    """The pods bound to one node, by namespace and name (one API call, filtered by the server)."""
    listed = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    return sorted((pod_info(pod) for pod in listed), key=lambda p: (p.namespace, natural_key(p.name)))


def unscheduled_pods(core: Any) -> list[PodInfo]:
    """Pods that no node has taken yet (``spec.nodeName`` empty): the scheduler's to-do list."""
    listed = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=").items
    return sorted((pod_info(pod) for pod in listed), key=lambda p: (p.namespace, natural_key(p.name)))


def _node_line(node: NodeInfo) -> str:
    ready = "" if node.ready else ", NotReady"
    return f"node {node.name} ({node.role}{ready}, IP {node.internal_ip}, {node.cidr_text()}; {node.capacity_text()})"


def _pod_line(pod: PodInfo) -> str:
    how = "node's IP: hostNetwork" if pod.host_network else "its own IP"
    return f"pod {pod.key}  {pod.phase}, IP {pod.ip or '-'} ({how})"


def _container_line(container: ContainerInfo) -> str:
    ready = "ready" if container.ready else "not ready"
    return f"container {container.name}  {container.image}  {ready}, {container.restarts} restarts, {container.state}"


def text_tree(core: Any, cluster: str = "cluster", max_nodes: int | None = None,
              max_pods: int | None = None) -> str:
    """The hierarchy as indented text, like the ``tree`` command (one call per node shown)."""
    listed = nodes(core)
    lines = [f"{cluster}: {len(listed)} nodes"]
    shown = listed if max_nodes is None else listed[:max_nodes]
    for node in shown:
        lines.append(f"└─ {_node_line(node)}")
        pods = pods_on(core, node.name)
        for pod in pods if max_pods is None else pods[:max_pods]:
            lines.append(f"   └─ {_pod_line(pod)}")
            lines.extend(f"      └─ {_container_line(c)}" for c in pod.containers)
        if max_pods is not None and len(pods) > max_pods:
            lines.append(f"   └─ ... and {len(pods) - max_pods} more pods")
    if len(shown) < len(listed):
        lines.append(f"└─ ... and {len(listed) - len(shown)} more nodes")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The tree widget
# ---------------------------------------------------------------------------------------------

def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PHASE_COLOUR = {"Running": "#2e7d32", "Pending": "#b26a00", "Succeeded": "#555555", "Failed": "#c62828"}

GONE = ("The cluster this tree shows is no longer running (it was stopped). "
        "Run the cell that starts it again.")


class ClusterUnavailable(RuntimeError):
    """The tree could not read its cluster; the message is a sentence for the learner."""


def _problem(exc: Exception) -> str:
    """What went wrong reading the cluster, as a plain sentence (never a traceback)."""
    import urllib3

    status = getattr(exc, "status", None)
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, OSError)) or status == 0:
        return GONE
    if status:
        return (f"The cluster answered {status} {getattr(exc, 'reason', '') or ''} when this tree read it. "
                "Press Refresh to try again.").replace("  ", " ")
    return f"This tree could not read the cluster ({type(exc).__name__}: {exc}). Press Refresh to try again."


def _visible_text(widget: Any) -> str:
    """The text a widget shows (HTML without its tags, labels, button captions), hidden parts left out."""
    layout = getattr(widget, "layout", None)
    if layout is not None and getattr(layout, "display", None) == "none":
        return ""
    parts = []
    value = getattr(widget, "value", None)
    if isinstance(value, str) and type(widget).__name__ in ("HTML", "Label", "HTMLMath"):
        parts.append(re.sub(r"<[^>]+>", "", value).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    elif type(widget).__name__ == "Button":
        parts.append(widget.description)
    for child in getattr(widget, "children", ()) or ():
        parts.append(_visible_text(child))
    return "\n".join(part for part in parts if part)


class _Row:
    """One expandable line of the tree: a small toggle button, a label, and room for children."""

    def __init__(self, label_html: str, depth: int, on_open: Callable[["_Row"], list] | None):
        import ipywidgets

        self._on_open = on_open
        self.open = False
        self.toggle = ipywidgets.Button(
            description="▸" if on_open else "•", disabled=on_open is None,
            layout=ipywidgets.Layout(width="2.2em", height="1.7em", padding="0"),
        )
        self.label = ipywidgets.HTML(label_html)
        self.children = ipywidgets.VBox([], layout=ipywidgets.Layout(margin=f"0 0 0 {1.6}em"))
        indent = ipywidgets.Layout(margin=f"0 0 0 {0 if depth == 0 else 0.2}em")
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.toggle, self.label]), self.children], layout=indent)
        self.toggle.on_click(lambda _button: self.set_open(not self.open))

    def set_open(self, value: bool) -> None:
        if self._on_open is None:
            return
        self.open = value
        self.toggle.description = "▾" if value else "▸"
        self.children.children = tuple(self._on_open(self)) if value else ()

    def reload(self) -> None:
        if self.open:
            self.set_open(True)


class ClusterTree:
    """A live, lazily loaded tree: cluster -> nodes (role, IP, capacity) -> pods (IP, phase) ->
    containers (image, ready, restarts).

    Building it lists the nodes once; a node's pods are listed when you open the node (one call,
    filtered by the API server), and a pod's containers come with the pod. Nodes are shown a page
    at a time (``page_size``) with a filter box, so a cluster of hundreds of nodes stays quick.
    ``refresh()`` (the button) reloads the nodes and every open node's pods, and keeps them open.
    Show it with ``tree.widget`` (or just ``tree`` as the last line of a cell).

    When the cluster cannot be read (it was stopped, or it answers with an error), the tree says
    so in a sentence inside the widget, under the buttons and in the node being opened, and keeps
    what it showed; nothing is raised out of a click (it would only reach JupyterLab's log console).

    For code and tests: ``expand(node)``, ``collapse(node)``, ``expand_pod(node, pod_key)``,
    ``loaded_pods`` (node -> pods loaded so far), ``visible_nodes``, ``text()``, ``shown_text()``
    (what the widget shows, as text) and ``problem`` (the sentence, or None when all is well).
    """

    def __init__(self, core: Any, cluster: str = "cluster", page_size: int = 25):
        import ipywidgets

        self.core = core
        self.cluster = cluster
        self.page_size = page_size
        self.all_nodes: list[NodeInfo] = []
        self.loaded_pods: dict[str, list[PodInfo]] = {}
        self.problem: str | None = None
        self._shown = page_size
        self._node_rows: dict[str, _Row] = {}
        self._pod_rows: dict[tuple[str, str], _Row] = {}
        self.header = ipywidgets.HTML()
        self.refresh_button = ipywidgets.Button(description="Refresh", icon="refresh",
                                                tooltip="Read the cluster again")
        self.filter = ipywidgets.Text(placeholder="filter nodes by name", continuous_update=False,
                                      layout=ipywidgets.Layout(width="16em"))
        self.more_button = ipywidgets.Button(description="Show more nodes")
        self.notice = ipywidgets.HTML(layout=ipywidgets.Layout(display="none"))
        self.node_box = ipywidgets.VBox([])
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.refresh_button, self.filter]), self.notice, self.header, self.node_box,
            self.more_button,
        ])
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.more_button.on_click(lambda _b: self.show_more())
        self.filter.observe(lambda _change: self._render_nodes(), names="value")
        self.refresh()

    # -- what the widget shows ------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def matching_nodes(self) -> list[NodeInfo]:
        wanted = self.filter.value.strip().lower()
        return [n for n in self.all_nodes if wanted in n.name.lower()]

    @property
    def visible_nodes(self) -> list[str]:
        return [name for name in self._node_rows if self._node_rows[name].box in self.node_box.children]

    def shown_text(self) -> str:
        """What the widget shows right now, as plain text (for tests and for reading it in code)."""
        return _visible_text(self.widget)

    def _read(self, read: Callable[[], Any]) -> Any:
        """``read()`` against the cluster; on failure the widget says why (``self.problem``) and
        None comes back, so that a button's callback never raises."""
        # urllib3 logs each retry of a refused connection as a warning, which JupyterLab would put
        # in its log console; the sentence in the widget says it all.
        pool_log = logging.getLogger("urllib3.connectionpool")
        level = pool_log.level
        pool_log.setLevel(logging.ERROR)
        try:
            result = read()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the learner gets a sentence
            self._set_problem(_problem(exc))
            return None
        finally:
            pool_log.setLevel(level)
        self._set_problem(None)
        return result

    def _set_problem(self, problem: str | None) -> None:
        self.problem = problem
        self.notice.value = "" if problem is None else f"<b style='color:#c62828'>⚠ {_html(problem)}</b>"
        self.notice.layout.display = "none" if problem is None else None

    def refresh(self) -> None:
        """Read the nodes again; reload the pods of every open node (they stay open).
        If the cluster cannot be read, the widget says so and keeps what it showed."""
        found = self._read(lambda: nodes(self.core))
        if found is None:
            return
        self.all_nodes = found
        names = {n.name for n in self.all_nodes}
        for name in [name for name in self._node_rows if name not in names]:
            del self._node_rows[name]
            self.loaded_pods.pop(name, None)
        for node in self.all_nodes:
            row = self._node_rows.get(node.name)
            if row is not None:
                row.label.value = self._node_label(node)
        self._render_nodes()
        for name, row in self._node_rows.items():
            row.reload()
        self._update_header()

    def show_more(self) -> None:
        self._shown += self.page_size
        self._render_nodes()

    def expand(self, node: str) -> list[PodInfo]:
        """Open a node (loading its pods); returns them. If the cluster cannot be read, the widget
        says so and this raises :class:`ClusterUnavailable` with the same sentence."""
        row = self._node_rows.get(node) or self._make_node_row(self._node(node))
        self.loaded_pods.pop(node, None)
        row.set_open(True)
        if node not in self.loaded_pods:
            raise ClusterUnavailable(self.problem or GONE)
        return self.loaded_pods[node]

    def collapse(self, node: str) -> None:
        if node in self._node_rows:
            self._node_rows[node].set_open(False)

    def expand_pod(self, node: str, pod_key: str) -> PodInfo:
        """Open a pod under an open node; returns it."""
        if node not in self.loaded_pods:
            self.expand(node)
        row = self._pod_rows[(node, pod_key)]
        row.set_open(True)
        return next(p for p in self.loaded_pods[node] if p.key == pod_key)

    def text(self) -> str:
        """What is loaded so far, as indented text (open nodes with their pods and containers)."""
        lines = [f"{self.cluster}: {len(self.all_nodes)} nodes"]
        for node in self.all_nodes:
            if node.name not in self._node_rows:
                continue
            lines.append(f"└─ {_node_line(node)}")
            for pod in self.loaded_pods.get(node.name, []) if self._node_rows[node.name].open else []:
                lines.append(f"   └─ {_pod_line(pod)}")
                if self._pod_rows[(node.name, pod.key)].open:
                    lines.extend(f"      └─ {_container_line(c)}" for c in pod.containers)
        return "\n".join(lines)

    # -- building rows --------------------------------------------------------------------------
    def _node(self, name: str) -> NodeInfo:
        for node in self.all_nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node called {name!r} in this cluster (nodes: {', '.join(n.name for n in self.all_nodes[:10])}...)")

    def _update_header(self) -> None:
        matching = self.matching_nodes
        shown = min(len(matching), self._shown)
        workers = sum(1 for n in self.all_nodes if n.role == "worker")
        loaded = sum(len(p) for p in self.loaded_pods.values())
        self.header.value = (
            f"<b>{_html(self.cluster)}</b>: {len(self.all_nodes)} nodes "
            f"({len(self.all_nodes) - workers} control plane, {workers} workers); showing {shown}"
            f"{' matching' if self.filter.value.strip() else ''}. Open a node to load its pods "
            f"({loaded} pods loaded so far)."
        )
        self.more_button.layout.display = None if len(matching) > self._shown else "none"

    def _render_nodes(self) -> None:
        rows = [self._node_rows.get(n.name) or self._make_node_row(n) for n in self.matching_nodes[: self._shown]]
        self.node_box.children = tuple(row.box for row in rows)
        self._update_header()

    @staticmethod
    def _node_label(node: NodeInfo) -> str:
        colour = "#1f4e9b" if node.role != "worker" else "#333333"
        ready = "" if node.ready else " <span style='color:#c62828'>NotReady</span>"
        return (f"<b style='color:{colour}'>{_html(node.name)}</b> · {_html(node.role)}{ready} · IP "
                f"<code>{node.internal_ip}</code> · "
                + (f"pod CIDR <code>{node.pod_cidr}</code>" if node.pod_cidr else "<i>no pod CIDR</i>") + " · "
                f"{_html(node.capacity_text())}")

    def _make_node_row(self, node: NodeInfo) -> _Row:
        row = _Row(self._node_label(node), 0, lambda _row, name=node.name: self._pod_rows_of(name))
        self._node_rows[node.name] = row
        return row

    def _pod_rows_of(self, node: str) -> list:
        import ipywidgets

        pods = self._read(lambda: pods_on(self.core, node))
        if pods is None:
            return [ipywidgets.HTML(f"<i style='color:#c62828'>{_html(self.problem or GONE)}</i>")]
        self.loaded_pods[node] = pods
        rows = []
        for pod in pods:
            key = (node, pod.key)
            old = self._pod_rows.get(key)
            row = _Row(self._pod_label(pod), 1, lambda _row, p=pod: [
                ipywidgets.HTML(self._container_label(c)) for c in p.containers])
            self._pod_rows[key] = row
            if old is not None and old.open:
                row.set_open(True)
            rows.append(row.box)
        self._update_header()
        if not rows:
            return [ipywidgets.HTML("<i>no pods on this node</i>")]
        return rows

    @staticmethod
    def _pod_label(pod: PodInfo) -> str:
        colour = _PHASE_COLOUR.get(pod.phase, "#333333")
        how = " (node's IP: hostNetwork)" if pod.host_network else ""
        count = len(pod.containers)
        return (f"pod <b>{_html(pod.key)}</b> · <span style='color:{colour}'>{pod.phase}</span> · IP "
                f"<code>{pod.ip or '-'}</code>{how} · {count} container{'s' if count != 1 else ''}")

    @staticmethod
    def _container_label(container: ContainerInfo) -> str:
        mark = "✅ ready" if container.ready else "⏳ not ready"
        return (f"<span style='margin-left:2.6em'>container <b>{_html(container.name)}</b> · image "
                f"<code>{_html(container.image)}</code> · {mark} · {container.restarts} restarts · "
                f"{_html(container.state)}</span>")


def cluster_tree(core: Any, cluster: str = "cluster", page_size: int = 25) -> ClusterTree:
    """A :class:`ClusterTree` over ``core`` (``connect().core``); the last line of a cell shows it."""
    return ClusterTree(core, cluster=cluster, page_size=page_size)


# ---------------------------------------------------------------------------------------------
# The picture
# ---------------------------------------------------------------------------------------------

_NODE_COLOUR = {"control-plane": "#dce6f5", "worker": "#e8f2e3"}
_POD_COLOUR = "#fff6d9"
_HOST_POD_COLOUR = "#f0e6f6"
_CONTAINER_COLOUR = "#ffffff"


def hierarchy_figure(node_list: list[NodeInfo], pods_by_node: dict[str, list[PodInfo]],
                     cluster: str = "cluster", max_nodes: int = 6, max_pods: int = 8,
                     highlight: Callable[[PodInfo], bool] | None = None):
    """Nested boxes: the cluster holds nodes, a node holds pods, a pod holds containers.

    Each node shows its role, IP and pod CIDR; each pod its IP (purple: a hostNetwork pod using
    its node's IP; yellow: a pod with its own IP from the node's pod CIDR); each container its
    image. At most ``max_nodes`` nodes and ``max_pods`` pods per node are drawn, and the figure
    says how many it left out. ``highlight`` marks pods (red edge), e.g. one app's replicas.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    shown = node_list[:max_nodes]
    columns = max(1, len(shown))
    pod_h, cont_h, gap = 0.50, 0.30, 0.12

    def pod_height(pod: PodInfo) -> float:
        return pod_h + len(pod.containers) * (cont_h + 0.05) + 0.08

    heights = []
    for node in shown:
        pods = pods_by_node.get(node.name, [])[:max_pods]
        heights.append(sum(pod_height(p) + gap for p in pods) + (0.45 if len(pods_by_node.get(node.name, [])) > max_pods else 0))
    inner = max(heights + [1.0])
    node_w, col_gap = 3.6, 0.35
    width = columns * node_w + (columns - 1) * col_gap + 0.6
    height = inner + 1.6 + 0.7
    figure = Figure(figsize=(max(6.0, width * 1.05), max(3.5, height * 0.95)), layout="constrained")
    axes = figure.subplots()
    axes.add_patch(FancyBboxPatch((0, 0), width, height, boxstyle="round,pad=0,rounding_size=0.15",
                                  facecolor="#f7f7f7", edgecolor="#444444", linewidth=1.2))
    left_out = len(node_list) - len(shown)
    title = f"cluster {cluster}: {len(node_list)} node{'s' if len(node_list) != 1 else ''}"
    if left_out:
        title += f" ({left_out} not drawn)"
    axes.text(0.25, height - 0.3, title, fontsize=11, fontweight="bold", va="center")
    axes.text(width - 0.25, height - 0.3, "yellow pod: its own IP, from its node's pod CIDR · purple pod: its node's "
              "IP (hostNetwork) · white: a container", fontsize=7, va="center", ha="right", color="#444444")
    for index, node in enumerate(shown):
        x = 0.3 + index * (node_w + col_gap)
        top = height - 0.65
        node_h = inner + 1.1
        axes.add_patch(FancyBboxPatch((x, top - node_h), node_w, node_h, boxstyle="round,pad=0,rounding_size=0.1",
                                      facecolor=_NODE_COLOUR.get(node.role, _NODE_COLOUR["worker"]),
                                      edgecolor="#555555", linewidth=1.0))
        axes.text(x + 0.12, top - 0.25, f"node {node.name}", fontsize=8.5, fontweight="bold", va="center")
        axes.text(x + 0.12, top - 0.55, f"{node.role} · IP {node.internal_ip} · {node.cidr_text()}",
                  fontsize=7, va="center", color="#333333")
        y = top - 0.85
        pods = pods_by_node.get(node.name, [])
        for pod in pods[:max_pods]:
            h = pod_height(pod)
            marked = highlight is not None and highlight(pod)
            axes.add_patch(FancyBboxPatch((x + 0.15, y - h), node_w - 0.3, h, boxstyle="round,pad=0,rounding_size=0.06",
                                          facecolor=_HOST_POD_COLOUR if pod.host_network else _POD_COLOUR,
                                          edgecolor="#c62828" if marked else "#8a7a4a",
                                          linewidth=2.0 if marked else 0.8))
            name = pod.name if len(pod.name) <= 30 else pod.name[:29] + "…"
            axes.text(x + 0.25, y - 0.16, f"pod {name}", fontsize=7, fontweight="bold", va="center")
            axes.text(x + 0.25, y - 0.37, f"IP {pod.ip or '-'} · {pod.phase}", fontsize=6.5, va="center", color="#333333")
            cy = y - pod_h
            for container in pod.containers:
                axes.add_patch(FancyBboxPatch((x + 0.35, cy - cont_h), node_w - 0.7, cont_h,
                                              boxstyle="round,pad=0,rounding_size=0.04", facecolor=_CONTAINER_COLOUR,
                                              edgecolor="#999999", linewidth=0.6))
                image = container.image.split("/")[-1]
                text = f"{container.name}: {image}"
                axes.text(x + 0.45, cy - cont_h / 2, text if len(text) <= 40 else text[:39] + "…",
                          fontsize=6, va="center", family="monospace")
                cy -= cont_h + 0.05
            y -= h + gap
        if len(pods) > max_pods:
            axes.text(x + 0.2, y - 0.15, f"... {len(pods) - max_pods} more pods", fontsize=7, va="center", style="italic")
        if not pods:
            axes.text(x + 0.2, y - 0.15, "no pods", fontsize=7, va="center", style="italic")
    axes.set_xlim(-0.05, width + 0.05)
    axes.set_ylim(-0.05, height + 0.05)
    axes.set_aspect("equal")
    axes.axis("off")
    return figure


def picture(core: Any, cluster: str = "cluster", max_nodes: int = 6, max_pods: int = 8,
            highlight: Callable[[PodInfo], bool] | None = None):
    """:func:`hierarchy_figure` of the live cluster, as a PNG a notebook shows by itself."""
    from IPython.display import Image

    node_list = nodes(core)
    pods = {node.name: pods_on(core, node.name) for node in node_list[:max_nodes]}
    figure = hierarchy_figure(node_list, pods, cluster, max_nodes, max_pods, highlight)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return Image(data=buffer.getvalue(), format="png")


# ---------------------------------------------------------------------------------------------
# Generated clusters for tests and demos
# ---------------------------------------------------------------------------------------------

@dataclass
class PracticeCluster:
    """A started emulator with generated workloads; ``core`` is the official client's CoreV1Api.

    Use it in a ``with`` block (or call ``stop()``). ``raw(path)`` GETs the API as plain JSON
    (tests use it to compute expected answers without the client's models).
    """

    sim: Any
    core: Any
    apps: Any
    api_client: Any = field(repr=False)

    def raw(self, path: str) -> dict:
        with urllib.request.urlopen(self.sim.url + path, timeout=10) as response:
            return json.load(response)

    def stop(self) -> None:
        self.api_client.close()
        self.sim.stop()

    def __enter__(self) -> "PracticeCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the characters Kubernetes uses for generated names


def _suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


class _IPs:
    """Hands out free pod IPs from each node's pod CIDR as kind's CNI does, skipping those in use;
    None for a node without a pod CIDR (the cluster CIDR had no /24 left for it)."""

    def __init__(self, core: Any, node_list: list[NodeInfo]):
        from labkit.kubesim import addresses

        self._next_pod_ip = addresses.next_pod_ip
        self._used = {p.status.pod_ip for p in core.list_pod_for_all_namespaces().items if p.status and p.status.pod_ip}
        self._cidr = {n.name: n.pod_cidr for n in node_list}
        self._last: dict[str, int] = {}

    def next(self, node: str) -> str | None:
        if node in self._last:
            got = self._next_pod_ip(self._cidr.get(node), self._used, self._last[node])
        else:
            got = self._next_pod_ip(self._cidr.get(node), self._used)
        if got is None:
            return None
        ip, self._last[node] = got
        self._used.add(ip)
        return ip


def _container_status(rng: random.Random, name: str, image: str, *, finished: bool = False,
                      crashing: bool = False, started: str = "2026-01-01T00:00:00Z") -> dict:
    status: dict[str, Any] = {"name": name, "image": image, "imageID": f"{image.split(':')[0]}@sha256:{rng.getrandbits(256):064x}",
                              "containerID": f"containerd://{rng.getrandbits(256):064x}", "started": not (finished or crashing)}
    if finished:
        status.update(ready=False, restartCount=0,
                      state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}})
    elif crashing:
        status.update(ready=False, restartCount=rng.randint(3, 9),
                      state={"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}})
    else:
        status.update(ready=True, restartCount=rng.choice([0] * 6 + [1, 2]), state={"running": {"startedAt": started}})
    return status


def _make_pod(core: Any, rng: random.Random, namespace: str, name: str, node: str | None,
              containers: list[tuple[str, str]], *, ip: str | None, owner: dict | None = None,
              labels: dict | None = None, annotations: dict | None = None, host_network: bool = False,
              phase: str = "Running", crashing: str | None = None, host_ip: str | None = None,
              tolerations: list | None = None, requests: dict | None = None) -> None:
    spec: dict[str, Any] = {"containers": [{"name": c, "image": i} for c, i in containers]}
    if node:
        spec["nodeName"] = node
    if host_network:
        spec["hostNetwork"] = True
    if tolerations:
        spec["tolerations"] = tolerations
    if requests:
        spec["containers"][0]["resources"] = {"requests": requests}
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owner:
        metadata["ownerReferences"] = [owner]
    if annotations:
        metadata["annotations"] = annotations
    core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
    if phase == "Pending" and not node:
        status: dict[str, Any] = {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0 nodes are available: insufficient cpu."}]}
    elif ip is None:  # on a node without a pod CIDR: no IP, so no sandbox, so no container starts
        status = {
            "phase": "Pending", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": "2026-01-01T00:00:00Z",
            "qosClass": "BestEffort",
            "conditions": [{"type": t, "status": "True" if t in ("PodScheduled", "Initialized") else "False"}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c, "image": i, "imageID": "", "ready": False, "restartCount": 0, "started": False,
                                   "state": {"waiting": {"reason": "ContainerCreating"}}} for c, i in containers],
        }
    else:
        finished = phase == "Succeeded"
        status = {
            "phase": phase, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": "2026-01-01T00:00:00Z", "qosClass": "BestEffort",
            "conditions": [{"type": t, "status": "True" if (not finished and crashing is None) or t == "PodScheduled" else "False"}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [_container_status(rng, c, i, finished=finished, crashing=c == crashing)
                                  for c, i in containers],
        }
    core.patch_namespaced_pod_status(name, namespace, {"status": status})


def practice_cluster(seed: int = 0, workers: int = 2, pods_per_worker: int = 0, name: str = "course") -> PracticeCluster:
    """Start an emulator (a fresh kind-like cluster, API server only) and, with ``pods_per_worker``
    > 0, add workloads the way a busy cluster has them (all through the public API):

    - namespace ``shop``: a Deployment ``web`` whose ReplicaSet's pods (about ``pods_per_worker``
      per worker, spread unevenly) each run two containers, ``web`` and ``log-shipper``; one of
      them is crash-looping;
    - namespace ``monitoring``: a DaemonSet ``node-agent``, one pod on every node (control plane too);
    - namespace ``default``: bare pods ``debug-...`` (no controller), a finished Job pod, a
      static pod on one worker (its mirror pod, owned by the Node) and a pod that no node can
      take (Pending, no node);
    - namespace ``batch``: a pod that runs in the node's network (hostNetwork) on one worker.

    Addresses are a kind cluster's (``labkit.kubesim.addresses``): with more than 256 nodes the
    cluster CIDR has no /24 left for the last nodes to register, so they have no pod CIDR (and an
    event ``CIDRNotAvailable``), and a pod placed on one waits in ContainerCreating without an IP.
    The same arguments give the same cluster; another seed gives other names, IPs and placement.
    """
    from kubernetes import client, config

    from labkit import kubesim

    sim = kubesim.start(seed=seed, workers=workers, name=name, controllers=False)
    api_client = config.new_client_from_config(sim.kubeconfig)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    practice = PracticeCluster(sim, core, apps, api_client)
    if pods_per_worker <= 0:
        return practice
    try:
        _add_workloads(practice, random.Random(f"practice-{seed}-{workers}-{pods_per_worker}"), pods_per_worker)
    except Exception:
        practice.stop()
        raise
    return practice


def _add_workloads(practice: PracticeCluster, rng: random.Random, pods_per_worker: int) -> None:
    core, apps = practice.core, practice.apps
    node_list = nodes(core)
    workers = [n for n in node_list if n.role == "worker"] or node_list
    ips = _IPs(core, node_list)
    for namespace in ("shop", "monitoring", "batch"):
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def owner(kind: str, obj: Any) -> dict:
        return {"apiVersion": "apps/v1" if kind != "Job" else "batch/v1", "kind": kind, "name": obj.metadata.name,
                "uid": obj.metadata.uid, "controller": True, "blockOwnerDeletion": True}

    # A Deployment, its ReplicaSet, and the pods, two containers each.
    replicas = max(1, pods_per_worker * len(workers))
    web_image, shipper_image = rng.choice(["nginx:1.27", "nginx:1.27.3", "httpd:2.4"]), "busybox:1.36"
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [
        {"name": "web", "image": web_image}, {"name": "log-shipper", "image": shipper_image}]}}
    deployment = apps.create_namespaced_deployment("shop", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}})
    pod_hash = "".join(rng.choice(_ALPHABET) for _ in range(10))
    replica_set = apps.create_namespaced_replica_set("shop", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"web-{pod_hash}", "labels": {**labels, "pod-template-hash": pod_hash},
                     "ownerReferences": [owner("Deployment", deployment)]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {**labels, "pod-template-hash": pod_hash}},
                 "template": {**template, "metadata": {"labels": {**labels, "pod-template-hash": pod_hash}}}}})
    crashing = rng.randrange(replicas)
    web_ready = 0
    for index in range(replicas):
        node = rng.choice(workers)
        ip = ips.next(node.name)
        web_ready += ip is not None and index != crashing
        _make_pod(core, rng, "shop", f"web-{pod_hash}-{_suffix(rng)}", node.name,
                  [("web", web_image), ("log-shipper", shipper_image)], ip=ip,
                  owner=owner("ReplicaSet", replica_set), labels={**labels, "pod-template-hash": pod_hash},
                  host_ip=node.internal_ip, crashing="log-shipper" if index == crashing else None)

    # A DaemonSet: one pod per node, the control plane included (it tolerates the taint).
    agent_image = "fluent/fluent-bit:3.1"
    toleration = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]
    daemon_set = apps.create_namespaced_daemon_set("monitoring", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "node-agent"},
        "spec": {"selector": {"matchLabels": {"app": "node-agent"}}, "template": {
            "metadata": {"labels": {"app": "node-agent"}},
            "spec": {"tolerations": toleration, "containers": [{"name": "agent", "image": agent_image}]}}}})
    agents_ready = 0
    for node in node_list:
        ip = ips.next(node.name)
        agents_ready += ip is not None
        _make_pod(core, rng, "monitoring", f"node-agent-{_suffix(rng)}", node.name, [("agent", agent_image)],
                  ip=ip, owner=owner("DaemonSet", daemon_set), labels={"app": "node-agent"},
                  host_ip=node.internal_ip, tolerations=toleration)

    # Bare pods: nobody recreates them if they go.
    for _ in range(max(1, len(workers) // 3)):
        node = rng.choice(workers)
        _make_pod(core, rng, "default", f"debug-{_suffix(rng)}", node.name, [("shell", "busybox:1.36")],
                  ip=ips.next(node.name), host_ip=node.internal_ip)
    # A finished Job pod (it ran, so on a node whose pod network works: one with a pod CIDR).
    node = rng.choice([n for n in workers if n.pod_cidr] or workers)
    job_name = f"report-{rng.randint(28000000, 29999999)}"
    _make_pod(core, rng, "default", f"{job_name}-{_suffix(rng)}", node.name, [("report", "python:3.12-slim")],
              ip=ips.next(node.name), host_ip=node.internal_ip, phase="Succeeded",
              owner={"apiVersion": "batch/v1", "kind": "Job", "name": job_name,
                     "uid": f"{rng.getrandbits(128):032x}", "controller": True, "blockOwnerDeletion": True})
    # A static pod on a worker: the kubelet runs it from a file; the API shows its mirror pod.
    node = rng.choice(workers)
    node_obj = core.read_node(node.name)
    config_hash = f"{rng.getrandbits(128):032x}"
    _make_pod(core, rng, "kube-system", f"node-problem-detector-{node.name}", node.name,
              [("node-problem-detector", "registry.k8s.io/node-problem-detector/node-problem-detector:v0.8.20")],
              ip=node.internal_ip, host_ip=node.internal_ip, host_network=True,
              annotations={MIRROR_ANNOTATION: config_hash, "kubernetes.io/config.hash": config_hash,
                           "kubernetes.io/config.source": "file"},
              owner={"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node_obj.metadata.uid,
                     "controller": True})
    # A pod in the node's network namespace (hostNetwork): it has the node's IP, not one of its own.
    node = rng.choice(workers)
    _make_pod(core, rng, "batch", f"netcheck-{_suffix(rng)}", node.name, [("probe", "busybox:1.36")],
              ip=node.internal_ip, host_ip=node.internal_ip, host_network=True)
    # A pod that asks for more CPU than any node has: it waits, on no node.
    _make_pod(core, rng, "default", f"too-big-{_suffix(rng)}", None, [("big", "python:3.12-slim")],
              ip=None, phase="Pending", requests={"cpu": "64"})
    apps.patch_namespaced_daemon_set_status("node-agent", "monitoring", {"status": {
        "currentNumberScheduled": len(node_list), "desiredNumberScheduled": len(node_list),
        "numberMisscheduled": 0, "numberReady": agents_ready, "numberAvailable": agents_ready,
        "updatedNumberScheduled": len(node_list), "observedGeneration": 1}})
    for patch, target in ((apps.patch_namespaced_replica_set_status, replica_set.metadata.name),
                          (apps.patch_namespaced_deployment_status, "web")):
        patch(target, "shop", {"status": {"replicas": replicas, "readyReplicas": web_ready,
                                          "availableReplicas": web_ready, "observedGeneration": 1}})

