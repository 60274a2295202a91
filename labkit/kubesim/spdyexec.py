"""exec and attach over SPDY (``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false``, older clients).

Why its own module: :mod:`.remotecommand` runs a session over WebSocket channels; over SPDY the
same session is a set of streams the client opens, one per ``streamType`` (``error``, ``stdin``,
``stdout``, ``stderr``, ``resize``), negotiated with ``X-Stream-Protocol-Version``
(``v4.channel.k8s.io`` down to ``channel.k8s.io``). This module gives remotecommand a session
object with the same face as its WebSocket one (``stdin``, ``out(channel)``, ``finish(status)``,
``channels.protocol``), so the command itself runs the same way over both transports.
"""
from __future__ import annotations

import json
import threading
from typing import Any, BinaryIO, Callable

from . import errors, spdy, websocket
from .routing import Request, Response

Obj = dict[str, Any]
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
# what the kubelet's SPDY server speaks; the client's first offered one in this list wins
PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
STREAMS_WAIT = 30.0   # the kubelet waits this long for the client to open its streams
FINISH_WAIT = 5.0


class _Channels:
    """What remotecommand asks of a transport: the protocol, and the final Status."""

    def __init__(self, protocol: str, error: spdy.Stream | None):
        self.protocol, self.error = protocol, error
        self.json_status = protocol.startswith("v4.")

    def status(self, status: Obj) -> None:
        if self.error is None:
            return
        if self.json_status:
            self.error.write(json.dumps(status, separators=(",", ":")).encode())
        elif status.get("status") != "Success":
            self.error.write(str(status.get("message", "")).encode())


class SpdySession:
    """One exec/attach session over a SPDY connection's streams (the face of remotecommand.Session)."""

    def __init__(self, conn: spdy.Connection, protocol: str, streams: dict[str, spdy.Stream], stdin, sock_of: BinaryIO):
        self.conn, self.streams, self.stdin = conn, streams, stdin
        self.channels = _Channels(protocol, streams.get("error"))
        self.resizes: list[Obj] = []
        self.gone = False
        self.key: tuple[str, str, str] | None = None
        self._rfile = sock_of
        self._resize_buf = b""
        if stdin is not None and "stdin" in streams:
            streams["stdin"].listen(self._on_stdin)
        if "resize" in streams:
            streams["resize"].listen(self._on_resize)

    def _on_stdin(self, data: bytes, fin: bool) -> None:
        if data:
            self.stdin.feed(data)
        if fin:
            self.stdin.close()

    def _on_resize(self, data: bytes, fin: bool) -> None:
        self._resize_buf += data
        decoder = json.JSONDecoder()
        text = self._resize_buf.decode("utf-8", "replace").lstrip()
        while text:
            try:
                obj, end = decoder.raw_decode(text)
            except ValueError:
                break
            self.resizes.append(obj)
            text = text[end:].lstrip()
        self._resize_buf = text.encode()

    def start(self) -> None:  # the reader is already running (it delivered the streams)
        pass

    def out(self, channel: int) -> Callable[[bytes], None]:
        stream = self.streams.get("stdout" if channel == STDOUT else "stderr" if channel == STDERR else "")

        def write(data: bytes) -> None:
            if data and stream is not None and not self.gone:
                if not stream.write(bytes(data)):
                    self.gone = True
        return write

    def finish(self, status: Obj) -> None:
        if not self.gone:
            self.channels.status(status)
        for stream in self.streams.values():
            stream.close()
        if self.stdin is not None:
            self.stdin.close()

    def abort(self) -> None:
        self.gone = True
        if self.stdin is not None:
            self.stdin.close()
        sock = websocket._socket_of(self._rfile)
        if sock is not None:
            try:
                sock.shutdown(2)
            except OSError:
                pass


def negotiate(req: Request) -> str | None:
    offered = [p.strip() for p in req.headers.get("x-stream-protocol-version", "").split(",") if p.strip()]
    return next((p for p in offered if p in PROTOCOLS), None)


def serve_remotecommand(api, req: Request, wanted, body: Callable[[Any], Obj]) -> Response:
    """The SPDY upgrade for exec/attach: ``wanted`` says which of stdin/stdout/stderr/tty the query
    asked for (remotecommand.Streams); ``body(session)`` runs the command and returns the Status."""
    protocol = negotiate(req)
    if protocol is None:
        offered = req.headers.get("x-stream-protocol-version", "")
        raise errors.ApiError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                                  f"[{offered}], server supports {PROTOCOLS}")
    expected = {"error"} | {name for name, on in (("stdin", wanted.stdin), ("stdout", wanted.stdout),
                                                   ("stderr", wanted.stderr)) if on}
    if wanted.tty and protocol != "channel.k8s.io" and protocol != "v2.channel.k8s.io":
        expected.add("resize")
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol}

    def run(rfile: BinaryIO, wfile: BinaryIO) -> None:
        from .remotecommand import Stdin
        conn = spdy.Connection.over(rfile, wfile)
        got: dict[str, spdy.Stream] = {}
        ready = threading.Event()
        ended = threading.Event()

        def on_stream(stream: spdy.Stream) -> None:
            kind = stream.header("streamtype")
            if kind not in expected or kind in got:
                stream.reset(spdy.PROTOCOL_ERROR)
                return
            got[kind] = stream
            if expected <= got.keys():
                ready.set()
        def on_close() -> None:
            ended.set()
            ready.set()  # stop waiting for streams that will not come
        reader = threading.Thread(target=conn.serve, args=(on_stream, on_close), name="kubesim-spdy-reader", daemon=True)
        reader.start()
        if not ready.wait(STREAMS_WAIT) or not expected <= got.keys():
            conn.goaway()
            _close(rfile)
            reader.join(1.0)
            return
        session = SpdySession(conn, protocol, got, Stdin() if wanted.stdin else None, rfile)
        api._serve(session, body)
        if not ended.wait(FINISH_WAIT):  # the client closes the connection once it has the status
            _close(rfile)
        reader.join(1.0)
    return Response(101, headers=headers, upgrade=run)


def _close(rfile: BinaryIO) -> None:
    sock = websocket._socket_of(rfile)
    if sock is not None:
        try:
            sock.shutdown(2)
        except OSError:
            pass
