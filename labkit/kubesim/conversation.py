"""One TCP connection to a server in the emulated cluster, as a byte stream: what ``kubectl
port-forward`` and the shell's ``nc`` carry.

Why its own module: the HTTP answers (:mod:`.http_answers`) are per request, but a forwarded
connection is bytes in both directions. This module cuts the client's bytes into HTTP/1.x requests
(keep-alive, several per connection, ``Content-Length`` and chunked bodies, a malformed head gets a
400 and a close), writes each answer back as bytes, echoes for an ``nc -e /bin/cat`` server and
closes for a server that does not speak HTTP. Who listens at all is :mod:`.backends`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backends import ConnectionRefused, echo_ports, listening_container, pod_ip, refused, serves
from .http_answers import HttpAnswer, http_request, responses_of

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

Obj = dict[str, Any]


class Conversation:
    """One TCP connection to ``port`` of ``pod``, as bytes: ``feed`` what the client sends, get back
    what the server answers. An HTTP server parses requests off the stream (keep-alive, several
    requests per connection, ``Content-Length`` and chunked bodies) and answers each with
    :func:`http_request`; an echo server (``nc -e /bin/cat``) sends the bytes back; a server that is
    not HTTP closes the connection. ``closed`` is True once the server side has closed.

    Raises :class:`ConnectionRefused` when nothing listens there (the caller words the error)."""

    MAX_HEAD = 64 * 1024

    def __init__(self, store: "Store", pod: Obj, port: int):
        container = listening_container(pod, port, store)
        if container is None:
            raise ConnectionRefused(refused(pod_ip(pod) or "<none>", port))
        self.store, self.pod, self.port = store, pod, port
        self.echo = port in echo_ports(container) and port not in serves(container)
        self.http = not self.echo and bool(serves(container).get(port) or responses_of(container.get("image", "")))
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
