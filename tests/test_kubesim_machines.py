"""The emulator's machines (kubesim.labkit.dev/v1alpha1 `machines`) and labkit.cluster_nodes: a node
powered off through kubectl, and what follows as on a real cluster (NotReady after about 50 s, its pods
evicted after their 300 s toleration, replacements elsewhere); on a cluster that is neither the
emulator nor kind, a message that says how to stop a cloud node instead.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from http_fakes import FakeHandler, serving
from labkit import cluster_nodes, kubesim
from labkit.practice_clusters import _connect


@pytest.fixture()
def sim(tmp_path):
    handle = kubesim.start(tmp_path / "kubeconfig", seed=2, realtime=False)
    yield handle
    handle.stop()


def kubectl(sim, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBECACHEDIR": str(sim.kubeconfig) + ".cache"})
    assert (done.returncode == 0) == ok, done.stderr
    return done


def node_ready(sim, node: str) -> str:
    status = json.loads(kubectl(sim, "get", "node", node, "-o", "json").stdout)["status"]
    return next(c["status"] for c in status["conditions"] if c["type"] == "Ready")


def test_kubectl_lists_the_machines_and_powers_one_off_and_on(sim) -> None:
    table = kubectl(sim, "get", "machines").stdout.splitlines()
    assert table[0].split() == ["NAME", "POWER", "SINCE", "AGE"]
    assert [line.split()[:2] for line in table[1:]] == [["course-control-plane", "On"], ["course-worker", "On"], ["course-worker2", "On"]]
    kubectl(sim, "create", "deployment", "web", "--image=course-webapp:lesson", "--replicas=2")
    sim.advance(10)
    pods = json.loads(kubectl(sim, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    victim = pods[0]["spec"]["nodeName"]
    out = kubectl(sim, "patch", "machine", victim, "--type", "merge", "-p", '{"spec":{"power":"Off"}}').stdout
    assert out.strip() == f"machine.kubesim.labkit.dev/{victim} patched"
    sim.advance(30)
    assert node_ready(sim, victim) == "True"  # the node controller waits 40 s for a heartbeat (grace period)
    sim.advance(30)
    assert node_ready(sim, victim) == "Unknown"
    assert dict(line.split()[:2] for line in kubectl(sim, "get", "machines").stdout.splitlines()[1:])[victim] == "Off"
    sim.advance(300)
    after = json.loads(kubectl(sim, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    running = [p for p in after if not p["metadata"].get("deletionTimestamp")]
    assert len(running) == 2 and victim not in {p["spec"]["nodeName"] for p in running}
    kubectl(sim, "patch", "machine", victim, "--type", "merge", "-p", '{"spec":{"power":"On"}}')
    sim.advance(30)
    assert node_ready(sim, victim) == "True"
    machine = json.loads(kubectl(sim, "get", "machine", victim, "-o", "json").stdout)
    assert machine["spec"]["power"] == machine["status"]["power"] == "On" and "lastChange" in machine["status"]


def test_mistakes_get_the_apiservers_kind_of_answer(sim) -> None:
    bad = kubectl(sim, "patch", "machine", "course-worker", "--type", "merge", "-p", '{"spec":{"power":"maybe"}}', ok=False)
    assert 'spec.power: Unsupported value: "maybe": supported values: "Off", "On"' in bad.stderr
    missing = kubectl(sim, "patch", "machine", "nope", "--type", "merge", "-p", '{"spec":{"power":"Off"}}', ok=False)
    assert 'machines.kubesim.labkit.dev "nope" not found' in missing.stderr
    deleted = kubectl(sim, "delete", "machine", "course-worker", ok=False)
    assert "MethodNotAllowed" in deleted.stderr or "not allowed" in deleted.stderr or "powered off or on" in deleted.stderr
    resources = kubectl(sim, "api-resources", "--api-group=kubesim.labkit.dev").stdout
    assert "machines" in resources and "clocks" in resources


def test_cluster_nodes_powers_an_emulated_node_through_its_client(sim) -> None:
    practice = _connect(sim)
    try:
        said = cluster_nodes.power_off(practice, "course-worker")
        assert said == "course-worker: powered off (the emulator's machine course-worker)"
        assert "course-worker" in sim.manager.nodes.stopped_at
        cluster_nodes.power_on(practice, "course-worker")
        assert "course-worker" not in sim.manager.nodes.stopped_at
    finally:
        practice.api_client.close()


class _CloudApiServer(FakeHandler):
    def do_GET(self) -> None:
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


def test_a_node_that_is_neither_emulated_nor_kind_gets_a_message_saying_how() -> None:
    from kubernetes import client

    with serving(_CloudApiServer) as url:
        configuration = client.Configuration()
        configuration.host = url
        with pytest.raises(ValueError, match="gcloud compute instances stop"):
            cluster_nodes.power_off(client.ApiClient(configuration), "gke-course-default-pool-1234")


def test_a_powered_off_nodes_pods_stop_answering_before_the_cluster_notices(sim) -> None:
    """A dead machine takes its pods' IPs with it at once ("No route to host"), while kube-proxy still
    sends a share of the Service's traffic there; once the node is NotReady its pods' endpoints are not
    ready and every call lands on the live replicas."""
    kubectl(sim, "create", "deployment", "web", "--image=course-webapp:lesson", "--replicas=2")
    kubectl(sim, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    kubectl(sim, "run", "client", "--image=busybox:1.36", "--", "sleep", "3600")
    sim.advance(10)
    pods = json.loads(kubectl(sim, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len({p["spec"]["nodeName"] for p in pods}) == 2, "the two replicas should be on two nodes"
    client_node = json.loads(kubectl(sim, "get", "pod", "client", "-o", "json").stdout)["spec"]["nodeName"]
    victim = next(p for p in pods if p["spec"]["nodeName"] != client_node)

    def calls(target: str, tries: int = 12) -> list[str]:
        loop = " ".join(str(i) for i in range(tries))
        script = f"for i in {loop}; do wget -qO- -T 2 http://{target} >/dev/null 2>&1 && echo ok || echo failed; done"
        return kubectl(sim, "exec", "client", "--", "sh", "-c", script).stdout.split()

    assert calls("web") == ["ok"] * 12
    kubectl(sim, "patch", "machine", victim["spec"]["nodeName"], "--type", "merge", "-p", '{"spec":{"power":"Off"}}')
    sim.advance(1)
    direct = kubectl(sim, "exec", "client", "--", "wget", "-qO-", f"http://{victim['status']['podIP']}:8080", ok=False)
    assert f"can't connect to remote host ({victim['status']['podIP']}): No route to host" in direct.stderr
    before = calls("web")
    assert "failed" in before and "ok" in before, before  # kube-proxy has not heard: some calls go to the dead pod
    sim.advance(60)
    assert node_ready(sim, victim["spec"]["nodeName"]) == "Unknown"
    sim.advance(2)
    assert calls("web") == ["ok"] * 12


def test_cluster_dns_is_a_workload_too(sim) -> None:
    """kind runs both CoreDNS pods on the control plane: power that machine off and names stop resolving
    (lookups time out) while addresses still work."""
    coredns = json.loads(kubectl(sim, "get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json").stdout)["items"]
    assert {p["spec"]["nodeName"] for p in coredns} == {"course-control-plane"}
    assert all(p["status"]["podIP"].startswith("10.244.0.") for p in coredns)
    kubectl(sim, "create", "deployment", "web", "--image=course-webapp:lesson")
    kubectl(sim, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    kubectl(sim, "run", "client", "--image=busybox:1.36", "--", "sleep", "3600")
    sim.advance(10)
    cluster_ip = json.loads(kubectl(sim, "get", "service", "web", "-o", "json").stdout)["spec"]["clusterIP"]
    assert "Address: " + cluster_ip in kubectl(sim, "exec", "client", "--", "nslookup", "web.default.svc.cluster.local").stdout
    kubectl(sim, "patch", "machine", "course-control-plane", "--type", "merge", "-p", '{"spec":{"power":"Off"}}')
    sim.advance(1)
    lookup = kubectl(sim, "exec", "client", "--", "nslookup", "web.default.svc.cluster.local", ok=False)
    assert "connection timed out; no servers could be reached" in lookup.stdout
    assert "bad address 'web'" in kubectl(sim, "exec", "client", "--", "wget", "-qO-", "http://web", ok=False).stderr
    assert '"hostname"' in kubectl(sim, "exec", "client", "--", "wget", "-qO-", f"http://{cluster_ip}").stdout
