"""Every address the emulated cluster hands out, each from the range and by the rule the real
component uses (one function per job, so each can be checked for every cluster size).

- Node IPs: kind's nodes are containers on the docker network ``kind``, a /16 (172.18.0.0/16;
  .1 is the gateway). Docker gives containers the next free address in order, so node k of a
  cluster gets .2, .3, ...; past .255 the third octet grows (172.18.1.0 is an ordinary host of a /16).
- Pod CIDRs: the node IPAM controller of kube-controller-manager (the range allocator) cuts the
  cluster CIDR (kind: 10.244.0.0/16) into /24s (``--node-cidr-mask-size``) and gives the next
  free one to each node as it registers. A /16 holds 256 of them: a 257th node gets none, its
  ``spec.podCIDR`` stays empty and the controller records a Warning event ``CIDRNotAvailable``.
- Pod IPs: kind's CNI (kindnet: the ``ptp`` plugin with ``host-local`` IPAM) gives a pod the next
  free address of its node's /24 after the last one it gave, from .2 to .254 (.1 is the gateway),
  wrapping round; with no pod CIDR, or none free, the pod gets no IP (see :func:`sandbox_error`).
- GKE-like profile (``gkestate``): nodes are VMs on the zone's VPC subnet (the default network's
  us-central1 subnet, 10.128.0.0/20; GCE gives a new VM the next free address from .2, the pool's
  VMs start in parallel so the order is seeded); each has an ExternalIP from 198.51.100.0/24 and
  the control plane's endpoint is in 192.0.2.0/24 (both documentation ranges: nothing routes
  there). Pod CIDRs: VPC-native clusters give each node a /24 of the cluster's pod range (here
  10.52.0.0/14, as GKE picks a 10.x /14), in the order the nodes registered. The service range is
  kept as on kind (10.96.0.0/16), so a pod's DNS and environment are the same on both profiles.
- External IPs of LoadBalancers (the cloud controller, ``controllers/cloud.py``): a free address of
  203.0.113.0/24 (TEST-NET-3, RFC 5737: a documentation range, so an IP the course shows can never
  be someone's real server), at random, .1 to .254.
- ClusterIPs: the API server picks a free address of the service CIDR (10.96.0.0/16) at random;
  NodePorts: a free port of 30000-32767 at random. A full range is an error, as on a real server.

Why here and not where each is used: the rules are the same wherever an address is made (the
kind state, the kubelet, the API server), and an address that is wrong for one cluster size is
wrong for all; the tests check these functions for every size.
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from . import resources
from .errors import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

Obj = dict[str, Any]

KIND_NETWORK = ipaddress.ip_network("172.18.0.0/16")
CLUSTER_CIDR = ipaddress.ip_network("10.244.0.0/16")
NODE_CIDR_MASK = 24
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
NODE_PORTS = range(30000, 32768)
FIRST_DYNAMIC_SERVICE_HOST = 11
FIRST_NODE_HOST = 2                       # .1 is the docker network's gateway
GKE_SUBNET = ipaddress.ip_network("10.128.0.0/20")
GKE_CLUSTER_CIDR = ipaddress.ip_network("10.52.0.0/14")
NODE_EXTERNAL_IPS = ipaddress.ip_network("198.51.100.0/24")   # TEST-NET-2
CONTROL_PLANE_ENDPOINTS = ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1
LOAD_BALANCER_IPS = ipaddress.ip_network("203.0.113.0/24")    # TEST-NET-3
CLUSTER_CIDRS = (CLUSTER_CIDR, GKE_CLUSTER_CIDR)    # the pod ranges the profiles use, kind's first
FIRST_POD_HOST = 2                        # .1 is the node's end of the pod network (host-local's gateway)
CIDR_EVENT = {"type": "Warning", "reason": "CIDRNotAvailable", "component": "cidrAllocator",
              "message": "Node {node} status is now: CIDRNotAvailable"}


class RangeFull(Exception):
    """No free address (or port) left in a range; the message is the real server's wording."""


def node_ips(count: int) -> list[str]:
    """The InternalIPs of ``count`` nodes in the order docker started them (kind's network)."""
    hosts = KIND_NETWORK.num_addresses - 1 - FIRST_NODE_HOST  # up to the broadcast address
    if count > hosts:
        raise RangeFull(f"the docker network {KIND_NETWORK} has room for {hosts} nodes, not {count}")
    base = KIND_NETWORK.network_address + FIRST_NODE_HOST
    return [str(base + i) for i in range(count)]


def gke_node_ips(count: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """(InternalIPs, ExternalIPs) of ``count`` GKE nodes: consecutive addresses of the subnet
    from .2, handed out in a seeded order; distinct external IPs of 198.51.100.0/24 at random."""
    hosts = min(GKE_SUBNET.num_addresses - 3, NODE_EXTERNAL_IPS.num_addresses - 2)
    if count > hosts:
        raise RangeFull(f"the subnet {GKE_SUBNET} has room for {hosts} nodes, not {count}")
    internal = [str(GKE_SUBNET.network_address + FIRST_NODE_HOST + i) for i in range(count)]
    rng.shuffle(internal)
    external = [str(NODE_EXTERNAL_IPS.network_address + n)
                for n in rng.sample(range(1, NODE_EXTERNAL_IPS.num_addresses - 1), count)]
    return internal, external


def control_plane_endpoint(rng: random.Random) -> str:
    """The (GKE-like) control plane's endpoint: an address of 192.0.2.0/24."""
    return str(CONTROL_PLANE_ENDPOINTS.network_address + rng.randint(2, CONTROL_PLANE_ENDPOINTS.num_addresses - 2))


def load_balancer_ip(rng: random.Random, used: Collection[str]) -> str:
    """A free external IP of 203.0.113.0/24 for a LoadBalancer Service, at random."""
    free = [n for n in range(1, LOAD_BALANCER_IPS.num_addresses - 1)
            if str(LOAD_BALANCER_IPS.network_address + n) not in used]
    if not free:
        raise RangeFull(f"no free external IP left in {LOAD_BALANCER_IPS}")
    return str(LOAD_BALANCER_IPS.network_address + rng.choice(free))


def cluster_cidr_of(node_cidrs: Collection[str]) -> ipaddress.IPv4Network:
    """The cluster CIDR the nodes' pod CIDRs were cut from (kind's when there are none)."""
    for cluster in CLUSTER_CIDRS:
        if any(ipaddress.IPv4Network(c, strict=False).subnet_of(cluster) for c in node_cidrs if c):
            return cluster
    return CLUSTER_CIDR


def pod_cidrs(count: int, cluster: ipaddress.IPv4Network = CLUSTER_CIDR) -> list[str | None]:
    """The pod CIDR of each of ``count`` nodes, in the order they registered: the next free /24
    of the cluster CIDR (kind's 10.244.0.0/16 unless told), or None once all are taken (the range
    allocator's CIDRNotAvailable)."""
    size = 2 ** (NODE_CIDR_MASK - cluster.prefixlen)
    step = 2 ** (32 - NODE_CIDR_MASK)
    base = cluster.network_address
    return [f"{base + i * step}/{NODE_CIDR_MASK}" if i < size else None for i in range(count)]


def next_pod_ip(cidr: str | None, used: Collection[str], after: int = FIRST_POD_HOST - 1) -> tuple[str, int] | None:
    """host-local's choice: the first free host of ``cidr`` after host number ``after``, wrapping
    round (.2 to .254); returns (ip, its host number), or None with no CIDR or no free address."""
    if not cidr:
        return None
    net = ipaddress.ip_network(cidr, strict=False)
    first, last = FIRST_POD_HOST, net.num_addresses - 2          # not the network or broadcast address
    span = last - first + 1
    if span <= 0:
        return None
    start = after + 1 if first <= after + 1 <= last else first
    for step in range(span):
        n = first + (start - first + step) % span
        ip = str(net.network_address + n)
        if ip not in used:
            return ip, n
    return None


def sandbox_error(cidr: str | None, sandbox_id: str) -> str:
    """The kubelet's FailedCreatePodSandBox message when the CNI cannot give a pod an IP.

    kindnet writes its CNI config even for a node without a pod CIDR (with an empty subnet), so
    the node is Ready, and every pod sandbox on it fails in host-local's IPAM; on a node whose /24
    is used up, host-local says the range is full.
    """
    reason = "invalid CIDR address: " if not cidr else f"failed to allocate for range 0: no IP addresses available in range set: {_range(cidr)}"
    return (f'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox '
            f'"{sandbox_id}": plugin type="ptp" failed (add): {reason}')


def _range(cidr: str) -> str:
    net = ipaddress.ip_network(cidr, strict=False)
    return f"{net.network_address + FIRST_POD_HOST}-{net.network_address + net.num_addresses - 2}"


def cluster_ip(rng: random.Random, used: Collection[str]) -> str:
    """A free ClusterIP of the service CIDR, at random; the first few (10.96.0.1 for ``kubernetes``,
    10.96.0.10 for ``kube-dns``) are kept for the cluster's own Services."""
    first, last = FIRST_DYNAMIC_SERVICE_HOST, SERVICE_CIDR.num_addresses - 2
    for _ in range(64):
        ip = str(SERVICE_CIDR.network_address + rng.randint(first, last))
        if ip not in used:
            return ip
    free = [n for n in range(first, last + 1) if str(SERVICE_CIDR.network_address + n) not in used]
    if not free:
        raise RangeFull("failed to allocate a serviceIP: range is full")
    return str(SERVICE_CIDR.network_address + rng.choice(free))


def node_port(rng: random.Random, used: Collection[int]) -> int:
    """A free NodePort of 30000-32767, at random."""
    for _ in range(64):
        port = rng.randint(NODE_PORTS.start, NODE_PORTS.stop - 1)
        if port not in used:
            return port
    free = [p for p in NODE_PORTS if p not in used]
    if not free:
        raise RangeFull("failed to allocate a nodePort: range is full")
    return rng.choice(free)


class Allocator:
    """The API server's allocations over one store: ClusterIPs and NodePorts free in the stored
    objects. Public because two writers allocate: the API server (a Service created over HTTP)
    and the controller manager (Services it makes); both must see the same used set.

    Which resources hold allocations, and of what, is their ``allocations`` field in
    data/resources.yaml (``clusterIP``: ``spec.clusterIP``; ``nodePorts``: ``spec.ports[].nodePort``).
    A full range raises :class:`~.errors.ApiError` 500 with the real server's wording.
    """

    def __init__(self, store: "Store"):
        self.store = store

    def _holders(self, allocation: str) -> list["Obj"]:
        return [obj for res in resources.load() if allocation in res.allocations and res.storage_version is None
                for obj in self.store.list(res)[0]]

    def cluster_ip(self) -> str:
        """A free ClusterIP from 10.96.0.0/16, drawn from the seeded store generator."""
        used = {(s.get("spec") or {}).get("clusterIP") for s in self._holders("clusterIP")}
        try:
            return cluster_ip(self.store.rng, used)
        except RangeFull as full:
            raise _internal(full) from None

    def node_port(self, taken: Collection[int] = ()) -> int:
        """A free NodePort, not used by a stored object nor ``taken`` by the one being created."""
        used = {p.get("nodePort") for s in self._holders("nodePorts")
                for p in (s.get("spec") or {}).get("ports") or []} | set(taken)
        try:
            return node_port(self.store.rng, used)
        except RangeFull as full:
            raise _internal(full) from None


def _internal(full: RangeFull) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {full}")
