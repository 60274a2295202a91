"""labkit.kubesim through the official Python client (and raw HTTP for error classes)."""
from __future__ import annotations

import json
import random
import threading
from datetime import datetime, timezone

import pytest
import requests
import yaml
from kubernetes import client, dynamic, utils, watch
from kubernetes.client.rest import ApiException

from labkit.kubesim import kindstate, patch, schema


def status_of(error: ApiException) -> dict:
    return json.loads(error.body)


# ---- start-up and initial state ---------------------------------------------------------
def test_handle_and_kubeconfig(sim):
    text = yaml.safe_load(open(sim.kubeconfig))
    assert text["current-context"] == "kubesim-course"
    assert not text["current-context"].startswith("kind-")
    assert text["clusters"][0]["cluster"]["server"] == sim.url
    assert sim.url.startswith("http://127.0.0.1:")
    assert requests.get(sim.url + "/version", timeout=5).json()["gitVersion"] == "v1.36.1"


def test_nodes_are_those_kind_makes(api):
    nodes = {n.metadata.name: n for n in client.CoreV1Api(api).list_node().items}
    assert sorted(nodes) == ["course-control-plane", "course-worker", "course-worker2"]
    cp = nodes["course-control-plane"]
    assert "node-role.kubernetes.io/control-plane" in cp.metadata.labels
    assert [(t.key, t.effect) for t in cp.spec.taints] == [("node-role.kubernetes.io/control-plane", "NoSchedule")]
    assert cp.spec.pod_cidr == "10.244.0.0/24"
    assert sorted(n.spec.pod_cidr for n in nodes.values()) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]
    for node in nodes.values():
        ip = next(a.address for a in node.status.addresses if a.type == "InternalIP")
        assert ip.startswith("172.18.0.")
        assert node.status.node_info.kubelet_version == "v1.36.1"
        assert node.spec.provider_id == f"kind://docker/course/{node.metadata.name}"
        assert node.status.allocatable["pods"] == "110"
    assert nodes["course-worker"].spec.taints is None
    assert set(nodes["course-worker"].metadata.labels) == {
        "beta.kubernetes.io/arch", "beta.kubernetes.io/os", "kubernetes.io/arch", "kubernetes.io/hostname", "kubernetes.io/os"}


def test_system_pods_services_and_namespaces(api):
    core = client.CoreV1Api(api)
    namespaces = sorted(n.metadata.name for n in core.list_namespace().items)
    assert namespaces == ["default", "kube-node-lease", "kube-public", "kube-system", "local-path-storage"]
    pods = core.list_namespaced_pod("kube-system").items
    names = [p.metadata.name for p in pods]
    for static in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        pod = next(p for p in pods if p.metadata.name == f"{static}-course-control-plane")
        assert pod.metadata.owner_references[0].kind == "Node"
        assert pod.status.pod_ip == pod.status.host_ip
        assert pod.spec.containers[0].image.startswith("registry.k8s.io/")
    assert sum(n.startswith("kindnet-") for n in names) == 3
    assert sum(n.startswith("kube-proxy-") for n in names) == 3
    coredns = [p for p in pods if p.metadata.name.startswith("coredns-")]
    assert len(coredns) == 2 and all(p.status.phase == "Running" for p in coredns)
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in coredns)
    assert all(p.status.pod_ip.startswith("10.244.") for p in coredns)
    assert core.read_namespaced_service("kube-dns", "kube-system").spec.cluster_ip == "10.96.0.10"
    assert core.read_namespaced_service("kubernetes", "default").spec.cluster_ip == "10.96.0.1"
    assert core.read_namespaced_service_account("default", "default").metadata.name == "default"
    sc = client.StorageV1Api(api).read_storage_class("standard")
    assert sc.provisioner == "rancher.io/local-path" and sc.volume_binding_mode == "WaitForFirstConsumer"
    assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"


def test_same_seed_same_bytes_other_seed_other_values():
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    one = json.dumps(kindstate.render("course", 2, 0, now), sort_keys=True)
    again = json.dumps(kindstate.render("course", 2, 0, now), sort_keys=True)
    other = kindstate.render("course", 2, 7, now)
    assert one == again
    assert one != json.dumps(other, sort_keys=True)

    def shape(objs):
        return [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"].split("-")[0]) for o in objs]
    assert shape(json.loads(one)) == shape(other)
    names = [o["metadata"]["name"] for o in kindstate.render("lab", 3, 0, now) if o["kind"] == "Node"]
    assert names == ["lab-control-plane", "lab-worker", "lab-worker2", "lab-worker3"]


# ---- CRUD through the typed clients ---------------------------------------------------------
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
}


def test_core_apps_autoscaling_crud(api):
    core, apps, hpa_api = client.CoreV1Api(api), client.AppsV1Api(api), client.AutoscalingV2Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="crud")))
    made = apps.create_namespaced_deployment("crud", DEPLOYMENT)
    assert made.metadata.generation == 1 and made.metadata.uid and made.metadata.creation_timestamp
    assert made.spec.strategy.rolling_update.max_surge == "25%"  # defaulted like a real server
    rv = made.metadata.resource_version
    patched = apps.patch_namespaced_deployment("web", "crud", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}})
    assert patched.spec.template.spec.containers[0].image == "nginx:1.28"
    assert patched.metadata.generation == 2 and int(patched.metadata.resource_version) > int(rv)
    labelled = apps.patch_namespaced_deployment("web", "crud", {"metadata": {"labels": {"tier": "front"}}})
    assert labelled.metadata.generation == 2  # metadata changes do not bump generation
    assert [d.metadata.name for d in apps.list_namespaced_deployment("crud", label_selector="tier=front").items] == ["web"]
    assert apps.list_namespaced_deployment("crud", label_selector="tier!=front").items == []
    scale = apps.patch_namespaced_deployment_scale("web", "crud", {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5 and scale.status.selector == "app=web"
    assert apps.read_namespaced_deployment("web", "crud").spec.replicas == 5
    status = apps.patch_namespaced_deployment_status("web", "crud", {"status": {"readyReplicas": 1, "replicas": 1}})
    assert status.status.ready_replicas == 1 and status.spec.replicas == 5

    hpa = hpa_api.create_namespaced_horizontal_pod_autoscaler("crud", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 5,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}})
    assert hpa.spec.max_replicas == 5
    hpa = hpa_api.patch_namespaced_horizontal_pod_autoscaler("web", "crud", {"spec": {"maxReplicas": 8}})
    assert hpa_api.read_namespaced_horizontal_pod_autoscaler("web", "crud").spec.max_replicas == 8
    hpa_api.delete_namespaced_horizontal_pod_autoscaler("web", "crud")

    pod = core.create_namespaced_pod("crud", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert pod.status.phase == "Pending" and pod.spec.restart_policy == "Always"
    assert pod.spec.containers[0].image_pull_policy == "Always"
    svc = core.create_namespaced_service("crud", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                                  "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    assert svc.spec.cluster_ip.startswith("10.96.") and svc.spec.ports[0].target_port == 80
    apps.delete_namespaced_deployment("web", "crud")
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("web", "crud")
    assert err.value.status == 404
    core.delete_namespace("crud")
    # gone, or Terminating while its pod stops (busybox's sh ignores SIGTERM: the grace period runs out first)
    left = [n for n in core.list_namespace().items if n.metadata.name == "crud"]
    assert not left or left[0].status.phase == "Terminating"


def test_json_patch_and_merge_patch(sim, api):
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "jp"}, "data": {"a": "1"}})
    out = core.patch_namespaced_config_map("jp", "default", [{"op": "add", "path": "/data/b", "value": "2"}])
    assert out.data == {"a": "1", "b": "2"}
    response = requests.patch(f"{sim.url}/api/v1/namespaces/default/configmaps/jp", data=json.dumps({"data": {"a": None}}),
                              headers={"Content-Type": "application/merge-patch+json"}, timeout=5)
    assert response.status_code == 200 and response.json()["data"] == {"b": "2"}
    core.delete_namespaced_config_map("jp", "default")


def test_limit_and_continue(api):
    core = client.CoreV1Api(api)
    first = core.list_service_account_for_all_namespaces(limit=10)
    assert len(first.items) == 10 and first.metadata._continue
    seen = [s.metadata.name for s in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_service_account_for_all_namespaces(limit=10, _continue=token)
        seen += [s.metadata.name for s in page.items]
        token = page.metadata._continue
    assert len(seen) == len(core.list_service_account_for_all_namespaces().items)


def test_field_selectors(api):
    core = client.CoreV1Api(api)
    on_worker = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=course-worker").items
    assert on_worker and all(p.spec.node_name == "course-worker" for p in on_worker)
    events = core.list_namespaced_event("default", field_selector="involvedObject.name=course-worker2").items
    assert events and all(e.involved_object.name == "course-worker2" for e in events)
    assert core.list_namespace().items and core.list_namespaced_pod("default").items == []


def test_watch_sees_added_modified_deleted_in_order(api):
    core = client.CoreV1Api(api)
    rv = core.list_namespaced_config_map("default").metadata.resource_version

    def change():
        core.create_namespaced_config_map("default", {"metadata": {"name": "watched"}, "data": {"k": "1"}})
        core.patch_namespaced_config_map("watched", "default", {"data": {"k": "2"}})
        core.delete_namespaced_config_map("watched", "default")
    threading.Thread(target=change).start()
    seen = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name, (event["object"].data or {}).get("k")))
        if event["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "watched", "1"), ("MODIFIED", "watched", "2"), ("DELETED", "watched", "2")]


def test_watch_from_too_old_resource_version_is_gone(sim):
    """The initial state is loaded without history, like a compacted etcd: older RVs are gone."""
    response = requests.get(f"{sim.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=1&timeoutSeconds=1", timeout=5)
    line = json.loads(response.text.splitlines()[0]) if response.status_code == 200 else response.json()
    status = line.get("object", line)
    assert status["code"] == 410 and status["reason"] == "Expired"


def test_create_from_yaml_multi_document_list_and_conflicts(api, tmp_path):
    multi = tmp_path / "multi.yaml"
    multi.write_text(yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfy-a"}, "data": {"x": "1"}},
        dict(DEPLOYMENT, metadata={"name": "cfy-web", "labels": {"app": "web"}}),
    ]))
    as_list = tmp_path / "list.yaml"
    as_list.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfy-b"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cfy-s"}, "stringData": {"password": "hunter2"}}]}))
    created = utils.create_from_yaml(api, str(multi), namespace="default")
    assert [o[0].metadata.name for o in created] == ["cfy-a", "cfy-web"]
    utils.create_from_yaml(api, str(as_list), namespace="default")
    assert client.CoreV1Api(api).read_namespaced_secret("cfy-s", "default").data == {"password": "aHVudGVyMg=="}
    with pytest.raises(utils.FailToCreateError) as err:
        utils.create_from_yaml(api, str(multi), namespace="default")
    failures = err.value.api_exceptions
    assert [f.status for f in failures] == [409, 409]
    assert status_of(failures[0])["reason"] == "AlreadyExists"
    assert status_of(failures[1])["message"] == 'deployments.apps "cfy-web" already exists'


def test_dynamic_client(api):
    dyn = dynamic.DynamicClient(api)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    made = deployments.create(body=dict(DEPLOYMENT, metadata={"name": "dyn"}), namespace="default")
    assert made.metadata.name == "dyn"
    assert "dyn" in [d.metadata.name for d in deployments.get(namespace="default").items]
    nodes = dyn.resources.get(api_version="v1", kind="Node").get()
    assert len(nodes.items) == 3
    deployments.delete(name="dyn", namespace="default")


def test_metrics_api_is_served(sim):
    body = requests.get(f"{sim.url}/apis/metrics.k8s.io/v1beta1/nodes", timeout=5).json()
    assert body["kind"] == "NodeMetricsList"
    assert sorted(n["metadata"]["name"] for n in body["items"]) == ["course-control-plane", "course-worker", "course-worker2"]
    assert all(n["usage"]["cpu"].endswith("n") and n["usage"]["memory"].endswith("Ki") for n in body["items"])


def test_pod_logs(sim, api):
    core = client.CoreV1Api(api)
    pod = next(p for p in core.list_namespaced_pod("kube-system").items if p.metadata.name.startswith("coredns-"))
    assert "CoreDNS" in core.read_namespaced_pod_log(pod.metadata.name, "kube-system")


# ---- errors, one per class ----------------------------------------------------------------
def post(sim, path, body, ctype="application/json", method="POST"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.request(method, sim.url + path, data=data, headers={"Content-Type": ctype}, timeout=10)


def test_error_400_malformed_json_and_yaml(sim):
    r = post(sim, "/api/v1/namespaces/default/configmaps", b'{"metadata": {"name": "x"')
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest" and "json parse error" in r.json()["message"]
    r = post(sim, "/api/v1/namespaces/default/configmaps", "metadata: [unclosed", "application/yaml")
    assert r.status_code == 400 and "yaml" in r.json()["message"]


def test_error_404_not_found_and_unknown_path(api, sim):
    with pytest.raises(ApiException) as err:
        client.AppsV1Api(api).read_namespaced_deployment("nope", "default")
    body = status_of(err.value)
    assert err.value.status == 404 and body["message"] == 'deployments.apps "nope" not found'
    assert body["details"] == {"name": "nope", "group": "apps", "kind": "deployments"}
    r = requests.get(sim.url + "/api/v1/frobnicators", timeout=5)
    assert r.status_code == 404 and r.json()["message"] == "the server could not find the requested resource"


def test_error_405_method_not_allowed(sim):
    r = requests.post(sim.url + "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", json={}, timeout=5)
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"


def test_error_409_already_exists_and_conflict(api):
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map("default", {"metadata": {"name": "c409"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", {"metadata": {"name": "c409"}})
    assert err.value.status == 409 and status_of(err.value)["reason"] == "AlreadyExists"
    stale = core.read_namespaced_config_map("c409", "default")
    core.patch_namespaced_config_map("c409", "default", {"data": {"a": "1"}})
    stale.data = {"b": "2"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("c409", "default", stale)
    body = status_of(err.value)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert "the object has been modified" in body["message"]
    assert core.read_namespaced_config_map("c409", "default").data == {"a": "1"}


def test_error_422_invalid_names_labels_and_fields(api):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_pod("default", {"metadata": {"name": "Bad_Name", "labels": {"app": "has space"}},
                                               "spec": {"containers": [{"name": "c"}]}})
    body = status_of(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert [c["field"] for c in body["details"]["causes"]] == ["metadata.name", "metadata.labels", "spec.containers[0].image"]
    assert body["message"].startswith('Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123')
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("default", dict(DEPLOYMENT, spec=dict(DEPLOYMENT["spec"], selector={"matchLabels": {"app": "other"}})))
    assert "`selector` does not match template `labels`" in status_of(err.value)["message"]
    with pytest.raises(ApiException) as err:
        core.create_namespace({"metadata": {"name": "Upper"}})
    assert status_of(err.value)["details"]["causes"][0]["reason"] == "FieldValueInvalid"


def test_error_missing_name(sim):
    r = post(sim, "/api/v1/namespaces/default/configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert r.status_code == 422
    assert "metadata.name: Required value: name or generateName is required" in r.json()["message"]


def test_error_namespace_mismatch_and_missing_namespace(sim):
    r = post(sim, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x", "namespace": "kube-system"}})
    assert r.status_code == 400
    assert r.json()["message"] == "the namespace of the provided object does not match the namespace sent on the request"
    r = post(sim, "/api/v1/namespaces/nowhere/configmaps", {"metadata": {"name": "x"}})
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "nowhere" not found'


def test_error_wrong_kind_for_endpoint(sim):
    r = post(sim, "/api/v1/namespaces/default/configmaps", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}})
    assert r.status_code == 400 and "does not match the expected API version" in r.json()["message"]
    r = post(sim, "/api/v1/namespaces/default/configmaps", {"apiVersion": "v1", "kind": "Frobnicator", "metadata": {"name": "x"}})
    assert r.status_code == 400 and 'no kind "Frobnicator"' in r.json()["message"]


def test_error_a_malformed_quantity_or_a_request_above_its_limit(sim):
    """A quantity is parsed while decoding (400); a request above its limit fails validation (422)."""
    def pod(name, resources):
        return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox", "resources": resources}]}}
    r = post(sim, "/apis/apps/v1/namespaces/default/deployments", {
        "metadata": {"name": "spaced"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}}, **{"spec": pod("x", {"requests": {"cpu": "100 m"}})["spec"]}}}})
    assert r.status_code == 400
    assert r.json()["message"] == ('Deployment in version "v1" cannot be handled as a Deployment: quantities must match '
                                   "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    r = post(sim, "/api/v1/namespaces/default/pods", pod("greedy", {"requests": {"cpu": "500m"}, "limits": {"cpu": "250m"}}))
    assert r.status_code == 422
    assert r.json()["message"] == ('Pod "greedy" is invalid: spec.containers[0].resources.requests: Invalid value: "500m": '
                                   "must be less than or equal to cpu limit of 250m")
    r = post(sim, "/api/v1/namespaces/default/pods", pod("equal", {"requests": {"cpu": "250m", "memory": 1024},
                                                                 "limits": {"cpu": "0.25", "memory": "1Ki"}}))
    assert r.status_code == 201


def test_error_unknown_fields_strict_warn_and_types(sim):
    body = {"metadata": {"name": "strict"}, "spec": {"containers": [{"name": "c", "image": "busybox", "imagex": 1}]}}
    r = post(sim, "/api/v1/namespaces/default/pods?fieldValidation=Strict", body)
    assert r.status_code == 400
    assert r.json()["message"] == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                                   'unknown field "spec.containers[0].imagex"')
    r = post(sim, "/api/v1/namespaces/default/pods", body)
    assert r.status_code == 201 and "unknown field" in r.headers["Warning"]
    assert "imagex" not in json.dumps(r.json())  # dropped, as decoding into Go types drops it
    requests.delete(f"{sim.url}/api/v1/namespaces/default/pods/strict", timeout=5)
    r = post(sim, "/api/v1/namespaces/default/pods", {"metadata": {"name": "t"}, "spec": {"containers": "oops"}})
    assert r.status_code == 400
    assert "cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container" in r.json()["message"]


def test_error_413_oversized_body(sim):
    big = {"metadata": {"name": "big"}, "data": {"blob": "x" * (3 * 1024 * 1024 + 10)}}
    r = post(sim, "/api/v1/namespaces/default/configmaps", big)
    assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
    r = post(sim, "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "big"}, "data": {"blob": "x" * (1024 * 1024 + 10)}})
    assert r.status_code == 422 and "Too long" in r.json()["message"]


def test_error_unsupported_media_type(sim):
    r = post(sim, "/api/v1/namespaces/default/configmaps", b"a,b\n1,2\n", "text/csv")
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = post(sim, "/api/v1/namespaces/default/configmaps", b"\x0a\x02hi", "application/vnd.kubernetes.protobuf")
    assert r.status_code == 400 and "protobuf" in r.json()["message"]  # read, but not a Kubernetes protobuf body


def test_server_survives_garbage_and_keeps_data(sim, api):
    rnd = random.Random(3)
    paths = ["/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/pods/x", "/apis/apps/v1/namespaces/default/deployments",
             "/api/v1/nodes/course-worker/status", "/apis/apps/v1/namespaces/default/deployments/web/scale", "/api", "/openapi/v3/api/v1",
             "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=0", "/api/v1/namespaces/%ff/pods", "/apis/x/y/z/w/v/u"]
    ctypes = ["application/json", "application/yaml", "application/strategic-merge-patch+json", "application/json-patch+json",
              "application/merge-patch+json", "application/apply-patch+yaml", "text/html"]
    samples = [b"", b"{}", b"[]", b"null", b"{" * 2000 + b"}" * 2000, b'{"metadata": 5}', b'{"metadata": {"name": 5}}',
               b'{"kind": [], "apiVersion": {}}', b"- a\n- b", b'{"spec": {"containers": [{"name": null}]}}']
    # kube-system: the random writes below may scale deployments in default, whose pods then change
    before = requests.get(sim.url + "/api/v1/namespaces/kube-system/pods", timeout=5).json()["items"]
    for _ in range(300):
        body = rnd.choice(samples) if rnd.random() < 0.6 else bytes(rnd.randrange(256) for _ in range(rnd.randrange(64)))
        r = requests.request(rnd.choice(["GET", "POST", "PUT", "PATCH", "DELETE"]), sim.url + rnd.choice(paths), data=body,
                             headers={"Content-Type": rnd.choice(ctypes)}, timeout=10)
        assert r.status_code < 500, (r.status_code, r.text[:300])
        if r.headers.get("Content-Type", "").startswith("application/json") and r.status_code >= 400:
            assert r.json()["kind"] == "Status"
    after = requests.get(sim.url + "/api/v1/namespaces/kube-system/pods", timeout=5).json()["items"]
    assert {p["metadata"]["uid"] for p in before} <= {p["metadata"]["uid"] for p in after}
    assert len(client.CoreV1Api(api).list_node().items) == 3


# ---- discovery and OpenAPI ----------------------------------------------------------------
def test_discovery_aggregated_and_legacy(sim):
    agg = requests.get(sim.url + "/apis", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}, timeout=5)
    assert agg.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = [i["metadata"]["name"] for i in agg.json()["items"]]
    assert {"apps", "autoscaling", "batch", "storage.k8s.io", "metrics.k8s.io"} <= set(groups)
    legacy = requests.get(sim.url + "/apis", timeout=5).json()
    assert legacy["kind"] == "APIGroupList"
    core = requests.get(sim.url + "/api/v1", timeout=5).json()
    assert {"pods", "pods/status", "pods/log", "nodes", "services"} <= {r["name"] for r in core["resources"]}
    apps = requests.get(sim.url + "/apis/apps/v1", timeout=5).json()
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_openapi_v3_documents(sim):
    index = requests.get(sim.url + "/openapi/v3", timeout=5).json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    doc = requests.get(sim.url + url, timeout=10).json()
    item = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    assert item["patch"]["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert "fieldValidation" in [p["name"] for p in item["patch"]["parameters"]]
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert all("null" not in json.dumps(s.get("type", "")) for s in doc["components"]["schemas"].values())


# ---- patch semantics (no server) --------------------------------------------------------------
POD_SPEC = {"$ref": schema.PREFIX + "io.k8s.api.core.v1.Pod"}


def test_strategic_merge_patch_rules():
    pod = {"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    out = patch.strategic_merge(pod, {"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}}, POD_SPEC)
    assert [(c["name"], c["image"]) for c in out["spec"]["containers"]] == [("a", "x"), ("b", "z"), ("c", "w")]
    out = patch.strategic_merge(pod, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}, POD_SPEC)
    assert [c["name"] for c in out["spec"]["containers"]] == ["b"]
    out = patch.strategic_merge(pod, {"metadata": {"finalizers": ["b"]}}, POD_SPEC)
    assert out["metadata"]["finalizers"] == ["a", "b"]
    out = patch.strategic_merge(pod, {"spec": {"containers": [{"name": "a", "image": None}]}}, POD_SPEC)
    assert out["spec"]["containers"][0] == {"name": "a"}
    assert pod["spec"]["containers"][0]["image"] == "x"  # the original is untouched


def test_json_patch_and_apply_helpers():
    doc = {"a": [1, 2], "b": {"c": 1}}
    assert patch.json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b/c"}]) == {"a": [1, 2, 3], "b": {}}
    with pytest.raises(patch.PatchError):
        patch.json_patch(doc, [{"op": "test", "path": "/b/c", "value": 2}])
    live = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}], "x": 1}}
    before = {"spec": {"containers": [{"name": "a"}, {"name": "b"}], "x": 1}}
    now = {"spec": {"containers": [{"name": "a"}]}}
    assert patch.apply_remove(live, before, now, POD_SPEC) == {"spec": {"containers": [{"name": "a", "image": "x"}]}}
