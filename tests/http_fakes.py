"""Tiny fake HTTP servers on 127.0.0.1, for tests of code that talks to a service.

Why this module: the cluster probe, the Docker engine check and the container start-up
timing all talk HTTP to something (a Kubernetes API server, a Docker engine) that a test
machine may not have. Their tests stand in a small handler that answers the few calls
made; this module holds what those handlers share (and the one fake Docker engine two
of them use), so each test file only says what its own fake answers differently.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHandler(BaseHTTPRequestHandler):
    """A request handler with a one-call reply and no request log on stderr."""

    def log_message(self, *args: Any) -> None:
        pass

    def reply(self, status: int, body: Any, content_type: str = "application/json") -> None:
        """Send ``body`` with ``status``: bytes as they are, anything else as JSON."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeDockerEngine(FakeHandler):
    """A Docker engine that answers what docker.from_env(), ping() and version() ask.

    Every other GET is a 404 with ``not_found`` (``{path}`` is filled in); subclass to
    answer more, or to change that message.
    """

    version_reply = {"Version": "20.10.99", "ApiVersion": "1.41"}
    not_found = "no such thing: {path}"

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            self.reply(200, b"OK", "text/plain")
        elif path.endswith("/version"):
            self.reply(200, self.version_reply)
        else:
            self.reply(404, {"message": self.not_found.format(path=path)})


@contextlib.contextmanager
def serving(handler_class: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler_class`` on a free 127.0.0.1 port; yield its base URL, then shut it down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
