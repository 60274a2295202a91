"""The write verbs: create, update, patch and the scale subresource.

Why its own module: create and update share the generic store's rules (server-owned fields,
generation, status kept or dropped by subresource, defaulting, validation); where one resource
differs the difference is a field of data/resources.yaml or a named strategy (strategies.py),
never a test of its kind here.
"""
from __future__ import annotations

import copy
from typing import Any

from . import conversion, defaults, errors, patch, resources, reviews, schema, selectors, strategies, validation
from .errors import ApiError
from .resources import Resource
from .routing import Obj, Request, Response, Target, dry_run as _dry, json_response
from .store import Stored


class Writes:
    """create, update, patch and scale for :class:`~.api.Api`."""

    def create(self, req: Request, t: Target) -> Response:
        res = t.res
        if t.sub:
            raise errors.method_not_allowed()
        obj = self._object_body(req, t)
        warnings = self._decode_checks(req, res, obj)
        if res.computed:  # a review: answered, never stored
            return reviews.answer(self.store, req, t, obj)
        return self._create_obj(req, t, obj, warnings)

    def _create_obj(self, req: Request, t: Target, obj: Obj, warnings: list[str], operation: str = "Update") -> Response:
        res = t.res
        meta = obj["metadata"]
        self._check_namespace(t, obj)
        if meta.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                    "selfLink", "managedFields"):
            meta.pop(key, None)
        if res.status and not res.keep_status_on_create:
            obj.pop("status", None)
        if not meta.get("name") and meta.get("generateName"):
            if not isinstance(meta["generateName"], str):
                raise errors.bad_request("metadata.generateName must be a string")
            base = meta["generateName"][:58]
            for _ in range(8):
                meta["name"] = base + self.store.suffix()
                if self.store.find(res, t.namespace or "", meta["name"]) is None:
                    break
        name = meta.get("name") or ""
        if res.uid_before_defaults:
            meta["uid"] = self.store.new_uid()  # defaulting needs it (job selector); store keeps it
        validation.validate(res, obj)
        defaults.apply(res.kind, obj, self.defaults)
        validation.validate(res, obj)
        self._managed(obj, req, operation)
        if self.store.find(res, t.namespace or "", name) is not None:
            raise errors.already_exists(res.group, res.plural, name)
        if _dry(req):
            return self._result(req, Stored(obj), 201, warnings)
        stored = self.store.create(res, obj)
        return self._result(req, stored, 201, warnings)

    def _check_namespace(self, t: Target, obj: Obj) -> None:
        if not t.res.namespaced:
            obj["metadata"].pop("namespace", None)
            return
        meta = obj["metadata"]
        if meta.get("namespace") and meta["namespace"] != t.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["namespace"] = t.namespace
        ns = self.store.find(resources.get("/namespaces"), "", t.namespace or "")
        if ns is None:
            raise errors.not_found("", "namespaces", t.namespace or "")
        if (ns.get("status") or {}).get("phase") == "Terminating":
            raise ApiError(403, "Forbidden", f'{t.res.qualified} "{meta.get("name", "")}" is forbidden: unable to create new '
                           f"content in namespace {t.namespace} because it is being terminated",
                           {"name": meta.get("name", ""), "group": t.res.group, "kind": t.res.plural})


    def _prepare_update(self, req: Request, t: Target, old: Obj, new: Obj, operation: str = "Update") -> Obj:
        """Carry server-owned fields over, bump generation, keep status or spec by subresource."""
        res = t.res
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        old_meta = old["metadata"]
        if meta.get("name") not in (None, old_meta["name"]):
            raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL ({old_meta['name']})")
        if res.namespaced and meta.get("namespace") not in (None, "", old_meta.get("namespace")):
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        for key in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta.pop("selfLink", None)
        if t.sub == "status":
            merged = copy.deepcopy(dict(old))
            merged["metadata"] = dict(old_meta)
            if "status" in new:
                merged["status"] = new["status"]
            new = merged
            meta = new["metadata"]  # a /status write changes the status only, never labels or annotations
        elif res.status and not res.update_writes_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        strategy = strategies.update(res)
        if strategy.prepare is not None:
            strategy.prepare(new, self.defaults)
        if res.generation:
            def body(o: Obj) -> Obj:
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}
            meta["generation"] = old_meta.get("generation", 1) + (1 if body(old) != body(new) else 0)
        new["metadata"] = meta
        if t.sub != "status":
            validation.validate(res, new, old)
        if strategy.finish is not None and t.sub != "status":
            strategy.finish(new, self.defaults)
        return new

    def update(self, req: Request, t: Target) -> Response:
        res = t.res
        old = self.store.get(res, t.namespace or "", t.name or "")
        if t.sub == "scale":
            scale = self._object_body(req, t)
            self._decode_checks(req, res, scale, "Scale")
            expect = (scale.get("metadata") or {}).get("resourceVersion")
            return self._apply_scale(req, t, old, scale, expect)
        new = self._object_body(req, t)
        warnings = self._decode_checks(req, res, new)
        expect = new["metadata"].get("resourceVersion")
        if t.name != new["metadata"].get("name", t.name):
            raise errors.bad_request(f"the name of the object ({new['metadata'].get('name')}) does not match the name on the URL ({t.name})")
        return self._store_update(req, t, old, new, expect, warnings)

    def _store_update(self, req: Request, t: Target, old: Obj, new: Obj, expect: Any, warnings: Any) -> Response:
        """The common end of update and patch: defaults, managed fields, dry run, then the store."""
        new = self._prepare_update(req, t, old, new)
        self._managed(new, req, "Update", t.sub)
        if _dry(req):
            return self._result(req, new, 200, warnings)
        stored = self.store.update(t.res, new, expect_rv=expect)
        return self._result(req, stored, 200, warnings)

    def patch(self, req: Request, t: Target) -> Response:
        res = t.res
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        kinds = ("application/json-patch+json", "application/merge-patch+json",
                 "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor")
        if ctype not in kinds:
            raise errors.unsupported_media(ctype)
        if ctype == "application/apply-patch+cbor":
            raise errors.unsupported_media(ctype)
        if ctype == "application/apply-patch+yaml":
            return self._server_side_apply(req, t)
        body = self._decode(req, (ctype,))
        old = self.store.get(res, t.namespace or "", t.name or "")
        current: Obj = self._scale(res, old) if t.sub == "scale" else copy.deepcopy(dict(old))
        def_name = "io.k8s.api.autoscaling.v1.Scale" if t.sub == "scale" else res.schema
        if t.view is not None and t.sub != "scale":
            current = conversion.from_storage(t.view.group, t.view.plural, t.view.version, current)
            def_name = t.view.schema
        node = {"$ref": schema.PREFIX + def_name} if def_name else None
        try:
            if ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                new = patch.json_patch(current, body)
            elif not isinstance(body, dict):
                raise errors.bad_request(f"json: cannot unmarshal {type(body).__name__} into Go value of type map[string]interface {{}}")
            elif ctype == "application/merge-patch+json":
                new = patch.json_merge(current, body)
            else:
                new = patch.strategic_merge(current, body, node if def_name else None) if def_name else patch.json_merge(current, body)
        except patch.PatchError as exc:
            raise ApiError(422, "Invalid", str(exc), {"name": t.name, "group": res.group, "kind": res.plural}) from None
        if not isinstance(new, dict):
            raise errors.bad_request("the patch produced something that is not an object")
        kind = "Scale" if t.sub == "scale" else None
        if t.view is not None and t.sub != "scale":
            self._decode_checks(req, t.view, new)
            new = conversion.to_storage(t.view.group, t.view.plural, t.view.version, new)
        warnings = self._decode_checks(req, res, new, kind)
        expect = None
        if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
            expect = body["metadata"].get("resourceVersion")
        if t.sub == "scale":
            return self._apply_scale(req, t, old, new, expect)
        new.setdefault("metadata", {})
        new["kind"], new["apiVersion"] = res.kind, res.api_version
        return self._store_update(req, t, old, new, expect, warnings)

    def _scale(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        status = obj.get("status") or {}
        selector = (obj.get("spec") or {}).get("selector")
        if res.scale_selector == "map" and selector is not None:
            selector = {"matchLabels": selector}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": status.get("replicas", 0),
                           "selector": selectors.selector_string(selector)}}

    def _apply_scale(self, req: Request, t: Target, old: Obj, scale: Obj, expect: str | None) -> Response:
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("autoscaling", "Scale", t.name or "",
                                 [errors.field_invalid("spec.replicas", replicas, "must be greater than or equal to 0")])
        new = copy.deepcopy(dict(old))
        new["spec"]["replicas"] = replicas
        new["metadata"]["generation"] = old["metadata"].get("generation", 1) + (1 if replicas != old["spec"].get("replicas") else 0)
        self._managed(new, req, "Update", "scale")
        if not _dry(req):
            new = self.store.update(t.res, new, expect_rv=expect)
        return json_response(self._scale(t.res, new))

