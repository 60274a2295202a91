"""The path from your machine to the internet, as a picture: which of lesson 6's steps exist so far.

Why a module: deploying to GKE is a chain of things in different places (an image tagged on your
machine, a repository in Artifact Registry, a cluster's nodes, the pods they run, a Service's load
balancer, a client on the internet), made by commands of three tools. A learner loses track of which
exist, and of which keep billing after the lesson; a picture with the steps that exist in colour and
the rest in grey answers both at a glance, at the start (nothing), midway and after the teardown.

What exists is worked out from the commands that worked, in order (:attr:`labkit.gke_rehearsal.Cloud.history`,
or any list of word lists): a tag or build to an Artifact Registry name, a repository created (and not
deleted), a push into it, a cluster created (and not deleted), its credentials. What only the cluster
knows (ready pods, the external IP) is read from it with ``kubectl get ... -o json``, through the
rehearsal's kubeconfig (or, for real, the learner's own), so the picture is the same in a rehearsal and
on Google Cloud.

- :func:`progress`: the steps as data (:class:`Progress`), from commands and what the cluster said;
- :func:`live_from_json`: the Deployment and Service of ``kubectl get -o json``, as :class:`Live`;
- :func:`path_figure` / :func:`picture`: the path drawn left to right, as a PNG a notebook shows.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labkit.figures import png_image
from labkit.gke_plan import flag, location, positional, starts_with

__all__ = ["STEPS", "Step", "Progress", "Live", "progress", "live_from_json", "read_live", "path_figure", "picture"]

# (key, box title, what the box stands for): left to right, then the kubectl link below
STEPS: tuple[tuple[str, str, str], ...] = (
    ("image", "your machine", "the image, tagged with\nits registry name"),
    ("registry", "Artifact Registry", "REGION-docker.pkg.dev/\nPROJECT/REPOSITORY"),
    ("cluster", "GKE cluster", "nodes that pull\nthe image"),
    ("pods", "Deployment", "pods running it,\nready"),
    ("load balancer", "Service (LoadBalancer)", "an external IP,\na cloud load balancer"),
    ("internet", "the internet", "anyone calls\nhttp://EXTERNAL-IP/"),
    ("credentials", "kubeconfig context", "kubectl on your machine\ntalks to the cluster"),
)
REGISTRY_SUFFIX = "-docker.pkg.dev"


@dataclass(frozen=True)
class Step:
    """One step of the path: whether it exists now, and what it is (a name, a place, a count)."""

    key: str
    title: str
    done: bool
    detail: str


@dataclass(frozen=True)
class Progress:
    """The steps, in :data:`STEPS` order, and the cluster and context they found (if any)."""

    steps: tuple[Step, ...]
    cluster: str | None = None
    context: str | None = None

    def __getitem__(self, key: str) -> Step:
        return next(step for step in self.steps if step.key == key)

    def done(self) -> list[str]:
        """The keys of the steps that exist now."""
        return [step.key for step in self.steps if step.done]


@dataclass(frozen=True)
class Live:
    """What the cluster says of the Deployment and its Service (None: not there)."""

    ready: int | None = None          # ready replicas of the Deployment
    replicas: int | None = None       # replicas it wants
    image: str | None = None          # its first container's image
    service_type: str | None = None
    external_ip: str | None = None


def _registry_ref(ref: str) -> tuple[str, str, str] | None:
    """(location, project, repository) of an Artifact Registry image name, None for another name."""
    host, _, path = ref.partition("/")
    parts = path.split("/")
    if not host.endswith(REGISTRY_SUFFIX) or len(parts) < 3:
        return None
    return host[: -len(REGISTRY_SUFFIX)], parts[0], parts[1]


def _tagged(words: Sequence[str]) -> list[str]:
    if starts_with(words, "docker", "tag") and len(words) == 4:
        return [words[3]]
    if starts_with(words, "docker", "build"):
        return [w for i, w in enumerate(words) if i and words[i - 1] in ("-t", "--tag")] + \
               [w.split("=", 1)[1] for w in words if w.startswith("--tag=")]
    return []


def progress(commands: Sequence[Sequence[str]], project: str = "", live: Live | None = None) -> Progress:
    """Which steps exist after ``commands`` (each a list of words, the ones that worked, in order).

    ``project`` is the project a command without ``--project`` works in (``gcloud config set project``
    changes it); ``live`` is what the cluster says (:func:`read_live`), needed for the pods, the load
    balancer and the internet: commands alone cannot say whether pods are ready or an IP arrived."""
    tagged: list[str] = []
    repositories: set[tuple[str, str, str]] = set()          # (location, project, name)
    pushed: list[str] = []
    clusters: dict[str, tuple[str, str, str]] = {}           # name -> (where, project, what)
    context: tuple[str, str] | None = None                   # (cluster, context name)
    for words in commands:
        words = list(words)
        here = flag(words, "--project") or project
        if starts_with(words, "gcloud", "config", "set", "project") and len(words) > 4:
            project = words[4]
        tagged += [ref for ref in _tagged(words) if _registry_ref(ref)]
        if starts_with(words, "gcloud", "artifacts", "repositories") and len(words) > 3:
            key = (flag(words, "--location") or "", here, positional(words, 4) or "")
            if words[3] == "create":
                repositories.add(key)
            elif words[3] == "delete":
                repositories.discard(key)
                pushed = [ref for ref in pushed if _registry_ref(ref) != key]
        if starts_with(words, "docker", "push") and len(words) == 3 and _registry_ref(words[2]) in repositories:
            pushed.append(words[2])
        if starts_with(words, "gcloud", "container", "clusters") and len(words) > 4:
            name = positional(words, 4) or ""
            where = location(words)[1] or ""
            if words[3] in ("create", "create-auto"):
                what = "Autopilot" if words[3] == "create-auto" else \
                    f"{flag(words, '--num-nodes') or 3} x {flag(words, '--machine-type') or 'e2-medium'}"
                clusters[name] = (where, here, what)
                context = (name, f"gke_{here}_{where}_{name}")   # create writes the kubeconfig entry too
            elif words[3] == "get-credentials" and name in clusters and clusters[name][0] == where:
                context = (name, f"gke_{here}_{where}_{name}")
            elif words[3] == "delete" and name in clusters and clusters[name][0] == where:
                del clusters[name]
                if context and context[0] == name:
                    context = None
    cluster = context[0] if context else next(iter(clusters), None)
    live = live if cluster else None
    ready = bool(live and live.ready)
    address = live.external_ip if live else None
    places = sorted({f"{where}{REGISTRY_SUFFIX}/{proj}/{name}" for where, proj, name in repositories})
    steps = {
        "image": (bool(tagged), tagged[-1] if tagged else "nothing tagged for a registry yet"),
        "registry": (bool(pushed), f"{len(set(pushed))} image(s) in {places[0]}" if pushed and places else
                     (f"{places[0]}: empty" if places else "no repository")),
        "cluster": (cluster is not None, f"{cluster}: {clusters[cluster][0]}, {clusters[cluster][2]}" if cluster
                    else "no cluster"),
        "pods": (ready, f"{live.ready}/{live.replicas} ready, image {(live.image or '?').rsplit('/', 1)[-1]}"
                 if live and live.replicas is not None
                 else "no Deployment"),
        "load balancer": (bool(address), f"EXTERNAL-IP {address}" if address else
                          ("EXTERNAL-IP <pending>" if live and live.service_type == "LoadBalancer" else "no LoadBalancer Service")),
        "internet": (bool(address) and ready, f"http://{address}/" if address and ready else "nothing to call"),
        "credentials": (context is not None, context[1] if context else "no context"),
    }
    return Progress(tuple(Step(key, title, *steps[key]) for key, title, _ in STEPS), cluster, context[1] if context else None)


def live_from_json(document: dict[str, Any], deployment: str = "web", service: str = "web") -> Live:
    """The Deployment ``deployment`` and the Service ``service`` of ``kubectl get ... -o json`` (a List)."""
    items = document.get("items", [document]) if document else []
    found: dict[str, Any] = {}
    for item in items:
        kind, name = item.get("kind"), (item.get("metadata") or {}).get("name")
        if (kind, name) in (("Deployment", deployment), ("Service", service)):
            found[kind] = item
    fields: dict[str, Any] = {}
    if "Deployment" in found:
        spec, status = found["Deployment"].get("spec") or {}, found["Deployment"].get("status") or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or [{}]
        fields.update(ready=int(status.get("readyReplicas") or 0), replicas=int(spec.get("replicas", 1)),
                      image=containers[0].get("image"))
    if "Service" in found:
        ingress = (((found["Service"].get("status") or {}).get("loadBalancer") or {}).get("ingress")) or [{}]
        fields.update(service_type=(found["Service"].get("spec") or {}).get("type", "ClusterIP"),
                      external_ip=ingress[0].get("ip") or ingress[0].get("hostname"))
    return Live(**fields)


def read_live(cloud: Any, deployment: str = "web", service: str = "web", namespace: str = "default") -> Live | None:
    """Ask the cluster of ``cloud``'s credentials (its own kubeconfig in a rehearsal) for the Deployment and
    the Service; None when kubectl is missing or nothing answers."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    env = dict(os.environ) if getattr(cloud, "really", False) else {**os.environ, "KUBECONFIG": cloud.kubeconfig}
    try:
        done = subprocess.run([kubectl, "get", f"deployment/{deployment}", f"service/{service}", "-n", namespace, "-o", "json",
                               "--ignore-not-found", "--request-timeout=10s"], capture_output=True, text=True, timeout=30,
                              env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    return live_from_json(json.loads(done.stdout) if done.stdout.strip() else {}, deployment, service)


# ---------------------------------------------------------------------------------------------
# The picture
# ---------------------------------------------------------------------------------------------

_DONE = {"face": "#e3f1df", "edge": "#2e7d32", "text": "#1b1b1b"}
_NOT_YET = {"face": "#f2f2f2", "edge": "#b0b0b0", "text": "#8a8a8a"}
_ARROWS = ("docker\npush", "nodes\npull", "kubectl\napply", "selector", "external\nIP")


def _lines(text: str, width: int, most: int = 2) -> str:
    """``text`` in lines of at most ``width`` characters, broken after a ``/``, ``,`` or space when it can."""
    lines: list[str] = []
    while len(text) > width and len(lines) < most - 1:
        cut = max(text.rfind(mark, 0, width) for mark in ("/", ", ", " "))
        cut = cut + 1 if cut > 0 else width
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    lines.append(text if len(text) <= width else text[: width - 1] + "…")
    return "\n".join(lines)


def path_figure(state: Progress, title: str = "") -> Any:
    """The six places left to right (your machine → Artifact Registry → cluster → pods → Service → the
    internet) and, below, the kubeconfig context through which kubectl on your machine reaches the cluster.
    A step that exists is green and says what it is; one that does not is grey and dashed."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    about = {key: what for key, _, what in STEPS}
    width, height, box_w, box_h, gap = 18.2, 4.9, 2.3, 2.0, 0.8
    figure = Figure(figsize=(width * 0.72, height * 0.72), layout="constrained")
    axes = figure.subplots()

    def look(step: Step) -> dict[str, str]:
        return _DONE if step.done else _NOT_YET

    def box(x: float, y: float, w: float, h: float, step: Step) -> None:
        axes.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.1", facecolor=look(step)["face"],
                                      edgecolor=look(step)["edge"], linewidth=1.6 if step.done else 1.0,
                                      linestyle="-" if step.done else "--", gid=f"step:{step.key}"))

    def arrow(start: tuple[float, float], end: tuple[float, float], step: Step) -> None:
        axes.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=11, color=look(step)["edge"],
                                       linewidth=1.5 if step.done else 1.0, linestyle="-" if step.done else "--"))

    axes.text(0.1, height - 0.25, title or f"The path to GKE: {len(state.done())} of {len(state.steps)} steps exist",
              fontsize=11, fontweight="bold", va="center")
    y = height - 0.7 - box_h
    for index, (key, _, _) in enumerate(STEPS[:6]):
        step, x = state[key], 0.1 + index * (box_w + gap)
        box(x, y, box_w, box_h, step)
        axes.text(x + 0.1, y + box_h - 0.25, step.title, fontsize=8, fontweight="bold", va="center", color=look(step)["text"])
        axes.text(x + 0.1, y + box_h - 0.72, about[key], fontsize=6.3, va="center", color=look(step)["text"])
        axes.text(x + 0.1, y + 0.86, "exists" if step.done else "not there", fontsize=6.5, fontweight="bold", va="center",
                  color=look(step)["edge"])
        axes.text(x + 0.1, y + 0.38, _lines(step.detail, 34, 3), fontsize=5.3, va="center", color=look(step)["text"],
                  family="monospace", linespacing=1.3)
        if index:
            arrow((x - gap, y + box_h / 2), (x, y + box_h / 2), step)
            axes.text(x - gap / 2, y + box_h / 2 + 0.1, _ARROWS[index - 1], fontsize=6, ha="center", va="bottom",
                      color=look(step)["edge"], linespacing=1.1)

    credentials = state["credentials"]
    machine_x, cluster_x = 0.1 + box_w / 2, 0.1 + 2 * (box_w + gap) + box_w / 2
    cx, cy, ch = machine_x - 0.7, y - 1.5, 0.85
    cw = cluster_x + 0.7 - cx
    box(cx, cy, cw, ch, credentials)
    axes.text(machine_x + 0.15, cy + ch - 0.25, "kubeconfig context (gcloud ... get-credentials)", fontsize=7.2, fontweight="bold",
              va="center", color=look(credentials)["text"])
    axes.text(machine_x + 0.15, cy + 0.25, _lines(credentials.detail, 62, 1), fontsize=5.8, va="center", family="monospace",
              color=look(credentials)["text"])
    arrow((machine_x, y), (machine_x, cy + ch), credentials)
    arrow((cluster_x, cy + ch), (cluster_x, y), credentials)
    axes.text(machine_x + 0.08, (y + cy + ch) / 2, "kubectl", fontsize=6.2, va="center", color=look(credentials)["edge"])
    axes.text(cluster_x + 0.08, (y + cy + ch) / 2, "to its API server", fontsize=6.2, va="center", color=look(credentials)["edge"])
    axes.text(width - 0.1, 0.15, "green: exists now (and may be billed) · grey, dashed: not there", fontsize=6.5, ha="right",
              va="center", color="#555555")
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.set_aspect("equal")
    axes.axis("off")
    return figure


def picture(cloud: Any = None, *, deployment: str = "web", service: str = "web") -> Any:
    """:func:`path_figure` of what ``cloud`` (a :class:`labkit.gke_rehearsal.Cloud`) has made so far, as a PNG;
    without a cloud, the whole path in grey."""
    if cloud is None:
        return png_image(path_figure(progress([]), "The path to GKE: your machine → Artifact Registry → cluster → pods → "
                                                   "Service → the internet"))
    state = progress(cloud.history, cloud.project)
    if state.cluster is not None:
        state = progress(cloud.history, cloud.project, read_live(cloud, deployment, service))
    where = "for real, project " + cloud.project if getattr(cloud, "really", False) else "rehearsal"
    return png_image(path_figure(state, f"The path to GKE ({where}): {len(state.done())} of {len(state.steps)} steps exist"))
