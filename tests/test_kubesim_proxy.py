"""What serves in the emulated cluster (kubesim.serving) and the proxy subresources, with real kubectl.

The Kubernetes Basics tutorial reaches its app through ``kubectl proxy`` and
``curl localhost:8001/api/v1/namespaces/default/pods/NAME:8080/proxy/``; these tests do the same
against a frozen-clock emulator, and check who answers a pod IP, a ClusterIP and a NodePort.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import resources, serving

NGINX_PAGE_BYTES = 615


def deployment(name: str, image: str, replicas: int, port: int) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": port}]}]}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    where = tmp_path_factory.mktemp("proxy")
    sim = kubesim.start(where / "kubeconfig", seed=0, realtime=False)
    base = sim.url
    for body in (deployment("web", "nginx:1.27", 2, 80), deployment("hello", "gcr.io/google-samples/hello-app:1.0", 1, 8080)):
        requests.post(base + "/apis/apps/v1/namespaces/default/deployments", json=body, timeout=10).raise_for_status()
    for name, spec in (("web", {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}),
                       ("hello", {"selector": {"app": "hello"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
                       ("nobody", {"selector": {"app": "nobody"}, "ports": [{"port": 80}]})):
        requests.post(base + "/api/v1/namespaces/default/services", json={"apiVersion": "v1", "kind": "Service",
                      "metadata": {"name": name}, "spec": spec}, timeout=10).raise_for_status()
    sim.advance(30)
    yield sim
    sim.stop()


def pods_of(sim, app: str) -> list[dict]:
    return sim.store.list(resources.get("/pods"), "default", lambda p: p["metadata"]["labels"].get("app") == app)[0]


def service(sim, name: str) -> dict:
    return sim.store.get(resources.get("/services"), "default", name)


# ---- serving: who answers where -------------------------------------------------------------------
def test_pod_ip_answers_on_the_port_its_image_serves_and_refuses_others(cluster):
    pod = pods_of(cluster, "web")[0]
    ip = pod["status"]["podIP"]
    found = serving.resolve(cluster.store, ip, 80)
    assert isinstance(found, serving.Backend) and found.pod["metadata"]["name"] == pod["metadata"]["name"]
    assert serving.resolve(cluster.store, ip, 81) == serving.Refused(f"dial tcp {ip}:81: connect: connection refused")


def test_cluster_ip_takes_ready_endpoints_at_random_and_nodeport_works_on_every_node(cluster):
    svc = service(cluster, "web")
    ips = {p["status"]["podIP"] for p in pods_of(cluster, "web")}
    seen = [serving.resolve(cluster.store, svc["spec"]["clusterIP"], 80).address for _ in range(20)]
    assert {a.split(":")[0] for a in seen} == ips, seen  # kube-proxy's random choice reaches both
    node_port = svc["spec"]["ports"][0]["nodePort"]
    for node in cluster.store.list(resources.get("/nodes"))[0]:
        node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        assert serving.resolve(cluster.store, node_ip, node_port).address.split(":")[0] in ips
    hello = service(cluster, "hello")
    assert serving.resolve(cluster.store, hello["spec"]["clusterIP"], 80).address.endswith(":8080")  # targetPort
    nobody = service(cluster, "nobody")
    refused = serving.resolve(cluster.store, nobody["spec"]["clusterIP"], 80)
    assert refused == serving.Refused(f"dial tcp {nobody['spec']['clusterIP']}:80: connect: connection refused")


def test_images_answer_as_their_servers_do(cluster):
    web = pods_of(cluster, "web")[0]
    page = serving.http_request(cluster.store, web, 80, "GET", "/", {}, b"")
    assert (page.status, len(page.body), page.headers["Content-Type"]) == (200, NGINX_PAGE_BYTES, "text/html")
    assert b"<h1>Welcome to nginx!</h1>" in page.body
    missing = serving.http_request(cluster.store, web, 80, "GET", "/nope", {}, b"")
    assert missing.status == 404 and b"<center><h1>404 Not Found</h1></center>" in missing.body
    hello = pods_of(cluster, "hello")[0]
    answer = serving.http_request(cluster.store, hello, 8080, "GET", "/any/path?x=1", {}, b"")
    assert answer.body.decode() == f"Hello, world!\nVersion: 1.0.0\nHostname: {hello['metadata']['name']}\n"
    with pytest.raises(serving.ConnectionRefused, match="connect: connection refused"):
        serving.http_request(cluster.store, hello, 80, "GET", "/", {}, b"")


def test_a_conversation_answers_keep_alive_requests_off_one_byte_stream(cluster):
    web = pods_of(cluster, "web")[0]
    talk = serving.Conversation(cluster.store, web, 80)
    two = talk.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n")
    assert two.count(b"HTTP/1.1 200 OK") == 1 and not talk.closed  # the second request is not complete yet
    rest = talk.feed(b"Connection: close\r\n\r\n")
    assert rest.startswith(b"HTTP/1.1 404 Not Found") and b"Connection: close" in rest and talk.closed


# ---- the proxy subresources with real kubectl -------------------------------------------------------
@pytest.fixture(scope="module")
def kubectl(cluster, tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path_factory.mktemp("kubecache")))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig, *args], capture_output=True, text=True,
                              env=env, timeout=60)
    run.env = env  # type: ignore[attr-defined]
    return run


def test_get_raw_through_the_pod_and_service_proxies(cluster, kubectl):
    name = pods_of(cluster, "web")[0]["metadata"]["name"]
    page = kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{name}:80/proxy/")
    assert page.returncode == 0 and "<h1>Welcome to nginx!</h1>" in page.stdout, page.stderr
    hello = kubectl("get", "--raw", "/api/v1/namespaces/default/services/hello:http/proxy/")
    assert hello.stdout.startswith("Hello, world!\nVersion: 1.0.0\nHostname: hello-"), hello.stderr
    ip = pods_of(cluster, "web")[0]["status"]["podIP"]
    refused = kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{name}:8080/proxy/")
    assert refused.stderr.strip() == ("Error from server (ServiceUnavailable): error trying to reach service: "
                                      f"dial tcp {ip}:8080: connect: connection refused")
    none = kubectl("get", "--raw", "/api/v1/namespaces/default/services/nobody/proxy/")
    assert none.stderr.strip() == 'Error from server (ServiceUnavailable): no endpoints available for service "nobody"'
    missing = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/nope/proxy/")
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_node_proxy_reaches_the_kubelet(cluster, kubectl):
    assert kubectl("get", "--raw", "/api/v1/nodes/course-worker/proxy/healthz").stdout == "ok"
    listed = kubectl("get", "--raw", "/api/v1/nodes/course-worker/proxy/pods")
    import json
    pods = json.loads(listed.stdout)
    assert pods["kind"] == "PodList" and all(p["spec"]["nodeName"] == "course-worker" for p in pods["items"])
    assert "kubelet_running_pods" in kubectl("get", "--raw", "/api/v1/nodes/course-worker/proxy/metrics").stdout
    assert "NotFound" in kubectl("get", "--raw", "/api/v1/nodes/course-worker/proxy/nothing").stderr


def test_kubectl_proxy_then_plain_http_as_the_tutorial_does(cluster, kubectl):
    proxy = subprocess.Popen(["kubectl", "--kubeconfig", cluster.kubeconfig, "proxy", "--port=0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=kubectl.env)
    try:
        line = proxy.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
        name = pods_of(cluster, "hello")[0]["metadata"]["name"]
        answer = requests.get(f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods/{name}:8080/proxy/", timeout=10)
        assert answer.status_code == 200 and answer.text.endswith(f"Hostname: {name}\n")
        web = pods_of(cluster, "web")[0]["metadata"]["name"]
        posted = requests.post(f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods/{web}/proxy/", data=b"x", timeout=10)
        assert posted.status_code == 405 and "405 Not Allowed" in posted.text  # nginx serves files: no POST
        none = requests.get(f"http://127.0.0.1:{port}/api/v1/namespaces/default/services/nobody/proxy/", timeout=10)
        assert none.status_code == 503 and none.json()["message"] == 'no endpoints available for service "nobody"'
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
