"""The emulator's scheduler spreads pods as kube-scheduler's PodTopologySpread and InterPodAffinity
plugins do: topology spread constraints over zones and nodes, required and preferred pod
(anti-)affinity, and placed pods' anti-affinity against newcomers, with the scheduler's own
FailedScheduling words for what cannot be placed. Manifests go through real kubectl.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess

import pytest

from labkit import kubesim

WORKERS = ["course-worker", "course-worker2", "course-worker3", "course-worker4"]


@pytest.fixture()
def sim(tmp_path):
    """Four workers in two zones (zone-a: worker, worker2; zone-b: worker3, worker4), frozen clock."""
    handle = kubesim.start(tmp_path / "kubeconfig", seed=2, realtime=False, workers=4)
    for index, node in enumerate(WORKERS):
        kubectl(handle, "label", "node", node, f"topology.kubernetes.io/zone=zone-{'ab'[index // 2]}")
    yield handle
    handle.stop()


def kubectl(sim, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], input=stdin, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "KUBECACHEDIR": str(sim.kubeconfig) + ".cache"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def deployment(name: str, replicas: int, **pod_spec) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {**pod_spec, "containers": [{"name": "c", "image": "course-webapp:lesson"}]}}}})


def placed(sim, app: str) -> tuple[collections.Counter, list[dict]]:
    """Pods of `app` per node, and the pods no node took."""
    pods = json.loads(kubectl(sim, "get", "pods", "-l", f"app={app}", "-o", "json"))["items"]
    return collections.Counter(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")), \
        [p for p in pods if not p["spec"].get("nodeName")]


def why_pending(pod: dict) -> str:
    return next(c["message"] for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")


def zone_of(node: str) -> str:
    return "zone-a" if WORKERS.index(node) < 2 else "zone-b"


def test_required_anti_affinity_puts_one_pod_per_node_and_says_why_the_rest_wait(sim) -> None:
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "anti"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("anti", 5, affinity=anti))
    sim.advance(10)
    per_node, pending = placed(sim, "anti")
    assert sorted(per_node.values()) == [1, 1, 1, 1] and len(pending) == 1
    assert why_pending(pending[0]) == (
        "0/5 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "4 node(s) didn't match pod anti-affinity rules. preemption: 0/5 nodes are available: "
        "1 Preemption is not helpful for scheduling, 4 No preemption victims found for incoming pod.")
    kubectl(sim, "scale", "deployment/anti", "--replicas=4")
    sim.advance(5)
    assert placed(sim, "anti")[1] == []


def test_topology_spread_over_zones_keeps_the_skew_and_a_missing_key_is_named(sim) -> None:
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "spread"}}}]
    kubectl(sim, "apply", "-f", "-", stdin=deployment("spread", 7, topologySpreadConstraints=spread))
    sim.advance(10)
    per_node, pending = placed(sim, "spread")
    per_zone = collections.Counter()
    for node, count in per_node.items():
        per_zone[zone_of(node)] += count
    assert not pending and sorted(per_zone.values()) == [3, 4]
    racks = [{"maxSkew": 1, "topologyKey": "example.com/rack", "whenUnsatisfiable": "DoNotSchedule",
              "labelSelector": {"matchLabels": {"app": "racked"}}}]
    kubectl(sim, "apply", "-f", "-", stdin=deployment("racked", 1, topologySpreadConstraints=racks))
    sim.advance(5)
    _, pending = placed(sim, "racked")
    assert len(pending) == 1
    assert "4 node(s) didn't match pod topology spread constraints (missing required label)" in why_pending(pending[0])


def test_a_full_zone_blocks_do_not_schedule_but_not_schedule_anyway(sim) -> None:
    """Zone-b's nodes cordoned: with maxSkew 1, DoNotSchedule places one pod per zone-a... until the
    skew against the empty zone-b would pass 1; ScheduleAnyway places them all in zone-a."""
    for node in WORKERS[2:]:
        kubectl(sim, "cordon", node)
    for name, when in (("strict", "DoNotSchedule"), ("lenient", "ScheduleAnyway")):
        spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": when,
                   "labelSelector": {"matchLabels": {"app": name}}}]
        kubectl(sim, "apply", "-f", "-", stdin=deployment(name, 3, topologySpreadConstraints=spread))
    sim.advance(10)
    strict, strict_pending = placed(sim, "strict")
    lenient, lenient_pending = placed(sim, "lenient")
    assert sum(strict.values()) == 1 and len(strict_pending) == 2
    assert "didn't match pod topology spread constraints" in why_pending(strict_pending[0])
    assert sum(lenient.values()) == 3 and not lenient_pending
    assert set(lenient) <= set(WORKERS[:2])


def test_placed_pods_anti_affinity_keeps_newcomers_away_and_affinity_brings_them_close(sim) -> None:
    loner = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "noisy"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("loner", 1, affinity=loner))
    sim.advance(5)
    (loner_node,), _ = placed(sim, "loner")
    kubectl(sim, "apply", "-f", "-", stdin=deployment("noisy", 4))
    sim.advance(5)
    noisy, pending = placed(sim, "noisy")
    assert not pending and {zone_of(node) for node in noisy} == {"zone-a", "zone-b"} - {zone_of(loner_node)}
    near = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "loner"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("sidekick", 2, affinity=near))
    sim.advance(5)
    sidekicks, pending = placed(sim, "sidekick")
    assert not pending and set(sidekicks) == {loner_node}
    # a group whose pods want each other: the first goes anywhere, the rest follow it into its zone
    together = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "group"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("group", 3, affinity=together))
    sim.advance(5)
    group, pending = placed(sim, "group")
    assert not pending and len({zone_of(node) for node in group}) == 1
    # affinity to pods that exist nowhere: the pods wait, and say why
    lost = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "nobody"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("lost", 1, affinity=lost))
    sim.advance(5)
    _, pending = placed(sim, "lost")
    assert len(pending) == 1 and "4 node(s) didn't match pod affinity rules" in why_pending(pending[0])


def test_preferred_anti_affinity_spreads_without_refusing(sim) -> None:
    soft = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "soft"}},
                                            "topologyKey": "topology.kubernetes.io/zone"}}]}}
    kubectl(sim, "apply", "-f", "-", stdin=deployment("soft", 2, affinity=soft))
    sim.advance(5)
    per_node, _ = placed(sim, "soft")
    assert {zone_of(node) for node in per_node} == {"zone-a", "zone-b"}
    kubectl(sim, "scale", "deployment/soft", "--replicas=6")
    sim.advance(5)
    per_node, pending = placed(sim, "soft")
    assert not pending and sum(per_node.values()) == 6


def test_a_node_without_every_constraints_key_counts_in_no_domain(tmp_path) -> None:
    """Zone and hostname spread over zoned workers beside a zone-less control plane: kube-scheduler
    leaves the control plane out of both constraints (it is no hostname domain of 0 pods), so five
    replicas on four workers in two zones all find a node (2-1-1-1 by host, 3-2 by zone)."""
    from labkit.practice_live import live_cluster

    with live_cluster(seed=4, workers=4) as practice:
        for index, worker in enumerate(["course-worker", "course-worker2", "course-worker3", "course-worker4"]):
            practice.core.patch_node(worker, {"metadata": {"labels": {"topology.kubernetes.io/zone": f"zone-{'ab'[index % 2]}"}}})
        spread = [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}
                  for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")]
        practice.apps.create_namespaced_deployment("default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"topologySpreadConstraints": spread, "containers": [{"name": "web", "image": "course-webapp:lesson"}]}}}})
        practice.advance(20)
        pods = practice.core.list_namespaced_pod("default", label_selector="app=web").items
        assert sorted(p.status.phase for p in pods) == ["Running"] * 5
        by_node = sorted(collections.Counter(p.spec.node_name for p in pods).values())
        assert by_node == [1, 1, 1, 2]
