"""The emulator's machines: ``kubesim.labkit.dev/v1alpha1`` ``machines``, one per node, to power off and on.

Why an API: on kind a node is a Docker container, and a lesson shows a node failure with ``docker stop
course-worker2``; the emulator has no container to stop, so it serves the same act as an object a
client can patch, next to its clock (``control.py``)::

    kubectl get machines                                   # NAME  POWER  SINCE  AGE
    kubectl patch machine course-worker2 --type merge -p '{"spec":{"power":"Off"}}'

Powering a machine off stops its kubelet (``controllers/nodes.py``): after 50 s the node is NotReady
and unreachable, and its pods are evicted when their toleration (300 s by default) runs out, as on
a real cluster; ``On`` starts it again. ``labkit.cluster_nodes`` uses this on the emulator and
``docker stop``/``docker start`` on kind, so a lesson cell is the same on both.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import errors
from .clock import parse, stamp
from .errors import ApiError
from .resources import Resource
from .routing import TABLE, Obj, Request, Response, json_response
from .tables import human_duration

if TYPE_CHECKING:
    from .controllers import Manager

GROUP = "kubesim.labkit.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MACHINES = Resource(group=GROUP, version=VERSION, kind="Machine", plural="machines", namespaced=False, singular="machine",
                    verbs=("get", "list", "patch", "update"), key=f"{GROUP}/machines")
POWER_EXAMPLE = '{"spec":{"power":"Off"}}'
COLUMNS = [("Name", "string", "the machine's name: the node it runs"),
           ("Power", "string", "On or Off: what spec.power asks for, and status.power has become"),
           ("Since", "string", "how long ago the power last changed"),
           ("Age", "date", "how long the machine has existed")]


class MachineControl:
    """Serves ``machines`` over the manager's node lifecycle controller (None: no controllers run)."""

    resources = (MACHINES,)

    def __init__(self, manager: "Manager | None"):
        self.manager = manager
        self.changed: dict[str, float] = {}

    def _nodes(self) -> list[Obj]:
        return self.manager.list("/nodes") if self.manager is not None else []

    def _machine(self, node: Obj) -> Obj:
        name = node["metadata"]["name"]
        off = self.manager is not None and name in self.manager.nodes.stopped_at
        power = "Off" if off else "On"
        status: Obj = {"power": power}
        if name in self.changed:
            status["lastChange"] = stamp(datetime.fromtimestamp(self.changed[name], timezone.utc))
        created = node["metadata"].get("creationTimestamp")
        return {"apiVersion": API_VERSION, "kind": "Machine",
                "metadata": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{GROUP}/machines/{name}/{created}")),
                             "creationTimestamp": created},
                "spec": {"power": power}, "status": status}

    def _find(self, name: str) -> Obj:
        for node in self._nodes():
            if node["metadata"]["name"] == name:
                return node
        raise ApiError(404, "NotFound", f'machines.{GROUP} "{name}" not found: a machine is named as its node '
                       "(kubectl get machines)", {"name": name, "group": GROUP, "kind": "machines"})

    def _table(self, machines: list[Obj], include: str) -> Obj:
        rows = []
        now = self.manager.now() if self.manager is not None else 0.0
        for obj in machines:
            name = obj["metadata"]["name"]
            since = human_duration(now - self.changed[name]) if name in self.changed else "<never>"
            created = obj["metadata"].get("creationTimestamp")
            age = "<unknown>"
            if created and self.manager is not None:
                age = human_duration((self.manager.clock.now() - parse(created)).total_seconds())
            row: Obj = {"cells": [name, obj["status"]["power"], since, age]}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
            rows.append(row)
        columns = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": 0}
                   for n, t, d in COLUMNS]
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns, "rows": rows}

    def _answer(self, req: Request, machines: list[Obj], single: bool) -> Response:
        if TABLE in req.headers.get("accept", "").replace(" ", ""):
            return json_response(self._table(machines, req.query.get("includeObject", "Metadata")))
        if single:
            return json_response(machines[0])
        return json_response({"apiVersion": API_VERSION, "kind": "MachineList", "metadata": {}, "items": machines})

    def handle(self, req: Request, rest: list[str]) -> Response:
        """``rest``: the URL's parts after ``/apis/kubesim.labkit.dev/v1alpha1/machines``."""
        if req.flag("watch"):
            raise ApiError(405, "MethodNotAllowed", "machines cannot be watched: read them again (kubectl get machines)")
        if len(rest) > 1:
            raise errors.path_not_found()
        if not rest:
            if req.method != "GET":
                raise errors.method_not_allowed()
            return self._answer(req, [self._machine(n) for n in self._nodes()], single=False)
        node = self._find(rest[0])
        if req.method == "GET":
            return self._answer(req, [self._machine(node)], single=True)
        if req.method not in ("PATCH", "PUT"):
            raise ApiError(405, "MethodNotAllowed", f"a machine can be read (GET) and powered off or on (PATCH of spec.power, "
                           f"e.g. {POWER_EXAMPLE}), not {req.method}")
        return self.power(req, node)

    def power(self, req: Request, node: Obj) -> Response:
        name = node["metadata"]["name"]
        try:
            body = json.loads(req.body or b"{}")
        except ValueError:
            raise errors.bad_request(f"the body is not JSON: send {POWER_EXAMPLE}") from None
        if isinstance(body, list):  # a JSON patch: [{"op": "replace", "path": "/spec/power", "value": "Off"}]
            wanted = next((op.get("value") for op in body if isinstance(op, dict) and op.get("path") == "/spec/power"), None)
        else:
            wanted = ((body or {}).get("spec") or {}).get("power") if isinstance(body, dict) else None
        if wanted not in ("On", "Off"):
            raise errors.invalid(GROUP, "Machine", name, [errors.field_unsupported("spec.power", wanted, ["Off", "On"])])
        if self.manager is None:
            raise ApiError(405, "MethodNotAllowed", "this emulator runs its API alone (no controllers): no kubelet to stop or start")
        stopped = name in self.manager.nodes.stopped_at
        if req.query.get("dryRun") != "All" and (wanted == "Off") != stopped:
            with self.manager.lock:
                if wanted == "Off":
                    self.manager.nodes.stop(name)
                else:
                    self.manager.nodes.start_node(name)
            self.manager.settle()
            self.changed[name] = self.manager.now()
        return self._answer(req, [self._machine(node)], single=True)
