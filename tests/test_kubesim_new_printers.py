"""`kubectl get` prints the columns a real cluster prints for the kinds served by a
resources.yaml entry alone (policy, RBAC, networking, ReplicationController): each is a
printers.yaml entry and one row function."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import skip_unless_ci
from labkit import kubesim


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    sim = kubesim.start(tmp_path_factory.mktemp("kubesim-printers") / "kubeconfig", seed=0)
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path_factory.mktemp("kubectl-cache")))

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout
    yield run
    sim.stop()


def rows(text: str) -> list[list[str]]:
    """kubectl's table: columns split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_rbac_kinds(kubectl):
    kubectl("create", "role", "reader", "--verb=get", "--resource=pods")
    kubectl("create", "rolebinding", "reader", "--role=reader", "--serviceaccount=default:default", "--user=ana")
    try:
        header, line = rows(kubectl("get", "role", "reader"))
        assert header == ["NAME", "CREATED AT"]
        assert line[0] == "reader" and line[1].endswith("Z") and "T" in line[1], line
        header, line = rows(kubectl("get", "rolebinding", "reader", "-o", "wide"))
        assert header == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
        assert line[:2] == ["reader", "Role/reader"] and line[3] == "ana" and line[-1] == "default/default", line
    finally:
        kubectl("delete", "role,rolebinding", "reader")


def test_policy_and_networking_kinds(kubectl):
    kubectl("create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1")
    kubectl("create", "ingress", "web", "--rule=web.example/=web:80")
    kubectl("apply", "-f", "-", stdin="""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-web}
spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}
""")
    try:
        header, line = rows(kubectl("get", "pdb", "web"))
        assert header == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
        assert line[:4] == ["web", "1", "N/A", "0"], line
        header, line = rows(kubectl("get", "ingress", "web"))
        assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
        assert line[:3] == ["web", "<none>", "web.example"] and line[-2] == "80", line
        header, line = rows(kubectl("get", "netpol", "only-web"))
        assert header == ["NAME", "POD-SELECTOR", "AGE"] and line[:2] == ["only-web", "app=web"], line
    finally:
        kubectl("delete", "pdb", "web")
        kubectl("delete", "ingress", "web")
        kubectl("delete", "netpol", "only-web")
