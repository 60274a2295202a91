"""Service endpoints: Endpoints and EndpointSlices from the pods a Service selects.

As the endpoints and endpointslice controllers do: for a Service with a selector, the pods in its
namespace whose labels match and that have an IP; ready ones go to ``addresses`` (slices:
``conditions.ready: true``), others to ``notReadyAddresses``; terminating pods are left out of
Endpoints and shown as ``terminating`` in slices. Named target ports are resolved per pod from
its containers' ports. The ClusterIP itself is allocated by the API server (10.96.0.0/16).
"""
from __future__ import annotations

import collections
from typing import Any

from ..objects import label_match, owner_ref
from ..store import Event
from . import Controller

Obj = dict[str, Any]
MANAGED_BY = "endpointslice-controller.k8s.io"


class EndpointsController(Controller):
    name = "endpoint-controller"
    watches = ("/services", "/pods")

    def __init__(self, mgr):
        super().__init__(mgr)
        self.by_namespace: dict[str, dict[str, Obj]] = collections.defaultdict(dict)  # services with selectors

    def start(self) -> None:
        for svc in self.mgr.list("/services"):
            if (svc.get("spec") or {}).get("selector"):
                self.by_namespace[svc["metadata"]["namespace"]][svc["metadata"]["name"]] = svc
                self.enqueue((svc["metadata"]["namespace"], svc["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        obj = event.obj
        ns = obj["metadata"].get("namespace", "")
        if event.resource.key == "/services":
            name = obj["metadata"]["name"]
            if event.type == "DELETED":
                self.by_namespace[ns].pop(name, None)
                self.enqueue((ns, name))
            elif (obj.get("spec") or {}).get("selector"):
                self.by_namespace[ns][name] = obj
                self.enqueue((ns, name))
            else:
                self.by_namespace[ns].pop(name, None)
            return
        labels = obj["metadata"].get("labels") or {}
        for name, svc in self.by_namespace.get(ns, {}).items():
            if label_match({"matchLabels": svc["spec"]["selector"]}, labels):
                self.enqueue((ns, name))

    def sync(self, key) -> None:
        namespace, name = key
        svc = self.mgr.find("/services", namespace, name)
        if svc is None:
            for ep in self.mgr.list("/endpoints", namespace):
                if ep["metadata"]["name"] == name and not (ep["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/skip-mirror"):
                    self.mgr.delete("/endpoints", ep)
            return
        selector = (svc.get("spec") or {}).get("selector")
        if not selector:
            return
        pods = [p for p in self.mgr.list("/pods", namespace)
                if label_match({"matchLabels": selector}, p["metadata"].get("labels") or {})
                and (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        self._endpoints(svc, pods)
        self._slice(svc, pods)

    @staticmethod
    def _ready(pod: Obj) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (pod.get("status") or {}).get("conditions") or [])

    @staticmethod
    def _ports(svc: Obj, pod: Obj | None) -> list[Obj]:
        out = []
        for p in svc["spec"].get("ports") or []:
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, str) and pod is not None:
                target = next((cp.get("containerPort") for c in pod["spec"].get("containers") or []
                               for cp in c.get("ports") or [] if cp.get("name") == target), None)
                if target is None:
                    continue
            entry = {"port": target, "protocol": p.get("protocol", "TCP")}
            if p.get("name"):
                entry["name"] = p["name"]
            if p.get("appProtocol"):
                entry["appProtocol"] = p["appProtocol"]
            out.append(entry)
        return out

    def _endpoints(self, svc: Obj, pods: list[Obj]) -> None:
        subsets: dict[str, Obj] = {}
        for pod in sorted(pods, key=lambda p: p["status"]["podIP"]):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            ports = self._ports(svc, pod)
            if not ports:
                continue
            sig = repr(ports)
            subset = subsets.setdefault(sig, {"ports": ports})
            address = {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"),
                       "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"],
                                     "uid": pod["metadata"]["uid"]}}
            subset.setdefault("addresses" if self._ready(pod) else "notReadyAddresses", []).append(address)
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": svc["metadata"]["name"], "namespace": svc["metadata"]["namespace"],
                                  "labels": dict(svc["metadata"].get("labels") or {})}}
        if subsets:
            body["subsets"] = [{k: s[k] for k in ("addresses", "notReadyAddresses", "ports") if k in s} for s in subsets.values()]
        if not body["metadata"]["labels"]:
            del body["metadata"]["labels"]
        current = self.mgr.find("/endpoints", svc["metadata"]["namespace"], svc["metadata"]["name"])
        if current is None:
            self.mgr.create("/endpoints", body)
            return

        def put(ep: Obj) -> Obj | None:
            if ep.get("subsets") == body.get("subsets"):
                return None
            if "subsets" in body:
                ep["subsets"] = body["subsets"]
            else:
                ep.pop("subsets", None)
            return ep
        self.mgr.mutate("/endpoints", svc["metadata"]["namespace"], svc["metadata"]["name"], put)

    def _slice(self, svc: Obj, pods: list[Obj]) -> None:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        mine = [s for s in self.mgr.list("discovery.k8s.io/endpointslices", ns)
                if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name]
        endpoints = []
        for pod in sorted(pods, key=lambda p: p["status"]["podIP"]):
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            ready = self._ready(pod) and not terminating
            endpoints.append({"addresses": [pod["status"]["podIP"]],
                              "conditions": {"ready": ready, "serving": self._ready(pod), "terminating": terminating},
                              "nodeName": pod["spec"].get("nodeName"),
                              "targetRef": {"kind": "Pod", "name": pod["metadata"]["name"], "namespace": ns,
                                            "uid": pod["metadata"]["uid"]}})
        # a slice's port always has a name, "" when the Service's port has none (kubectl describe
        # service dereferences it: without it, it panics in formatEndpointSlices)
        ports = [{**p, "name": p.get("name", "")} for p in self._ports(svc, pods[0] if pods else None)]
        if not mine:
            labels = dict(svc["metadata"].get("labels") or {})
            labels.update({"endpointslice.kubernetes.io/managed-by": MANAGED_BY, "kubernetes.io/service-name": name})
            ref = owner_ref(svc)
            body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                    "metadata": {"name": f"{name}-{self.mgr.suffix('slice/' + svc['metadata']['uid'])}", "generateName": f"{name}-",
                                 "namespace": ns, "labels": labels, "ownerReferences": [ref], "generation": 1},
                    "endpoints": endpoints, "ports": ports}
            self.mgr.create("discovery.k8s.io/endpointslices", body)
            return

        def put(s: Obj) -> Obj | None:
            if s.get("endpoints") == endpoints and s.get("ports") == ports:
                return None
            s["endpoints"], s["ports"] = endpoints, ports
            s["metadata"]["generation"] = s["metadata"].get("generation", 1) + 1
            return s
        self.mgr.mutate("discovery.k8s.io/endpointslices", ns, mine[0]["metadata"]["name"], put)
