"""Server-side apply and managed fields.

Why its own module: apply merges what one field manager applied with the live object
(removing what it applied before and no longer does), and every write records who changed
which fields (``metadata.managedFields``); both are the same for every resource.
"""
from __future__ import annotations

import copy
import json
from typing import Any

from . import defaults, errors, patch, schema
from .routing import Obj, Request, Response, Target, dry_run as _dry


class Apply:
    """Server-side apply and managedFields for :class:`~.api.Api`."""

    def _manager(self, req: Request, default_op: str) -> str:
        manager = req.query.get("fieldManager")
        if manager:
            return manager
        agent = req.headers.get("user-agent", "unknown")
        return agent.split("/")[0] or "unknown"

    def _managed(self, obj: Obj, req: Request, operation: str, sub: str | None = None) -> None:
        manager = self._manager(req, operation)
        entries = [e for e in obj["metadata"].get("managedFields") or []
                   if not (e.get("manager") == manager and e.get("operation") == operation and e.get("subresource") == sub)]
        entry = {"manager": manager, "operation": operation, "apiVersion": obj.get("apiVersion"),
                 "time": self.store.now(), "fieldsType": "FieldsV1", "fieldsV1": fieldset(obj, sub)}
        if sub:
            entry["subresource"] = sub
        entries.append(entry)
        obj["metadata"]["managedFields"] = entries

    def _server_side_apply(self, req: Request, t: Target) -> Response:
        res = t.res
        if t.sub:
            raise errors.method_not_allowed()
        manager = req.query.get("fieldManager")
        if not manager:
            raise errors.bad_request("PATCH, application/apply-patch+yaml requests must have a fieldManager specified")
        applied = self._object_body(req, t, ("application/apply-patch+yaml",))
        if applied["metadata"].get("name") not in (None, t.name):
            raise errors.bad_request(f"the name of the object ({applied['metadata'].get('name')}) does not match the name on the URL ({t.name})")
        applied["metadata"]["name"] = t.name
        warnings = self._decode_checks(req, res, applied)
        old = self.store.find(res, t.namespace or "", t.name or "")
        key = (res.key, t.namespace or "", t.name or "", manager)
        if old is None:
            self.store.applied[key] = copy.deepcopy(applied)
            return self._create_obj(req, t, applied, warnings, operation="Apply")
        node = {"$ref": schema.PREFIX + res.schema} if res.schema else None
        before = self.store.applied.get(key, {})
        live = copy.deepcopy(dict(old))
        live = patch.apply_remove(live, before, applied, node)
        new = patch.apply_merge(live, applied, node)
        new["kind"], new["apiVersion"] = res.kind, res.api_version
        new = self._prepare_update(req, t, old, new)
        if res.default_on_apply:
            defaults.apply(res.kind, new, self.defaults)
        self._managed(new, req, "Apply")
        if _dry(req):
            return self._result(req, new, 200, warnings)
        stored = self.store.update(res, new)
        self.store.applied[key] = copy.deepcopy(applied)
        return self._result(req, stored, 200, warnings)


def fieldset(obj: Any, sub: str | None = None) -> Obj:
    """A FieldsV1-like set of the fields present in ``obj`` (list items by name when they have one)."""
    def walk(node: Any) -> Obj:
        if isinstance(node, dict):
            return {f"f:{k}": walk(v) for k, v in node.items()}
        if isinstance(node, list):
            out: Obj = {}
            for item in node:
                if isinstance(item, dict) and "name" in item:
                    out["k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))] = {".": {}, **walk(item)}
                elif not isinstance(item, (dict, list)):
                    out["v:" + json.dumps(item)] = {}
            return out
        return {}
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items()
            if k in ("labels", "annotations", "finalizers", "ownerReferences")}
    body["metadata"] = meta
    if not meta:
        body.pop("metadata")
    if sub == "status":
        body = {"status": body.get("status", {})}
    else:
        body.pop("status", None)
    return walk(body)
