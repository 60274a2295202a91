"""kubernetes.io "Configure Liveness, Readiness and Startup Probes": the exec liveness example,
typed as published, with real kubectl.

Why: lesson 4 and the page walk a learner through it: the container creates /tmp/healthy, removes
it after 30 s, the probe ``cat /tmp/healthy`` then fails, ``kubectl describe pod liveness-exec``
shows ``Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory`` and,
after three failures, the kubelet restarts the container. Each failure is an event when it happens
(not all at the kill), as a real kubelet records them.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import skip_unless_ci
from labkit import kubesim

MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""
FAILED = "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory"


@pytest.fixture()
def kubectl(tmp_path):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"))

    def run(*args: str) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                              text=True, env=env, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout
    run.sim = sim  # type: ignore[attr-defined]
    (tmp_path / "exec-liveness.yaml").write_text(MANIFEST)
    run.manifest = str(tmp_path / "exec-liveness.yaml")  # type: ignore[attr-defined]
    yield run
    sim.stop()


def _events(described: str) -> list[str]:
    return described.split("Events:", 1)[1].splitlines()


def test_the_exec_liveness_example_fails_after_30_seconds_and_restarts(kubectl):
    sim = kubectl.sim
    kubectl("apply", "-f", kubectl.manifest)
    sim.advance(29)
    early = kubectl("describe", "pod", "liveness-exec")
    assert "Unhealthy" not in early and "Started" in early, "within 30 seconds no probe has failed"
    sim.advance(7)    # 36 s: the probe at 35 s failed once
    failing = [line for line in _events(kubectl("describe", "pod", "liveness-exec")) if "Unhealthy" in line]
    assert len(failing) == 1 and failing[0].rstrip().endswith(FAILED), failing
    assert re.search(r"Warning\s+Unhealthy\s+.*\s+kubelet\s+" + re.escape(FAILED), failing[0])
    sim.advance(30)   # the page: "wait another 30 seconds, and verify that the container has been restarted"
    described = kubectl("describe", "pod", "liveness-exec")
    assert "(x3 over" in next(line for line in _events(described) if "Unhealthy" in line)
    assert "Container liveness failed liveness probe, will be restarted" in described
    row = kubectl("get", "pod", "liveness-exec").splitlines()[1].split()
    assert row[0] == "liveness-exec" and row[2] == "Running" and row[3] == "1", row


def test_a_file_the_learner_removes_in_the_container_fails_the_exec_probe(tmp_path):
    """``kubectl exec POD -- rm /tmp/healthy`` (here the same shell, called directly): the kubelet
    re-plans the probe when a shell changes the container's files, and kills it three probes later."""
    import requests

    from labkit.kubesim import userland

    sim = kubesim.start(seed=0, realtime=False)
    try:
        pods = sim.url + "/api/v1/namespaces/default/pods"
        spec = {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "touch /tmp/healthy; sleep 3600"],
                                "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 5}}]}
        assert requests.post(pods, json={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec},
                             timeout=10).status_code == 201
        sim.advance(60)
        pod = requests.get(pods + "/p", timeout=10).json()
        assert pod["status"]["containerStatuses"][0]["state"].get("running"), "the file is there: the probe passes"
        err: list[bytes] = []
        assert userland.run(userland.container_view(sim.store, pod, "c"), ["rm", "/tmp/healthy"], None,
                            lambda b: None, err.append, store=sim.store) == 0, err
        sim.advance(9)
        events = [e for e in requests.get(sim.url + "/api/v1/namespaces/default/events", timeout=10).json()["items"]
                  if e["involvedObject"]["name"] == "p" and e["reason"] == "Unhealthy"]
        assert len(events) == 1 and events[0]["message"] == FAILED and events[0]["count"] == 2, events
        sim.advance(6)
        assert any(e["reason"] == "Killing" for e in requests.get(sim.url + "/api/v1/namespaces/default/events",
                                                                 timeout=10).json()["items"] if e["involvedObject"]["name"] == "p")
    finally:
        sim.stop()
