"""Validation of object contents (HTTP 422 Invalid), worded like the API server's field errors.

Why: learners make these mistakes (upper-case names, a label value with a space, a
Deployment whose selector does not match its template, a Pod without an image) and should get
the same ``is invalid: <field>: <message>`` answer a real cluster gives. Only the rules that
matter for the course's kinds are here; decode-time checks (unknown fields, wrong JSON types)
live in schema.py.
"""
from __future__ import annotations

import json
import re
from typing import Any

from . import errors
from .quantity import parse as parse_quantity
from .resources import Resource

Obj = dict[str, Any]
Causes = list[dict[str, str]]

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MSG_NAME_PART = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                 "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")

MAX_DATA = 1024 * 1024


def _name_causes(rule: str, name: str, field: str = "metadata.name") -> Causes:
    """Errors of ``name`` under a resource's ``nameValidation`` rule (data/resources.yaml)."""
    if rule == "pathSegment":  # RBAC: any name that is a URL path segment (system:coredns)
        bad = [f"may not be '{name}'"] if name in (".", "..") else [
            f"may not contain '{c}'" for c in "/%" if c in name]
        return [errors.field_invalid(field, name, msg) for msg in bad]
    if rule == "dns1123Label":
        ok, msg, limit = DNS1123_LABEL.fullmatch(name), MSG_LABEL, 63
    elif rule == "dns1035Label":
        ok, msg, limit = DNS1035_LABEL.fullmatch(name), MSG_1035, 63
    else:
        ok, msg, limit = DNS1123_SUBDOMAIN.fullmatch(name), MSG_SUBDOMAIN, 253
    causes = []
    if len(name) > limit:
        causes.append(errors.field_invalid(field, name, f"must be no more than {limit} characters"))
    if not ok:
        causes.append(errors.field_invalid(field, name, msg))
    return causes


def label_causes(labels: Any, field: str) -> Causes:
    if labels is None:
        return []
    causes: Causes = []
    for key, value in labels.items():
        causes += _key_causes(key, field)
        if not isinstance(value, str):
            continue
        if len(value) > 63:
            causes.append(errors.field_invalid(field, value, "must be no more than 63 characters"))
        if not LABEL_VALUE.fullmatch(value):
            causes.append(errors.field_invalid(field, value, MSG_LABEL_VALUE))
    return causes


def _key_causes(key: str, field: str) -> Causes:
    prefix, _, name = key.rpartition("/")
    causes = []
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        causes.append(errors.field_invalid(field, key, "prefix part " + MSG_SUBDOMAIN))
    if not name or len(name) > 63 or not QUALIFIED_NAME.fullmatch(name):
        why = MSG_NAME_PART if name and len(name) <= 63 else (
            "name part must be non-empty" if not name else "name part must be no more than 63 characters")
        causes.append(errors.field_invalid(field, key, why))
    return causes


def _containers(spec: Obj, path: str, required: bool = True) -> Causes:
    causes: Causes = []
    containers = spec.get("containers")
    if not containers:
        if required:
            causes.append(errors.field_required(f"{path}.containers"))
        return causes
    seen: set[str] = set()
    for index, c in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not isinstance(c, dict):
            continue
        name = c.get("name")
        if not name:
            causes.append(errors.field_required(f"{where}.name"))
        else:
            if name in seen:
                causes.append(errors.cause(f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
            seen.add(name)
            if not DNS1123_LABEL.fullmatch(name) or len(name) > 63:
                causes.append(errors.field_invalid(f"{where}.name", name, MSG_LABEL))
        if not c.get("image"):
            causes.append(errors.field_required(f"{where}.image"))
        causes += _requests_within_limits(c.get("resources"), f"{where}.resources")
        for pindex, port in enumerate(c.get("ports") or []):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if number is None:
                causes.append(errors.field_required(f"{where}.ports[{pindex}].containerPort"))
            elif not 1 <= number <= 65535:
                causes.append(errors.field_invalid(f"{where}.ports[{pindex}].containerPort", number,
                                                   "must be between 1 and 65535, inclusive"))
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(errors.field_unsupported(f"{path}.restartPolicy", policy, ["Always", "Never", "OnFailure"]))
    return causes


def _requests_within_limits(resources: Any, path: str) -> Causes:
    """A request above its limit is refused (ValidateResourceRequirements): a container may never use less
    than it asked the scheduler for."""
    if not isinstance(resources, dict):
        return []
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    causes: Causes = []
    for name, asked in requests.items():
        if name in limits:
            try:
                above = parse_quantity(asked) > parse_quantity(limits[name])
            except ValueError:
                continue   # a malformed quantity was refused while decoding
            if above:
                causes.append(errors.field_invalid(f"{path}.requests", str(asked),
                                                   f"must be less than or equal to {name} limit of {limits[name]}"))
    return causes


def _go_map(labels: dict[str, str]) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def _selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    from .selectors import selector_matcher
    return selector_matcher(selector)({"metadata": {"labels": labels}})


def _workload(obj: Obj, kind: str) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(errors.field_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = spec.get("selector")
    if kind != "Job":
        if not selector:
            causes.append(errors.field_required("spec.selector"))
        elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(errors.field_invalid("spec.selector", "null", "empty selector is invalid for deployment"))
        elif not _selector_matches(selector, labels):
            causes.append(errors.field_invalid("spec.template.metadata.labels", _go_map(labels),
                                               "`selector` does not match template `labels`"))
    causes += label_causes(labels, "spec.template.metadata.labels")
    causes += _containers(template.get("spec") or {}, "spec.template.spec")
    if kind == "Job":
        policy = (template.get("spec") or {}).get("restartPolicy")
        if policy not in (None, "OnFailure", "Never"):
            causes.append(errors.field_unsupported("spec.template.spec.restartPolicy", policy, ["OnFailure", "Never"]))
    if kind == "Deployment":
        strategy = (spec.get("strategy") or {}).get("type")
        if strategy not in (None, "RollingUpdate", "Recreate"):
            causes.append(errors.field_unsupported("spec.strategy.type", strategy, ["Recreate", "RollingUpdate"]))
        causes += _rolling_update((spec.get("strategy") or {}).get("rollingUpdate"))
    return causes


def _int_or_percent(value: Any) -> int | None:
    """The number in an IntOrString (``3`` or ``"25%"``), as the apiserver's getIntOrPercentValue reads it;
    None (left out) is the default, 25%."""
    if value is None:
        return 25
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return int(value[:-1])
    return None


def _rolling_update(rolling: Obj | None) -> Causes:
    """A rollout that may neither add a pod nor take one away could never progress: refused, as
    ValidateRollingUpdateDeployment refuses it; so is taking away more than all of them."""
    if not isinstance(rolling, dict):
        return []
    path = "spec.strategy.rollingUpdate"
    surge, unavailable = _int_or_percent(rolling.get("maxSurge")), _int_or_percent(rolling.get("maxUnavailable"))
    causes: Causes = []
    if surge == 0 and unavailable == 0:
        causes.append(errors.field_invalid(f"{path}.maxUnavailable", rolling.get("maxUnavailable", 0),
                                           "may not be 0 when `maxSurge` is 0"))
    text = rolling.get("maxUnavailable")
    if isinstance(text, str) and unavailable is not None and unavailable > 100:
        causes.append(errors.field_invalid(f"{path}.maxUnavailable", text, "must not be greater than 100%"))
    return causes


def _service(obj: Obj) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    kind = spec.get("type", "ClusterIP")
    allowed = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if kind not in allowed:
        causes.append(errors.field_unsupported("spec.type", kind, allowed))
    if kind != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
        causes.append(errors.field_required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(spec.get("ports") or []):
        if not isinstance(port, dict):
            continue
        number = port.get("port")
        if number is None:
            causes.append(errors.field_required(f"spec.ports[{index}].port"))
        elif isinstance(number, int) and not 1 <= number <= 65535:
            causes.append(errors.field_invalid(f"spec.ports[{index}].port", number, "must be between 1 and 65535, inclusive"))
        if len(spec.get("ports")) > 1 and not port.get("name"):
            causes.append(errors.field_required(f"spec.ports[{index}].name"))
        if port.get("name") and port.get("name") in names:
            causes.append(errors.cause(f"spec.ports[{index}].name", "FieldValueDuplicate", f'Duplicate value: "{port.get("name")}"'))
        names.add(port.get("name"))
        protocol = port.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            causes.append(errors.field_unsupported(f"spec.ports[{index}].protocol", protocol, ["SCTP", "TCP", "UDP"]))
    return causes


def _data(obj: Obj) -> Causes:
    causes: Causes = []
    size = 0
    for field in ("data", "binaryData", "stringData"):
        for key, value in (obj.get(field) or {}).items():
            if not CONFIG_KEY.fullmatch(key) or len(key) > 253:
                causes.append(errors.field_invalid(f"{field}[{key}]", key,
                                                   "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                                                   "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                                                   "validation is '[-._a-zA-Z0-9]+')"))
            size += len(key) + len(value if isinstance(value, str) else json.dumps(value))
    if size > MAX_DATA:
        causes.append(errors.cause("", "FieldValueTooLong", f"Too long: must have at most {MAX_DATA} bytes"))
    return causes


MAX_STABILIZATION_WINDOW = 3600  # seconds (autoscaling validation's MaxStabilizationWindowSeconds)
MAX_POLICY_PERIOD = 1800  # seconds (MaxPeriodSeconds)
SELECT_POLICIES = ("Disabled", "Max", "Min")

def _hpa(obj: Obj) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        causes.append(errors.field_required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(errors.field_required("spec.scaleTargetRef.name"))
    high = spec.get("maxReplicas")
    low = spec.get("minReplicas", 1)
    if not isinstance(high, int) or high < 1:
        causes.append(errors.field_invalid("spec.maxReplicas", high if high is not None else 0,
                                           "must be greater than or equal to 1"))
    elif isinstance(low, int) and low > high:
        causes.append(errors.field_invalid("spec.minReplicas", low, "must be less than or equal to maxReplicas"))
    if isinstance(low, int) and low < 1:
        causes.append(errors.field_invalid("spec.minReplicas", low, "must be greater than or equal to 1"))
    for index, metric in enumerate(spec.get("metrics") or []):
        for source in ("resource", "containerResource", "pods", "object", "external"):
            target = (metric.get(source) or {}).get("target") or {}
            utilization = target.get("averageUtilization")
            if isinstance(utilization, int) and utilization < 1:
                causes.append(errors.field_invalid(f"spec.metrics[{index}].{source}.target.averageUtilization", utilization,
                                                   "must be greater than 0"))
    for direction in ("scaleUp", "scaleDown"):
        causes += _scaling_rules((spec.get("behavior") or {}).get(direction), f"spec.behavior.{direction}")
    return causes


def _scaling_rules(rules: Obj | None, path: str) -> Causes:
    """An HPA's scaleUp or scaleDown rules, as the apiserver's validateScalingRules checks them."""
    if rules is None:
        return []
    causes: Causes = []
    window = rules.get("stabilizationWindowSeconds")
    if isinstance(window, int) and window < 0:
        causes.append(errors.field_invalid(f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"))
    elif isinstance(window, int) and window > MAX_STABILIZATION_WINDOW:
        causes.append(errors.field_invalid(f"{path}.stabilizationWindowSeconds", window,
                                           f"must be less than or equal to {MAX_STABILIZATION_WINDOW}"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        causes.append(errors.field_unsupported(f"{path}.selectPolicy", select, list(SELECT_POLICIES)))
    policies = rules.get("policies")
    if "policies" in rules and not policies:
        causes.append(errors.field_required(f"{path}.policies", "must specify at least one Policy"))
    for index, policy in enumerate(policies or []):
        where = f"{path}.policies[{index}]"
        if policy.get("type") not in ("Percent", "Pods"):
            causes.append(errors.field_unsupported(f"{where}.type", policy.get("type", ""), ["Percent", "Pods"]))
        if not isinstance(policy.get("value"), int) or policy["value"] <= 0:
            causes.append(errors.field_invalid(f"{where}.value", policy.get("value", 0), "must be greater than zero"))
        period = policy.get("periodSeconds")
        if not isinstance(period, int) or period <= 0:
            causes.append(errors.field_invalid(f"{where}.periodSeconds", period or 0, "must be greater than zero"))
        elif period > MAX_POLICY_PERIOD:
            causes.append(errors.field_invalid(f"{where}.periodSeconds", period, f"must be less than or equal to {MAX_POLICY_PERIOD}"))
    return causes


def validate(res: Resource, obj: Obj, old: Obj | None = None) -> None:
    """Raise 422 Invalid with every field error found in ``obj`` (``old`` for updates)."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    causes: Causes = []
    if not name:
        causes.append(errors.field_required("metadata.name", "name or generateName is required"))
    else:
        causes += _name_causes(res.name_validation, name)
    if res.namespaced and meta.get("namespace") and not DNS1123_LABEL.fullmatch(meta["namespace"]):
        causes.append(errors.field_invalid("metadata.namespace", meta["namespace"], MSG_LABEL))
    causes += label_causes(meta.get("labels"), "metadata.labels")
    for key in (meta.get("annotations") or {}):
        causes += _key_causes(key, "metadata.annotations")
    kind = res.kind
    if kind == "Pod":
        causes += _containers(obj.get("spec") or {}, "spec")
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"):
        causes += _workload(obj, kind)
    elif kind == "Service":
        causes += _service(obj)
    elif kind in ("ConfigMap", "Secret"):
        causes += _data(obj)
    elif kind == "HorizontalPodAutoscaler":
        causes += _hpa(obj)
    if old is not None:
        causes += _immutable(kind, obj, old)
    if causes:
        raise errors.invalid(res.group, res.kind, name, causes)


IMMUTABLE_SET = "field is immutable when `immutable` is set"


def _immutable_data(kind: str, obj: Obj, old: Obj) -> Causes:
    """ValidateConfigMapUpdate / ValidateSecretUpdate: a Secret's type never changes, and once
    ``immutable: true`` is set neither the flag nor the data may change (delete and recreate)."""
    causes: Causes = []
    if kind == "Secret" and obj.get("type", "Opaque") != old.get("type", "Opaque"):
        causes.append(errors.field_invalid("type", obj.get("type", ""), "field is immutable"))
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            causes.append(errors.field_forbidden("immutable", IMMUTABLE_SET))
        for field in ("data", "binaryData"):
            if obj.get(field) != old.get(field):
                causes.append(errors.field_forbidden(field, IMMUTABLE_SET))
    return causes


def _immutable(kind: str, obj: Obj, old: Obj) -> Causes:
    spec, before = obj.get("spec") or {}, old.get("spec") or {}
    if kind in ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job"):
        if before.get("selector") and spec.get("selector") != before.get("selector"):
            from .selectors import selector_string
            return [errors.field_invalid("spec.selector", "v1.LabelSelector{" + selector_string(spec.get("selector")) + "}",
                                         "field is immutable")]
    if kind in ("ConfigMap", "Secret"):
        return _immutable_data(kind, obj, old)
    if kind == "Service" and before.get("clusterIP") and spec.get("clusterIP") not in (None, "", before["clusterIP"]):
        return [errors.field_invalid("spec.clusterIP", spec.get("clusterIP"), "field is immutable")]
    if kind == "Pod":
        def mutable_removed(s: Obj) -> Obj:
            s = json.loads(json.dumps(s))
            for c in s.get("containers") or []:
                c.pop("image", None)
            for c in s.get("initContainers") or []:
                c.pop("image", None)
            for key in ("activeDeadlineSeconds", "tolerations", "nodeName", "terminationGracePeriodSeconds"):
                s.pop(key, None)
            return s
        if mutable_removed(spec) != mutable_removed(before):
            return [errors.field_forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,"
                                           "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                                           "`spec.tolerations` (only additions to existing tolerations),"
                                           "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")]
    return []
