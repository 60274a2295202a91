"""Who answers a connection to an address inside the emulated cluster: a pod, a Service's
endpoint, a node's kubelet, or nobody (the dialer's ``connection refused``).

Why its own module: the proxy subresources, ``kubectl port-forward``, the container shell's
``wget``/``curl``/``nc`` and the kubelet's probes ask the same questions before any byte is said:
*which pod does ``host:port`` reach* (:func:`resolve`: a pod IP, a Service's ClusterIP, a NodePort
on any node, the kubelet port) and *does one of its containers listen there* (:func:`serves`,
:func:`echo_ports`, :func:`listening_container`, from the image and its ``command``, the same
facts the kubelet's probes use). What the server then says is :mod:`.http_answers`; the public
face of both is :mod:`.serving`. (Not :mod:`.addresses`: that one hands out the IPs.)

Rules, as on a real cluster:
- only a Running pod whose (running) container serves the port answers; anything else is refused
  with the dialer's wording, ``dial tcp IP:PORT: connect: connection refused``;
- a ClusterIP's port, a LoadBalancer's ingress IP (``status.loadBalancer.ingress[].ip``, which a
  cloud controller writes) or an ``externalIP`` on the Service's port, or a NodePort on any node's
  IP, goes to one *ready* endpoint of the Service (its EndpointSlices as the endpoints controller
  writes them, else its Endpoints; a terminating or not-ready endpoint gets nothing), then to that
  pod's target port; a Service with no ready endpoint refuses (kube-proxy rejects such traffic);
- which endpoint: kube-proxy's choice, uniformly at random (iptables' ``statistic --mode random``),
  from a generator per Service port seeded by the cluster's seed (:func:`set_seed`): the same seed
  and the same requests make the same choices; with ``sessionAffinity: ClientIP`` a client IP
  keeps its endpoint while that endpoint stays ready and the client was heard from within
  ``sessionAffinityConfig.clientIP.timeoutSeconds`` (default 10800), as kube-proxy's ``recent``
  match does;
- a node that is powered off (``machines.py``; ``docker stop`` of a kind node) takes its pods' IPs
  with it: a connection to one of them, to the node's own IP, or through a Service to an endpoint
  on it (kube-proxy keeps sending there until the endpoints controller marks the endpoint not ready,
  once the node is NotReady) gets ``connect: no route to host``, after the ARP timeout a real
  dialer waits (:data:`UNREACHABLE_SECONDS`).
"""
from __future__ import annotations

import random
import re
import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from . import images, programs, resources

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

Obj = dict[str, Any]
KUBELET_PORT = 10250


class ConnectionRefused(Exception):
    """Nothing listens there; ``message`` is what the dialer says (``dial tcp ...: connection refused``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConnectionClosed(ConnectionRefused):
    """Something listens but does not speak HTTP (redis, postgres): it closes the connection (``EOF``)."""


@dataclass(frozen=True)
class Backend:
    """Where a connection lands: ``pod`` listening on ``port`` (``address`` is ``podIP:port``).

    ``service`` is the Service it went through (None for a pod IP); ``kubelet`` is the node
    object when the address is a node's kubelet port (10250) rather than a pod."""

    pod: Obj | None
    port: int
    address: str
    service: Obj | None = None
    kubelet: Obj | None = None


@dataclass(frozen=True)
class Refused:
    """Nothing answers; ``message`` is the client's error (``dial tcp 10.96.0.5:80: connect: connection refused``)."""

    message: str


def refused(host: str, port: int) -> str:
    return f"dial tcp {host}:{port}: connect: connection refused"


def unreachable(host: str, port: int) -> str:
    return f"dial tcp {host}:{port}: connect: no route to host"


UNREACHABLE_SECONDS = 3.0  # how long a dialer waits for an address whose machine is gone (Linux's ARP timeout)
_powered_off: "weakref.WeakKeyDictionary[Store, set[str]]" = weakref.WeakKeyDictionary()


def set_power(store: "Store", node: str, on: bool) -> None:
    """Record that ``node``'s machine went off or came back on (the node lifecycle controller calls it):
    while it is off, nothing on it answers."""
    off = _powered_off.setdefault(store, set())
    (off.discard if on else off.add)(node)


def powered_off(store: "Store", pod: Obj | None = None, node: Obj | None = None) -> bool:
    """Is the machine under ``pod`` (or ``node``) off?"""
    off = _powered_off.get(store)
    if not off:
        return False
    name = (node or {}).get("metadata", {}).get("name") if node is not None else ((pod or {}).get("spec") or {}).get("nodeName")
    return name in off


# ---- who listens where ----------------------------------------------------------------------
def resolve(store: "Store", host: str, port: int, namespace: str = "default", client_ip: str = "") -> Backend | Refused:
    """Who answers a TCP connection to ``host:port`` from inside the cluster.

    ``host`` is a pod IP, a ClusterIP, a node IP (NodePorts and the kubelet) or an IP the caller
    resolved from a DNS name (``localhost`` is the caller's own pod: it passes that pod's IP).
    ``namespace`` is the caller's (unused for IPs, kept for callers that pass names).
    ``client_ip`` is the caller's address (a pod IP, or "" from outside the cluster): what
    ``sessionAffinity: ClientIP`` keys on."""
    pod = pod_by_ip(store, host)
    if pod is not None:
        if powered_off(store, pod=pod):
            return Refused(unreachable(host, port))
        if listening_container(pod, port, store) is None:
            return Refused(refused(host, port))
        return Backend(pod, port, f"{host}:{port}")
    svc = service_by_cluster_ip(store, host) or service_by_external_ip(store, host)
    if svc is not None:
        sport = next((p for p in svc["spec"].get("ports") or [] if p.get("port") == port), None)
        if sport is None:
            return Refused(refused(host, port))
        return _through_service(store, svc, sport, (host, port), client_ip)
    node = node_by_ip(store, host)
    if node is not None:
        if powered_off(store, node=node):
            return Refused(unreachable(host, port))
        if port == KUBELET_PORT:
            return Backend(None, port, f"{host}:{port}", kubelet=node)
        for svc in _services(store):
            if svc["spec"].get("type") not in ("NodePort", "LoadBalancer"):
                continue
            for sport in svc["spec"].get("ports") or []:
                if sport.get("nodePort") == port:
                    return _through_service(store, svc, sport, (host, port), client_ip)
        return Refused(refused(host, port))
    return Refused(f"dial tcp {host}:{port}: connect: no route to host")


def service_backend(store: "Store", svc: Obj, sport: Obj, client_ip: str = "") -> Backend | Refused:
    """The endpoint a connection to Service ``svc`` on its port ``sport`` goes to (kube-proxy's
    random choice over ready endpoints, or the client's affinity), as kube-proxy picks it; Refused
    (with the pod's address) when the chosen pod does not listen, or ``no endpoints`` when none is
    ready. ``client_ip`` "" is the API server's own address (the proxy subresource)."""
    return _through_service(store, svc, sport, None, client_ip)


def _through_service(store: "Store", svc: Obj, sport: Obj, dialed: tuple[str, int] | None,
                     client_ip: str = "") -> Backend | Refused:
    """``dialed``: the (host, port) the client connected to, which its error names (None: the API
    server's proxy, whose errors name the endpoint)."""
    ready = ready_endpoints(store, svc, sport)
    if not ready:
        name = svc["metadata"]["name"]
        return Refused(refused(*dialed) if dialed else f'no endpoints available for service "{name}"')
    ip, target, pod = _proxy(store).choose(store, svc, sport, ready, client_ip)
    if pod is not None and powered_off(store, pod=pod):
        return Refused(unreachable(*(dialed or (ip, target))))
    if pod is None or listening_container(pod, target, store) is None:
        return Refused(refused(*(dialed or (ip, target))))
    return Backend(pod, target, f"{ip}:{target}", service=svc)


AFFINITY_TIMEOUT = 10800  # seconds: sessionAffinityConfig.clientIP.timeoutSeconds' default


class _Proxy:
    """kube-proxy's state for one cluster: a generator per Service port (seeded by the cluster's
    seed and the port's identity, so one Service's choices never depend on another's traffic) and
    the ClientIP affinity table (client -> endpoint IP and when it was last heard from)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rngs: dict[tuple, random.Random] = {}
        self.affinity: dict[tuple, dict[str, tuple[str, float]]] = {}

    def choose(self, store: "Store", svc: Obj, sport: Obj, ready: list[tuple[str, int, Obj | None]],
               client_ip: str) -> tuple[str, int, Obj | None]:
        meta, spec = svc["metadata"], svc.get("spec") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", ""), sport.get("port"))
        sticky = spec.get("sessionAffinity") == "ClientIP"
        if sticky:
            timeout = float((((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds"))
                            or AFFINITY_TIMEOUT)
            now = store.clock.time()
            table = self.affinity.setdefault(key, {})
            held = table.get(client_ip)
            if held is not None and now - held[1] <= timeout:
                chosen = next((e for e in ready if e[0] == held[0]), None)
                if chosen is not None:
                    table[client_ip] = (chosen[0], now)
                    return chosen
        rng = self.rngs.get(key)
        if rng is None:
            rng = self.rngs[key] = random.Random("kube-proxy/" + "/".join(str(k) for k in (self.seed, *key)))
        chosen = ready[rng.randrange(len(ready))] if len(ready) > 1 else ready[0]
        if sticky:
            table[client_ip] = (chosen[0], now)
        return chosen


_proxies: "weakref.WeakKeyDictionary[Store, _Proxy]" = weakref.WeakKeyDictionary()


def set_seed(store: "Store", seed: int) -> None:
    """Seed kube-proxy's choices for the cluster of ``store`` (the controller manager calls it with
    the cluster's seed; choices start afresh)."""
    _proxies[store] = _Proxy(seed)


def _proxy(store: "Store") -> _Proxy:
    proxy = _proxies.get(store)
    if proxy is None:
        proxy = _proxies[store] = _Proxy(0)
    return proxy


def ready_endpoints(store: "Store", svc: Obj, sport: Obj) -> list[tuple[str, int, Obj | None]]:
    """(IP, target port, pod or None) of each ready endpoint of ``svc`` for service port ``sport``,
    from its EndpointSlices (as kube-proxy reads them), else from its Endpoints. (Kept until the
    store next changes: a client loop's requests read them many times a second.)"""
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    pname = sport.get("name") or ""
    index = _index(store)
    key = (ns, name, pname)
    found = index.ready.get(key)
    if found is None:
        found = index.ready[key] = _ready_endpoints(store, ns, name, pname)
    return found


def _ready_endpoints(store: "Store", ns: str, name: str, pname: str) -> list[tuple[str, int, Obj | None]]:
    slices, _ = store.list(resources.get("discovery.k8s.io/endpointslices"), ns,
                           lambda s: (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name)
    out: list[tuple[str, int, Obj | None]] = []
    if slices:
        for s in slices:
            target = next((p.get("port") for p in s.get("ports") or [] if (p.get("name") or "") == pname), None)
            if target is None:
                continue
            for ep in s.get("endpoints") or []:
                conditions = ep.get("conditions") or {}
                if conditions.get("ready") is False or conditions.get("terminating"):
                    continue
                for ip in ep.get("addresses") or []:
                    out.append((ip, int(target), _ref_pod(store, ep.get("targetRef"), ip)))
        return out
    ep_obj = store.find(resources.get("/endpoints"), ns, name)
    for subset in (ep_obj or {}).get("subsets") or []:
        target = next((p.get("port") for p in subset.get("ports") or [] if (p.get("name") or "") == pname), None)
        if target is None:
            continue
        for addr in subset.get("addresses") or []:
            out.append((addr["ip"], int(target), _ref_pod(store, addr.get("targetRef"), addr["ip"])))
    return out


class _Index:
    """Look-ups by address, valid for one resourceVersion of the store (built when first asked):
    a Service's requests ask them for every connection, and a cluster under load rarely changes."""

    def __init__(self, rv: int) -> None:
        self.rv = rv
        self.pods: dict[str, Obj] | None = None
        self.cluster_ips: dict[str, Obj] | None = None
        self.external_ips: dict[str, Obj] | None = None
        self.nodes: dict[str, Obj] | None = None
        self.ready: dict[tuple[str, str, str], list[tuple[str, int, Obj | None]]] = {}


_indexes: "weakref.WeakKeyDictionary[Store, _Index]" = weakref.WeakKeyDictionary()


def _index(store: "Store") -> _Index:
    rv = store.resource_version
    index = _indexes.get(store)
    if index is None or index.rv != rv:
        index = _indexes[store] = _Index(rv)
    return index


def _ref_pod(store: "Store", ref: Obj | None, ip: str) -> Obj | None:
    if ref and ref.get("kind") == "Pod":
        pod = store.find(resources.get("/pods"), ref.get("namespace", ""), ref.get("name", ""))
        if pod is not None and (pod.get("status") or {}).get("podIP") == ip:
            return pod
    return pod_by_ip(store, ip)


def _services(store: "Store") -> list[Obj]:
    return store.list(resources.get("/services"))[0]


def pod_by_ip(store: "Store", ip: str) -> Obj | None:
    """The live (not Succeeded/Failed) pod with that IP, not a host-network one."""
    index = _index(store)
    if index.pods is None:
        pods: dict[str, Obj] = {}
        for pod in store.list(resources.get("/pods"))[0]:
            status = pod.get("status") or {}
            if status.get("podIP") and status.get("phase") not in ("Succeeded", "Failed") \
                    and not (pod.get("spec") or {}).get("hostNetwork"):
                pods.setdefault(status["podIP"], pod)
        index.pods = pods
    return index.pods.get(ip)


def service_by_cluster_ip(store: "Store", ip: str) -> Obj | None:
    index = _index(store)
    if index.cluster_ips is None:
        found: dict[str, Obj] = {}
        for s in _services(store):
            spec = s.get("spec") or {}
            for address in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if address:
                    found.setdefault(address, s)
        index.cluster_ips = found
    return index.cluster_ips.get(ip)


def service_by_external_ip(store: "Store", ip: str) -> Obj | None:
    """The Service whose LoadBalancer ingress (``status.loadBalancer.ingress[].ip``, written by a
    cloud controller) or ``spec.externalIPs`` holds ``ip``: kube-proxy routes those like its ClusterIP."""
    index = _index(store)
    if index.external_ips is None:
        found: dict[str, Obj] = {}
        for s in _services(store):
            if (s.get("spec") or {}).get("type") == "LoadBalancer":
                for ingress in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
                    if ingress.get("ip"):
                        found.setdefault(ingress["ip"], s)
            for address in (s.get("spec") or {}).get("externalIPs") or []:
                found.setdefault(address, s)
        index.external_ips = found
    return index.external_ips.get(ip)


def node_by_ip(store: "Store", ip: str) -> Obj | None:
    index = _index(store)
    if index.nodes is None:
        found: dict[str, Obj] = {}
        for node in store.list(resources.get("/nodes"))[0]:
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("address"):
                    found.setdefault(a["address"], node)
        index.nodes = found
    return index.nodes.get(ip)


def pod_ip(pod: Obj) -> str:
    return (pod.get("status") or {}).get("podIP") or ""


# ---- what a pod listens on ---------------------------------------------------------------------
@lru_cache(maxsize=2048)
def _program(image: str, command: tuple[str, ...] | None, args: tuple[str, ...] | None) -> programs.Program:
    return programs.simulate(images.lookup(image), list(command) if command is not None else None,
                             list(args) if args is not None else None)


def serves(container: Obj) -> dict[int, tuple[str, ...]]:
    """The ports (and, for probes, known paths) the container's process listens on."""
    command, args = container.get("command"), container.get("args")
    return _program(container.get("image", ""), tuple(command) if command is not None else None,
                    tuple(args) if args is not None else None).serves


_NC_ECHO = re.compile(r"\bnc\s+-l\w*\s+(?:-p\s+)?(\$\{?\w+\}?|\d+)[^;&|]*-e\s+/bin/cat")
_FOR_LIST = re.compile(r"\bfor\s+\w+\s+in\s+((?:\d+\s*)+);")
_PORT_SERVER = re.compile(r"port[-_]server\.py((?:\s+\d+)+)")


def echo_ports(container: Obj) -> set[int]:
    """Ports on which the container runs a TCP echo server: ``nc -l -p PORT -e /bin/cat`` (also in a
    ``for port in 1234 1235`` loop) and the official client's e2e ``port-server.py PORT...``."""
    text = " ".join(str(w) for w in (container.get("command") or []) + (container.get("args") or []))
    ports: set[int] = set()
    for m in _NC_ECHO.finditer(text):
        if m.group(1).isdigit():
            ports.add(int(m.group(1)))
        else:
            for loop in _FOR_LIST.finditer(text):
                ports.update(int(p) for p in loop.group(1).split())
    for m in _PORT_SERVER.finditer(text):
        ports.update(int(p) for p in m.group(1).split())
    return ports


def listening_container(pod: Obj, port: int, store: "Store | None" = None) -> Obj | None:
    """The container of a Running ``pod`` that is running and listens on ``port``, else None.

    Its ports are its process's (an image's subcommand may move them: ``agnhost serve-hostname``
    listens on 9376). With ``store`` (for the clock), a server with ``startupSeconds`` in the
    catalogue listens only that long after its process started (gunicorn booting the web service)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return None
    running = {cs.get("name") for cs in status.get("containerStatuses") or [] if (cs.get("state") or {}).get("running")}
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") in running and (port in images.server_ports(c, serves(c)) or port in echo_ports(c)):
            if store is not None and images.startup_seconds(c) > 0:
                from .http_answers import container_age  # late: http_answers imports this module
                if container_age(store, pod, c) < images.startup_seconds(c) - 1e-9:
                    return None
            return c
    return None
