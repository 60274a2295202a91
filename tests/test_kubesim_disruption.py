"""PodDisruptionBudgets in the emulator: the disruption controller's status, the eviction API, and
`kubectl drain` held back by a budget, with real kubectl.

What a real cluster does, and these tests hold the emulator to: the controller computes
expectedPods, desiredHealthy, currentHealthy and disruptionsAllowed (integer minAvailable counts
the pods; a percentage or maxUnavailable counts the controller's scale; percentages round up); the
eviction subresource deletes a pod when its budget allows it and lowers disruptionsAllowed at once,
answers 429 with the apiserver's words when it does not, lets a finished or Pending pod go, and
refuses a pod that two budgets select; `kubectl drain` evicts (not deletes), and retries a refused
eviction every 5 s until a replacement is ready elsewhere.
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import requests

from labkit import kubesim

NS = "/api/v1/namespaces/default"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def post(sim, path: str, body: dict) -> requests.Response:
    return requests.post(sim.url + path, json=body, timeout=10)


def deployment(name: str, replicas: int, ready_file: bool = False) -> dict:
    container = {"name": "web", "image": "course-webapp:lesson",
                 "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 2, "failureThreshold": 1}}
    if ready_file:
        container["env"] = [{"name": "APP_READY_FILE", "value": "/tmp/ready"}]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def budget(name: str, app: str, **spec) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}


def pods_of(sim, app: str) -> list[dict]:
    items = requests.get(f"{sim.url}{NS}/pods", params={"labelSelector": f"app={app}"}, timeout=10).json()["items"]
    return sorted(items, key=lambda p: p["metadata"]["name"])


def status(sim, name: str) -> dict:
    return requests.get(f"{sim.url}{PDBS}/{name}", timeout=10).json()["status"]


def evict(sim, pod: str) -> requests.Response:
    return post(sim, f"{NS}/pods/{pod}/eviction", {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod}})


@pytest.fixture()
def sim():
    handle = kubesim.start(seed=3, realtime=False)
    yield handle
    handle.stop()


def test_the_controller_computes_each_kind_of_budget(sim) -> None:
    assert post(sim, "/apis/apps/v1/namespaces/default/deployments", deployment("web", 4)).status_code == 201
    for body in (budget("at-least-3", "web", minAvailable=3), budget("at-least-half", "web", minAvailable="50%"),
                 budget("one-down", "web", maxUnavailable=1), budget("a-third-down", "web", maxUnavailable="30%")):
        assert post(sim, PDBS, body).status_code == 201
    sim.advance(10)
    seen = {name: status(sim, name) for name in ("at-least-3", "at-least-half", "one-down", "a-third-down")}
    numbers = {name: (s["expectedPods"], s["desiredHealthy"], s["currentHealthy"], s["disruptionsAllowed"]) for name, s in seen.items()}
    # 30% of 4 is 1.2, rounded up to 2 unavailable: 2 must stay healthy
    assert numbers == {"at-least-3": (4, 3, 4, 1), "at-least-half": (4, 2, 4, 2), "one-down": (4, 3, 4, 1), "a-third-down": (4, 2, 4, 2)}
    condition = seen["at-least-3"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
    assert seen["at-least-3"]["observedGeneration"] == 1
    # the Deployment's scale, not the pods that happen to exist, is what percentages count
    requests.patch(f"{sim.url}/apis/apps/v1/namespaces/default/deployments/web", json={"spec": {"replicas": 6}},
                   headers={"Content-Type": "application/merge-patch+json"}, timeout=10)
    sim.advance(0.01)
    assert status(sim, "at-least-half")["expectedPods"] == 6
    sim.advance(10)
    assert status(sim, "at-least-3")["disruptionsAllowed"] == 3


def test_an_unready_pod_does_not_count_as_healthy(sim) -> None:
    post(sim, "/apis/apps/v1/namespaces/default/deployments", deployment("slow", 3, ready_file=True))
    post(sim, PDBS, budget("slow-pdb", "slow", minAvailable=2))
    sim.advance(10)
    s = status(sim, "slow-pdb")
    assert (s["currentHealthy"], s["desiredHealthy"], s["disruptionsAllowed"]) == (0, 2, 0)
    assert s["conditions"][0]["reason"] == "InsufficientPods" and s["conditions"][0]["status"] == "False"


def test_eviction_lowers_the_budget_at_once_then_refuses_with_the_apiservers_words(sim) -> None:
    post(sim, "/apis/apps/v1/namespaces/default/deployments", deployment("web", 3))
    post(sim, PDBS, budget("web-pdb", "web", minAvailable=2))
    sim.advance(10)
    first, second = [p["metadata"]["name"] for p in pods_of(sim, "web")][:2]
    answer = evict(sim, first)
    assert answer.status_code == 201 and answer.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                           "status": "Success", "code": 201}
    gone = requests.get(f"{sim.url}{NS}/pods/{first}", timeout=10).json()
    assert gone.get("metadata", {}).get("deletionTimestamp") or gone.get("code") == 404
    s = status(sim, "web-pdb")
    assert s["disruptionsAllowed"] == 0 and first in s.get("disruptedPods", {})
    assert s["currentHealthy"] == 3  # the handler lowered what was allowed; the controller recounts next
    sim.advance(0.01)
    assert status(sim, "web-pdb")["currentHealthy"] == 2
    refused = evict(sim, second)
    assert refused.status_code == 429
    body = refused.json()
    assert body["reason"] == "TooManyRequests" and body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]
    # once the replacement is ready, the budget allows one more
    sim.advance(40)
    assert status(sim, "web-pdb")["disruptionsAllowed"] == 1
    assert evict(sim, second).status_code == 201


def test_pods_no_budget_guards_and_pods_two_budgets_select(sim) -> None:
    post(sim, "/apis/apps/v1/namespaces/default/deployments", deployment("web", 2))
    post(sim, f"{NS}/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "too-big", "labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "resources": {"requests": {"cpu": "64"}}}]}})
    sim.advance(10)
    running = [p["metadata"]["name"] for p in pods_of(sim, "web") if p["metadata"]["name"] != "too-big"]
    assert evict(sim, running[0]).status_code == 201  # no budget: deleted
    post(sim, PDBS, budget("one", "web", minAvailable=1))
    post(sim, PDBS, budget("two", "web", maxUnavailable=0))
    sim.advance(1)
    doubled = evict(sim, running[1])
    assert doubled.status_code == 500
    assert doubled.json()["message"] == "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    assert evict(sim, "too-big").status_code == 201  # Pending: no budget applies
    mismatch = post(sim, f"{NS}/pods/{running[1]}/eviction", {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}})
    assert mismatch.status_code == 400 and "does not match" in mismatch.json()["message"]
    assert evict(sim, "nobody").status_code == 404


def test_discovery_and_rbac_know_the_eviction_subresource(sim) -> None:
    core = requests.get(sim.url + "/api/v1", timeout=10).json()["resources"]
    entry = next(r for r in core if r["name"] == "pods/eviction")
    assert (entry["group"], entry["version"], entry["kind"], entry["verbs"]) == ("policy", "v1", "Eviction", ["create"])
    refused = requests.post(f"{sim.url}{NS}/pods/anything/eviction", json={"apiVersion": "policy/v1", "kind": "Eviction"},
                            headers={"Impersonate-User": "system:serviceaccount:default:default"}, timeout=10)
    assert refused.status_code == 403
    assert 'cannot create resource "pods/eviction" in API group "" in the namespace "default"' in refused.json()["message"]


def _kubectl(kubeconfig: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "KUBECACHEDIR": os.path.join(os.path.dirname(kubeconfig), "cache")})


def test_kubectl_drain_waits_for_the_budget_and_moves_the_pods_one_at_a_time(tmp_path) -> None:
    """A real `kubectl drain` of the node that runs two of three replicas, with minAvailable 2: it
    evicts one, is refused the other ("will retry after 5s") until the first one's replacement is
    ready on the other worker, then evicts it and the node is drained."""
    sim = kubesim.start(tmp_path / "kubeconfig", seed=1, speed=5)
    try:
        kubeconfig = str(sim.kubeconfig)
        manifest = tmp_path / "web.yaml"
        manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
            deployment("web", 3), budget("web-pdb", "web", minAvailable=2)]}))
        assert _kubectl(kubeconfig, "apply", "-f", str(manifest)).returncode == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(
                any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
                for p in pods_of(sim, "web")) < 3:
            time.sleep(0.5)
        nodes = [p["spec"]["nodeName"] for p in pods_of(sim, "web")]
        busiest = max(set(nodes), key=nodes.count)
        drained = _kubectl(kubeconfig, "drain", busiest, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s", timeout=150)
        out = drained.stdout + drained.stderr
        assert drained.returncode == 0, out
        assert f"node/{busiest} drained" in out and "evicted" in out
        if nodes.count(busiest) > 1:
            assert "Cannot evict pod as it would violate the pod's disruption budget." in out and "will retry after 5s" in out
        pods = pods_of(sim, "web")
        assert len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) == 3
        assert busiest not in {p["spec"].get("nodeName") for p in pods if not p["metadata"].get("deletionTimestamp")}
        table = _kubectl(kubeconfig, "get", "pdb", "web-pdb").stdout
        assert table.split("\n")[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]
    finally:
        sim.stop()
