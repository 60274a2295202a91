"""The downward API: the values ``fieldRef`` and ``resourceFieldRef`` select, for env variables
and for downwardAPI volume files, with the kubelet's formatting.

Why shared: ``env[].valueFrom.fieldRef`` and a ``downwardAPI`` volume item use the same selectors
and must agree (``metadata.labels`` in a file is ``key="value"`` lines, sorted).
"""
from __future__ import annotations

import math
import re
from typing import Any

from .. import quantity
from . import cluster

Obj = dict[str, Any]
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


def _map_lines(values: dict[str, str]) -> str:
    """fieldpath.FormatMap: ``key="value"`` lines in key order (values quoted as Go's %q)."""
    return "\n".join(f'{k}={_quote(v)}' for k, v in sorted(values.items()))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def field_value(pod: Obj, path: str) -> str | None:
    """The value of a fieldRef ``fieldPath``, or None when the path is not supported."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "metadata.generateName": meta.get("generateName", ""),
        "spec.nodeName": spec.get("nodeName", ""), "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""), "status.podIP": status.get("podIP", ""),
        "status.podIPs": ",".join(i.get("ip", "") for i in status.get("podIPs") or []),
        "status.hostIPs": ",".join(i.get("ip", "") for i in status.get("hostIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        return _map_lines({k: str(v) for k, v in (meta.get(path.split(".")[1]) or {}).items()})
    return None


def resource_value(store: Any, pod: Obj, container: Obj | None, resource: str, divisor: object = None) -> str | None:
    """A resourceFieldRef's value (ExtractContainerResourceValue): CPU in ceil(milli / divisor),
    memory and storage in ceil(bytes / divisor); a missing limit is the node's allocatable (the
    kubelet merges it in). None for an unknown resource."""
    if container is None:
        return None
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage") and not name.startswith("hugepages-"):
        return None
    res = container.get("resources") or {}
    q = (res.get(kind) or {}).get(name)
    if q is None and kind == "limits":
        node = cluster.find(store, "/nodes", "", (pod.get("spec") or {}).get("nodeName") or "") or {}
        q = ((node.get("status") or {}).get("allocatable") or {}).get(name)
    if q is None:
        q = (res.get("limits") or {}).get(name) if kind == "requests" else None
    try:
        div = divisor if divisor not in (None, "", 0, "0") else "1"
        if name == "cpu":
            return str(math.ceil(quantity.milli(q or 0) / max(quantity.milli(div), 1)))
        return str(math.ceil(quantity.value(q or 0) / max(quantity.value(div), 1)))
    except ValueError:
        return None
