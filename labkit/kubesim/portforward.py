"""pods/portforward: ``kubectl port-forward`` and the official client's ``portforward()``.

Why: the tutorials reach an app with ``kubectl port-forward pod/web 8080:80`` (or ``svc/web``,
which kubectl resolves to a pod itself) and then ``curl localhost:8080``; the Python client's
``kubernetes.stream.portforward`` does the same from a notebook. Nothing is started on the host:
the bytes of each forwarded connection go to a :class:`~.serving.Conversation` with what
serves on that port of the pod (the image's answers in data/images.yaml).

Three wire protocols, as the kubelet and API server speak them:
- kubectl 1.30+ default: a WebSocket with subprotocol ``SPDY/3.1+portforward.k8s.io`` whose binary
  messages carry a SPDY/3.1 session (:mod:`.spdy`);
- the fallback (``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``, older clients): ``Upgrade: SPDY/3.1``
  with ``X-Stream-Protocol-Version: portforward.k8s.io``, SPDY straight on the connection;
- in both, each local connection opens a pair of streams (headers ``streamType`` error/data,
  ``port``, ``requestID``); a port nothing listens on gets the kubelet's message on the error stream;
- the Python client: WebSocket ``v4.channel.k8s.io`` with ``?ports=80,8080``: per port a data channel
  (2i) and an error channel (2i+1), each opened by a frame holding the port (little-endian).

No thread is started per connection: everything runs in the HTTP connection's own thread, which
ends when the client goes away.
"""
from __future__ import annotations

import hashlib
import struct
import uuid
from typing import Any, BinaryIO

from . import errors, resources, serving, spdy, websocket
from .routing import Request, Response, Target

Obj = dict[str, Any]
TUNNEL = "SPDY/3.1+portforward.k8s.io"
SPDY_PROTOCOL = "portforward.k8s.io"
CHANNEL_PROTOCOLS = ["v4.channel.k8s.io", "portforward.k8s.io"]


def sandbox_id(pod: Obj) -> str:
    """The pod sandbox's id as containerd names it (64 hex digits), stable per pod uid."""
    return hashlib.sha256(("sandbox/" + pod["metadata"].get("uid", "")).encode()).hexdigest()


def refused_message(pod: Obj, port: int) -> str:
    """What the kubelet (containerd's CRI port-forward) writes on the error stream when nothing
    listens on ``port`` inside the pod's network namespace."""
    sandbox = sandbox_id(pod)
    netns = uuid.UUID(hashlib.md5(("netns/" + pod["metadata"].get("uid", "")).encode()).hexdigest())
    return (f"error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network namespace "
            f'"/var/run/netns/cni-{netns}": failed to connect to localhost:{port} inside namespace "{sandbox}", '
            f"IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused ")


class PortForward:
    """``Api.portforward``: the upgrade to one of the three protocols above."""

    def portforward(self, req: Request, t: Target) -> Response:
        pod = self.store.find(resources.get("/pods"), t.namespace or "", t.name or "")  # type: ignore[attr-defined]
        if pod is None:
            raise errors.not_found("", "pods", t.name or "")
        if not (pod.get("spec") or {}).get("nodeName"):
            raise errors.bad_request(f"pod {t.name} does not have a host assigned")
        store = self.store  # type: ignore[attr-defined]
        live = getattr(self, "_sessions", None)  # the sessions the HTTP layer ends when the server stops
        if websocket.is_upgrade(req.headers):
            chosen = websocket.handshake_headers(req.headers, [TUNNEL, *CHANNEL_PROTOCOLS])
            if chosen is None:
                raise errors.bad_request("unable to upgrade: no subprotocol in common (offer "
                                         f"{TUNNEL} or {CHANNEL_PROTOCOLS[0]})")
            headers, protocol = chosen
            if protocol == TUNNEL:
                return Response(101, headers=headers, upgrade=_tracked(live, lambda r, w: _tunnelled(store, pod, r, w)))
            ports = _ports(req)
            if not ports:
                raise errors.bad_request("query parameter \"port\" is required")
            return Response(101, headers=headers, upgrade=_tracked(live, lambda r, w: _channels(store, pod, ports, r, w)))
        upgrade = req.headers.get("upgrade", "").lower()
        offered = [p.strip() for p in req.headers.get("x-stream-protocol-version", "").split(",") if p.strip()]
        if "spdy/3.1" in upgrade:
            if offered and SPDY_PROTOCOL not in offered:
                raise errors.ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                                          f"{offered}, server supports [{SPDY_PROTOCOL}]")
            headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": SPDY_PROTOCOL}
            return Response(101, headers=headers, upgrade=_tracked(live, lambda r, w: _direct(store, pod, r, w)))
        raise errors.bad_request("Upgrade request required")


class _Live:
    """A port-forward connection as the server's stop sees it: ``abort`` shuts its socket."""

    def __init__(self, rfile: BinaryIO):
        self.rfile = rfile

    def abort(self) -> None:
        sock = websocket._socket_of(self.rfile)
        if sock is not None:
            try:
                sock.shutdown(2)
            except OSError:
                pass


def _tracked(live, serve):
    """``serve(rfile, wfile)``, registered for the length of the connection among the live sessions."""
    if live is None:
        return serve

    def run(rfile: BinaryIO, wfile: BinaryIO) -> None:
        session = _Live(rfile)
        sessions = live()
        sessions.add(session)
        try:
            serve(rfile, wfile)
        finally:
            sessions.discard(session)
    return run


def _ports(req: Request) -> list[int]:
    raw = getattr(req, "raw_query", None)
    from urllib.parse import parse_qs
    values = parse_qs(raw, keep_blank_values=True).get("ports", []) if raw else [req.query.get("ports", "")]
    out = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit():
                out.append(int(part))
    return out


# ---- SPDY (direct or tunnelled): stream pairs --------------------------------------------------
def _direct(store, pod: Obj, rfile: BinaryIO, wfile: BinaryIO) -> None:
    serve_spdy(store, pod, spdy.Connection.over(rfile, wfile))


def _tunnelled(store, pod: Obj, rfile: BinaryIO, wfile: BinaryIO) -> None:
    ws = websocket.WebSocket(rfile, wfile)
    pipe = spdy.WebSocketPipe(ws)
    try:
        serve_spdy(store, pod, spdy.Connection(pipe.read, pipe.write))
    finally:
        ws.close()


def serve_spdy(store, pod: Obj, conn: spdy.Connection) -> None:
    """Serve port-forward stream pairs on a SPDY session until the client goes away."""
    pairs: dict[str, dict[str, spdy.Stream]] = {}

    def on_stream(stream: spdy.Stream) -> None:
        kind = stream.header("streamtype")
        request = stream.header("requestid", str(stream.id))
        if kind not in ("data", "error"):
            stream.reset(spdy.PROTOCOL_ERROR)
            return
        pair = pairs.setdefault(request, {})
        pair[kind] = stream
        if len(pair) == 2:
            del pairs[request]
            _start_pair(store, pod, pair["data"], pair["error"])
    conn.serve(on_stream)


def _start_pair(store, pod: Obj, data: spdy.Stream, error: spdy.Stream) -> None:
    try:
        port = int(data.header("port"))
    except ValueError:
        error.write(f'invalid port "{data.header("port")}"'.encode())
        error.close()
        data.close()
        return
    try:
        talk = serving.Conversation(store, pod, port)
    except serving.ConnectionRefused:
        error.write(refused_message(pod, port).encode())
        error.close()
        data.close()
        return

    def on_data(chunk: bytes, fin: bool) -> None:
        if chunk:
            answer = talk.feed(chunk)
            if answer:
                data.write(answer)
        if fin:
            talk.end()
        if talk.closed:
            data.close()
            error.close()
    if talk.closed:  # a server that hangs up at once (not HTTP)
        data.close()
        error.close()
        return
    data.listen(on_data)


# ---- the Python client's channels (v4.channel.k8s.io) -------------------------------------------
def _channels(store, pod: Obj, ports: list[int], rfile: BinaryIO, wfile: BinaryIO) -> None:
    ws = websocket.WebSocket(rfile, wfile)
    talks: list[serving.Conversation | None] = []
    try:
        for i, port in enumerate(ports):
            head = struct.pack("<H", port)
            ws.send(bytes([2 * i]) + head)
            ws.send(bytes([2 * i + 1]) + head)
        for i, port in enumerate(ports):  # the kubelet dials every port at once
            try:
                talks.append(serving.Conversation(store, pod, port))
            except serving.ConnectionRefused:
                talks.append(None)
                ws.send(bytes([2 * i + 1]) + refused_message(pod, port).encode())
        while True:
            message = ws.recv()
            if message is None:
                return
            payload = message[1]
            if not payload or payload[0] % 2 or payload[0] // 2 >= len(talks):
                continue
            talk = talks[payload[0] // 2]
            if talk is None or talk.closed:
                continue
            answer = talk.feed(payload[1:])
            if answer:
                ws.send(bytes([payload[0]]) + answer)
    finally:
        ws.close()
