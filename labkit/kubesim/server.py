"""The HTTP layer: a threaded HTTP/1.1 server on 127.0.0.1 in front of :class:`~.api.Api`.

Why the standard library's ThreadingHTTPServer: no dependency, it runs in a background thread
inside a Jupyter kernel, and one thread per connection suits long-running watches. Plain HTTP on
loopback is enough: kubectl and the Python client accept ``server: http://127.0.0.1:PORT`` in a
kubeconfig with no credentials. Every failure becomes a Status response or a closed connection;
no exception escapes a request thread.
"""
from __future__ import annotations

import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import errors
from .api import Api
from .routing import MAX_BODY, Request, Response, error_response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms delayed-ACK stalls
    server_version = "kubesim"
    sys_version = ""
    api: Api  # set on the subclass made per server

    def log_message(self, format: str, *args: object) -> None:  # quiet by default
        pass

    def _body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
                if len(data) > MAX_BODY:
                    return None
        if not length:
            return b""
        size = int(length)
        if size > MAX_BODY:
            return None
        return self.rfile.read(size)

    def _handle(self) -> None:
        try:
            try:
                body = self._body()
            except ValueError:
                self._send(error_response(errors.bad_request("malformed Content-Length or chunked body")))
                self.close_connection = True
                return
            if body is None:
                self.close_connection = True  # unread bytes remain: the connection cannot be reused
                self._send(error_response(errors.too_large(MAX_BODY)))
                return
            headers: dict[str, str] = {}
            for key, value in self.headers.items():  # a repeated header is one comma-separated list
                key = key.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            request = Request.make(self.command, self.path, headers, body)
            self._send(self.api.handle(request))
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # last resort, keep the server alive
            try:
                self._send(error_response(errors.ApiError(500, "InternalError", f"internal error: {exc}")))
            except Exception:
                self.close_connection = True

    def _send(self, response: Response) -> None:
        if response.upgrade is not None:
            self._switch(response)
            return
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", response.headers.pop("Cache-Control", "no-cache, private"))
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        try:
            for chunk in response.stream:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif self._peer_closed():  # an idle stream: has the client gone away?
                    break
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            close = getattr(response.stream, "close", None)
            if close:
                close()

    def _peer_closed(self) -> bool:
        """Whether the client closed its end (readable with nothing to read): a watch or a
        followed log then ends instead of waiting for its next line."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _switch(self, response: Response) -> None:
        """Switch protocols (WebSocket or SPDY): the upgrade handler owns the socket until it returns."""
        assert response.upgrade is not None
        self.send_response(response.code)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        try:
            response.upgrade(self.rfile, self.wfile)
        except Exception:  # a dropped client or a bug in a stream: end this connection, keep the server
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class HttpServer:
    """Serve ``api`` on ``host:port`` (port 0: any free port) from a background thread."""

    def __init__(self, api: Api, host: str = "127.0.0.1", port: int = 0):
        handler = type("Handler", (_Handler,), {"api": api})
        self.api = api
        self.httpd = _Server((host, port), handler)
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       name=f"kubesim-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "HttpServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.api.stopping = True
        self.api.store.close_watches()
        for session in list(getattr(self.api, "sessions", ())):  # exec and attach sessions
            session.abort()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
