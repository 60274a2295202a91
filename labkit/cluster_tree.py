"""Views of the cluster -> node -> pod -> container hierarchy: a lazy tree widget and a picture.

Why a module of its own: the data (:mod:`labkit.cluster_hierarchy`) is plain functions a test
or a learner can call; these are the two ways lesson 3 shows it, and they are the only part
that needs ipywidgets and matplotlib. Like the data, they read the cluster only through the
official client's ``CoreV1Api`` and the public Kubernetes API (kind or the emulator alike).

- :class:`ClusterTree`: an ipywidgets tree. It lists the nodes (one API call, a page at a
  time) and loads a node's pods only when the node is expanded (one call,
  ``fieldSelector=spec.nodeName=...``), so it stays responsive on a cluster of hundreds of
  nodes. ``Refresh`` reloads what is shown and keeps what was open.
- :func:`hierarchy_figure` / :func:`picture`: the same hierarchy drawn as nested boxes
  (matplotlib, from live data; large clusters are cut down to a readable sample, and it says so).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from labkit.cluster_hierarchy import (ContainerInfo, NodeInfo, PodInfo, container_line, node_line, nodes,
                                      pod_line, pods_on)
from labkit.figures import png_image

__all__ = ["ClusterTree", "cluster_tree", "hierarchy_figure", "picture", "ClusterUnavailable", "GONE"]


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
        except Exception as exc:  # whatever it is, the learner gets a sentence
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
            lines.append(f"└─ {node_line(node)}")
            for pod in self.loaded_pods.get(node.name, []) if self._node_rows[node.name].open else []:
                lines.append(f"   └─ {pod_line(pod)}")
                if self._pod_rows[(node.name, pod.key)].open:
                    lines.extend(f"      └─ {container_line(c)}" for c in pod.containers)
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
        return (f"pod <b>{_html(pod.key)}</b> · <span style='color:{colour}'>{pod.status}</span> · IP "
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
_DOWN_NODE_COLOUR = "#e0e0e0"   # a NotReady node: its kubelet is not heard from
_POD_COLOUR = "#fff6d9"
_GONE_POD_COLOUR = "#eeeeee"    # a Terminating pod
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
    Lesson 5 draws a node failure with it: a NotReady node is grey and says so in red, a
    Terminating pod is grey, and a pod whose containers are not ready says "not ready".
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
                                      facecolor=_NODE_COLOUR.get(node.role, _NODE_COLOUR["worker"]) if node.ready
                                      else _DOWN_NODE_COLOUR, edgecolor="#555555", linewidth=1.0))
        axes.text(x + 0.12, top - 0.25, f"node {node.name}", fontsize=8.5, fontweight="bold", va="center")
        if not node.ready:
            axes.text(x + node_w - 0.12, top - 0.25, "NotReady", fontsize=8, fontweight="bold", va="center", ha="right",
                      color="#c62828")
        axes.text(x + 0.12, top - 0.55, f"{node.role} · IP {node.internal_ip} · {node.cidr_text()}",
                  fontsize=7, va="center", color="#333333")
        y = top - 0.85
        pods = pods_by_node.get(node.name, [])
        for pod in pods[:max_pods]:
            h = pod_height(pod)
            marked = highlight is not None and highlight(pod)
            axes.add_patch(FancyBboxPatch((x + 0.15, y - h), node_w - 0.3, h, boxstyle="round,pad=0,rounding_size=0.06",
                                          facecolor=_GONE_POD_COLOUR if pod.terminating
                                          else _HOST_POD_COLOUR if pod.host_network else _POD_COLOUR,
                                          edgecolor="#c62828" if marked else "#8a7a4a",
                                          linewidth=2.0 if marked else 0.8))
            name = pod.name if len(pod.name) <= 30 else pod.name[:29] + "…"
            axes.text(x + 0.25, y - 0.16, f"pod {name}", fontsize=7, fontweight="bold", va="center")
            axes.text(x + 0.25, y - 0.37, f"IP {pod.ip or '-'} · {pod.status}", fontsize=6.5, va="center",
                      color="#c62828" if pod.status != pod.phase else "#333333")
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
            highlight: Callable[[PodInfo], bool] | None = None, label_selector: str | None = None):
    """:func:`hierarchy_figure` of the live cluster, as a PNG a notebook shows by itself;
    ``label_selector`` (``app=web``) draws only those pods, e.g. one app's replicas on their nodes."""
    node_list = nodes(core)
    pods = {node.name: pods_on(core, node.name, label_selector) for node in node_list[:max_nodes]}
    return png_image(hierarchy_figure(node_list, pods, cluster, max_nodes, max_pods, highlight))
