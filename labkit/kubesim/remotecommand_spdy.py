"""exec and attach over SPDY/3.1: the streams kubectl opens with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``
(and clients older than 1.30), as the kubelet serves them.

Why its own module: the session is the WebSocket one of :mod:`.remotecommand` in another shape.
The client asks ``Upgrade: SPDY/3.1`` with the ``X-Stream-Protocol-Version`` values it speaks,
then opens one SPDY stream per ``streamType`` header: ``error`` first, then ``stdin``,
``stdout``, ``stderr`` and, with a terminal, ``resize``. The command starts when every stream it
asked for is there; its output goes out as DATA on ``stdout``/``stderr``, its stdin ends with the
client's FIN, and the final ``Status`` is written on ``error`` before every stream is closed.
The framing is :mod:`.spdy`'s (written for port-forward); nothing here knows the shell.
"""
from __future__ import annotations

import json
import threading
from typing import Any, BinaryIO, Callable

from . import errors, spdy, websocket
from .routing import Request, Response

Obj = dict[str, Any]
# what the kubelet negotiates, the client's first one it knows winning; none offered: v1
PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
STREAM_WAIT = 30.0   # the kubelet's stream creation timeout
FINISH_WAIT = 5.0    # after the status: how long the client may take to close the connection


class _StreamStdin:
    """The process's stdin: the client's ``stdin`` stream (b"" once it sent FIN)."""

    def __init__(self, stream: spdy.Stream):
        self.stream = stream

    def read(self, n: int = -1) -> bytes:
        return self.stream.read(n)


class SpdySession:
    """One exec or attach over SPDY: what :mod:`.remotecommand`'s bodies use (``stdin``,
    ``out(channel)``, ``gone``, ``key``, ``translated``), ``finish`` and ``abort``."""

    translated = False  # SPDY goes to the kubelet itself: its wording

    def __init__(self, conn: spdy.Connection, protocol: str, expected: set[str], rfile: BinaryIO):
        self.conn, self.protocol, self.expected, self.rfile = conn, protocol, expected, rfile
        self.streams: dict[str, spdy.Stream] = {}
        self.ready = threading.Event()
        self.stdin: _StreamStdin | None = None
        self.gone = False
        self.key: tuple[str, str, str] | None = None
        self.reader: threading.Thread | None = None

    # ---- from the connection's reader thread --------------------------------------------
    def on_stream(self, stream: spdy.Stream) -> None:
        kind = stream.header("streamtype")
        if kind not in ("error", "stdin", "stdout", "stderr", "resize") or kind in self.streams:
            stream.reset(spdy.PROTOCOL_ERROR)
            return
        if kind == "stdin":
            self.stdin = _StreamStdin(stream)
        elif kind == "resize":
            stream.listen(lambda data, fin: None)  # terminal sizes: accepted, nothing to redraw
        self.streams[kind] = stream
        if self.expected <= set(self.streams):
            self.ready.set()

    def on_close(self) -> None:
        self.gone = True
        self.ready.set()

    def start(self) -> None:
        self.reader = threading.Thread(target=self.conn.serve, args=(self.on_stream, self.on_close),
                                       name="kubesim-exec-reader", daemon=True)
        self.reader.start()

    # ---- for the process ------------------------------------------------------------------
    def out(self, channel: int) -> Callable[[bytes], None]:
        stream = self.streams.get({1: "stdout", 2: "stderr"}.get(channel, ""))

        def write(data: bytes) -> None:
            if data and stream is not None and not self.gone:
                stream.write(bytes(data))
        return write

    def finish(self, status: Obj) -> None:
        error = self.streams.get("error")
        if error is not None and not self.gone:
            if self.protocol.startswith(("v4.", "v5.")):
                error.write(json.dumps(status, separators=(",", ":")).encode())
            elif status.get("status") != "Success":
                error.write(str(status.get("message", "")).encode())
        for stream in self.streams.values():
            stream.close()
        if self.reader is not None:
            self.reader.join(FINISH_WAIT)  # the client closes the connection once it read everything
            if self.reader.is_alive():
                self.abort()
                self.reader.join(1.0)

    def abort(self) -> None:
        self.gone = True
        sock = websocket._socket_of(self.rfile)
        if sock is not None:
            try:
                sock.shutdown(2)
            except OSError:
                pass


def upgrade(api: Any, req: Request, streams: Any, body: Callable[[Any], Obj]) -> Response:
    """The ``101`` to SPDY/3.1 and the session that follows (``streams``: remotecommand.Streams)."""
    offered = [p.strip() for p in req.headers.get("x-stream-protocol-version", "").split(",") if p.strip()]
    protocol = next((p for p in offered if p in PROTOCOLS), None) if offered else "channel.k8s.io"
    if protocol is None:
        raise errors.ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                                f"{offered}, server supports {PROTOCOLS}")
    expected = {"error"} | {name for name, wanted in (("stdin", streams.stdin), ("stdout", streams.stdout),
                                                       ("stderr", streams.stderr)) if wanted}
    if streams.tty and protocol not in ("channel.k8s.io", "v2.channel.k8s.io"):
        expected.add("resize")

    def run(rfile: BinaryIO, wfile: BinaryIO) -> None:
        session = SpdySession(spdy.Connection.over(rfile, wfile), protocol, expected, rfile)
        session.start()
        if not session.ready.wait(STREAM_WAIT) or session.gone:
            session.abort()
            return
        api._serve(session, body)
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol}
    return Response(101, headers=headers, upgrade=run)
