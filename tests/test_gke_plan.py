"""labkit.gke_plan: a plan to ship the web service to GKE, and its teardown, checked before anyone runs them."""
from __future__ import annotations

import copy
import shlex
from types import SimpleNamespace

import pytest

from conftest import skip_unless_ci
from labkit import gcloud_check
from labkit.gke_plan import Target, check_deploy_plan, check_teardown_plan, image_reference, region_of

TARGET = Target(project="my-course-project", region="europe-west1", zone="europe-west1-b", repository="course",
                image="web", tag="v1")
REF = "europe-west1-docker.pkg.dev/my-course-project/course/web:v1"
PLAN = [shlex.split(line) for line in (
    f"docker build -t {REF} webapp",
    "gcloud artifacts repositories create course --repository-format=docker --location=europe-west1 --project my-course-project",
    "gcloud auth configure-docker europe-west1-docker.pkg.dev",
    f"docker push {REF}",
    "gcloud container clusters create cloud-kubernetes --zone europe-west1-b --num-nodes 3 --machine-type e2-medium "
    "--project my-course-project",
    "gcloud container clusters get-credentials cloud-kubernetes --zone europe-west1-b --project my-course-project",
    "kubectl apply -f k8s/",
)]
TEARDOWN = [shlex.split(line) for line in (
    "kubectl delete service web",
    "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b --quiet",
    "gcloud artifacts repositories delete course --location=europe-west1 --quiet",
)]
ACCEPTS = lambda words: SimpleNamespace(accepted=True, message="")  # noqa: E731  gcloud's part is tested below


def test_names_follow_the_documentation() -> None:
    assert image_reference("p", "us-central1", "repo", "web", "v2") == "us-central1-docker.pkg.dev/p/repo/web:v2"
    assert region_of("us-central1-a") == "us-central1" and region_of("us-central1") is None


def test_the_documented_path_has_no_problem() -> None:
    assert check_deploy_plan(PLAN, TARGET, ACCEPTS) == []
    assert check_teardown_plan(TEARDOWN, TARGET, verdict=ACCEPTS) == []


def changed(plan: list[list[str]], index: int, line: str | None) -> list[list[str]]:
    plan = copy.deepcopy(plan)
    if line is None:
        del plan[index]
    else:
        plan[index] = shlex.split(line)
    return plan


@pytest.mark.parametrize("index, line, says", [
    (3, "docker push us-central1-docker.pkg.dev/my-course-project/course/web:v1", "pushes something other than the image"),
    (2, "gcloud auth configure-docker us-central1-docker.pkg.dev", "not to europe-west1-docker.pkg.dev"),
    (2, None, "gcloud auth configure-docker europe-west1-docker.pkg.dev"),
    (1, "gcloud artifacts repositories create course --repository-format=docker --location=us-central1",
     "create it in europe-west1"),
    (1, "gcloud artifacts repositories create course --repository-format=maven --location=europe-west1",
     "--repository-format=docker"),
    (5, "gcloud container clusters get-credentials cloud-kubernetes --zone europe-west1-c", "use the same location"),
    (5, "gcloud container clusters get-credentials my-cluster --zone europe-west1-b", "names the cluster 'my-cluster'"),
    (4, "gcloud container clusters create cloud-kubernetes --num-nodes 3", "says no --zone"),
    (4, "gcloud container clusters create cloud-kubernetes --zone europe-west1-b --project someone-else",
     "works in the project 'someone-else'"),
    (0, "docker build -t web:v1 webapp", "build or tag the image as"),
])
def test_a_mistake_between_commands_is_named(index, line, says) -> None:
    problems = check_deploy_plan(changed(PLAN, index, line), TARGET, ACCEPTS)
    assert any(says in p for p in problems), problems


def test_an_order_that_cannot_work_is_named() -> None:
    plan = [PLAN[0], PLAN[1], PLAN[3], PLAN[2], PLAN[4], PLAN[6], PLAN[5]]
    problems = check_deploy_plan(plan, TARGET, ACCEPTS)
    assert "The order: run configure-docker before docker push, or the push is refused." in problems
    assert any("fetch the credentials before kubectl apply" in p for p in problems)


def test_a_target_whose_zone_is_not_in_its_region() -> None:
    wrong = Target("p", "us-central1", "europe-west1-b", "course", "web", "v1")
    assert any("not in the region us-central1" in p for p in check_deploy_plan(PLAN, wrong, ACCEPTS))


def test_teardown_mistakes_are_named() -> None:
    late = [TEARDOWN[1], TEARDOWN[0], TEARDOWN[2]]
    assert any("before the cluster" in p for p in check_teardown_plan(late, TARGET, verdict=ACCEPTS))
    asks = changed(TEARDOWN, 1, "gcloud container clusters delete cloud-kubernetes --zone europe-west1-b")
    assert any("--quiet" in p for p in check_teardown_plan(asks, TARGET, verdict=ACCEPTS))
    kept = changed(TEARDOWN, 2, None)
    assert any("stored images are billed" in p for p in check_teardown_plan(kept, TARGET, verdict=ACCEPTS))
    no_service = changed(TEARDOWN, 0, None)
    assert any("releases its cloud load balancer" in p for p in check_teardown_plan(no_service, TARGET, verdict=ACCEPTS))


def test_a_plan_that_is_not_a_list_of_word_lists_gets_a_plain_message() -> None:
    for bad in ("docker push x", [["docker", 3]], [[]], None):
        assert check_deploy_plan(bad, TARGET, ACCEPTS)[0].startswith("Give the plan as a list of commands")


def test_gcloud_itself_judges_each_gcloud_command() -> None:
    if not gcloud_check.gcloud_available():
        skip_unless_ci("gcloud is not installed on this machine (the CI machine image has gcloud 528)")
    assert check_deploy_plan(PLAN, TARGET) == []
    typo = changed(PLAN, 4, "gcloud container clusters create cloud-kubernetes --zone europe-west1-b --num-node 3")
    problems = check_deploy_plan(typo, TARGET)
    assert any(p.startswith("gcloud refuses `gcloud container clusters create") and "--num-node" in p for p in problems), problems


def test_flags_before_the_name_or_the_group_are_read_as_gcloud_reads_them() -> None:
    """`clusters create --zone Z NAME` names NAME, and `gcloud --project P container ...` is the same command."""
    from labkit.gke_plan import normal, positional
    words = ["gcloud", "container", "clusters", "create", "--zone", "us-central1-a", "--quiet", "cloud-kubernetes"]
    assert positional(words, 4) == "cloud-kubernetes"
    assert normal(["gcloud", "--project", "p", "--quiet", "container", "clusters", "list"]) == \
        ["gcloud", "container", "clusters", "list", "--project", "p", "--quiet"]
