"""The HPA algorithm (labkit.autoscaling) and the emulator's HPA controller, against hand-computed cases.

Every expected number below is worked out by hand in the comment next to it, from the formula
kubernetes.io documents and the controller's rules (integer utilization, tolerance band 0.9..1.1,
missing/unready pods, stabilization, policies), never by calling the code under test.
"""
from __future__ import annotations

import pytest
from kubernetes import client, config

from labkit import autoscaling as hpa
from labkit import kubesim

P = hpa.PodSample


def pods(*usages: int | None, request: int = 100, **kw) -> list[hpa.PodSample]:
    return [P(f"p{i}", u, request, **kw) for i, u in enumerate(usages)]


# (case, current replicas, pods, target %, expected replicas)
TABLE = [
    # 320 m of 400 m requested = 80 %; 80 / 50 = 1.6; ceil(1.6 x 4) = ceil(6.4) = 7
    ("scale up", 4, pods(80, 80, 80, 80), 50, 7),
    # 212/400 = 53 %; 53/50 = 1.06 is inside 0.9..1.1: no change
    ("inside tolerance", 4, pods(53, 53, 53, 53), 50, 4),
    # 55 %: 1.1 is still inside (1.0 + 0.1 inclusive)
    ("tolerance edge", 4, pods(55, 55, 55, 55), 50, 4),
    # 56 %: 1.12; ceil(1.12 x 4) = ceil(4.48) = 5
    ("just above tolerance", 4, pods(56, 56, 56, 56), 50, 5),
    # 20 %: 0.4; ceil(0.4 x 5) = 2
    ("scale down", 5, pods(20, 20, 20, 20, 20), 50, 2),
    # 100 m of 300 m = 33.3 -> 33 % (integer); 33/50 = 0.66; ceil(0.66 x 3) = ceil(1.98) = 2
    ("integer utilization", 3, pods(34, 33, 33), 50, 2),
    # ready pods 90,90 -> 90 %, 1.8 > 1; the 2 pods without metrics count 0 %: 180/400 = 45 %, 0.9 is
    # inside the tolerance: no change
    ("missing pods on scale up land in tolerance", 4, pods(90, 90, None, None), 50, 4),
    # ready 100,100 -> 2.0; missing at 0 %: 200/400 = 50 %... = 1.0 inside: no change
    ("missing pods cancel a scale up", 4, pods(100, 100, None, None), 50, 4),
    # ready 150,150 -> 3.0; missing at 0: 300/400 = 75 %, 1.5; ceil(1.5 x 4) = 6
    ("missing pods damp a scale up", 4, pods(150, 150, None, None), 50, 6),
    # ready 10,10 -> 10 %, 0.2 < 1; missing counted at max(100, 50) = 100 % of request:
    # 220/400 = 55 %, 1.1 > 1 reverses the direction: no change
    ("missing pods reverse a scale down", 4, pods(10, 10, None, None), 50, 4),
    # ready 10,10,10 -> 0.2; one missing at 100 %: 130/400 = 32 %, 0.64; ceil(0.64 x 4) = ceil(2.56) = 3
    ("missing pod damps a scale down", 4, pods(10, 10, 10, None), 50, 3),
    # target above 100 %: missing pods on a scale down count at the target (150 % of request):
    # ready 30,30,30 -> 30 %, 0.2; (90 + 150)/400 = 60 %, 0.4; ceil(0.4 x 4) = 2
    ("missing pods at a target above 100 %", 4, pods(30, 30, 30, None), 150, 2),
]


@pytest.mark.parametrize("case,current,samples,target,expected", TABLE, ids=[c[0] for c in TABLE])
def test_replica_calculation_table(case, current, samples, target, expected):
    assert hpa.replicas_for_utilization(current, samples, target).replicas == expected


def test_unready_and_ignored_pods():
    ready = pods(100, 100)
    pending = [P("new", None, 100, phase="Pending")]
    # ready 100,100 -> 2.0 > 1; the pending pod counts 0 %: 200/300 = 66 %, 1.32; ceil(1.32 x 3) = ceil(3.96) = 4
    assert hpa.replicas_for_utilization(3, ready + pending, 50).replicas == 4
    # a pending pod does not change a scale down: ready 10,10 -> 0.2, ceil(0.2 x 2) = 1
    assert hpa.replicas_for_utilization(3, pods(10, 10) + pending, 50).replicas == 1
    # being deleted or failed: ignored entirely. 80,80 -> 1.6 x 2 = 3.2 -> 4
    gone = [P("old", 500, 100, deleting=True), P("dead", 500, 100, phase="Failed")]
    assert hpa.replicas_for_utilization(4, pods(80, 80) + gone, 50).replicas == 4
    # CPU: a pod not ready (within 5 min of starting) is unready: counts 0 % on a scale up
    # ready 200 -> 4.0; with the unready one at 0: 200/200 = 100 %, 2.0; ceil(2.0 x 2) = 4
    young = [P("warming", 200, 100, ready=False, started=100.0, ready_since=100.0)]
    assert hpa.replicas_for_utilization(2, pods(200) + young, 50, now=120.0).replicas == 4
    with pytest.raises(hpa.MetricError, match="missing request for cpu in container web of Pod p0"):
        hpa.replicas_for_utilization(1, [P("p0", 50, None, container="web")], 50)
    with pytest.raises(hpa.MetricError, match="did not receive metrics for any ready pods"):
        hpa.replicas_for_utilization(1, [P("p0", None, 100)], 50)


def test_stabilization_window_and_default_policies():
    a = hpa.Autoscaler()
    b = hpa.default_behavior()
    # t=0: 2 replicas want 10. Up limit: max(2 + 100 % = 4, 2 + 4 pods = 6) = 6
    d = a.decide(2, 1, 20, [(10, "cpu")], [], 1, b, 0.0)
    assert d.desired == 6 and d.conditions["ScalingLimited"][1] == "ScaleUpLimit"
    # t=15: the +4 of t=0 is no longer within the 15 s period: max(12, 10) = 12 >= 10
    assert a.decide(6, 1, 20, [(10, "cpu")], [], 1, b, 15.0).desired == 10
    # the load goes: recommendations of 2 are held back by the 10 of t=15 for 300 s
    for t in range(30, 315, 15):
        d = a.decide(10, 1, 20, [(2, "cpu")], [], 1, b, float(t))
        assert d.desired == 10 and d.conditions["AbleToScale"][1] == "ScaleDownStabilized"
    # t=315: the last 10 (t=15) is out of the window (15 > 315 - 300 is false): down to 2 (100 % per 15 s allows it)
    d = a.decide(10, 1, 20, [(2, "cpu")], [], 1, b, 315.0)
    assert d.desired == 2 and d.reason == "All metrics below target"



def test_stabilization_clamps_the_current_count_between_both_windows():
    """horizontal.go's stabilizeRecommendationWithBehaviors: the scale-up window's lowest recommendation is
    a floor, the scale-down window's highest a ceiling. A spike limited to 5 (from 1, 4 pods a period)
    whose load is gone by the next sync stays at 5: it neither climbs to the old 9 nor drops to 1."""
    a = hpa.Autoscaler()
    behavior = hpa.default_behavior()
    assert a.decide(1, 1, 10, [(9, "cpu")], [], 1, behavior, 0.0).desired == 5
    second = a.decide(5, 1, 10, [(1, "cpu")], [], 1, behavior, 15.0)
    assert second.desired == 5 and second.conditions["AbleToScale"][1] == "ScaleDownStabilized"
    # a scale-up window holds a rise back to the lowest recent recommendation
    slow = hpa.behavior_from_spec({"scaleUp": {"stabilizationWindowSeconds": 60}})
    b = hpa.Autoscaler()
    assert b.decide(2, 1, 10, [(2, "cpu")], [], 1, slow, 0.0).desired == 2
    assert b.decide(2, 1, 10, [(6, "cpu")], [], 1, slow, 15.0).desired == 2
    assert b.decide(2, 1, 10, [(6, "cpu")], [], 1, slow, 75.0).desired == 6


def test_a_period_starts_from_the_count_before_its_scale_downs_too():
    """calculateScaleUpLimitWithScalingRules: periodStartReplicas = current - added + deleted. After a
    scale-down from 8 to 4 within the period, a Pods policy of 4 allows 8 + 4 = 12, not 4 + 4."""
    a = hpa.Autoscaler()
    rules = hpa.behavior_from_spec({"scaleUp": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]},
                                    "scaleDown": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 60}]}})
    a.record_scale(8, 4, rules, 0.0)
    assert a.scale_up_limit(4, rules.up, 30.0) == 12
    assert a.scale_down_limit(4, rules.down, 30.0) == 4  # this period's 4 pods are spent: no lower than 8 - 4

def test_policies_select_and_disabled():
    slow = hpa.behavior_from_spec({"scaleDown": {"stabilizationWindowSeconds": 0, "policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 60}, {"type": "Percent", "value": 50, "periodSeconds": 60}],
        "selectPolicy": "Min"}})
    a = hpa.Autoscaler()
    # 10 -> 2 wanted; Pods: 10 - 1 = 9, Percent: int(10 x 0.5) = 5; Min picks the smaller change: 9
    assert a.decide(10, 1, 20, [(2, "cpu")], [], 1, slow, 0.0).desired == 9
    # 30 s later, still within the 60 s period: start = 9 + 1 = 10; 10 - 1 = 9 again, so no further change
    assert a.decide(9, 1, 20, [(2, "cpu")], [], 1, slow, 30.0).desired == 9
    off = hpa.behavior_from_spec({"scaleUp": {"selectPolicy": "Disabled"}})
    d = hpa.Autoscaler().decide(3, 1, 20, [(8, "cpu")], [], 1, off, 0.0)
    assert d.desired == 3 and d.conditions["ScalingLimited"][1] == "ScaleUpLimit"
    # min/max bound the result
    d = hpa.Autoscaler().decide(3, 1, 5, [(9, "cpu")], [], 1, hpa.default_behavior(), 0.0)
    assert d.desired == 5 and d.conditions["ScalingLimited"][1] == "TooManyReplicas"
    d = hpa.Autoscaler().decide(0, 1, 5, [(3, "cpu")], [], 1, None, 0.0)
    assert not d.rescale and d.conditions["ScalingActive"][1] == "ScalingDisabled"


def test_simulation_for_lessons():
    # 400 % of request at 1 replica, and the load is shared: utilization = 400 / replicas
    steps = hpa.simulate(lambda t, n: 400 / n if t < 120 else 40 / n, replicas=1, target=50, max_replicas=10, seconds=600)
    replicas = [r for _, _, r in steps]
    assert replicas[0] == 5 and max(replicas) >= 8       # 1 -> 5 (4 pods per 15 s) -> ...
    assert replicas[steps.index(next(s for s in steps if s[0] == 420))] > 1 or replicas[-1] == 1


# ---- the emulator's HPA controller ------------------------------------------------------------
def loaded_web(tmp_path):
    """A frozen emulator with one replica of web (CPU request 100m) under 4 requests/s for a minute, and
    a client. course-webapp costs 2 m idle + 100 m per request/s, shared by the ready pods."""
    sim = kubesim.start(tmp_path / "kc", seed=0, realtime=False)
    api = config.new_client_from_config(sim.kubeconfig)
    client.AppsV1Api(api).create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                     {"name": "web", "image": "course-webapp:lesson", "resources": {"requests": {"cpu": "100m"}}}]}}}})
    sim.set_load("web", rps=4)
    sim.advance(60)
    return sim, api


def test_hpa_in_the_emulator_scales_up_then_down_only_after_the_window(tmp_path):
    sim, api = loaded_web(tmp_path)
    try:
        apps, auto, core = client.AppsV1Api(api), client.AutoscalingV2Api(api), client.CoreV1Api(api)
        auto.create_namespaced_horizontal_pod_autoscaler("default", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10, "behavior": {},  # the API server fills in the defaults
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                             "averageUtilization": 50}}}]}})

        def replicas() -> int:
            sim.advance(0)
            return apps.read_namespaced_deployment("web", "default").spec.replicas

        # C (creation): 1 pod at 2 + 400 = 402 % -> 8.04 -> wants 9; scale-up limit max(1 x 2, 1 + 4) = 5
        assert replicas() == 5
        h = auto.read_namespaced_horizontal_pod_autoscaler("web", "default")
        assert {c.type: c.reason for c in h.status.conditions} == {
            "AbleToScale": "SucceededRescale", "ScalingActive": "ValidMetricFound", "ScalingLimited": "ScaleUpLimit"}
        # C+15: the 4 new pods have no metrics yet (started 15 s ago, less than a 15 s sample);
        # ready pod at 2 + 400/5 = 82 % -> 1.64 > 1, missing at 0 %: 82/500 = 16 % -> reverses: stays 5
        sim.advance(15)
        assert replicas() == 5
        # C+30: all 5 at 82 % -> ceil(1.64 x 5) = ceil(8.2) = 9; limit max(5 x 2, 5 + 4) = 10
        sim.advance(15)
        assert replicas() == 9
        # C+45: 5 pods at 2 + 400/9 = 46 %, 0.92 < 1; 4 missing at 100 %: 630/900 = 70 % reverses: stays 9
        # C+60: all 9 at 46 %, 0.92 is inside the tolerance: stays 9
        sim.advance(30)
        assert replicas() == 9
        h = auto.read_namespaced_horizontal_pod_autoscaler("web", "default")
        assert h.status.current_metrics[0].resource.current.average_utilization == 46
        # the load drops at C+60: 2 + 50/9 = 8 % -> ceil(0.16 x 9) = 2, but the 9 recommended at C+60
        # stays in the 300 s window until C+360
        sim.set_load("web", rps=0.5)
        sim.advance(285)
        assert replicas() == 9
        h = auto.read_namespaced_horizontal_pod_autoscaler("web", "default")
        assert {c.type: c.reason for c in h.status.conditions}["AbleToScale"] == "ScaleDownStabilized"
        sim.advance(15)
        assert replicas() == 2
        rescales = [e.message for e in sorted(core.list_namespaced_event("default").items, key=lambda e: e.last_timestamp)
                    if e.reason == "SuccessfulRescale"]
        assert rescales == ["New size: 5; reason: cpu resource utilization (percentage of request) above target",
                            "New size: 9; reason: cpu resource utilization (percentage of request) above target",
                            "New size: 2; reason: All metrics below target"]
        # 2 pods at 2 + 25 = 27 % -> ceil(0.54 x 2) = ceil(1.08) = 2: stays
        sim.advance(120)
        assert replicas() == 2
    finally:
        api.close()
        sim.stop()


def test_hpa_without_requests_says_why(tmp_path):
    sim = kubesim.start(tmp_path / "kc", seed=0, realtime=False)
    api = config.new_client_from_config(sim.kubeconfig)
    try:
        client.AppsV1Api(api).create_namespaced_deployment("default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
        sim.advance(40)
        client.AutoscalingV2Api(api).create_namespaced_horizontal_pod_autoscaler("default", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3}})
        sim.advance(0)
        h = client.AutoscalingV2Api(api).read_namespaced_horizontal_pod_autoscaler("web", "default")
        active = next(c for c in h.status.conditions if c.type == "ScalingActive")
        assert active.status == "False" and active.reason == "FailedGetResourceMetric"
        assert active.message.startswith("the HPA was unable to compute the replica count: failed to get cpu utilization: "
                                         "missing request for cpu in container web of Pod web-")
    finally:
        api.close()
        sim.stop()


def test_an_hpa_the_apiserver_would_refuse_is_refused_with_its_words(tmp_path):
    """autoscaling validation: a utilization target of 0, a negative or too long stabilization window, an
    empty policy list, an unknown selectPolicy and a policy without a period are 422s, each field named."""
    import requests

    sim = kubesim.start(tmp_path / "kc", seed=0, realtime=False, controllers=False)
    try:
        spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 3,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}}}],
                "behavior": {"scaleUp": {"stabilizationWindowSeconds": -5, "selectPolicy": "Sometimes", "policies": []},
                             "scaleDown": {"stabilizationWindowSeconds": 4000,
                                           "policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}}}
        answer = requests.post(f"{sim.url}/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", timeout=10, json={
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}, "spec": spec})
        assert answer.status_code == 422
        fields = {c["field"]: c["message"] for c in answer.json()["details"]["causes"]}
        assert fields == {
            "spec.metrics[0].resource.target.averageUtilization": "Invalid value: 0: must be greater than 0",
            "spec.behavior.scaleUp.stabilizationWindowSeconds": "Invalid value: -5: must be greater than or equal to zero",
            "spec.behavior.scaleUp.selectPolicy": 'Unsupported value: "Sometimes": supported values: "Disabled", "Max", "Min"',
            "spec.behavior.scaleUp.policies": "Required value: must specify at least one Policy",
            "spec.behavior.scaleDown.stabilizationWindowSeconds": "Invalid value: 4000: must be less than or equal to 3600",
            "spec.behavior.scaleDown.policies[0].periodSeconds": "Invalid value: 0: must be greater than zero",
        }
    finally:
        sim.stop()


# ---- an HPA without spec.behavior: the controller's older path (horizontal.go normalizeDesiredReplicas) ----
def test_without_behavior_the_controller_doubles_or_adds_four_per_sync():
    a = hpa.Autoscaler()
    first = a.decide(1, 1, 20, [(9, "cpu")], [], 1, None, 0.0)
    assert first.desired == 4 and first.conditions["ScalingLimited"] == (
        "True", "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
    assert a.decide(4, 1, 20, [(9, "cpu")], [], 1, None, 15.0).desired == 8      # max(2 x 4, 4)
    assert hpa.Autoscaler().decide(6, 1, 20, [(20, "cpu")], [], 1, None, 0.0).desired == 12
    assert hpa.Autoscaler().decide(3, 1, 5, [(9, "cpu")], [], 1, None, 0.0).conditions["ScalingLimited"][1] == "TooManyReplicas"
    assert hpa.behavior_from_spec(None) is None and hpa.behavior_from_spec({}) == hpa.default_behavior()


def test_without_behavior_the_window_holds_every_recommendation_even_upwards():
    """The older path takes the highest recommendation of the last 300 s, the new one included, as the
    target: after a spike that wanted 9 was cut to 4, a quiet sync still climbs to 8 (the behavior path
    clamps the current count instead, and stays at 4). It keeps no first recommendation of the current
    count, so a new HPA may scale down at its first sync."""
    a = hpa.Autoscaler()
    assert a.decide(1, 1, 20, [(9, "cpu")], [], 1, None, 0.0).desired == 4
    climbed = a.decide(4, 1, 20, [(1, "cpu")], [], 1, None, 15.0)
    assert climbed.desired == 8 and climbed.conditions["ScalingLimited"][1] == "ScaleUpLimit"
    assert climbed.reason == "All metrics below target"  # the event's reason comes from the metrics, before the window
    b = hpa.Autoscaler()
    assert b.decide(1, 1, 20, [(9, "cpu")], [], 1, hpa.default_behavior(), 0.0).desired == 5
    assert b.decide(5, 1, 20, [(1, "cpu")], [], 1, hpa.default_behavior(), 15.0).desired == 5
    assert hpa.Autoscaler().decide(6, 1, 20, [(2, "cpu")], [], 1, None, 0.0).desired == 2
    assert hpa.Autoscaler().decide(6, 1, 20, [(2, "cpu")], [], 1, hpa.default_behavior(), 0.0).desired == 6
    at_edge = hpa.Autoscaler()                           # a recommendation exactly 300 s old still counts
    at_edge.decide(1, 1, 20, [(3, "cpu")], [], 1, None, 0.0)
    assert at_edge.decide(3, 1, 20, [(1, "cpu")], [], 1, None, 300.0).desired == 3
    assert at_edge.decide(3, 1, 20, [(1, "cpu")], [], 1, None, 315.0).desired == 1


def test_the_emulators_hpa_without_behavior_takes_the_older_path(tmp_path):
    """What `kubectl autoscale` makes (no behavior): 1 replica at 402 % goes to 4, not 5, as on kind."""
    sim, api = loaded_web(tmp_path)
    try:
        apps, auto = client.AppsV1Api(api), client.AutoscalingV2Api(api)
        auto.create_namespaced_horizontal_pod_autoscaler("default", {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                             "averageUtilization": 50}}}]}})
        sim.advance(0)
        stored = auto.read_namespaced_horizontal_pod_autoscaler("web", "default")
        assert stored.spec.behavior is None                # the API server leaves it out
        assert apps.read_namespaced_deployment("web", "default").spec.replicas == 4
        assert {c.type: c.reason for c in stored.status.conditions}["ScalingLimited"] == "ScaleUpLimit"
        sim.advance(15)   # the new pods have no sample: the proposal reverses to 4, but 9 is in the window: 8
        assert apps.read_namespaced_deployment("web", "default").spec.replicas == 8
    finally:
        api.close()
        sim.stop()


def test_an_outdated_scale_event_is_replaced_not_forgotten():
    """storeScaleEvent puts a new rescale in the place of the first outdated event of its direction; the
    other outdated ones stay and still count for the other direction's longer period. Scale-up: 10 pods per
    15 s; scale-down: 1 pod per 600 s. Up at 0, 10 and 40 s (+2 each): at 40 s the event of 0 s is replaced,
    the one of 10 s stays. A scale-down at 60 s starts its period from 8 - 4 = 4, so it may go to 3 (had the
    10 s event been forgotten, from 6, to 5)."""
    rules = hpa.behavior_from_spec({"scaleUp": {"policies": [{"type": "Pods", "value": 10, "periodSeconds": 15}]},
                                    "scaleDown": {"stabilizationWindowSeconds": 0,
                                                  "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}]}})
    a = hpa.Autoscaler()
    for now, current, wanted in ((0.0, 2, 4), (10.0, 4, 6), (40.0, 6, 8)):
        assert a.decide(current, 1, 20, [(wanted, "cpu")], [], 1, rules, now).desired == wanted
    assert sorted(a.up_events) == [(10.0, 2), (40.0, 2)]
    assert a.decide(8, 1, 20, [(1, "cpu")], [], 1, rules, 60.0).desired == 3
