"""The server side of SPDY/3.1 framing, as Kubernetes uses it for port-forward (and exec/attach).

Why its own module: ``kubectl port-forward`` speaks SPDY/3.1 streams (draft-3.1 framing with
zlib-compressed header blocks and the draft's preset dictionary), either straight on the
upgraded HTTP connection (``Upgrade: SPDY/3.1``) or tunnelled in WebSocket binary messages
(subprotocol ``SPDY/3.1+portforward.k8s.io``). This module knows only the wire format and the
streams: what a stream pair means is :mod:`.portforward`'s job. It works over any ``read(n)`` /
``write(data)`` pair, so the same code serves both transports.

What is implemented: SYN_STREAM (answered with SYN_REPLY at once, as the kubelet's stream
server accepts every stream), SYN_REPLY, RST_STREAM, SETTINGS, PING (echoed), GOAWAY, HEADERS,
WINDOW_UPDATE (read and ignored: Kubernetes' SPDY library does no flow control), DATA and FIN
(half-close) per stream. One reader (``serve``) per connection, any number of writers.
"""
from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable
from typing import BinaryIO

from .websocket import read_exact

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
MAX_DATA = 32 * 1024  # bytes per DATA frame we send (the format allows 16 MiB)
MAX_FRAME = 16 * 1024 * 1024


def _dictionary() -> bytes:
    """The SPDY/3 header-compression dictionary (draft-3 section 2.6.10.1): length-prefixed header
    names and values, then a run of status codes, reason phrases, dates and content types."""
    words = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
             "accept-ranges age allow authorization cache-control connection content-base content-encoding "
             "content-language content-length content-location content-md5 content-range content-type date etag "
             "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
             "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
             "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
             "method get status").split() + ["200 OK"] + "version HTTP/1.1 url public set-cookie keep-alive origin".split()
    tail = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
    return b"".join(struct.pack("!I", len(w)) + w.encode() for w in words) + tail.encode()


DICTIONARY = _dictionary()
assert len(DICTIONARY) == 1423, len(DICTIONARY)


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1: the connection ends with GOAWAY."""


def encode_headers(headers: dict[str, str | list[str]]) -> bytes:
    """An uncompressed header block: pair count, then length-prefixed lower-case names and values
    (several values of one name joined by NUL)."""
    out = [struct.pack("!I", len(headers))]
    for name, value in headers.items():
        v = "\x00".join(value) if isinstance(value, list) else str(value)
        n, vb = name.lower().encode(), v.encode()
        out.append(struct.pack("!I", len(n)) + n + struct.pack("!I", len(vb)) + vb)
    return b"".join(out)


def decode_headers(block: bytes) -> dict[str, list[str]]:
    """Names (lower case) to their values, from an uncompressed header block."""
    def take(at: int) -> tuple[bytes, int]:
        if at + 4 > len(block):
            raise ProtocolError("header block too short")
        (size,) = struct.unpack_from("!I", block, at)
        if at + 4 + size > len(block):
            raise ProtocolError("header block too short")
        return block[at + 4:at + 4 + size], at + 4 + size
    if len(block) < 4:
        raise ProtocolError("header block too short")
    (count,) = struct.unpack_from("!I", block, 0)
    at, out = 4, {}
    for _ in range(count):
        name, at = take(at)
        value, at = take(at)
        out[name.decode("latin-1").lower()] = value.decode("utf-8", "replace").split("\x00")
    return out


class Stream:
    """One SPDY stream: ``headers`` from its SYN_STREAM; ``read`` what the client sends (b"" once
    it half-closed or reset the stream); ``write``/``close`` (our FIN) / ``reset``."""

    def __init__(self, conn: "Connection", stream_id: int, headers: dict[str, list[str]], fin: bool):
        self.conn, self.id, self.headers = conn, stream_id, headers
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.remote_closed = fin      # the client sent FIN (or the stream/connection ended)
        self.local_closed = False     # we sent FIN
        self.was_reset = False
        self._listener: Callable[[bytes, bool], None] | None = None

    def header(self, name: str, default: str = "") -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    # ---- from the reader thread ----------------------------------------------------------------
    def _feed(self, data: bytes, fin: bool) -> None:
        listener = self._listener
        if listener is not None:
            if fin:
                self.remote_closed = True
            listener(data, fin)
            return
        with self._cond:
            self._buf += data
            if fin:
                self.remote_closed = True
            self._cond.notify_all()

    def _end(self, reset: bool = False) -> None:
        was_open = not self.remote_closed
        with self._cond:
            self.remote_closed = True
            if reset:
                self.was_reset = self.local_closed = True
            self._cond.notify_all()
        if self._listener is not None and was_open:
            self._listener(b"", True)

    def listen(self, on_data: Callable[[bytes, bool], None]) -> None:
        """Have the connection's reader call ``on_data(chunk, fin)`` for what arrives (no thread of
        one's own: for servers that answer at once); what was buffered comes first."""
        with self._cond:
            pending, self._buf = bytes(self._buf), bytearray()
            self._listener = on_data
        if pending or self.remote_closed:
            on_data(pending, self.remote_closed)

    # ---- for the stream's user -----------------------------------------------------------------
    def read(self, n: int = -1, timeout: float | None = None) -> bytes:
        """Up to ``n`` bytes (all buffered with -1), blocking until some arrive; b"" at the end.
        With ``timeout``, b"" also when nothing came in time (check ``remote_closed``)."""
        with self._cond:
            if not self._buf and not self.remote_closed:
                self._cond.wait_for(lambda: self._buf or self.remote_closed, timeout)
            if not self._buf:
                return b""
            if n < 0 or n >= len(self._buf):
                data = bytes(self._buf)
                self._buf.clear()
            else:
                data = bytes(self._buf[:n])
                del self._buf[:n]
            return data

    def write(self, data: bytes) -> bool:
        """Send ``data`` as DATA frames; False once the stream or the connection is gone."""
        if self.local_closed:
            return False
        view = memoryview(data)
        for at in range(0, len(view), MAX_DATA):
            if not self.conn._data(self.id, bytes(view[at:at + MAX_DATA]), False):
                return False
        return True

    def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (once)."""
        if not self.local_closed:
            self.local_closed = True
            self.conn._data(self.id, b"", True)
            self.conn._forget_if_done(self)

    def reset(self, status: int = CANCEL) -> None:
        if not self.was_reset:
            self.was_reset = self.local_closed = True
            self.conn._control(RST_STREAM, 0, struct.pack("!II", self.id & 0x7FFFFFFF, status))
            self._end()
            self.conn._forget(self)


class Connection:
    """A server-side SPDY/3.1 session over ``read(n) -> bytes`` (b"" at EOF) and ``write(bytes)``."""

    def __init__(self, read: Callable[[int], bytes], write: Callable[[bytes], None]):
        self._read, self._write_raw = read, write
        self._wlock = threading.Lock()
        self._hlock = threading.Lock()  # header blocks: compressed and sent in one order (one zlib stream)
        self._deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.streams: dict[int, Stream] = {}
        self.closed = False
        self.last_stream = 0

    @classmethod
    def over(cls, rfile: BinaryIO, wfile: BinaryIO) -> "Connection":
        """A session straight on an upgraded HTTP connection's reader and writer."""
        def write(data: bytes) -> None:
            wfile.write(data)
            wfile.flush()
        return cls(rfile.read, write)

    # ---- writing -------------------------------------------------------------------------------
    def _send(self, frame: bytes) -> bool:
        with self._wlock:
            if self.closed:
                return False
            try:
                self._write_raw(frame)
                return True
            except (OSError, ValueError):
                self.closed = True
                return False

    def _control(self, kind: int, flags: int, payload: bytes) -> bool:
        head = struct.pack("!HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload))
        return self._send(head + payload)

    def _data(self, stream_id: int, data: bytes, fin: bool) -> bool:
        head = struct.pack("!II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data))
        return self._send(head + data)

    def _with_headers(self, kind: int, flags: int, stream_id: int, headers: dict[str, str | list[str]]) -> None:
        with self._hlock:
            block = self._deflate.compress(encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self._control(kind, flags, struct.pack("!I", stream_id & 0x7FFFFFFF) + block)

    def reply(self, stream: Stream, headers: dict[str, str | list[str]] | None = None, fin: bool = False) -> None:
        """SYN_REPLY for ``stream`` (``serve`` sends an empty one for every new stream)."""
        self._with_headers(SYN_REPLY, FLAG_FIN if fin else 0, stream.id, headers or {})

    def send_headers(self, stream: Stream, headers: dict[str, str | list[str]]) -> None:
        self._with_headers(HEADERS, 0, stream.id, headers)

    def ping(self, ping_id: int = 2) -> None:
        self._control(PING, 0, struct.pack("!I", ping_id))

    def goaway(self, status: int = 0) -> None:
        self._control(GOAWAY, 0, struct.pack("!II", self.last_stream, status))

    # ---- bookkeeping ---------------------------------------------------------------------------
    def _forget(self, stream: Stream) -> None:
        self.streams.pop(stream.id, None)

    def _forget_if_done(self, stream: Stream) -> None:
        if stream.local_closed and stream.remote_closed:
            self._forget(stream)

    # ---- reading -------------------------------------------------------------------------------
    def _exact(self, n: int) -> bytes | None:
        return read_exact(self._read, n)

    def _block(self, data: bytes) -> dict[str, list[str]]:
        try:
            return decode_headers(self._inflate.decompress(data))
        except zlib.error as exc:
            raise ProtocolError(f"header block: {exc}") from None

    def serve(self, on_stream: Callable[[Stream], None], on_close: Callable[[], None] | None = None) -> None:
        """Read frames until the client goes away: each new stream gets a SYN_REPLY and is handed
        to ``on_stream`` (which must not block: it starts whatever works on the stream). When the
        connection ends every stream reads EOF, then ``on_close`` runs."""
        try:
            while True:
                head = self._exact(8)
                if head is None:
                    return
                first, second = struct.unpack("!II", head)
                flags, length = second >> 24, second & 0xFFFFFF
                if length > MAX_FRAME:
                    raise ProtocolError("frame too large")
                payload = self._exact(length) if length else b""
                if payload is None:
                    return
                if first & 0x80000000:
                    if not self._on_control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload, on_stream):
                        return
                else:
                    stream = self.streams.get(first & 0x7FFFFFFF)
                    if stream is None:
                        continue  # data for a stream we reset or forgot: dropped, as spdystream does
                    stream._feed(payload, bool(flags & FLAG_FIN))
                    self._forget_if_done(stream)
        except ProtocolError:
            self.goaway(1)
        finally:
            with self._wlock:
                self.closed = True
            for stream in list(self.streams.values()):
                stream._end(reset=True)
            self.streams.clear()
            if on_close is not None:
                on_close()

    def _on_control(self, version: int, kind: int, flags: int, payload: bytes,
                    on_stream: Callable[[Stream], None]) -> bool:
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        if kind == SYN_STREAM:
            if len(payload) < 10:
                raise ProtocolError("short SYN_STREAM")
            (sid,) = struct.unpack_from("!I", payload, 0)
            sid &= 0x7FFFFFFF
            headers = self._block(payload[10:])
            if sid in self.streams or sid == 0:
                self._control(RST_STREAM, 0, struct.pack("!II", sid, PROTOCOL_ERROR))
                return True
            stream = Stream(self, sid, headers, bool(flags & FLAG_FIN))
            self.streams[sid] = stream
            self.last_stream = max(self.last_stream, sid)
            self.reply(stream)
            on_stream(stream)
        elif kind == RST_STREAM:
            if len(payload) >= 8:
                (sid,) = struct.unpack_from("!I", payload, 0)
                stream = self.streams.pop(sid & 0x7FFFFFFF, None)
                if stream is not None:
                    stream._end(reset=True)
        elif kind == PING:
            self._control(PING, 0, payload[:4])  # the client's ping (odd id): echo it
        elif kind == GOAWAY:
            return False
        elif kind in (HEADERS, SYN_REPLY):
            if len(payload) >= 4:
                self._block(payload[4:])  # keeps the zlib stream in step; nothing else to do
        # SETTINGS and WINDOW_UPDATE: nothing to do (no flow control, as Kubernetes' spdystream)
        return True


class WebSocketPipe:
    """``read``/``write`` over a WebSocket's binary messages (SPDY tunnelled, as kubectl 1.30+ does:
    every message is a chunk of the SPDY byte stream, no channel byte)."""

    def __init__(self, ws):
        self.ws = ws
        self._pending = b""

    def read(self, n: int) -> bytes:
        while not self._pending:
            message = self.ws.recv()
            if message is None:
                return b""
            self._pending = message[1]
        data, self._pending = self._pending[:n], self._pending[n:]
        return data

    def write(self, data: bytes) -> None:
        if not self.ws.send(data, binary=True):
            raise OSError("websocket closed")


def serve_remotecommand(api, req, streams, body):
    """exec/attach over SPDY for :mod:`.remotecommand` (the session itself is :mod:`.spdyexec`)."""
    from .spdyexec import serve_remotecommand as serve
    return serve(api, req, streams, body)
