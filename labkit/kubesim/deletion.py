"""Deletion semantics: delete, deletecollection, finalizers and propagation.

Why its own module: a delete is not one store call: preconditions, dry run, the propagation
policy (the garbage collector's finalizers), finalizers that keep an object Terminating, and,
for the two resources that truly differ (pods, namespaces), a named strategy (strategies.py).
The per-resource choices (default propagation, whether the object is returned) are fields of
data/resources.yaml.
"""
from __future__ import annotations

import copy

from . import errors, resources, strategies
from .errors import ApiError
from .resources import Resource
from .routing import Obj, Request, Response, Target, dry_run as _dry, int_param as _int, json_response
from .store import encode

GC_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}


class Deletion:
    """delete, deletecollection and ``remove`` for :class:`~.api.Api` (and the controllers)."""

    def delete(self, req: Request, t: Target) -> Response:
        res = t.res
        old = self.store.get(res, t.namespace or "", t.name or "")
        options = {}
        if req.body.strip():
            options = self._decode(req)
            if not isinstance(options, dict):
                raise errors.bad_request("the body of a DELETE must be a DeleteOptions object")
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise errors.conflict(res.group, res.plural, t.name or "",
                                  f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {old["metadata"].get("uid")}')
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"].get("resourceVersion"):
            raise errors.conflict(res.group, res.plural, t.name or "",
                                  f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, '
                                  f'ResourceVersion in object meta: {old["metadata"].get("resourceVersion")}')
        if _dry(req) or req.query.get("dryRun") == "All":
            return self._deleted(req, res, old)
        grace = options.get("gracePeriodSeconds", _int(req.query.get("gracePeriodSeconds"), "gracePeriodSeconds"))
        policy = options.get("propagationPolicy") or req.query.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Background", "Foreground", "Orphan"):
            raise errors.invalid(res.group, res.kind, t.name or "", [errors.field_unsupported(
                "propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"])])
        warnings = []
        if policy is None and res.default_propagation_warning:
            warnings.append(res.default_propagation_warning)
        out = self._deleted(req, res, self.remove(res, old, grace=grace, policy=policy))
        if warnings:
            out.headers["Warning"] = ", ".join(f'299 - "{w}"' for w in warnings)
        return out

    def remove(self, res: Resource, old: Obj, grace: int | None = None, policy: str | None = None) -> Obj:
        """Delete an object as the registry does: finalizers, graceful pod deletion, propagation.

        - ``policy`` Foreground / Orphan adds the ``foregroundDeletion`` / ``orphan`` finalizer for the
          garbage collector, where the resource's ``gcFinalizers`` allow it (the default policy is the
          resource's ``defaultPropagation``: Background, Orphan for Jobs, as the API server);
        - a resource's ``deleteStrategy`` may keep the object instead: a pod bound to a node is deleted
          gracefully (its kubelet then calls ``finalize_pod``; ``grace=0`` deletes at once), a namespace
          turns Terminating (see strategies.py).
        Without controllers (``self.controllers_running`` False) deletion is immediate, as before.
        """
        meta = old["metadata"]
        running = self.controllers_running
        if policy is None:
            policy = res.default_propagation
        finalizer = GC_FINALIZERS.get(policy)
        if running and finalizer in res.gc_finalizers:
            if finalizer not in (meta.get("finalizers") or []) or not meta.get("deletionTimestamp"):
                new = copy.deepcopy(dict(old))
                new["metadata"]["finalizers"] = list(meta.get("finalizers") or []) + (
                    [finalizer] if finalizer not in (meta.get("finalizers") or []) else [])
                new["metadata"].setdefault("deletionTimestamp", self.store.now())
                new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
                return self.store.update(res, new)
            return old
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return old
            new = copy.deepcopy(dict(old))
            new["metadata"]["deletionTimestamp"] = self.store.now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.store.update(res, new)
        strategy = strategies.DELETE.get(res.delete_strategy or "")
        if strategy is not None:
            kept = strategy(self, res, old, grace)
            if kept is not None:
                return kept
        return self.store.delete(res, meta.get("namespace", ""), meta["name"])

    def finalize_pod(self, pod: Obj) -> None:
        """The kubelet has stopped a terminating pod's containers: remove it (a delete with grace 0)."""
        meta = pod["metadata"]
        current = self.store.find(resources.get("/pods"), meta.get("namespace", ""), meta["name"])
        if current is not None and current["metadata"].get("uid") == meta.get("uid"):
            self.store.delete(resources.get("/pods"), meta.get("namespace", ""), meta["name"])

    def _deleted(self, req: Request, res: Resource, obj: Obj) -> Response:
        if res.delete_returns_object or obj["metadata"].get("deletionTimestamp"):
            return self._result(req, obj)
        meta = obj["metadata"]
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": {"name": meta["name"], "group": res.group, "kind": res.plural, "uid": meta.get("uid")}})

    def deletecollection(self, req: Request, t: Target) -> Response:
        res = t.res
        items, _ = self.store.list(res, t.namespace, self._matcher(req, res))
        gone = []
        for obj in items:
            if _dry(req):
                gone.append(obj)
                continue
            try:
                gone.append(self.remove(res, obj))
            except ApiError:
                pass
        head = encode({"kind": f"{res.kind}List", "apiVersion": res.api_version,
                       "metadata": {"resourceVersion": str(self.store.resource_version)}})
        return Response(200, head[:-1] + b',"items":[' + b",".join(self.store.encoded(o) for o in gone) + b"]}")

