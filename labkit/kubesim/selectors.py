"""Label and field selectors, parsed and matched as the API server does.

Why a module: lists, watches, deletecollection, ``kubectl describe`` (events of one object,
pods of one node) and the controllers of the next issue all select objects the same way.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

# Field selectors each kind supports besides metadata.name and metadata.namespace.
FIELDS = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"},
    "Secret": {"type"},
    "Node": {"spec.unschedulable"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
}


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def parse_labels(text: str | None) -> Matcher:
    """A matcher for a label selector string such as ``app=web,tier in (a,b),!canary``."""
    if not text or not text.strip():
        return lambda obj: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_top(text):
        part = part.strip()
        m = re.fullmatch(r"(!)?\s*([A-Za-z0-9][-A-Za-z0-9_./]*)", part)
        if m:
            key = m.group(2)
            tests.append((lambda k: lambda labels: k not in labels)(key) if m.group(1) else (lambda k: lambda labels: k in labels)(key))
            continue
        m = re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)", part)
        if m:
            key, op, val = m.groups()
            if op == "!=":
                tests.append((lambda k, v: lambda labels: labels.get(k) != v)(key, val))
            else:
                tests.append((lambda k, v: lambda labels: labels.get(k) == v)(key, val))
            continue
        m = re.fullmatch(r"([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s*\(([^)]*)\)", part)
        if m:
            key, op, vals = m.groups()
            values = {v.strip() for v in vals.split(",") if v.strip()}
            if op == "in":
                tests.append((lambda k, vs: lambda labels: labels.get(k) in vs)(key, values))
            else:
                tests.append((lambda k, vs: lambda labels: labels.get(k) not in vs)(key, values))
            continue
        raise bad_request(f"unable to parse requirement: found '{part}', expected: identifier")

    def match(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(test(labels) for test in tests)

    return match


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return "false" if path in ("spec.unschedulable", "spec.hostNetwork") else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, dict) and path == "source":
        return cur.get("component", "")
    return str(cur)


def parse_fields(text: str | None, kind: str) -> Matcher:
    """A matcher for a field selector such as ``spec.nodeName=n1,status.phase!=Failed``."""
    if not text or not text.strip():
        return lambda obj: True
    allowed = {"metadata.name", "metadata.namespace"} | FIELDS.get(kind, set())
    tests: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z.]+)\s*(==|!=|=)\s*(.*)", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise bad_request(f'field label not supported: {field}')
        tests.append((field, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, f) == v) == eq for f, eq, v in tests)

    return match


def selector_string(selector: dict[str, Any] | None) -> str:
    """Render a ``LabelSelector`` object as the string form (used by ``/scale`` status)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def selector_matcher(selector: dict[str, Any] | None) -> Matcher:
    """A matcher for a ``LabelSelector`` object; an empty selector matches everything."""
    return parse_labels(selector_string(selector))
