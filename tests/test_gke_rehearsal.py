"""Deploy to GKE, rehearsed: gcloud checks each command, the rehearsal acts it out as Google Cloud would.

The mistakes between commands fail as they fail on Google Cloud (a push before configure-docker or
to a repository nobody created, credentials of a cluster that is not there, a delete that would
wait for a yes), nothing is created anywhere, and only a project with really=True runs commands.
"""
from __future__ import annotations

import os
import stat

import pytest

from labkit import cluster_clock
from labkit.gcloud_check import GcloudVerdict
from labkit.gke_plan import Target, check_deploy_plan, check_teardown_plan
from labkit.gke_rehearsal import Cloud

REF = "europe-west1-docker.pkg.dev/shop-4711/course/course-webapp:v1"
TARGET = Target("shop-4711", "europe-west1", "europe-west1-b", "course", "course-webapp", "v1")
DEPLOY = ["gcloud artifacts repositories create course --repository-format=docker --location=europe-west1",
          "gcloud auth configure-docker europe-west1-docker.pkg.dev",
          f"docker tag course-webapp:lesson {REF}",
          f"docker push {REF}",
          "gcloud container clusters create cloud-kubernetes --zone europe-west1-b --num-nodes 2",
          "gcloud container clusters get-credentials cloud-kubernetes --zone europe-west1-b"]


def accepts(words: list[str]) -> GcloudVerdict:
    return GcloudVerdict(True, "accepted")


@pytest.fixture()
def cloud(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    rehearsal = Cloud("shop-4711", verdict=accepts)
    yield rehearsal
    rehearsal.close()


def run_all(cloud: Cloud, commands: list[str]) -> None:
    for command in commands:
        outcome = cloud.run(command)
        assert outcome.ok, f"{command}: {outcome.output}"


def test_the_whole_path_runs_and_the_service_answers_through_its_external_ip(cloud, monkeypatch) -> None:
    run_all(cloud, DEPLOY)
    assert os.environ["KUBECONFIG"] == cloud.kubeconfig
    assert cloud.run("kubectl config current-context").output == "gke_shop-4711_europe-west1-b_cloud-kubernetes"
    run_all(cloud, [f"kubectl create deployment web --image={REF} --port=8080",
                    "kubectl expose deployment web --type=LoadBalancer --port=80 --target-port=8080"])
    assert not cloud.call("http://203.0.113.1/").ok
    cluster_clock.pass_time(cloud.connect(), 90)
    ip = cloud.run("kubectl get service web -o jsonpath={.status.loadBalancer.ingress[0].ip}").output
    assert ip.startswith("203.0.113.")
    answer = cloud.call(f"http://{ip}/")
    assert answer.ok and '"hostname":"web-' in answer.output
    assert check_deploy_plan(cloud.history + [["kubectl", "apply", "-f", "web.yaml"]], TARGET, verdict=accepts) == []
    assert "cluster management fee" in cloud.bill().output


@pytest.mark.parametrize("before, command, says", [
    ([], f"docker push {REF}", "An image does not exist locally with the tag"),
    (["docker tag course-webapp:lesson " + REF], f"docker push {REF}", "Unauthenticated request"),
    (["docker tag course-webapp:lesson " + REF, DEPLOY[1]], f"docker push {REF}", 'Repository "course" not found'),
    ([], "docker tag course-webapp:v9 " + REF, "No such image: course-webapp:v9"),
    ([], "gcloud container clusters get-credentials cloud-kubernetes --zone europe-west1-b", "code=404"),
    ([], "gcloud container clusters create cloud-kubernetes", "must be supplied"),
    ([], "gcloud container clusters create-auto cloud-kubernetes --zone europe-west1-b", "Autopilot clusters are regional"),
    ([], "gcloud artifacts repositories create course --location=europe-west1", "--repository-format=docker"),
])
def test_a_mistake_between_commands_fails_as_on_google_cloud(cloud, before, command, says) -> None:
    run_all(cloud, before)
    outcome = cloud.run(command)
    assert not outcome.ok and says in outcome.output, outcome.output


def test_an_image_pushed_before_the_cluster_exists_is_pulled_by_it(cloud) -> None:
    run_all(cloud, DEPLOY + [f"kubectl create deployment web --image={REF}"])
    cluster_clock.pass_time(cloud.connect(), 30)
    assert cloud.run("kubectl get deployment web -o jsonpath={.status.readyReplicas}").output == "1"


def test_teardown_without_quiet_waits_for_a_yes_and_a_left_service_may_leave_its_load_balancer(cloud) -> None:
    run_all(cloud, DEPLOY + [f"kubectl create deployment web --image={REF}",
                             "kubectl expose deployment web --type=LoadBalancer --port=80"])
    cluster_clock.pass_time(cloud.connect(), 90)
    delete = "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b"
    refused = cloud.run(delete)
    assert not refused.ok and "--quiet" in refused.output
    assert cloud.run(delete + " --quiet").ok
    rules = cloud.run("gcloud compute forwarding-rules list").output
    assert "left by a deleted cluster" in rules
    assert "forwarding rule(s) a deleted cluster may have left" in cloud.bill().output
    rule = rules.splitlines()[1].split()[0]
    run_all(cloud, [f"gcloud compute forwarding-rules delete {rule} --region europe-west1 --quiet",
                    "gcloud artifacts repositories delete course --location=europe-west1 --quiet"])
    assert cloud.bill().output == "Nothing is billing."


def test_the_teardown_gke_plan_asks_for_leaves_nothing_billing(cloud) -> None:
    run_all(cloud, DEPLOY + [f"kubectl create deployment web --image={REF}",
                             "kubectl expose deployment web --type=LoadBalancer --port=80"])
    cluster_clock.pass_time(cloud.connect(), 90)
    teardown = ["kubectl delete service web", "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b --quiet",
                "gcloud artifacts repositories delete course --location=europe-west1 --quiet"]
    run_all(cloud, teardown)
    assert check_teardown_plan(cloud.history[-3:], TARGET, verdict=accepts) == []
    assert cloud.bill().output == "Nothing is billing."


def test_gcloud_refuses_before_anything_happens() -> None:
    cloud = Cloud(verdict=lambda words: GcloudVerdict(False, "unrecognized arguments: --nodes"))
    outcome = cloud.run("gcloud container clusters create cloud-kubernetes --zone us-central1-a --nodes 3")
    assert not outcome.ok and "unrecognized arguments: --nodes" in outcome.output
    assert cloud.state.clusters == {} and cloud.history == []


def test_nothing_runs_for_real_unless_a_project_is_given_and_really_is_said(tmp_path, monkeypatch) -> None:
    log = tmp_path / "argv"
    fake = tmp_path / "gcloud"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\necho created\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ValueError, match="project's ID"):
        Cloud(really=True)
    command = "gcloud artifacts repositories create course --repository-format=docker --location=us-central1"
    assert Cloud("my-project", verdict=accepts).run(command).ok and not log.exists()   # a rehearsal of my-project
    real = Cloud("my-project", really=True, verdict=accepts)
    outcome = real.run(command)
    assert outcome.ok and outcome.output == "created"
    assert log.read_text().split() == command.split()[1:]


def test_a_command_the_rehearsal_does_not_know_says_what_it_knows(cloud) -> None:
    outcome = cloud.run("gcloud compute instances create vm-1 --zone us-central1-a")
    assert not outcome.ok and "gcloud container clusters create" in outcome.output


def test_closing_the_rehearsal_points_kubeconfig_back_at_the_learners_cluster(monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/home/learner/.kube/config")
    cloud = Cloud(verdict=accepts)
    run_all(cloud, ["gcloud container clusters create cloud-kubernetes --zone us-central1-a --num-nodes 1"])
    assert os.environ["KUBECONFIG"] == cloud.kubeconfig
    cloud.close()
    assert os.environ["KUBECONFIG"] == "/home/learner/.kube/config"
