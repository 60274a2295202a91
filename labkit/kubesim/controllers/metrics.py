"""The load model and metrics-server: pod and node usage, served on metrics.k8s.io/v1beta1.

Why a load model: an HPA lesson needs pods that get busier when traffic rises. The load comes
from three places, added up per container:
- client loops in pods (``while sleep 0.01; do wget -q -O- http://php-apache; done``): the
  traffic engine (``traffic.py``) says how many requests each container served over the window
  and what they cost (``HttpAnswer.cpu``, core-seconds each);
- requests from the host (port-forward, the proxy subresources, ``kubectl exec ... wget``),
  counted where the server answers (``requestlog.load``);
- Python (``sim.set_load("web", rps=120)``): requests per second shared evenly by the workload's
  ready pods, as a Service spreads them, each costing the image's ``cpu.perRps``
  (``data/images.yaml``); ``cpu=`` / ``memory=`` set a pod's usage directly instead.
A container's CPU is its image's idle use plus that work, capped by its CPU limit; its memory is
idle plus ``memory.perRps`` per request per second.

Like metrics-server (``--metric-resolution=15s``), usage is sampled every 15 s; a pod has metrics
once it has been running for a full sample window. ``kubectl top`` and the HPA read the samples
(``PodMetrics`` with CPU in nanocores and memory in KiB, ``NodeMetrics`` adding the node's own use).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import images, quantity, requestlog
from ..clock import stamp
from ..objects import label_match, ready_since
from . import Controller

Obj = dict[str, Any]
RESOLUTION = 15.0
NODE_OVERHEAD = (150.0, 600.0)  # millicores, MiB: the kubelet, containerd and system daemons


@dataclass
class Load:
    rps: float = 0.0
    cpu: float | None = None      # millicores per pod, overriding the model
    memory: float | None = None   # MiB per pod


@dataclass
class Sample:
    at: float
    containers: list[tuple[str, float, float]]   # (name, millicores, MiB)


def _workload_keys() -> dict[str, str]:
    return {"deployment": "apps/deployments", "deployments": "apps/deployments", "deploy": "apps/deployments",
            "statefulset": "apps/statefulsets", "sts": "apps/statefulsets", "replicaset": "apps/replicasets",
            "rs": "apps/replicasets", "daemonset": "apps/daemonsets", "ds": "apps/daemonsets"}


class MetricsServer(Controller):
    name = "metrics-server"

    def __init__(self, mgr):
        super().__init__(mgr)
        self.loads: dict[tuple[str, str, str], Load] = {}
        self.samples: dict[tuple[str, str], Sample] = {}
        self.node_samples: dict[str, Sample] = {}
        self.last_scrape: float | None = None

    def start(self) -> None:
        self.mgr.api.virtual["metrics.k8s.io/pods"] = self.pod_metrics
        self.mgr.api.virtual["metrics.k8s.io/nodes"] = self.node_metrics
        self.enqueue("scrape")

    # ---- the Python API ---------------------------------------------------------------
    def set_load(self, workload: str, rps: float | None = None, *, namespace: str = "default",
                 cpu: str | float | None = None, memory: str | float | None = None) -> None:
        kind, _, name = workload.rpartition("/")
        key = _workload_keys().get((kind or "deployment").lower())
        if key is None:
            raise ValueError(f"set_load wants a workload such as 'web' or 'deployment/web', not {workload!r}")
        if self.mgr.find(key, namespace, name) is None:
            raise KeyError(f"no {key.split('/')[-1][:-1]} named {name!r} in namespace {namespace!r}")
        load = self.loads.setdefault((key, namespace, name), Load())
        if rps is not None:
            if rps < 0:
                raise ValueError("rps must be >= 0")
            load.rps = float(rps)
        if cpu is not None:
            load.cpu = quantity.milli(cpu) if isinstance(cpu, str) else float(cpu)
        if memory is not None:
            load.memory = float(quantity.value(memory)) / 2**20 if isinstance(memory, str) else float(memory)

    def load_of(self, pod: Obj) -> tuple[Load | None, int]:
        """The load of the workload a pod belongs to, and how many ready pods share it."""
        labels = pod["metadata"].get("labels") or {}
        for (key, ns, name), load in self.loads.items():
            if ns != pod["metadata"].get("namespace"):
                continue
            wl = self.mgr.find(key, ns, name)
            if wl is None or not label_match((wl.get("spec") or {}).get("selector"), labels):
                continue
            sharing = sum(1 for p in self.mgr.list("/pods", ns)
                          if label_match(wl["spec"].get("selector"), p["metadata"].get("labels") or {})
                          and ready_since(p) is not None and not p["metadata"].get("deletionTimestamp"))
            return load, max(sharing, 1)
        return None, 1

    # ---- scraping -----------------------------------------------------------------------
    def sync(self, key) -> None:
        if key != "scrape":
            return
        now = self.mgr.now()
        samples: dict[tuple[str, str], Sample] = {}
        nodes: dict[str, list[float]] = {}
        share_cache: dict[tuple[str, str], tuple[Load | None, int]] = {}
        traffic = next((c for c in self.mgr.controllers if c.name == "traffic"), None)
        served = traffic is not None and bool(getattr(traffic, "served", None))
        hosted = requestlog.counting(self.store)
        for pod in self.mgr.list("/pods"):
            status = pod.get("status") or {}
            if status.get("phase") != "Running":
                continue
            started = [cs for cs in status.get("containerStatuses") or [] if (cs.get("state") or {}).get("running")]
            if not started:
                continue
            run = self.mgr.kubelet.pods.get(pod["metadata"].get("uid"))
            precise = [r.started for r in run.runs if r.started is not None] if run is not None else []
            first = min(precise) if precise else min(
                datetime.fromisoformat(cs["state"]["running"]["startedAt"].replace("Z", "+00:00")).timestamp() for cs in started)
            if first > now - RESOLUTION + 1e-6:
                continue
            owner = next((r.get("uid") for r in pod["metadata"].get("ownerReferences") or []), pod["metadata"]["uid"])
            ck = (pod["metadata"]["namespace"], owner)
            if ck not in share_cache:
                share_cache[ck] = self.load_of(pod)
            load, sharing = share_cache[ck]
            ready = ready_since(pod) is not None
            containers = []
            for index, c in enumerate(pod["spec"].get("containers") or []):
                info = images.lookup(c.get("image", ""))
                rps = (load.rps / sharing) if (load and ready and index == 0) else 0.0
                cpu = info.cpu_idle + info.cpu_per_rps * rps
                if served or hosted:   # requests clients and the host sent it, over the window
                    n, seconds = self._served(traffic if served else None, pod["metadata"]["uid"], c["name"], now, info)
                    rps += n / RESOLUTION
                    cpu += seconds / RESOLUTION * 1000.0
                mem = info.mem_idle + info.mem_per_rps * rps
                if load and index == 0 and load.cpu is not None:
                    cpu = load.cpu
                if load and index == 0 and load.memory is not None:
                    mem = load.memory
                limit = ((c.get("resources") or {}).get("limits") or {}).get("cpu")
                if limit is not None:
                    cpu = min(cpu, quantity.milli(limit))
                containers.append((c["name"], cpu, mem))
            samples[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = Sample(now, containers)
            node = pod["spec"].get("nodeName")
            if node:
                acc = nodes.setdefault(node, [0.0, 0.0])
                acc[0] += sum(c[1] for c in containers)
                acc[1] += sum(c[2] for c in containers)
        self.samples = samples
        self.node_samples = {}
        for node in self.mgr.list("/nodes"):
            name = node["metadata"]["name"]
            if name in self.mgr.kubelet.stopped:
                continue
            cpu, mem = nodes.get(name, [0.0, 0.0])
            self.node_samples[name] = Sample(now, [("", cpu + NODE_OVERHEAD[0], mem + NODE_OVERHEAD[1])])
        self.last_scrape = now
        self.after(RESOLUTION, "scrape")

    def _served(self, traffic, uid: str, container: str, now: float, info: images.ImageInfo) -> tuple[float, float]:
        """(requests, core-seconds) the container served in the last window, to client loops and to
        the host (a request whose answer names no cost costs the image's ``cpu.perRps``)."""
        n, seconds = traffic.load(uid, container, now - RESOLUTION, now) if traffic is not None else (0.0, 0.0)
        hn, hs = requestlog.load(self.store, uid, container, now - RESOLUTION, now)
        if hn and not hs:
            hs = hn * info.cpu_per_rps / 1000.0
        return n + hn, seconds + hs

    def usage(self, namespace: str, pod: str, resource: str) -> tuple[int | None, float | None]:
        """(usage in milli-units, sample time) of a pod for ``cpu`` or ``memory`` (bytes * 1000)."""
        sample = self.samples.get((namespace, pod))
        if sample is None:
            return None, None
        if resource == "cpu":
            return int(round(sum(c[1] for c in sample.containers))), sample.at
        return int(round(sum(c[2] for c in sample.containers) * 2**20 * 1000)), sample.at

    # ---- the metrics.k8s.io view -------------------------------------------------------------
    def pod_metrics(self, namespace: str | None) -> list[Obj]:
        out = []
        now = stamp(self.mgr.clock.now())
        for (ns, name), sample in sorted(self.samples.items()):
            if namespace and ns != namespace:
                continue
            pod = self.mgr.find("/pods", ns, name)
            if pod is None:
                continue
            out.append({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": name, "namespace": ns, "creationTimestamp": now,
                                     "labels": dict(pod["metadata"].get("labels") or {})},
                        "timestamp": _ts(sample.at), "window": "15s",
                        "containers": [{"name": c, "usage": {"cpu": quantity.cpu_nanocores(cpu), "memory": quantity.memory_ki(mem)}}
                                       for c, cpu, mem in sample.containers]})
        return out

    def node_metrics(self, namespace: str | None) -> list[Obj]:
        out = []
        now = stamp(self.mgr.clock.now())
        for name, sample in sorted(self.node_samples.items()):
            node = self.mgr.find("/nodes", "", name)
            if node is None:
                continue
            _, cpu, mem = sample.containers[0]
            out.append({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                        "metadata": {"name": name, "creationTimestamp": now, "labels": dict(node["metadata"].get("labels") or {})},
                        "timestamp": _ts(sample.at), "window": "20s",
                        "usage": {"cpu": quantity.cpu_nanocores(cpu), "memory": quantity.memory_ki(mem)}})
        return out


def _ts(t: float) -> str:
    return stamp(datetime.fromtimestamp(t, timezone.utc))
