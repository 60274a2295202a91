"""The read verbs: get, list (selectors, paging, tables) and watch.

Why its own module: reads never change the store, and list and watch carry the performance-
sensitive paths (cached JSON encodings joined into one body), which are the same for every resource.
"""
from __future__ import annotations

import base64
import json
from typing import Callable, Iterator

from . import errors, selectors, tables
from .resources import Resource
from .routing import Obj, Request, Response, Target, int_param as _int, json_response
from .store import Event, encode


class Reads:
    """get, list and watch for :class:`~.api.Api`."""

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
            except Exception:
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

