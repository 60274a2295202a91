"""What the emulator's servers answer, and the kubelet's probes asking the same servers.

Why: a probe is an HTTP GET, a TCP connect or a gRPC health check against the container's own
server; the course web service is the app the lessons build, so inside the emulator its real
Flask app answers (its environment from ConfigMaps, its files for /readyz, its /work as CPU
cost instead of host CPU). The probes page's examples (kubernetes.io "Configure Liveness,
Readiness and Startup Probes") are typed as published, with real kubectl, on a frozen clock.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import resources, serving

HTTP_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-http
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    args:
    - liveness
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
        httpHeaders:
        - name: Custom-Header
          value: Awesome
      initialDelaySeconds: 3
      periodSeconds: 3
"""
TCP_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  name: goproxy
  labels:
    app: goproxy
spec:
  containers:
  - name: goproxy
    image: registry.k8s.io/goproxy:0.1
    ports:
    - containerPort: 8080
    readinessProbe:
      tcpSocket:
        port: 8080
      initialDelaySeconds: 15
      periodSeconds: 10
    livenessProbe:
      tcpSocket:
        port: 8080
      initialDelaySeconds: 15
      periodSeconds: 10
"""
GRPC_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  name: etcd-with-grpc
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.1-0
    command: [ "/usr/local/bin/etcd", "--data-dir",  "/var/lib/etcd", "--listen-client-urls", "http://0.0.0.0:2379", \
"--advertise-client-urls", "http://127.0.0.1:2379", "--log-level", "debug"]
    ports:
    - containerPort: 2379
    livenessProbe:
      grpc:
        port: 2379
      initialDelaySeconds: 10
"""
WEB = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  APP_GREETING: Hello from a ConfigMap
  APP_READY_FILE: /tmp/ready
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: course-webapp:lesson
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 8080}]
    envFrom: [{configMapRef: {name: web-config}}]
    readinessProbe:
      httpGet: {path: /readyz, port: 8080}
      periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


@pytest.fixture()
def kubectl(tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))

    def run(*args: str, ok: bool = True, stdin: str | None = None) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                              text=True, env=env, timeout=60, input=stdin)
        if ok:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout + ("" if ok else done.stderr)
    run.sim = sim  # type: ignore[attr-defined]
    yield run
    sim.stop()


def _pod(sim, name: str) -> dict:
    return sim.store.find(resources.get("/pods"), "default", name)


def _ready(sim, name: str) -> bool:
    conditions = (_pod(sim, name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_the_http_liveness_example_restarts_its_container(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin=HTTP_LIVENESS)
    sim.advance(10)
    assert " 0 " in kubectl("get", "pod", "liveness-http").splitlines()[1] + " ", "the first 10 s /healthz is 200"
    sim.advance(20)
    row = kubectl("get", "pod", "liveness-http").splitlines()[1].split()
    assert row[2] == "Running" and row[3].startswith("1"), row
    described = kubectl("describe", "pod", "liveness-http")
    failed = [line for line in described.splitlines() if "Unhealthy" in line]
    assert failed and all(line.rstrip().endswith("Liveness probe failed: HTTP probe failed with statuscode: 500")
                          for line in failed), failed
    assert "Container liveness failed liveness probe, will be restarted" in described


def test_the_tcp_and_grpc_examples_stay_running_and_become_ready(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin=TCP_LIVENESS + "---\n" + GRPC_LIVENESS)
    sim.advance(10)
    assert not _ready(sim, "goproxy"), "the readiness probe waits initialDelaySeconds: 15"
    sim.advance(60)
    rows = {line.split()[0]: line.split() for line in kubectl("get", "pods").splitlines()[1:]}
    assert rows["goproxy"][1:4] == ["1/1", "Running", "0"], rows
    assert rows["etcd-with-grpc"][1:4] == ["1/1", "Running", "0"], rows
    assert "Unhealthy" not in kubectl("describe", "pod", "etcd-with-grpc")


def test_a_grpc_probe_of_a_server_without_the_health_service_times_out(kubectl):
    sim = kubectl.sim
    manifest = GRPC_LIVENESS.replace("etcd-with-grpc", "no-grpc").replace("port: 2379\n      initialDelaySeconds: 10",
                                                                           "port: 2380\n      initialDelaySeconds: 10")
    kubectl("apply", "-f", "-", stdin=manifest)
    sim.advance(45)
    ip = _pod(sim, "no-grpc")["status"]["podIP"]
    described = kubectl("describe", "pod", "no-grpc")
    assert (f'Liveness probe failed: timeout: failed to connect service "{ip}:2380" within 1s: '
            "context deadline exceeded") in described


def test_the_course_web_service_answers_with_its_own_app(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin=WEB)
    kubectl("run", "client", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "3600")
    sim.advance(5)
    raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/web:8080/proxy/")
    assert json.loads(raw) == {"env": "development", "greeting": "Hello from a ConfigMap", "hostname": "web",
                               "version": "1.0.0"}
    # /readyz reads the container's files: no /tmp/ready yet, so the pod is not ready
    assert not _ready(sim, "web")
    kubectl("exec", "web", "--", "touch", "/tmp/ready")
    sim.advance(6)
    assert _ready(sim, "web")
    through_service = kubectl("exec", "client", "--", "wget", "-qO-", "http://web/")
    assert json.loads(through_service)["greeting"] == "Hello from a ConfigMap"
    kubectl("exec", "web", "--", "rm", "/tmp/ready")
    sim.advance(6)
    assert kubectl("get", "pod", "web").splitlines()[1].split()[1] == "1/1", "one failed probe is not three in a row"
    sim.advance(10)  # the third failed probe, 5 s apart (failureThreshold 3)
    assert kubectl("get", "pod", "web").splitlines()[1].split()[1] == "0/1"
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in kubectl("describe", "pod", "web")
    slices = json.loads(kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"))
    endpoints = [ep for s in slices["items"] for ep in s.get("endpoints") or []]
    assert endpoints and all(ep["conditions"]["ready"] is False for ep in endpoints), endpoints
    refused = kubectl("exec", "client", "--", "wget", "-qO-", "-T", "1", "http://web/", ok=False)
    assert "refused" in refused, refused


def test_work_costs_simulated_cpu_not_host_cpu(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin=WEB)
    sim.advance(3)
    pod = _pod(sim, "web")
    serving.http_request(sim.store, pod, 8080, "GET", "/", {}, b"")   # the app is built once per container
    started = time.process_time()
    answer = serving.http_request(sim.store, pod, 8080, "GET", "/work?ms=250", {}, b"")
    spent = time.process_time() - started
    assert answer.status == 200 and answer.cpu == 0.25
    assert json.loads(answer.body)["worked_ms"] == 250
    assert spent < 0.1, f"the emulator spun the host CPU for {spent:.3f} s"
    assert serving.http_request(sim.store, pod, 8080, "GET", "/healthz", {}, b"").cpu == pytest.approx(0.002)
    kubectl("run", "php-apache", "--image=registry.k8s.io/hpa-example")   # the HPA walkthrough's server
    sim.advance(5)
    php = serving.http_request(sim.store, _pod(sim, "php-apache"), 80, "GET", "/", {}, b"")
    assert (php.body, php.cpu) == (b"OK!", 0.1), "index.php's sqrt loop: one client fills a 500m limit"


def test_the_web_service_listens_after_gunicorn_has_booted(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin=WEB)
    sim.advance(1.6)   # pulled at once (preloaded), started at ~0.3 s: 1.3 s old
    pod = _pod(sim, "web")
    assert serving.http_request(sim.store, pod, 8080, "GET", "/healthz", {}, b"").status == 200
    kubectl("delete", "pod", "web", "--wait=false")
    sim.advance(5)
    kubectl("apply", "-f", "-", stdin=WEB)
    sim.advance(0.8)   # started, but gunicorn's worker is still booting
    pod = _pod(sim, "web")
    assert pod["status"]["phase"] == "Running"
    with pytest.raises(serving.ConnectionRefused):
        serving.http_request(sim.store, pod, 8080, "GET", "/healthz", {}, b"")


def test_a_config_error_crashes_the_container_with_its_message(kubectl):
    sim = kubectl.sim
    kubectl("run", "bad", "--image=course-webapp:lesson", "--image-pull-policy=IfNotPresent", "--env=PORT=abc")
    sim.advance(15)
    row = kubectl("get", "pod", "bad").splitlines()[1].split()
    assert row[2] in ("Error", "CrashLoopBackOff") and int(row[3]) >= 1, row
    logs = kubectl("logs", "bad", "--previous")
    assert "PORT must be a whole number between 1 and 65535, got 'abc'" in logs
    assert "Worker failed to boot." in logs


def test_agnhost_subcommands_choose_the_server(kubectl):
    sim = kubectl.sim
    kubectl("run", "hostnames", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40", "--", "serve-hostname")
    kubectl("run", "netexec", "--image=registry.k8s.io/e2e-test-images/agnhost:2.40", "--", "netexec",
            "--http-port=8081")
    sim.advance(5)
    assert kubectl("get", "--raw", "/api/v1/namespaces/default/pods/hostnames:9376/proxy/") == "hostnames"
    assert kubectl("get", "--raw", "/api/v1/namespaces/default/pods/netexec:8081/proxy/echo?msg=hi") == "hi"
    assert kubectl("get", "--raw", "/api/v1/namespaces/default/pods/netexec:8081/proxy/hostname") == "netexec"
    with pytest.raises(serving.ConnectionRefused):
        serving.http_request(sim.store, _pod(sim, "netexec"), 8080, "GET", "/", {}, b"")


def test_probes_show_in_the_access_log_and_tcp_servers_are_not_http(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", "-", stdin="""\
apiVersion: v1
kind: Pod
metadata: {name: nginx}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 10}
---
apiVersion: v1
kind: Pod
metadata: {name: redis}
spec:
  containers:
  - name: redis
    image: redis:7
    readinessProbe: {tcpSocket: {port: 6379}, periodSeconds: 5}
""")
    sim.advance(35)
    node_ip = _pod(sim, "nginx")["status"]["hostIP"]
    probes = [line for line in kubectl("logs", "nginx").splitlines() if "kube-probe/1.36" in line]
    assert len(probes) >= 3 and all(re.match(re.escape(node_ip) + r' - - \[.*\] "GET / HTTP/1.1" 200 615 ', line)
                                    for line in probes), probes
    assert _ready(sim, "redis")
    with pytest.raises(serving.ConnectionClosed):
        serving.http_request(sim.store, _pod(sim, "redis"), 6379, "GET", "/", {}, b"")


def test_a_liveness_probe_of_the_web_service_follows_its_files(kubectl):
    """The app's answers can change at any time: the plan made after ``rm`` reads the earlier
    probes as they were (passing) and kills only after three failures from then on."""
    sim = kubectl.sim
    manifest = WEB.replace("    readinessProbe:\n      httpGet: {path: /readyz, port: 8080}\n      periodSeconds: 5\n",
                           "    livenessProbe:\n      httpGet: {path: /readyz, port: 8080}\n"
                           "      initialDelaySeconds: 10\n      periodSeconds: 5\n")
    kubectl("apply", "-f", "-", stdin=manifest)
    sim.advance(3)
    kubectl("exec", "web", "--", "touch", "/tmp/ready")
    sim.advance(29)   # 32 s: probes at 10..30 s passed
    kubectl("exec", "web", "--", "rm", "/tmp/ready")
    sim.advance(11)   # the probes at ~35 and ~40 s failed
    assert _pod(sim, "web")["status"]["containerStatuses"][0]["restartCount"] == 0
    sim.advance(5)    # the third failure, at ~45 s: restarted
    assert _pod(sim, "web")["status"]["containerStatuses"][0]["restartCount"] == 1
    failed = [line for line in kubectl("describe", "pod", "web").splitlines() if "Unhealthy" in line]
    assert failed and all("Liveness probe failed: HTTP probe failed with statuscode: 503" in line for line in failed), failed
