"""LoadBalancer Services, honestly: the cloud controller's service controller, or the word why not.

Which cluster this is comes from what its nodes say, as on a real cluster: a cloud controller
manager runs only where there is a cloud, and the nodes' ``spec.providerID`` names it
(``gce://PROJECT/ZONE/NAME`` on the GKE-like profile, ``kind://...`` on kind's).

- **GKE-like profile** (nodes ``gce://``): as GKE's service controller does for a ``type:
  LoadBalancer`` Service: the event ``EnsuringLoadBalancer`` "Ensuring load balancer" at once;
  after a seeded 30-60 s of simulated time (a GCP network load balancer takes about that long)
  ``status.loadBalancer.ingress: [{ip, ipMode: VIP}]`` with an address of 203.0.113.0/24
  (``addresses.load_balancer_ip``: a documentation range, nothing outside the emulator answers
  there) and ``EnsuredLoadBalancer`` "Ensured load balancer". A type change records ``Type``
  "LoadBalancer -> ClusterIP" as the real controller does; leaving LoadBalancer (a type change or
  a delete) records ``DeletingLoadBalancer`` / ``DeletedLoadBalancer`` and frees the IP.
  Unlike GKE, a deleted Service is not held by the ``service.kubernetes.io/load-balancer-cleanup``
  finalizer while the load balancer goes: the IP is freed at once, so ``kubectl delete`` never
  waits on a frozen clock.
- **kind profile**: nothing gives an external IP (kind has no cloud controller), so EXTERNAL-IP
  stays ``<pending>`` for ever, as on kind. A real kind cluster says nothing about it; here the
  emulator (component ``kubesim``, so nobody mistakes it for a Kubernetes component) records one
  event on the Service that says why and what to use instead. It is a **Warning** with reason
  **NoLoadBalancer** because what was asked for (an external IP) will never come, which is what
  Warning means in ``kubectl get events`` (the type a cloud's service controller uses when it
  cannot make a load balancer, ``SyncLoadBalancerFailed``), and ``kubectl get events
  --field-selector type=Warning`` is where a learner looks when something stays pending. The
  reason names the missing thing, not a failure of the Service, which is otherwise fine (its
  ClusterIP and NodePorts work). NodePorts are allocated as on kind.
"""
from __future__ import annotations

from typing import Any

from .. import addresses
from ..store import Event
from . import Controller

Obj = dict[str, Any]
LB = "LoadBalancer"
DELAY = (30, 60)   # seconds from EnsuringLoadBalancer to the external IP (seeded, whole seconds)
NO_LB_COMPONENT = "kubesim"
NO_LB_REASON = "NoLoadBalancer"


def cloud_of(nodes: list[Obj]) -> str | None:
    """The cloud the nodes run in, from their providerID (``gce``), or None (kind: no cloud)."""
    for node in nodes:
        provider = (node.get("spec") or {}).get("providerID") or ""
        if provider.startswith("gce://"):
            return "gce"
    return None


def no_lb_message(svc: Obj) -> str:
    """The kind profile's word on a pending LoadBalancer, with a port-forward for its first port."""
    name = svc["metadata"]["name"]
    ports = (svc.get("spec") or {}).get("ports") or [{}]
    port = ports[0].get("port", 80)
    local = port if port >= 1024 else 8000 + port
    return (f"this cluster has no cloud controller (as on kind), so no external IP will be assigned and "
            f"EXTERNAL-IP stays <pending>; use kubectl port-forward service/{name} {local}:{port}, or type: NodePort")


class CloudController(Controller):
    name = "service-controller"
    watches = ("/services",)

    def __init__(self, mgr):
        super().__init__(mgr)
        self.cloud: str | None = None
        self.seen: dict[tuple[str, str], Obj] = {}   # (ns, name) -> the Service as last synced
        self.ips: dict[str, str] = {}                # Service uid -> its external IP
        self.ensuring: set[str] = set()              # uids waiting for their load balancer
        self.rng = mgr.rng_for("cloud", "load-balancer-ips")

    def start(self) -> None:
        self.cloud = cloud_of(self.mgr.list("/nodes"))
        for svc in self.mgr.list("/services"):
            key = (svc["metadata"]["namespace"], svc["metadata"]["name"])
            for ingress in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                if ingress.get("ip"):
                    self.ips[svc["metadata"]["uid"]] = ingress["ip"]
            self.seen[key] = svc
            if _type(svc) == LB:
                self.enqueue(("service",) + key)

    def on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        self.enqueue(("service", meta.get("namespace", ""), meta["name"]))

    def sync(self, key) -> None:
        if key[0] == "ensure":
            self._ensured(*key[1:])
            return
        _, ns, name = key
        svc = self.mgr.find("/services", ns, name)
        before = self.seen.get((ns, name))
        if before is not None and (svc is None or before["metadata"]["uid"] != svc["metadata"]["uid"]):
            self._release(before)   # deleted (or deleted and made again)
            before = None
        if svc is None:
            self.seen.pop((ns, name), None)
            return
        self.seen[(ns, name)] = svc
        was, now = (_type(before) if before is not None else None), _type(svc)
        uid = svc["metadata"]["uid"]
        if self.cloud is None:
            if now == LB and was != LB:
                self.mgr.recorder.record(svc, "Warning", NO_LB_REASON, no_lb_message(svc), NO_LB_COMPONENT)
            return
        if was is not None and was != now and LB in (was, now):
            self.mgr.recorder.record(svc, "Normal", "Type", f"{was} -> {now}", self.name)
        if now == LB and uid not in self.ips and uid not in self.ensuring:
            self.ensuring.add(uid)
            self.mgr.recorder.record(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer", self.name)
            delay = self.mgr.rng_for("cloud", "delay", uid).randint(*DELAY)
            self.after(delay, ("ensure", ns, name, uid))
        elif now != LB and (uid in self.ips or uid in self.ensuring):
            self._release(svc)

    def _ensured(self, ns: str, name: str, uid: str) -> None:
        svc = self.mgr.find("/services", ns, name)
        if svc is None or svc["metadata"]["uid"] != uid or uid not in self.ensuring or _type(svc) != LB:
            return
        self.ensuring.discard(uid)
        ip = addresses.load_balancer_ip(self.rng, set(self.ips.values()))
        self.ips[uid] = ip

        def publish(s: Obj) -> Obj:
            s["status"] = dict(s.get("status") or {}, loadBalancer={"ingress": [{"ip": ip, "ipMode": "VIP"}]})
            return s
        updated = self.mgr.mutate("/services", ns, name, publish, shallow=True)
        self.mgr.recorder.record(updated or svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer", self.name)

    def _release(self, svc: Obj) -> None:
        """The Service left LoadBalancer (or is gone): delete its load balancer, free the IP."""
        uid = svc["metadata"]["uid"]
        if uid not in self.ips and uid not in self.ensuring:
            return
        self.ensuring.discard(uid)
        self.ips.pop(uid, None)
        self.mgr.recorder.record(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer", self.name)
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]

        def clear(s: Obj) -> Obj | None:
            if s["metadata"]["uid"] != uid or not ((s.get("status") or {}).get("loadBalancer") or {}):
                return None
            s["status"] = dict(s.get("status") or {}, loadBalancer={})
            return s
        self.mgr.mutate("/services", ns, name, clear, shallow=True)
        self.mgr.recorder.record(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer", self.name)

    def external_ip(self, namespace: str, name: str) -> str | None:
        """The external IP the load balancer of Service ``namespace/name`` has, if any."""
        svc = self.seen.get((namespace, name))
        return self.ips.get(svc["metadata"]["uid"]) if svc is not None else None


def _type(svc: Obj) -> str:
    return (svc.get("spec") or {}).get("type") or "ClusterIP"
