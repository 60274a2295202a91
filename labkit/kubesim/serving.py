"""What answers a connection to an address inside the emulated cluster (the data plane's servers).

Why its own module: the API server's proxy subresources, ``kubectl port-forward``, and the
container shell's ``wget``/``curl``/``nc`` all need the same two answers, and the traffic issue will
grow them: *who is listening at this address and port* (:func:`resolve`: a pod IP, a Service's
ClusterIP, a NodePort on any node) and *what does that server say to this HTTP request*
(:func:`http_request`). Nothing is started on the host: what an image answers is data, the
``responses:`` of its entry in ``data/images.yaml``; which ports a container listens on comes from
the image and its ``command`` (:mod:`.programs`, the same facts the kubelet's probes use).

Rules, as on a real cluster:
- only a Running pod whose (running) container serves the port answers; anything else is refused
  with the dialer's wording, ``dial tcp IP:PORT: connect: connection refused``;
- a ClusterIP's port, or a NodePort on any node's IP, goes to one *ready* endpoint of the Service
  (its EndpointSlices as the endpoints controller writes them, else its Endpoints), taken in turn
  (round robin per Service), then to that pod's target port; a Service with no ready endpoint
  refuses (kube-proxy rejects such traffic).
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from email.utils import format_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from . import images, programs, resources
from .clock import parse as parse_time

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

Obj = dict[str, Any]
KUBELET_PORT = 10250
REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable"}


class ConnectionRefused(Exception):
    """Nothing listens there; ``message`` is what the dialer says (``dial tcp ...: connection refused``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConnectionClosed(ConnectionRefused):
    """Something listens but does not speak HTTP (redis, postgres): it closes the connection (``EOF``)."""


@dataclass(frozen=True)
class Backend:
    """Where a connection lands: ``pod`` listening on ``port`` (``address`` is ``podIP:port``).

    ``service`` is the Service it went through (None for a pod IP); ``kubelet`` is the node
    object when the address is a node's kubelet port (10250) rather than a pod."""

    pod: Obj | None
    port: int
    address: str
    service: Obj | None = None
    kubelet: Obj | None = None


@dataclass(frozen=True)
class Refused:
    """Nothing answers; ``message`` is the client's error (``dial tcp 10.96.0.5:80: connect: connection refused``)."""

    message: str


@dataclass
class HttpAnswer:
    """One HTTP response of a server in the cluster."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def refused(host: str, port: int) -> str:
    return f"dial tcp {host}:{port}: connect: connection refused"


# ---- who listens where ----------------------------------------------------------------------
def resolve(store: "Store", host: str, port: int, namespace: str = "default") -> Backend | Refused:
    """Who answers a TCP connection to ``host:port`` from inside the cluster.

    ``host`` is a pod IP, a ClusterIP, a node IP (NodePorts and the kubelet) or an IP the caller
    resolved from a DNS name (``localhost`` is the caller's own pod: it passes that pod's IP).
    ``namespace`` is the caller's (unused for IPs, kept for callers that pass names)."""
    pod = pod_by_ip(store, host)
    if pod is not None:
        if listening_container(pod, port) is None:
            return Refused(refused(host, port))
        return Backend(pod, port, f"{host}:{port}")
    svc = service_by_cluster_ip(store, host)
    if svc is not None:
        sport = next((p for p in svc["spec"].get("ports") or [] if p.get("port") == port), None)
        if sport is None:
            return Refused(refused(host, port))
        return _through_service(store, svc, sport, refused(host, port))
    node = node_by_ip(store, host)
    if node is not None:
        if port == KUBELET_PORT:
            return Backend(None, port, f"{host}:{port}", kubelet=node)
        for svc in _services(store):
            if svc["spec"].get("type") not in ("NodePort", "LoadBalancer"):
                continue
            for sport in svc["spec"].get("ports") or []:
                if sport.get("nodePort") == port:
                    return _through_service(store, svc, sport, refused(host, port))
        return Refused(refused(host, port))
    return Refused(f"dial tcp {host}:{port}: connect: no route to host")


def service_backend(store: "Store", svc: Obj, sport: Obj) -> Backend | Refused:
    """The endpoint a connection to Service ``svc`` on its port ``sport`` goes to (round robin
    over ready endpoints), as kube-proxy picks it; Refused (with the pod's address) when the
    chosen pod does not listen, or ``no endpoints`` when none is ready."""
    return _through_service(store, svc, sport, "")


def _through_service(store: "Store", svc: Obj, sport: Obj, refusal: str) -> Backend | Refused:
    ready = ready_endpoints(store, svc, sport)
    if not ready:
        name = svc["metadata"]["name"]
        return Refused(refusal or f'no endpoints available for service "{name}"')
    counters = _turns.setdefault(store, {})
    key = (svc["metadata"]["namespace"], svc["metadata"]["name"], sport.get("port"))
    turn = counters.get(key, 0)
    counters[key] = turn + 1
    ip, target, pod = ready[turn % len(ready)]
    if pod is None or listening_container(pod, target) is None:
        return Refused(refusal or refused(ip, target))
    return Backend(pod, target, f"{ip}:{target}", service=svc)


_turns: "weakref.WeakKeyDictionary[Store, dict[tuple, int]]" = weakref.WeakKeyDictionary()


def ready_endpoints(store: "Store", svc: Obj, sport: Obj) -> list[tuple[str, int, Obj | None]]:
    """(IP, target port, pod or None) of each ready endpoint of ``svc`` for service port ``sport``,
    from its EndpointSlices (as kube-proxy reads them), else from its Endpoints."""
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    pname = sport.get("name") or ""
    slices, _ = store.list(resources.get("discovery.k8s.io/endpointslices"), ns,
                           lambda s: (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == name)
    out: list[tuple[str, int, Obj | None]] = []
    if slices:
        for s in slices:
            target = next((p.get("port") for p in s.get("ports") or [] if (p.get("name") or "") == pname), None)
            if target is None:
                continue
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                for ip in ep.get("addresses") or []:
                    out.append((ip, int(target), _ref_pod(store, ep.get("targetRef"), ip)))
        return out
    ep_obj = store.find(resources.get("/endpoints"), ns, name)
    for subset in (ep_obj or {}).get("subsets") or []:
        target = next((p.get("port") for p in subset.get("ports") or [] if (p.get("name") or "") == pname), None)
        if target is None:
            continue
        for addr in subset.get("addresses") or []:
            out.append((addr["ip"], int(target), _ref_pod(store, addr.get("targetRef"), addr["ip"])))
    return out


def _ref_pod(store: "Store", ref: Obj | None, ip: str) -> Obj | None:
    if ref and ref.get("kind") == "Pod":
        pod = store.find(resources.get("/pods"), ref.get("namespace", ""), ref.get("name", ""))
        if pod is not None and (pod.get("status") or {}).get("podIP") == ip:
            return pod
    return pod_by_ip(store, ip)


def _services(store: "Store") -> list[Obj]:
    return store.list(resources.get("/services"))[0]


def pod_by_ip(store: "Store", ip: str) -> Obj | None:
    """The live (not Succeeded/Failed) pod with that IP, not a host-network one."""
    for pod in store.list(resources.get("/pods"), None, lambda p: (p.get("status") or {}).get("podIP") == ip)[0]:
        if pod["status"].get("phase") not in ("Succeeded", "Failed") and not (pod.get("spec") or {}).get("hostNetwork"):
            return pod
    return None


def service_by_cluster_ip(store: "Store", ip: str) -> Obj | None:
    return next((s for s in _services(store) if ip in ((s.get("spec") or {}).get("clusterIPs") or [(s.get("spec") or {}).get("clusterIP")])), None)


def node_by_ip(store: "Store", ip: str) -> Obj | None:
    for node in store.list(resources.get("/nodes"))[0]:
        if any(a.get("address") == ip for a in (node.get("status") or {}).get("addresses") or []):
            return node
    return None


def pod_ip(pod: Obj) -> str:
    return (pod.get("status") or {}).get("podIP") or ""


# ---- what a pod listens on ---------------------------------------------------------------------
@lru_cache(maxsize=2048)
def _program(image: str, command: tuple[str, ...] | None, args: tuple[str, ...] | None) -> programs.Program:
    return programs.simulate(images.lookup(image), list(command) if command is not None else None,
                             list(args) if args is not None else None)


def serves(container: Obj) -> dict[int, tuple[str, ...]]:
    """The ports (and, for probes, known paths) the container's process listens on."""
    command, args = container.get("command"), container.get("args")
    return _program(container.get("image", ""), tuple(command) if command is not None else None,
                    tuple(args) if args is not None else None).serves


_NC_ECHO = re.compile(r"\bnc\s+-l\w*\s+(?:-p\s+)?(\$\{?\w+\}?|\d+)[^;&|]*-e\s+/bin/cat")
_FOR_LIST = re.compile(r"\bfor\s+\w+\s+in\s+((?:\d+\s*)+);")
_PORT_SERVER = re.compile(r"port[-_]server\.py((?:\s+\d+)+)")


def echo_ports(container: Obj) -> set[int]:
    """Ports on which the container runs a TCP echo server: ``nc -l -p PORT -e /bin/cat`` (also in a
    ``for port in 1234 1235`` loop) and the official client's e2e ``port-server.py PORT...``."""
    text = " ".join(str(w) for w in (container.get("command") or []) + (container.get("args") or []))
    ports: set[int] = set()
    for m in _NC_ECHO.finditer(text):
        if m.group(1).isdigit():
            ports.add(int(m.group(1)))
        else:
            for loop in _FOR_LIST.finditer(text):
                ports.update(int(p) for p in loop.group(1).split())
    for m in _PORT_SERVER.finditer(text):
        ports.update(int(p) for p in m.group(1).split())
    return ports


def listening_container(pod: Obj, port: int) -> Obj | None:
    """The container of a Running ``pod`` that is running and listens on ``port``, else None."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running":
        return None
    running = {cs.get("name") for cs in status.get("containerStatuses") or [] if (cs.get("state") or {}).get("running")}
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") in running and (port in serves(c) or port in echo_ports(c)):
            return c
    return None


# ---- what a server says -----------------------------------------------------------------------
def _entry(image: str) -> Obj:
    """The catalogue entry of ``image`` (``{}`` for an unknown one): the same match as images.lookup."""
    repo, _, short = images.normalise(image)
    for entry in images.data()["images"]:
        if short in entry["names"] or repo in entry["names"]:
            return entry
    return {}


def _version(responses: Obj, image: str) -> str:
    tag = images.normalise(image)[1]
    versions = responses.get("versions") or {}
    if tag in versions:
        return str(versions[tag])
    if re.match(r"^\d", tag) and not versions:
        return tag
    return str(responses.get("version", tag))


_FIELD = re.compile(r"\{(hostname|pod_ip|pod_name|namespace|node|version|path|method|host_ip|now|isonow|age|query|host|"
                    r"request_uri|request_headers|request_body|service_account|env:[A-Za-z_][A-Za-z0-9_]*(?::[^}]*)?)\}")


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
        return values.get(key, m.group(0))
    return _FIELD.sub(one, text)


def _go_float(x: float) -> str:
    """A float64 as Go's ``%v`` prints it (shortest form, no ``.0``): the liveness server's ``error: 11``."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def container_age(store: "Store", pod: Obj, container: Obj) -> float:
    """Seconds since the container's current process started (its status' ``startedAt``, sim
    clock): servers whose answers change with their age (the probes page's liveness server).
    The kubelet's own figure when it has one (``startedAt`` keeps whole seconds only)."""
    from .controllers.kubelet import started_at  # late: the kubelet imports what imports this module
    exact = started_at(store, pod, container.get("name", ""))
    if exact is not None:
        return max(0.0, store.clock.time() - exact)
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == container.get("name"):
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt")
            if started:
                return max(0.0, store.clock.now().timestamp() - parse_time(started).timestamp())
    return 0.0


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
    falls back on the ``serves`` paths). The kubelet's httpGet probes ask this."""
    responses = _entry(container.get("image", "")).get("responses") or {}
    if not responses:
        return None
    return int(_choose(responses, path.split("?", 1)[0] or "/", age).get("status", 200))


def changes_with_age(container: Obj) -> bool:
    """Whether some answer of the container's server changes as it ages (an ``after:``): the
    kubelet then re-reads its readiness probe at every period instead of once."""
    responses = _entry(container.get("image", "")).get("responses") or {}
    answers = list((responses.get("paths") or {}).values()) + [responses.get("otherwise") or {}]
    return any("after" in a for a in answers)


def http_request(store: "Store", pod: Obj, port: int, method: str, path: str, headers: dict[str, str],
                 body: bytes) -> HttpAnswer:
    """What the server listening on ``port`` of ``pod`` answers to one HTTP request.

    Raises :class:`ConnectionRefused` when nothing listens there (``dial tcp IP:PORT: connect:
    connection refused``) and :class:`ConnectionClosed` when what listens is not an HTTP server.
    The answer comes from the image's ``responses`` (data/images.yaml): exact path, else ``*``.
    A plain function on purpose: the traffic issue grows it (load, per-request CPU, logs)."""
    container = listening_container(pod, port)
    if container is None:
        raise ConnectionRefused(refused(pod_ip(pod) or "<none>", port))
    image = container.get("image", "")
    responses = _entry(image).get("responses") or {}
    known = serves(container).get(port, ())
    plain = path.split("?", 1)[0] or "/"
    if not responses:
        if not known:
            raise ConnectionClosed("EOF")
        responses = {**GENERIC, "paths": {p: {"type": "text/plain; charset=utf-8", "body": ""} for p in known}}
    age = container_age(store, pod, container)
    answer = _choose(responses, plain, age)
    meta, spec = pod["metadata"], pod.get("spec") or {}
    lower = {k.lower(): v for k, v in headers.items()}
    host = lower.get("host") or f"{pod_ip(pod)}:{port}"
    values = {"hostname": spec.get("hostname") or meta.get("name", ""), "pod_name": meta.get("name", ""),
              "pod_ip": pod_ip(pod), "namespace": meta.get("namespace", ""), "node": spec.get("nodeName", ""),
              "host_ip": (pod.get("status") or {}).get("hostIP", ""), "version": _version(responses, image),
              "path": plain, "method": method.upper(), "now": _go_time(store), "age": _go_float(age),
              "isonow": store.clock.now().strftime("%Y-%m-%dT%H:%M:%S"), "query": path.partition("?")[2],
              "host": host, "request_uri": f"http://{host}{path}",
              "request_headers": "".join(f"\t{k}={v}\n" for k, v in sorted(lower.items())),
              "request_body": body.decode("utf-8", "replace") if body else "-no body in request-",
              "service_account": spec.get("serviceAccountName") or "default"}
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
    if method.upper() == "HEAD":
        data = b""
    return HttpAnswer(status, REASONS.get(status, "Unknown"), out, data)


# a server the catalogue says speaks HTTP but whose answers nobody wrote down: Go's net/http wording
GENERIC: Obj = {"paths": {}, "otherwise": {"status": 404, "type": "text/plain; charset=utf-8", "body": "404 page not found\n"}}


# ---- a connection as a byte stream ---------------------------------------------------------------
class Conversation:
    """One TCP connection to ``port`` of ``pod``, as bytes: ``feed`` what the client sends, get back
    what the server answers. An HTTP server parses requests off the stream (keep-alive, several
    requests per connection, ``Content-Length`` and chunked bodies) and answers each with
    :func:`http_request`; an echo server (``nc -e /bin/cat``) sends the bytes back; a server that is
    not HTTP closes the connection. ``closed`` is True once the server side has closed.

    Raises :class:`ConnectionRefused` when nothing listens there (the caller words the error)."""

    MAX_HEAD = 64 * 1024

    def __init__(self, store: "Store", pod: Obj, port: int):
        container = listening_container(pod, port)
        if container is None:
            raise ConnectionRefused(refused(pod_ip(pod) or "<none>", port))
        self.store, self.pod, self.port = store, pod, port
        self.echo = port in echo_ports(container) and port not in serves(container)
        self.http = not self.echo and bool(serves(container).get(port) or _entry(container.get("image", "")).get("responses"))
        self.closed = not (self.echo or self.http)
        self._buf = b""
        self.requests = 0

    def feed(self, data: bytes) -> bytes:
        if self.closed:
            return b""
        if self.echo:
            return data
        self._buf += data
        out = []
        while not self.closed:
            answer = self._one()
            if answer is None:
                break
            out.append(answer)
        return b"".join(out)

    def end(self) -> bytes:
        """The client closed its side: a server answers nothing more and closes too."""
        self.closed = True
        return b""

    def _one(self) -> bytes | None:
        head_end = self._buf.find(b"\r\n\r\n")
        if head_end < 0:
            if len(self._buf) > self.MAX_HEAD:
                return self._bad(431, "Request Header Fields Too Large")
            return None
        lines = self._buf[:head_end].decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return self._bad(400, "Bad Request")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                return self._bad(400, "Bad Request")
            headers[name.strip().lower()] = value.strip()
        rest = self._buf[head_end + 4:]
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, used = _dechunk(rest)
            if body is None:
                return None
        else:
            try:
                size = int(headers.get("content-length", "0") or 0)
            except ValueError:
                return self._bad(400, "Bad Request")
            if len(rest) < size:
                return None
            body, used = rest[:size], size
        self._buf = rest[used:]
        self.requests += 1
        connection = headers.get("connection", "").lower()
        keep = ("close" not in connection) if version == "HTTP/1.1" else ("keep-alive" in connection)
        path = target
        if target.startswith(("http://", "https://")):  # absolute form (through a proxy)
            path = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        answer = http_request(self.store, self.pod, self.port, method, path, headers, body)
        return self._format(answer, keep)

    def _format(self, answer: HttpAnswer, keep: bool) -> bytes:
        lines = [f"HTTP/1.1 {answer.status} {answer.reason}"]
        lines += [f"{k}: {v}" for k, v in answer.headers.items()]
        if not keep:
            lines.append("Connection: close")
            self.closed = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body

    def _bad(self, status: int, reason: str) -> bytes:
        self.closed = True
        body = f"{status} {reason}".encode()
        return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _dechunk(data: bytes) -> tuple[bytes | None, int]:
    """A chunked body and the bytes it used, or (None, 0) while it is incomplete."""
    body, at = b"", 0
    while True:
        eol = data.find(b"\r\n", at)
        if eol < 0:
            return None, 0
        try:
            size = int(data[at:eol].split(b";")[0] or b"0", 16)
        except ValueError:
            size = 0
        at = eol + 2
        if size == 0:
            end = data.find(b"\r\n", at)  # trailers end with an empty line
            return (body, end + 2) if end >= 0 else (None, 0)
        if len(data) < at + size + 2:
            return None, 0
        body += data[at:at + size]
        at += size + 2
