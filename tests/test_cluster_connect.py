"""labkit.cluster.connect: a real cluster when one answers, else the emulator; it always says which."""
from __future__ import annotations

import pytest

from labkit import cluster, kubesim


def test_no_cluster_starts_the_emulator(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CLUSTER", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    conn = cluster.connect(seed=11)
    try:
        assert conn.kind == "emulator" and conn.is_emulator and conn.emulator is not None
        assert "local Kubernetes emulator" in capsys.readouterr().out
        assert "because no real cluster answered" in conn.description
        assert len(conn.core.list_node().items) == 3
        assert conn.apps.read_namespaced_deployment("coredns", "kube-system").spec.replicas == 2
        assert conn.autoscaling.list_horizontal_pod_autoscaler_for_all_namespaces().items == []
        slices = conn.discovery.list_namespaced_endpoint_slice("kube-system", label_selector="kubernetes.io/service-name=kube-dns")
        assert len(slices.items) == 1 and len(slices.items[0].endpoints) == 2, "the discovery client reads EndpointSlices"
        assert "view" in {r.metadata.name for r in conn.rbac.list_cluster_role().items}
        from kubernetes import client
        review = conn.authorization.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                verb="delete", resource="nodes"))))
        assert review.status.allowed is True, "the admin may do anything"
        import os
        assert os.environ["KUBECONFIG"] == conn.kubeconfig  # `!kubectl` in the notebook reaches it too
        assert cluster.connect(prefer="emulator", seed=11, quiet=True).emulator is conn.emulator
    finally:
        conn.close()
        conn.emulator.stop()


def test_reachable_kubeconfig_is_used(tmp_path, monkeypatch):
    sim = kubesim.start(tmp_path / "config", seed=1)
    try:
        monkeypatch.setenv("LABKIT_CLUSTER", "kubeconfig")
        conn = cluster.connect(str(tmp_path / "config"), quiet=True)
        assert conn.emulator is None and conn.context == "kubesim-course"
        assert "reached through the kubeconfig" in conn.description
        assert {n.metadata.name for n in conn.core.list_node().items} == {"course-control-plane", "course-worker", "course-worker2"}
        conn.close()
    finally:
        sim.stop()


def test_forced_kubeconfig_that_does_not_answer_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CLUSTER", "kubeconfig")
    with pytest.raises(RuntimeError, match="No kubeconfig found"):
        cluster.connect(str(tmp_path / "missing"), quiet=True)


def test_bad_setting(monkeypatch):
    monkeypatch.setenv("LABKIT_CLUSTER", "kind")
    with pytest.raises(ValueError, match="'auto', 'emulator' or 'kubeconfig'"):
        cluster.connect(quiet=True)


def test_command_line_writes_kubeconfig_and_prints_url(tmp_path):
    import subprocess
    import sys
    config = tmp_path / "kc"
    proc = subprocess.Popen([sys.executable, "-m", "labkit.kubesim", "--kubeconfig", str(config), "--name", "lab",
                             "--workers", "1", "--seed", "4"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("kubesim: Kubernetes API at http://127.0.0.1:") and "context kubesim-lab" in line
        found = cluster.probe(str(config))
        assert found.reachable and found.context == "kubesim-lab"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
