"""The REST semantics of the API server, independent of HTTP.

Why separate from the HTTP layer: every verb (get, list, watch, create, update, patch, delete,
deletecollection and the subresources) is a plain method that takes a parsed request and returns
a response or raises :class:`~.errors.ApiError`, so it is testable without sockets and the
HTTP layer (server.py) stays a thin adapter that can never turn a bug into a dead server.
"""
from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from collections.abc import Collection
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs

import yaml

from . import addresses, conversion, defaults, discovery, errors, openapi, patch, protobuf, resources, schema, selectors, tables, validation
from .errors import ApiError
from .resources import Resource
from .clock import stamp as stamp_of
from .store import Event, Store, Stored, encode

Obj = dict[str, Any]
MAX_BODY = 3 * 1024 * 1024  # the API server's request body limit
TABLE = "as=Table"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @classmethod
    def make(cls, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> "Request":
        path, _, qs = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body)

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1", "yes")


@dataclass
class Response:
    code: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # watch: an iterator of JSON lines


def json_response(obj: Any, code: int = 200, content_type: str = "application/json", **headers: str) -> Response:
    return Response(code, encode(obj), content_type, dict(headers))


def error_response(err: ApiError) -> Response:
    return json_response(err.status(), err.code)


@dataclass
class Target:
    """A parsed resource URL."""

    res: Resource
    namespace: str | None
    name: str | None
    sub: str | None
    watch_path: bool = False
    view: Resource | None = None  # the requested version, when it is converted to the stored ``res``


class Api:
    """One emulated API server over one store."""

    def __init__(self, store: Store, address: str = "172.18.0.2:6443",
                 log_source: Callable[[Obj, str], str] | None = None):
        self.store = store
        self.address = address
        self.log_source = log_source or default_logs
        self.defaults = defaults.DefaultContext(store.suffix, self._cluster_ip, self._node_port)
        self.stopping = False
        self.controllers_running = False  # set by the controller manager: deletion then goes through it
        self.virtual: dict[str, Callable[[str | None], list[Obj]]] = {}  # store key -> provider (metrics)

    # ---- allocation (the rules: addresses.py) ----------------------------------------------
    def _cluster_ip(self) -> str:
        """A free ClusterIP from 10.96.0.0/16, drawn from the seeded store generator."""
        used = {(s.get("spec") or {}).get("clusterIP") for s in self.store.list(resources.get("/services"))[0]}
        try:
            return addresses.cluster_ip(self.store.rng, used)
        except addresses.RangeFull as full:
            raise ApiError(500, "InternalError", f"Internal error occurred: {full}") from None

    def _node_port(self, taken: Collection[int] = ()) -> int:
        """A free NodePort, not used by a stored Service nor ``taken`` by the one being created."""
        used = {p.get("nodePort") for s in self.store.list(resources.get("/services"))[0]
                for p in (s.get("spec") or {}).get("ports") or []} | set(taken)
        try:
            return addresses.node_port(self.store.rng, used)
        except addresses.RangeFull as full:
            raise ApiError(500, "InternalError", f"Internal error occurred: {full}") from None

    # ---- entry point -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as err:
            return error_response(err)
        except RecursionError:
            return error_response(errors.bad_request("the request body is nested too deeply"))
        except Exception as exc:  # noqa: BLE001 - never a 500 without a Status
            return error_response(ApiError(500, "InternalError",
                                           f"an error on the server (\"{type(exc).__name__}: {exc}\") has prevented the request from succeeding"))

    def _route(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        accept = req.headers.get("accept", "")
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return json_response(discovery.version_info())
        if path == "/api":
            if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return json_response(discovery.aggregated(core=True), content_type=discovery.AGGREGATED)
            return json_response(discovery.api_versions(self.address))
        if path == "/apis":
            if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return json_response(discovery.aggregated(core=False), content_type=discovery.AGGREGATED)
            return json_response(discovery.api_group_list())
        if path == "/openapi/v2":
            return Response(200, openapi.v2_protobuf(), openapi.V2_PROTOBUF)
        if path == "/openapi/v3":
            return json_response(openapi.index())
        if path.startswith("/openapi/v3/"):
            doc = openapi.document(path[len("/openapi/v3/"):])
            if doc is None:
                raise errors.path_not_found()
            headers = {"Cache-Control": "public, immutable, max-age=31536000"} if req.query.get("hash") else {}
            return Response(200, doc, "application/json", headers)
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
            if parts[1] != "v1":
                raise errors.path_not_found()
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                found = discovery.api_group(parts[1])
                if found is None:
                    raise errors.path_not_found()
                return json_response(found)
            group, version, rest = parts[1], parts[2], parts[3:]
            if version not in resources.group_versions().get(group, []):
                raise errors.path_not_found()
        else:
            raise errors.path_not_found()
        if not rest:
            if req.method != "GET":
                raise errors.method_not_allowed()
            return json_response(discovery.resource_list(group, version))
        target = self._target(group, version, rest)
        return self._dispatch(req, target)

    def _target(self, group: str, version: str, rest: list[str]) -> Target:
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
            if not rest:
                raise errors.path_not_found()
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and not group:
            candidate = resources.by_path(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        elif rest[0] == "namespaces" and len(rest) >= 3 and group:
            namespace, rest = rest[1], rest[2:]
        res = resources.by_path(group, version, rest[0])
        if res is None or len(rest) > 3:
            raise errors.path_not_found()
        if res.namespaced and namespace is None and len(rest) > 1:
            raise errors.path_not_found()
        if not res.namespaced and namespace is not None:
            raise errors.path_not_found()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in res.all_subresources():
            raise errors.path_not_found()
        if res.storage_version:
            stored = resources.by_path(group, res.storage_version, res.plural)
            assert stored is not None
            return Target(stored, namespace, name, sub, watch_path, view=res)
        return Target(res, namespace, name, sub, watch_path)

    def _dispatch(self, req: Request, t: Target) -> Response:
        m, res = req.method, t.res
        if t.watch_path or (m == "GET" and req.flag("watch")):
            if m != "GET":
                raise errors.method_not_allowed()
            return self.watch(req, t)
        verb = {("GET", False): "list", ("GET", True): "get", ("POST", False): "create", ("PUT", True): "update",
                ("PATCH", True): "patch", ("DELETE", True): "delete", ("DELETE", False): "deletecollection"}.get(
                    (m, t.name is not None))
        if verb is None:
            raise errors.method_not_allowed()
        if t.sub is None and verb not in res.verbs:
            raise errors.method_not_allowed()
        if t.sub == "log":
            if verb != "get":
                raise errors.method_not_allowed()
            return self.logs(req, t)
        if t.sub is not None and verb not in ("get", "update", "patch"):
            raise errors.method_not_allowed()
        if verb in ("create", "update", "patch") and len(req.body) > MAX_BODY:
            raise errors.too_large(MAX_BODY)
        if t.view is not None:
            return self._converted(getattr(self, verb)(req, t), t.view)
        return getattr(self, verb)(req, t)

    def _converted(self, response: Response, view: Resource) -> Response:
        """A response about stored objects, in the requested (converted) version."""
        def convert(obj: Any) -> Any:
            if isinstance(obj, dict) and obj.get("kind") not in ("Status", "Table", "Scale"):
                return conversion.from_storage(view.group, view.plural, view.version, obj)
            return obj
        if response.stream is not None:
            inner = response.stream

            def stream() -> Iterator[bytes]:
                try:
                    for chunk in inner:
                        if not chunk.strip():
                            yield chunk
                            continue
                        frame = json.loads(chunk)
                        if frame.get("type") != "BOOKMARK":
                            frame["object"] = convert(frame.get("object"))
                        yield encode(frame) + b"\n"
                finally:
                    close = getattr(inner, "close", None)
                    if close:
                        close()
            response.stream = stream()
            return response
        if response.body and response.content_type.startswith("application/json"):
            try:
                body = json.loads(response.body)
            except ValueError:
                return response
            response.body = encode(convert(body))
        return response

    # ---- helpers -----------------------------------------------------------------------
    def _wants_table(self, req: Request) -> bool:
        return TABLE in req.headers.get("accept", "").replace(" ", "")

    def _decode(self, req: Request, kinds: tuple[str, ...] = ("application/json", "application/yaml")) -> Any:
        ctype = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if not req.body:
            raise errors.bad_request("the request body is empty; a Kubernetes object was expected")
        if ctype == protobuf.CONTENT_TYPE and "application/json" in kinds:
            try:
                return protobuf.decode(req.body)
            except (protobuf.ProtobufError, ValueError, UnicodeDecodeError) as exc:
                raise errors.bad_request(f"the protobuf request body could not be decoded: {exc}") from None
        if ctype not in kinds and ctype not in ("", "*/*", "text/plain"):
            raise errors.unsupported_media(ctype, protobuf=ctype == protobuf.CONTENT_TYPE)
        text = req.body.decode("utf-8", errors="replace")
        try:
            if ctype.endswith("yaml") or ctype.endswith("+yaml"):
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
                if len(docs) != 1:
                    raise errors.bad_request(f"expected one YAML document in the request body, found {len(docs)}")
                return docs[0]
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc.msg} "
                                     f"(line {exc.lineno} column {exc.colno})") from None
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
            raise errors.bad_request(f"error converting YAML to JSON: yaml: {first}") from None

    def _object_body(self, req: Request, t: Target,
                     kinds: tuple[str, ...] = ("application/json", "application/yaml")) -> Obj:
        obj = self._decode(req, kinds)
        res = t.res
        if not isinstance(obj, dict):
            raise errors.bad_request(f"couldn't get version/kind; json parse error: expected a JSON object, got {type(obj).__name__}")
        shown = t.view or res
        want_kind, want_api = (("Scale", "autoscaling/v1") if t.sub == "scale" else (shown.kind, shown.api_version))
        kind = obj.get("kind") or want_kind
        api = obj.get("apiVersion") or want_api
        if obj.get("kind") is not None and not isinstance(obj.get("kind"), str) or (
                obj.get("apiVersion") is not None and not isinstance(obj.get("apiVersion"), str)):
            raise errors.bad_request("couldn't get version/kind; json parse error: kind and apiVersion must be strings")
        if not isinstance(kind, str) or not isinstance(api, str):
            raise errors.bad_request("couldn't get version/kind; json parse error: kind and apiVersion must be strings")
        if api != want_api:
            raise errors.bad_request(f"the API version in the data ({api}) does not match the expected API version ({want_api})")
        if kind != want_kind:
            raise errors.bad_request(f'{kind} in version "{api.split("/")[-1]}" cannot be handled as a {want_kind}: '
                                     f'no kind "{kind}" is registered for version "{api}" in this endpoint')
        obj["kind"], obj["apiVersion"] = kind, api
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(f'{want_kind} in version "{want_api.split("/")[-1]}" cannot be handled as a {want_kind}: '
                                     f'json: cannot unmarshal {type(meta).__name__} into Go struct field {want_kind}.metadata of type v1.ObjectMeta')
        if t.view is not None and t.sub != "scale":
            self._decode_checks(req, t.view, obj)
            obj = conversion.to_storage(t.view.group, t.view.plural, t.view.version, obj)
        return obj

    def _decode_checks(self, req: Request, res: Resource, obj: Obj, kind: str | None = None) -> list[str]:
        """Unknown fields and JSON type errors, as decoding into the Go types finds them."""
        def_name = "io.k8s.api.autoscaling.v1.Scale" if kind == "Scale" else res.schema
        unknown, type_errors = schema.check(obj, def_name)
        kind = kind or res.kind
        version = (obj.get("apiVersion") or res.api_version).split("/")[-1]
        if type_errors:
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {type_errors[0]}')
        mode = req.query.get("fieldValidation", "Warn") or "Warn"
        if mode not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got "{mode}"')
        if unknown and mode == "Strict":
            text = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {text}')
        if unknown and mode == "Warn":
            return [f'unknown field "{u}"' for u in unknown]
        return []

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

    def _result(self, req: Request, obj: Obj, code: int = 200, warnings: list[str] | None = None) -> Response:
        if self._wants_table(req):
            out = json_response(tables.table(obj.get("kind", ""), [obj], self.store.clock.now(),
                                             req.query.get("includeObject", "Metadata")), code)
        else:
            out = Response(code, self.store.encoded(obj))
        if warnings:
            out.headers["Warning"] = ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings[:20])
        return out

    # ---- reads -------------------------------------------------------------------------
    def get(self, req: Request, t: Target) -> Response:
        if t.res.key in self.virtual:
            found = [o for o in self.virtual[t.res.key](t.namespace) if o["metadata"]["name"] == t.name]
            if not found:
                raise errors.not_found(t.res.group, t.res.plural, t.name or "")
            return self._result(req, found[0])
        obj = self.store.get(t.res, t.namespace or "", t.name or "")
        if t.sub == "scale":
            return json_response(self._scale(t.res, obj))
        return self._result(req, obj)

    def _matcher(self, req: Request, res: Resource) -> Callable[[Obj], bool] | None:
        labels = req.query.get("labelSelector")
        fields = req.query.get("fieldSelector")
        if not labels and not fields:
            return None
        lm = selectors.parse_labels(labels)
        fm = selectors.parse_fields(fields, res.kind)
        return lambda obj: lm(obj) and fm(obj)

    def list(self, req: Request, t: Target) -> Response:
        res = t.res
        if res.key in self.virtual:
            match = self._matcher(req, res)
            items = [o for o in self.virtual[res.key](t.namespace) if match is None or match(o)]
            rv = self.store.resource_version
        else:
            items, rv = self.store.list(res, t.namespace, self._matcher(req, res))
        meta: Obj = {"resourceVersion": str(rv)}
        limit = _int(req.query.get("limit"), "limit")
        token = req.query.get("continue")
        if token:
            try:
                start = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
                key = (start["ns"], start["name"])
                meta["resourceVersion"] = str(start.get("rv", rv))
            except Exception:  # noqa: BLE001
                raise errors.bad_request("continue key is not valid: invalid continue token") from None
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > key]
        if limit and limit > 0 and len(items) > limit:
            last = items[limit - 1]["metadata"]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"rv": int(meta["resourceVersion"]), "ns": last.get("namespace", ""), "name": last["name"]}).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if self._wants_table(req):
            return json_response(tables.table(res.kind, items, self.store.clock.now(),
                                              req.query.get("includeObject", "Metadata"), meta))
        head = encode({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta})
        body = head[:-1] + b',"items":[' + b",".join(self.store.encoded(o) for o in items) + b"]}"
        return Response(200, body)

    def watch(self, req: Request, t: Target) -> Response:
        res = t.res
        namespace = t.namespace
        name_filter = t.name
        matcher = self._matcher(req, res)
        rv_text = req.query.get("resourceVersion", "")
        initial = req.flag("sendInitialEvents")
        since: int | None
        if rv_text in ("", "0") or initial:
            since = None
        else:
            since = _int(rv_text, "resourceVersion")
        asked = _int(req.query.get("timeoutSeconds"), "timeoutSeconds")
        timeout = 1800 if asked is None else max(asked, 0)
        bookmarks = req.flag("allowWatchBookmarks")
        as_table = self._wants_table(req)
        include = req.query.get("includeObject", "Metadata")
        watcher, replay = self.store.watch(res, namespace, since)
        clock = self.store.clock
        api = self

        def wanted(obj: Obj) -> bool:
            if name_filter and obj["metadata"].get("name") != name_filter:
                return False
            return matcher is None or matcher(obj)

        def frame(event: Event, first: list[bool]) -> bytes:
            if as_table:
                obj = tables.table(res.kind, [event.obj], clock.now(), include, headers=first[0])
                first[0] = False
                return encode({"type": event.type, "object": obj}) + b"\n"
            return b'{"type":"' + event.type.encode() + b'","object":' + api.store.encoded(event.obj) + b"}\n"

        def stream() -> Iterator[bytes]:
            import time
            first = [True]
            deadline = time.monotonic() + timeout
            last_rv = since or 0
            next_bookmark = time.monotonic() + 5.0
            try:
                for event in replay:
                    last_rv = max(last_rv, event.rv)
                    if wanted(event.obj):
                        yield frame(event, first)
                if initial and bookmarks:
                    yield encode({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(self.store.resource_version),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}}) + b"\n"
                while not api.stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    event = watcher.next(min(left, 1.0))
                    if event is None:
                        if bookmarks and time.monotonic() >= next_bookmark:
                            next_bookmark = time.monotonic() + 5.0
                            yield encode({"type": "BOOKMARK", "object": {
                                "kind": res.kind, "apiVersion": res.api_version,
                                "metadata": {"resourceVersion": str(max(last_rv, self.store.resource_version))}}}) + b"\n"
                        else:
                            yield b""  # lets the HTTP layer notice a closed connection
                        continue
                    last_rv = event.rv
                    if wanted(event.obj):
                        yield frame(event, first)
            finally:
                watcher.close()

        return Response(200, b"", "application/json", {}, stream())

    def logs(self, req: Request, t: Target) -> Response:
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        name = req.query.get("container")
        if not name:
            if len(containers) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(containers)}]")
            name = containers[0]
        elif name not in containers:
            raise errors.bad_request(f"container {name} is not valid for pod {t.name}")
        statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        state = (statuses.get(name) or {}).get("state") or {}
        ran_before = ((statuses.get(name) or {}).get("lastState") or {}).get("terminated")
        if not state.get("running") and not state.get("terminated") and not ran_before:
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            raise errors.bad_request(f'container "{name}" in pod "{t.name}" is waiting to start: {reason}')
        text = self.log_source(pod, name)
        tail = _int(req.query.get("tailLines"), "tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return Response(200, text.encode(), "text/plain")

    # ---- writes ------------------------------------------------------------------------
    def create(self, req: Request, t: Target) -> Response:
        res = t.res
        if t.sub:
            raise errors.method_not_allowed()
        obj = self._object_body(req, t)
        warnings = self._decode_checks(req, res, obj)
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
        if res.status and res.kind not in ("Node", "Namespace", "Service", "PersistentVolume", "PersistentVolumeClaim"):
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
        if res.kind == "Job" or res.kind == "Pod":
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
        elif res.status and res.kind not in ("Node",):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.kind == "Secret":
            defaults.secret(new, self.defaults)
        if res.generation:
            def body(o: Obj) -> Obj:
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}
            meta["generation"] = old_meta.get("generation", 1) + (1 if body(old) != body(new) else 0)
        new["metadata"] = meta
        if t.sub != "status":
            validation.validate(res, new, old)
        if res.kind == "Pod" and t.sub != "status":
            defaults.pod_spec(new.get("spec") or {})
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
        if res.kind in defaults.DEFAULTERS and res.kind not in ("Job", "Namespace", "Secret"):
            defaults.apply(res.kind, new, self.defaults)
        self._managed(new, req, "Apply")
        if _dry(req):
            return self._result(req, new, 200, warnings)
        stored = self.store.update(res, new)
        self.store.applied[key] = copy.deepcopy(applied)
        return self._result(req, stored, 200, warnings)

    def _scale(self, res: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        status = obj.get("status") or {}
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": status.get("replicas", 0),
                           "selector": selectors.selector_string((obj.get("spec") or {}).get("selector"))}}

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
        if policy is None and res.kind == "Job":
            warnings.append("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background "
                            "to remove them or set propagationPolicy=Orphan to suppress this warning")
        out = self._deleted(req, res, self.remove(res, old, grace=grace, policy=policy))
        if warnings:
            out.headers["Warning"] = ", ".join(f'299 - "{w}"' for w in warnings)
        return out

    def remove(self, res: Resource, old: Obj, grace: int | None = None, policy: str | None = None) -> Obj:
        """Delete an object as the registry does: finalizers, graceful pod deletion, propagation.

        - a pod bound to a node and not finished gets a deletionTimestamp and a grace period; its
          kubelet stops the containers and then removes it (``finalize_pod``); ``grace=0`` deletes at once;
        - ``policy`` Foreground / Orphan adds the ``foregroundDeletion`` / ``orphan`` finalizer for the
          garbage collector (the default is Background, except Orphan for Jobs, as the API server);
        - a namespace turns Terminating; the namespace controller deletes its content, then it.
        Without controllers (``self.controllers_running`` False) deletion is immediate, as before.
        """
        meta = old["metadata"]
        running = self.controllers_running
        if policy is None:
            policy = "Orphan" if res.kind == "Job" else "Background"
        if running and policy in ("Foreground", "Orphan") and res.kind not in ("Namespace",) and (
                res.kind != "Pod" or policy == "Orphan"):
            finalizer = "foregroundDeletion" if policy == "Foreground" else "orphan"
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
        if res.kind == "Pod" and running:
            spec = old.get("spec") or {}
            phase = (old.get("status") or {}).get("phase")
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            if spec.get("nodeName") and phase not in ("Succeeded", "Failed") and grace and grace > 0:
                if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds", grace) <= grace:
                    return old
                new = copy.deepcopy(dict(old))
                from datetime import timedelta
                new["metadata"]["deletionTimestamp"] = stamp_of(self.store.clock.now() + timedelta(seconds=grace))
                new["metadata"]["deletionGracePeriodSeconds"] = int(grace)
                return self.store.update(res, new)
        if res.kind == "Namespace":
            name = meta["name"]
            if meta.get("deletionTimestamp"):
                return old
            terminating = copy.deepcopy(dict(old))
            terminating["metadata"]["deletionTimestamp"] = self.store.now()
            terminating["status"] = {"phase": "Terminating"}
            terminating = self.store.update(res, terminating)
            if running:
                return terminating
            for other in resources.load():
                if other.namespaced and not other.readonly:
                    for item in self.store.list(other, name)[0]:
                        try:
                            self.store.delete(other, name, item["metadata"]["name"])
                        except ApiError:
                            pass
            return self.store.delete(res, "", name)
        return self.store.delete(res, meta.get("namespace", ""), meta["name"])

    def finalize_pod(self, pod: Obj) -> None:
        """The kubelet has stopped a terminating pod's containers: remove it (a delete with grace 0)."""
        meta = pod["metadata"]
        current = self.store.find(resources.get("/pods"), meta.get("namespace", ""), meta["name"])
        if current is not None and current["metadata"].get("uid") == meta.get("uid"):
            self.store.delete(resources.get("/pods"), meta.get("namespace", ""), meta["name"])

    def _deleted(self, req: Request, res: Resource, obj: Obj) -> Response:
        if res.kind in ("Pod", "Namespace", "Service", "Node", "ConfigMap", "Secret") or obj["metadata"].get("deletionTimestamp"):
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


def _dry(req: Request) -> bool:
    return req.query.get("dryRun") == "All"


def _int(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f'invalid value for "{name}": "{text}" is not an integer') from None


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


LOG_LINES = {
    "coredns": ".:53\n[INFO] plugin/reload: Running configuration SHA512 = 1b226df79860026c6a52e67daa10d7f0d57ec5b023288ec00c5e05f93523c894564e15b91770d3a07ae1cfbe861d15b37d4a0027e69c546ab112970993a3b03b\nCoreDNS-1.12.1\nlinux/amd64, go1.24.1, 707c7c1\n",
    "kindnet-cni": "INFO: kindnetd starting\nI main.go: Adding route {Ifindex: 0 Dst: 10.244.1.0/24 Flags: [] Table: 0}\n",
    "kube-proxy": "I server_linux.go: \"Using iptables proxy\"\nI server.go: \"Version info\" version=\"v1.36.1\"\n",
}


def default_logs(pod: Obj, container: str) -> str:
    """Simulated logs: a few plausible lines for kind's system pods, nothing for others yet."""
    return LOG_LINES.get(container, "")
