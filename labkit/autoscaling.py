"""The Horizontal Pod Autoscaler's algorithm, as Kubernetes documents and implements it, and simulations.

Why a module of its own: lessons explore the HPA without a cluster (what would it do with these
pods?), and the emulator's HPA controller (``labkit.kubesim.controllers.hpa``) calls the very same
functions, so what a learner computes by hand and what the emulated cluster does cannot differ.

Sources: kubernetes.io "Horizontal Pod Autoscaling" (algorithm details, stabilization window,
scaling policies, default behavior) and the controller (pkg/controller/podautoscaler:
replica_calculator.go, horizontal.go), re-expressed here:

1. ``desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue)``, where for a
   CPU/memory utilization target the current value is ``floor(100 * sum(usage) / sum(requests))``
   over the pods that count (in milli-units), and nothing changes while the ratio is within the
   tolerance (0.1) of 1.0.
2. Pods being deleted and failed pods are ignored. Pending pods, and (for CPU) pods not yet ready
   or whose metric predates readiness (within the 5-minute CPU initialization period; afterwards
   only pods that never became ready within 30 s of starting) are *unready*. Running pods without
   a metric are *missing*. The first pass uses the remaining pods only. Then, if there are missing
   pods, they count as using 0% of their request when scaling up, and ``max(100%, target)`` of it
   when scaling down; unready pods count as 0% when scaling up. If that second pass lands within
   the tolerance or reverses the direction, the replica count stays as it is.
3. Several metrics: the largest proposal wins (an invalid metric blocks a scale-down).
4. Behavior: a stabilization window per direction (the highest recommendation of the last 300 s
   when scaling down, the lowest of the last 0 s when scaling up), then rate limits from the
   policies (by default scale up by max(100%, 4 pods) per 15 s, scale down by 100% per 15 s;
   ``selectPolicy`` Max, Min or Disabled), then min/max replicas. A sync every 15 s.
   An HPA without ``behavior`` is given these defaults (as kubernetes.io documents).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

__all__ = ["TOLERANCE", "SYNC_PERIOD", "DOWNSCALE_WINDOW", "PodSample", "MetricError", "UtilizationResult",
           "utilization_ratio", "replicas_for_utilization", "replicas_for_average_value", "ScalingPolicy",
           "ScalingRules", "Behavior", "default_behavior", "behavior_from_spec", "Autoscaler", "Decision",
           "simulate"]

TOLERANCE = 0.1
SYNC_PERIOD = 15.0
DOWNSCALE_WINDOW = 300
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0


class MetricError(Exception):
    """The metric could not be computed; ``str()`` is the controller's wording."""


@dataclass(frozen=True)
class PodSample:
    """One pod as the HPA sees it. Times are seconds on any one clock (``now`` uses the same).

    ``usage`` and ``request`` are milli-units (millicores, or milli-bytes for memory as
    Quantity.MilliValue); ``request`` None means a container has no request for the resource;
    ``usage`` None means metrics-server has no sample for the pod.
    """

    name: str
    usage: int | None
    request: int | None = None
    phase: str = "Running"
    ready: bool = True
    deleting: bool = False
    started: float | None = -1e9          # pod status.startTime
    ready_since: float | None = -1e9      # lastTransitionTime of the Ready condition
    metric_time: float | None = 0.0       # when the sample was taken
    metric_window: float = 15.0
    container: str = ""                   # the container lacking a request, when ``request`` is None


@dataclass
class UtilizationResult:
    """A proposal for one metric, with the working a lesson can show."""

    replicas: int
    utilization: int            # percent of request, over the pods of the first pass
    raw_average: int            # average usage (milli) over those pods
    ratio: float
    ready: list[str] = field(default_factory=list)
    unready: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    second_ratio: float | None = None
    steps: list[str] = field(default_factory=list)


def utilization_ratio(usage: dict[str, int], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """(ratio, utilization %, raw average) as GetResourceUtilizationRatio: the percentage is truncated."""
    total_usage = total_req = n = 0
    for name, value in usage.items():
        if name not in requests:
            continue
        total_usage += value
        total_req += requests[name]
        n += 1
    if total_req == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = (total_usage * 100) // total_req
    return utilization / target, utilization, total_usage // n


def _group(pods: Iterable[PodSample], cpu: bool, now: float) -> tuple[list[str], list[str], list[str], list[str]]:
    ready, unready, missing, ignored = [], [], [], []
    for p in pods:
        if p.deleting or p.phase == "Failed":
            ignored.append(p.name)
            continue
        if p.phase == "Pending":
            unready.append(p.name)
            continue
        if p.usage is None:
            missing.append(p.name)
            continue
        if cpu:
            if p.ready_since is None or p.started is None:
                is_unready = True
            elif p.started + CPU_INITIALIZATION_PERIOD > now:
                is_unready = (not p.ready) or (p.metric_time is not None and p.metric_time < p.ready_since + p.metric_window)
            else:
                is_unready = (not p.ready) and p.started + INITIAL_READINESS_DELAY > p.ready_since
            if is_unready:
                unready.append(p.name)
                continue
        ready.append(p.name)
    return ready, unready, missing, ignored


def _within(ratio: float, tolerance: float | tuple[float, float]) -> bool:
    down, up = (tolerance, tolerance) if isinstance(tolerance, (int, float)) else tolerance
    return (1.0 - down) <= ratio <= (1.0 + up)


def replicas_for_utilization(current_replicas: int, pods: list[PodSample], target_utilization: int,
                             resource: str = "cpu", tolerance: float | tuple[float, float] = TOLERANCE,
                             now: float = 0.0) -> UtilizationResult:
    """The replica count a Utilization target proposes (GetResourceReplicas)."""
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    ready, unready, missing, ignored = _group(pods, resource == "cpu", now)
    by_name = {p.name: p for p in pods}
    for p in pods:
        if p.request is None:
            raise MetricError(f"missing request for {resource} in container {p.container} of Pod {p.name}")
    requests = {p.name: p.request or 0 for p in pods}
    usage = {n: by_name[n].usage or 0 for n in ready}
    if not usage:
        raise MetricError("did not receive metrics for any ready pods")
    ratio, utilization, raw = utilization_ratio(usage, requests, target_utilization)
    steps = [f"first pass over {len(ready)} ready pod(s) with metrics: utilization {utilization}% of request, "
             f"ratio {utilization}/{target_utilization} = {ratio:.3f}"]
    result = UtilizationResult(current_replicas, utilization, raw, ratio, ready, unready, missing, ignored, steps=steps)
    rebalance_unready = bool(unready) and ratio > 1.0
    if not rebalance_unready and not missing:
        if _within(ratio, tolerance):
            steps.append("within tolerance: no change")
            return result
        result.replicas = math.ceil(ratio * len(ready))
        steps.append(f"ceil({ratio:.3f} x {len(ready)}) = {result.replicas}")
        return result
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for n in missing:
                usage[n] = requests[n] * fallback // 100
            steps.append(f"{len(missing)} pod(s) without metrics counted at {fallback}% of request (scale down)")
        elif ratio > 1.0:
            for n in missing:
                usage[n] = 0
            steps.append(f"{len(missing)} pod(s) without metrics counted at 0% (scale up)")
    if rebalance_unready:
        for n in unready:
            usage[n] = 0
        steps.append(f"{len(unready)} unready pod(s) counted at 0% (scale up)")
    new_ratio, _, _ = utilization_ratio(usage, requests, target_utilization)
    result.second_ratio = new_ratio
    if _within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        steps.append(f"second pass ratio {new_ratio:.3f} is within tolerance or reverses the direction: no change")
        return result
    proposal = math.ceil(new_ratio * len(usage))
    if (new_ratio < 1.0 and proposal > current_replicas) or (new_ratio > 1.0 and proposal < current_replicas):
        steps.append(f"ceil({new_ratio:.3f} x {len(usage)}) = {proposal} would move the wrong way: no change")
        return result
    result.replicas = proposal
    steps.append(f"second pass: ceil({new_ratio:.3f} x {len(usage)}) = {proposal}")
    return result


def replicas_for_average_value(current_replicas: int, pods: list[PodSample], target_milli: int,
                               resource: str = "cpu", tolerance: float | tuple[float, float] = TOLERANCE,
                               now: float = 0.0) -> UtilizationResult:
    """An AverageValue target (e.g. ``averageValue: 200m``): usage per pod against the value."""
    scaled = [PodSample(p.name, p.usage, 100, p.phase, p.ready, p.deleting, p.started, p.ready_since,
                        p.metric_time, p.metric_window, p.container) for p in pods]
    # with every request at 100 milli, utilization% == usage, so the ratio is usage / target
    result = replicas_for_utilization(current_replicas, scaled, max(1, target_milli), resource, tolerance, now)
    return result


# ---- behavior ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScalingPolicy:
    type: str        # Pods | Percent
    value: int
    period: int      # seconds


@dataclass(frozen=True)
class ScalingRules:
    stabilization: int | None
    select: str = "Max"                      # Max | Min | Disabled
    policies: tuple[ScalingPolicy, ...] = ()
    tolerance: float | None = None


@dataclass(frozen=True)
class Behavior:
    up: ScalingRules
    down: ScalingRules


def default_behavior() -> Behavior:
    """scaleUp: no window, max(100%, 4 pods) per 15 s; scaleDown: 300 s window, 100% per 15 s."""
    return Behavior(ScalingRules(0, "Max", (ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15))),
                    ScalingRules(None, "Max", (ScalingPolicy("Percent", 100, 15),)))


def _rules(spec: dict[str, Any] | None, default: ScalingRules) -> ScalingRules:
    if not spec:
        return default
    policies = tuple(ScalingPolicy(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in spec.get("policies") or []) \
        if spec.get("policies") is not None else default.policies
    tol = spec.get("tolerance")
    return ScalingRules(spec.get("stabilizationWindowSeconds", default.stabilization), spec.get("selectPolicy") or default.select,
                        policies, float(tol) if tol is not None else default.tolerance)


def behavior_from_spec(behavior: dict[str, Any] | None) -> Behavior | None:
    """``spec.behavior`` of an autoscaling/v2 HPA, missing parts defaulted as the API server does.

    None stays None: the API server leaves an HPA without ``behavior`` (every ``kubectl autoscale``
    one) as it is, and the controller then takes its older path (:meth:`Autoscaler.normalize_legacy`:
    at most max(2 x current, 4) per sync, the 300 s window over every recommendation), not the
    default behavior kubernetes.io describes. A given ``{}`` gets the defaults."""
    if behavior is None:
        return None
    d = default_behavior()
    return Behavior(_rules(behavior.get("scaleUp"), d.up), _rules(behavior.get("scaleDown"), d.down))


@dataclass
class Decision:
    """What one sync decided: the new replica count and the status conditions to set."""

    desired: int
    rescale: bool
    reason: str = ""                                  # the SuccessfulRescale event's reason
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # type -> (status, reason, message)


class Autoscaler:
    """The state the HPA controller keeps per HPA: recent recommendations and scale events."""

    def __init__(self) -> None:
        self.recommendations: list[tuple[float, int]] = []
        self.up_events: list[tuple[float, int]] = []
        self.down_events: list[tuple[float, int]] = []

    # stabilization ------------------------------------------------------------------------
    def stabilize(self, current: int, desired: int, behavior: Behavior, now: float) -> tuple[int, str, str]:
        """The controller's stabilization (``stabilizeRecommendationWithBehaviors``): the lowest
        recommendation of the scale-up window is a floor, the highest of the scale-down window a
        ceiling, and the current count is brought between them. So after a rate-limited scale-up,
        an idle target stays where it is rather than climbing to an old, higher recommendation."""
        up_window = behavior.up.stabilization or 0
        down_window = behavior.down.stabilization if behavior.down.stabilization is not None else DOWNSCALE_WINDOW
        floor = ceiling = desired
        obsolete = None
        for index, (when, value) in enumerate(self.recommendations):
            if when > now - up_window:
                floor = min(value, floor)
            if when > now - down_window:
                ceiling = max(value, ceiling)
            if when < now - up_window and when < now - down_window:
                obsolete = index
        recommendation = min(max(current, floor), ceiling)
        if obsolete is not None:
            self.recommendations[obsolete] = (now, desired)
        else:
            self.recommendations.append((now, desired))
        if desired >= current:
            return recommendation, "ScaleUpStabilized", \
                "recent recommendations were lower than current one, applying the lowest recent recommendation"
        return recommendation, "ScaleDownStabilized", \
            "recent recommendations were higher than current one, applying the highest recent recommendation"

    # rate limits ----------------------------------------------------------------------------
    @staticmethod
    def _changed(events: list[tuple[float, int]], period: int, now: float) -> int:
        return sum(change for when, change in events if when > now - period)

    def scale_up_limit(self, current: int, rules: ScalingRules, now: float) -> int:
        if rules.select == "Disabled":
            return current
        pick = min if rules.select == "Min" else max
        result: int | None = None
        for p in rules.policies:
            # the count at the start of the period: what was added since taken off, what was removed put back
            start = current - self._changed(self.up_events, p.period, now) + self._changed(self.down_events, p.period, now)
            proposed = start + p.value if p.type == "Pods" else math.ceil(start * (1 + p.value / 100))
            result = proposed if result is None else pick(result, proposed)
        return current if result is None else result

    def scale_down_limit(self, current: int, rules: ScalingRules, now: float) -> int:
        if rules.select == "Disabled":
            return current
        pick = max if rules.select == "Min" else min
        result: int | None = None
        for p in rules.policies:
            start = current - self._changed(self.up_events, p.period, now) + self._changed(self.down_events, p.period, now)
            proposed = start - p.value if p.type == "Pods" else int(start * (1 - p.value / 100))
            result = proposed if result is None else pick(result, proposed)
        return current if result is None else result

    def normalize(self, current: int, desired: int, min_replicas: int, max_replicas: int,
                  behavior: Behavior, now: float) -> tuple[int, dict[str, tuple[str, str, str]]]:
        """Stabilize, then rate-limit and bound ``desired``; returns it and the conditions it implies."""
        conditions: dict[str, tuple[str, str, str]] = {}
        stabilized, reason, message = self.stabilize(current, desired, behavior, now)
        if stabilized != desired:
            conditions["AbleToScale"] = ("True", reason, message)
        else:
            conditions["AbleToScale"] = ("True", "ReadyForNewScale", "recommended size matches current size")
        result, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        if stabilized > current:
            limit = max(self.scale_up_limit(current, behavior.up, now), current)
            if max_replicas > limit:
                allowed, why = limit, ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
            else:
                allowed, why = max_replicas, ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
            if stabilized > allowed:
                result, (reason, message) = allowed, why
        elif stabilized < current:
            limit = min(self.scale_down_limit(current, behavior.down, now), current)
            if min_replicas < limit:
                allowed, why = limit, ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
            else:
                allowed, why = min_replicas, ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
            if stabilized < allowed:
                result, (reason, message) = allowed, why
        conditions["ScalingLimited"] = ("True" if result != stabilized else "False", reason, message)
        return result, conditions

    def normalize_legacy(self, current: int, desired: int, min_replicas: int, max_replicas: int,
                         now: float) -> tuple[int, dict[str, tuple[str, str, str]]]:
        """The controller's path for an HPA without ``behavior`` (``normalizeDesiredReplicas``): the highest
        recommendation of the last 300 s (the new one included), then at most max(2 x current, 4)
        (``calculateScaleUpLimit``, against bogus usage spikes) and within min/max. No scale events are
        kept: the limit is per sync, not per period."""
        stabilized = desired
        obsolete = None
        for index, (when, value) in enumerate(self.recommendations):
            if when < now - DOWNSCALE_WINDOW:
                obsolete = index
            elif value > stabilized:
                stabilized = value
        if obsolete is not None:
            self.recommendations[obsolete] = (now, desired)
        else:
            self.recommendations.append((now, desired))
        conditions: dict[str, tuple[str, str, str]] = {"AbleToScale": (
            ("True", "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
            if stabilized != desired else ("True", "ReadyForNewScale", "recommended size matches current size"))}
        up_limit = max(2 * current, 4)
        if max_replicas > up_limit:
            allowed, why = up_limit, ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
        else:
            allowed, why = max_replicas, ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
        if stabilized < min_replicas:
            result, (reason, message) = min_replicas, ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
        elif stabilized > allowed:
            result, (reason, message) = allowed, why
        else:
            result, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        conditions["ScalingLimited"] = ("True" if result != stabilized else "False", reason, message)
        return result, conditions

    def record_scale(self, before: int, after: int, behavior: Behavior | None, now: float) -> None:
        """Remember a rescale as ``storeScaleEvent`` does: it takes the place of the first event that is
        outdated (older than its direction's longest policy period); the other events stay, and a policy
        of the other direction with a longer period still counts them by their time."""
        if behavior is None:  # the older path keeps no scale events
            return
        if after == before:
            return
        rules, events = (behavior.up, self.up_events) if after > before else (behavior.down, self.down_events)
        longest = max([p.period for p in rules.policies] + [0])
        change = abs(after - before)
        for index, (when, _) in enumerate(events):
            if when + longest < now:
                events[index] = (now, change)
                return
        events.append((now, change))

    # one sync ---------------------------------------------------------------------------------
    def decide(self, current: int, min_replicas: int, max_replicas: int, proposals: list[tuple[int, str]],
               errors: list[tuple[str, str]], metric_count: int, behavior: Behavior | None, now: float) -> Decision:
        """One reconcile of the HPA controller, given each metric's proposal (replicas, metric name) or
        error (reason, message). Mirrors reconcileAutoscaler after the metrics were computed.
        ``behavior`` None is an HPA without ``spec.behavior``: the controller's older path."""
        if behavior is not None and not self.recommendations:  # maybeInitScaleDownStabilizationWindow
            self.recommendations.append((now, current))
        conditions: dict[str, tuple[str, str, str]] = {
            "AbleToScale": ("True", "SucceededGetScale", "the HPA controller was able to get the target's current scale")}
        if current == 0 and min_replicas != 0:
            conditions["ScalingActive"] = ("False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
            return Decision(0, False, "", conditions)
        if current > max_replicas:
            return self._finish(current, max_replicas, "Current number of replicas above Spec.MaxReplicas", conditions, behavior, now, True)
        if current < min_replicas:
            return self._finish(current, min_replicas, "Current number of replicas below Spec.MinReplicas", conditions, behavior, now, True)
        best, best_name = -1, ""
        for replicas, name in proposals:
            if replicas > best:
                best, best_name = replicas, name
        if errors and (len(errors) >= metric_count or best < current):
            reason, message = errors[0]
            conditions["ScalingActive"] = ("False", reason, f"the HPA was unable to compute the replica count: {message}")
            return Decision(current, False, f"invalid metrics ({len(errors)} invalid out of {metric_count}), first error is: {message}",
                            conditions)
        conditions["ScalingActive"] = ("True", "ValidMetricFound",
                                       f"the HPA was able to successfully calculate a replica count from {best_name}")
        desired = max(best, 0)
        reason = f"{best_name} above target" if desired > current else ("All metrics below target" if desired < current else "")
        final, normal = self.normalize(current, desired, min_replicas, max_replicas, behavior, now) if behavior is not None \
            else self.normalize_legacy(current, desired, min_replicas, max_replicas, now)
        conditions.update(normal)
        decision = Decision(final, final != current, reason, conditions)
        if decision.rescale:
            conditions["AbleToScale"] = ("True", "SucceededRescale", f"the HPA controller was able to update the target scale to {final}")
            self.record_scale(current, final, behavior, now)
        return decision

    def _finish(self, current: int, desired: int, reason: str, conditions: dict, behavior: Behavior | None, now: float,
                rescale: bool) -> Decision:
        conditions["ScalingLimited"] = ("True", "TooManyReplicas" if desired < current else "TooFewReplicas",
                                        "the desired replica count is more than the maximum replica count" if desired < current
                                        else "the desired replica count is less than the minimum replica count")
        conditions["AbleToScale"] = ("True", "SucceededRescale", f"the HPA controller was able to update the target scale to {desired}")
        self.record_scale(current, desired, behavior, now)
        return Decision(desired, True, reason, conditions)


def simulate(utilization_at: Callable[[float, int], float], *, replicas: int, target: int, min_replicas: int = 1,
             max_replicas: int = 10, seconds: float = 900, behavior: Behavior | None = default_behavior(),
             period: float = SYNC_PERIOD) -> list[tuple[float, int, int]]:
    """Run the HPA every ``period`` seconds for ``seconds``: ``utilization_at(t, replicas)`` gives the
    average CPU utilization (% of request) the pods show then. Returns (t, utilization, replicas) per sync,
    so a lesson can plot how the replica count follows the load, and how slowly it comes down.
    ``behavior`` defaults to the documented default behavior; None is an HPA without one (the older path)."""
    hpa = Autoscaler()
    out = []
    t = 0.0
    while t <= seconds:
        util = int(utilization_at(t, replicas))
        pods = [PodSample(f"pod-{i}", usage=util, request=100) for i in range(replicas)]
        result = replicas_for_utilization(replicas, pods, target, now=t)
        decision = hpa.decide(replicas, min_replicas, max_replicas,
                              [(result.replicas, "cpu resource utilization (percentage of request)")], [], 1, behavior, t)
        out.append((t, util, decision.desired))
        replicas = decision.desired
        t += period
    return out
