"""LoadBalancer, honestly, and the GKE-like profile (issue 14 item 5), with real kubectl.

- kind profile (the default): a ``type: LoadBalancer`` Service stays ``<pending>`` as on kind, with
  a Warning ``NoLoadBalancer`` event that says why and what to use instead.
- ``start(profile="gke")``: nodes, labels, addresses and the kubeconfig context as GKE gives them,
  GKE's system pods and no control-plane node; the cloud controller gives a LoadBalancer an
  external IP of 203.0.113.0/24 after a realistic delay, with GKE's events, and frees it when the
  Service goes or changes type; the external IP answers inside the cluster.
- Every controller works on the GKE nodes: scheduler (e2-medium's allocatable), kubelet and pod
  IPs, endpoints, node IPAM (a new node's CIDR from the GKE range), node lifecycle, metrics.
- Same seed, same cluster.
"""
from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import gkestate, resources
from labkit.kubesim.clock import SimClock

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
LB_RANGE = ipaddress.ip_network("203.0.113.0/24")
GKE_PODS = ipaddress.ip_network("10.52.0.0/14")
GKE_SUBNET = ipaddress.ip_network("10.128.0.0/20")
NODE_NAME = re.compile(r"^gke-cloud-kubernetes-default-pool-[0-9a-f]{8}-[a-z0-9]{4}$")
CONTEXT = "gke_labkit-rehearsal_us-central1-a_cloud-kubernetes"


def _kubectl_for(sim, tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))
    env.pop("KUBECONFIG", None)

    def run(*args: str, check: bool = True) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig, *args], capture_output=True, text=True,
                              env=env, timeout=60)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout
    return run


@pytest.fixture
def kind(tmp_path):
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    yield sim, _kubectl_for(sim, tmp_path)
    sim.stop()


@pytest.fixture
def gke(tmp_path):
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, name="cloud-kubernetes", workers=3, realtime=False,
                        profile="gke")
    yield sim, _kubectl_for(sim, tmp_path)
    sim.stop()


def _web(kubectl, kind: str = "LoadBalancer") -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    kubectl("expose", "deployment", "web", f"--type={kind}", "--port=80")


def _service_events(kubectl) -> list[tuple[str, str, str]]:
    items = json.loads(kubectl("get", "events", "--field-selector", "involvedObject.name=web,involvedObject.kind=Service",
                               "-o", "json"))["items"]
    items.sort(key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
    return [(e["type"], e["reason"], e["message"]) for e in items]


# ---- the kind profile ----------------------------------------------------------------------------
def test_on_kind_a_load_balancer_stays_pending_with_an_event_that_says_why(kind):
    sim, kubectl = kind
    _web(kubectl)
    sim.advance(120)
    row = kubectl("get", "service", "web", "--no-headers").split()
    assert row[1] == "LoadBalancer" and row[3] == "<pending>", f"kind has no cloud controller: EXTERNAL-IP stays <pending>: {row}"
    assert re.fullmatch(r"80:3\d{4}/TCP", row[4]), f"a LoadBalancer still gets its NodePort on kind: {row}"
    described = kubectl("describe", "service", "web")
    line = next((x for x in described.splitlines() if "NoLoadBalancer" in x), "")
    assert line.split()[:2] == ["Warning", "NoLoadBalancer"], f"describe should show the Warning NoLoadBalancer event:\n{described}"
    assert "kubesim" in line, f"the event should come from the emulator (kubesim): {line}"
    events = kubectl("get", "events")
    assert "no cloud controller (as on kind)" in events, events
    assert "kubectl port-forward service/web 8080:80" in events and "type: NodePort" in events, events
    assert _service_events(kubectl) == [("Warning", "NoLoadBalancer", _service_events(kubectl)[0][2])], \
        "one event, no EnsuringLoadBalancer: nothing pretends to make a load balancer on kind"


def test_on_kind_a_node_port_service_gets_no_such_event(kind):
    sim, kubectl = kind
    _web(kubectl, "NodePort")
    sim.advance(10)
    assert _service_events(kubectl) == [], "only a LoadBalancer Service needs the word about the missing cloud"


# ---- the GKE-like profile: what the cluster looks like -------------------------------------------
def test_gke_nodes_are_named_labelled_and_addressed_as_gke_does_it(gke):
    sim, kubectl = gke
    assert kubectl("config", "current-context").strip() == CONTEXT
    nodes = json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
    assert len(nodes) == 3, "workers=3: three nodes in default-pool, no control-plane node (GKE hides it)"
    groups = set()
    for node in nodes:
        name = node["metadata"]["name"]
        assert NODE_NAME.match(name), f"GKE names nodes gke-<cluster>-default-pool-<8 hex>-<4 chars>, not {name}"
        groups.add(name.split("-")[-2])
        labels = node["metadata"]["labels"]
        for key, value in {"cloud.google.com/gke-nodepool": "default-pool", "cloud.google.com/machine-family": "e2",
                           "node.kubernetes.io/instance-type": "e2-medium", "topology.kubernetes.io/region": "us-central1",
                           "topology.kubernetes.io/zone": "us-central1-a", "kubernetes.io/os": "linux",
                           "kubernetes.io/hostname": name}.items():
            assert labels.get(key) == value, f"{name}: label {key} should be {value}, is {labels.get(key)}"
        assert not any(k.startswith("node-role.kubernetes.io/") for k in labels), labels
        assert node["spec"]["providerID"] == f"gce://labkit-rehearsal/us-central1-a/{name}"
        assert not node["spec"].get("taints"), "GKE's default-pool nodes are not tainted"
        assert ipaddress.ip_network(node["spec"]["podCIDR"]).subnet_of(GKE_PODS), node["spec"]["podCIDR"]
        kinds = {a["type"]: a["address"] for a in node["status"]["addresses"]}
        assert ipaddress.ip_address(kinds["InternalIP"]) in GKE_SUBNET and ipaddress.ip_address(kinds["ExternalIP"]) in \
            ipaddress.ip_network("198.51.100.0/24"), kinds
        minor = re.escape(".".join(kubesim.KUBERNETES_VERSION.split(".")[:2]))  # the kubelet at the API server's minor
        assert re.fullmatch(minor + r"\.\d+-gke\.\d+", node["status"]["nodeInfo"]["kubeletVersion"])
        assert node["status"]["capacity"]["cpu"] == "2" and node["status"]["allocatable"]["cpu"] == "940m"
        assert node["status"]["allocatable"]["memory"] == "2880940Ki"
    assert len(groups) == 1, "one node pool: one instance group hash in every node's name"
    wide = kubectl("get", "nodes", "-o", "wide").splitlines()
    assert wide[0].split()[:7] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP"]
    for row in wide[1:]:
        cols = row.split()
        assert cols[1] == "Ready" and cols[2] == "<none>", row
        assert cols[6].startswith("198.51.100."), f"a GKE node has an external IP: {row}"
        assert "Container-Optimized OS from Google" in row, row
    pods = kubectl("get", "pods", "-n", "kube-system", "--no-headers", "-o", "custom-columns=NAME:.metadata.name").split()
    for prefix in ("kube-dns-", "konnectivity-agent-", "metrics-server-v1.32.2-", "event-exporter-gke-",
                   "fluentbit-gke-", "gke-metrics-agent-", "l7-default-backend-", "pdcsi-node-"):
        assert any(p.startswith(prefix) for p in pods), f"kube-system should hold GKE's {prefix}... pod: {pods}"
    assert sorted(p for p in pods if p.startswith("kube-proxy-")) == sorted(f"kube-proxy-{n['metadata']['name']}" for n in nodes), \
        "GKE runs kube-proxy as a static pod on every node"
    assert not any("control-plane" in p or p.startswith(("etcd", "kube-apiserver")) for p in pods), pods
    assert kubectl("get", "endpoints", "kubernetes", "--no-headers").split()[1].endswith(":443")


def test_gke_same_seed_same_cluster_another_seed_another():
    one = gkestate.render("cloud-kubernetes", 3, 0, NOW)
    assert json.dumps(one) == json.dumps(gkestate.render("cloud-kubernetes", 3, 0, NOW)), "same seed, same bytes"
    other = gkestate.render("cloud-kubernetes", 3, 1, NOW)
    names = lambda objs: sorted(o["metadata"]["name"] for o in objs if o["kind"] == "Node")  # noqa: E731
    assert names(one) != names(other), "another seed names other VMs"
    assert [o["kind"] for o in one] == [o["kind"] for o in other], "another seed changes values, never the structure"
    for workers in (1, 2, 5, 8):
        objs = gkestate.render("c", workers, 0, NOW)
        nodes = [o for o in objs if o["kind"] == "Node"]
        cidrs = [n["spec"]["podCIDR"] for n in nodes]
        assert len(nodes) == workers and len(set(cidrs)) == workers
        agents = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "konnectivity-agent")
        assert agents["spec"]["replicas"] == min(workers, 6)
        pod_ips = [p["status"]["podIP"] for p in objs if p["kind"] == "Pod" and not p["spec"].get("hostNetwork")]
        assert len(set(pod_ips)) == len(pod_ips) and all(ipaddress.ip_address(ip) in GKE_PODS for ip in pod_ips)
    with pytest.raises(ValueError, match="at least 1 node"):
        gkestate.render("c", 0, 0, NOW)


# ---- the GKE-like profile: the cloud controller -------------------------------------------------
def test_gke_load_balancer_gets_an_external_ip_with_gkes_events_and_answers(gke):
    sim, kubectl = gke
    _web(kubectl)
    sim.advance(5)
    assert kubectl("get", "service", "web", "--no-headers").split()[3] == "<pending>", "the load balancer takes a while"
    assert [r for _, r, _ in _service_events(kubectl)] == ["EnsuringLoadBalancer"]
    sim.advance(60)
    row = kubectl("get", "service", "web", "--no-headers").split()
    ip = row[3]
    assert ipaddress.ip_address(ip) in LB_RANGE, f"EXTERNAL-IP should be an address of 203.0.113.0/24: {row}"
    svc = json.loads(kubectl("get", "service", "web", "-o", "json"))
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": ip, "ipMode": "VIP"}]
    assert _service_events(kubectl) == [("Normal", "EnsuringLoadBalancer", "Ensuring load balancer"),
                                        ("Normal", "EnsuredLoadBalancer", "Ensured load balancer")]
    assert re.search(r"^LoadBalancer Ingress:\s+" + re.escape(ip), kubectl("describe", "service", "web"), re.M)
    assert "service-controller" in kubectl("describe", "service", "web")
    pod = kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")
    page = kubectl("exec", pod, "--", "curl", "-s", f"http://{ip}/")
    assert "Welcome to nginx!" in page, "the external IP answers on the Service's port inside the cluster"
    proxied = kubectl("get", "--raw", "/api/v1/namespaces/default/services/web:80/proxy/")
    assert "Welcome to nginx!" in proxied, "the Service answers from the host through the proxy subresource"


def test_gke_external_ip_is_released_on_delete_and_on_a_type_change(gke):
    sim, kubectl = gke
    _web(kubectl)
    sim.advance(65)
    first = kubectl("get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
    assert first
    controller = sim.manager.get("service-controller")
    kubectl("delete", "service", "web")
    sim.advance(1)
    assert _service_events(kubectl)[-2:] == [("Normal", "DeletingLoadBalancer", "Deleting load balancer"),
                                             ("Normal", "DeletedLoadBalancer", "Deleted load balancer")]
    assert first not in controller.ips.values(), "the deleted Service's external IP is free again"
    kubectl("expose", "deployment", "web", "--type=LoadBalancer", "--port=80", "--name=other")
    sim.advance(65)
    assert kubectl("get", "service", "other", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
    kubectl("patch", "service", "other", "-p", '{"spec":{"type":"ClusterIP"}}')
    sim.advance(1)
    assert kubectl("get", "service", "other", "--no-headers").split()[3] == "<none>"
    assert kubectl("get", "service", "other", "-o", "jsonpath={.status.loadBalancer}") in ("", "{}")
    reasons = [e.split()[2] for e in kubectl("get", "events", "--field-selector", "involvedObject.name=other",
                                               "--no-headers").splitlines()]
    assert reasons[-3:] == ["Type", "DeletingLoadBalancer", "DeletedLoadBalancer"], reasons
    assert not controller.ips, "no load balancer is left"


def test_gke_external_ips_are_the_same_for_the_same_seed(tmp_path):
    got = []
    for run in range(2):
        sim = kubesim.start(tmp_path / f"kc{run}", seed=4, profile="gke", realtime=False,
                            clock=SimClock(NOW, realtime=False))
        try:
            kubectl = _kubectl_for(sim, tmp_path)
            _web(kubectl)
            sim.advance(65)
            got.append(kubectl("get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"))
        finally:
            sim.stop()
    assert got[0] and got[0] == got[1]


# ---- every controller on the GKE nodes -----------------------------------------------------------
def test_gke_nodes_run_the_scheduler_kubelet_ipam_lifecycle_and_metrics(gke):
    sim, kubectl = gke
    # e2-medium leaves 940m for pods; the system pods take part of it: 4 x 500m cannot all fit on 3 nodes
    kubectl("create", "deployment", "big", "--image=nginx:1.27", "--replicas=4")
    kubectl("set", "resources", "deployment", "big", "--requests=cpu=500m")
    sim.advance(30)
    pods = json.loads(kubectl("get", "pods", "-l", "app=big", "-o", "json"))["items"]
    running = [p for p in pods if p["status"].get("phase") == "Running"]
    pending = [p for p in pods if p["status"].get("phase") == "Pending" and not p["spec"].get("nodeName")]
    assert running and pending, "e2-medium's allocatable CPU should fit some 500m pods, not all"
    assert all(ipaddress.ip_address(p["status"]["podIP"]) in GKE_PODS for p in running)
    assert "Insufficient cpu" in kubectl("describe", "pod", pending[0]["metadata"]["name"])
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gke-extra-node"}}
    path = Path(sim.kubeconfig).with_name("node.json")
    path.write_text(json.dumps(node))
    kubectl("create", "-f", str(path))
    sim.advance(1)
    cidr = kubectl("get", "node", "gke-extra-node", "-o", "jsonpath={.spec.podCIDR}")
    assert cidr and ipaddress.ip_network(cidr).subnet_of(GKE_PODS), f"a new node's pod CIDR comes from the GKE range: {cidr}"
    kubectl("delete", "node", "gke-extra-node")
    victim = running[0]["spec"]["nodeName"]
    sim.stop_node(victim)
    sim.advance(60)
    assert "NotReady" in kubectl("get", "node", victim, "--no-headers")
    sim.start_node(victim)
    sim.advance(30)
    top = kubectl("top", "nodes", "--no-headers")
    assert len(top.splitlines()) == 3 and all(NODE_NAME.match(r.split()[0]) for r in top.splitlines()), top
    ep = sim.store.get(resources.get("/endpoints"), "kube-system", "kube-dns")
    assert all(ipaddress.ip_address(a["ip"]) in GKE_PODS for s in ep["subsets"] for a in s["addresses"])


def test_external_ips_come_from_the_documentation_range_and_run_out_plainly():
    import random

    from labkit.kubesim import addresses
    rng = random.Random(0)
    used: set[str] = set()
    for _ in range(254):
        ip = addresses.load_balancer_ip(rng, used)
        assert ipaddress.ip_address(ip) in LB_RANGE and ip not in ("203.0.113.0", "203.0.113.255") and ip not in used
        used.add(ip)
    with pytest.raises(addresses.RangeFull, match="203.0.113.0/24"):
        addresses.load_balancer_ip(rng, used)
    assert addresses.cluster_cidr_of(["10.52.3.0/24"]) == GKE_PODS
    assert addresses.cluster_cidr_of(["10.244.3.0/24"]) == ipaddress.ip_network("10.244.0.0/16")
    assert addresses.cluster_cidr_of([]) == ipaddress.ip_network("10.244.0.0/16"), "no node yet: kind's range"
