"""The server side of a WebSocket (RFC 6455) over an HTTP connection's reader and writer.

Why its own module: exec, attach and port-forward of kubectl 1.32 and the official Python client
are WebSocket sessions, and the standard library has no WebSocket server. This module knows only
the wire format (the opening handshake's accept key and subprotocol choice, masked client frames,
fragmented messages, ping/pong and the closing handshake); what the bytes mean (the
``channel.k8s.io`` channels) is :mod:`.remotecommand`'s and :mod:`.portforward`'s job.

The HTTP layer sends the ``101 Switching Protocols`` status line and the headers
:func:`handshake_headers` returns, then hands its reader and writer to a :class:`WebSocket`.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
from typing import BinaryIO, Callable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_MESSAGE = 64 * 1024 * 1024  # a larger message closes the connection (1009) rather than the memory
PROTOCOL_ERROR, TOO_BIG = 1002, 1009


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.strip().encode() + GUID).digest()).decode()


def is_upgrade(req_headers: dict[str, str]) -> bool:
    """Whether a request asks to switch to the WebSocket protocol."""
    h = {k.lower(): v for k, v in req_headers.items()}
    return "websocket" in h.get("upgrade", "").lower() and "upgrade" in h.get("connection", "").lower()


def offered_protocols(req_headers: dict[str, str]) -> list[str]:
    """The subprotocols a client offers, in its order of preference."""
    h = {k.lower(): v for k, v in req_headers.items()}
    return [p.strip() for p in h.get("sec-websocket-protocol", "").split(",") if p.strip()]


def handshake_headers(req_headers: dict[str, str], protocols: list[str]) -> tuple[dict[str, str], str] | None:
    """The headers of the ``101`` answer and the chosen subprotocol, or None.

    None when the request is not a WebSocket upgrade (no key, wrong version) or when none of the
    client's offered subprotocols is in ``protocols``. As the Kubernetes API server does, the
    client's first offered protocol that the server allows wins; a client that offers none gets
    "" when ``protocols`` contains "" (then no ``Sec-WebSocket-Protocol`` header is sent).
    """
    h = {k.lower(): v for k, v in req_headers.items()}
    key = h.get("sec-websocket-key", "").strip()
    if not is_upgrade(h) or not key or h.get("sec-websocket-version", "13").strip() != "13":
        return None
    offered = offered_protocols(h) or [""]
    chosen = next((p for p in offered if p in protocols), None)
    if chosen is None:
        return None
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept_key(key)}
    if chosen:
        headers["Sec-WebSocket-Protocol"] = chosen
    return headers, chosen


def read_exact(read: Callable[[int], bytes], n: int) -> bytes | None:
    """Exactly ``n`` bytes from ``read`` (a socket file's or a tunnel's), or None at EOF or a
    broken connection: framed protocols (WebSocket, SPDY) read whole headers and payloads."""
    data = b""
    while len(data) < n:
        try:
            chunk = read(n - len(data))
        except (OSError, ValueError):
            return None
        if not chunk:
            return None
        data += chunk
    return data


class WebSocket:
    """One server-side WebSocket connection.

    ``recv`` is meant for one reader (a session's reader thread); ``send`` and ``close`` may be
    called from any thread (a lock keeps frames whole).
    """

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO, max_message: int = MAX_MESSAGE):
        self.rfile, self.wfile = rfile, wfile
        self.max_message = max_message
        self.closed = False  # a close frame was sent (or the connection broke)
        self.close_code: int | None = None  # the code of the close frame the client sent, if any
        self._lock = threading.Lock()

    # ---- reading -----------------------------------------------------------------------
    def _read(self, n: int) -> bytes | None:
        return read_exact(self.rfile.read, n)

    def _frame(self) -> tuple[bool, int, bytes] | None:
        head = self._read(2)
        if head is None:
            return None
        fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
        masked, length = bool(head[1] & 0x80), head[1] & 0x7F
        if head[0] & 0x70 or not masked:  # no extension was negotiated; a client must mask (5.1)
            self.close(PROTOCOL_ERROR, "protocol error")
            return None
        if length == 126:
            more = self._read(2)
            length = struct.unpack("!H", more)[0] if more else -1
        elif length == 127:
            more = self._read(8)
            length = struct.unpack("!Q", more)[0] if more else -1
        if length < 0:
            return None
        if length > self.max_message:
            self.close(TOO_BIG, "message too big")
            return None
        mask = self._read(4)
        payload = self._read(length) if length else b""
        if mask is None or payload is None:
            return None
        return fin, opcode, _unmask(payload, mask)

    def recv(self) -> tuple[int, bytes] | None:
        """The next whole message as (opcode, payload): ``TEXT`` or ``BINARY``.

        Pings are answered and pongs skipped on the way; None when the client closes (its close
        frame is answered) or the connection ends.
        """
        opcode, parts, size = None, [], 0
        while True:
            frame = self._frame()
            if frame is None:
                self.closed = True
                return None
            fin, op, payload = frame
            if op >= 0x8:  # control frames may come between the fragments of a message
                if not fin or len(payload) > 125:
                    self.close(PROTOCOL_ERROR, "protocol error")
                    return None
                if op == CLOSE:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self.close(self.close_code if self.close_code not in (1005, 1006, 1015) else 1000)
                    return None
                if op == PING:
                    self._write(PONG, payload)
                continue  # a pong: nothing to do
            if (op == CONTINUATION) != (opcode is not None) or op not in (CONTINUATION, TEXT, BINARY):
                self.close(PROTOCOL_ERROR, "protocol error")
                return None
            if opcode is None:
                opcode = op
            parts.append(payload)
            size += len(payload)
            if size > self.max_message:
                self.close(TOO_BIG, "message too big")
                return None
            if fin:
                return opcode, b"".join(parts)

    # ---- writing -----------------------------------------------------------------------
    def _write(self, opcode: int, payload: bytes) -> bool:
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        with self._lock:
            if self.closed:
                return False
            try:
                self.wfile.write(head + payload)
                self.wfile.flush()
            except (OSError, ValueError):
                self.closed = True
                return False
            if opcode == CLOSE:
                self.closed = True
        return True

    def send(self, data: bytes, binary: bool = True) -> bool:
        """Send one message (unmasked, as a server does); False when the connection is gone."""
        return self._write(BINARY if binary else TEXT, bytes(data))

    def ping(self, data: bytes = b"") -> bool:
        return self._write(PING, data[:125])

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send the close frame once (later calls do nothing)."""
        self._write(CLOSE, struct.pack("!H", code) + reason.encode()[:123])

    def abort(self) -> None:
        """Shut the socket down so a thread blocked in :meth:`recv` returns (server stopping)."""
        sock = _socket_of(self.rfile)
        self.closed = True
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _unmask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return payload
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


def _socket_of(stream: BinaryIO) -> socket.socket | None:
    """The socket under a ``socket.makefile`` reader (BufferedReader over SocketIO), if any."""
    raw = getattr(stream, "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None
