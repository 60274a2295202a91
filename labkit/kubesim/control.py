"""The emulator's clock as a Kubernetes-styled API: ``kubesim.labkit.dev/v1alpha1`` ``clocks``.

Why an API group: a learner at a terminal (the HPA walkthrough, a rolling update) has kubectl and
the command-line server, not a Python handle on ``KubeSim.advance``. Served as one more API group
in discovery, the clock is read, sped up and advanced with the tools they already use::

    kubectl get clocks                       # NAME  NOW  SPEED  REALTIME  AGE
    kubectl get clock cluster -o yaml        # spec.speed, status.now, status.realtime
    kubectl patch clock cluster --type merge -p '{"spec":{"speed":10}}'
    kubectl create --raw /apis/kubesim.labkit.dev/v1alpha1/clocks/cluster/advance -f advance.json

One cluster-scoped object, ``cluster``: ``spec.speed`` is how many simulated seconds pass per
real second while the clock follows real time (0 < speed <= 1000; PATCH or PUT changes it),
``status.now`` the simulated time (RFC 3339, never moved onto the wall clock as other
timestamps are, ``wallclock.py``) and ``status.realtime`` whether it follows real time at all (a
frozen emulator moves only when advanced). ``clocks/cluster/advance`` takes a POST of
``{"apiVersion": "kubesim.labkit.dev/v1alpha1", "kind": "Advance", "duration": "5m"}`` (a Go
duration: 90s, 5m, 1h30m) or ``"seconds": 300`` and runs the controllers through that time, as
``KubeSim.advance`` does, then answers the Clock. Bad input gets a ``Status`` whose message says
what to write instead. ``python -m labkit.kubesim ctl`` (``ctl.py``) is a small client of it.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import yaml

from . import discovery, errors, patch
from .clock import MAX_SPEED, SimClock, parse, stamp
from .errors import ApiError
from .machines import MachineControl
from .resources import Resource
from .routing import TABLE, Obj, Request, Response, json_response
from .tables import human_duration

if TYPE_CHECKING:
    from .controllers import Manager

GROUP = "kubesim.labkit.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
NAME = "cluster"
CLOCKS = Resource(group=GROUP, version=VERSION, kind="Clock", plural="clocks", namespaced=False, singular="clock",
                  verbs=("get", "list", "patch", "update"), subresources=("advance",), key=f"{GROUP}/clocks")
MAX_ADVANCE = 24 * 3600.0  # one call runs every timer on the way: a day is thousands of syncs already
URL = f"/apis/{API_VERSION}/clocks/{NAME}"
ADVANCE_EXAMPLE = ('{"apiVersion": "kubesim.labkit.dev/v1alpha1", "kind": "Advance", "duration": "5m"} '
                   '(or "seconds": 300)')
SPEED_EXAMPLE = '{"spec":{"speed":10}}'
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
COLUMNS = [("Name", "string", "the clock's name: the emulator has one, cluster"),
           ("Now", "string", "the simulated time (RFC 3339), what the cluster's timestamps are written with"),
           ("Speed", "number", "simulated seconds per real second while the clock follows real time"),
           ("Realtime", "boolean", "whether the clock follows real time (false: it moves only when advanced)"),
           ("Age", "date", "simulated time since the emulator started")]


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``90s``, ``5m``, ``1h30m``, ``1.5h``); ValueError saying what to write."""
    if not isinstance(text, str):
        raise ValueError(f"a duration is a string such as \"90s\", \"5m\" or \"1h30m\", not {json.dumps(text)}")
    body = text.strip()
    if body in ("0",):
        return 0.0
    if body.startswith("-"):
        raise ValueError(f"the clock cannot go backwards: {text!r} is negative; write a duration such as 5m")
    body = body.lstrip("+")
    if not body or _PART.sub("", body):
        hint = " (a number needs a unit: 300s or 5m)" if re.fullmatch(r"\d+(\.\d*)?", body) else ""
        raise ValueError(f"{text!r} is not a duration{hint}: write a number and a unit, "
                         "such as 90s, 5m, 1h30m (units: ms, s, m, h)")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(body))


def duration_text(seconds: float) -> str:
    """``300`` -> ``5m0s``, as Go prints a duration."""
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    sec = f"{s + frac:.3f}".rstrip("0").rstrip(".") if frac else str(s)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class ClockControl:
    """Serves ``/apis/kubesim.labkit.dev``: the Clock object over one ``SimClock`` (and the manager
    that runs the controllers through an advance; None when the emulator runs without them)."""

    def __init__(self, clock: SimClock, manager: "Manager | None" = None):
        self.clock = clock
        self.manager = manager
        self.machines = MachineControl(manager)  # the nodes' power, beside the clock (machines.py)
        self.resources = (CLOCKS, *self.machines.resources)
        self.created = stamp(clock.now())
        self.uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{GROUP}/clocks/{NAME}/{self.created}"))
        self.generation = 1

    # ---- the object ---------------------------------------------------------------------
    def serves(self, path: str) -> bool:
        path = path.rstrip("/")
        return path == f"/apis/{GROUP}" or path.startswith(f"/apis/{GROUP}/")

    def clock_object(self) -> Obj:
        return {"apiVersion": API_VERSION, "kind": "Clock",
                "metadata": {"name": NAME, "uid": self.uid, "generation": self.generation,
                             "creationTimestamp": self.created},
                "spec": {"speed": _number(self.clock.speed)},
                "status": {"now": stamp(self.clock.now()), "realtime": bool(self.clock.realtime)}}

    def _table(self, objects: list[Obj], include: str) -> Obj:
        rows = []
        now = self.clock.now()
        for obj in objects:
            age = human_duration((now - parse(obj["metadata"]["creationTimestamp"])).total_seconds())
            row: Obj = {"cells": [obj["metadata"]["name"], obj["status"]["now"], obj["spec"]["speed"],
                                  obj["status"]["realtime"], age]}
            if include == "Object":
                row["object"] = obj
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": obj["metadata"]}
            rows.append(row)
        columns = [{"name": n, "type": t, "format": "name" if n == "Name" else "", "description": d, "priority": 0}
                   for n, t, d in COLUMNS]
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
                "rows": rows}

    def _answer(self, req: Request, obj: Obj, list_kind: str = "") -> Response:
        """The Clock (or a ClockList of it), or the Table kubectl asks for (``as=Table``)."""
        if TABLE in req.headers.get("accept", "").replace(" ", ""):
            return json_response(self._table([obj], req.query.get("includeObject", "Metadata")))
        if list_kind:
            return json_response({"apiVersion": API_VERSION, "kind": list_kind, "metadata": {}, "items": [obj]})
        return json_response(obj)

    # ---- routing ------------------------------------------------------------------------
    def handle(self, req: Request, rest: list[str]) -> Response:
        """``rest``: the URL's parts after ``/apis/kubesim.labkit.dev``."""
        if not rest:
            return json_response(discovery.api_group(GROUP, self.resources))
        if rest[0] != VERSION:
            raise errors.path_not_found()
        rest = rest[1:]
        if not rest:
            if req.method != "GET":
                raise errors.method_not_allowed()
            return json_response(discovery.resource_list(GROUP, VERSION, self.resources))
        if rest[0] == "machines":
            return self.machines.handle(req, rest[1:])
        if rest[0] != "clocks" or len(rest) > 3:
            raise errors.path_not_found()
        if req.flag("watch"):
            raise ApiError(405, "MethodNotAllowed", "the clock cannot be watched: read it again "
                           "(kubectl get clock cluster), its status.now changes all the time")
        if len(rest) == 1:
            if req.method != "GET":
                raise errors.method_not_allowed()
            return self._answer(req, self.clock_object(), list_kind="ClockList")
        name = rest[1]
        if name != NAME:
            raise ApiError(404, "NotFound", f'clocks.{GROUP} "{name}" not found: the emulator has one clock, '
                           f'named {NAME} (kubectl get clock {NAME})', {"name": name, "group": GROUP, "kind": "clocks"})
        if len(rest) == 3:
            if rest[2] != "advance":
                raise errors.path_not_found()
            if req.method != "POST":
                raise ApiError(405, "MethodNotAllowed", f"advance takes a POST of {ADVANCE_EXAMPLE}, e.g. "
                               f"kubectl create --raw {URL}/advance -f advance.json")
            return self.advance(req)
        if req.method == "GET":
            return self._answer(req, self.clock_object())
        if req.method in ("PATCH", "PUT"):
            return self.change(req)
        raise ApiError(405, "MethodNotAllowed", f"the clock can be read (GET), changed (PATCH or PUT of spec.speed) "
                       f"and advanced (POST {URL}/advance), not deleted or created; {req.method} is none of those")

    # ---- writes -------------------------------------------------------------------------
    def _body(self, req: Request, example: str) -> Any:
        text = req.body.decode("utf-8", "replace").strip()
        if not text:
            raise errors.bad_request(f"the request has no body: send {example}")
        try:
            return json.loads(text)
        except ValueError:
            pass
        try:
            return yaml.safe_load(text)  # the same object written as YAML (create --raw -f advance.yaml)
        except yaml.YAMLError:
            raise errors.bad_request(f"the body is neither JSON nor YAML: send {example}") from None

    def _invalid(self, field: str, value: Any, why: str) -> ApiError:
        return errors.invalid(GROUP, "Clock", NAME, [errors.field_invalid(field, value, why)])

    def change(self, req: Request) -> Response:
        """PATCH (merge, JSON, strategic merge or server-side apply: a Clock has no lists, so all but
        JSON patch mean the same) or PUT of spec.speed."""
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        current = self.clock_object()
        body = self._body(req, SPEED_EXAMPLE)
        if req.method == "PUT":
            if not isinstance(body, dict):
                raise errors.bad_request(f"PUT takes a whole Clock (kubectl get clock {NAME} -o yaml, then edit spec.speed)")
            new = body
        elif ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise errors.bad_request('a JSON patch is a list, e.g. [{"op": "replace", "path": "/spec/speed", "value": 10}]')
            try:
                new = patch.json_patch(current, body)
            except patch.PatchError as exc:
                raise ApiError(422, "Invalid", f"{exc}; e.g. [{{\"op\": \"replace\", \"path\": \"/spec/speed\", \"value\": 10}}]",
                               {"name": NAME, "group": GROUP, "kind": "clocks"}) from None
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json",
                       "application/apply-patch+yaml"):  # server-side apply of a Clock: its spec.speed
            if not isinstance(body, dict):
                raise errors.bad_request(f"a merge patch is an object, e.g. {SPEED_EXAMPLE}")
            new = patch.json_merge(current, body)
        else:
            raise ApiError(415, "UnsupportedMediaType", f'the clock takes a merge patch: kubectl patch clock {NAME} '
                           f"--type merge -p '{SPEED_EXAMPLE}' (not {ctype or 'a body without a content type'})")
        if not isinstance(new, dict):
            raise errors.bad_request(f"the change must leave a Clock object; send {SPEED_EXAMPLE}")
        speed = self._check(new, current, check_status=req.method == "PATCH")
        if req.query.get("dryRun") != "All" and speed != self.clock.speed:
            self.clock.set_speed(speed)
            self.generation += 1
        answer = self.clock_object()
        if req.query.get("dryRun") == "All":
            answer["spec"]["speed"] = _number(speed)
        return self._answer(req, answer)

    def _check(self, new: Obj, current: Obj, check_status: bool) -> float:
        """The speed the changed object asks for; 400/422 for anything else it changes (a patch that
        sets status.now or status.realtime is told how time moves instead of being silently ignored)."""
        if new.get("kind", "Clock") != "Clock" or new.get("apiVersion", API_VERSION) != API_VERSION:
            raise errors.bad_request(f"the object is a Clock of {API_VERSION}, not {new.get('kind')} of {new.get('apiVersion')}")
        meta = new.get("metadata") if isinstance(new.get("metadata"), dict) else {}
        if meta.get("name", NAME) != NAME:
            raise self._invalid("metadata.name", meta.get("name"), f"the emulator has one clock, named {NAME}")
        status = new.get("status") if check_status else None  # a PUT's status is ignored, as a real server's
        if status is not None and status != current["status"]:
            asked = status.get("now") if isinstance(status, dict) else None
            if asked is not None and asked != current["status"]["now"]:
                raise self._invalid("status.now", asked, f"the time is not set, it is advanced: POST {ADVANCE_EXAMPLE} "
                                    f"to {URL}/advance (or: python -m labkit.kubesim ctl advance 5m)")
            if isinstance(status, dict) and status.get("realtime", current["status"]["realtime"]) != current["status"]["realtime"]:
                raise self._invalid("status.realtime", status.get("realtime"), "whether the clock follows real time is "
                                    "chosen when the emulator starts (start(realtime=...)); set spec.speed instead")
        spec = new.get("spec")
        if not isinstance(spec, dict) or "speed" not in spec:
            raise errors.invalid(GROUP, "Clock", NAME, [errors.field_required("spec.speed", f"e.g. {SPEED_EXAMPLE}")])
        unknown = sorted(set(spec) - {"speed"})
        if unknown:
            raise self._invalid(f"spec.{unknown[0]}", spec[unknown[0]], f"a Clock's spec has only speed, e.g. {SPEED_EXAMPLE}")
        speed = spec["speed"]
        if isinstance(speed, str):
            try:
                speed = float(speed.rstrip("x"))
            except ValueError:
                pass
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed <= MAX_SPEED:
            raise self._invalid("spec.speed", spec["speed"], f"speed is a number of simulated seconds per real second, "
                                f"more than 0 and at most {MAX_SPEED:g} (1 follows real time), e.g. {SPEED_EXAMPLE}")
        return float(speed)

    def advance(self, req: Request) -> Response:
        body = self._body(req, ADVANCE_EXAMPLE)
        if not isinstance(body, dict):
            raise errors.bad_request(f"advance takes an object: {ADVANCE_EXAMPLE}")
        if body.get("kind", "Advance") != "Advance":
            raise errors.bad_request(f"advance takes kind Advance, not {body.get('kind')!r}: {ADVANCE_EXAMPLE}")
        if body.get("apiVersion", API_VERSION) != API_VERSION:
            raise errors.bad_request(f"advance takes apiVersion {API_VERSION}, not {body.get('apiVersion')!r}: {ADVANCE_EXAMPLE}")
        has_duration, has_seconds = "duration" in body, "seconds" in body
        if has_duration == has_seconds:
            raise errors.bad_request(f"say how far to advance, with duration or seconds (one of them): {ADVANCE_EXAMPLE}")
        if has_duration:
            try:
                seconds = parse_duration(body["duration"])
            except ValueError as exc:
                raise errors.bad_request(f"duration: {exc}") from None
        else:
            seconds = body["seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise errors.bad_request(f"seconds is a number of seconds, 0 or more, not {json.dumps(seconds)}: "
                                         f"{ADVANCE_EXAMPLE}")
        if seconds > MAX_ADVANCE:
            raise errors.bad_request(f"at most 24h at once ({duration_text(seconds)} asked): every controller does the "
                                     "work of every moment on the way; advance in steps of a few hours")
        if req.query.get("dryRun") != "All":
            if self.manager is not None:
                self.manager.advance(float(seconds))
            else:
                self.clock.advance(float(seconds))
        return self._answer(req, self.clock_object())
