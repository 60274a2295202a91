"""Practice clusters and measurements for the scaling and availability exercises (assignment 5).

Why a module of its own: the exercises of lesson 5 are graded by what a cluster *does* while it is
disturbed: how many pods exist and how many serve during a rolling update, whether a drain of
every node keeps enough replicas serving, how many replicas are left when a zone loses power. The
test cells need the same few acts, done the way the real tools do them, and a record of what was
seen at each moment:

- :func:`zoned_cluster`: a live cluster (:func:`labkit.practice_live.live_cluster`) whose workers
  carry the well-known zone and region labels, as a cloud's nodes do (kind's do not);
- :func:`rollout`: change a Deployment's pod template and watch the rollout in small steps,
  recording the most pods (not being deleted) and the fewest available ones;
- :func:`drain`: what ``kubectl drain --ignore-daemonsets`` does: cordon the node, evict (never
  delete) each of its pods through the eviction API, try a refused eviction (429, a
  PodDisruptionBudget said no) again after 5 s, wait until the evicted pods are gone; with a
  count of the watched app's serving pods after every step;
- :func:`power_off_zone` / :func:`power_on_zone`: every node of a zone loses power
  (:mod:`labkit.cluster_nodes`), a zone outage.

Serving here means what a Service and a PodDisruptionBudget count: Ready, and not being deleted.

The HPA exercises need no cluster: their pods and recommendations are plain data, generated from a
seed (:func:`hpa_examples`, :func:`over_time_examples`), and the expected answers are what
:mod:`labkit.autoscaling` (the algorithm the emulator's HPA controller runs) computes for them
(:func:`hpa_reference`, :func:`over_time_reference`), with the working that explains a wrong answer.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from labkit import autoscaling
from labkit.practice_clusters import PracticeCluster, timed

__all__ = ["ZONE_LABEL", "REGION_LABEL", "HOSTNAME_LABEL", "zoned_cluster", "zones_of", "workers_of", "serving",
           "live_pods", "Rollout", "rollout", "Drain", "drain", "power_off_zone", "power_on_zone",
           "pod_samples", "hpa_reference", "hpa_examples", "Sync", "over_time_reference", "over_time_examples", "LIMITS"]

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
HOSTNAME_LABEL = "kubernetes.io/hostname"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
DRAIN_RETRY = 5.0  # kubectl drain: "will retry after 5s"


def zoned_cluster(seed: int = 0, zones: dict[str, int] | None = None, region: str = "europe-west1",
                  name: str = "course") -> PracticeCluster:
    """A live cluster whose workers are spread over ``zones`` (zone name -> how many workers), in
    order: the first workers in the first zone, and so on; each labelled ``topology.kubernetes.io/zone``
    and ``topology.kubernetes.io/region``. The control-plane node has no zone (kind's has none)."""
    from labkit.practice_live import live_cluster

    zones = dict(zones or {f"{region}-b": 2, f"{region}-c": 2, f"{region}-d": 2})
    if not zones or any(count < 1 for count in zones.values()):
        raise ValueError("give every zone one worker or more")
    practice = live_cluster(seed=seed, workers=sum(zones.values()), name=name)
    with timed():
        workers = workers_of(practice)
        names = iter(workers)
        for zone, count in zones.items():
            for _ in range(count):
                practice.core.patch_node(next(names), {"metadata": {"labels": {ZONE_LABEL: zone, REGION_LABEL: region}}})
    return practice


def workers_of(practice: PracticeCluster) -> list[str]:
    """The worker nodes' names, in kind's order (course-worker, course-worker2, ...)."""
    def order(name: str) -> tuple[int, str]:
        tail = name.rsplit("worker", 1)[-1]
        return (int(tail) if tail.isdigit() else 1, name)
    return sorted((n.metadata.name for n in practice.core.list_node().items
                   if CONTROL_PLANE_LABEL not in (n.metadata.labels or {})), key=order)


def zones_of(practice: PracticeCluster) -> dict[str, str]:
    """Each node's zone (node name -> zone), for the nodes that have one."""
    return {n.metadata.name: n.metadata.labels[ZONE_LABEL] for n in practice.core.list_node().items
            if ZONE_LABEL in (n.metadata.labels or {})}


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def live_pods(practice: PracticeCluster, namespace: str, selector: str) -> list[Any]:
    """The pods of ``selector`` that are not being deleted."""
    return [p for p in practice.core.list_namespaced_pod(namespace, label_selector=selector).items
            if not p.metadata.deletion_timestamp]


def serving(practice: PracticeCluster, namespace: str, selector: str) -> list[str]:
    """The names of the pods of ``selector`` that serve: Ready and not being deleted (sorted)."""
    return sorted(p.metadata.name for p in live_pods(practice, namespace, selector) if _ready(p))


# ---- rolling updates ----------------------------------------------------------------------------
@dataclass
class Rollout:
    """What :func:`rollout` saw: the most pods at once, the fewest available, whether it finished."""

    replicas: int
    max_pods: int = 0
    min_available: int = 10**9
    finished: bool = False
    seconds: float = 0.0
    timeline: list[tuple[float, int, int]] = field(default_factory=list)  # (t, pods, available)


def rollout(practice: PracticeCluster, namespace: str, name: str, step: float = 0.5, timeout: float = 600.0,
            change: dict | None = None) -> Rollout:
    """Start a rollout of Deployment ``name`` (a new annotation on its pod template, or the strategic
    merge patch ``change``), then advance the cluster ``step`` seconds at a time until it is complete:
    every replica updated and available and no old pod left. Counts the pods that are not being
    deleted (what maxSurge bounds) and the available ones (what maxUnavailable bounds) at every step."""
    apps = practice.apps
    deployment = apps.read_namespaced_deployment(name, namespace)
    replicas = deployment.spec.replicas
    selector = ",".join(f"{k}={v}" for k, v in sorted((deployment.spec.selector.match_labels or {}).items()))
    seen = Rollout(replicas)
    revision = str(int((deployment.spec.template.metadata.annotations or {}).get("labkit.dev/rollout", "0")) + 1)
    patch = change or {"spec": {"template": {"metadata": {"annotations": {"labkit.dev/rollout": revision}}}}}
    with timed():
        apps.patch_namespaced_deployment(name, namespace, patch)
        elapsed = 0.0
        while True:
            pods = live_pods(practice, namespace, selector)
            available = sum(1 for p in pods if _ready(p))
            seen.max_pods = max(seen.max_pods, len(pods))
            seen.min_available = min(seen.min_available, available)
            seen.timeline.append((elapsed, len(pods), available))
            status = apps.read_namespaced_deployment(name, namespace)
            s = status.status
            if (s.observed_generation or 0) >= status.metadata.generation and (s.updated_replicas or 0) == replicas \
                    and (s.available_replicas or 0) == replicas and (s.replicas or 0) == replicas and len(pods) == replicas:
                seen.finished = True
                break
            if elapsed >= timeout:
                break
            practice.advance(step)
            elapsed += step
        seen.seconds = elapsed
    return seen


# ---- drains ---------------------------------------------------------------------------------------
@dataclass
class Drain:
    """What :func:`drain` did and saw.

    ``evicted``: the pods it evicted; ``refused``: how many evictions were answered 429 (and tried
    again); ``errors``: other refusals (name, HTTP status, the API's message); ``finished``: every pod
    evicted and gone within the timeout; ``serving``: (seconds since the drain began, how many pods of
    the watched selector served) after every eviction and every wait."""

    node: str
    evicted: list[str] = field(default_factory=list)
    refused: int = 0
    last_refusal: str = ""
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    finished: bool = False
    seconds: float = 0.0
    serving: list[tuple[float, int]] = field(default_factory=list)

    @property
    def fewest_serving(self) -> int | None:
        return min((count for _, count in self.serving), default=None)


def _message(error: Any) -> str:
    try:
        return json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(getattr(error, "reason", error))


def _daemon_or_mirror(pod: Any) -> bool:
    references = pod.metadata.owner_references or ()
    return any(o.kind == "DaemonSet" and o.controller for o in references) or \
        "kubernetes.io/config.mirror" in (pod.metadata.annotations or {})


def drain(practice: PracticeCluster, node: str, watch: tuple[str, str] | None = None, timeout: float = 600.0,
          retry: float = DRAIN_RETRY, uncordon: bool = False, force: bool = False) -> Drain:
    """``kubectl drain NODE --ignore-daemonsets``: cordon, evict every pod of the node (DaemonSet and
    static pods stay) through the eviction API, again every ``retry`` seconds while a budget refuses
    (429), then wait until the evicted pods are gone. ``watch`` = (namespace, label selector): count
    its serving pods after each step. ``uncordon``: make the node schedulable again at the end (the
    maintenance is done). Other refusals than 429 stop the drain (``errors``). As kubectl does, a pod
    that no controller owns stops the drain before any eviction unless ``force`` (``--force``); pods
    with emptyDir volumes are evicted as with ``--delete-emptydir-data``."""
    from kubernetes.client.exceptions import ApiException

    core = practice.core
    done = Drain(node)
    elapsed = 0.0

    def look() -> None:
        if watch is not None:
            done.serving.append((elapsed, len(serving(practice, *watch))))

    with timed():
        core.patch_node(node, {"spec": {"unschedulable": True}})
        pods = [p for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                if not _daemon_or_mirror(p) and not p.metadata.deletion_timestamp]
        unmanaged = [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods
                     if not any(o.controller for o in p.metadata.owner_references or [])]
        if unmanaged and not force:
            done.errors.append((unmanaged[0], 0, "cannot delete Pods that declare no controller (use --force to override): "
                                + ", ".join(unmanaged)))
            pods = []
        left = [(p.metadata.namespace, p.metadata.name) for p in pods]
        look()
        while left and not done.errors:
            for namespace, name in list(left):
                body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
                try:
                    core.create_namespaced_pod_eviction(name, namespace, body)
                except ApiException as error:
                    if error.status == 429:
                        done.refused += 1
                        done.last_refusal = _message(error)
                        continue
                    if error.status == 404:  # gone already
                        left.remove((namespace, name))
                        continue
                    done.errors.append((name, error.status, _message(error)))
                    break
                left.remove((namespace, name))
                done.evicted.append(name)
                look()
            if left and not done.errors:
                if elapsed >= timeout:
                    break
                practice.advance(retry)
                elapsed += retry
                look()
        if not left and not done.errors:
            evicted = set(done.evicted)
            while elapsed < timeout:  # kubectl waits for the evicted pods to be deleted
                still = {p.metadata.name for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items}
                if not still & evicted:
                    done.finished = True
                    break
                practice.advance(1)
                elapsed += 1
                look()
        if uncordon:
            core.patch_node(node, {"spec": {"unschedulable": False}})
        done.seconds = elapsed
    return done


# ---- zone outages ---------------------------------------------------------------------------------
def power_off_zone(practice: PracticeCluster, zone: str) -> list[str]:
    """Power off every node of ``zone`` (as if the zone lost power); returns their names."""
    from labkit import cluster_nodes

    nodes = sorted(node for node, where in zones_of(practice).items() if where == zone)
    if not nodes:
        raise ValueError(f"no node is in zone {zone!r}")
    with timed():
        for node in nodes:
            cluster_nodes.power_off(practice, node)
    return nodes


def power_on_zone(practice: PracticeCluster, zone: str) -> list[str]:
    """Power the nodes of ``zone`` on again; returns their names."""
    from labkit import cluster_nodes

    nodes = sorted(node for node, where in zones_of(practice).items() if where == zone)
    with timed():
        for node in nodes:
            cluster_nodes.power_on(practice, node)
    return nodes


# ---- the HPA as plain data ----------------------------------------------------------------------
def pod_samples(pods: list[dict]) -> list[autoscaling.PodSample]:
    """The exercise's pods (dicts: name, phase, ready, deleting, cpu_request_m, cpu_usage_m) as the
    algorithm's samples. Each pod started two minutes ago (within the 5-minute CPU initialization
    period) and its sample was taken after it became ready, so for the controller a Running pod is
    unready exactly when it is not ready, which is all the exercise's ``ready`` flag says."""
    return [autoscaling.PodSample(str(p["name"]), p["cpu_usage_m"], p["cpu_request_m"], phase=p["phase"], ready=bool(p["ready"]),
                                  deleting=bool(p.get("deleting", False)), started=-120.0, ready_since=-60.0, metric_time=0.0)
            for p in pods]


def hpa_reference(current_replicas: int, pods: list[dict], target_utilization: int) -> autoscaling.UtilizationResult:
    """What the HPA controller proposes for these pods (``.replicas``), and its working (``.steps``)."""
    return autoscaling.replicas_for_utilization(current_replicas, pod_samples(pods), target_utilization)


def hpa_examples(seed: int, count: int, max_pods: int = 8) -> list[tuple[int, list[dict], int]]:
    """``count`` (current_replicas, pods, target_utilization) cases from ``seed``: pods Running, Pending
    or Failed, some being deleted, some not ready, some without a sample; a third of the cases with
    usage near the target (the tolerance band), the others well below or above it. Every case has a Running, ready pod with a sample."""
    rng = random.Random(f"hpa-examples-{seed}")
    cases: list[tuple[int, list[dict], int]] = []
    while len(cases) < count:
        target = rng.choice([40, 50, 60, 70, 80, 100, 120, 150])
        near = rng.random() < 0.3
        level = rng.uniform(0.86, 1.14) if near else rng.choice([rng.uniform(0.05, 0.85), rng.uniform(1.15, 3.0)])
        pods = []
        for index in range(rng.randint(1, max_pods)):
            request = rng.choice([100, 150, 200, 250, 300, 500])
            phase = rng.choices(["Running", "Pending", "Failed"], [0.88, 0.08, 0.04])[0]
            if phase == "Pending" or rng.random() < 0.1:
                usage = None
            else:  # near the target, or well below or above it, as the case's level says
                usage = round(request * target / 100 * level * rng.uniform(0.8, 1.2))
            pods.append({"name": f"web-{index + 1}", "phase": phase, "ready": phase == "Running" and rng.random() < 0.88,
                         "deleting": phase != "Pending" and rng.random() < 0.07, "cpu_request_m": request, "cpu_usage_m": usage})
        if not any(p["phase"] == "Running" and p["ready"] and not p["deleting"] and p["cpu_usage_m"] is not None for p in pods):
            continue
        alive = sum(1 for p in pods if not p["deleting"] and p["phase"] != "Failed")
        cases.append((max(1, alive + rng.choice([0, 0, 0, -1, 1, 2])), pods, target))
    return cases


LIMITS = {
    "ScaleUpStabilized": "the scale-up stabilization window holds it: the lowest recommendation of the last "
                         "scaleUp.stabilizationWindowSeconds (this one included) is a floor",
    "ScaleDownStabilized": "the scale-down stabilization window holds it: the highest recommendation of the last "
                           "scaleDown.stabilizationWindowSeconds (this one included, and the count the HPA found at its "
                           "first sync) is a ceiling",
    "ScaleUpLimit": "the scaleUp policies limit it: per policy, the count at the start of its period (pods added by "
                    "rescales of the last periodSeconds taken off, pods removed put back) plus what the policy allows; "
                    "selectPolicy picks among the policies (Max the largest)",
    "ScaleDownLimit": "the scaleDown policies limit it: per policy, the count at the start of its period minus what the "
                      "policy allows; selectPolicy picks among the policies (Max the largest change)",
    "TooManyReplicas": "maxReplicas bounds it",
    "TooFewReplicas": "minReplicas bounds it",
}


@dataclass(frozen=True)
class Sync:
    """One sync of :func:`over_time_reference`: the count after it, and the working: the stabilization
    window's floor and ceiling, the stabilized count, and what limited the count (a :data:`LIMITS` key, or "")."""

    count: int
    floor: int
    ceiling: int
    stabilized: int
    why: str


def over_time_reference(current: int, recommendations: list, min_replicas: int, max_replicas: int,
                        behavior: dict | None) -> list[Sync]:
    """The replica count after each sync of an HPA with ``behavior`` (its ``spec.behavior``; {} gives the
    defaults), fed ``recommendations`` ((time, replicas) per sync), as :class:`labkit.autoscaling.Autoscaler`
    (the emulator's HPA controller) decides, with the working of each sync."""
    rules = autoscaling.behavior_from_spec(behavior or {})
    up_window = rules.up.stabilization or 0
    down_window = rules.down.stabilization if rules.down.stabilization is not None else autoscaling.DOWNSCALE_WINDOW
    hpa = autoscaling.Autoscaler()
    out = []
    for when, recommended in recommendations:
        now, recommended = float(when), int(recommended)
        remembered = hpa.recommendations or [(now, current)]  # decide() records the count it finds at the first sync
        floor = min([recommended] + [r for t, r in remembered if t > now - up_window])
        ceiling = max([recommended] + [r for t, r in remembered if t > now - down_window])
        decision = hpa.decide(current, min_replicas, max_replicas, [(recommended, "cpu")], [], 1, rules, now)
        limited = decision.conditions.get("ScalingLimited", ("False", "", ""))
        able = decision.conditions.get("AbleToScale", ("True", "", ""))
        why = limited[1] if limited[0] == "True" else (able[1] if able[1] in LIMITS else "")
        out.append(Sync(decision.desired, floor, ceiling, min(max(current, floor), ceiling), why))
        current = decision.desired
    return out


def over_time_examples(seed: int, count: int, behaviors: list[dict]) -> list[dict]:
    """``count`` cases (keyword arguments of ``replicas_over_time``) from ``seed``: recommendations that
    wander and jump, one sync every 15 s with now and then another gap, each case with one of
    ``behaviors``."""
    rng = random.Random(f"over-time-examples-{seed}")
    cases = []
    for _ in range(count):
        low = rng.randint(1, 3)
        high = rng.randint(low + 4, 20)
        current = rng.randint(low, high)
        when = rng.choice([0, 15, 100])
        level = current
        recommendations = []
        for _ in range(rng.randint(8, 32)):
            if rng.random() < 0.25:
                level = rng.randint(0, high + 6)
            else:
                level = max(0, level + rng.randint(-2, 2))
            recommendations.append([when, level])
            when += rng.choice([15, 15, 15, 15, 15, 15, 5, 10, 30, 60])
        cases.append({"current": current, "recommendations": recommendations, "min_replicas": low, "max_replicas": high,
                      "behavior": rng.choice(behaviors)})
    return cases
