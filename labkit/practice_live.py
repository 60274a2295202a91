"""Live practice clusters: the emulator with its controllers, on a frozen clock, and a namespace of
troubled workloads, for the health, discovery and configuration exercises (assignment 4).

Why a module of its own: :mod:`labkit.practice_clusters` builds API-only clusters whose pod statuses
are written by hand (nothing moves, so a snapshot can be cached). Health and configuration are about
what the kubelet *does*: it restarts a crashing container with a growing back-off, takes a pod whose
readiness probe fails out of its Service's EndpointSlice, refuses to start a container whose
ConfigMap is missing. Here the emulator's own controllers produce those states, on a simulated
clock that moves only when the cluster is advanced, so the same seed gives the same cluster and a
test can apply an answer and let a minute pass at once. A cluster costs about half a second to build
(measured by the grader as practice-cluster time), so there is no cache.

The troubled namespace is data (:data:`TROUBLES`): each entry is a workload, what is wrong with it,
and the reason a diagnosis should find for its pods. The seed picks the names, the sizes and which
replica of the healthy Deployment is kept out of rotation.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from labkit.practice_clusters import PracticeCluster, _connect, timed

__all__ = ["live_cluster", "troubled_namespace", "Trouble", "TROUBLES", "WEB_IMAGE", "TroubledNamespace"]

WEB_IMAGE = "course-webapp:lesson"
SETTLE_SECONDS = 120  # long enough for the back-offs to be waiting between retries (10, 20, 40, 80 s, ...)


@dataclass(frozen=True)
class Trouble:
    """One workload of the troubled namespace: its names to pick from, what is wrong, the expected reason."""

    names: tuple[str, ...]
    what: str
    reason: str
    container: dict
    replicas: tuple[int, int] = (1, 1)
    bare_pod: bool = False
    requests: dict | None = None
    service: bool = False  # a Service in front of it (one with no ready endpoint, when its pods are not ready)
    late: float | None = None  # created this many seconds before the end (so it is caught in its first failure)


TROUBLES: tuple[Trouble, ...] = (
    Trouble(("api", "backend", "orders"), "PORT=abc: the app exits at start, over and over", "CrashLoopBackOff",
            {"image": WEB_IMAGE, "env": [{"name": "PORT", "value": "abc"}]}),
    Trouble(("images", "thumbs", "media"), "a misspelt tag: no registry has it", "ImagePullBackOff",
            {"image": "nginx:lastest"}),
    Trouble(("uploader", "exporter", "sync"), "a private image, and no credentials: its first pull just failed",
            "ImagePullBackOff", {"image": "ourteam/uploader:1.0"}, bare_pod=True, late=1.2),
    Trouble(("report", "billing", "mailer"), "its environment names a ConfigMap that does not exist",
            "CreateContainerConfigError",
            {"image": WEB_IMAGE, "env": [{"name": "APP_GREETING", "valueFrom": {
                "configMapKeyRef": {"name": "{name}-settings", "key": "greeting"}}}]}),
    Trouble(("cache", "search", "catalog"), "its readiness file never appears, so /readyz answers 503", "NotReady",
            {"image": WEB_IMAGE, "env": [{"name": "APP_READY_FILE", "value": "/tmp/warm"}],
             "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5}},
            replicas=(1, 2), service=True),
    Trouble(("nightly", "importer", "backfill"), "asks for more CPU than any node has", "Unschedulable",
            {"image": WEB_IMAGE}, bare_pod=True, requests={"cpu": "64"}),
)


@dataclass
class TroubledNamespace:
    """What :func:`troubled_namespace` made: the healthy Deployment, its Service, the Service that
    selects nothing, the troubled workloads (name -> expected reason) and the pods kept out of rotation."""

    namespace: str
    healthy: str
    service: str
    empty_service: str
    troubled: dict[str, str]
    unready: list[str]

    def reasons(self, practice: PracticeCluster) -> dict[str, str]:
        """What is wrong with each pod of the namespace, as built (pod name -> reason): its workload's
        trouble, or for the healthy Deployment's replicas "NotReady" (kept out of rotation) or "Healthy"."""
        found = {}
        for pod in practice.core.list_namespaced_pod(self.namespace).items:
            app, name = (pod.metadata.labels or {}).get("app"), pod.metadata.name
            if app == self.healthy:
                found[name] = "NotReady" if name in self.unready else "Healthy"
            elif app in self.troubled:
                found[name] = self.troubled[app]
        return found


def live_cluster(seed: int = 0, workers: int = 2, name: str = "course") -> PracticeCluster:
    """A fresh kind-like emulator whose controllers run (scheduler, kubelet, probes, EndpointSlices),
    on a frozen clock: nothing happens until ``advance(seconds)``. Use it in a ``with`` block."""
    from labkit import kubesim

    with timed():
        return _connect(kubesim.start(seed=seed, workers=workers, name=name, realtime=False))


def _deployment(namespace: str, name: str, replicas: int, container: dict) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}}


def _service(namespace: str, name: str, app: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _filled(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace("{name}", name)
    if isinstance(value, list):
        return [_filled(v, name) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, name) for k, v in value.items()}
    return value


def _create(practice: PracticeCluster, namespace: str, name: str, trouble: Trouble, rng: random.Random) -> None:
    container = {"name": "main", **_filled(trouble.container, name)}
    if trouble.requests:
        container["resources"] = {"requests": trouble.requests}
    if trouble.bare_pod:
        practice.core.create_namespaced_pod(namespace, {"apiVersion": "v1", "kind": "Pod",
                                                        "metadata": {"name": name, "labels": {"app": name}},
                                                        "spec": {"containers": [container]}})
    else:
        practice.apps.create_namespaced_deployment(namespace, _deployment(namespace, name, rng.randint(*trouble.replicas), container))
    if trouble.service:
        practice.core.create_namespaced_service(namespace, _service(namespace, name, name))


def troubled_namespace(practice: PracticeCluster, namespace: str = "shop", seed: int = 0,
                       settle: float = SETTLE_SECONDS) -> TroubledNamespace:
    """Create ``namespace`` with a healthy web Deployment behind a Service (one replica kept out of
    rotation: its readiness file is missing), one workload of each :data:`TROUBLES` entry, and a
    Service whose selector matches no pod; then run the cluster ``settle`` seconds forward."""
    rng = random.Random(f"troubled-{seed}-{namespace}")
    with timed():
        core, apps = practice.core, practice.apps
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        healthy = rng.choice(["web", "front", "storefront"])
        replicas = rng.randint(3, 4)
        apps.create_namespaced_deployment(namespace, _deployment(namespace, healthy, replicas, {
            "name": "web", "image": WEB_IMAGE, "ports": [{"containerPort": 8080}],
            "env": [{"name": "APP_READY_FILE", "value": "/tmp/ready"}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5}}))
        core.create_namespaced_service(namespace, _service(namespace, healthy, healthy))
        empty = rng.choice(["admin", "metrics", "legacy"])
        core.create_namespaced_service(namespace, _service(namespace, empty, f"{empty}-ui"))
        troubled: dict[str, str] = {}
        late = []
        for trouble in TROUBLES:
            name = rng.choice(trouble.names)
            troubled[name] = trouble.reason
            if trouble.late is None:
                _create(practice, namespace, name, trouble, rng)
            else:
                late.append((name, trouble))
        practice.advance(5)  # scheduled, pulled, started
        pods = sorted(p.metadata.name for p in core.list_namespaced_pod(namespace, label_selector=f"app={healthy}").items)
        unready = [rng.choice(pods)]
        for pod in pods:
            if pod not in unready:
                practice.exec(namespace, pod, ["touch", "/tmp/ready"])
        elapsed = 5.0
        for name, trouble in sorted(late, key=lambda item: -item[1].late):  # the oldest first
            practice.advance(settle - trouble.late - elapsed)
            _create(practice, namespace, name, trouble, rng)
            elapsed = settle - trouble.late
        practice.advance(settle - elapsed)
    return TroubledNamespace(namespace, healthy, healthy, empty, troubled, unready)
