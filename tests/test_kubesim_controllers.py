"""labkit.kubesim's controllers on a frozen simulated clock, through the official Python client.

Every test starts its own emulator with ``realtime=False``: nothing happens until ``advance()``,
so each expectation below is exact (times, counts, names) and the suite stays fast.
"""
from __future__ import annotations

import ipaddress
import json

import pytest
import requests
from kubernetes import client, config

from labkit import kubesim


@pytest.fixture
def sim(tmp_path):
    handle = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    yield handle
    handle.stop()


@pytest.fixture
def kc(sim):
    api = config.new_client_from_config(sim.kubeconfig)
    yield type("Clients", (), {"core": client.CoreV1Api(api), "apps": client.AppsV1Api(api),
                               "batch": client.BatchV1Api(api), "hpa": client.AutoscalingV2Api(api), "raw": api})
    api.close()


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx", cpu: str | None = None, **spec) -> dict:
    container = {"name": name, "image": image}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}, **spec}}


def pods(kc, selector: str = "app=web", namespace: str = "default"):
    return kc.core.list_namespaced_pod(namespace, label_selector=selector).items


def events(kc, namespace: str = "default", name: str | None = None) -> list[tuple[str, str, int]]:
    items = kc.core.list_namespaced_event(namespace).items
    return [(e.reason, e.message, e.count) for e in sorted(items, key=lambda e: (e.last_timestamp, e.metadata.name))
            if name is None or e.involved_object.name == name]


def pod_cidrs(kc) -> dict[str, str]:
    return {n.metadata.name: n.spec.pod_cidr for n in kc.core.list_node().items}


# ---- scheduling, kubelet, deployments ---------------------------------------------------
def test_deployment_runs_three_pods_on_workers_with_ips_from_their_node(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment())
    sim.advance(0)
    first = pods(kc)
    assert len(first) == 3 and all(p.status.phase == "Pending" for p in first)
    assert all(p.status.container_statuses[0].state.waiting.reason == "ContainerCreating" for p in first)
    sim.advance(5)
    cidrs = pod_cidrs(kc)
    running = pods(kc)
    assert [p.status.phase for p in running] == ["Running"] * 3
    assert {p.spec.node_name for p in running} == {"course-worker", "course-worker2"}  # spread, never the control plane
    for p in running:
        assert ipaddress.ip_address(p.status.pod_ip) in ipaddress.ip_network(cidrs[p.spec.node_name])
        assert p.status.host_ip.startswith("172.18.0.") and p.status.container_statuses[0].ready
    d = kc.apps.read_namespaced_deployment("web", "default")
    assert (d.status.replicas, d.status.ready_replicas, d.status.available_replicas, d.status.updated_replicas) == (3, 3, 3, 3)
    progressing = next(c for c in d.status.conditions if c.type == "Progressing")
    assert progressing.reason == "NewReplicaSetAvailable" and progressing.message.endswith("has successfully progressed.")
    rs = kc.apps.list_namespaced_replica_set("default", label_selector="app=web").items[0]
    assert rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert rs.metadata.name == f"web-{rs.metadata.labels['pod-template-hash']}"
    name = running[0].metadata.name
    reasons = [r for r, _, _ in events(kc, name=name)]
    assert reasons == ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    assert ("ScalingReplicaSet", f"Scaled up replica set {rs.metadata.name} from 0 to 3", 1) in events(kc, name="web")


def test_scale_and_a_deleted_pod_is_replaced(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(replicas=2))
    sim.advance(5)
    kc.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    sim.advance(5)
    assert len(pods(kc)) == 5
    victim = pods(kc)[0].metadata.name
    kc.core.delete_namespaced_pod(victim, "default")
    sim.advance(0)
    gone = kc.core.read_namespaced_pod(victim, "default")
    assert gone.metadata.deletion_timestamp is not None  # Terminating: the kubelet stops it gracefully
    sim.advance(5)
    names = [p.metadata.name for p in pods(kc)]
    assert victim not in names and len(names) == 5
    assert all(p.status.phase == "Running" for p in pods(kc))
    kc.apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 1}})
    sim.advance(5)
    assert len(pods(kc)) == 1


def test_rolling_update_revisions_and_rollback(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(replicas=4))
    sim.advance(10)
    kc.apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.27"}]}}}})
    sim.advance(0.5)
    d = kc.apps.read_namespaced_deployment("web", "default")
    # maxSurge 25% of 4 = 1, maxUnavailable 25% of 4 = 1: at most 5 pods, at least 3 available
    assert d.status.replicas <= 5 and d.status.available_replicas >= 3
    sim.advance(30)
    rss = {r.metadata.annotations["deployment.kubernetes.io/revision"]: r for r in
           kc.apps.list_namespaced_replica_set("default", label_selector="app=web").items}
    assert sorted(rss) == ["1", "2"] and rss["2"].spec.replicas == 4 and rss["1"].spec.replicas == 0
    assert {p.spec.containers[0].image for p in pods(kc)} == {"nginx:1.27"}
    # rollback, as `kubectl rollout undo` does: put revision 1's template back
    template = kc.raw.sanitize_for_serialization(rss["1"].spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    kc.apps.patch_namespaced_deployment("web", "default", [{"op": "replace", "path": "/spec/template", "value": template}])
    sim.advance(30)
    rss = {r.metadata.name: r for r in kc.apps.list_namespaced_replica_set("default", label_selector="app=web").items}
    assert len(rss) == 2  # the old ReplicaSet is re-used, with the next revision
    back = next(r for r in rss.values() if r.spec.replicas == 4)
    assert back.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert back.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert {p.spec.containers[0].image for p in pods(kc)} == {"nginx"}


def test_unschedulable_pod_says_why_like_the_scheduler(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(name="huge", replicas=1, cpu="64"))
    sim.advance(1)
    pod = pods(kc, "app=huge")[0]
    assert pod.status.phase == "Pending" and pod.spec.node_name is None
    cond = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (cond.status, cond.reason) == ("False", "Unschedulable")
    expected = ("0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
                "2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                "2 No preemption victims found for incoming pod.")
    assert cond.message == expected
    assert ("FailedScheduling", expected, 1) in events(kc, name=pod.metadata.name)


def test_node_selector_and_tolerations(sim, kc):
    spec = deployment(name="cp", replicas=2)
    spec["spec"]["template"]["spec"].update(
        nodeSelector={"node-role.kubernetes.io/control-plane": ""},
        tolerations=[{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}])
    kc.apps.create_namespaced_deployment("default", spec)
    sim.advance(5)
    assert {p.spec.node_name for p in pods(kc, "app=cp")} == {"course-control-plane"}


def test_missing_image_backs_off(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(name="bad", replicas=1, image="nginx:doesnotexist"))
    sim.advance(2)
    pod = pods(kc, "app=bad")[0]
    state = pod.status.container_statuses[0].state.waiting
    assert state.reason == "ImagePullBackOff" and "not found" in state.message
    messages = [m for _, m, _ in events(kc, name=pod.metadata.name)]
    assert 'Back-off pulling image "nginx:doesnotexist"' in messages and "Error: ErrImagePull" in messages
    sim.advance(60)
    assert pods(kc, "app=bad")[0].status.phase == "Pending"


def test_crash_loop_back_off_doubles_from_ten_seconds(sim, kc):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash"},
           "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 3"]}]}}
    kc.core.create_namespaced_pod("default", pod)
    restarts = []
    for _ in range(90):
        sim.advance(1)
        restarts.append(kc.core.read_namespaced_pod("crash", "default").status.container_statuses[0].restart_count)
    first = {n: restarts.index(n) + 1 for n in set(restarts) if n}
    # exits at ~2 s and is restarted at once; from the second exit on, back-off 10 s, then 20 s, then 40 s
    # (kubernetes.io "Pod Lifecycle": the first restart is immediate)
    assert first[1] in range(1, 4) and first[2] - first[1] in range(9, 13) and first[3] - first[2] in range(19, 23) \
        and first[4] - first[3] in range(39, 43)
    status = kc.core.read_namespaced_pod("crash", "default").status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 3 and status.last_state.terminated.reason == "Error"
    assert kc.core.read_namespaced_pod_log("crash", "default") == "boom\n"
    assert any(r == "BackOff" and m.startswith("Back-off restarting failed container c in pod crash_default(")
               for r, m, _ in events(kc, name="crash"))


def test_liveness_probe_from_the_kubernetes_docs_restarts_the_container(sim, kc):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "liveness-exec"},
           "spec": {"containers": [{"name": "liveness", "image": "registry.k8s.io/busybox",
                                    "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"],
                                    "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]},
                                                      "initialDelaySeconds": 5, "periodSeconds": 5}}]}}
    pod["spec"]["containers"][0]["image"] = "busybox"
    kc.core.create_namespaced_pod("default", pod)
    sim.advance(30)
    assert kc.core.read_namespaced_pod("liveness-exec", "default").status.container_statuses[0].restart_count == 0
    sim.advance(30)
    status = kc.core.read_namespaced_pod("liveness-exec", "default").status.container_statuses[0]
    assert status.restart_count == 1 and status.last_state.terminated.exit_code == 137
    unhealthy = [(m, n) for r, m, n in events(kc, name="liveness-exec") if r == "Unhealthy"]
    assert unhealthy == [("Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory", 3)]
    assert ("Killing", "Container liveness failed liveness probe, will be restarted", 1) in events(kc, name="liveness-exec")


def test_readiness_probe_drives_ready_and_endpoints(sim, kc):
    spec = deployment(name="api", replicas=2)
    spec["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 10, "periodSeconds": 5}
    kc.apps.create_namespaced_deployment("default", spec)
    kc.core.create_namespaced_service("default", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
                                                  "spec": {"selector": {"app": "api"}, "ports": [{"port": 8080, "targetPort": 80}]}})
    sim.advance(5)
    svc = kc.core.read_namespaced_service("api", "default")
    assert ipaddress.ip_address(svc.spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/16")
    ep = kc.core.read_namespaced_endpoints("api", "default")
    assert ep.subsets[0].addresses is None and len(ep.subsets[0].not_ready_addresses) == 2
    assert all(not p.status.container_statuses[0].ready for p in pods(kc, "app=api"))
    sim.advance(10)
    ep = kc.core.read_namespaced_endpoints("api", "default")
    assert sorted(a.ip for a in ep.subsets[0].addresses) == sorted(p.status.pod_ip for p in pods(kc, "app=api"))
    assert ep.subsets[0].ports[0].port == 80
    slices = client.DiscoveryV1Api(kc.raw).list_namespaced_endpoint_slice(
        "default", label_selector="kubernetes.io/service-name=api").items
    assert len(slices) == 1 and all(e.conditions.ready for e in slices[0].endpoints)


# ---- other workloads ----------------------------------------------------------------------
def test_job_completes_and_a_failing_job_hits_its_backoff_limit(sim, kc):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
           "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34.0",
                                                         "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(200)"]}]}}}}
    kc.batch.create_namespaced_job("default", job)
    sim.advance(1)
    assert kc.batch.read_namespaced_job("pi", "default").status.active == 2
    sim.advance(60)
    status = kc.batch.read_namespaced_job("pi", "default").status
    assert status.succeeded == 3 and status.completion_time is not None
    assert [(c.type, c.status) for c in status.conditions] == [("SuccessCriteriaMet", "True"), ("Complete", "True")]
    done = pods(kc, "batch.kubernetes.io/job-name=pi")
    assert len(done) == 3 and {p.status.phase for p in done} == {"Succeeded"}
    assert kc.core.read_namespaced_pod_log(done[0].metadata.name, "default").startswith("3.14159")
    fail = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fail"},
            "spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 1"]}]}}}}
    kc.batch.create_namespaced_job("default", fail)
    sim.advance(120)
    status = kc.batch.read_namespaced_job("fail", "default").status
    assert status.failed == 3
    failed = next(c for c in status.conditions if c.type == "Failed")
    assert (failed.reason, failed.message) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")


def test_daemonset_and_statefulset(sim, kc):
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}},
                   "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "busybox",
                                                                                                "command": ["sleep", "infinity"]}]}}}}
    kc.apps.create_namespaced_daemon_set("default", ds)
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "redis"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                                      "resources": {"requests": {"storage": "1Gi"}}}}]}}
    kc.apps.create_namespaced_stateful_set("default", sts)
    sim.advance(0.1)
    assert [p.metadata.name for p in pods(kc, "app=db")] == ["db-0"]  # ordered: db-1 waits for db-0 to be Ready
    sim.advance(20)
    agents = pods(kc, "app=agent")
    assert sorted(p.spec.node_name for p in agents) == ["course-worker", "course-worker2"]  # the control plane is tainted
    assert kc.apps.read_namespaced_daemon_set("agent", "default").status.number_ready == 2
    assert [p.metadata.name for p in pods(kc, "app=db")] == ["db-0", "db-1", "db-2"]
    claims = kc.core.list_namespaced_persistent_volume_claim("default").items
    assert sorted(c.metadata.name for c in claims) == ["data-db-0", "data-db-1", "data-db-2"]
    assert {c.status.phase for c in claims} == {"Bound"}
    kc.apps.patch_namespaced_stateful_set_scale("db", "default", {"spec": {"replicas": 1}})
    sim.advance(60)
    assert [p.metadata.name for p in pods(kc, "app=db")] == ["db-0"]


# ---- deletion -------------------------------------------------------------------------------
def test_garbage_collection_background_foreground_orphan_and_namespaces(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(replicas=2))
    sim.advance(5)
    kc.apps.delete_namespaced_deployment("web", "default")  # background by default
    sim.advance(0)
    assert kc.apps.list_namespaced_replica_set("default", label_selector="app=web").items == []
    sim.advance(5)
    assert pods(kc) == []
    kc.apps.create_namespaced_deployment("default", deployment(replicas=2))
    sim.advance(5)
    kc.apps.delete_namespaced_deployment("web", "default", body=client.V1DeleteOptions(propagation_policy="Foreground"))
    sim.advance(0)
    waiting = kc.apps.read_namespaced_deployment("web", "default")
    assert waiting.metadata.deletion_timestamp and "foregroundDeletion" in waiting.metadata.finalizers
    sim.advance(10)
    assert kc.apps.list_namespaced_deployment("default").items == [] and pods(kc) == []
    kc.apps.create_namespaced_deployment("default", deployment(replicas=1))
    sim.advance(5)
    kc.apps.delete_namespaced_deployment("web", "default", body=client.V1DeleteOptions(propagation_policy="Orphan"))
    sim.advance(5)
    orphan = kc.apps.list_namespaced_replica_set("default", label_selector="app=web").items
    assert len(orphan) == 1 and orphan[0].metadata.owner_references is None and len(pods(kc)) == 1
    kc.core.create_namespace({"metadata": {"name": "scratch"}})
    kc.apps.create_namespaced_deployment("scratch", deployment(replicas=2))
    sim.advance(5)
    kc.core.delete_namespace("scratch")
    sim.advance(0)
    assert kc.core.read_namespace("scratch").status.phase == "Terminating"
    sim.advance(10)
    assert "scratch" not in [n.metadata.name for n in kc.core.list_namespace().items]


def test_a_stopped_nodes_pods_come_back_elsewhere(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(replicas=4))
    sim.advance(5)
    on_worker = sorted(p.metadata.name for p in pods(kc) if p.spec.node_name == "course-worker")
    assert on_worker
    sim.stop_node("course-worker")
    sim.advance(49)
    ready = next(c for c in kc.core.read_node("course-worker").status.conditions if c.type == "Ready")
    assert ready.status == "True"
    sim.advance(1)  # node-monitor-grace-period: 50 s
    node = kc.core.read_node("course-worker")
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
    assert {(t.key, t.effect) for t in node.spec.taints} == {("node.kubernetes.io/unreachable", "NoSchedule"),
                                                            ("node.kubernetes.io/unreachable", "NoExecute")}
    sim.advance(299)  # tolerationSeconds: 300 from the taint
    assert all(p.metadata.deletion_timestamp is None for p in pods(kc))
    sim.advance(1)
    now = pods(kc)
    evicted = sorted(p.metadata.name for p in now if p.metadata.deletion_timestamp)
    assert evicted == on_worker  # Terminating while the node is down
    sim.advance(10)
    live = [p for p in pods(kc) if not p.metadata.deletion_timestamp]
    assert len(live) == 4 and {p.spec.node_name for p in live} == {"course-worker2"}
    assert all(p.status.phase == "Running" for p in live)
    assert any(r == "TaintManagerEviction" for r, _, _ in events(kc))
    sim.start_node("course-worker")
    sim.advance(5)
    assert not any(p.metadata.deletion_timestamp for p in pods(kc))
    assert kc.core.read_node("course-worker").spec.taints is None


# ---- logs, metrics, determinism ---------------------------------------------------------------------
def test_logs_and_kubectl_top_metrics(sim, kc):
    kc.apps.create_namespaced_deployment("default", deployment(replicas=2, image="course-webapp:lesson", cpu="100m"))
    sim.set_load("web", rps=1)
    sim.advance(31)
    names = [p.metadata.name for p in pods(kc)]
    assert "Listening at: http://0.0.0.0:8080" in kc.core.read_namespaced_pod_log(names[0], "default")
    body = requests.get(f"{sim.url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", timeout=5).json()
    usage = {m["metadata"]["name"]: m["containers"][0]["usage"] for m in body["items"]}
    assert sorted(usage) == sorted(names)
    assert {u["cpu"] for u in usage.values()} == {"52000000n"}  # 2m idle + 100m per request/s x 0.5 request/s


def dump(sim) -> str:
    out = []
    for path in ("/api/v1/pods", "/api/v1/events", "/apis/apps/v1/replicasets", "/api/v1/endpoints"):
        out.append(requests.get(sim.url + path, timeout=5).json()["items"])
    return json.dumps(out, sort_keys=True)


def test_same_seed_same_actions_same_cluster(tmp_path):
    from datetime import datetime, timezone
    from labkit.kubesim.clock import SimClock
    dumps = []
    for run in range(2):
        sim = kubesim.start(tmp_path / f"kc{run}", seed=5, realtime=False,
                            clock=SimClock(datetime(2026, 3, 1, tzinfo=timezone.utc), realtime=False))
        try:
            requests.post(sim.url + "/apis/apps/v1/namespaces/default/deployments", json=deployment(replicas=5), timeout=5)
            sim.advance(20)
            sim.stop_node("course-worker2")
            sim.advance(400)
            dumps.append(dump(sim))
        finally:
            sim.stop()
    assert dumps[0] == dumps[1]
