"""Routing: the request and response types, URL parsing and verb dispatch of the API server.

Why its own module: which handler a URL and method reach (discovery, OpenAPI, a resource, one of
its subresources, a converted version) is a job of its own, and the same for every resource, so
nothing here knows a kind. The verbs themselves are :mod:`.reads`, :mod:`.writes`,
:mod:`.apply` and :mod:`.deletion`; :class:`~.api.Api` puts them together.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator
from urllib.parse import parse_qs, unquote

from . import conversion, discovery, errors, openapi, rbac, resources
from .errors import ApiError
from .resources import Resource
from .store import encode
from .wallclock import shift_stamps

Obj = dict[str, Any]
MAX_BODY = 3 * 1024 * 1024  # the API server's request body limit
TABLE = "as=Table"
META_KINDS = ("Status", "Table", "Scale")  # answers that are not the resource itself: never converted
CONNECT = {"exec": "exec_command", "attach": "attach", "portforward": "portforward", "proxy": "proxy"}
# subresources a POST creates, by the handler that serves them (a pod's eviction: eviction.py)
CREATED = {"eviction": "evict"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    raw_query: str = ""  # as sent: repeated parameters (exec's ``command=``) need every value

    def values(self, name: str) -> list[str]:
        """Every value of a repeated query parameter, in order (``command=sh&command=-c``)."""
        return parse_qs(self.raw_query, keep_blank_values=True).get(name, [])

    @classmethod
    def make(cls, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> "Request":
        path, _, qs = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(qs, keep_blank_values=True).items()}
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers.items()}, body, qs)

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1", "yes")


@dataclass
class Response:
    code: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # watch: an iterator of JSON lines
    # a protocol switch (code 101, WebSocket or SPDY): the HTTP layer sends the status line and
    # ``headers``, then hands the connection's reader and writer to this callable, which owns
    # the connection until it returns; the connection is closed afterwards
    upgrade: Callable[[BinaryIO, BinaryIO], None] | None = None


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
    proxy_path: str = ""  # what follows ``/proxy`` in a proxy subresource URL ("/" or "/healthz", ...)


class Router:
    """``handle(request)``: parse the URL, pick the verb, answer every failure with a Status."""

    clock_control: Any = None  # control.ClockControl when the emulator serves its clock

    # ---- entry point -------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        # objects' timestamps only: /version's buildDate and the OpenAPI documents never move, and
        # the emulator's own clock (control.py) says the simulated time as it is
        shift = self.wallclock.shift() if req.path.startswith(("/api/", "/apis/")) and not self._controls(req.path) else 0
        if not shift:
            return self._answer(req)
        if "json" in req.headers.get("content-type", "json"):
            req.body = shift_stamps(req.body, -shift)
        if req.query.get("sinceTime"):
            req.query["sinceTime"] = self.wallclock.incoming_text(req.query["sinceTime"])
        response = self._answer(req)
        if response.upgrade is None and "json" in response.content_type:
            if response.stream is not None:
                response.stream = self.wallclock.stream(response.stream)
            else:
                response.body = shift_stamps(response.body, shift)
        return response

    def _answer(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as err:
            return error_response(err)
        except RecursionError:
            return error_response(errors.bad_request("the request body is nested too deeply"))
        except Exception as exc:  # never a 500 without a Status
            return error_response(ApiError(500, "InternalError",
                                           f"an error on the server (\"{type(exc).__name__}: {exc}\") has prevented the request from succeeding"))

    def _route(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        accept = req.headers.get("accept", "")
        user = rbac.requester(req.headers)
        if not user.admin and (not _resource_path(path) or self._controls(path)):  # discovery, /version, the clock
            self._authorize(user, rbac.Attributes(verb=NON_RESOURCE_VERBS.get(req.method, req.method.lower()),
                                                  path=req.path))
        if path in ("/healthz", "/livez", "/readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":  # the API server writes it indented (responsewriters.WriteRawJSON)
            return Response(200, json.dumps(discovery.version_info(), indent=2).encode(), "application/json")
        if path == "/api":
            if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return json_response(discovery.aggregated(core=True), content_type=discovery.AGGREGATED)
            return json_response(discovery.api_versions(self.address))
        if path == "/apis":
            if "as=APIGroupDiscoveryList" in accept and "v=v2;" in accept.replace(" ", "") + ";":
                return json_response(discovery.aggregated(core=False, extra=self._extra()), content_type=discovery.AGGREGATED)
            return json_response(discovery.api_group_list(extra=self._extra()))
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
        parts = [unquote(p) for p in path.strip("/").split("/")]  # as Go's URL.Path: system%3Aadmin is system:admin
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
            if parts[1] != "v1":
                raise errors.path_not_found()
        elif parts[0] == "apis" and len(parts) >= 2:
            if self._controls(path):
                return self.clock_control.handle(req, parts[2:])
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
        if not user.admin:
            self._authorize(user, self._attributes(req, target))
        return self._dispatch(req, target)

    def _authorize(self, user: rbac.User, attrs: rbac.Attributes) -> None:
        if not rbac.authorize(self.store, user, attrs).allowed:
            raise rbac.forbidden(user, attrs)

    def _attributes(self, req: Request, t: Target) -> rbac.Attributes:
        """The request as the authorizer sees it: its verb (as RequestInfo names it) and what it acts on."""
        m = req.method
        if t.sub in CONNECT and t.name is not None:
            verb = CONNECT_VERBS.get(m, m.lower())
        elif t.sub in CREATED and t.name is not None and m == "POST":
            verb = "create"
        elif t.watch_path or (m == "GET" and req.flag("watch")):
            verb = "watch"
        else:
            verb = RESOURCE_VERBS.get((m, t.name is not None), m.lower())
        res = t.view or t.res
        return rbac.Attributes(verb=verb, group=res.group, resource=res.plural, subresource=t.sub or "",
                               namespace=t.namespace or "", name=t.name or "")

    def _controls(self, path: str) -> bool:
        """Whether ``path`` is the emulator's own API group (``control.py``), when it serves one."""
        return self.clock_control is not None and self.clock_control.serves(path)

    def _extra(self) -> tuple[Resource, ...]:
        return self.clock_control.resources if self.clock_control is not None else ()

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
        proxy_path = ""
        if len(rest) > 3 and rest[2] == "proxy":  # .../pods/NAME[:PORT]/proxy/any/path
            proxy_path, rest = "/" + "/".join(rest[3:]), rest[:3]
        elif len(rest) == 3 and rest[2] == "proxy":
            proxy_path = "/"
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
        return Target(res, namespace, name, sub, watch_path, proxy_path=proxy_path)

    def _dispatch(self, req: Request, t: Target) -> Response:
        m, res = req.method, t.res
        if t.sub in CONNECT and t.name is not None:
            return self._connect(req, t)
        if t.sub in CREATED and t.name is not None:
            if m != "POST":
                raise errors.method_not_allowed()
            return getattr(self, CREATED[t.sub])(req, t)
        if t.watch_path or (m == "GET" and req.flag("watch")):
            if m != "GET":
                raise errors.method_not_allowed()
            return self.watch(req, t)
        verb = RESOURCE_VERBS.get((m, t.name is not None))
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

    def _connect(self, req: Request, t: Target) -> Response:
        """The connect subresources (exec, attach, portforward: GET or POST, upgraded to a stream;
        proxy: any method, forwarded to what serves in the cluster)."""
        if t.sub == "proxy":
            return self.proxy(req, t)
        if req.method not in ("GET", "POST"):
            raise errors.method_not_allowed()
        return getattr(self, CONNECT[t.sub])(req, t)

    def _converted(self, response: Response, view: Resource) -> Response:
        """A response about stored objects, in the requested (converted) version."""
        def convert(obj: Any) -> Any:
            if isinstance(obj, dict) and obj.get("kind") not in META_KINDS:
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



# (HTTP method, names one object) -> the verb; a non-resource request's verb is its method, lower-case
RESOURCE_VERBS = {("GET", False): "list", ("GET", True): "get", ("POST", False): "create", ("PUT", True): "update",
                  ("PATCH", True): "patch", ("DELETE", True): "delete", ("DELETE", False): "deletecollection"}
NON_RESOURCE_VERBS = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch", "DELETE": "delete"}
CONNECT_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}  # exec, proxy...


def _resource_path(path: str) -> bool:
    """Whether `path` names a resource (``/api/v1/...``, ``/apis/GROUP/VERSION/...``), not discovery."""
    parts = path.strip("/").split("/")
    return len(parts) >= (3 if parts[0] == "api" else 4) and parts[0] in ("api", "apis")


def dry_run(req: Request) -> bool:
    return req.query.get("dryRun") == "All"


def int_param(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f'invalid value for "{name}": "{text}" is not an integer') from None

