"""Port-forward with real kubectl (WebSocket-tunnelled SPDY and the direct SPDY fallback) and with
the official Python client's ``portforward()`` (its own e2e flows), against a realtime emulator.

Each check makes plain TCP connections to what kubectl listens on, as ``curl localhost:8080``
would, and reads what serves in the pod (nginx's welcome page) back through the tunnel.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import requests

from conftest import skip_unless_ci
from labkit import kubesim

NGINX_PAGE_BYTES = 615


def wait_running(base: str, name: str) -> dict:
    deadline = time.time() + 30
    while time.time() < deadline:
        pod = requests.get(f"{base}/api/v1/namespaces/default/pods/{name}", timeout=5).json()
        if (pod.get("status") or {}).get("phase") == "Running":
            return pod
        time.sleep(0.1)
    raise AssertionError(f"pod {name} did not become Running: {pod.get('status')}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    where = tmp_path_factory.mktemp("portforward")
    sim = kubesim.start(where / "kubeconfig", seed=0)  # realtime: kubectl waits for Running by itself
    base = sim.url
    pods = [{"metadata": {"name": "web", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}},
            {"metadata": {"name": "echo"},  # the Python client's e2e test_portforward_raw pod
             "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c",
                      "for port in 1234 1235;do ((while true;do nc -l -p $port -e /bin/cat; done)&);done;sleep 60"]}]}}]
    for pod in pods:
        requests.post(base + "/api/v1/namespaces/default/pods", json={"apiVersion": "v1", "kind": "Pod", **pod},
                      timeout=10).raise_for_status()
    requests.post(base + "/api/v1/namespaces/default/services", json={"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080, "targetPort": 80}]}},
                  timeout=10).raise_for_status()
    wait_running(base, "web")
    wait_running(base, "echo")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def kubectl_env(cluster, tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    return dict(os.environ, KUBECACHEDIR=str(tmp_path_factory.mktemp("kubecache")), KUBECONFIG=cluster.kubeconfig)


class Forward:
    """``kubectl port-forward TARGET 0:REMOTE`` running; ``port`` is the local port it chose."""

    def __init__(self, env: dict, target: str, remote: int, websockets: bool = True):
        env = dict(env, KUBECTL_PORT_FORWARD_WEBSOCKETS="true" if websockets else "false")
        self.proc = subprocess.Popen(["kubectl", "port-forward", target, f"0:{remote}", "-v=6"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        found = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        if not found:
            self.proc.kill()
            raise AssertionError(f"kubectl port-forward printed {line!r}: {self.proc.stderr.read()}")
        self.port, self.remote = int(found.group(1)), int(found.group(2))

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        return err


def http_get(sock: socket.socket, path: str = "/") -> tuple[str, dict[str, str], bytes]:
    """One GET on an open (keep-alive) connection: status line, headers, body by Content-Length."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before the headers: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the body"
        body += chunk
    return lines[0], headers, body


def server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request" in t.name]


def wait_no_server_threads(before: int) -> None:
    deadline = time.time() + 10
    while len(server_threads()) > before and time.time() < deadline:
        time.sleep(0.05)
    assert len(server_threads()) <= before, f"connection threads left behind: {server_threads()}"


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket-tunnel", "spdy-fallback"])
def test_kubectl_port_forward_pod_serves_nginx_twice_on_one_connection(cluster, kubectl_env, websockets):
    before = len(server_threads())
    forward = Forward(kubectl_env, "pod/web", 80, websockets)
    try:
        with socket.create_connection(("127.0.0.1", forward.port), timeout=10) as sock:
            for _ in range(2):
                status, headers, body = http_get(sock)
                assert status == "HTTP/1.1 200 OK" and headers["server"].startswith("nginx/")
                assert len(body) == NGINX_PAGE_BYTES and b"<h1>Welcome to nginx!</h1>" in body
            status, _, body = http_get(sock, "/missing")
            assert status == "HTTP/1.1 404 Not Found" and b"404 Not Found" in body
    finally:
        log = forward.stop()
    # the wire protocol kubectl used, in its own -v=6 log
    if websockets:
        assert "GET " in log and "/pods/web/portforward 101 Switching Protocols" in log and "tunneling_dialer" in log, log
    else:
        assert "POST " in log and "/pods/web/portforward 101 Switching Protocols" in log and "tunneling_dialer" not in log, log
    wait_no_server_threads(before)


def test_kubectl_port_forward_service_goes_to_a_pod_of_it(cluster, kubectl_env):
    forward = Forward(kubectl_env, "svc/web", 8080)
    try:
        assert forward.remote == 80  # kubectl maps the Service port to the pod's targetPort itself
        with socket.create_connection(("127.0.0.1", forward.port), timeout=10) as sock:
            status, _, body = http_get(sock)
        assert status == "HTTP/1.1 200 OK" and len(body) == NGINX_PAGE_BYTES
    finally:
        forward.stop()


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket-tunnel", "spdy-fallback"])
def test_a_port_nothing_listens_on_gives_the_kubelets_error(cluster, kubectl_env, websockets):
    forward = Forward(kubectl_env, "pod/web", 81, websockets)
    try:
        with socket.create_connection(("127.0.0.1", forward.port), timeout=10) as sock:
            assert sock.recv(100) == b""  # kubectl closes the local connection
        forward.proc.wait(timeout=10)
    finally:
        log = forward.stop()
    expected = (f"an error occurred forwarding {forward.port} -> 81: error forwarding port 81 to pod ")
    assert expected in log, log
    assert "failed to connect to localhost:81 inside namespace" in log and "dial tcp4 127.0.0.1:81: connect: connection refused" in log
    assert "error: lost connection to pod" in log


# ---- the official Python client: kubernetes.stream.portforward -----------------------------------
@pytest.fixture(scope="module")
def core(cluster):
    from kubernetes import client, config
    api_client = config.new_client_from_config(cluster.kubeconfig)
    yield client.CoreV1Api(api_client)
    api_client.close()


def test_python_client_portforward_http(cluster, core):
    """The client's e2e test_portforward_http: urllib through a patched socket.create_connection."""
    from kubernetes.stream import portforward

    def kubernetes_create_connection(address, *args, **kwargs):
        name, namespace, suffix = address[0].split(".")
        assert suffix == "kubernetes"
        pf = portforward(core.connect_get_namespaced_pod_portforward, name, namespace, ports=str(address[1]))
        return pf.socket(address[1])
    original = socket.create_connection
    socket.create_connection = kubernetes_create_connection
    try:
        response = urllib.request.urlopen("http://web.default.kubernetes/", timeout=10)
        html = response.read().decode()
    finally:
        socket.create_connection = original
    assert response.code == 200 and "<h1>Welcome to nginx!</h1>" in html and len(html) == NGINX_PAGE_BYTES


def test_python_client_portforward_raw(cluster, core):
    """The client's e2e test_portforward_raw: echo servers on 1234 and 1235, nothing on 1236."""
    from kubernetes.stream import portforward
    before = len(server_threads())
    for ix in (b"1", b"2"):
        pf = portforward(core.connect_get_namespaced_pod_portforward, "echo", "default", ports="1234,1235,1236")
        assert pf.connected
        socks = {port: pf.socket(port) for port in (1234, 1235)}
        sent = {port: b"Test " + ix + b" port " + str(port).encode() + b" forwarding" for port in socks}
        for port, sock in socks.items():
            sock.setblocking(True)
            sock.sendall(sent[port])
        replies = {port: b"" for port in socks}
        deadline = time.time() + 10
        while any(replies[p] != sent[p] for p in socks):
            assert time.time() < deadline, replies
            ready, _, _ = select.select(list(socks.values()), [], [], 1)
            for port, sock in socks.items():
                if sock in ready:
                    data = sock.recv(1024)
                    assert data, "unexpected socket close"
                    replies[port] += data
        refused = pf.socket(1236)
        refused.setblocking(True)
        assert refused.recv(1024) == b""
        assert "failed to connect to localhost:1236 inside namespace" in pf.error(1236)
        refused.close()
        for sock in socks.values():
            sock.close()
        deadline = time.time() + 5
        while pf.connected and time.time() < deadline:
            time.sleep(0.05)
        assert not pf.connected
        assert pf.error(1234) is None and pf.error(1235) is None
    wait_no_server_threads(before)


# ---- exec over SPDY (KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false): the same streams machinery ----------
def _negotiated_exec_protocol(cluster) -> str:
    """The X-Stream-Protocol-Version the server picks when offered v4 first and v1 last, as kubectl
    offers them (one header line per protocol)."""
    with socket.create_connection((cluster.server.host, cluster.server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/namespaces/default/pods/web/exec?command=true&stdout=true HTTP/1.1\r\n"
                     b"Host: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nContent-Length: 0\r\n"
                     b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: channel.k8s.io\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    found = re.search(rb"X-Stream-Protocol-Version: (\S+)", head)
    return found.group(1).decode() if found else head.decode(errors="replace")


def test_kubectl_exec_over_spdy(cluster, kubectl_env):
    try:
        from labkit.kubesim import userland  # noqa: F401
    except ImportError:  # the container userland is written alongside (issue 13): its stand-in
        import exec_standin
        exec_standin.install()
    if _negotiated_exec_protocol(cluster) != "v4.channel.k8s.io":
        pytest.xfail("the HTTP layer keeps only the last of repeated X-Stream-Protocol-Version headers, so SPDY "
                     "exec falls to v1 (no exit codes, no stdin EOF): server.py must join repeated headers")
    env = dict(kubectl_env, KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false")

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "-v=6", *args], capture_output=True, text=True, env=env, input=stdin, timeout=30)
    done = kubectl("exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert "POST " in done.stderr and "/exec?" in done.stderr and "101 Switching Protocols" in done.stderr
    assert (done.returncode, done.stdout) == (3, "out\n") and "err\n" in done.stderr
    echoed = kubectl("exec", "-i", "web", "--", "cat", stdin="hello\nworld\n")
    assert (echoed.returncode, echoed.stdout) == (0, "hello\nworld\n")  # stdin's end reached the process
    assert kubectl("exec", "web", "--", "false").returncode == 1
