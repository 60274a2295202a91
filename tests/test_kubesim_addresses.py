"""Every address the emulator hands out is one a real kind cluster could have.

The allocation functions are checked for every cluster size from 1 to 600 nodes; the rendered
kind state for a dense sample of sizes; and running emulators of 3, 256, 257 and 300 nodes through
the official client (node IPs, pod CIDRs, pod IPs, the CIDRNotAvailable event, pods on a node
without a pod CIDR), Services' ClusterIPs and NodePorts, and the practice cluster of lesson 3.
"""
from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from conftest import skip_unless_ci
from labkit import cluster_tree, kubesim, practice_clusters
from labkit.kubesim import addresses, kindstate

KIND = ipaddress.ip_network("172.18.0.0/16")
PODS = ipaddress.ip_network("10.244.0.0/16")
SERVICES = ipaddress.ip_network("10.96.0.0/16")
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def check_node_ips(ips: list[str], count: int) -> None:
    assert len(ips) == count and len(set(ips)) == count, f"{count} nodes: node IPs not unique"
    for ip in ips:
        address = ipaddress.ip_address(ip)  # raises on 172.18.0.292
        assert address in KIND and address not in (KIND.network_address, KIND.broadcast_address), ip
        assert address != KIND.network_address + 1, f"{ip} is the docker network's gateway"


def check_pod_cidrs(cidrs: list[str | None], count: int) -> None:
    given = [c for c in cidrs if c]
    assert len(given) == min(count, 256), f"{count} nodes: {len(given)} pod CIDRs, expected {min(count, 256)}"
    assert len(set(given)) == len(given), f"{count} nodes: pod CIDRs not unique"
    for cidr in given:
        net = ipaddress.ip_network(cidr)  # strict: raises on 10.244.283.0/24 or host bits set
        assert net.prefixlen == 24 and net.subnet_of(PODS), cidr


@pytest.mark.parametrize("count", [1, 2, 3])
def test_small_clusters_get_kinds_first_addresses(count):
    assert addresses.node_ips(count) == [f"172.18.0.{i + 2}" for i in range(count)]
    assert addresses.pod_cidrs(count) == [f"10.244.{i}.0/24" for i in range(count)]


def test_allocation_functions_for_every_size_from_1_to_600():
    for count in range(1, 601):
        check_node_ips(addresses.node_ips(count), count)
        cidrs = addresses.pod_cidrs(count)
        check_pod_cidrs(cidrs, count)
        assert all(c is None for c in cidrs[256:]), "the 257th node and later get no pod CIDR"
    ips = addresses.node_ips(600)
    assert ips[253:256] == ["172.18.0.255", "172.18.1.0", "172.18.1.1"], "past .255 the third octet grows"
    assert addresses.pod_cidrs(257)[255:] == ["10.244.255.0/24", None]


def test_pod_ips_of_a_node_fill_its_24_then_stop():
    used: set[str] = set()
    last = addresses.FIRST_POD_HOST - 1
    for _ in range(253):
        ip, last = addresses.next_pod_ip("10.244.7.0/24", used, last)
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.7.0/24")
        assert ip not in used
        used.add(ip)
    assert sorted(used, key=ipaddress.ip_address)[0] == "10.244.7.2"
    assert sorted(used, key=ipaddress.ip_address)[-1] == "10.244.7.254"
    assert addresses.next_pod_ip("10.244.7.0/24", used, last) is None, "a full /24 gives no IP, not .255 or .256"
    used.discard("10.244.7.9")
    assert addresses.next_pod_ip("10.244.7.0/24", used, last) == ("10.244.7.9", 9), "freed addresses are reused"
    assert addresses.next_pod_ip(None, set()) is None
    assert "invalid CIDR address" in addresses.sandbox_error(None, "abc")
    assert "no IP addresses available in range set: 10.244.7.2-10.244.7.254" in addresses.sandbox_error("10.244.7.0/24", "abc")


def test_service_ranges_full_are_errors_not_hangs():
    import random

    rng = random.Random(0)
    free = str(SERVICES.network_address + 40000)
    used = {str(SERVICES.network_address + n) for n in range(1, SERVICES.num_addresses - 1)} - {free}
    assert addresses.cluster_ip(rng, used) == free
    with pytest.raises(addresses.RangeFull, match="failed to allocate a serviceIP: range is full"):
        addresses.cluster_ip(rng, used | {free})
    ports = set(addresses.NODE_PORTS) - {31000}
    assert addresses.node_port(rng, ports) == 31000
    with pytest.raises(addresses.RangeFull, match="failed to allocate a nodePort: range is full"):
        addresses.node_port(rng, ports | {31000})


def node_addresses(objs):
    nodes = [o for o in objs if o["kind"] == "Node"]
    ips = [next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP") for n in nodes]
    return nodes, ips


@pytest.mark.parametrize("count", [*range(1, 13), 100, 255, 256, 257, 258, 300, 511, 600])
def test_rendered_kind_state_has_valid_addresses(count):
    objs = kindstate.render("course", count - 1, seed=count, now=NOW)
    nodes, ips = node_addresses(objs)
    check_node_ips(ips, count)
    cidrs = [n["spec"].get("podCIDR") for n in nodes]
    check_pod_cidrs(cidrs, count)
    for node in nodes:
        assert node["spec"].get("podCIDRs", []) == ([node["spec"]["podCIDR"]] if "podCIDR" in node["spec"] else [])
    assert nodes[0]["spec"]["podCIDR"] == "10.244.0.0/24", "the control plane registers first"
    cidr_of = {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in nodes}
    ip_of = dict(zip(cidr_of, ips))
    pod_ips = []
    for pod in (o for o in objs if o["kind"] == "Pod"):
        node, ip = pod["spec"]["nodeName"], pod["status"]["podIP"]
        if pod["spec"].get("hostNetwork"):
            assert ip == ip_of[node]
        else:
            assert cidr_of[node], f"{pod['metadata']['name']} runs with an IP on a node without a pod CIDR"
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidr_of[node])
            pod_ips.append(ip)
    assert len(set(pod_ips)) == len(pod_ips)
    events = [o for o in objs if o["kind"] == "Event" and o["reason"] == "CIDRNotAvailable"]
    assert sorted(e["involvedObject"]["name"] for e in events) == sorted(n for n, c in cidr_of.items() if not c)


def test_same_seed_same_addresses_for_a_large_cluster():
    one = json.dumps(kindstate.render("course", 299, 4, NOW), sort_keys=True)
    assert one == json.dumps(kindstate.render("course", 299, 4, NOW), sort_keys=True)


# ---- running emulators, through the official client ----------------------------------------
def check_live_cluster(core, count: int) -> list:
    nodes = core.list_node().items
    ips = [next(a.address for a in n.status.addresses if a.type == "InternalIP") for n in nodes]
    check_node_ips(ips, count)
    cidr_of = {n.metadata.name: n.spec.pod_cidr for n in nodes}
    check_pod_cidrs(list(cidr_of.values()), count)
    ip_of = dict(zip(cidr_of, ips))
    pods = core.list_pod_for_all_namespaces().items
    seen = []
    for pod in pods:
        node, ip = pod.spec.node_name, pod.status.pod_ip
        if pod.spec.host_network:
            assert ip == ip_of[node]
        elif ip is not None:
            assert cidr_of[node] and ipaddress.ip_address(ip) in ipaddress.ip_network(cidr_of[node]), \
                f"{pod.metadata.name} on {node} has IP {ip} outside pod CIDR {cidr_of[node]}"
            seen.append(ip)
    assert len(set(seen)) == len(seen)
    without = sorted(n for n, c in cidr_of.items() if not c)
    assert len(without) == max(0, count - 256)
    events = core.list_namespaced_event("default", field_selector="reason=CIDRNotAvailable").items
    assert sorted(e.involved_object.name for e in events) == without
    for event in events:
        assert event.type == "Warning" and event.source.component == "cidrAllocator"
        assert event.involved_object.kind == "Node"
        assert event.message == f"Node {event.involved_object.name} status is now: CIDRNotAvailable"
    return without


@pytest.mark.parametrize("count", [3, 256, 257, 300])
def test_live_emulator_addresses(count):
    with kubesim.start(seed=count, workers=count - 1, realtime=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        try:
            check_live_cluster(client.CoreV1Api(api_client), count)
        finally:
            api_client.close()


@pytest.fixture(scope="module")
def crowded():
    """300 nodes with controllers, on a frozen clock: 44 of them have no pod CIDR."""
    with kubesim.start(seed=5, workers=299, realtime=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        yield sim, client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        api_client.close()


def test_pods_on_a_node_without_a_pod_cidr_wait_without_an_ip(crowded):
    sim, core, _ = crowded
    node = next(n.metadata.name for n in core.list_node().items if not n.spec.pod_cidr)
    core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-network"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}})
    try:
        sim.advance(25)
        pod = core.read_namespaced_pod("no-network", "default")
        assert pod.status.phase == "Pending" and pod.status.pod_ip is None
        assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
        ready_to_start = next(c for c in pod.status.conditions if c.type == "PodReadyToStartContainers")
        assert ready_to_start.status == "False"
        events = core.list_namespaced_event("default", field_selector="involvedObject.name=no-network").items
        sandbox = [e for e in events if e.reason == "FailedCreatePodSandBox"]
        assert len(sandbox) == 1 and sandbox[0].type == "Warning" and sandbox[0].count >= 2, "the kubelet retries"
        assert "invalid CIDR address" in sandbox[0].message
        # its node's own network pods (kindnet, kube-proxy) run with the node's IP
        system = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        assert {p.status.phase for p in system if p.spec.host_network} == {"Running"}
    finally:
        core.delete_namespaced_pod("no-network", "default")
        sim.advance(1)


def test_scheduled_pods_get_ips_inside_their_nodes_cidr(crowded):
    sim, core, apps = crowded
    apps.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "many"},
        "spec": {"replicas": 120, "selector": {"matchLabels": {"app": "many"}},
                 "template": {"metadata": {"labels": {"app": "many"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    try:
        sim.advance(60)
        pods = core.list_namespaced_pod("default", label_selector="app=many").items
        assert len(pods) == 120 and all(p.spec.node_name for p in pods)
        cidr_of = {n.metadata.name: n.spec.pod_cidr for n in core.list_node().items}
        for pod in pods:
            if cidr_of[pod.spec.node_name]:
                assert pod.status.phase == "Running"
                assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(cidr_of[pod.spec.node_name])
            else:
                assert pod.status.phase == "Pending" and pod.status.pod_ip is None
        check_live_cluster(core, 300)
    finally:
        apps.delete_namespaced_deployment("many", "default")
        sim.advance(30)


def pod_cidr_of(core, name: str) -> str | None:
    spec = core.read_node(name).spec  # a Node created with no spec at all has none
    return spec.pod_cidr if spec else None


def test_node_ipam_gives_a_freed_cidr_to_a_waiting_node_and_none_to_a_258th():
    with kubesim.start(seed=9, workers=256, realtime=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        core = client.CoreV1Api(api_client)
        try:
            nodes = core.list_node().items
            waiting = next(n.metadata.name for n in nodes if not n.spec.pod_cidr)
            core.create_namespaced_pod("default", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "patient"},
                "spec": {"nodeName": waiting, "containers": [{"name": "c", "image": "nginx:1.27"}]}})
            sim.advance(301)  # the controller tries again when the node updates (at least every 5 minutes)
            events = core.list_namespaced_event("default", field_selector="reason=CIDRNotAvailable").items
            assert [(e.involved_object.name, e.count) for e in events] == [(waiting, 2)], \
                "a retry bumps the count of the same event"
            assert core.read_namespaced_pod("patient", "default").status.pod_ip is None
            freed = next(n for n in nodes if n.spec.pod_cidr and n.metadata.name.startswith("course-worker"))
            core.delete_node(freed.metadata.name)
            sim.advance(1)
            assert core.read_node(waiting).spec.pod_cidrs == [freed.spec.pod_cidr], "the freed /24 goes to the waiting node"
            sim.advance(11)  # the kubelet's next try
            pod = core.read_namespaced_pod("patient", "default")
            assert pod.status.phase == "Running"
            assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(freed.spec.pod_cidr)
            core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "course-extra"}})
            sim.advance(1)
            assert pod_cidr_of(core, "course-extra") is None, "no /24 is free for a 258th node"
            events = core.list_namespaced_event("default", field_selector="involvedObject.name=course-extra").items
            assert [(e.reason, e.type, e.source.component) for e in events] == [("CIDRNotAvailable", "Warning", "cidrAllocator")]
        finally:
            api_client.close()


def test_a_node_added_to_a_small_cluster_gets_the_next_cidr():
    with kubesim.start(seed=0, workers=2, realtime=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        core = client.CoreV1Api(api_client)
        try:
            core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "course-worker3"}})
            sim.advance(1)
            assert pod_cidr_of(core, "course-worker3") == "10.244.3.0/24"
        finally:
            api_client.close()


def test_a_full_node_cidr_gives_no_ip_rather_than_a_wrong_one():
    """Pods bound straight to a node (no scheduler, so no 110-pod cap) use up its /24: the 254th
    waits in ContainerCreating with host-local's "no IP addresses available" instead of 10.244.x.255."""
    with kubesim.start(seed=0, workers=1, realtime=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        core = client.CoreV1Api(api_client)
        try:
            node = "course-worker"
            cidr = ipaddress.ip_network(core.read_node(node).spec.pod_cidr)
            taken = sum(1 for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                        if not p.spec.host_network)
            for i in range(254 - taken):
                core.create_namespaced_pod("default", {
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                    "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx:1.27"}]}})
            sim.advance(5)
            pods = core.list_namespaced_pod("default").items
            ips = [p.status.pod_ip for p in pods if p.status.pod_ip]
            assert len(ips) == 253 - taken and len(set(ips)) == len(ips)
            assert all(ipaddress.ip_address(ip) in cidr and ip.rsplit(".", 1)[1] not in ("0", "1", "255") for ip in ips)
            stuck = [p for p in pods if not p.status.pod_ip]
            assert len(stuck) == 1 and stuck[0].status.phase == "Pending"
            events = core.list_namespaced_event("default", field_selector=f"involvedObject.name={stuck[0].metadata.name}").items
            assert any("no IP addresses available in range set" in e.message for e in events)
        finally:
            api_client.close()


def test_cidr_not_available_through_kubectl(tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    with kubesim.start(tmp_path / "kubeconfig", seed=2, workers=256, controllers=False) as sim:
        env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path / "cache"))
        done = subprocess.run(["kubectl", "get", "events", "--field-selector", "reason=CIDRNotAvailable"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        rows = done.stdout.splitlines()
        assert rows[0].split()[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
        assert len(rows) == 2 and "Warning" in rows[1] and "CIDRNotAvailable" in rows[1] and "node/course-worker" in rows[1]


def test_services_get_valid_unique_cluster_ips_and_node_ports(monkeypatch):
    with kubesim.start(seed=3, workers=1, controllers=False) as sim:
        api_client = config.new_client_from_config(sim.kubeconfig)
        core = client.CoreV1Api(api_client)
        try:
            for i in range(300):
                core.create_namespaced_service("default", {
                    "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"s{i}"},
                    "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]}})
            services = core.list_service_for_all_namespaces().items
            ips = [s.spec.cluster_ip for s in services]
            assert len(set(ips)) == len(ips) == 302
            for ip in ips:
                assert ipaddress.ip_address(ip) in SERVICES and ip not in ("10.96.0.0", "10.96.255.255")
            ports = [p.node_port for s in services for p in s.spec.ports if p.node_port]
            assert len(ports) == 600 and len(set(ports)) == 600 and all(30000 <= p <= 32767 for p in ports)
            used = set(ports)
            monkeypatch.setattr(addresses, "NODE_PORTS", range(min(used), min(used) + 1))
            with pytest.raises(ApiException) as full:
                core.create_namespaced_service("default", {
                    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "one-too-many"},
                    "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}})
            assert full.value.status == 500
            assert json.loads(full.value.body)["message"] == "Internal error occurred: failed to allocate a nodePort: range is full"
        finally:
            api_client.close()


# ---- lesson 3's big practice cluster -----------------------------------------------------------
def test_lesson_3_big_practice_cluster_shows_valid_addresses():
    with practice_clusters.practice_cluster(seed=1, workers=300) as big:
        without = check_live_cluster(big.core, 301)
        assert len(without) == 45
        tree = cluster_tree.cluster_tree(big.core, cluster="practice (301 nodes)", page_size=400)
        shown = tree.shown_text()
        assert "None" not in shown and shown.count("no pod CIDR") == 45
        for node in tree.all_nodes:
            assert (node.internal_ip in shown) and (node.pod_cidr is None or node.pod_cidr in shown)


def test_practice_cluster_with_pods_on_nodes_without_a_pod_cidr():
    with practice_clusters.practice_cluster(seed=2, workers=280, pods_per_worker=1) as practice:
        core = practice.core
        without = set(check_live_cluster(core, 281))
        agents = core.list_namespaced_pod("monitoring").items
        stuck = [p for p in agents if p.spec.node_name in without]
        assert len(stuck) == len(without)
        assert all(p.status.pod_ip is None and p.status.phase == "Pending"
                   and p.status.container_statuses[0].state.waiting.reason == "ContainerCreating" for p in stuck)
        daemon_set = practice.apps.read_namespaced_daemon_set("node-agent", "monitoring")
        assert daemon_set.status.number_ready == 281 - len(without)
