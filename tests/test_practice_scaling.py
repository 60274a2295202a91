"""labkit.practice_scaling: zone-labelled live clusters, rollouts and drains measured as they happen, zone
outages, and the HPA exercises' generated cases and reference.

A drain must do what `kubectl drain --ignore-daemonsets` does (cordon, evict through the eviction API, try a
refused eviction again after 5 s, wait until the evicted pods are gone, leave DaemonSet pods), so that what it
records is what a real drain would show; a rollout's most pods and fewest available pods must be the
Deployment controller's bounds; the generated HPA cases must be plain data, the same for a seed in every
process, and always computable.
"""
from __future__ import annotations

import json

import pytest

from labkit import practice_scaling as ps
from labkit.practice_live import live_cluster


def deployment(name: str, replicas: int, strategy: dict | None = None, probe_period: int = 2) -> dict:
    labels = {"app": name}
    spec = {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                "name": "web", "image": "course-webapp:lesson",
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": probe_period}}]}}}
    if strategy:
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": strategy}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def test_a_zoned_cluster_labels_its_workers_in_order_and_not_the_control_plane() -> None:
    with ps.zoned_cluster(seed=0, zones={"z-a": 1, "z-b": 2}, region="r1") as practice:
        assert ps.workers_of(practice) == ["course-worker", "course-worker2", "course-worker3"]
        assert ps.zones_of(practice) == {"course-worker": "z-a", "course-worker2": "z-b", "course-worker3": "z-b"}
        control = practice.core.read_node("course-control-plane").metadata.labels
        assert ps.ZONE_LABEL not in control
        assert practice.core.read_node("course-worker2").metadata.labels[ps.REGION_LABEL] == "r1"
    with pytest.raises(ValueError, match="one worker or more"):
        ps.zoned_cluster(zones={"z-a": 0})


def test_a_rollout_reaches_the_controllers_bounds_and_no_further() -> None:
    with live_cluster(seed=1, workers=3) as practice:
        practice.apps.create_namespaced_deployment("default", deployment("web", 4, {"maxSurge": 1, "maxUnavailable": 1}))
        practice.advance(30)
        seen = ps.rollout(practice, "default", "web", step=0.5)
        assert seen.finished and (seen.max_pods, seen.min_available) == (5, 3)
        assert seen.timeline[0] == (0.0, 4, 4) and seen.timeline[-1][1:] == (4, 4)
        again = ps.rollout(practice, "default", "web", step=0.5)  # a second rollout: the annotation counts up
        assert again.finished and (again.max_pods, again.min_available) == (5, 3)
        template = practice.apps.read_namespaced_deployment("web", "default").spec.template
        assert template.metadata.annotations["labkit.dev/rollout"] == "2"


def test_a_drain_evicts_waits_for_the_budget_and_leaves_daemonset_pods() -> None:
    with live_cluster(seed=0, workers=2) as practice:
        practice.apps.create_namespaced_deployment("default", deployment("web", 4))
        practice.policy.create_namespaced_pod_disruption_budget("default", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}}})
        practice.advance(30)
        on = {p.spec.node_name for p in practice.core.list_namespaced_pod("default").items}
        node = sorted(on)[0]
        mine = [p.metadata.name for p in practice.core.list_namespaced_pod("default").items if p.spec.node_name == node]
        done = ps.drain(practice, node, watch=("default", "app=web"))
        assert done.finished and not done.errors and set(mine) <= set(done.evicted)
        assert done.fewest_serving == 3  # one at a time: the budget allows one eviction until a replacement serves
        if len(mine) > 1:
            assert done.refused >= 1 and done.last_refusal == "Cannot evict pod as it would violate the pod's disruption budget."
        left = practice.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        owners = {o.kind for p in left for o in p.metadata.owner_references or []}
        assert left and owners == {"DaemonSet"}  # kube-proxy and kindnet stay, as with --ignore-daemonsets
        assert practice.core.read_node(node).spec.unschedulable is True
        practice.advance(10)  # kubectl drain does not wait for the last replacement to serve
        assert len(ps.serving(practice, "default", "app=web")) == 4


def test_a_drain_that_a_budget_blocks_stops_at_its_timeout_and_says_why() -> None:
    with live_cluster(seed=0, workers=2) as practice:
        practice.apps.create_namespaced_deployment("default", deployment("web", 2))
        practice.policy.create_namespaced_pod_disruption_budget("default", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
        practice.advance(30)
        node = practice.core.list_namespaced_pod("default", label_selector="app=web").items[0].spec.node_name
        done = ps.drain(practice, node, watch=("default", "app=web"), timeout=30, uncordon=True)
        assert not done.finished and done.seconds == 30 and done.refused >= 6 and done.fewest_serving == 2
        assert practice.core.read_node(node).spec.unschedulable in (None, False)


def test_a_zone_outage_takes_its_pods_out_of_service_until_power_returns() -> None:
    with ps.zoned_cluster(seed=0, zones={"z-a": 1, "z-b": 1}) as practice:
        practice.apps.create_namespaced_deployment("default", deployment("web", 4))
        practice.advance(30)
        assert len(ps.serving(practice, "default", "app=web")) == 4
        assert ps.power_off_zone(practice, "z-a") == ["course-worker"]
        practice.advance(60)
        on_b = [p.metadata.name for p in ps.live_pods(practice, "default", "app=web") if p.spec.node_name == "course-worker2"]
        assert ps.serving(practice, "default", "app=web") == sorted(on_b)
        assert ps.power_on_zone(practice, "z-a") == ["course-worker"]
        practice.advance(60)
        assert len(ps.serving(practice, "default", "app=web")) == 4
        with pytest.raises(ValueError, match="no node is in zone"):
            ps.power_off_zone(practice, "z-q")


def test_hpa_examples_are_plain_data_the_same_for_a_seed_and_always_computable() -> None:
    first, again, other = ps.hpa_examples(3, 150), ps.hpa_examples(3, 150), ps.hpa_examples(4, 150)
    assert first == again != other
    assert json.loads(json.dumps(first)) == [list(case[:1]) + [case[1], case[2]] for case in first]
    for current, pods, target in first:
        assert current >= 1 and any(p["phase"] == "Running" and p["ready"] and not p["deleting"] and p["cpu_usage_m"] is not None
                                    for p in pods)
        assert isinstance(ps.hpa_reference(current, pods, target).replicas, int)
    kinds = {(r.replicas > c) - (r.replicas < c) for c, p, t in first for r in [ps.hpa_reference(c, p, t)]}
    assert kinds == {-1, 0, 1}  # scale-downs, scale-ups and no change among them


def test_the_ready_flag_is_the_whole_story_of_an_unready_pod() -> None:
    pods = [{"name": "a", "phase": "Running", "ready": True, "deleting": False, "cpu_request_m": 100, "cpu_usage_m": 100},
            {"name": "b", "phase": "Running", "ready": False, "deleting": False, "cpu_request_m": 100, "cpu_usage_m": 100},
            {"name": "c", "phase": "Pending", "ready": False, "deleting": False, "cpu_request_m": 100, "cpu_usage_m": None},
            {"name": "d", "phase": "Running", "ready": True, "deleting": False, "cpu_request_m": 100, "cpu_usage_m": None},
            {"name": "e", "phase": "Failed", "ready": False, "deleting": False, "cpu_request_m": 100, "cpu_usage_m": 5}]
    result = ps.hpa_reference(4, pods, 50)
    assert (result.ready, result.unready, result.missing, result.ignored) == (["a"], ["b", "c"], ["d"], ["e"])
    # a: 100 % -> 2.0, up; b, c and d at 0: 100 m of 400 m is 25 %, 0.5: the other side of 1, no change
    assert result.replicas == 4


def test_over_time_reference_shows_its_working() -> None:
    syncs = ps.over_time_reference(2, [[0, 9], [15, 9], [30, 2], [75, 2]], 1, 10, {"scaleDown": {"stabilizationWindowSeconds": 60}})
    # t=0: 9 wanted, max(2 + 4, 2 x 2) = 6 allowed; t=15: max(6 + 4, 12) = 12 >= 9; t=30: the 9s of the last
    # 60 s hold 2 back; t=75: the last 9 (t=15) is exactly 60 s old and no longer counts: down to 2
    assert [(s.count, s.floor, s.ceiling, s.stabilized, s.why) for s in syncs] == [
        (6, 9, 9, 9, "ScaleUpLimit"), (9, 9, 9, 9, ""), (9, 2, 9, 9, "ScaleDownStabilized"), (2, 2, 2, 2, "")]
    cases = ps.over_time_examples(0, 20, [{}, {"scaleUp": {"selectPolicy": "Min"}}])
    assert cases == ps.over_time_examples(0, 20, [{}, {"scaleUp": {"selectPolicy": "Min"}}])
    assert json.loads(json.dumps(cases)) == cases
    for case in cases:
        assert case["min_replicas"] <= case["current"] <= case["max_replicas"]
        times = [t for t, _ in case["recommendations"]]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert all(case["min_replicas"] <= s.count <= case["max_replicas"] for s in ps.over_time_reference(**case))


def test_a_pod_no_controller_owns_stops_a_drain_unless_forced() -> None:
    with live_cluster(seed=0, workers=1) as practice:
        practice.core.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lonely"},
                                                        "spec": {"containers": [{"name": "c", "image": "course-webapp:lesson"}]}})
        practice.advance(10)
        refused = ps.drain(practice, "course-worker")
        assert not refused.finished and not refused.evicted
        assert refused.errors == [("default/lonely", 0, "cannot delete Pods that declare no controller (use --force to override): "
                                                       "default/lonely")]
        forced = ps.drain(practice, "course-worker", force=True)
        assert forced.finished and "lonely" in forced.evicted
