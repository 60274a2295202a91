"""Traffic inside the emulator: client loops in pods load their Services' pods, kube-proxy's choice
of endpoint, and load from the host (issue 14, items 2 and 3).

Each test starts its own frozen emulator (``realtime=False``) and moves its clock with
``advance``; what a learner would type runs through real kubectl. The HPA walkthrough's manifest
and commands are kubernetes.io's, as published ("HorizontalPodAutoscaler Walkthrough").
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import config, utils

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import images, requestlog, resources, serving

# https://k8s.io/examples/application/php-apache.yaml, as published
PHP_APACHE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: php-apache
spec:
  selector:
    matchLabels:
      run: php-apache
  template:
    metadata:
      labels:
        run: php-apache
    spec:
      containers:
      - name: php-apache
        image: registry.k8s.io/hpa-example
        ports:
        - containerPort: 80
        resources:
          limits:
            cpu: 500m
          requests:
            cpu: 200m
---
apiVersion: v1
kind: Service
metadata:
  name: php-apache
  labels:
    run: php-apache
spec:
  ports:
  - port: 80
  selector:
    run: php-apache
"""
LOAD_GENERATOR = "while sleep 0.01; do wget -q -O- http://php-apache; done"


@pytest.fixture
def kube(tmp_path: Path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path / "cache"))

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done.stdout
    run.sim = sim  # type: ignore[attr-defined]
    yield run
    sim.stop()


def pods(sim, label: str, value: str) -> list[dict]:
    return sorted(sim.store.list(resources.get("/pods"), "default",
                                 lambda p: (p["metadata"].get("labels") or {}).get(label) == value)[0],
                  key=lambda p: p["metadata"]["name"])


def replicas(kube) -> int:
    return int(kube("get", "hpa", "php-apache", "-o", "jsonpath={.status.currentReplicas}") or 0)


def cost_of(sim, pod: dict) -> float:
    """Core-seconds one GET / costs the pod, as its server says (not counted as load)."""
    with requestlog.uncounted():
        answer = serving.http_request(sim.store, pod, 80, "GET", "/", {}, b"")
    container = pod["spec"]["containers"][0]["image"]
    return answer.cpu or images.lookup(container).cpu_per_rps / 1000


def millicores(text: str) -> int:
    return int(text.rstrip("m")) if text.endswith("m") else int(float(text) * 1000)


# ---- the HPA walkthrough, from a pod -----------------------------------------------------------
def test_the_walkthroughs_load_generator_drives_the_hpa_up_and_its_deletion_lets_it_return_to_one(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=PHP_APACHE)
    sim.advance(30)
    pod = pods(sim, "run", "php-apache")[0]
    kube("autoscale", "deployment", "php-apache", "--cpu-percent=50", "--min=1", "--max=10")
    kube("run", "load-generator", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c", LOAD_GENERATOR)
    sim.advance(25)   # the generator starts, and metrics-server has a full 15 s window of its load
    # the expected CPU, by the shared rule: one request at a time, think 10 ms, latency = cost / 0.5
    # core (the limit) + 1 ms; the pod then burns cost x rate, never more than its 500m limit
    cost = cost_of(sim, pod)
    rate = 1 / (0.01 + cost / 0.5 + 0.001)
    expected = min(500.0, 1 + 1000 * cost * rate)
    top = kube("top", "pod", "--no-headers")
    row = next(line.split() for line in top.splitlines() if line.startswith(pod["metadata"]["name"]))
    assert abs(millicores(row[1]) - expected) <= 0.1 * expected and millicores(row[1]) > 200, top  # above its 200m request
    sim.advance(180)
    grown = replicas(kube)
    assert grown >= 3, kube("get", "hpa")
    assert re.search(r"cpu: (\d+)%/50%", kube("get", "hpa")), kube("get", "hpa")
    logs = kube("logs", "load-generator")
    assert logs.startswith("OK!OK!OK!") and set(logs.split("OK!")) == {""}, logs[:200]
    kube("delete", "pod", "load-generator", "--wait=false")
    sim.advance(60)
    usage = kube("get", "hpa", "php-apache", "-o", "jsonpath={.status.currentMetrics[0].resource.current.averageUtilization}")
    assert int(usage or 0) <= 5   # the load went with the generator
    sim.advance(150)
    assert replicas(kube) == grown   # the 5-minute downscale stabilization window holds the replicas
    sim.advance(240)
    assert replicas(kube) == 1, kube("get", "hpa")


def test_a_client_loop_log_streams_through_kubectl_logs_follow(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=PHP_APACHE)
    sim.advance(30)
    kube("run", "load-generator", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://php-apache; echo; sleep 1; done")
    sim.advance(10)
    before = kube("logs", "load-generator")
    assert before.splitlines()[:3] == ["OK!"] * 3
    # roughly one line a second (think 1 s + a request's latency)
    assert 7 <= len(before.splitlines()) <= 10, before
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig)
    follow = subprocess.Popen(["kubectl", "logs", "-f", "load-generator"], stdout=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(30, follow.kill)   # a missing line fails the test instead of hanging it
    watchdog.start()
    try:
        first = follow.stdout.readline()
        sim.advance(5)   # about 5 more lines, streamed as the clock reaches them
        lines = [first] + [follow.stdout.readline() for _ in range(len(before.splitlines()) + 2)]
    finally:
        watchdog.cancel()
        follow.kill()
        follow.wait()
    assert lines == ["OK!\n"] * len(lines)



def test_sleeps_inside_nested_shells_are_think_time_too(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=PHP_APACHE)
    sim.advance(30)
    kube("run", "nested", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do echo $(wget -q -O- http://php-apache; sleep 1); sh -c 'sleep 1'; done")
    sim.advance(20)   # an iteration: 2 s of sleep plus a request
    lines = kube("logs", "nested").splitlines()
    assert 8 <= len(lines) <= 10 and set(lines) == {"OK!"}, lines

# ---- a Service spreads requests, as kube-proxy does ---------------------------------------------
HELLO = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - {name: hello, image: "us-docker.pkg.dev/google-samples/containers/gke/hello-app:1.0"}
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
"""


def hostnames(text: str) -> list[str]:
    return re.findall(r"Hostname: (\S+)", text)


def test_a_service_answers_from_all_three_replicas_and_client_ip_affinity_sticks(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=HELLO)
    sim.advance(30)
    names = {p["metadata"]["name"] for p in pods(sim, "app", "hello")}
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://hello; sleep 1; done")
    sim.advance(30)
    seen = hostnames(kube("logs", "client"))
    assert len(seen) >= 25 and set(seen) == names, seen
    # through the API server's proxy too (a notebook's requests.get)
    base = f"{sim.url}/api/v1/namespaces/default/services/hello:80/proxy/"
    proxied = {hostnames(requests.get(base, timeout=10).text)[0] for _ in range(30)}
    assert proxied == names
    kube("patch", "service", "hello", "-p", '{"spec":{"sessionAffinity":"ClientIP"}}')
    kube("run", "sticky", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://hello; sleep 1; done")
    sim.advance(30)
    stuck = hostnames(kube("logs", "sticky"))
    assert len(stuck) >= 25 and len(set(stuck)) == 1, stuck
    # the endpoint it sticks to goes: the client gets another one, and sticks to that
    kube("delete", "pod", stuck[0], "--wait=false")
    sim.advance(30)
    after = hostnames(kube("logs", "sticky"))[len(stuck) + 2:]
    assert after and len(set(after)) == 1 and after[0] != stuck[0], after


NGINX_READY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def test_a_pod_that_is_not_ready_gets_no_traffic(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=NGINX_READY)
    sim.advance(20)
    web = [p["metadata"]["name"] for p in pods(sim, "app", "web")]
    for name in web[:2]:
        kube("exec", name, "--", "touch", "/tmp/ready")
    sim.advance(10)
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O /dev/null http://web && echo ok || echo failed; sleep 0.5; done")
    sim.advance(30)
    client_ip = pods(sim, "run", "client")[0]["status"]["podIP"]
    served = [kube("logs", name).count(client_ip + " - - ") for name in web]
    assert served[0] > 5 and served[1] > 5 and served[2] == 0, served
    out = kube("logs", "client").split()
    assert out.count("ok") >= 50 and "failed" not in out, out[:20]


def test_a_rolling_update_seen_from_a_client_has_no_failed_request(kube):
    sim = kube.sim
    kube("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3")
    kube("expose", "deployment", "web", "--port=80")
    sim.advance(30)
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O /dev/null http://web && echo ok || echo failed; sleep 0.2; done")
    sim.advance(10)
    old = {p["metadata"]["name"] for p in pods(sim, "app", "web")}
    kube("set", "image", "deployment/web", "nginx=nginx:1.28")
    sim.advance(90)
    new = pods(sim, "app", "web")
    assert len(new) == 3 and not old & {p["metadata"]["name"] for p in new}
    assert {p["spec"]["containers"][0]["image"] for p in new} == {"nginx:1.28"}
    out = kube("logs", "client").split()
    assert out.count("ok") >= 400 and out.count("failed") == 0, [w for w in out if w != "ok"][:10]


def test_deleting_a_client_pod_removes_its_load_at_once(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=PHP_APACHE)
    sim.advance(30)
    kube("run", "load-generator", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c", LOAD_GENERATOR)
    sim.advance(20)
    engine = sim.manager.get("traffic")
    pod = pods(sim, "run", "php-apache")[0]
    now = sim.store.clock.time()
    assert engine.load(pod["metadata"]["uid"], "php-apache", now - 2, now)[0] >= 5   # about 4.7 a second at 0.1 s of CPU each
    kube("delete", "pod", "load-generator", "--wait=false")   # the shell ignores SIGTERM: it is terminating
    sim.advance(5)
    now = sim.store.clock.time()
    assert engine.load(pod["metadata"]["uid"], "php-apache", now - 4, now)[0] == 0



def test_a_client_loops_log_keeps_its_newest_bytes(kube, monkeypatch):
    from labkit.kubesim.controllers import traffic
    monkeypatch.setattr(traffic, "MAX_LOG", 4000)
    sim = kube.sim
    kube("apply", "-f", "-", stdin=HELLO)
    sim.advance(30)
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://hello; date; sleep 0.1; done")
    sim.advance(30)   # about 280 answers of ~80 bytes: far more than 4000 bytes
    logs = kube("logs", "client")
    assert 3800 <= len(logs) <= 4000, len(logs)
    dates = [datetime.strptime(line, "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=timezone.utc)
             for line in logs.splitlines() if re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}", line)]
    now = sim.store.clock.now()
    assert (now - dates[-1]).total_seconds() <= 1.5 and (now - dates[0]).total_seconds() < 25, (dates[0], dates[-1], now)


def test_a_wait_for_service_loop_ends_when_the_service_answers_and_the_pod_completes(kube):
    sim = kube.sim
    kube("run", "wait", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "until wget -q -O /dev/null http://hello; do echo waiting; sleep 2; done; echo up")
    sim.advance(9)
    assert kube("get", "pod", "wait", "-o", "jsonpath={.status.phase}") == "Running"
    kube("apply", "-f", "-", stdin=HELLO)
    sim.advance(20)
    assert kube("get", "pod", "wait", "-o", "jsonpath={.status.phase}") == "Succeeded"
    lines = kube("logs", "wait").splitlines()   # busybox wget says why on stderr, which the log has too
    assert lines[-1] == "up" and set(lines[:-1]) == {"wget: bad address 'hello'", "waiting"} and len(lines) >= 9, lines


def test_a_load_balancers_ingress_ip_reaches_the_service_like_its_cluster_ip(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=HELLO)
    kube("patch", "service", "hello", "-p", '{"spec":{"type":"LoadBalancer"}}')
    # what a cloud controller writes once it has an address (203.0.113.0/24 is a documentation range)
    kube("patch", "service", "hello", "--subresource=status", "--type=merge",
         "-p", '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"}]}}}')
    sim.advance(30)
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://203.0.113.7; sleep 1; done")
    sim.advance(10)
    assert set(hostnames(kube("logs", "client"))) <= {p["metadata"]["name"] for p in pods(sim, "app", "hello")}
    assert len(hostnames(kube("logs", "client"))) >= 8

# ---- kube-proxy's choice is the seed's ------------------------------------------------------------
def choices(seed: int, tmp: Path) -> list[int]:
    sim = kubesim.start(tmp / f"kubeconfig-{seed}", seed=seed, realtime=False)
    try:
        _apply(sim, HELLO)
        sim.advance(30)
        svc = sim.store.get(resources.get("/services"), "default", "hello")
        ips = sorted(p["status"]["podIP"] for p in pods(sim, "app", "hello"))
        return [ips.index(serving.resolve(sim.store, svc["spec"]["clusterIP"], 80).address.split(":")[0]) for _ in range(30)]
    finally:
        sim.stop()


def _apply(sim, text: str) -> None:
    api = config.new_client_from_config(sim.kubeconfig)
    try:
        for doc in yaml.safe_load_all(text):
            utils.create_from_dict(api, doc)
    finally:
        api.close()


def test_the_same_seed_makes_the_same_choices(tmp_path):
    first, again, other = choices(3, tmp_path), choices(3, tmp_path), choices(4, tmp_path)
    assert first == again and set(first) == {0, 1, 2}
    assert other != first


# ---- requests from the host count -----------------------------------------------------------------
def test_requests_from_the_host_load_the_pod_that_served_them(kube):
    sim = kube.sim
    kube("apply", "-f", "-", stdin=PHP_APACHE)
    kube("run", "shell", "--image=busybox:1.28", "--restart=Never", "--", "sleep", "3600")
    sim.advance(31)
    pod = pods(sim, "run", "php-apache")[0]
    base = f"{sim.url}/api/v1/namespaces/default/services/php-apache:80/proxy/"
    for _ in range(20):   # the proxy subresource (a notebook's requests.get)
        assert requests.get(base, timeout=10).text == "OK!"
    for _ in range(10):   # kubectl exec ... wget
        assert kube("exec", "shell", "--", "wget", "-q", "-O-", "http://php-apache") == "OK!"
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig)
    forward = subprocess.Popen(["kubectl", "port-forward", f"pod/{pod['metadata']['name']}", "0:80"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:   # kubectl port-forward
        port = int(re.search(r"127\.0\.0\.1:(\d+)", forward.stdout.readline()).group(1))
        with requests.Session() as session:
            for _ in range(10):
                assert session.get(f"http://127.0.0.1:{port}/", timeout=10).text == "OK!"
    finally:
        forward.terminate()
        forward.wait(timeout=10)
    sim.advance(15)
    cpu, _ = sim.manager.metrics.usage("default", pod["metadata"]["name"], "cpu")
    cost = cost_of(sim, pod)
    # 40 requests in the 15 s window, each `cost` core-seconds, on top of the image's 1m idle
    assert cpu == min(500, round(1 + 40 / 15 * cost * 1000)), (cpu, cost)


# ---- kubectl run -i --tty: the walkthrough's way, in a terminal ---------------------------------
def test_kubectl_run_tty_streams_the_generators_output_and_ctrl_c_ends_it(tmp_path):
    import pty
    import select
    import time
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0)   # real time: kubectl waits for the pod to run
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path / "cache"))
    try:
        subprocess.run(["kubectl", "apply", "-f", "-"], input=PHP_APACHE, text=True, env=env, check=True, capture_output=True)
        pid, fd = pty.fork()
        if pid == 0:  # the child: kubectl, as typed on the page
            os.execvpe("kubectl", ["kubectl", "run", "-i", "--tty", "load-generator", "--rm", "--image=busybox:1.28",
                                   "--restart=Never", "--", "/bin/sh", "-c", LOAD_GENERATOR], env)
        seen, interrupted, deadline = b"", False, time.time() + 30
        while time.time() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                seen += data
            if not interrupted and seen.count(b"OK!") >= 20:
                os.write(fd, b"\x03")   # Ctrl-C in the terminal: SIGINT for the loop
                interrupted = True
        done, status, until = 0, 0, time.time() + 5
        while not done and time.time() < until:   # kubectl closed the terminal: it is exiting
            done, status = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if not done:   # still running: ^C did not end it
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        assert interrupted and done, seen[-500:]
        assert b'pod "load-generator" deleted' in seen and os.waitstatus_to_exitcode(status) != 0, seen[-500:]
        gone = subprocess.run(["kubectl", "get", "pod", "load-generator"], env=env, capture_output=True, text=True)
        assert "NotFound" in gone.stderr
    finally:
        sim.stop()


# ---- the course's own web service behind a Service (the "Done when", with the real app) ----
COURSE_WEB = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {APP_GREETING: "Hello from a ConfigMap"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: course-webapp:lesson
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: 8080}]
        envFrom: [{configMapRef: {name: web-config}}]
        env: [{name: APP_READY_FILE, value: /tmp/ready}]
        readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def _answered_by(log: str) -> list[str]:
    """The ``hostname`` of each JSON answer a client loop printed (one per line), "failed" for a failure."""
    out = []
    for line in log.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line)["hostname"])
        elif line.strip() == "failed":
            out.append("failed")
    return out


def test_the_course_web_service_behind_a_service_spreads_drops_a_pod_that_is_not_ready_and_rolls_without_failures(kube):
    """Three replicas of the course's own app (answered by webapp.app in-process): all three answer,
    with the ConfigMap's greeting; a pod whose /readyz fails gets no traffic; a rolling update with
    the default strategy is seen from a client as zero failed requests."""
    sim = kube.sim
    kube("apply", "-f", "-", stdin=COURSE_WEB)
    sim.advance(20)
    web = [p["metadata"]["name"] for p in pods(sim, "app", "web")]
    assert len(web) == 3
    for name in web:  # /readyz is 503 until APP_READY_FILE exists
        kube("exec", name, "--", "touch", "/tmp/ready")
    sim.advance(5)
    kube("run", "client", "--image=busybox:1.28", "--restart=Never", "--", "/bin/sh", "-c",
         "while true; do wget -q -O- http://web || echo failed; echo; sleep 0.2; done")
    sim.advance(20)
    first = kube("logs", "client")
    answered = _answered_by(first)
    assert set(answered) == set(web), f"all three pods should answer through the Service: {sorted(set(answered))}"
    greeting = json.loads(next(line for line in first.splitlines() if line.startswith("{")))["greeting"]
    assert greeting == "Hello from a ConfigMap"

    kube("exec", web[0], "--", "rm", "/tmp/ready")   # its readiness probe fails from now on
    sim.advance(10)
    ready = kube("get", "pod", web[0], "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
    assert ready == "False"
    before = len(kube("logs", "client").splitlines())
    sim.advance(20)
    later = _answered_by("\n".join(kube("logs", "client").splitlines()[before:]))
    assert later and web[0] not in later and "failed" not in later, sorted(set(later))

    # a rolling update (a new template: no ready file is needed any more), default strategy
    kube("set", "env", "deployment/web", "APP_READY_FILE-", "APP_VERSION=2.0.0")
    before = len(kube("logs", "client").splitlines())
    sim.advance(120)
    now = [p["metadata"]["name"] for p in pods(sim, "app", "web")]
    assert len(now) == 3 and not set(now) & set(web), now
    during = _answered_by("\n".join(kube("logs", "client").splitlines()[before:]))
    assert during.count("failed") == 0 and len(during) > 100, [a for a in during if a == "failed"][:3]
    assert set(during[-20:]) <= set(now), "after the rollout only the new pods answer"


COURSE_WEB_LIVENESS = """
apiVersion: v1
kind: Pod
metadata: {name: web-alive, labels: {app: web-alive}}
spec:
  containers:
  - name: web
    image: course-webapp:lesson
    imagePullPolicy: IfNotPresent
    env: [{name: APP_UNHEALTHY_FILE, value: /tmp/broken}]
    livenessProbe: {httpGet: {path: /healthz, port: 8080}, initialDelaySeconds: 2, periodSeconds: 2, failureThreshold: 3}
"""


def test_the_course_web_service_says_it_is_broken_while_its_unhealthy_file_exists_and_is_restarted(kube):
    """`touch` APP_UNHEALTHY_FILE in the container: /healthz answers 500, the liveness probe fails three
    times in a row and the kubelet restarts the container, whose fresh file system is healthy again."""
    sim = kube.sim
    kube("apply", "-f", "-", stdin=COURSE_WEB_LIVENESS)
    sim.advance(20)

    def restarts() -> str:
        return kube("get", "pod", "web-alive", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
    assert restarts() == "0"
    kube("exec", "web-alive", "--", "touch", "/tmp/broken")
    sim.advance(3)
    assert restarts() == "0", "one failed probe is not yet three in a row"
    sim.advance(10)
    assert restarts() == "1"
    events = kube("get", "events", "--field-selector", "involvedObject.name=web-alive", "-o",
                  "jsonpath={range .items[*]}{.reason}: {.message}{'\\n'}{end}")
    assert "Liveness probe failed: HTTP probe failed with statuscode: 500" in events, events
    sim.advance(60)
    assert restarts() == "1", "the restarted container has no /tmp/broken: it stays healthy"
