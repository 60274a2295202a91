"""labkit/kubesim/rbac.py and reviews.py: who may do what, as a real cluster answers it.

Lesson 4's question "may the web service's account read this Secret, and only it?" must get the
cluster's answer in all three forms a learner meets: `kubectl auth can-i ... --as=...` (a
SelfSubjectAccessReview), a request made as that account (403 Forbidden with the API server's own
words, or the object), and the rules review behind `kubectl auth can-i --list`. The admin of the
kubeconfig keeps every right, and a fresh cluster has kind's default roles.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import rbac

WEB = "system:serviceaccount:default:web"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    cluster = kubesim.start(tmp_path_factory.mktemp("rbac") / "kubeconfig", seed=0)
    yield cluster
    cluster.stop()


def call(sim, method: str, path: str, body: dict | None = None, user: str | None = None,
         groups: tuple[str, ...] = ()) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if user:
        headers["Impersonate-User"] = user
    if groups:
        headers["Impersonate-Group"] = ", ".join(groups)
    request = urllib.request.Request(sim.url + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def can_i(sim, user: str | None, **attributes: str) -> dict:
    code, answer = call(sim, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                         "spec": {"resourceAttributes": attributes}}, user=user)
    assert code == 201, answer
    return answer["status"]


@pytest.fixture(scope="module")
def one_secret(sim):
    """A Role that allows getting the Secret `db` only, bound to the service account `web`."""
    for path, body in (
            ("/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "web"}}),
            ("/api/v1/namespaces/default/secrets", {"metadata": {"name": "db"}, "stringData": {"password": "s3cret"}}),
            ("/api/v1/namespaces/default/secrets", {"metadata": {"name": "other"}, "stringData": {"token": "x"}}),
            ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
             {"metadata": {"name": "db-reader"},
              "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db"], "verbs": ["get"]}]}),
            ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
             {"metadata": {"name": "web-reads-db"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "db-reader"},
              "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "default"}]})):
        code, answer = call(sim, "POST", path, body)
        assert code == 201, answer


def test_a_fresh_cluster_has_kinds_default_roles_and_the_admin_binding(sim) -> None:
    _, roles = call(sim, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
    names = {role["metadata"]["name"] for role in roles["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery"} <= names
    view = next(role for role in roles["items"] if role["metadata"]["name"] == "view")
    assert not any("secrets" in rule.get("resources", []) for rule in view["rules"]), "view never reads Secrets"
    _, bindings = call(sim, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
    admins = next(b for b in bindings["items"] if b["metadata"]["name"] == "kubeadm:cluster-admins")
    assert admins["roleRef"]["name"] == "cluster-admin"
    assert admins["subjects"][0]["name"] in rbac.ADMIN.groups


def test_a_request_as_the_account_gets_exactly_what_its_role_allows(sim, one_secret) -> None:
    code, secret = call(sim, "GET", "/api/v1/namespaces/default/secrets/db", user=WEB)
    assert code == 200 and secret["metadata"]["name"] == "db"
    code, refused = call(sim, "GET", "/api/v1/namespaces/default/secrets/other", user=WEB)
    assert (code, refused["reason"]) == (403, "Forbidden")
    assert refused["message"] == (f'secrets "other" is forbidden: User "{WEB}" cannot get resource "secrets" '
                                  'in API group "" in the namespace "default"')
    code, refused = call(sim, "GET", "/api/v1/namespaces/default/secrets", user=WEB)
    assert code == 403 and "cannot list resource \"secrets\"" in refused["message"]
    code, refused = call(sim, "GET", "/api/v1/nodes", user=WEB)
    assert code == 403 and refused["message"].endswith("at the cluster scope")
    code, _ = call(sim, "GET", "/api/v1/namespaces/default/secrets/db")
    assert code == 200, "the kubeconfig's admin is never refused"


def test_discovery_and_version_stay_open_to_every_authenticated_user(sim) -> None:
    for path in ("/api", "/apis", "/version"):
        assert call(sim, "GET", path, user="alice")[0] == 200, path


def test_can_i_answers_as_requests_are_then_treated_and_names_the_binding(sim, one_secret) -> None:
    allowed = can_i(sim, WEB, namespace="default", verb="get", resource="secrets", name="db")
    assert allowed == {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "web-reads-db/default" of Role '
                                                  '"db-reader" to ServiceAccount "web/default"'}
    assert can_i(sim, WEB, namespace="default", verb="get", resource="secrets", name="other") == {"allowed": False}
    assert can_i(sim, WEB, namespace="default", verb="list", resource="secrets") == {"allowed": False}
    assert can_i(sim, WEB, namespace="kube-system", verb="get", resource="secrets", name="db") == {"allowed": False}, \
        "a RoleBinding grants in its own namespace only"
    assert can_i(sim, None, verb="delete", resource="nodes")["allowed"] is True


def test_the_rules_review_and_whoami_describe_the_account(sim, one_secret) -> None:
    code, review = call(sim, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                        {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                         "spec": {"namespace": "default"}}, user=WEB)
    assert code == 201
    assert {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db"]} in \
        review["status"]["resourceRules"]
    code, who = call(sim, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                     {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, user=WEB)
    assert code == 201
    assert who["status"]["userInfo"] == {"username": WEB, "groups": ["system:serviceaccounts",
                                                                     "system:serviceaccounts:default",
                                                                     "system:authenticated"]}


def test_a_subject_access_review_asks_for_someone_else(sim, one_secret) -> None:
    code, review = call(sim, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                         "spec": {"user": WEB, "resourceAttributes": {"namespace": "default", "verb": "get",
                                                                      "resource": "secrets", "name": "db"}}})
    assert code == 201 and review["status"]["allowed"] is True
    code, refused = call(sim, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                         {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                          "spec": {"user": WEB, "resourceAttributes": {"verb": "get", "resource": "secrets"}}},
                         user=WEB)
    assert code == 403, "asking about another user's rights is itself a right the account lacks"


def test_group_bindings_and_subresources_match_as_rbac_says() -> None:
    rule = {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]}
    assert rbac.rule_matches(rule, rbac.Attributes("get", resource="pods", subresource="log", namespace="a"))
    assert not rbac.rule_matches(rule, rbac.Attributes("create", resource="pods", subresource="exec", namespace="a"))
    assert rbac.rule_matches({"apiGroups": ["*"], "resources": ["*/scale"], "verbs": ["*"]},
                             rbac.Attributes("update", group="apps", resource="deployments", subresource="scale"))
    assert not rbac.rule_matches({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
                                 rbac.Attributes("get", group="", resource="deployments"))
    assert rbac.rule_matches({"nonResourceURLs": ["/apis/*"], "verbs": ["get"]}, rbac.Attributes("get", path="/apis/apps"))
    assert rbac.impersonated("alice", ["devs"]).groups == ("devs", "system:authenticated")
    assert rbac.impersonated("system:anonymous").groups == ()


def test_kubectl_auth_can_i_and_a_refused_get_read_as_on_a_real_cluster(sim, one_secret, tmp_path) -> None:
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    env = dict(os.environ, KUBECONFIG=sim.kubeconfig, KUBECACHEDIR=str(tmp_path / "cache"))

    def kubectl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)

    yes = kubectl("auth", "can-i", "get", "secret/db", f"--as={WEB}")
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes"), yes.stderr
    no = kubectl("auth", "can-i", "get", "secret/other", f"--as={WEB}")
    assert (no.returncode, no.stdout.strip()) == (1, "no"), no.stderr
    refused = kubectl("get", "secrets", f"--as={WEB}")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f'Error from server (Forbidden): secrets is forbidden: User "{WEB}" cannot list '
                                      'resource "secrets" in API group "" in the namespace "default"')
    who = kubectl("auth", "whoami", f"--as={WEB}")
    assert who.returncode == 0 and WEB in who.stdout and "system:serviceaccounts:default" in who.stdout
