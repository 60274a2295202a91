"""labkit.deploy_picture: which steps of the path to GKE exist, from the commands that worked and the cluster."""
from __future__ import annotations

import shlex
from types import SimpleNamespace

import pytest

from labkit import deploy_picture
from labkit.deploy_picture import Live, live_from_json, path_figure, progress

PROJECT = "shop-4711"
IMAGE = f"europe-west1-docker.pkg.dev/{PROJECT}/course/course-webapp:v1"
SHIP = [f"docker tag course-webapp:lesson {IMAGE}",
        "gcloud artifacts repositories create course --repository-format=docker --location=europe-west1",
        "gcloud auth configure-docker europe-west1-docker.pkg.dev",
        f"docker push {IMAGE}"]
CLUSTER = ["gcloud container clusters create cloud-kubernetes --zone europe-west1-b --num-nodes 2 --machine-type e2-small",
           "gcloud container clusters get-credentials cloud-kubernetes --zone europe-west1-b"]
SERVING = Live(ready=3, replicas=3, image=IMAGE, service_type="LoadBalancer", external_ip="203.0.113.7")


def words(*commands: str) -> list[list[str]]:
    return [shlex.split(command) for command in commands]


def test_nothing_exists_before_the_first_command() -> None:
    state = progress([], PROJECT)
    assert state.done() == []
    assert [step.key for step in state.steps] == [key for key, _, _ in deploy_picture.STEPS]
    assert state["cluster"].detail == "no cluster" and state.context is None


def test_tag_repository_and_push_make_the_image_and_the_registry() -> None:
    assert progress(words(SHIP[0]), PROJECT).done() == ["image"]
    assert progress(words(*SHIP[:3]), PROJECT)["registry"].detail == f"europe-west1-docker.pkg.dev/{PROJECT}/course: empty"
    state = progress(words(*SHIP), PROJECT)
    assert state.done() == ["image", "registry"]
    assert state["image"].detail == IMAGE
    assert state["registry"].detail == f"1 image(s) in europe-west1-docker.pkg.dev/{PROJECT}/course"


def test_a_tag_that_is_not_a_registry_name_and_a_push_to_another_repository_count_for_nothing() -> None:
    other = f"europe-west1-docker.pkg.dev/{PROJECT}/elsewhere/course-webapp:v1"
    state = progress(words("docker tag course-webapp:lesson course-webapp:v1", SHIP[1], f"docker push {other}"), PROJECT)
    assert state.done() == []


def test_the_project_of_config_set_project_and_of_a_project_flag() -> None:
    image = "us-central1-docker.pkg.dev/mine/course/course-webapp:v1"
    state = progress(words("gcloud config set project mine", f"docker build -t {image} .",
                           "gcloud artifacts repositories create course --repository-format=docker --location=us-central1",
                           f"docker push {image}"), "labkit-rehearsal")
    assert state["registry"].done
    elsewhere = progress(words(f"docker build -t {image} .", "gcloud artifacts repositories create course "
                               "--repository-format=docker --location=us-central1 --project other", f"docker push {image}"), "mine")
    assert not elsewhere["registry"].done


def test_a_cluster_and_its_credentials_name_the_context_gcloud_writes() -> None:
    state = progress(words(*SHIP, *CLUSTER), PROJECT)
    assert state.done() == ["image", "registry", "cluster", "credentials"]
    assert state.cluster == "cloud-kubernetes"
    assert state.context == f"gke_{PROJECT}_europe-west1-b_cloud-kubernetes"
    assert state["cluster"].detail == "cloud-kubernetes: europe-west1-b, 2 x e2-small"


def test_credentials_of_another_zone_find_no_cluster() -> None:
    state = progress(words(CLUSTER[0].replace("create", "get-credentials")), PROJECT)
    assert state.done() == []


def test_pods_load_balancer_and_internet_come_from_what_the_cluster_says() -> None:
    state = progress(words(*SHIP, *CLUSTER), PROJECT, SERVING)
    assert state.done() == ["image", "registry", "cluster", "pods", "load balancer", "internet", "credentials"]
    assert state["internet"].detail == "http://203.0.113.7/"
    assert state["pods"].detail == "3/3 ready, image course-webapp:v1"
    pending = progress(words(*SHIP, *CLUSTER), PROJECT, Live(ready=3, replicas=3, image=IMAGE, service_type="LoadBalancer"))
    assert pending["load balancer"].detail == "EXTERNAL-IP <pending>" and not pending["internet"].done
    no_pods = progress(words(*SHIP, *CLUSTER), PROJECT, Live(ready=0, replicas=3, image=IMAGE, service_type="LoadBalancer",
                                                             external_ip="203.0.113.7"))
    assert no_pods["load balancer"].done and not no_pods["pods"].done and not no_pods["internet"].done


def test_the_teardown_leaves_only_the_image_on_your_machine() -> None:
    teardown = ["kubectl delete service web", "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b --quiet",
                "gcloud artifacts repositories delete course --location=europe-west1 --quiet"]
    # what the cluster said before it went is not asked again: without a cluster there is nothing to read
    state = progress(words(*SHIP, *CLUSTER, *teardown), PROJECT, SERVING)
    assert state.done() == ["image"]
    assert state["credentials"].detail == "no context" and state["registry"].detail == "no repository"
    only_cluster = progress(words(*SHIP, *CLUSTER, teardown[1]), PROJECT)
    assert only_cluster.done() == ["image", "registry"]


def test_live_from_kubectl_json() -> None:
    document = {"kind": "List", "items": [
        {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "web", "image": IMAGE}]}}}, "status": {"readyReplicas": 2}},
        {"kind": "Service", "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"},
         "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP"}]}}}]}
    assert live_from_json(document) == Live(ready=2, replicas=3, image=IMAGE, service_type="LoadBalancer", external_ip="203.0.113.7")
    assert live_from_json({"kind": "List", "items": []}) == Live()
    assert live_from_json({}) == Live()
    assert live_from_json(document, deployment="other").ready is None


def test_the_figure_colours_the_steps_that_exist() -> None:
    def faces(state):
        return {patch.get_gid().split(":", 1)[1]: patch.get_facecolor() for patch in path_figure(state).axes[0].patches
                if (patch.get_gid() or "").startswith("step:")}

    half, full = faces(progress(words(*SHIP), PROJECT)), faces(progress(words(*SHIP, *CLUSTER), PROJECT, SERVING))
    assert set(half) == set(full) == {key for key, _, _ in deploy_picture.STEPS}
    assert half["image"] == half["registry"] == full["internet"] != half["cluster"]
    assert len({face for key, face in half.items() if key not in ("image", "registry")}) == 1


def test_picture_is_a_png_with_and_without_a_cloud() -> None:
    assert deploy_picture.picture().data[:8] == b"\x89PNG\r\n\x1a\n"
    cloud = SimpleNamespace(history=words(*SHIP), project=PROJECT, really=False, kubeconfig="/nonexistent")
    assert deploy_picture.picture(cloud).data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def rehearsal():
    from labkit.gke_rehearsal import Cloud
    cloud = Cloud(PROJECT, seed=1, verdict=lambda words: SimpleNamespace(accepted=True, message="accepted"))
    yield cloud
    cloud.close()


def test_a_rehearsal_from_nothing_to_the_internet_and_back(rehearsal, tmp_path) -> None:
    """A real rehearsal (gcloud's verdict stubbed): the picture's data follows the cluster's own answers."""
    from labkit.cluster_clock import pass_time

    for command in SHIP + CLUSTER:
        assert rehearsal.run(command).ok, command
    assert progress(rehearsal.history, rehearsal.project, deploy_picture.read_live(rehearsal)).done() == [
        "image", "registry", "cluster", "credentials"]
    manifest = tmp_path / "web.yaml"
    manifest.write_text(f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: "{IMAGE}", ports: [{{containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
""")
    assert rehearsal.run(f"kubectl apply -f {manifest}").ok
    live = deploy_picture.read_live(rehearsal)
    assert live.service_type == "LoadBalancer" and live.external_ip is None
    pass_time(rehearsal.connect(), 90)
    live = deploy_picture.read_live(rehearsal)
    assert live.ready == 2 and live.external_ip.startswith("203.0.113.")
    assert len(progress(rehearsal.history, rehearsal.project, live).done()) == 7
    for command in ("kubectl delete service web", "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b --quiet",
                    "gcloud artifacts repositories delete course --location=europe-west1 --quiet"):
        assert rehearsal.run(command).ok, command
    assert progress(rehearsal.history, rehearsal.project).done() == ["image"]
