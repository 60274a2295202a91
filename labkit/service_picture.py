"""Which pods a Service sends traffic to: Service -> EndpointSlice -> pods, as data, text and a picture.

Why a module of its own: lesson 4 shows a Service over three replicas, one of them not ready, and a
learner would rather look at that than read three YAML documents. The data (:func:`service_view`)
is read like :mod:`labkit.cluster_hierarchy` reads the hierarchy, only through the official client
(``CoreV1Api`` and ``DiscoveryV1Api``, what ``labkit.cluster.connect()`` gives as ``core`` and
``discovery``) and the public API, so it is the same on kind and on the emulator. The pods are
:class:`~labkit.cluster_hierarchy.PodInfo` (its :func:`~labkit.cluster_hierarchy.pod_info`); the
picture is drawn as :mod:`labkit.cluster_tree` draws its own (matplotlib boxes, no pyplot, a PNG).

- :func:`service_view`: the Service, its EndpointSlices (each endpoint's address, ``ready``,
  ``serving``, ``terminating`` and the pod it points at) and the pods its selector picks;
- :func:`service_text`: the same as a few lines of text;
- :func:`service_figure` / :func:`picture`: the Service on the left, its EndpointSlices in the
  middle, the pods on the right; a solid green arrow for an endpoint that gets traffic (ready), a
  dashed grey one for an endpoint left out of the rotation (not ready).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.cluster_hierarchy import PodInfo, get_field, natural_key, pod_info
from labkit.figures import png_image

__all__ = ["Endpoint", "EndpointSliceInfo", "ServiceView", "service_view", "service_text", "service_figure", "picture"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # how an EndpointSlice names its Service


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of an EndpointSlice: an address, its conditions, and the pod it stands for."""

    address: str
    ready: bool
    serving: bool
    terminating: bool
    pod: str | None  # targetRef.name (a Pod), None when the endpoint names no pod
    node: str | None


@dataclass(frozen=True)
class EndpointSliceInfo:
    """One EndpointSlice of the Service: its name, ports and endpoints."""

    name: str
    ports: tuple[int, ...]
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class ServiceView:
    """A Service, the EndpointSlices its controller keeps, and the pods its selector matches."""

    namespace: str
    name: str
    type: str
    cluster_ip: str | None  # "None" for a headless Service
    ports: tuple[str, ...]  # "80 -> 8080/TCP"
    selector: dict[str, str]
    slices: tuple[EndpointSliceInfo, ...]
    pods: tuple[PodInfo, ...]

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def dns_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    @property
    def endpoints(self) -> list[Endpoint]:
        return [endpoint for one in self.slices for endpoint in one.endpoints]

    def receiving(self) -> list[str]:
        """The pods that get the Service's traffic: those of its ready endpoints, by name."""
        return sorted({e.pod for e in self.endpoints if e.ready and e.pod}, key=natural_key)


def _port_text(port: Any) -> str:
    target = port.target_port if port.target_port is not None else port.port
    return f"{port.port} -> {target}/{port.protocol or 'TCP'}"


def service_view(core: Any, discovery: Any, name: str, namespace: str = "default") -> ServiceView:
    """Read the Service ``name``, its EndpointSlices (label ``kubernetes.io/service-name``) and the
    pods its selector matches: three API calls, through the official client."""
    service = core.read_namespaced_service(name, namespace)
    selector = dict(get_field(service, "spec", "selector") or {})
    listed = discovery.list_namespaced_endpoint_slice(namespace, label_selector=f"{SERVICE_NAME_LABEL}={name}").items
    slices = []
    for one in sorted(listed, key=lambda s: s.metadata.name):
        endpoints = []
        for endpoint in one.endpoints or []:
            conditions = endpoint.conditions
            ready = bool(get_field(conditions, "ready"))
            serving = get_field(conditions, "serving")
            target = endpoint.target_ref
            endpoints.append(Endpoint(
                address=",".join(endpoint.addresses or []), ready=ready,
                serving=ready if serving is None else bool(serving),
                terminating=bool(get_field(conditions, "terminating")),
                pod=target.name if target is not None and target.kind == "Pod" else None, node=endpoint.node_name,
            ))
        endpoints.sort(key=lambda e: natural_key(e.pod or e.address))
        slices.append(EndpointSliceInfo(one.metadata.name, tuple(p.port for p in one.ports or [] if p.port is not None),
                                        tuple(endpoints)))
    pods: list[PodInfo] = []
    if selector:
        chosen = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        pods = sorted((pod_info(p) for p in core.list_namespaced_pod(namespace, label_selector=chosen).items),
                      key=lambda p: natural_key(p.name))
    return ServiceView(
        namespace=namespace, name=name, type=get_field(service, "spec", "type") or "ClusterIP",
        cluster_ip=get_field(service, "spec", "cluster_ip"), ports=tuple(_port_text(p) for p in get_field(service, "spec", "ports") or []),
        selector=selector, slices=tuple(slices), pods=tuple(pods),
    )


def _pod_ready(pod: PodInfo) -> bool:
    return pod.phase == "Running" and bool(pod.containers) and all(c.ready for c in pod.containers)


def _restarts(pod: PodInfo) -> int:
    return sum(c.restarts for c in pod.containers)


def _service_lines(view: ServiceView) -> list[str]:
    address = "ClusterIP None (headless: DNS gives pod IPs)" if view.headless else f"ClusterIP {view.cluster_ip}"
    selector = ",".join(f"{k}={v}" for k, v in sorted(view.selector.items())) or "(no selector)"
    return [address, f"ports {', '.join(view.ports) or '-'}", f"DNS {view.dns_name}", f"selector {selector}"]


def service_text(view: ServiceView) -> str:
    """The view as text: the Service, each EndpointSlice with its endpoints, the selected pods."""
    lines = [f"Service {view.namespace}/{view.name} ({view.type}): " + "; ".join(_service_lines(view))]
    for one in view.slices:
        ports = ",".join(str(p) for p in one.ports) or "-"
        lines.append(f"└─ EndpointSlice {one.name} (port {ports}): {len(one.endpoints)} endpoints")
        for e in one.endpoints:
            state = "ready: gets traffic" if e.ready else ("terminating" if e.terminating else "not ready: left out")
            lines.append(f"   └─ {e.address:15} {state:22} -> pod {e.pod or '-'} on {e.node or '-'}")
    if not view.slices:
        lines.append("└─ no EndpointSlice (yet)")
    listed = {e.pod for e in view.endpoints}
    missing = [p.name for p in view.pods if p.name not in listed]
    if missing:
        lines.append(f"pods the selector matches without an endpoint (no IP yet?): {', '.join(missing)}")
    lines.append(f"gets traffic: {', '.join(view.receiving()) or 'no pod'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The picture (drawn the way labkit.cluster_tree draws the hierarchy)
# ---------------------------------------------------------------------------------------------

_SERVICE_COLOUR = "#dce6f5"
_SLICE_COLOUR = "#f7f7f7"
_READY = {"face": "#e3f1df", "edge": "#2e7d32"}
_NOT_READY = {"face": "#fdf0d5", "edge": "#b26a00"}
_ARROW_READY, _ARROW_NOT = "#2e7d32", "#9e9e9e"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def service_figure(view: ServiceView):
    """Service (left) -> EndpointSlices (middle) -> pods (right). A solid green arrow: a ready
    endpoint, its pod gets traffic; dashed grey: not ready, out of the rotation. Pods are green
    when ready and amber when not; a pod the selector matches that has no endpoint has no arrow."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    def box(axes, x, y, w, h, face, edge, width=1.0, style="-"):
        axes.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.08", facecolor=face,
                                      edgecolor=edge, linewidth=width, linestyle=style))

    def arrow(axes, start, end, colour, dashed):
        axes.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, color=colour,
                                       linewidth=1.0 if dashed else 1.6, linestyle="--" if dashed else "-"))

    listed = {e.pod for e in view.endpoints}
    pods = list(view.pods) + [PodInfo(view.namespace, name, None, None, "?", False, None, False)
                              for name in sorted({e.pod for e in view.endpoints if e.pod} - {p.name for p in view.pods})]
    row, gap = 0.62, 0.16
    slice_heights = [0.55 + max(1, len(s.endpoints)) * row for s in view.slices] or [0.55 + row]
    middle = sum(slice_heights) + gap * (len(slice_heights) - 1)
    right = max(1, len(pods)) * (row + gap) - gap
    inner = max(middle, right, 1.9)
    width, height = 13.4, inner + 1.35
    figure = Figure(figsize=(width * 0.78, max(3.0, height * 0.78)), layout="constrained")
    axes = figure.subplots()
    top = height - 0.75
    kind = "headless Service" if view.headless else f"{view.type} Service"
    axes.text(0.1, height - 0.3, f"{kind} {view.namespace}/{view.name}: {len(view.receiving())} of {len(view.endpoints)} "
              "endpoints ready", fontsize=11, fontweight="bold", va="center")

    # the Service
    service_h = 1.9
    sx, sy, sw = 0.1, top - service_h, 3.6
    box(axes, sx, sy, sw, service_h, _SERVICE_COLOUR, "#1f4e9b", 1.2)
    axes.text(sx + 0.12, sy + service_h - 0.28, f"Service {view.name}", fontsize=9, fontweight="bold", va="center")
    for index, line in enumerate(_service_lines(view)):
        axes.text(sx + 0.12, sy + service_h - 0.65 - index * 0.33, _short(line, 46), fontsize=6.5, va="center", color="#333333")

    # the pods (right), placed first so that the endpoints can point at them
    px, pw = 9.4, 3.9
    pod_at: dict[str, tuple[float, float]] = {}
    y = top
    for pod in pods:
        ready = _pod_ready(pod)
        colours = _READY if ready else _NOT_READY
        box(axes, px, y - row, pw, row, colours["face"], colours["edge"], 1.4 if ready else 1.0)
        axes.text(px + 0.12, y - 0.2, f"pod {_short(pod.name, 34)}", fontsize=7.5, fontweight="bold", va="center")
        status = "ready" if ready else "NOT ready"
        detail = f"IP {pod.ip or '-'} · {pod.node or '-'} · {status} · {_restarts(pod)} restarts"
        if pod.name not in listed:
            detail = f"IP {pod.ip or '-'} · {pod.phase} · no endpoint"
        axes.text(px + 0.12, y - 0.44, _short(detail, 60), fontsize=6.2, va="center", color="#333333")
        pod_at[pod.name] = (px, y - row / 2)
        y -= row + gap
    if not pods:
        axes.text(px + 0.1, top - 0.3, "no pods match the selector", fontsize=7.5, style="italic", va="center")

    # the EndpointSlices (middle), with an arrow from the Service and one per endpoint to its pod
    mx, mw = 4.5, 4.1
    y = top
    for one, h in zip(view.slices, slice_heights):
        box(axes, mx, y - h, mw, h, _SLICE_COLOUR, "#555555")
        ports = ",".join(str(p) for p in one.ports) or "-"
        axes.text(mx + 0.12, y - 0.27, f"EndpointSlice {_short(one.name, 26)} · port {ports}", fontsize=7.5,
                  fontweight="bold", va="center")
        arrow(axes, (sx + sw, sy + service_h / 2), (mx, y - 0.27), "#1f4e9b", False)
        ey = y - 0.55
        for endpoint in one.endpoints:
            state = "ready" if endpoint.ready else ("terminating" if endpoint.terminating else "not ready")
            colours = _READY if endpoint.ready else _NOT_READY
            box(axes, mx + 0.15, ey - row + 0.1, mw - 0.3, row - 0.1, colours["face"], colours["edge"], 0.8,
                "-" if endpoint.ready else "--")
            axes.text(mx + 0.27, ey - row / 2 + 0.05, f"{endpoint.address}  {state}", fontsize=7, va="center",
                      family="monospace")
            if endpoint.pod in pod_at:
                arrow(axes, (mx + mw - 0.15, ey - row / 2 + 0.05), pod_at[endpoint.pod],
                      _ARROW_READY if endpoint.ready else _ARROW_NOT, not endpoint.ready)
            ey -= row
        if not one.endpoints:
            axes.text(mx + 0.25, ey - 0.25, "no endpoints", fontsize=7, style="italic", va="center")
        y -= h + gap
    if not view.slices:
        box(axes, mx, top - slice_heights[0], mw, slice_heights[0], _SLICE_COLOUR, "#999999", 0.8, "--")
        axes.text(mx + 0.12, top - 0.3, "no EndpointSlice (yet)", fontsize=7.5, style="italic", va="center")

    axes.text(0.1, 0.22, "solid green arrow: a ready endpoint, its pod gets traffic · dashed grey: not ready, "
              "out of the rotation (the pod keeps running)", fontsize=7, va="center", color="#444444")
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_aspect("equal")
    axes.axis("off")
    return figure


def picture(core: Any, discovery: Any, name: str, namespace: str = "default"):
    """:func:`service_figure` of the live Service ``name``, as a PNG a notebook shows by itself."""
    return png_image(service_figure(service_view(core, discovery, name, namespace)))
