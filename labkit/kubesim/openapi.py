"""``/openapi/v3``: the index and one OpenAPI 3.0 document per group version, built lazily.

Why: kubectl create/apply first checks, in these documents, that the server supports the
``fieldValidation`` query parameter for the kind being sent (the PATCH operation of its path,
tagged with ``x-kubernetes-group-version-kind``); when it does, kubectl leaves validation to the
server (``?fieldValidation=Strict``) instead of failing with "failed to download openapi".
``kubectl explain`` and client-side ``kubectl apply`` (strategic merge keys) read the schemas.
Documents are built on first request and cached; the hash in the index is derived from the
shipped schema file, so computing the index costs nothing at start-up.
"""
from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from typing import Any

from . import kindstate, resources, schema
from .resources import Resource

_cache: dict[str, bytes] = {}
_lock = threading.Lock()

# What a real API server advertises (the emulator itself asks for no credentials).
BEARER_TOKEN = {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@lru_cache(maxsize=1)
def _data_digest() -> bytes:
    return hashlib.sha512(schema.DATA.read_bytes()).digest()


def _hash(gv_path: str) -> str:
    """Changes whenever the document would: same schemas, version and builder -> same hash."""
    digest = hashlib.sha512(_data_digest())
    digest.update(f"{kindstate.kubernetes_version()}|{gv_path}|3".encode())
    return digest.hexdigest().upper()


def index() -> dict[str, Any]:
    paths = {}
    for group, versions in resources.group_versions().items():
        for version in versions:
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(path)}"}
    return {"paths": paths}


def _param(name: str, where: str, description: str, kind: str = "string", required: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "description": description, "schema": {"type": kind, "uniqueItems": True}}
    if required:
        out["required"] = True
    return out


WRITE_PARAMS = [
    _param("dryRun", "query", "When present, indicates that modifications should not be persisted."),
    _param("fieldManager", "query", "fieldManager is a name associated with the actor or entity that is making these changes."),
    _param("fieldValidation", "query", "fieldValidation instructs the server on how to handle objects in the request "
           "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, Warn (default), Strict."),
]
LIST_PARAMS = [_param(n, "query", d, k) for n, d, k in (
    ("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
    ("continue", "The continue option should be set when retrieving more results from the server.", "string"),
    ("fieldSelector", "A selector to restrict the list of returned objects by their fields.", "string"),
    ("labelSelector", "A selector to restrict the list of returned objects by their labels.", "string"),
    ("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
    ("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from.", "string"),
    ("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
    ("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", "boolean"))]


def _content(ref: str | None) -> dict[str, Any]:
    sch = {"$ref": schema.PREFIX + ref} if ref else {"type": "object"}
    return {"application/json": {"schema": sch}, "application/yaml": {"schema": sch}}


def _op(res: Resource, action: str, op_id: str, ref: str | None, body: str | None = None,
        params: list[dict[str, Any]] | None = None, gvk: tuple[str, str, str] | None = None) -> dict[str, Any]:
    group, version, kind = gvk or (res.group, res.version, res.kind)
    out: dict[str, Any] = {"tags": [res.group or "core"], "operationId": op_id,
                           "responses": {"200": {"description": "OK", "content": _content(ref)},
                                         "401": {"description": "Unauthorized"}},
                           "x-kubernetes-action": action,
                           "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind}}
    if params:
        out["parameters"] = params
    if body is not None:
        if body == "patch":
            out["requestBody"] = {"content": {t: {"schema": {"$ref": schema.PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
                                              for t in ("application/apply-patch+yaml", "application/json-patch+json",
                                                        "application/merge-patch+json", "application/strategic-merge-patch+json")},
                                  "required": True}
        else:
            out["requestBody"] = {"content": {"*/*": {"schema": {"$ref": schema.PREFIX + body} if body else {"type": "object"}}},
                                  "required": True}
    return out


def _build(group: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    roots: list[str] = ["io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"]
    prefix = "/" + _gv_path(group, version)
    name_p = _param("name", "path", "name of the resource", required=True)
    ns_p = _param("namespace", "path", "object name and auth scope, such as for teams and projects", required=True)
    pretty = _param("pretty", "query", "If 'true', then the output is pretty printed.")
    for res in resources.load():
        if res.group != group or res.version != version:
            continue
        ref = res.schema
        list_ref = f"{ref}List" if ref and f"{ref}List" in schema.schemas() else None
        if ref:
            roots.append(ref)
        if list_ref:
            roots.append(list_ref)
        camel = "".join(p.capitalize() for p in (group.split(".")[0] if group else "core").split("-")) + version.capitalize()
        scope = "Namespaced" if res.namespaced else ""
        base = f"{prefix}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{prefix}/{res.plural}"
        scope_params = [ns_p, pretty] if res.namespaced else [pretty]
        collection: dict[str, Any] = {"parameters": scope_params,
                                      "get": _op(res, "list", f"list{camel}{scope}{res.kind}", list_ref, params=LIST_PARAMS)}
        item: dict[str, Any] = {"parameters": [name_p] + scope_params,
                                "get": _op(res, "get", f"read{camel}{scope}{res.kind}", ref)}
        if "create" in res.verbs:
            collection["post"] = _op(res, "post", f"create{camel}{scope}{res.kind}", ref, ref or "", WRITE_PARAMS)
            item["put"] = _op(res, "put", f"replace{camel}{scope}{res.kind}", ref, ref or "", WRITE_PARAMS)
            item["patch"] = _op(res, "patch", f"patch{camel}{scope}{res.kind}", ref, "patch",
                                WRITE_PARAMS + [_param("force", "query", "Force is going to \"force\" Apply requests.", "boolean")])
            item["delete"] = _op(res, "delete", f"delete{camel}{scope}{res.kind}",
                                 "io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        if "deletecollection" in res.verbs:
            collection["delete"] = _op(res, "deletecollection", f"deleteCollection{camel}{scope}{res.kind}",
                                       "io.k8s.apimachinery.pkg.apis.meta.v1.Status")
        paths[base] = collection
        paths[f"{base}/{{name}}"] = item
        if res.namespaced:
            paths[f"{prefix}/{res.plural}"] = {"parameters": [pretty], "get": _op(
                res, "list", f"list{camel}{res.kind}ForAllNamespaces", list_ref, params=LIST_PARAMS)}
        for sub in res.all_subresources():
            if sub == "log":
                paths[f"{base}/{{name}}/log"] = {"parameters": [name_p] + scope_params, "get": _op(
                    res, "connect", f"read{camel}{scope}{res.kind}Log", None)}
                continue
            gvk = ("autoscaling", "v1", "Scale") if sub == "scale" else None
            sref = "io.k8s.api.autoscaling.v1.Scale" if sub == "scale" else ref
            if sub == "scale":
                roots.append(sref)
            title = sub.capitalize()
            paths[f"{base}/{{name}}/{sub}"] = {
                "parameters": [name_p] + scope_params,
                "get": _op(res, "get", f"read{camel}{scope}{res.kind}{title}", sref, gvk=gvk),
                "put": _op(res, "put", f"replace{camel}{scope}{res.kind}{title}", sref, sref or "", WRITE_PARAMS, gvk=gvk),
                "patch": _op(res, "patch", f"patch{camel}{scope}{res.kind}{title}", sref, "patch", WRITE_PARAMS, gvk=gvk)}
    names = schema.closure(tuple(roots))
    all_schemas = schema.schemas()
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": kindstate.kubernetes_version()},
            "paths": paths, "components": {"schemas": {n: all_schemas[n] for n in names},
                                           "securitySchemes": {"BearerToken": BEARER_TOKEN}}}


def document(gv_path: str) -> bytes | None:
    """The JSON bytes of ``/openapi/v3/<gv_path>`` (e.g. ``apis/apps/v1``), or None if not served."""
    with _lock:
        if gv_path in _cache:
            return _cache[gv_path]
    parts = gv_path.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    if version not in resources.group_versions().get(group, []):
        return None
    data = json.dumps(_build(group, version), separators=(",", ":")).encode()
    with _lock:
        _cache[gv_path] = data
    return data


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _field(number: int, data: bytes) -> bytes:
    return bytes([(number << 3) | 2, len(data)]) + data


def v2_protobuf() -> bytes:
    """A minimal OpenAPI v2 document (gnostic protobuf: swagger + info, no definitions).

    kubectl reads ``/openapi/v2`` only for kinds the v3 documents do not describe (unknown or
    mistyped kinds). An empty definition set makes it skip client-side validation for them, so
    the user gets kubectl's real answer: ``no matches for kind "X" in version "v1"``.
    """
    info = _field(1, b"Kubernetes") + _field(2, kindstate.kubernetes_version().encode())
    return _field(1, b"2.0") + _field(2, info)
