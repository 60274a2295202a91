"""The node IPAM controller of kube-controller-manager (the range allocator): pod CIDRs for nodes.

The kind state already gives each node its /24 as the controller did while the cluster came up
(``kindstate`` and ``addresses.pod_cidrs``; the GKE-like profile's nodes have /24s of its own
pod range, ``gkestate``, and new nodes get theirs from that range). From then on this controller keeps doing its job:

- a node added without a pod CIDR (``kubectl create -f node.yaml``) gets the first free /24 of the
  cluster CIDR; a deleted node's /24 becomes free again;
- with none free the node keeps an empty ``spec.podCIDR`` and the controller records the Warning
  ``CIDRNotAvailable`` on it. A real controller tries again at every update of the Node (its
  kubelet writes the node status at least every 5 minutes), so the event's count grows and it does
  not expire; here a retry every 5 minutes does the same, and a node that gets a freed /24 on a
  retry has one from then on (the kubelet's next try then gives its waiting pods their IPs).
"""
from __future__ import annotations

from typing import Any

from .. import addresses
from ..store import Event
from . import Controller

Obj = dict[str, Any]
RETRY = 300.0


def _all(cluster) -> list[str]:
    """Every /24 of ``cluster``, in the order the allocator hands them out."""
    return [c for c in addresses.pod_cidrs(2 ** (addresses.NODE_CIDR_MASK - cluster.prefixlen), cluster) if c]


def _cidr(node: Obj) -> str | None:
    return (node.get("spec") or {}).get("podCIDR") or None


class NodeIpam(Controller):
    name = addresses.CIDR_EVENT["component"]
    watches = ("/nodes",)

    def __init__(self, mgr):
        super().__init__(mgr)
        self.taken: dict[str, str] = {}   # cidr -> node
        self.cidrs = _all(addresses.CLUSTER_CIDR)

    def _range(self) -> None:
        """The cluster CIDR is the one the nodes' CIDRs came from: kind's 10.244.0.0/16, or the
        GKE-like profile's 10.52.0.0/14 (``addresses``)."""
        self.cidrs = _all(addresses.cluster_cidr_of([_cidr(n) for n in self.mgr.list("/nodes") if _cidr(n)]))

    def start(self) -> None:
        self._range()
        waiting = False
        for node in self.mgr.list("/nodes"):
            if _cidr(node):
                self.taken[_cidr(node)] = node["metadata"]["name"]
            else:
                waiting = True  # the kind state recorded its CIDRNotAvailable already
        if waiting:
            self.after(RETRY, "retry")

    def on_event(self, event: Event) -> None:
        node = event.obj
        name, cidr = node["metadata"]["name"], _cidr(node)
        if event.type == "DELETED":
            if cidr and self.taken.get(cidr) == name:
                del self.taken[cidr]
                self.enqueue("retry")
        elif cidr:
            self.taken.setdefault(cidr, name)
        elif event.type == "ADDED":
            self.enqueue(name)

    def sync(self, key) -> None:
        if key == "retry":
            waiting = [n for n in self.mgr.list("/nodes") if not _cidr(n)]
            for node in waiting:
                self._allocate(node)
            if any(not _cidr(n) for n in self.mgr.list("/nodes")):
                self.after(RETRY, "retry")
            return
        node = self.mgr.find("/nodes", "", key)
        if node is not None and not _cidr(node) and not self._allocate(node):
            self.after(RETRY, "retry")

    def _allocate(self, node: Obj) -> bool:
        """Give ``node`` the first free /24; False (and the event) when there is none."""
        name = node["metadata"]["name"]
        free = next((cidr for cidr in self.cidrs if cidr not in self.taken), None)
        if free is None:
            ev = addresses.CIDR_EVENT
            self.mgr.recorder.record(node, ev["type"], ev["reason"], ev["message"].format(node=name), ev["component"])
            return False

        def assign(obj: Obj) -> Obj | None:
            if _cidr(obj):
                return None
            spec = obj.setdefault("spec", {})
            spec["podCIDR"], spec["podCIDRs"] = free, [free]
            return obj
        updated = self.mgr.mutate("/nodes", "", name, assign)
        if updated is not None and _cidr(updated) == free:
            self.taken[free] = name
        return True
