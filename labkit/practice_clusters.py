"""Practice clusters: a started emulator with generated workloads, for exercises, tests and demos.

Why a module of its own: it is the only part of the hierarchy code that starts the emulator
(:mod:`labkit.kubesim`); the data (:mod:`labkit.cluster_hierarchy`) and the views
(:mod:`labkit.cluster_tree`) work on any cluster. :func:`practice_cluster` is an emulator (API
server only, so nothing changes unless you change it) with workloads on its nodes: Deployment
pods with two containers, a DaemonSet, bare pods, a static pod, a finished Job pod, a pod no
node can take. The assignment's tests and the library's tests use it; other seeds and sizes
give other clusters, the same arguments the same cluster.

A grading run asks for the same clusters once per submission. With ``LABKIT_PRACTICE_CACHE=<dir>``
in the environment, each cluster is built once (its snapshot, :mod:`labkit.kubesim.snapshot`,
written there atomically, so several evaluators may share the folder) and every later call with
the same arguments and the same labkit code restores a fresh copy of it instead of building it
through the API: the same cluster byte for byte as the API shows it. The folder must be one that
only trusted code writes (the grader's evaluators, never a learner's kernel): whoever writes a
snapshot decides what the tests see. :func:`cluster_seconds` says how long this process spent
getting practice clusters, built or restored (the grader reports it per submission).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import random
import stat
import tempfile
import time
import urllib.request
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Iterator

from labkit.cluster_hierarchy import MIRROR_ANNOTATION, NodeInfo, nodes
from labkit.kubesim import naming

__all__ = ["PracticeCluster", "practice_cluster", "cluster_seconds", "CACHE_ENV", "timed"]
CACHE_ENV = "LABKIT_PRACTICE_CACHE"
_seconds = 0.0  # spent in practice_cluster by this process


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

    @property
    def discovery(self) -> Any:
        """The official client's DiscoveryV1Api (EndpointSlices) on this cluster."""
        from kubernetes import client

        return client.DiscoveryV1Api(self.api_client)

    @property
    def rbac(self) -> Any:
        """The official client's RbacAuthorizationV1Api (Roles, RoleBindings) on this cluster."""
        from kubernetes import client

        return client.RbacAuthorizationV1Api(self.api_client)

    @property
    def authorization(self) -> Any:
        """The official client's AuthorizationV1Api (access reviews: what `kubectl auth can-i` asks)."""
        from kubernetes import client

        return client.AuthorizationV1Api(self.api_client)

    @property
    def policy(self) -> Any:
        """The official client's PolicyV1Api (PodDisruptionBudgets; evictions are CoreV1Api's
        ``create_namespaced_pod_eviction``) on this cluster."""
        from kubernetes import client

        return client.PolicyV1Api(self.api_client)

    @property
    def autoscaling(self) -> Any:
        """The official client's AutoscalingV2Api (HorizontalPodAutoscalers) on this cluster."""
        from kubernetes import client

        return client.AutoscalingV2Api(self.api_client)

    def advance(self, seconds: float) -> None:
        """Run the cluster's controllers through ``seconds`` of simulated time (a live cluster's
        clock moves only so: :mod:`labkit.practice_live`); an API-only cluster just moves its clock."""
        self.sim.advance(seconds)

    def exec(self, namespace: str, pod: str, command: list[str], container: str | None = None) -> str:
        """What ``command`` prints (stdout and stderr) in a container of ``pod``: what the container
        sees, asked the way ``kubectl exec`` asks (the exec subresource, over a WebSocket)."""
        from kubernetes import client
        from kubernetes.stream import stream

        core = client.CoreV1Api(self.api_client)
        extra = {"container": container} if container else {}
        return stream(core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
                      stderr=True, stdin=False, stdout=True, tty=False, **extra)

    def impersonating(self, user: str) -> Any:
        """A CoreV1Api whose requests are made as ``user``: ``kubectl --as``'s Impersonate-User
        header, so the cluster's RBAC decides what it may do (``.api_client.close()`` when done)."""
        from kubernetes import client

        api_client = client.ApiClient(self.api_client.configuration)
        api_client.set_default_header("Impersonate-User", user)
        return client.CoreV1Api(api_client)

    def stop(self) -> None:
        self.api_client.close()
        self.sim.stop()

    def __enter__(self) -> "PracticeCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _suffix(rng: random.Random, length: int = 5) -> str:
    return naming.suffix(rng, length)


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
    with timed():
        cache = os.environ.get(CACHE_ENV)
        if cache:
            return _from_cache(Path(cache), seed, workers, pods_per_worker, name)
        return _build(seed, workers, pods_per_worker, name)


@contextlib.contextmanager
def timed() -> Iterator[None]:
    """Count the time inside the block as time spent getting practice clusters (every builder does)."""
    global _seconds
    began = time.perf_counter()
    try:
        yield
    finally:
        _seconds += time.perf_counter() - began


def cluster_seconds() -> float:
    """Seconds this process has spent getting practice clusters (building or restoring), in
    :func:`practice_cluster` and the other builders (:mod:`labkit.practice_live`)."""
    return _seconds


def _build(seed: int, workers: int, pods_per_worker: int, name: str) -> PracticeCluster:
    from labkit import kubesim

    sim = kubesim.start(seed=seed, workers=workers, name=name, controllers=False)
    practice = _connect(sim)
    if pods_per_worker <= 0:
        return practice
    try:
        _add_workloads(practice, random.Random(f"practice-{seed}-{workers}-{pods_per_worker}"), pods_per_worker)
    except Exception:
        practice.stop()
        raise
    return practice


def _connect(sim: Any) -> PracticeCluster:
    from kubernetes import client, config

    api_client = config.new_client_from_config(sim.kubeconfig)
    return PracticeCluster(sim, client.CoreV1Api(api_client), client.AppsV1Api(api_client), api_client)


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """What the labkit code is: every file of the package (a snapshot of other code is not used),
    and the official client's version (it makes the requests that build a cluster)."""
    import kubernetes

    digest = hashlib.sha256(f"kubernetes {kubernetes.__version__}".encode())
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(b"\0" + str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _from_cache(folder: Path, seed: int, workers: int, pods_per_worker: int, name: str) -> PracticeCluster:
    """A fresh copy of the cluster from its snapshot in ``folder``; the first caller builds it and
    writes the snapshot (a half-written or unreadable snapshot is never used: it is built again)."""
    from labkit.kubesim import snapshot

    args = json.dumps([seed, workers, pods_per_worker, name])
    key = hashlib.sha256(f"{snapshot.FORMAT} {_code_digest()} {args}".encode()).hexdigest()[:32]
    path = folder / f"practice-{key}.json"
    if not _private(folder):
        return _build(seed, workers, pods_per_worker, name)
    text = _read(path)
    if text is not None:
        try:
            return _connect(snapshot.restore(text))
        except snapshot.SnapshotError:
            pass
    practice = _build(seed, workers, pods_per_worker, name)
    try:
        _write_atomically(path, snapshot.capture(practice.sim))
    except OSError:
        pass  # no room or no right to write: this caller still has its cluster, the next builds again
    return practice


def _private(folder: Path) -> bool:
    """Is the cache folder (made now if missing) ours alone? One that others may write, or that is
    not a folder of this user, is not used: a snapshot planted there would decide what tests see."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022


def _read(path: Path) -> str | None:
    """The snapshot's text, or None (missing, unreadable, or a symlink: never followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "r", encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename: a reader sees the whole snapshot or none (the last of
    several writers of the same snapshot wins, with the same text)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
    pod_hash = naming.suffix(rng, 10)
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
