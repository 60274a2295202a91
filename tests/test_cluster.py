"""cluster.probe against a tiny real HTTP server on 127.0.0.1 that serves /version."""
import socket
import time

import pytest

from http_fakes import FakeHandler, closed_port, serving
from labkit import cluster

VERSION = {
    "major": "1", "minor": "36", "gitVersion": "v1.36.1",
    "gitCommit": "0123456789abcdef", "gitTreeState": "clean",
    "buildDate": "2026-05-01T00:00:00Z", "goVersion": "go1.24.0",
    "compiler": "gc", "platform": "linux/amd64",
}


class FakeApiServer(FakeHandler):
    status = 200

    def do_GET(self):
        if self.path.rstrip("/") != "/version":
            body, code = {"kind": "Status", "code": 404}, 404
        elif self.status != 200:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": self.status}
            code = self.status
        else:
            body, code = VERSION, 200
        self.reply(code, body)


class RefusingApiServer(FakeApiServer):
    status = 401


@pytest.fixture
def api_server():
    with serving(FakeApiServer) as address:
        yield address


def write_kubeconfig(path, server, context="kind-course"):
    path.write_text(f"""\
apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {server}
users:
- name: {context}
  user:
    token: not-a-real-token
contexts:
- name: {context}
  context:
    cluster: {context}
    user: {context}
current-context: {context}
""")
    return str(path)


def test_reachable_cluster(tmp_path, api_server):
    config = write_kubeconfig(tmp_path / "config", api_server)
    found = cluster.probe(config)
    assert found.reachable is True
    assert found.context == "kind-course"
    assert found.server == api_server
    assert found.detail == (
        f"The kubeconfig's current context 'kind-course' points at {api_server}, and a "
        "Kubernetes API server answered there (version v1.36.1)."
    )


def test_kubeconfig_from_environment(tmp_path, api_server, monkeypatch):
    config = write_kubeconfig(tmp_path / "config", api_server, context="kind-other")
    monkeypatch.setenv("KUBECONFIG", config)
    found = cluster.probe()
    assert found.reachable is True
    assert found.context == "kind-other"


def test_nothing_answers(tmp_path):
    server = f"http://127.0.0.1:{closed_port()}"
    config = write_kubeconfig(tmp_path / "config", server)
    found = cluster.probe(config, timeout=1)
    assert found.reachable is False
    assert found.context == "kind-course"
    assert found.server == server
    assert found.detail.startswith(
        f"The kubeconfig's current context 'kind-course' points at {server} but nothing answered"
    )


def test_silent_server_times_out_quickly(tmp_path):
    with socket.socket() as listener:  # accepts connections, never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        server = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = write_kubeconfig(tmp_path / "config", server)
        started = time.monotonic()
        found = cluster.probe(config, timeout=0.5)
        elapsed = time.monotonic() - started
    assert found.reachable is False
    assert "nothing answered within 0.5 s" in found.detail
    assert elapsed < 5


def test_server_that_refuses(tmp_path):
    with serving(RefusingApiServer) as address:
        found = cluster.probe(write_kubeconfig(tmp_path / "config", address))
    assert found.reachable is False
    assert "answered but refused the request (HTTP 401" in found.detail


def test_no_kubeconfig(tmp_path):
    missing = tmp_path / "nope" / "config"
    found = cluster.probe(str(missing))
    assert found == cluster.ClusterProbe(
        False, None, None,
        f"No kubeconfig found at {missing}, so there is no cluster to connect to "
        "(kind writes one when it creates a cluster).",
    )


def test_broken_kubeconfig(tmp_path):
    config = tmp_path / "config"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    found = cluster.probe(str(config))
    assert found.reachable is False
    assert found.detail.startswith(f"The kubeconfig at {config} could not be used:")


class NotKubernetes(FakeApiServer):
    status = 404


def test_server_that_is_not_kubernetes(tmp_path):
    with serving(NotKubernetes) as address:
        found = cluster.probe(write_kubeconfig(tmp_path / "config", address))
    assert found.reachable is False
    assert "HTTP 404" in found.detail
    assert "may not be a Kubernetes API server" in found.detail
