"""Events: what controllers and kubelets record, as ``kubectl get events`` and ``describe`` show.

Why a recorder of our own: client-go's event recorder names an event ``<object>.<hex ns time>``,
aggregates repeats of the same (object, type, reason, message, source) into one Event with a
``count`` and ``lastTimestamp``, and the API server drops events after an hour (its
``--event-ttl``). We do the same, on the simulated clock, so the output looks like a cluster's.
"""
from __future__ import annotations

from typing import Any

from .. import resources
from . import Controller

Obj = dict[str, Any]
TTL_SECONDS = 3600
SWEEP_SECONDS = 300


class EventRecorder(Controller):
    """Records events; also deletes events older than the TTL."""

    name = "events"

    def __init__(self, mgr):
        super().__init__(mgr)
        self._index: dict[tuple, str] = {}
        self._last: dict[tuple[str, str], int] = {}

    def start(self) -> None:
        for ev in self.mgr.list("/events"):  # the kind state's: a repeat of one bumps its count
            involved = ev.get("involvedObject") or {}
            key = (ev["metadata"].get("namespace") or "default", involved.get("uid"), ev.get("type"), ev.get("reason"),
                   ev.get("message"), (ev.get("source") or {}).get("component"), involved.get("fieldPath"))
            self._index.setdefault(key, ev["metadata"]["name"])
        self.after(SWEEP_SECONDS, "sweep")

    def record(self, obj: Obj, type_: str, reason: str, message: str, component: str,
               host: str | None = None, field_path: str | None = None) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        involved = {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta["name"],
                    "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"),
                    "resourceVersion": meta.get("resourceVersion")}
        if not meta.get("namespace"):
            involved.pop("namespace")
        if field_path:
            involved["fieldPath"] = field_path
        key = (namespace, meta.get("uid"), type_, reason, message, component, field_path)
        now = self.mgr.stamp()
        name = self._index.get(key)
        if name is not None:
            def bump(ev: Obj) -> Obj:
                ev["count"] = ev.get("count", 1) + 1
                ev["lastTimestamp"] = now
                return ev
            if self.mgr.mutate("/events", namespace, name, bump) is not None:
                return
        nanos = int(self.mgr.now() * 1e9)
        last = self._last.get((namespace, meta["name"]), -1)
        nanos = max(nanos, last + 1)  # several events of one object at one instant get distinct names
        name = f"{meta['name']}.{nanos:x}"
        while self.mgr.find("/events", namespace, name) is not None:
            nanos += 1
            name = f"{meta['name']}.{nanos:x}"
        self._last[(namespace, meta["name"])] = nanos
        source = {"component": component}
        if host:
            source["host"] = host
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": name, "namespace": namespace},
                 "involvedObject": involved, "reason": reason, "message": message, "source": source,
                 "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_, "eventTime": None,
                 "reportingComponent": component, "reportingInstance": host or ""}
        self.mgr.create("/events", event)
        self._index[key] = name

    def sync(self, key) -> None:
        if key != "sweep":
            return
        cutoff = self.mgr.now() - TTL_SECONDS
        from ..clock import parse
        for ev in self.mgr.list("/events"):
            last = ev.get("lastTimestamp") or ev["metadata"].get("creationTimestamp")
            if last and parse(last).timestamp() < cutoff:
                self.store.delete(resources.get("/events"), ev["metadata"]["namespace"], ev["metadata"]["name"])
        self._index = {k: v for k, v in self._index.items() if self.mgr.find("/events", k[0], v) is not None}
        self._last = {}
        self.after(SWEEP_SECONDS, "sweep")
