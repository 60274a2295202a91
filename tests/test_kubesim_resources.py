"""The served resources as data: the strategy fields of data/resources.yaml, the public
allocator, and the resources added by an entry alone (policy, RBAC, networking, core's
ReplicationController) through real kubectl and the official Python client, and the columns
`kubectl get` prints for them, as a real cluster does."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from kubernetes import client
from kubernetes.client.rest import ApiException

from conftest import skip_unless_ci
from labkit.kubesim import addresses, protobuf, resources, strategies
from labkit.kubesim.store import Store

ROOT = Path(__file__).resolve().parent.parent
API_MODULES = ["api", "routing", "decoding", "reads", "writes", "apply", "deletion", "podlogs"]
NEW_KINDS = {("policy/v1", "PodDisruptionBudget"), ("v1", "ReplicationController"),
             ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
             ("rbac.authorization.k8s.io/v1", "ClusterRole"), ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
             ("networking.k8s.io/v1", "NetworkPolicy"), ("networking.k8s.io/v1", "Ingress"),
             ("networking.k8s.io/v1", "IngressClass"), ("batch/v1", "CronJob")}


# ---- the request path reads data, not kinds ---------------------------------------------
def test_no_per_kind_literal_in_the_request_path():
    """Per-kind rules are fields of resources.yaml or named strategies, never kind tests."""
    pattern = re.compile(r"""\.kind\s*(==|!=|not in|in)\s*[("']""")
    for name in API_MODULES:
        text = (ROOT / "labkit" / "kubesim" / f"{name}.py").read_text()
        found = [line.strip() for line in text.splitlines() if pattern.search(line)]
        assert not found, f"{name}.py tests a kind literally: {found}; make it a field in data/resources.yaml"
        assert len(text.splitlines()) <= 500, f"{name}.py has grown past 500 lines: split it by job"


def test_strategy_fields_and_names_are_known():
    table = resources.load()
    assert strategies.check(table) == [], "a resources.yaml entry names a strategy that strategies.py lacks"
    by_kind = {r.kind: r for r in table}
    assert by_kind["Job"].default_propagation == "Orphan" and by_kind["Deployment"].default_propagation == "Background"
    assert {r.kind for r in table if r.delete_returns_object} == {"Pod", "Namespace", "Service", "Node", "ConfigMap", "Secret"}
    assert by_kind["Service"].allocations == ("clusterIP", "nodePorts")


def test_an_unknown_field_in_resources_yaml_is_an_error(monkeypatch):
    with pytest.raises(ValueError, match="deleteReturnObject"):
        resources._strategy({"kind": "Widget", "deleteReturnObject": True})


# ---- allocation is a public API -----------------------------------------------------------
def test_allocator_avoids_addresses_and_ports_in_use():
    store = Store(seed=3)
    svc = resources.get("/services")
    store.load(svc, [{"metadata": {"name": "a", "namespace": "default"},
                      "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80, "nodePort": 30001}]}}])
    alloc = addresses.Allocator(store)
    ips = {alloc.cluster_ip() for _ in range(50)}
    assert "10.96.0.50" not in ips and all(ip.startswith("10.96.") for ip in ips)
    store.rng.seed(0)
    ports = {alloc.node_port(taken={30002}) for _ in range(200)}
    assert not ports & {30001, 30002} and all(30000 <= p <= 32767 for p in ports)


def test_the_controller_manager_allocates_through_the_same_allocator(sim):
    assert sim.manager.defaults.cluster_ip.__self__ is sim.api.allocator


# ---- the new resources are served --------------------------------------------------------
def test_discovery_openapi_and_protobuf_know_the_new_kinds(sim):
    served = {(r.api_version, r.kind) for r in resources.load()}
    assert NEW_KINDS <= served
    groups = {g["name"] for g in requests.get(sim.url + "/apis", timeout=5).json()["groups"]}
    assert {"policy", "rbac.authorization.k8s.io", "networking.k8s.io"} <= groups
    index = requests.get(sim.url + "/openapi/v3", timeout=5).json()["paths"]
    doc = requests.get(sim.url + index["apis/networking.k8s.io/v1"]["serverRelativeURL"], timeout=5).json()
    assert "io.k8s.api.networking.v1.NetworkPolicy" in doc["components"]["schemas"]
    assert "/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}" in doc["paths"]
    roots = set(protobuf.tables()["roots"].values())
    assert {f"{api}/{kind}" for api, kind in NEW_KINDS} <= roots


def _ok(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except ApiException as err:  # a readable failure, not a stack of client internals
        raise AssertionError(f"{call.__name__} failed: {err.status} {err.body}") from None


def test_get_list_delete_each_new_kind_with_the_python_client(api):
    rbac, net, policy = client.RbacAuthorizationV1Api(api), client.NetworkingV1Api(api), client.PolicyV1Api(api)
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    meta = {"name": "t1", "labels": {"app": "t"}}
    template = {"metadata": {"labels": {"app": "t"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
    rule = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    cases = [
        (policy, "namespaced_pod_disruption_budget", {"metadata": meta, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "t"}}}}),
        (core, "namespaced_replication_controller", {"metadata": meta, "spec": {"replicas": 0, "selector": {"app": "t"}, "template": template}}),
        (rbac, "namespaced_role", {"metadata": meta, "rules": rule}),
        (rbac, "namespaced_role_binding", {"metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "t1"},
                                           "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]}),
        (rbac, "cluster_role", {"metadata": meta, "rules": rule}),
        (rbac, "cluster_role_binding", {"metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "t1"},
                                        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}]}),
        (net, "namespaced_network_policy", {"metadata": meta, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        (net, "namespaced_ingress", {"metadata": meta, "spec": {"rules": [{"host": "t.example", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "t", "port": {"number": 80}}}}]}}]}}),
        (net, "ingress_class", {"metadata": meta, "spec": {"controller": "example.com/ingress"}}),
        (batch, "namespaced_cron_job", {"metadata": meta, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
            "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
    ]
    for target, name, body in cases:
        ns = ("default",) if name.startswith("namespaced_") else ()
        _ok(getattr(target, f"create_{name}"), *ns, body)
        got = _ok(getattr(target, f"read_{name}"), "t1", *ns)
        assert got.metadata.name == "t1" and got.metadata.uid, name
        listed = _ok(getattr(target, f"list_{name}"), *ns, label_selector="app=t")
        assert [o.metadata.name for o in listed.items] == ["t1"], name
        _ok(getattr(target, f"delete_{name}"), "t1", *ns)
        with pytest.raises(ApiException) as gone:
            getattr(target, f"read_{name}")("t1", *ns)
        assert gone.value.status == 404, name


def test_rbac_names_are_path_segments_as_on_a_real_server(api):
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role({"metadata": {"name": "system:test-reader"}, "rules": []})
    try:
        assert rbac.read_cluster_role("system:test-reader").metadata.name == "system:test-reader"
    finally:
        rbac.delete_cluster_role("system:test-reader")
    with pytest.raises(ApiException) as bad:
        rbac.create_cluster_role({"metadata": {"name": "a%b"}, "rules": []})
    assert bad.value.status == 422 and "may not contain '%'" in bad.value.body
    with pytest.raises(ApiException) as bad:  # other resources keep the DNS subdomain rule
        client.CoreV1Api(api).create_namespaced_config_map("default", {"metadata": {"name": "system:x"}})
    assert bad.value.status == 422


def test_replication_controller_scale_reads_its_map_selector(api):
    core = client.CoreV1Api(api)
    core.create_namespaced_replication_controller("default", {"metadata": {"name": "rc"}, "spec": {
        "replicas": 0, "selector": {"app": "rc"},
        "template": {"metadata": {"labels": {"app": "rc"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})
    try:
        scale = core.read_namespaced_replication_controller_scale("rc", "default")
        assert scale.status.selector == "app=rc"
        core.patch_namespaced_replication_controller_scale("rc", "default", {"spec": {"replicas": 2}})
        assert core.read_namespaced_replication_controller("rc", "default").spec.replicas == 2
    finally:
        core.delete_namespaced_replication_controller("rc", "default")


# ---- real kubectl ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def kubectl(sim, tmp_path_factory):
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path_factory.mktemp("kubectl-cache")))

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, f"kubectl {' '.join(args)} failed: {done.stderr}"
        return done.stdout
    return run


def test_the_autograders_network_policy_applies_with_kubectl(kubectl):
    manifest = ROOT / "autograder" / "k8s" / "networkpolicy.yaml"
    out = kubectl("apply", "-f", str(manifest))
    assert "networkpolicy.networking.k8s.io/autograder-no-network created" in out
    got = kubectl("get", "networkpolicy", "autograder-no-network", "-o", "jsonpath={.spec.policyTypes}")
    assert got == '["Ingress","Egress"]'
    assert "unchanged" in kubectl("apply", "-f", str(manifest))
    assert "autograder-no-network" in kubectl("get", "netpol")
    kubectl("delete", "-f", str(manifest))


def test_kubectl_generators_send_protobuf_for_rbac_pdb_and_ingress(kubectl):
    """kubectl create role/clusterrole/pdb/ingress POST protobuf bodies: the tables decode them,
    including the struct an IngressRule embeds (its JSON has ``http`` inline, protobuf nests it)."""
    kubectl("create", "role", "reader", "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "reader", "--role=reader", "--serviceaccount=default:default")
    kubectl("create", "clusterrole", "nodes-reader", "--verb=get", "--resource=nodes")
    kubectl("create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1")
    assert kubectl("get", "role", "reader", "-o", "jsonpath={.rules[0].verbs}") == '["get","list"]'
    assert kubectl("get", "rolebinding", "reader", "-o", "jsonpath={.roleRef.name}") == "reader"
    assert kubectl("get", "clusterrole", "nodes-reader", "-o", "jsonpath={.rules[0].resources}") == '["nodes"]'
    assert kubectl("get", "pdb", "web", "-o", "jsonpath={.spec.minAvailable}") == "1"
    kubectl("create", "ingress", "web", "--rule=web.example/=web:80")
    assert kubectl("get", "ingress", "web", "-o", "jsonpath={.spec.rules[0].http.paths[0].backend.service.name}") == "web"
    kubectl("delete", "ingress", "web")
    kubectl("delete", "role,rolebinding", "reader")
    kubectl("delete", "clusterrole", "nodes-reader")
    kubectl("delete", "pdb", "web")


# ---- their `kubectl get` columns (printers.yaml entries and row functions) ----------------
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
