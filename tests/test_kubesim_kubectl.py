"""Real kubectl against labkit.kubesim: the columns and answers of a real cluster.

/usr/bin/kubectl on these machines is gcloud's dispatcher: it reads the server's /version and
runs the newest kubectl it has that is not newer than the server (here kubectl 1.33 for our
1.36 server). KUBECACHEDIR keeps its discovery and HTTP caches per test session.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from conftest import skip_unless_ci
from labkit import kubesim


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    where = tmp_path_factory.mktemp("kubectl")
    sim = kubesim.start(where / "kubeconfig", seed=0)
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(where / "cache"))

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done
    run.env = env  # type: ignore[attr-defined]
    run.dir = where  # type: ignore[attr-defined]
    run.sim = sim  # type: ignore[attr-defined]
    yield run
    sim.stop()


def header(text: str) -> list[str]:
    return text.splitlines()[0].split()


def test_get_nodes_wide(kube):
    out = kube("get", "nodes", "-o", "wide").stdout
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP",
                                           "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"]
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["course-control-plane", "course-worker", "course-worker2"]
    assert [r[2] for r in rows] == ["control-plane", "<none>", "<none>"]
    assert all(r[1] == "Ready" and r[4] == "v1.36.1" and r[5].startswith("172.18.0.") for r in rows)


def test_get_pods_all_namespaces_wide(kube):
    out = kube("get", "pods", "-A", "-o", "wide").stdout
    assert " ".join(header(out)) == "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
    rows = [line.split() for line in out.splitlines()[1:]]
    assert len(rows) == 13
    etcd = next(r for r in rows if r[1] == "etcd-course-control-plane")
    assert etcd[:5] == ["kube-system", "etcd-course-control-plane", "1/1", "Running", "0"]
    assert etcd[7] == "course-control-plane"
    assert any(r[0] == "local-path-storage" for r in rows)


def test_api_resources(kube):
    out = kube("api-resources").stdout
    assert header(out) == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    for line in ("deployments deploy apps/v1 true Deployment", "nodes no v1 false Node",
                 "horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler"):
        assert line in [" ".join(row.split()) for row in out.splitlines()]


def test_create_apply_twice_label_describe_delete(kube):
    manifest = kube.dir / "web.yaml"
    body = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""
    manifest.write_text(body.replace("REPLICAS", "2"))
    assert kube("create", "-f", str(manifest)).stdout.split("\n")[:2] == ["deployment.apps/web created", "service/web created"]
    again = kube("create", "-f", str(manifest), check=False)
    assert again.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating "' in again.stderr
    assert 'deployments.apps "web" already exists' in again.stderr
    manifest.write_text(body.replace("REPLICAS", "3"))
    kube("apply", "-f", str(manifest))
    assert kube("apply", "-f", str(manifest)).stdout.split("\n")[:2] == ["deployment.apps/web unchanged", "service/web unchanged"]
    assert kube("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    assert kube("label", "deploy", "web", "tier=frontend").stdout.strip() == "deployment.apps/web labeled"
    assert "tier=frontend" in kube("get", "deploy", "web", "--show-labels").stdout
    desc = kube("describe", "deployment", "web").stdout
    assert "Replicas:               3 desired" in desc and "Image:         nginx:1.27" in desc
    svc = kube("get", "svc", "web").stdout
    assert header(svc) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"] and "80/TCP" in svc
    assert kube("scale", "deploy", "web", "--replicas=4").stdout.strip() == "deployment.apps/web scaled"
    out = kube("delete", "-f", str(manifest)).stdout
    assert 'deployment.apps "web" deleted' in out and 'service "web" deleted' in out


def test_describe_node_lists_its_pods(kube):
    desc = kube("describe", "node", "course-control-plane").stdout
    assert "Taints:             node-role.kubernetes.io/control-plane:NoSchedule" in desc
    assert "etcd-course-control-plane" in desc and "PodCIDR:                      10.244.0.0/24" in desc


def test_server_side_apply(kube):
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: {a: '1', b: '2'}\n"
    assert kube("apply", "--server-side", "-f", "-", stdin=cm).stdout.strip() == "configmap/ssa serverside-applied"
    kube("apply", "--server-side", "-f", "-", stdin=cm.replace(", b: '2'", ""))
    assert kube("get", "cm", "ssa", "-o", "jsonpath={.data}").stdout == '{"a":"1"}'
    kube("delete", "cm", "ssa")


def test_get_watch_sees_events(kube):
    watcher = subprocess.Popen(["kubectl", "get", "configmaps", "-w", "--request-timeout=10s"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=kube.env)
    try:
        time.sleep(1.0)
        kube("apply", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {a: '1'}\n")
        kube("delete", "configmap", "watched")
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert sum(1 for line in lines if line.startswith("watched ")) >= 2  # added, then deleted


def test_errors_as_a_real_cluster_prints_them(kube):
    bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  containers: [{name: c, image: busybox}]\n"
    out = kube("create", "-f", "-", stdin=bad, check=False)
    assert out.returncode == 1 and out.stderr.startswith('The Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"')
    typo = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: busybox, imagex: a}]\n"
    out = kube("apply", "-f", "-", stdin=typo, check=False)
    assert out.stderr.strip() == ('Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot be '
                                  'handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagex"')
    unknown = "apiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n"
    out = kube("create", "-f", "-", stdin=unknown, check=False)
    assert 'no matches for kind "Frobnicator" in version "v1"' in out.stderr
    out = kube("get", "pod", "nope", check=False)
    assert out.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'



def test_a_rolling_update_that_could_never_progress_is_refused(kube):
    """maxSurge 0 with maxUnavailable 0 (or 0%) may neither add a pod nor take one away: the apiserver
    refuses it; left out, maxUnavailable is its default 25% and the Deployment is fine."""
    def deployment(rolling: str) -> str:
        return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
                f"  strategy: {{type: RollingUpdate, rollingUpdate: {rolling}}}\n"
                "  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: course-webapp:lesson}]}\n")
    for rolling, shown in (("{maxSurge: 0, maxUnavailable: 0}", "0"), ('{maxSurge: "0%", maxUnavailable: "0%"}', '"0%"')):
        out = kube("create", "-f", "-", stdin=deployment(rolling), check=False)
        assert out.returncode == 1 and ('The Deployment "web" is invalid: spec.strategy.rollingUpdate.maxUnavailable: '
                                        f'Invalid value: {shown}: may not be 0 when `maxSurge` is 0') in out.stderr, out.stderr
    out = kube("create", "-f", "-", stdin=deployment('{maxUnavailable: "150%"}'), check=False)
    assert 'maxUnavailable: Invalid value: "150%": must not be greater than 100%' in out.stderr
    assert kube("create", "-f", "-", stdin=deployment("{maxSurge: 0}")).returncode == 0


# ---- issue 4: the cluster comes alive (controllers on a clock that follows real time) ----------------
def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()[1:]]


def test_create_deployment_scale_set_image_and_undo(kube):
    # `kubectl create deployment` sends a protobuf body: the emulator reads it
    assert kube("create", "deployment", "hello", "--image=nginx", "--replicas=3").stdout.strip() == "deployment.apps/hello created"
    out = kube("rollout", "status", "deployment/hello", "--timeout=30s").stdout
    assert out.strip().endswith('deployment "hello" successfully rolled out')
    nodes = {r[0]: r for r in rows(kube("get", "nodes", "-o", "wide").stdout)}
    cidrs = dict(line.split() for line in kube("get", "nodes", "-o",
                                                "jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR}{\"\\n\"}{end}").stdout.splitlines())
    pods = rows(kube("get", "pods", "-l", "app=hello", "-o", "wide").stdout)
    assert len(pods) == 3 and all(p[1] == "1/1" and p[2] == "Running" for p in pods)
    import ipaddress
    for p in pods:
        ip, node = p[5], p[6]
        assert node in nodes and node != "course-control-plane"
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidrs[node])
    assert kube("scale", "deployment/hello", "--replicas=5").stdout.strip() == "deployment.apps/hello scaled"
    kube("rollout", "status", "deployment/hello", "--timeout=30s")
    assert len(rows(kube("get", "pods", "-l", "app=hello").stdout)) == 5
    kube("set", "image", "deployment/hello", "nginx=nginx:1.27")
    out = kube("rollout", "status", "deployment/hello", "--timeout=60s").stdout
    assert "out of 5 new replicas have been updated" in out and out.strip().endswith("successfully rolled out")
    history = kube("rollout", "history", "deployment/hello").stdout
    assert [r[0] for r in rows(history.split("REVISION", 1)[1]) if r] == ["1", "2"], history
    assert kube("rollout", "undo", "deployment/hello").stdout.strip() == "deployment.apps/hello rolled back"
    kube("rollout", "status", "deployment/hello", "--timeout=60s")
    kube.sim.advance(2)  # the last old pods finish terminating (rollout status does not wait for that)
    images = kube("get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].spec.containers[0].image}").stdout.split()
    assert set(images) == {"nginx"} and len(images) == 5
    rs = rows(kube("get", "rs", "-l", "app=hello").stdout)
    assert len(rs) == 2  # revision 1's ReplicaSet came back as revision 3
    # the Deployment's change-cause follows onto its current ReplicaSet, which `rollout history` shows
    kube("annotate", "deployment/hello", "kubernetes.io/change-cause=back to the plain nginx image")
    kube.sim.advance(1)
    history = kube("rollout", "history", "deployment/hello").stdout
    assert [line.split(None, 1) for line in history.splitlines() if line.strip()][-1] == ["3", "back to the plain nginx image"], history
    events = kube("get", "events", "--field-selector", "involvedObject.name=hello").stdout
    assert "ScalingReplicaSet" in events and "Scaled up replica set hello-" in events


def test_deleted_pod_is_replaced_and_describe_shows_events(kube):
    kube("create", "deployment", "heal", "--image=nginx", "--replicas=2")
    kube("rollout", "status", "deployment/heal", "--timeout=30s")
    victim = kube("get", "pods", "-l", "app=heal", "-o", "jsonpath={.items[0].metadata.name}").stdout
    assert kube("delete", "pod", victim).stdout.strip() == f'pod "{victim}" deleted'
    kube("rollout", "status", "deployment/heal", "--timeout=30s")
    names = kube("get", "pods", "-l", "app=heal", "-o", "jsonpath={.items[*].metadata.name}").stdout.split()
    assert len(names) == 2 and victim not in names
    desc = kube("describe", "pod", names[0]).stdout
    for reason in ("Scheduled", "Pulling", "Pulled", "Created", "Started"):
        assert f"  {reason}  " in desc or f" {reason} " in desc
    kube("delete", "deployment", "heal")


def test_job_completes_with_kubectl(kube):
    kube("create", "job", "hello-job", "--image=busybox", "--", "echo", "hello from the job")
    out = kube("wait", "--for=condition=complete", "job/hello-job", "--timeout=30s").stdout
    assert out.strip() == "job.batch/hello-job condition met"
    assert kube("logs", "job/hello-job").stdout == "hello from the job\n"
    assert rows(kube("get", "jobs", "hello-job").stdout)[0][1:3] == ["Complete", "1/1"]


def test_autoscale_top_and_a_stopped_node(kube):
    kube("create", "deployment", "busy", "--image=course-webapp:lesson", "--replicas=1")
    kube("set", "resources", "deployment/busy", "--requests=cpu=100m")
    kube("rollout", "status", "deployment/busy", "--timeout=30s")
    # `kubectl autoscale` writes autoscaling/v1 (protobuf); the emulator stores v2
    assert kube("autoscale", "deployment/busy", "--min=1", "--max=4", "--cpu-percent=50").stdout.strip() == \
        "horizontalpodautoscaler.autoscaling/busy autoscaled"
    kube.sim.set_load("busy", rps=3)
    kube.sim.advance(60)
    top = rows(kube("top", "pods", "-l", "app=busy").stdout)
    assert top and all(r[1].endswith("m") and r[2].endswith("Mi") for r in top)
    hpa = rows(kube("get", "hpa", "busy").stdout)[0]
    # NAME REFERENCE TARGETS("cpu: N%/50%") MINPODS MAXPODS REPLICAS AGE
    assert hpa[1] == "Deployment/busy" and hpa[2] == "cpu:" and hpa[3].endswith("%/50%") and hpa[4:6] == ["1", "4"]
    assert int(hpa[6]) > 1
    assert len(rows(kube("top", "nodes").stdout)) == 3
    kube.sim.stop_node("course-worker2")
    kube.sim.advance(60)
    status = {r[0]: r[1] for r in rows(kube("get", "nodes").stdout)}
    assert status["course-worker2"] == "NotReady" and status["course-worker"] == "Ready"
    kube.sim.start_node("course-worker2")
    kube.sim.advance(5)
    assert {r[0]: r[1] for r in rows(kube("get", "nodes").stdout)}["course-worker2"] == "Ready"
    kube("delete", "hpa", "busy")
    kube("delete", "deployment", "busy")
