"""The Horizontal Pod Autoscaler controller: every 15 s, read metrics, decide, scale, report.

The decision itself is ``labkit.autoscaling`` (the documented algorithm, usable without a
cluster); this module only gathers its inputs from the emulated cluster (the target's scale and
selector, its pods, their requests and the metrics-server samples), writes the target's
``spec.replicas`` as the ``/scale`` subresource would, and reports as the real controller does:
``status`` (currentReplicas, desiredReplicas, currentMetrics, lastScaleTime, the conditions
AbleToScale, ScalingActive and ScalingLimited) and the events ``SuccessfulRescale`` "New size: N;
reason: ...", ``FailedGetResourceMetric``, ``FailedComputeMetricsReplicas`` and ``FailedGetScale``.
"""
from __future__ import annotations

from typing import Any

from ... import autoscaling as algo
from .. import quantity
from ..clock import parse
from ..objects import label_match
from ..store import Event
from . import Controller

Obj = dict[str, Any]
TARGETS = {"Deployment": "apps/deployments", "StatefulSet": "apps/statefulsets", "ReplicaSet": "apps/replicasets"}
ORDER = ("AbleToScale", "ScalingActive", "ScalingLimited")


class HPAController(Controller):
    name = "horizontal-pod-autoscaler"
    watches = ("autoscaling/horizontalpodautoscalers",)

    def __init__(self, mgr):
        super().__init__(mgr)
        self.state: dict[str, algo.Autoscaler] = {}
        self.seen_generation: dict[tuple[str, str], int] = {}

    def start(self) -> None:
        for hpa in self.mgr.list("autoscaling/horizontalpodautoscalers"):
            self.enqueue((hpa["metadata"]["namespace"], hpa["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        key = (meta["namespace"], meta["name"])
        if event.type == "DELETED":
            self.state.pop(meta.get("uid", ""), None)
            self.seen_generation.pop(key, None)
            return
        if self.seen_generation.get(key) != meta.get("generation"):
            self.enqueue(key)

    def sync(self, key) -> None:
        namespace, name = key
        hpa = self.mgr.find("autoscaling/horizontalpodautoscalers", namespace, name)
        if hpa is None:
            return
        self.seen_generation[key] = hpa["metadata"].get("generation")
        self.after(algo.SYNC_PERIOD, key)
        spec = hpa["spec"]
        state = self.state.setdefault(hpa["metadata"]["uid"], algo.Autoscaler())
        now = self.mgr.now()
        old_status = hpa.get("status") or {}
        ref = spec.get("scaleTargetRef") or {}
        target_key = TARGETS.get(ref.get("kind", ""))
        target = self.mgr.find(target_key, namespace, ref.get("name", "")) if target_key else None
        if target is None:
            plural = (target_key or "/" + ref.get("kind", "").lower() + "s").split("/")[-1]
            group = (target_key or "").split("/")[0]
            what = f"{plural}.{group}" if group else plural
            message = f'{what} "{ref.get("name")}" not found'
            self.mgr.recorder.record(hpa, "Warning", "FailedGetScale", message, "horizontal-pod-autoscaler")
            conditions = {"AbleToScale": ("False", "FailedGetScale",
                                          f"the HPA controller was unable to get the target's current scale: {message}")}
            self._write(hpa, old_status, int(old_status.get("currentReplicas", 0)), int(old_status.get("desiredReplicas", 0)),
                        old_status.get("currentMetrics"), conditions, False)
            return
        current = int(target["spec"].get("replicas", 1))
        selector = target["spec"].get("selector") or {}
        pods = [p for p in self.mgr.list("/pods", namespace) if label_match(selector, p["metadata"].get("labels") or {})]
        proposals, errors, statuses = [], [], []
        first_error = ""
        metrics = spec.get("metrics") or []
        for metric in metrics:
            try:
                replicas, metric_name, status = self._metric(metric, current, pods, spec, now)
                proposals.append((replicas, metric_name))
                statuses.append(status)
            except algo.MetricError as err:
                res_name = ((metric.get("resource") or metric.get("containerResource") or {}).get("name", "cpu"))
                reason = "FailedGetResourceMetric" if metric.get("type") in ("Resource", "ContainerResource") else "FailedGetMetric"
                text = f"failed to get {res_name} utilization: {err}"
                self.mgr.recorder.record(hpa, "Warning", reason, text, "horizontal-pod-autoscaler")
                errors.append((reason, text))
                first_error = first_error or f"failed to get {res_name} resource metric value: {text}"
                statuses.append({"type": ""})
        behavior = algo.behavior_from_spec(spec.get("behavior"))
        decision = state.decide(current, int(spec.get("minReplicas", 1) or 0), int(spec["maxReplicas"]), proposals, errors,
                                len(metrics), behavior, now)
        current_metrics = [s for s in statuses if s.get("type")] or None
        if errors and decision.conditions.get("ScalingActive", ("",))[0] == "False" and decision.reason.startswith("invalid"):
            message = f"invalid metrics ({len(errors)} invalid out of {len(metrics)}), first error is: {first_error}"
            self.mgr.recorder.record(hpa, "Warning", "FailedComputeMetricsReplicas", message, "horizontal-pod-autoscaler")
            self._write(hpa, old_status, current, int(old_status.get("desiredReplicas", 0)), current_metrics,
                        decision.conditions, False)
            return
        if decision.rescale:
            def scale(obj: Obj) -> Obj:
                obj["spec"]["replicas"] = decision.desired
                obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
                return obj
            self.mgr.mutate(target_key, namespace, target["metadata"]["name"], scale)
            self.mgr.recorder.record(hpa, "Normal", "SuccessfulRescale", f"New size: {decision.desired}; reason: {decision.reason}",
                                     "horizontal-pod-autoscaler")
        self._write(hpa, old_status, current, decision.desired, current_metrics, decision.conditions, decision.rescale)

    def _metric(self, metric: Obj, current: int, pods: list[Obj], spec: Obj, now: float) -> tuple[int, str, Obj]:
        kind = metric.get("type")
        if kind not in ("Resource", "ContainerResource"):
            raise algo.MetricError(f'unsupported metric source type "{kind}" (the emulator serves resource metrics only)')
        source = metric.get("resource") or metric.get("containerResource") or {}
        resource = source.get("name", "cpu")
        target = source.get("target") or {}
        container = source.get("container")
        if not self.mgr.metrics.samples:
            raise algo.MetricError(f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API")
        samples = []
        for p in pods:
            status = p.get("status") or {}
            req = None
            missing = ""
            total = 0
            for c in p["spec"].get("containers") or []:
                if container and c["name"] != container:
                    continue
                q = ((c.get("resources") or {}).get("requests") or {}).get(resource)
                if q is None:
                    missing = missing or c["name"]
                    continue
                total += quantity.milli(q)
            if not missing:
                req = total
            usage, at = self.mgr.metrics.usage(p["metadata"]["namespace"], p["metadata"]["name"], resource)
            ready_cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
            samples.append(algo.PodSample(
                name=p["metadata"]["name"], usage=usage, request=req, phase=status.get("phase", "Pending"),
                ready=bool(ready_cond and ready_cond.get("status") == "True"),
                deleting=bool(p["metadata"].get("deletionTimestamp")),
                started=parse(status["startTime"]).timestamp() if status.get("startTime") else None,
                ready_since=parse(ready_cond["lastTransitionTime"]).timestamp() if ready_cond and ready_cond.get("lastTransitionTime") else None,
                metric_time=at, metric_window=15.0, container=missing))
        behavior = spec.get("behavior") or {}
        tol_up = (behavior.get("scaleUp") or {}).get("tolerance")
        tol_down = (behavior.get("scaleDown") or {}).get("tolerance")
        tolerance = (float(tol_down) if tol_down is not None else algo.TOLERANCE,
                     float(tol_up) if tol_up is not None else algo.TOLERANCE)
        if target.get("type") == "AverageValue":
            value = quantity.milli(target.get("averageValue", "0"))
            result = algo.replicas_for_average_value(current, samples, value, resource, tolerance, now)
            status = {"type": kind, ("resource" if kind == "Resource" else "containerResource"): {
                "name": resource, "current": {"averageValue": _milli_quantity(result.raw_average, resource)}}}
            return result.replicas, f"{resource} resource", status
        utilization = int(target.get("averageUtilization", 80))
        result = algo.replicas_for_utilization(current, samples, utilization, resource, tolerance, now)
        body: Obj = {"name": resource, "current": {"averageUtilization": result.utilization,
                                                   "averageValue": _milli_quantity(result.raw_average, resource)}}
        if container:
            body["container"] = container
        status = {"type": kind, ("resource" if kind == "Resource" else "containerResource"): body}
        return result.replicas, f"{resource} resource utilization (percentage of request)", status

    def _write(self, hpa: Obj, old: Obj, current: int, desired: int, metrics: list[Obj] | None,
               conditions: dict[str, tuple[str, str, str]], rescaled: bool) -> None:
        stamp = self.mgr.stamp()
        previous = {c["type"]: c for c in old.get("conditions") or []}
        merged = dict(previous)
        for type_, (status, reason, message) in conditions.items():
            prev = previous.get(type_)
            merged[type_] = {"type": type_, "status": status,
                             "lastTransitionTime": prev["lastTransitionTime"] if prev and prev.get("status") == status else stamp,
                             "reason": reason, "message": message}
        status: Obj = {"currentReplicas": current, "desiredReplicas": desired}
        if metrics:
            status["currentMetrics"] = metrics
        if old.get("lastScaleTime") or rescaled:
            status["lastScaleTime"] = stamp if rescaled else old["lastScaleTime"]
        status["conditions"] = [merged[t] for t in ORDER if t in merged]

        def put(obj: Obj) -> Obj | None:
            if obj.get("status") == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("autoscaling/horizontalpodautoscalers", hpa["metadata"]["namespace"], hpa["metadata"]["name"], put)


def _milli_quantity(milli: int, resource: str) -> str:
    if resource == "memory":
        value = milli // 1000
        if value % 2**20 == 0:
            return f"{value // 2**20}Mi"
        if value % 1024 == 0:
            return f"{value // 1024}Ki"
        return str(value)
    return f"{milli}m" if milli % 1000 else str(milli // 1000)
