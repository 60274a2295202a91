"""Conversion between served versions of one resource: autoscaling/v1 <-> v2 HorizontalPodAutoscalers.

Why: ``kubectl autoscale`` (kubectl 1.32/1.33) creates its HPA through ``autoscaling/v1``, while the
emulator stores (and ``kubectl get hpa`` reads) ``autoscaling/v2``. A real API server stores one
version and converts at the edge (pkg/apis/autoscaling/v1/conversion.go); so do we. What v1 cannot
express travels in the annotations the real conversion uses: ``autoscaling.alpha.kubernetes.io/
conditions``, ``.../behavior`` and ``.../metrics`` (the metrics other than CPU utilization).
"""
from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT = "autoscaling.alpha.kubernetes.io/current-metrics"


_ABSENT = object()


def _pop_json(annotations: dict, key: str) -> Any:
    """Remove `key` and return its JSON value; `_ABSENT` if it is missing or not JSON
    (an annotation someone edited by hand is dropped, not an error)."""
    if key not in annotations:
        return _ABSENT
    try:
        return json.loads(annotations.pop(key))
    except ValueError:
        return _ABSENT


def _is_cpu_utilization(metric: Obj) -> bool:
    res = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and res.get("name") == "cpu"
            and (res.get("target") or {}).get("type") == "Utilization")


def hpa_v2_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(dict(obj))
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") or {}
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[METRICS] = json.dumps(others, separators=(",", ":"))
    behavior = spec.pop("behavior", None)
    if behavior:
        annotations[BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        cpu_now = next((m for m in current if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu"), None)
        if cpu_now is not None and (cpu_now["resource"].get("current") or {}).get("averageUtilization") is not None:
            status["currentCPUUtilizationPercentage"] = cpu_now["resource"]["current"]["averageUtilization"]
        rest = [m for m in current if m is not cpu_now]
        if rest:
            annotations[CURRENT] = json.dumps(rest, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        meta["annotations"] = annotations
    return out


def hpa_v1_to_v2(obj: Obj) -> Obj:
    out = copy.deepcopy(dict(obj))
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                   "averageUtilization": target}}})
    more = _pop_json(annotations, METRICS)
    if more is not _ABSENT:
        metrics += more
    if metrics:
        spec["metrics"] = metrics
    behavior = _pop_json(annotations, BEHAVIOR)
    if behavior is not _ABSENT:
        spec["behavior"] = behavior
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        metrics_now = []
        if current is not None:
            metrics_now.append({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})
        more = _pop_json(annotations, CURRENT)
        if more is not _ABSENT:
            metrics_now += more
        if metrics_now:
            status["currentMetrics"] = metrics_now
        conditions = _pop_json(annotations, CONDITIONS)
        if conditions is not _ABSENT:
            status["conditions"] = conditions
    for key in (CONDITIONS, CURRENT):
        annotations.pop(key, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    return out


CONVERTERS = {("autoscaling", "horizontalpodautoscalers", "v1"): (hpa_v1_to_v2, hpa_v2_to_v1)}


def to_storage(group: str, plural: str, version: str, obj: Obj) -> Obj:
    conv = CONVERTERS.get((group, plural, version))
    return conv[0](obj) if conv else obj


def from_storage(group: str, plural: str, version: str, obj: Obj) -> Obj:
    conv = CONVERTERS.get((group, plural, version))
    if conv is None or not isinstance(obj, dict) or obj.get("kind") in ("Status",):
        return obj
    if obj.get("kind", "").endswith("List") and isinstance(obj.get("items"), list):
        return {**obj, "apiVersion": f"{group}/{version}", "items": [conv[1](i) for i in obj["items"]]}
    return conv[1](obj)
