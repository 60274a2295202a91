"""A pod whose ConfigMap, Secret or key is missing waits as on a real cluster, and starts once it exists.

Why: lessons 4's ConfigMap and Secret exercises make learners hit exactly this (a typo in a key,
the pod applied before its ConfigMap). A real kubelet shows ``CreateContainerConfigError`` with the
reason in the container's waiting message and a ``Failed`` event for env/envFrom references, and
``FailedMount`` events (the pod stays ContainerCreating) for volumes; it retries, so the pod starts
by itself once the learner creates what was missing. ``optional: true`` refs never block.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import requests

from conftest import skip_unless_ci
from labkit import kubesim

NS = "/api/v1/namespaces/default"


@pytest.fixture()
def cluster():
    sim = kubesim.start(seed=0, realtime=False)
    yield sim
    sim.stop()


def create(sim, plural: str, body: dict) -> None:
    r = requests.post(f"{sim.url}{NS}/{plural}", json={"apiVersion": "v1", **body}, timeout=10)
    assert r.status_code == 201, r.text


def pod(sim, name: str, **container) -> None:
    volumes = container.pop("volumes", None)
    spec: dict = {"containers": [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"], **container}]}
    if volumes:
        spec["volumes"] = volumes
    create(sim, "pods", {"kind": "Pod", "metadata": {"name": name}, "spec": spec})


def state(sim, name: str) -> dict:
    return requests.get(f"{sim.url}{NS}/pods/{name}", timeout=10).json()["status"]["containerStatuses"][0]["state"]


def events(sim, name: str) -> list[dict]:
    items = requests.get(f"{sim.url}{NS}/events", timeout=10).json()["items"]
    return [e for e in items if e["involvedObject"]["name"] == name]


def env_ref(kind: str, name: str, key: str, optional: bool | None = None) -> list[dict]:
    ref = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return [{"name": "V", "valueFrom": {kind: ref}}]


@pytest.mark.parametrize("container, message", [
    ({"env": env_ref("configMapKeyRef", "x", "k")}, 'configmap "x" not found'),
    ({"env": env_ref("secretKeyRef", "s", "password")}, 'secret "s" not found'),
    ({"envFrom": [{"configMapRef": {"name": "x"}}]}, 'configmap "x" not found'),
    ({"envFrom": [{"secretRef": {"name": "s"}}]}, 'secret "s" not found'),
    ({"env": env_ref("configMapKeyRef", "present", "nokey")}, "couldn't find key nokey in ConfigMap default/present"),
])
def test_a_missing_reference_is_create_container_config_error_with_the_kubelets_message(cluster, container, message):
    create(cluster, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "present"}, "data": {"k": "v"}})
    pod(cluster, "p", **container)
    cluster.advance(5)
    assert state(cluster, "p") == {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
    failed = [e for e in events(cluster, "p") if e["reason"] == "Failed"]
    assert [(e["type"], e["message"]) for e in failed] == [("Warning", f"Error: {message}")]
    assert failed[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"


def test_an_optional_reference_does_not_block(cluster):
    pod(cluster, "p", env=env_ref("configMapKeyRef", "x", "k", optional=True),
        envFrom=[{"secretRef": {"name": "s", "optional": True}}],
        volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}], volumes=[{"name": "cfg", "configMap": {"name": "x", "optional": True}}])
    cluster.advance(5)
    assert "running" in state(cluster, "p")


def test_the_kubelet_retries_and_starts_the_container_once_the_configmap_exists(cluster):
    pod(cluster, "p", env=env_ref("configMapKeyRef", "web-config", "GREETING"))
    cluster.advance(35)
    failed = next(e for e in events(cluster, "p") if e["reason"] == "Failed")
    assert failed["count"] >= 3, "the pod worker retries about every 10 s, recording Failed each time"
    create(cluster, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "web-config"}, "data": {"GREETING": "hi"}})
    cluster.advance(11)
    assert "running" in state(cluster, "p")


def test_a_missing_volume_source_is_failed_mount_and_the_pod_waits_in_container_creating(cluster):
    pod(cluster, "p", volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}, {"name": "sec", "mountPath": "/etc/sec"}],
        volumes=[{"name": "cfg", "configMap": {"name": "x"}}, {"name": "sec", "secret": {"secretName": "s"}}])
    cluster.advance(20)
    assert state(cluster, "p") == {"waiting": {"reason": "ContainerCreating"}}
    mounts = {e["message"]: e for e in events(cluster, "p") if e["reason"] == "FailedMount"}
    assert set(mounts) == {'MountVolume.SetUp failed for volume "cfg" : configmap "x" not found',
                           'MountVolume.SetUp failed for volume "sec" : secret "s" not found'}
    assert all(e["type"] == "Warning" and "fieldPath" not in e["involvedObject"] and e["count"] >= 4 for e in mounts.values())
    assert not [e for e in events(cluster, "p") if e["reason"] == "Pulling"], "nothing is pulled before the volumes mount"
    create(cluster, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}})
    create(cluster, "secrets", {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"b": "2"}})
    cluster.advance(40)
    assert "running" in state(cluster, "p")


def test_a_volume_item_naming_a_missing_key_fails_to_mount(cluster):
    create(cluster, "configmaps", {"kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "1"}})
    pod(cluster, "p", volumeMounts=[{"name": "cfg", "mountPath": "/etc/cfg"}],
        volumes=[{"name": "cfg", "configMap": {"name": "x", "items": [{"key": "b", "path": "b"}]}}])
    cluster.advance(3)
    assert any(e["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: b'
               for e in events(cluster, "p"))


def test_kubectl_get_and_describe_show_it_as_a_real_cluster_does(tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))
    try:
        pod(sim, "p", env=env_ref("configMapKeyRef", "web-config", "GREETING"))
        sim.advance(25)

        def kubectl(*args: str) -> str:
            done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                                  text=True, env=env, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout
        row = kubectl("get", "pod", "p").splitlines()[1].split()
        assert row[1:3] == ["0/1", "CreateContainerConfigError"], row
        described = kubectl("describe", "pod", "p")
        assert "Reason:       CreateContainerConfigError" in described, described
        assert 'Error: configmap "web-config" not found' in described
    finally:
        sim.stop()


def test_an_immutable_config_map_keeps_its_data_and_a_secret_its_type(cluster):
    """`immutable: true` freezes data, binaryData and the flag itself (delete and recreate to change
    them); metadata may still change. A Secret's type never changes. The API server's words."""
    sim = cluster
    create(sim, "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"},
                               "immutable": True, "data": {"greeting": "hi"}})
    create(sim, "secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}})
    merge = {"Content-Type": "application/merge-patch+json"}
    base = f"{sim.url}/api/v1/namespaces/default"
    for body, field in (({"data": {"greeting": "bye"}}, "data"), ({"immutable": False}, "immutable")):
        r = requests.patch(f"{base}/configmaps/frozen", json=body, headers=merge, timeout=10)
        assert r.status_code == 422, r.text
        assert r.json()["message"] == (f'ConfigMap "frozen" is invalid: {field}: Forbidden: field is immutable when '
                                       '`immutable` is set')
    r = requests.patch(f"{base}/configmaps/frozen", json={"metadata": {"labels": {"team": "web"}}}, headers=merge, timeout=10)
    assert r.status_code == 200 and r.json()["data"] == {"greeting": "hi"}
    r = requests.patch(f"{base}/secrets/s", json={"type": "kubernetes.io/tls"}, headers=merge, timeout=10)
    assert r.status_code == 422 and r.json()["message"] == ('Secret "s" is invalid: type: Invalid value: '
                                                            '"kubernetes.io/tls": field is immutable'), r.text
    r = requests.patch(f"{base}/secrets/s", json={"stringData": {"a": "c"}}, headers=merge, timeout=10)
    assert r.status_code == 200, "a Secret that is not immutable takes new data"
