"""labkit.practice_live (live practice clusters, the troubled namespace) and labkit.cluster_clock.

The troubled namespace must hold, after it settles, exactly the states its data promises (one reason
per workload, the kubelet's own states); the same seed must give the same namespace in every
process and at every start time (graded tests compare with it); the healthy Service must route only
to its ready replicas. cluster_clock must run an emulator's clock forward through the API and, on a
cluster without the emulator's clock, wait in real time instead.
"""
from __future__ import annotations

import time

import pytest

from http_fakes import FakeHandler, serving
from labkit import cluster_clock, practice_clusters
from labkit.practice_live import TROUBLES, live_cluster, troubled_namespace


def _waiting(pod) -> set[str]:
    return {s.state.waiting.reason for s in pod.status.container_statuses or [] if s.state and s.state.waiting}


@pytest.fixture(scope="module")
def troubled():
    with live_cluster(seed=0) as practice:
        made = troubled_namespace(practice, "shop", seed=0)
        pods = practice.core.list_namespaced_pod("shop").items
        slices = practice.discovery.list_namespaced_endpoint_slice("shop").items
        yield practice, made, pods, slices


def test_each_trouble_is_in_the_state_its_reason_names(troubled) -> None:
    _, made, pods, _ = troubled
    assert sorted(made.troubled.values()) == sorted(t.reason for t in TROUBLES)
    by_app = {}
    for pod in pods:
        by_app.setdefault(pod.metadata.labels["app"], []).append(pod)
    for workload, reason in made.troubled.items():
        for pod in by_app[workload]:
            waiting = _waiting(pod)
            if reason == "Unschedulable":
                conditions = {c.type: c.status for c in pod.status.conditions}
                assert pod.status.phase == "Pending" and conditions["PodScheduled"] == "False"
            elif reason == "NotReady":
                assert pod.status.phase == "Running" and not waiting
                assert not any(s.ready for s in pod.status.container_statuses)
            elif reason == "ImagePullBackOff":
                assert waiting & {"ErrImagePull", "ImagePullBackOff"}, (pod.metadata.name, waiting)
            else:
                assert waiting == {reason}, (pod.metadata.name, waiting)
    # one image trouble caught in its first failure, the other backing off
    pulls = sorted(w for p in pods for w in _waiting(p) if "Image" in w)
    assert pulls == ["ErrImagePull", "ImagePullBackOff"]
    crashing = next(p for p in pods if _waiting(p) == {"CrashLoopBackOff"})
    assert crashing.status.container_statuses[0].restart_count >= 4  # 10, 20, 40, 80 s back-offs in 200 s


def test_the_healthy_service_routes_only_to_ready_replicas(troubled) -> None:
    practice, made, pods, slices = troubled
    healthy = sorted(p.metadata.name for p in pods if p.metadata.labels["app"] == made.healthy)
    assert len(healthy) >= 3 and len(made.unready) == 1 and made.unready[0] in healthy
    endpoints = {e.target_ref.name: e.conditions.ready for s in slices
                 if s.metadata.labels["kubernetes.io/service-name"] == made.service for e in s.endpoints or []}
    assert endpoints == {name: name not in made.unready for name in healthy}
    empty = [s for s in slices if s.metadata.labels["kubernetes.io/service-name"] == made.empty_service]
    assert empty and all(not s.endpoints for s in empty)


def test_the_same_seed_gives_the_same_namespace_whenever_it_is_built(troubled) -> None:
    _, made, pods, _ = troubled
    time.sleep(1.1)  # another start time: names must not depend on the wall clock
    with live_cluster(seed=0) as again:
        made_again = troubled_namespace(again, "shop", seed=0)
        names = sorted(p.metadata.name for p in again.core.list_namespaced_pod("shop").items)
    assert made_again == made
    assert names == sorted(p.metadata.name for p in pods)
    with live_cluster(seed=3) as other:
        other_made = troubled_namespace(other, "shop", seed=3)
        other_names = sorted(p.metadata.name for p in other.core.list_namespaced_pod("shop").items)
    assert other_names != names or other_made.unready != made.unready


def test_building_counts_as_practice_cluster_time() -> None:
    before = practice_clusters.cluster_seconds()
    with live_cluster(seed=1) as practice:
        troubled_namespace(practice, "lab", seed=1)
    assert practice_clusters.cluster_seconds() > before


def test_pass_time_runs_the_emulators_clock_through_the_api() -> None:
    with live_cluster(seed=0) as practice:
        assert cluster_clock.is_emulated(practice)
        started = practice.sim.now()
        began = time.perf_counter()
        said = cluster_clock.pass_time(practice, 600)
        assert time.perf_counter() - began < 5
        assert (practice.sim.now() - started).total_seconds() == pytest.approx(600)
        assert "ran 600 s forward at once" in said
        seen = []
        cluster_clock.watch(practice, 50, 20, seen.append)
        assert seen == [0.0, 20.0, 40.0, 50.0]
        with pytest.raises(ValueError, match="forward"):
            cluster_clock.pass_time(practice, -1)


class _RealApiServer(FakeHandler):
    """A cluster without the emulator's clock: its API group is not found, as on kind."""

    def do_GET(self) -> None:
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                         "message": "the server could not find the requested resource"})


def test_pass_time_waits_on_a_cluster_without_the_emulators_clock() -> None:
    from kubernetes import client

    with serving(_RealApiServer) as url:
        configuration = client.Configuration()
        configuration.host = url
        api_client = client.ApiClient(configuration)
        assert not cluster_clock.is_emulated(api_client)
        began = time.perf_counter()
        said = cluster_clock.pass_time(api_client, 0.3)
        assert time.perf_counter() - began >= 0.3
        assert "waited 0.3 s" in said
    with pytest.raises(TypeError, match="connect"):
        cluster_clock.pass_time(object(), 1)


def _by_the_rules(pod) -> str:
    """Assignment 4's diagnosis rules (its question), written independently of the builder's data."""
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    waiting = _waiting(pod)
    if pod.status.phase == "Pending" and conditions.get("PodScheduled") == "False":
        return "Unschedulable"
    for reasons, reason in (({"ErrImagePull", "ImagePullBackOff"}, "ImagePullBackOff"),
                            ({"CreateContainerConfigError"}, "CreateContainerConfigError"), ({"CrashLoopBackOff"}, "CrashLoopBackOff")):
        if waiting & reasons:
            return reason
    if pod.status.phase == "Running" and not all(s.ready for s in pod.status.container_statuses or []):
        return "NotReady"
    return "Healthy"


@pytest.mark.parametrize("seed, namespace, workers", [(0, "shop", 2), (5, "store", 3), (12, "lab", 2), (21, "lab", 2), (33, "x", 4)])
def test_what_the_namespace_was_built_to_show_is_what_its_states_say(seed, namespace, workers) -> None:
    """The graded tests compare a learner's diagnosis with `reasons()`: on every seed they use (and
    others), it must be what the question's rules read from the pods' own states."""
    with live_cluster(seed=seed, workers=workers) as practice:
        made = troubled_namespace(practice, namespace, seed=seed)
        pods = practice.core.list_namespaced_pod(namespace).items
        assert made.reasons(practice) == {p.metadata.name: _by_the_rules(p) for p in pods}
        assert set(made.reasons(practice).values()) >= {"Healthy", "NotReady", *made.troubled.values()}
