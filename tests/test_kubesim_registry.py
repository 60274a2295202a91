"""The GKE rehearsal's Artifact Registry: an image exists there once pushed, as on GKE.

A node of a real GKE cluster pulls ``REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG`` only
after ``docker push`` put it there; before, the pull fails with "not found" and the kubelet backs
off, and its next retry after the push succeeds. The cluster's project and zone are those
``gcloud container clusters create`` was given.
"""
from __future__ import annotations

import pytest

from labkit import kubesim

REF = "europe-west1-docker.pkg.dev/shop-4711/course/course-webapp:v1"


def _deploy(sim, image: str) -> None:
    from kubernetes import client, config
    api = client.AppsV1Api(config.new_client_from_config(sim.kubeconfig))
    api.create_namespaced_deployment("default", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": image}]}}}})


def _states(sim) -> list[str]:
    out = []
    for pod in sim.store.list(kubesim.resources.get("/pods"))[0]:
        if pod["metadata"]["namespace"] != "default":
            continue
        (status,) = pod["status"].get("containerStatuses") or [{}]
        state = status.get("state") or {}
        out.append("Ready" if status.get("ready") else (state.get("waiting") or {}).get("reason", "?"))
    return sorted(out)


@pytest.fixture()
def sim():
    s = kubesim.start(profile="gke", name="cloud-kubernetes", workers=2, realtime=False,
                      project="shop-4711", zone="europe-west1-b")
    yield s
    s.stop()


def test_the_cluster_is_where_gcloud_created_it(sim) -> None:
    assert sim.context == "gke_shop-4711_europe-west1-b_cloud-kubernetes"
    nodes = sim.store.list(kubesim.resources.get("/nodes"))[0]
    assert {n["spec"]["providerID"].split("/")[2:4] == ["shop-4711", "europe-west1-b"] for n in nodes} == {True}


def test_an_image_nobody_pushed_does_not_pull_and_a_retry_after_the_push_does(sim) -> None:
    _deploy(sim, REF)
    sim.advance(30)
    assert _states(sim) == ["ImagePullBackOff", "ImagePullBackOff"]
    events = [e["message"] for e in sim.store.list(kubesim.resources.get("/events"))[0] if e.get("reason") == "Failed"]
    assert any(f'failed to resolve reference "{REF}"' in m and m.endswith("not found") for m in events), events
    assert sim.push_image(REF) == REF
    sim.advance(320)   # the back-off is at most 300 s: every pod has retried since the push
    assert _states(sim) == ["Ready", "Ready"]


def test_only_the_pushed_tag_exists(sim) -> None:
    sim.push_image(REF)
    _deploy(sim, REF.replace(":v1", ":v2"))
    sim.advance(30)
    assert _states(sim) == ["ImagePullBackOff", "ImagePullBackOff"]


def test_the_rehearsal_pushes_only_the_course_image(sim) -> None:
    for image in ("nginx:1.27", "europe-west1-docker.pkg.dev/shop-4711/course/nginx:1.27", "course-webapp:v1"):
        with pytest.raises(ValueError, match="course-webapp"):
            sim.push_image(image)


def test_project_and_zone_belong_to_the_gke_profile() -> None:
    with pytest.raises(ValueError, match="GKE-like profile"):
        kubesim.start(project="shop-4711", realtime=False)


def test_from_the_internet_only_a_load_balancers_external_ip_answers(sim) -> None:
    from kubernetes import client, config
    sim.push_image(REF)
    _deploy(sim, REF)
    core = client.CoreV1Api(config.new_client_from_config(sim.kubeconfig))
    core.create_namespaced_service("default", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                               "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                                                        "ports": [{"port": 80, "targetPort": 8080}]}})
    sim.advance(90)
    service = core.read_namespaced_service("web", "default")
    status, headers, body = sim.call_from_internet(f"http://{service.status.load_balancer.ingress[0].ip}/")
    assert status == 200 and b'"hostname":"web-' in body and headers["Server"] == "gunicorn"
    pod_ip = core.list_namespaced_pod("default").items[0].status.pod_ip
    for closed in (f"http://{pod_ip}:8080/", f"http://{service.spec.cluster_ip}/"):
        with pytest.raises(ConnectionError, match="only a LoadBalancer Service's external IP"):
            sim.call_from_internet(closed)
