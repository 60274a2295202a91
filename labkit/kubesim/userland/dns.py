"""Cluster DNS as CoreDNS answers it in a kind cluster (the ``kubernetes`` plugin, ``pods insecure``),
and the resolver's search path from the pod's /etc/resolv.conf.

Records: ``SVC.NS.svc.cluster.local`` is the ClusterIP (A); a headless Service (``clusterIP: None``)
has one A record per ready endpoint; an ExternalName Service is a CNAME; a pod with ``hostname``
and ``subdomain`` naming a headless Service is ``HOST.SUBDOMAIN.NS.svc.cluster.local``;
``A-B-C-D.NS.pod.cluster.local`` is the IP A.B.C.D. A name with fewer dots than ``ndots`` (5) is
tried with each search domain first (``web`` -> ``web.default.svc.cluster.local``). Names outside
the cluster are not emulated: they get NXDOMAIN, as in a cluster without a way out.

CoreDNS is a workload like any other: the answers come from the ready pods behind the ``kube-dns``
Service. With none of them ready, or all of them on machines that are powered off, nothing answers:
lookups time out (:func:`server_answers`; ``TIMEOUT_SECONDS`` is what a resolver then waits).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import cluster
from .filesystem import CLUSTER_DNS, CLUSTER_DOMAIN

Obj = dict[str, Any]
SUFFIX = "." + CLUSTER_DOMAIN


@dataclass
class Answer:
    """The name that answered, its addresses and, for an ExternalName, the canonical name."""

    name: str
    addresses: list[str] = field(default_factory=list)
    cname: str = ""


def _ready_ips(store: Any, svc: Obj) -> list[str]:
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    ips: list[str] = []
    slices = [s for s in cluster.listing(store, "discovery.k8s.io/endpointslices", ns)
              if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name]
    if slices:
        for s in slices:
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is not False or svc["spec"].get("publishNotReadyAddresses"):
                    ips += [ip for ip in ep.get("addresses") or [] if ip not in ips]
        return ips
    ep = cluster.find(store, "/endpoints", ns, name) or {}
    for subset in ep.get("subsets") or []:
        for a in subset.get("addresses") or []:
            if a.get("ip") not in ips:
                ips.append(a["ip"])
    return ips


TIMEOUT_SECONDS = 10.0  # resolv.conf's defaults: a 5 s timeout, 2 attempts


def server_answers(store: Any) -> bool:
    """Does the cluster's DNS answer? Yes while a ready endpoint of ``kube-system/kube-dns`` runs on a
    machine that is on (a cluster without that Service, which this emulator never makes, answers too)."""
    from .. import backends

    svc = cluster.find(store, "/services", "kube-system", "kube-dns")
    if svc is None:
        return True
    for ip in _ready_ips(store, svc):
        pod = backends.pod_by_ip(store, ip)
        if pod is None or not backends.powered_off(store, pod=pod):
            return True
    return False


def lookup(store: Any, fqdn: str) -> Answer | None:
    """The record of a fully qualified name (no trailing dot), or None (NXDOMAIN)."""
    name = fqdn.rstrip(".").lower()
    if not name.endswith(SUFFIX):
        return None
    labels = name[: -len(SUFFIX)].split(".")
    if len(labels) == 3 and labels[2] == "svc" or len(labels) == 4 and labels[3] == "svc":
        host = labels[0] if len(labels) == 4 else None
        svc_name, ns = (labels[1], labels[2]) if host else (labels[0], labels[1])
        svc = cluster.find(store, "/services", ns, svc_name)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if host is not None:
            for pod in cluster.listing(store, "/pods", ns):
                pspec = pod.get("spec") or {}
                if (pspec.get("hostname") == host and pspec.get("subdomain") == svc_name) or \
                        (pod.get("status") or {}).get("podIP", "").replace(".", "-") == host:
                    ip = (pod.get("status") or {}).get("podIP")
                    if ip and ip in _ready_ips(store, svc):
                        return Answer(name, [ip])
            return None
        if spec.get("type") == "ExternalName":
            return Answer(name, [], spec.get("externalName", ""))
        if spec.get("clusterIP") and spec["clusterIP"] != "None":
            return Answer(name, [spec["clusterIP"]])
        ips = _ready_ips(store, svc)
        return Answer(name, ips) if ips else None
    if len(labels) == 3 and labels[2] == "pod" and re.fullmatch(r"\d+-\d+-\d+-\d+", labels[0]):
        if cluster.find(store, "/namespaces", "", labels[1]) is None:
            return None
        return Answer(name, [labels[0].replace("-", ".")])
    return None


def resolver(resolv_conf: str) -> tuple[list[str], list[str], int]:
    """(nameservers, search domains, ndots) of a resolv.conf text."""
    servers, search, ndots = [], [], 1
    for line in resolv_conf.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] == "search":
            search = words[1:]
        elif words[0] == "options":
            for opt in words[1:]:
                if opt.startswith("ndots:"):
                    try:
                        ndots = int(opt.split(":", 1)[1])
                    except ValueError:
                        pass
    return servers, search, ndots


def candidates(name: str, search: list[str], ndots: int) -> list[str]:
    """The names a resolver tries, in order (glibc/musl: search first when dots < ndots)."""
    if name.endswith("."):
        return [name.rstrip(".")]
    with_search = [f"{name}.{d}" for d in search]
    return (with_search + [name]) if name.count(".") < ndots else ([name] + with_search)


def resolve(store: Any, name: str, resolv_conf: str, hosts: str = "") -> Answer | None:
    """What a program in the pod gets for ``name``: /etc/hosts first, then cluster DNS through the
    search path; an IP address is itself."""
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return Answer(name, [name])
    for line in hosts.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) > 1 and name in words[1:] and ":" not in words[0]:
            return Answer(name, [words[0]])
    servers, search, ndots = resolver(resolv_conf)
    if CLUSTER_DNS not in servers or not server_answers(store):
        return None
    for cand in candidates(name, search, ndots):
        answer = lookup(store, cand)
        if answer is not None:
            return answer
    return None


def reverse(store: Any, ip: str) -> str:
    """The PTR name CoreDNS gives an IP of a Service or of an endpoint, '' when it has none."""
    for svc in cluster.listing(store, "/services"):
        if (svc.get("spec") or {}).get("clusterIP") == ip:
            return f"{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc{SUFFIX}"
    for svc in cluster.listing(store, "/services"):
        if (svc.get("spec") or {}).get("clusterIP") == "None" and ip in _ready_ips(store, svc):
            return f"{ip.replace('.', '-')}.{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc{SUFFIX}"
    return ""
