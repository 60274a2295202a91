"""What a server in the emulated cluster says to one HTTP request.

Why its own module: nothing is started on the host; what an image's server answers is data, the
``responses:`` of its entry in ``data/images.yaml`` (per path, else ``otherwise``; answers that
change as the server ages, ``after:``; allowed methods; headers), with ``{placeholders}`` in bodies
and headers filled from the pod's facts and the request (``{hostname}``, ``{pod_ip}``, ``{now}``,
``{request_headers}``, ``{env:NAME}``, ``{arg:NAME}`` a query argument, ``{client}``...). The proxy subresources, port-forward (through
:mod:`.conversation`), the shell's ``wget``/``curl`` and the kubelet's httpGet probes
(:func:`answer_of`, :func:`planned_answer`) all read the same answers. Who is listening at all is :mod:`.backends`;
the public face of both is :mod:`.serving`.

The course web service has no table: its own Flask app answers (:mod:`.appserver`). An image whose
first argument picks a server (agnhost's ``liveness``, ``serve-hostname``, ``netexec``) answers as
that subcommand's entry (:func:`..images.server`). Every answer carries its cost,
:attr:`HttpAnswer.cpu` in core-seconds: the answer's own ``cpu``, else the image's ``cpu.perRps``
(millicore-seconds per request) over 1000; the web service's ``/work?ms=N`` costs N ms.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from urllib.parse import parse_qs

from . import appserver, images, requestlog
from .backends import ConnectionClosed, ConnectionRefused, listening_container, pod_ip, refused, serves
from .clock import parse as parse_time

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

Obj = dict[str, Any]
REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass
class HttpAnswer:
    """One HTTP response of a server in the cluster."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cpu: float = 0.0  # core-seconds the server spent on this request (the load model's cost per request)


def responses_of(image: str | Obj) -> Obj:
    """The ``responses:`` of ``image``'s catalogue entry (``{}`` when it has none or is unknown);
    given a container, of the server its command chooses (agnhost's subcommands)."""
    if isinstance(image, dict):
        return images.server(image).get("responses") or {}
    return images.lookup(image).entry.get("responses") or {}


def _version(responses: Obj, image: str) -> str:
    tag = images.normalise(image)[1]
    versions = responses.get("versions") or {}
    if tag in versions:
        return str(versions[tag])
    if re.match(r"^\d", tag) and not versions:
        return tag
    return str(responses.get("version", tag))


_FIELD = re.compile(r"\{(hostname|pod_ip|pod_name|namespace|node|version|path|method|host_ip|now|isonow|jsnow|age|jsage|query|host|"
                    r"requests|status|length|client|clfdate|user_agent|"
                    r"request_uri|request_headers|request_body|service_account|client_port|"
                    r"arg:[A-Za-z_][A-Za-z0-9_]*|env:[A-Za-z_][A-Za-z0-9_]*(?::[^}]*)?)\}")


def _go_time(store: "Store") -> str:
    """The clock as Go prints a ``time.Time`` (agnhost's ``NOW:``)."""
    now = store.clock.now()
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond * 1000:09d} +0000 UTC"


def _fill(text: str, values: dict[str, str], env: dict[str, str]) -> str:
    """Put the pod's facts into a body; only known ``{fields}`` (CSS braces stay as they are)."""
    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key.startswith("env:"):
            _, name, *default = key.split(":", 2)
            return env.get(name, default[0] if default else "")
        if key.startswith("arg:"):  # a query argument, decoded (netexec's /echo?msg=...)
            return (parse_qs(values.get("query", "")).get(key[4:]) or [""])[0]
        return values.get(key, m.group(0))
    return _FIELD.sub(one, text)


def _js_time(store: "Store") -> str:
    """Now as JavaScript prints a Date (``toISOString``): 2026-12-01T12:00:00.123Z."""
    now = store.clock.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _js_number(seconds: float) -> str:
    """Milliseconds over 1000 as JavaScript prints the number: 12.345, or 12 when whole."""
    value = round(seconds * 1000) / 1000
    return str(int(value)) if value == int(value) else repr(value)


def _go_float(x: float) -> str:
    """A float64 as Go's ``%v`` prints it (shortest form, no ``.0``): the liveness server's ``error: 11``."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def container_started(store: "Store", pod: Obj, container: Obj) -> float | None:
    """When the container's current process started (sim seconds since the epoch), or None."""
    from .controllers.kubelet import started_at  # late: the kubelet imports what imports this module
    exact = started_at(store, pod, container.get("name", ""))
    if exact is not None:
        return exact
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container.get("name"):
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if started:
                return parse_time(started).timestamp()
    return None


def container_age(store: "Store", pod: Obj, container: Obj) -> float:
    """Seconds since the container's current process started: servers whose answers change with
    their age (the probes page's liveness server)."""
    started = container_started(store, pod, container)
    return 0.0 if started is None else max(0.0, store.clock.time() - started)


def _choose(responses: Obj, plain: str, age: float) -> Obj:
    """The answer for ``plain`` (exact path, else ``otherwise``); an answer's ``after: {seconds: N,
    ...}`` replaces its fields once the server is N seconds old (``/healthz`` turning 500)."""
    answer = (responses.get("paths") or {}).get(plain) or responses.get("otherwise") or GENERIC["otherwise"]
    later = answer.get("after")
    if later and age > float(later.get("seconds", 0)):
        answer = {**answer, **{k: v for k, v in later.items() if k != "seconds"}}
    return answer


def probe_status(container: Obj, port: int, path: str, age: float) -> int | None:
    """The status an HTTP GET of ``path`` on ``port`` gets from ``container`` when it is ``age``
    seconds old, from its image's ``responses``; None when the catalogue has none (the caller
    falls back on the ``serves`` paths). (The kubelet's probes now ask :func:`planned_answer`
    and :func:`answer_of`, which also know the cost and the in-process app.)"""
    responses = responses_of(container)
    if not responses:
        return None
    return int(_choose(responses, path.split("?", 1)[0] or "/", age).get("status", 200))


def planned_answer(container: Obj, port: int, path: str, age: float) -> HttpAnswer:
    """The status and cost (no body, nothing logged) of a GET of ``path`` to ``container``'s
    catalogue server when it is ``age`` seconds old: what the kubelet's probe plans read ahead.
    Raises :class:`ConnectionClosed` for a port that is not HTTP (redis)."""
    entry = images.server(container)
    responses = entry.get("responses") or {}
    plain = path.split("?", 1)[0] or "/"
    if not responses:
        known = images.server_ports(container, serves(container)).get(port, ())
        if not known:
            raise ConnectionClosed("EOF")
        responses = {**GENERIC, "paths": {p: {} for p in known}}
    answer = _choose(responses, plain, age)
    status = int(answer.get("status", 200))
    return HttpAnswer(status, REASONS.get(status, "Unknown"), cpu=images.request_cpu(entry, answer))


def answers_anytime(container: Obj) -> bool:
    """Whether the container's server may answer differently at any moment (the course web
    service's ``/readyz`` reads files a shell can remove): its probes cannot be planned ahead,
    the kubelet asks it at every period."""
    return appserver.app_entry(container.get("image", "")) is not None


def changes_with_age(container: Obj) -> bool:
    """Whether some answer of the container's server changes as it ages (an ``after:``) or at
    any time (:func:`answers_anytime`): the kubelet then re-reads its readiness probe at every
    period instead of once."""
    if answers_anytime(container):
        return True
    responses = responses_of(container)
    answers = list((responses.get("paths") or {}).values()) + [responses.get("otherwise") or {}]
    return any("after" in a for a in answers)


def http_request(store: "Store", pod: Obj, port: int, method: str, path: str, headers: dict[str, str],
                 body: bytes, client: str = "127.0.0.1") -> HttpAnswer:
    """What the server listening on ``port`` of ``pod`` answers to one HTTP request.

    Raises :class:`ConnectionRefused` when nothing listens there (``dial tcp IP:PORT: connect:
    connection refused``) and :class:`ConnectionClosed` when what listens is not an HTTP server.
    The answer comes from the image's ``responses`` (data/images.yaml): exact path, else ``*``.
    ``client`` is the caller's address, for the server's access log (:mod:`.requestlog`).
    A plain function on purpose: traffic (load, per-request CPU) can grow it; each answer is logged
    in :mod:`.requestlog` when the image writes an access log."""
    container = listening_container(pod, port, store)
    if container is None:
        raise ConnectionRefused(refused(pod_ip(pod) or "<none>", port))
    answer = answer_of(store, pod, container, port, method, path, headers, body, client)
    requestlog.served(store, pod["metadata"].get("uid", ""), container.get("name", ""), store.clock.time(), answer.cpu)  # its load
    return answer


def answer_of(store: "Store", pod: Obj, container: Obj, port: int, method: str, path: str, headers: dict[str, str],
              body: bytes, client: str = "127.0.0.1", age: float | None = None) -> HttpAnswer:
    """What ``container``'s server (which listens on ``port``: the caller checked) answers: the
    course web service's own app (:mod:`.appserver`), else its catalogue ``responses``. ``age``:
    answer as the server is at that age (the kubelet's planned probes), not logged."""
    image = container.get("image", "")
    if appserver.app_entry(image) is not None:
        at = None if age is None else (container_started(store, pod, container) or store.clock.time()) + age
        return appserver.answer(store, pod, container, port, method, path, headers, body, client, at=at)
    entry = images.server(container)
    responses = entry.get("responses") or {}
    known = images.server_ports(container, serves(container)).get(port, ())
    plain = path.split("?", 1)[0] or "/"
    if not responses:
        if not known:
            raise ConnectionClosed("EOF")
        responses = {**GENERIC, "paths": {p: {"type": "text/plain; charset=utf-8", "body": ""} for p in known}}
    logged_request = age is None
    age = container_age(store, pod, container) if age is None else age
    answer = _choose(responses, plain, age)
    meta, spec = pod["metadata"], pod.get("spec") or {}
    lower = {k.lower(): v for k, v in headers.items()}
    host = lower.get("host") or f"{pod_ip(pod)}:{port}"
    values = {"hostname": spec.get("hostname") or meta.get("name", ""), "pod_name": meta.get("name", ""),
              "pod_ip": pod_ip(pod), "namespace": meta.get("namespace", ""), "node": spec.get("nodeName", ""),
              "host_ip": (pod.get("status") or {}).get("hostIP", ""), "version": _version(responses, image),
              "path": plain, "method": method.upper(), "now": _go_time(store), "age": _go_float(age),
              "isonow": store.clock.now().strftime("%Y-%m-%dT%H:%M:%S"), "query": path.partition("?")[2],
              "jsnow": _js_time(store), "jsage": _js_number(age),
              "host": host, "request_uri": f"http://{host}{path}",
              "request_headers": "".join(f"\t{k}={v}\n" for k, v in sorted(lower.items())),
              "request_body": body.decode("utf-8", "replace") if body else "-no body in request-",
              "service_account": spec.get("serviceAccountName") or "default", "client": client,
              "client_port": str(32768 + sum(map(ord, f"{client}{store.clock.time()}")) * 7919 % 28232)}
    env = {e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e and "name" in e}
    status = int(answer.get("status", 200))
    if method.upper() not in [m.upper() for m in answer.get("methods", responses.get("methods", ["GET", "HEAD", "POST"]))]:
        status, answer = 405, responses.get("notAllowed") or {"status": 405, "type": answer.get("type", "text/plain"), "body": ""}
    text = _fill(str(answer.get("body", "")), values, env)
    data = text.encode()
    out = {"Date": format_datetime(store.clock.now(), usegmt=True)}
    for key, value in {**(responses.get("headers") or {}), **(answer.get("headers") or {})}.items():
        if value is not None:  # an answer's ``null`` drops a server-wide header (an error page has no ETag)
            out[key] = _fill(str(value), values, env)
    if answer.get("type"):
        out["Content-Type"] = answer["type"]
    out["Content-Length"] = str(len(data))
    if responses.get("log") and logged_request:
        uid, name, run = meta.get("uid", ""), container.get("name", ""), container_started(store, pod, container) or 0.0
        logged = {**values, "requests": str(requestlog.count(store, uid, name, run)), "status": str(status),
                  "length": str(len(data)), "client": client, "clfdate": requestlog.clf_date(store.clock.now()),
                  "user_agent": lower.get("user-agent", "-"), "path": path}
        requestlog.record(store, uid, name, store.clock.time(), _fill(str(responses["log"]), logged, env))
    if method.upper() == "HEAD":
        data = b""
    return HttpAnswer(status, REASONS.get(status, "Unknown"), out, data, cpu=images.request_cpu(entry, answer))


# a server the catalogue says speaks HTTP but whose answers nobody wrote down: Go's net/http wording
GENERIC: Obj = {"paths": {}, "otherwise": {"status": 404, "type": "text/plain; charset=utf-8", "body": "404 page not found\n"}}
