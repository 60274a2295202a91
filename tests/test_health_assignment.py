"""Assignment 4 (health, discovery, configuration): its tests catch cheats and say what to fix.

For each graded exercise a "cheat" returns, as a literal, what the reference solution returns for the
visible example: it must pass the visible test and fail the full one (the hidden tests use other seeds,
names, namespaces, sizes and passwords). Objects equal to anything fail even the visible tests. Typical
mistakes, and answers that miss a rule the question states, fail the visible test with a message that
names the rule. The practice module behind it (labkit.practice_live) is tested in test_practice_live.py.
"""
from __future__ import annotations

import base64
import math

import nbformat
import pytest

from assignment_runner import (anything_class, assert_hidden_tests_catch, assert_visible_tests_refuse, graded_cells,
                               run_with as run_assignment)
from conftest import REPO_ROOT

ASSIGNMENT = REPO_ROOT / "source" / "04-health-discovery-config" / "health-discovery-config.ipynb"
TESTS = ["probes-test", "diagnose-test", "serving-test", "discovery-test", "config-test", "rbac-test"]


@pytest.fixture(scope="module")
def solutions() -> dict:
    """The reference solutions, from the source notebook's answer cells."""
    notebook = nbformat.read(ASSIGNMENT, as_version=4)
    namespace: dict = {"base64": base64, "math": math, "WEB_IMAGE": "course-webapp:lesson"}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, namespace)
    return namespace


@pytest.fixture(scope="module")
def hard_coded(solutions) -> dict[str, str]:
    """Answers that return, as literals, what the solutions give for the visible examples."""
    from labkit.practice_live import live_cluster, troubled_namespace

    with live_cluster(seed=0) as practice:
        made = troubled_namespace(practice, "shop", seed=0)
        diagnosis = solutions["diagnose"](practice.core, "shop")
        not_ready = next(name for name, reason in made.troubled.items() if reason == "NotReady")
        serving = {service: solutions["serving_pods"](practice.discovery, "shop", service)
                   for service in (made.service, not_ready, made.empty_service)}
    with live_cluster(seed=0) as practice:  # the discovery test's cluster: the Service's IP is the same every time
        cluster_ip = practice.core.create_namespaced_service("default", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop-front"},
            "spec": {"selector": {"app": "shop-front"}, "ports": [{"port": 8080, "targetPort": 8080}]}}).spec.cluster_ip
    found = solutions["service_discovery"]("shop-front", "default", cluster_ip, 8080)
    return {
        "probes-answer": f"def web_deployment(name, replicas, startup_seconds):\n    return {solutions['web_deployment']('web', 3, 30)!r}\n",
        "diagnose-answer": f"def diagnose(core, namespace):\n    return {diagnosis!r}\n",
        "serving-answer": f"_SEEN = {serving!r}\ndef serving_pods(discovery, namespace, service):\n    return _SEEN[service]\n",
        "discovery-answer": f"def service_discovery(name, namespace, cluster_ip, port):\n    return {found!r}\n",
        "config-answer": "def web_config(greeting, environment, password):\n"
                         f"    return {solutions['web_config']('Hello from the ConfigMap', 'staging', 's3cret-pw')!r}\n",
        "rbac-answer": "def secret_reader(namespace, service_account, secret):\n"
                       f"    return {solutions['secret_reader']('default', 'web', 'db-password')!r}\n",
    }


ANYTHING = anything_class()
EQUAL_TO_ANYTHING = {
    "probes-answer": ANYTHING + "def web_deployment(name, replicas, startup_seconds):\n    return _Anything()\n",
    "diagnose-answer": ANYTHING + "def diagnose(core, namespace):\n    return _Anything()\n",
    "serving-answer": ANYTHING + "def serving_pods(discovery, namespace, service):\n    return _Anything()\n",
    "discovery-answer": ANYTHING + "def service_discovery(name, namespace, cluster_ip, port):\n    return _Anything()\n",
    "config-answer": ANYTHING + "def web_config(greeting, environment, password):\n    return _Anything()\n",
    "rbac-answer": ANYTHING + "def secret_reader(namespace, service_account, secret):\n    return _Anything()\n",
}


def probes_answer(readiness_path: str = "/readyz", startup_failures: str = "math.ceil(startup_seconds / 2)") -> str:
    """A web_deployment answer, right but for what the arguments change."""
    return f'''
def web_deployment(name, replicas, startup_seconds):
    probe = lambda path, period, **extra: {{"httpGet": {{"path": path, "port": 8080}}, "periodSeconds": period, **extra}}
    labels = {{"app": name}}
    return {{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": name}},
            "spec": {{"replicas": replicas, "selector": {{"matchLabels": labels}}, "template": {{"metadata": {{"labels": labels}},
                     "spec": {{"containers": [{{"name": "web", "image": WEB_IMAGE, "ports": [{{"containerPort": 8080}}],
                              "startupProbe": probe("/healthz", 2, failureThreshold={startup_failures}),
                              "livenessProbe": probe("/healthz", 10, failureThreshold=3),
                              "readinessProbe": probe("{readiness_path}", 5)}}]}}}}}}}}
'''


SECRET_ENV = '{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "web-secret", "key": "DB_PASSWORD"}}}'


def config_answer(password_env: str = SECRET_ENV) -> str:
    """A web_config answer with no volume (the ConfigMap as environment only), the password as ``password_env``."""
    return f'''
def web_config(greeting, environment, password):
    return [{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "web-config"}},
             "data": {{"APP_GREETING": greeting, "APP_ENV": environment}}}},
            {{"apiVersion": "v1", "kind": "Secret", "metadata": {{"name": "web-secret"}}, "type": "Opaque",
             "data": {{"DB_PASSWORD": base64.b64encode(password.encode()).decode()}}}},
            {{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "web"}}, "spec": {{"containers": [{{
                "name": "web", "image": WEB_IMAGE, "envFrom": [{{"configMapRef": {{"name": "web-config"}}}}],
                "env": [{password_env}]}}]}}}}]
'''


def rbac_answer(rule: str) -> str:
    """A secret_reader answer whose Role has the one rule ``rule`` (Python source), bound to the service account."""
    return f'''
def secret_reader(namespace, service_account, secret):
    name = f"read-{{secret}}"
    return [{{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {{"name": name}}, "rules": [{rule}]}},
            {{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {{"name": name}},
             "roleRef": {{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}},
             "subjects": [{{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}}]}}]
'''


def run_with(answers: dict[str, str], visible_only: bool) -> tuple[dict[str, bool], dict[str, str]]:
    return run_assignment(ASSIGNMENT, answers, visible_only, timeout=300)


def test_the_assignment_has_six_graded_cells_with_points() -> None:
    graded = graded_cells(ASSIGNMENT)
    assert [g["grade_id"] for g in graded] == TESTS
    assert all(g["points"] > 0 and g["locked"] for g in graded)
    assert sum(g["points"] for g in graded) == 16


def test_the_solutions_pass_every_test() -> None:
    passed, errors = run_with({}, visible_only=False)
    assert passed == {test: True for test in TESTS}, errors


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones(hard_coded) -> None:
    assert_hidden_tests_catch(ASSIGNMENT, hard_coded, timeout=300)


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    assert_visible_tests_refuse(ASSIGNMENT, EQUAL_TO_ANYTHING, timeout=300)


def test_typical_mistakes_fail_with_what_to_fix() -> None:
    answers = {
        # readiness asks /healthz: the pods get ready, but the probe is not the one asked for
        "probes-answer": probes_answer(readiness_path="/healthz"),
        # the phase is not the reason
        "diagnose-answer": '''
def diagnose(core, namespace):
    return {p.metadata.name: p.status.phase for p in core.list_namespaced_pod(namespace).items}
''',
        # every endpoint, ready or not
        "serving-answer": '''
def serving_pods(discovery, namespace, service):
    return sorted(e.target_ref.name for s in discovery.list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}").items for e in s.endpoints or [])
''',
        # the password written into the pod
        "config-answer": config_answer(password_env='{"name": "DB_PASSWORD", "value": password}'),
        # every Secret of the namespace
        "rbac-answer": rbac_answer('{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}'),
    }
    passed, errors = run_with(answers, visible_only=True)
    assert not any(passed[answer.replace("-answer", "-test")] for answer in answers), passed
    assert "the readinessProbe's (path, port, periodSeconds, failureThreshold)" in errors["probes-test"]
    assert "('/healthz', 8080, 5, 3)" in errors["probes-test"] and "Look at the table in the question" in errors["probes-test"]
    assert "'Pending'" in errors["diagnose-test"] and "no node can take it" in errors["diagnose-test"]
    assert "fail their readiness probe and get no traffic" in errors["serving-test"]
    assert "The password is written in the Pod" in errors["config-test"]
    assert "The service account may get another Secret (api-token)" in errors["rbac-test"]


def test_answers_that_miss_a_stated_rule_fail_the_visible_tests() -> None:
    answers = {
        # failureThreshold = startup_seconds: enough time, but not the smallest number
        "probes-answer": probes_answer(startup_failures="startup_seconds"),
        # ImagePullBackOff only: a pod caught in its first failed pull (ErrImagePull) is missed
        "diagnose-answer": '''
def diagnose(core, namespace):
    reasons = {}
    for pod in core.list_namespaced_pod(namespace).items:
        statuses = pod.status.container_statuses or []
        waiting = {s.state.waiting.reason for s in statuses if s.state and s.state.waiting}
        scheduled = {c.type: c.status for c in pod.status.conditions or []}.get("PodScheduled")
        if pod.status.phase == "Pending" and scheduled == "False":
            reasons[pod.metadata.name] = "Unschedulable"
        elif waiting & {"ImagePullBackOff", "CreateContainerConfigError", "CrashLoopBackOff"}:
            reasons[pod.metadata.name] = sorted(waiting)[0]
        elif not all(s.ready for s in statuses):
            reasons[pod.metadata.name] = "NotReady"
        else:
            reasons[pod.metadata.name] = "Healthy"
    return reasons
''',
        # the ConfigMap as env only: no files in /etc/web
        "config-answer": config_answer(),
        # dashes kept in the variables' names
        "discovery-answer": '''
def service_discovery(name, namespace, cluster_ip, port):
    prefix = name.upper()
    address = f"tcp://{cluster_ip}:{port}"
    return {"dns": [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"],
            "env": {f"{prefix}_SERVICE_HOST": cluster_ip, f"{prefix}_SERVICE_PORT": str(port), f"{prefix}_PORT": address,
                    f"{prefix}_PORT_{port}_TCP": address, f"{prefix}_PORT_{port}_TCP_PROTO": "tcp",
                    f"{prefix}_PORT_{port}_TCP_PORT": str(port), f"{prefix}_PORT_{port}_TCP_ADDR": cluster_ip}}
''',
        # more verbs than get: it may change and delete the Secret too
        "rbac-answer": rbac_answer('{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret], "verbs": ["get", "update", "delete"]}'),
    }
    passed, errors = run_with(answers, visible_only=True)
    assert not any(passed[answer.replace("-answer", "-test")] for answer in answers), passed
    assert "the smallest such number" in errors["probes-test"]
    assert "ErrImagePull or ImagePullBackOff" in errors["diagnose-test"]
    assert "Mount the ConfigMap as a volume at /etc/web" in errors["config-test"]
    assert "write the name in capitals with - as _" in errors["discovery-test"]
    assert "The service account may change the Secret" in errors["rbac-test"]


def test_a_wrong_name_or_secret_type_is_named_not_a_raw_api_error() -> None:
    answers = {
        # the Deployment named otherwise: the test would read back a Deployment that does not exist
        "probes-answer": probes_answer().replace('"metadata": {"name": name}', '"metadata": {"name": name + "-app"}'),
        # a Secret of a type of its own: the question asks for Opaque
        "config-answer": config_answer().replace('"type": "Opaque"', '"type": "example.com/db"'),
    }
    passed, errors = run_with(answers, visible_only=True)
    assert not passed["probes-test"] and not passed["config-test"], passed
    assert "metadata.name of web_deployment('web', 3, 30)" in errors["probes-test"], errors["probes-test"]
    assert "Name the Deployment with the name argument" in errors["probes-test"]
    assert "the type of the Secret web-secret" in errors["config-test"] and "type: Opaque" in errors["config-test"], errors


def test_a_misspelt_field_is_refused_in_the_api_servers_words() -> None:
    """The official client checks a manifest before it sends it; the test says what kubectl would have said."""
    answer = '''
def web_deployment(name, replicas, startup_seconds):
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicaz": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": WEB_IMAGE}]}}}}
'''
    passed, errors = run_with({"probes-answer": answer}, visible_only=True)
    assert not passed["probes-test"]
    assert 'The cluster refused' in errors["probes-test"] and 'unknown field "spec.replicaz"' in errors["probes-test"], errors["probes-test"]
    assert "ValidationError" not in errors["probes-test"]
