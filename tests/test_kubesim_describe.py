"""``kubectl describe`` of every kind the course creates runs without crashing kubectl.

Why: kubectl's describers dereference fields a real API server always sets (an EndpointSlice
port's ``name``, "" when the Service's port has none); where the emulator leaves one out, kubectl
panics with a Go nil-pointer trace instead of describing. The objects here are made as the lessons
and kubernetes.io make them (``kubectl create deployment``, ``expose``, ``autoscale``, and the
manifests of ``data/describe/lessons.yaml``), beside kind's own system objects.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import skip_unless_ci
from labkit import kubesim

MANIFEST = Path(__file__).parent / "data" / "describe" / "lessons.yaml"
KINDS = ["nodes", "namespaces", "pods", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs",
         "cronjobs", "services", "endpoints", "endpointslices", "configmaps", "secrets", "serviceaccounts",
         "horizontalpodautoscalers.v2.autoscaling", "hpa", "pvc", "pv", "storageclasses", "ingresses",
         "ingressclasses", "networkpolicies", "pdb", "roles", "rolebindings", "clusterroles",
         "clusterrolebindings", "events", "leases", "controllerrevisions", "replicationcontrollers"]


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    where = tmp_path_factory.mktemp("describe")
    sim = kubesim.start(where / "kubeconfig", seed=0, realtime=False)
    env = dict(os.environ, KUBECACHEDIR=str(where / "cache"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", "--kubeconfig", str(sim.kubeconfig), *args], capture_output=True,
                              text=True, env=env, timeout=60)
    for args in (["create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"],
                 ["expose", "deployment", "web", "--port", "80"],
                 ["create", "deployment", "kubernetes-bootcamp", "--image=gcr.io/google-samples/kubernetes-bootcamp:v1"],
                 ["expose", "deployment/kubernetes-bootcamp", "--type=NodePort", "--port", "8080"],
                 ["autoscale", "deployment", "web", "--cpu-percent=50", "--min=1", "--max=10"],
                 ["apply", "-f", str(MANIFEST)]):
        done = run(*args)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    sim.advance(90)
    yield run
    sim.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_describe_every_kind_in_every_namespace(kubectl, kind):
    done = kubectl("describe", kind, "-A")
    assert "panic" not in done.stderr and "invalid memory address" not in done.stderr, done.stderr[:2000]
    assert done.returncode == 0, done.stderr
    if kind not in ("ingressclasses", "replicationcontrollers", "pv"):
        assert "Name:" in done.stdout, f"kubectl describe {kind} -A described nothing"


def test_describe_an_exposed_deployment_shows_its_endpoints(kubectl):
    """`kubectl expose deployment web --port 80`: an unnamed port, and its slice's port name is ""."""
    done = kubectl("describe", "service", "web")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^Port:\s+<unset>\s+80/TCP$", done.stdout, re.M), done.stdout
    endpoints = re.search(r"^Endpoints:\s+(\S+)$", done.stdout, re.M)
    assert endpoints, done.stdout
    assert re.fullmatch(r"10\.244\.\d+\.\d+:80,10\.244\.\d+\.\d+:80", endpoints.group(1)), done.stdout


def test_describe_of_a_pod_names_what_it_waits_for(kubectl):
    done = kubectl("describe", "pod", "bad-image")
    assert done.returncode == 0, done.stderr
    assert "gcr.io/google-samples/kubernetes-bootcamp:v10: not found" in done.stdout
