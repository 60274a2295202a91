"""engine.docker_engine against nothing, and against a tiny fake engine on 127.0.0.1."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labkit import engine


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeDocker(BaseHTTPRequestHandler):
    """Answers the three calls docker.from_env + ping + version make."""

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            data = b"OK"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
        elif path.endswith("/version"):
            self._json(200, {"Version": "20.10.99", "ApiVersion": "1.41"})
        else:
            self._json(404, {"message": f"no such thing: {path}"})


@pytest.fixture
def clean_docker_env(monkeypatch):
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def fake_engine(clean_docker_env):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDocker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    clean_docker_env.setenv("DOCKER_HOST", address)
    yield address
    server.shutdown()
    server.server_close()


def test_no_engine_on_a_closed_port(clean_docker_env):
    address = f"tcp://127.0.0.1:{closed_port()}"
    clean_docker_env.setenv("DOCKER_HOST", address)
    status = engine.docker_engine(timeout=1)
    assert status.available is False
    assert status.version is None
    assert status.detail.startswith(f"No Docker engine answered at {address}: ")
    assert "Start Docker" in status.detail


def test_no_engine_at_a_missing_socket(clean_docker_env, tmp_path):
    address = f"unix://{tmp_path}/docker.sock"
    clean_docker_env.setenv("DOCKER_HOST", address)
    status = engine.docker_engine(timeout=1)
    assert status.available is False
    assert address in status.detail


def test_engine_that_answers(fake_engine):
    status = engine.docker_engine(timeout=2)
    assert status.available is True
    assert status.version == "20.10.99"
    assert status.detail == f"Docker Engine 20.10.99 is running at {fake_engine} (API 1.41)."
    assert str(status) == status.detail
