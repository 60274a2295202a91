"""Follow-ups of issue 13 in the kubelet and the image catalogue: what the tutorials' servers
answer (``responses:`` in data/images.yaml, through ``serving.http_request`` on a running pod),
ConfigMap history from the kubelet's start, ``$(VAR)`` in the process's command, echo servers and
startup probes, and pods whose whole process is ``sleep infinity``.

Each test uses a frozen-clock emulator (``realtime=False``): nothing moves until ``advance()``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import resources, serving


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    handle = kubesim.start(tmp_path_factory.mktemp("followups") / "kubeconfig", seed=0, realtime=False)
    yield handle
    handle.stop()


NS = "/api/v1/namespaces/default"


def create(sim, plural: str, body: dict) -> None:
    r = requests.post(f"{sim.url}{NS}/{plural}", json={"apiVersion": "v1", **body}, timeout=10)
    assert r.status_code == 201, r.text


def make_pod(sim, name: str, image: str, volumes: list | None = None, **container) -> None:
    spec: dict = {"containers": [{"name": "c", "image": image, **container}]}
    if volumes:
        spec["volumes"] = volumes
    create(sim, "pods", {"kind": "Pod", "metadata": {"name": name, "labels": {"app": name}}, "spec": spec})


def pod(sim, name: str) -> dict:
    return sim.store.get(resources.get("/pods"), "default", name)


def get(sim, name: str, port: int, path: str = "/", method: str = "GET", headers: dict | None = None,
        body: bytes = b"") -> serving.HttpAnswer:
    return serving.http_request(sim.store, pod(sim, name), port, method, path, headers or {}, body)


def container_state(sim, name: str) -> dict:
    return (pod(sim, name)["status"].get("containerStatuses") or [{}])[0]


# ---- 1. what the tutorials' servers answer ----------------------------------------------------
@pytest.fixture(scope="module")
def servers(sim):
    """One pod of each image, started together (each is Running after 30 s)."""
    for name, image in (("boot1", "gcr.io/google-samples/kubernetes-bootcamp:v1"),
                        ("boot2", "jocatalin/kubernetes-bootcamp:v2"), ("slim", "registry.k8s.io/nginx-slim:0.8"),
                        ("gs", "docker/getting-started"), ("echo", "registry.k8s.io/echoserver:1.10"),
                        ("where", "us-docker.pkg.dev/google-samples/containers/gke/whereami:v1.2.20"),
                        ("gb", "gcr.io/google_samples/gb-frontend:v5")):
        make_pod(sim, name, image)
    sim.advance(30)
    return sim


def test_the_kubernetes_basics_bootcamps_answer_every_path_with_their_version(servers):
    assert get(servers, "boot1", 8080).body.decode() == "Hello Kubernetes bootcamp! | Running on: boot1 | v=1\n"
    answer = get(servers, "boot2", 8080, "/any/path?x=1", "POST")
    assert (answer.status, answer.body.decode()) == (200, "Hello Kubernetes bootcamp! | Running on: boot2 | v=2\n")
    assert answer.headers["Content-Type"] == "text/plain"


def test_nginx_slim_and_getting_started_serve_their_pages(servers):
    slim = get(servers, "slim", 80)
    assert slim.status == 200 and b"<h1>Welcome to nginx!</h1>" in slim.body
    assert get(servers, "slim", 80, "/nope").status == 404
    page = get(servers, "gs", 80)
    assert page.status == 200 and b"<title>Getting Started</title>" in page.body
    assert b"The command you just ran" in page.body and page.headers["Server"].startswith("nginx/")


def test_echoserver_prints_its_hostname_and_the_request(servers):
    ip = pod(servers, "echo")["status"]["podIP"]
    text = get(servers, "echo", 8080, "/some/path?a=1", headers={"Host": f"{ip}:8080", "User-Agent": "curl/8.5.0",
                                                                  "Accept": "*/*"}).body.decode()
    assert "Hostname: echo\n" in text
    for line in ("\tmethod=GET\n", "\treal path=/some/path\n", "\tquery=a=1\n",
                 f"\trequest_uri=http://{ip}:8080/some/path?a=1\n", "\taccept=*/*\n", f"\thost={ip}:8080\n",
                 "\tuser-agent=curl/8.5.0\n", "\t-no body in request-"):
        assert line in text, (line, text)
    posted = get(servers, "echo", 8080, "/", "POST", body=b"name=kubesim").body.decode()
    assert "\tmethod=POST\n" in posted and "Request Body:\n\tname=kubesim\n" in posted, posted


def test_whereami_answers_json_about_its_pod(servers):
    where = pod(servers, "where")
    data = json.loads(get(servers, "where", 8080).body)
    assert {k: data[k] for k in ("pod_name", "pod_ip", "node_name", "pod_namespace")} == {
        "pod_name": "where", "pod_ip": where["status"]["podIP"], "node_name": where["spec"]["nodeName"],
        "pod_namespace": "default"}
    assert get(servers, "where", 8080, "/healthz").body == b"OK"


def test_the_guestbook_frontend_serves_its_page(servers):
    page = get(servers, "gb", 80)
    assert page.status == 200 and b"<title>Guestbook</title>" in page.body and b"{{msg}}" in page.body


def test_the_liveness_server_is_healthy_for_10_seconds_then_answers_500(sim):
    make_pod(sim, "liveness-http", "registry.k8s.io/liveness", args=["/server"])
    sim.advance(1)
    while container_state(sim, "liveness-http").get("state", {}).get("running") is None:
        sim.advance(0.5)
    sim.advance(9)
    ok = get(sim, "liveness-http", 8080, "/healthz")
    assert (ok.status, ok.body) == (200, b"ok")
    sim.advance(2)
    bad = get(sim, "liveness-http", 8080, "/healthz")
    assert bad.status == 500 and re.fullmatch(rb"error: 11(\.\d+)?", bad.body), bad.body  # Go's %v of the age


def events(sim, name: str) -> list[dict]:
    items = requests.get(f"{sim.url}{NS}/events", timeout=10).json()["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


def wait_running(sim, name: str, limit: float = 30) -> None:
    for _ in range(int(limit * 2)):
        if container_state(sim, name).get("state", {}).get("running") is not None:
            return
        sim.advance(0.5)
    raise AssertionError(container_state(sim, name))


def test_the_probes_page_http_liveness_example_restarts_after_its_healthz_turns_500(sim):
    make_pod(sim, "liveness-probe", "registry.k8s.io/liveness", args=["/server"],
             livenessProbe={"httpGet": {"path": "/healthz", "port": 8080, "httpHeaders": [{"name": "Custom-Header", "value": "Awesome"}]},
                            "initialDelaySeconds": 3, "periodSeconds": 3})
    wait_running(sim, "liveness-probe")
    sim.advance(9)
    assert container_state(sim, "liveness-probe")["restartCount"] == 0
    sim.advance(15)
    assert container_state(sim, "liveness-probe")["restartCount"] >= 1
    unhealthy = [e["message"] for e in events(sim, "liveness-probe") if e["reason"] == "Unhealthy"]
    assert unhealthy and set(unhealthy) == {"Liveness probe failed: HTTP probe failed with statuscode: 500"}, unhealthy


def test_a_readiness_probe_on_the_liveness_server_turns_unready_after_failure_threshold_failures(sim):
    """/healthz answers 500 once the server is 10 s old: probes every 2 s fail at 12, 14 and 16 s,
    and only the third failure in a row (failureThreshold 3, the default) takes the pod out."""
    make_pod(sim, "ready-http", "registry.k8s.io/liveness", args=["/server"],
             readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2})
    make_pod(sim, "ready-http-1", "registry.k8s.io/liveness", args=["/server"],
             readinessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2, "failureThreshold": 1})
    wait_running(sim, "ready-http")
    sim.advance(5)
    assert container_state(sim, "ready-http")["ready"] is True
    seen = {}
    for step in range(8):  # from about 5 s to 21 s of the server's life, every 2 s
        sim.advance(2)
        seen[7 + 2 * step] = (container_state(sim, "ready-http")["ready"], container_state(sim, "ready-http-1")["ready"])
    flips = [age for age, (ready, _) in seen.items() if not ready]
    flips_1 = [age for age, (_, ready) in seen.items() if not ready]
    assert flips and flips_1 and min(flips) - min(flips_1) >= 3, \
        f"failureThreshold 3 should lag failureThreshold 1 by two probes (4 s): {seen}"


def test_a_readiness_probe_with_success_threshold_needs_that_many_successes_in_a_row(sim):
    make_pod(sim, "ready-slow", "busybox:1.36", command=["sh", "-c", "sleep 5; touch /tmp/ready; sleep 3600"],
             readinessProbe={"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 2, "successThreshold": 3})
    make_pod(sim, "ready-fast", "busybox:1.36", command=["sh", "-c", "sleep 5; touch /tmp/ready; sleep 3600"],
             readinessProbe={"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 2})
    wait_running(sim, "ready-slow")
    became = {}
    for step in range(10):
        sim.advance(1)
        for name in ("ready-slow", "ready-fast"):
            if container_state(sim, name)["ready"] and name not in became:
                became[name] = step
    assert set(became) == {"ready-slow", "ready-fast"}, became
    assert became["ready-slow"] - became["ready-fast"] >= 3, f"successThreshold 3 is two more probes (4 s): {became}"



def exec_in(sim, name: str, command: list[str]) -> str:
    """What `kubectl exec NAME -- COMMAND` prints, through the official client's stream()."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = config.new_client_from_config(str(sim.kubeconfig))
    try:
        return stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, name, "default", command=command,
                      stderr=True, stdin=False, stdout=True, tty=False)
    finally:
        api.close()


def test_a_container_restarted_by_its_liveness_probe_is_not_ready_until_its_own_readiness_probe_passes(sim):
    """The restarted container is a new one (its /tmp is empty): the old instance's readiness streak
    must not carry over, so the pod is 0/1 until the new container's file exists again."""
    make_pod(sim, "relive", "course-webapp:lesson",
             env=[{"name": "APP_READY_FILE", "value": "/tmp/ready"}, {"name": "APP_UNHEALTHY_FILE", "value": "/tmp/unhealthy"}],
             startupProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 2, "failureThreshold": 30},
             livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "failureThreshold": 3},
             readinessProbe={"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 2, "failureThreshold": 1})
    wait_running(sim, "relive")
    sim.advance(4)
    exec_in(sim, "relive", ["touch", "/tmp/ready"])
    sim.advance(4)
    assert container_state(sim, "relive")["ready"] is True
    exec_in(sim, "relive", ["touch", "/tmp/unhealthy"])
    for _ in range(5):
        sim.advance(5)
    state = container_state(sim, "relive")
    assert state["restartCount"] == 1 and "running" in state["state"], state
    assert get(sim, "relive", 8080, "/readyz").status == 503
    assert state["ready"] is False, "a restarted container is ready only once its own readiness probe passes"
    exec_in(sim, "relive", ["touch", "/tmp/ready"])
    sim.advance(4)
    assert container_state(sim, "relive")["ready"] is True
    exec_in(sim, "relive", ["rm", "/tmp/ready"])
    sim.advance(4)
    assert container_state(sim, "relive")["ready"] is False, "and unready again as soon as it fails (failureThreshold 1)"


def test_a_deployment_reapplied_with_a_service_account_and_a_volume_rolls_out(sim, tmp_path):
    """kubectl apply of a changed template (a serviceAccountName, a configMap volume, fields the
    apiserver defaults) makes one new ReplicaSet that takes over: the stored template is defaulted
    on update as on create, so the controller recognises its ReplicaSet's copy of it."""
    def apply(extra: str) -> None:
        path = tmp_path / "rollout.yaml"
        path.write_text(f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: rollout}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: rollout}}}}
  template:
    metadata: {{labels: {{app: rollout}}}}
    spec:{extra}
      containers:
        - name: web
          image: course-webapp:lesson
""")
        done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), "apply", "-f", str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    create(sim, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "rollout-config"}, "data": {"a": "1"}})
    create(sim, "serviceaccounts", {"kind": "ServiceAccount", "metadata": {"name": "rollout"}})
    apply("")
    sim.advance(20)
    apply("""
      serviceAccountName: rollout
      volumes: [{name: config, configMap: {name: rollout-config}}]""")
    sim.advance(60)
    base = f"{sim.url}/apis/apps/v1/namespaces/default"
    deployment = requests.get(f"{base}/deployments/rollout", timeout=10).json()
    sets = [rs for rs in requests.get(f"{base}/replicasets", timeout=10).json()["items"]
            if rs["metadata"]["name"].startswith("rollout-")]
    assert deployment["status"].get("updatedReplicas") == 2 and deployment["status"].get("readyReplicas") == 2, deployment["status"]
    assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, 2], [(rs["metadata"]["name"], rs["spec"]["replicas"]) for rs in sets]
    template = deployment["spec"]["template"]["spec"]
    assert template["volumes"][0]["configMap"].get("defaultMode") == 420 and template.get("serviceAccount") == "rollout"


def test_a_server_killed_by_its_liveness_probe_stops_on_sigterm_with_exit_code_0(sim):
    """The kubelet kills a container whose liveness probe fails as it stops one: SIGTERM, then SIGKILL
    after the grace period. gunicorn (the web service) shuts down on SIGTERM and exits 0, so the
    last state is Completed (kubernetes/kubernetes#109537: httpd's pod ends Completed under
    restartPolicy OnFailure); a shell as PID 1 ignores SIGTERM and ends by SIGKILL, 137 (the stage case)."""
    make_pod(sim, "killed-gently", "course-webapp:lesson", env=[{"name": "APP_UNHEALTHY_FILE", "value": "/etc/hostname"}],
             livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5, "failureThreshold": 2})
    wait_running(sim, "killed-gently")
    sim.advance(12)
    state = container_state(sim, "killed-gently")
    assert state["restartCount"] == 1, state
    assert state["lastState"]["terminated"]["exitCode"] == 0 and state["lastState"]["terminated"]["reason"] == "Completed", state

# ---- 2. ConfigMap history from the kubelet's start ------------------------------------------------
def test_a_configmap_volume_updated_before_anyone_looked_keeps_its_old_content_for_the_sync_delay(tmp_path):
    from labkit.kubesim import userland
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    try:
        create(sim, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"greeting": "old"}})
        make_pod(sim, "reader", "busybox:1.36", command=["sleep", "3600"],
                 volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}], volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}])
        sim.advance(20)
        r = requests.put(f"{sim.url}{NS}/configmaps/cfg", json={"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "cfg"}, "data": {"greeting": "new"}}, timeout=10)
        assert r.status_code == 200, r.text
        sim.advance(30)
        view = userland.container_view(sim.store, pod(sim, "reader"), "c")
        assert view.files["/etc/cfg/greeting"] == b"old"   # 30 s after the update: not there yet
        sim.advance(35)
        view = userland.container_view(sim.store, pod(sim, "reader"), "c")
        assert view.files["/etc/cfg/greeting"] == b"new"
    finally:
        sim.stop()


# ---- 3. $(VAR) in the command, as the kubelet hands it to the runtime ---------------------------
def logs(sim, name: str) -> str:
    r = requests.get(f"{sim.url}{NS}/pods/{name}/log", timeout=10)
    assert r.status_code == 200, r.text
    return r.text


def test_dollar_paren_variables_in_the_command_are_expanded_before_the_process_runs(sim):
    create(sim, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "special"}, "data": {"how": "very"}})
    make_pod(sim, "expand", "busybox:1.36", command=["sh", "-c", "echo $(GREETING) $(HOW) $(MISSING) && sleep 3600"],
             env=[{"name": "GREETING", "value": "hi"},
                  {"name": "HOW", "valueFrom": {"configMapKeyRef": {"name": "special", "key": "how"}}}])
    make_pod(sim, "expand-args", "busybox:1.36", command=["echo"], args=["$(GREETING)", "$$(GREETING)"],
             env=[{"name": "GREETING", "value": "hello"}])
    sim.advance(10)
    assert logs(sim, "expand") == "hi very $(MISSING)\n"
    assert logs(sim, "expand-args") == "hello $(GREETING)\n"


# ---- 4. echo servers answer TCP probes; startup probes ---------------------------------------------
def test_an_nc_echo_server_passes_its_tcp_probes(sim):
    make_pod(sim, "echo-nc", "busybox:1.36", command=["sh", "-c", "nc -l -p 1234 -e /bin/cat"],
             readinessProbe={"tcpSocket": {"port": 1234}, "periodSeconds": 1},
             livenessProbe={"tcpSocket": {"port": 1234}, "periodSeconds": 1})
    sim.advance(20)
    cs = container_state(sim, "echo-nc")
    assert cs["ready"] is True and cs["restartCount"] == 0, cs


def test_the_python_clients_e2e_pod_with_a_tcp_startup_probe_becomes_ready(sim):
    # the official client's e2e test_portforward_raw: port-server.py from a ConfigMap, echoing on 1234 and
    # 1235, and a tcpSocket startupProbe on 1235; the test waits for Running and ready
    create(sim, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "portforward-raw"},
                               "data": {"port-server.py": "import socket, sys, threading\n"}})
    create(sim, "pods", {"kind": "Pod", "metadata": {"name": "portforward-raw"}, "spec": {
        "containers": [{"name": "port-server", "image": "python",
                        "command": ["python", "-u", "/opt/port-server.py", "1234", "1235"],
                        "volumeMounts": [{"name": "port-server", "mountPath": "/opt", "readOnly": True}],
                        "startupProbe": {"tcpSocket": {"port": 1235}, "periodSeconds": 1, "failureThreshold": 30}}],
        "restartPolicy": "Never", "volumes": [{"name": "port-server", "configMap": {"name": "portforward-raw"}}]}})
    wait_running(sim, "portforward-raw")
    sim.advance(3)
    cs = container_state(sim, "portforward-raw")
    assert (cs["started"], cs["ready"], cs["restartCount"]) == (True, True, 0), cs
    assert pod(sim, "portforward-raw")["status"]["phase"] == "Running"


def test_a_startup_probe_holds_liveness_and_readiness_until_it_succeeds(sim):
    # the file the startup probe waits for appears after 25 s; liveness alone would have killed it at 3 s
    make_pod(sim, "slow-start", "busybox:1.36", command=["sh", "-c", "sleep 25; touch /tmp/up; sleep 3600"],
             startupProbe={"exec": {"command": ["cat", "/tmp/up"]}, "periodSeconds": 5, "failureThreshold": 10},
             livenessProbe={"exec": {"command": ["cat", "/tmp/up"]}, "periodSeconds": 1, "failureThreshold": 1},
             readinessProbe={"exec": {"command": ["cat", "/tmp/up"]}, "periodSeconds": 1})
    wait_running(sim, "slow-start")
    sim.advance(10)
    cs = container_state(sim, "slow-start")
    assert (cs["started"], cs["ready"], cs["restartCount"]) == (False, False, 0), cs
    sim.advance(25)
    cs = container_state(sim, "slow-start")
    assert (cs["started"], cs["ready"], cs["restartCount"]) == (True, True, 0), cs
    assert not [e for e in events(sim, "slow-start") if e["reason"] == "Unhealthy" and "Liveness" in e["message"]]


def test_a_startup_probe_that_keeps_failing_restarts_the_container(sim):
    make_pod(sim, "never-starts", "busybox:1.36", command=["sleep", "3600"],
             startupProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2, "failureThreshold": 3})
    wait_running(sim, "never-starts")
    sim.advance(8)
    cs = container_state(sim, "never-starts")
    assert cs["restartCount"] >= 1, cs
    messages = [e["message"] for e in events(sim, "never-starts") if e["reason"] in ("Unhealthy", "Killing")]
    assert any(m.startswith("Startup probe failed: Get \"http://") for m in messages), messages
    assert "Container c failed startup probe, will be restarted" in messages, messages


# ---- 5. processes that wait forever ------------------------------------------------------------------
@pytest.mark.parametrize("command", [["sleep", "infinity"], ["sleep", "3600"], ["tail", "-f", "/dev/null"],
                                     ["sh", "-c", "sleep infinity"]])
def test_the_dns_debugging_pod_keeps_running(sim, command):
    name = "dnsutils-" + str(abs(hash(tuple(command))) % 10000)
    make_pod(sim, name, "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3", command=command)
    sim.advance(120)
    cs = container_state(sim, name)
    assert "running" in cs["state"] and cs["restartCount"] == 0, cs
    assert pod(sim, name)["status"]["phase"] == "Running"


DNSUTILS = """apiVersion: v1
kind: Pod
metadata:
  name: dnsutils
  namespace: default
spec:
  containers:
  - name: dnsutils
    image: registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3
    command:
      - sleep
      - "infinity"
    imagePullPolicy: IfNotPresent
  restartPolicy: Always
"""


def test_kubernetes_io_dnsutils_manifest_applied_with_kubectl_is_running(tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))
    (tmp_path / "dnsutils.yaml").write_text(DNSUTILS)
    try:
        def kubectl(*args: str) -> str:
            done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                                  text=True, env=env, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout
        assert kubectl("apply", "-f", str(tmp_path / "dnsutils.yaml")).strip() == "pod/dnsutils created"
        sim.advance(300)
        row = kubectl("get", "pods", "dnsutils").splitlines()[1].split()
        assert row[:4] == ["dnsutils", "1/1", "Running", "0"], row
    finally:
        sim.stop()
