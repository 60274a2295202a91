"""Assignment 3 (the Kubernetes hierarchy): hidden tests catch cheats, failures say what to fix.

For each graded exercise we plant a "cheat" that passes the visible tests (it returns, for the
visible practice cluster, exactly what the reference solution returns, as a literal) and check that
the full test cell, hidden tests included, fails: the hidden tests use other seeds, more workers,
more pods and other cluster names. Objects that compare equal to anything must fail even the
visible tests. Failures tell the learner what to fix.
(Lesson 3 on a cluster that looks like kind: tests/test_lessons_on_kind.py.)
"""
from __future__ import annotations


import nbformat
import pytest

from assignment_runner import (anything_class, assert_hidden_tests_catch, assert_visible_tests_refuse, graded_cells,
                               run_with as run_assignment)
from conftest import REPO_ROOT

ASSIGNMENT = REPO_ROOT / "source" / "03-kubernetes-hierarchy" / "kubernetes-hierarchy.ipynb"
TESTS = ["roles-test", "pods-test", "containers-test", "ips-test", "tree-test", "drain-test"]


def cells_by_id(notebook) -> dict:
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells if "nbgrader" in cell.metadata}


@pytest.fixture(scope="module")
def solutions() -> dict:
    """The reference solutions, taken from the source notebook's answer cells."""
    notebook = nbformat.read(ASSIGNMENT, as_version=4)
    namespace: dict = {}
    exec("import ipaddress", namespace)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


SPARE_NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "course-spare"}}
JUST_BOUND = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "just-bound"},
              "spec": {"nodeName": "course-worker", "containers": [{"name": "c", "image": "busybox:1.36"}]}}
STARTING = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "starting"},
            "spec": {"containers": [{"name": "app", "image": "python:3.12-slim"},
                                    {"name": "proxy", "image": "envoyproxy/envoy:v1.31"}]}}


@pytest.fixture(scope="module")
def hard_coded(solutions) -> dict[str, str]:
    """Answers that return, as literals, what the solutions give on the visible practice clusters.

    Each cluster gets what its visible test cell adds to it (a node with no pod, a pod with no IP or no status).
    """
    from labkit.practice_clusters import practice_cluster

    def visible_cluster(*, spare=False, just_bound=False, starting=False):
        practice = practice_cluster(seed=0, workers=2, pods_per_worker=2)
        core = practice.core
        if spare:
            core.create_node(SPARE_NODE)
            core.patch_node_status("course-spare", {"status": {"addresses": [
                {"type": "InternalIP", "address": "172.18.0.250"}]}})
        if just_bound:
            core.create_namespaced_pod("default", JUST_BOUND)
        if starting:
            core.create_namespaced_pod("default", STARTING)
        return practice, core

    results = {}
    for name, setup, compute in [
        ("roles", {}, lambda core: solutions["nodes_and_roles"](core)),
        ("pods", {"spare": True}, lambda core: solutions["pods_per_node"](core)),
        ("containers", {"starting": True}, lambda core: {
            key: solutions["containers_of"](core, *key)
            for key in [("kube-system", "etcd-course-control-plane"), ("shop", "web-jdk87cbrxn-48gpz"), ("default", "starting")]}),
        ("ips", {"just_bound": True}, lambda core: solutions["pod_ips_by_node"](core)),
        ("tree", {"spare": True, "just_bound": True}, lambda core: solutions["hierarchy"](core)),
        ("drains", {}, lambda core: {node: solutions["drain_evicts"](core, node)
                                     for node in solutions["nodes_and_roles"](core)}),
    ]:
        practice, core = visible_cluster(**setup)
        try:
            results[name] = compute(core)
        finally:
            practice.stop()
    roles, pods, containers, ips, tree, drains = (results[key] for key in ("roles", "pods", "containers", "ips", "tree", "drains"))
    return {
        "roles-answer": f"def nodes_and_roles(core):\n    return {roles!r}\n",
        "pods-answer": f"def pods_per_node(core):\n    return {pods!r}\n",
        "containers-answer": f"_SEEN = {containers!r}\ndef containers_of(core, namespace, name):\n"
                             "    return _SEEN[(namespace, name)]\n",
        "ips-answer": f"def pod_ips_by_node(core):\n    return {ips!r}\n",
        "tree-answer": f"def hierarchy(core):\n    return {tree!r}\n",
        "drain-answer": f"_SEEN = {drains!r}\ndef drain_evicts(core, node):\n    return _SEEN[node]\n",
    }


ANYTHING = anything_class()
EQUAL_TO_ANYTHING = {
    "roles-answer": ANYTHING + "def nodes_and_roles(core):\n    return _Anything()\n",
    "pods-answer": ANYTHING + "def pods_per_node(core):\n    return _Anything()\n",
    "containers-answer": ANYTHING + "def containers_of(core, namespace, name):\n    return _Anything()\n",
    "ips-answer": ANYTHING + "def pod_ips_by_node(core):\n    return _Anything()\n",
    "tree-answer": ANYTHING + "def hierarchy(core):\n    return _Anything()\n",
    "drain-answer": ANYTHING + "def drain_evicts(core, node):\n    return _Anything()\n",
}


def test_the_assignment_has_at_least_five_graded_cells_with_points() -> None:
    graded = graded_cells(ASSIGNMENT)
    assert [g["grade_id"] for g in graded] == TESTS
    assert all(g["points"] > 0 and g["locked"] for g in graded)
    assert sum(g["points"] for g in graded) == 12


def test_the_solutions_pass_every_test() -> None:
    passed, errors = run_with({}, visible_only=False)
    assert passed == {test: True for test in TESTS}, errors


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones(hard_coded) -> None:
    assert_hidden_tests_catch(ASSIGNMENT, hard_coded)


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    assert_visible_tests_refuse(ASSIGNMENT, EQUAL_TO_ANYTHING)


def test_failures_tell_the_learner_what_to_fix() -> None:
    """Typical mistakes fail with what was expected, what came back, and a hint."""
    answers = {
        # only kube-system (every node is there)
        "pods-answer": '''
def pods_per_node(core):
    result = {node.metadata.name: [] for node in core.list_node().items}
    for pod in core.list_namespaced_pod("kube-system").items:
        result.setdefault(pod.spec.node_name, []).append(f"{pod.metadata.namespace}/{pod.metadata.name}")
    return {node: sorted(pods) for node, pods in result.items()}
''',
        # only the first container
        "containers-answer": '''
def containers_of(core, namespace, name):
    pod = core.read_namespaced_pod(name, namespace)
    c, s = pod.spec.containers[0], pod.status.container_statuses[0]
    return [{"name": c.name, "image": c.image, "ready": s.ready, "restarts": s.restart_count}]
''',
        # forgets DaemonSet pods
        "drain-answer": '''
def drain_evicts(core, node):
    return sorted(f"{p.metadata.namespace}/{p.metadata.name}"
                  for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                  if "kubernetes.io/config.mirror" not in (p.metadata.annotations or {}))
''',
    }
    passed, errors = run_with(answers, visible_only=True)
    assert not passed["pods-test"] and not passed["containers-test"] and not passed["drain-test"]
    assert "how many pods pods_per_node(core) found on each node: expected" in errors["pods-test"]
    assert "Look in every namespace" in errors["pods-test"]
    assert 'containers_of(core, "shop", "web-jdk87cbrxn-48gpz")' in errors["containers-test"]
    assert "log-shipper" in errors["containers-test"] and "in the spec's order" in errors["containers-test"]
    assert "drain_evicts(core, \"course-control-plane\"): expected ['kube-system/coredns-" in errors["drain-test"]
    assert "'kube-system/kindnet-s2gk4'" in errors["drain-test"]
    assert "the static (mirror) pods and the DaemonSet pods stay" in errors["drain-test"]


def test_requirements_the_questions_state_fail_the_visible_tests() -> None:
    """Answers that miss a rule the question states fail the visible tests, with the rule in the hint."""
    answers = {
        # statuses taken by position, not matched by name; a pod with no status yet crashes it
        "containers-answer": '''
def containers_of(core, namespace, name):
    pod = core.read_namespaced_pod(name, namespace)
    return [{"name": c.name, "image": c.image, "ready": s.ready, "restarts": s.restart_count}
            for c, s in zip(pod.spec.containers, pod.status.container_statuses or [])]
''',
        # nodes found through their pods: a node with no pod is missing
        "pods-answer": '''
def pods_per_node(core):
    result = {}
    for pod in core.list_pod_for_all_namespaces().items:
        if pod.spec.node_name:
            result.setdefault(pod.spec.node_name, []).append(f"{pod.metadata.namespace}/{pod.metadata.name}")
    return {node: sorted(pods) for node, pods in result.items()}
''',
        # a finished pod is left out
        "drain-answer": '''
def drain_evicts(core, node):
    return sorted(f"{p.metadata.namespace}/{p.metadata.name}"
                  for p in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
                  if not any(o.kind == "DaemonSet" for o in p.metadata.owner_references or [])
                  and "kubernetes.io/config.mirror" not in (p.metadata.annotations or {})
                  and p.status.phase != "Succeeded")
''',
    }
    passed, errors = run_with(answers, visible_only=True)
    assert not passed["containers-test"] and not passed["pods-test"] and not passed["drain-test"]
    assert "match each status to its container by name" in errors["containers-test"]
    assert "even one that runs no pod" in errors["pods-test"]
    assert "A finished pod (the Job pod report-...)" in errors["drain-test"]


def run_with(answers: dict[str, str], visible_only: bool) -> tuple[dict[str, bool], dict[str, str]]:
    return run_assignment(ASSIGNMENT, answers, visible_only)
