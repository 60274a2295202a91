"""Assignment 6 (ship it to GKE): its tests catch cheats and say what to fix.

For each graded exercise a "cheat" returns, as a literal, what the reference solution returns for the
visible examples (a lookup of every visible call): it must pass the visible test and fail the full one
(the hidden tests use other projects, regions, zones, images, tags, messages, shapes, prices and needs).
Objects equal to anything fail even the visible tests. Typical mistakes fail the visible test with a
message that names the rule; those run the setup cell, the answer and the visible part of the test cell in
this process (the same code as in the notebook, without a kernel; gcloud's verdicts are cached per
process, so a mistake costs only its new gcloud commands). A few checks of labkit.practice_deploy, the
assignment's library, come last.
"""
from __future__ import annotations

import json
import re

import pytest

from assignment_runner import (InProcess, anything_class, assert_hidden_tests_catch, assert_visible_tests_refuse, graded_cells,
                               run_with as run_assignment)
from conftest import REPO_ROOT, skip_unless_ci
from labkit import gcloud_check, practice_deploy

ASSIGNMENT = REPO_ROOT / "source" / "06-deploy-to-gke" / "deploy-to-gke.ipynb"
TESTS = ["deploy-test", "manifests-test", "cost-test", "teardown-test", "mode-test"]
FUNCTIONS = {"deploy-answer": "deploy_commands", "manifests-answer": "web_manifests", "cost-answer": "monthly_cost",
             "teardown-answer": "teardown_commands", "mode-answer": "choose_mode"}
SIGNATURES = {"deploy-answer": "project, region, zone, repository, image, tag",
              "manifests-answer": "image, message, password, replicas, max_replicas",
              "cost-answer": "shape, prices",
              "teardown-answer": "project, region, zone, repository, services",
              "mode-answer": "needs"}


IN_PROCESS = InProcess(ASSIGNMENT, FUNCTIONS, SIGNATURES)
CELLS = IN_PROCESS.cells
_setup, _answer_namespace = IN_PROCESS.setup, IN_PROCESS.answer_namespace
visible_error, visible_calls, lookup_cheat = IN_PROCESS.visible_error, IN_PROCESS.visible_calls, IN_PROCESS.lookup_cheat


def literal_cheat(answer_id: str) -> str:
    """An answer that returns what the solution returns for the visible test's one call, whatever it is asked."""
    (result,) = visible_calls(answer_id).values()
    return f"def {FUNCTIONS[answer_id]}({SIGNATURES[answer_id]}):\n    return {result!r}\n"


ONE_CALL = ("deploy-answer", "manifests-answer", "teardown-answer")  # the others are called for many cases


@pytest.fixture(scope="module")
def hard_coded() -> dict[str, str]:
    return {answer: literal_cheat(answer) if answer in ONE_CALL else lookup_cheat(answer) for answer in FUNCTIONS}


ANYTHING = anything_class()
EQUAL_TO_ANYTHING = {answer: ANYTHING + f"def {FUNCTIONS[answer]}({SIGNATURES[answer]}):\n    return _Anything()\n"
                     for answer in FUNCTIONS}


def run_with(answers: dict[str, str], visible_only: bool) -> tuple[dict[str, bool], dict[str, str]]:
    return run_assignment(ASSIGNMENT, answers, visible_only, timeout=600)


def test_the_assignment_has_five_graded_cells_with_points() -> None:
    graded = graded_cells(ASSIGNMENT)
    assert [g["grade_id"] for g in graded] == TESTS
    assert all(g["points"] > 0 and g["locked"] for g in graded)
    assert sum(g["points"] for g in graded) == 17
    assert "Points: 17 in all" in CELLS["intro"]
    for test in TESTS:  # the question says its points
        intro = CELLS[test.replace("-test", "-intro")]
        points = next(g["points"] for g in graded if g["grade_id"] == test)
        assert f"({points} points)" in intro.splitlines()[0], test


def test_every_answer_cell_has_a_small_solution_region() -> None:
    for answer in FUNCTIONS:
        source = CELLS[answer]
        assert source.count("### BEGIN SOLUTION") == 1 and source.count("### END SOLUTION") == 1, answer
        assert source.startswith(f"def {FUNCTIONS[answer]}("), answer
        region = source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
        assert len(region.strip().splitlines()) <= 35, answer
    for test in TESTS:
        assert CELLS[test].count("### BEGIN HIDDEN TESTS") == 1 and CELLS[test].count("### END HIDDEN TESTS") == 1, test


def test_the_solutions_pass_every_test() -> None:
    passed, errors = run_with({}, visible_only=False)
    assert passed == {test: True for test in TESTS}, errors


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones(hard_coded) -> None:
    assert_hidden_tests_catch(ASSIGNMENT, hard_coded, timeout=600)


@pytest.mark.parametrize("answer,said", [
    ("deploy-answer", "works in the project 'my-course-project', not"),
    ("manifests-answer", "the ConfigMap web-config's APP_GREETING and APP_ENV"),
    ("teardown-answer", "It deletes the repository 'course', not"),
])
def test_a_literal_answer_fails_the_hidden_tests_with_the_difference_named(hard_coded, answer, said) -> None:
    namespace = _answer_namespace(answer, hard_coded[answer])
    with pytest.raises(AssertionError, match=re.escape(said)):
        exec(CELLS[answer.replace("-answer", "-test")], namespace)


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    assert_visible_tests_refuse(ASSIGNMENT, EQUAL_TO_ANYTHING, timeout=600)


def assert_fails_naming(answer_id: str, source: str, said: str) -> None:
    error = visible_error(answer_id, source)
    assert error is not None and error.startswith("AssertionError") and said in error, error


# ---- 1: the deploy plan ----------------------------------------------------------------------------------
DEPLOY = '''
def deploy_commands(project, region, zone, repository, image, tag):
    host = f"{{region}}-docker.pkg.dev"
    ref = f"{{host}}/{{project}}/{{repository}}/{{image}}:{{tag}}"
    steps = {{
        "tag": f"docker tag {{image}}:{{tag}} {{ref}}",
        "repository": f"gcloud artifacts repositories create {{repository}} --repository-format=docker --location={location} {project_flag}",
        "login": f"gcloud auth configure-docker {login_host}",
        "push": f"docker push {{ref}}",
        "create": f"gcloud container clusters create cloud-kubernetes {where} {project_flag}",
        "credentials": f"gcloud container clusters get-credentials cloud-kubernetes {where} {project_flag}",
        "apply": "kubectl apply -f web.yaml",
    }}
    return [steps[step] for step in {order!r}]
'''
DEPLOY_RIGHT = {"location": "{region}", "project_flag": "--project {project}", "login_host": "{host}", "where": "--zone {zone}",
                "order": ["tag", "repository", "login", "push", "create", "credentials", "apply"]}


def deploy_answer(**wrong) -> str:
    return DEPLOY.format(**{**DEPLOY_RIGHT, **wrong})


def test_the_deploy_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("deploy-answer", deploy_answer()) is None


@pytest.mark.parametrize("wrong,said", [
    ({"login_host": "us-central1-docker.pkg.dev"}, "not to europe-west1-docker.pkg.dev, where the image goes"),
    ({"order": ["tag", "repository", "push", "login", "create", "credentials", "apply"]},
     "run configure-docker before docker push, or the push is refused"),
    ({"location": "{zone}"}, "create it in europe-west1"),
    ({"project_flag": ""}, "says no --project: add --project my-course-project"),
    ({"where": "--region {region}"}, "must say --zone europe-west1-b, not --region"),
    ({"order": ["tag", "repository", "login", "push", "create", "apply", "credentials"]},
     "fetch the credentials before kubectl apply"),
], ids=["another region's host", "push before configure-docker", "repository in the zone", "no project",
        "a regional location", "apply before credentials"])
def test_typical_deploy_mistakes_fail_with_the_rule_named(wrong, said) -> None:
    assert_fails_naming("deploy-answer", deploy_answer(**wrong), said)


def test_a_flag_gcloud_does_not_know_is_refused_in_gclouds_words() -> None:
    if not gcloud_check.gcloud_available():
        skip_unless_ci("gcloud is not installed on this machine (the CI machine image has gcloud 528)")
    answer = deploy_answer(where="--zone {zone} --nodes 3")
    assert_fails_naming("deploy-answer", answer, "gcloud refuses `gcloud container clusters create cloud-kubernetes")
    assert_fails_naming("deploy-answer", answer, "unrecognized arguments")


def test_a_plan_that_is_not_command_lines_is_told_so() -> None:
    assert_fails_naming("deploy-answer", "def deploy_commands(*args):\n    return [['docker', 'push', 'x']]\n",
                        "give each command as one string, as you would type it in a terminal")


# ---- 2: the manifests on the rehearsal cluster -------------------------------------------------------------
def manifests_answer(edit: str) -> str:
    """The solution, then ``edit`` (statements on its result ``m``: ConfigMap, Secret, Deployment, Service, HPA)."""
    solution = CELLS["manifests-answer"].replace("def web_manifests(", "def _right(", 1)
    body = "\n".join("    " + line for line in edit.strip().splitlines())
    return (solution + "\n\ndef web_manifests(image, message, password, replicas, max_replicas):\n"
            "    m = _right(image, message, password, replicas, max_replicas)\n"
            "    pod = m[2]['spec']['template']['spec']['containers'][0]\n"
            f"{body}\n    return m\n")


@pytest.mark.parametrize("edit,said", [
    ("m[3]['spec']['type'] = 'ClusterIP'", "type: LoadBalancer asks GKE for an external IP"),
    ("del pod['readinessProbe'], pod['livenessProbe']", "needs a readinessProbe that makes an HTTP GET of /readyz on port 8080"),
    ("del pod['resources']", "resources.requests are {}: give requests of cpu 100m and memory 128Mi"),
    ("pod['readinesProbe'] = pod.pop('readinessProbe')",
     'refused the Deployment web of web_manifests(\'europe-west1-docker.pkg.dev/my-course-project/course/course-webapp:v1\', '
     "'Hello from GKE', 's3cret-pw', 3, 6) (a dry run: nothing was created): Deployment in version \"v1\" cannot be handled "
     'as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].readinesProbe"'),
    ("m[0]['data']['DB_PASSWORD'] = password", "The password is written in the ConfigMap web-config"),
    ("pod['image'] = 'course-webapp:v1'", "the Deployment's containers (name, image, ports)"),
    ("m[4]['apiVersion'] = 'autoscaling/v1'", "the (apiVersion, kind, name) of the manifests"),
], ids=["ClusterIP Service", "no probes", "no resources", "a misspelt field", "password in the ConfigMap",
        "the local image", "HPA of v1"])
def test_typical_manifest_mistakes_fail_with_the_rule_named(edit, said) -> None:
    assert_fails_naming("manifests-answer", manifests_answer(edit), said)


def test_a_readiness_probe_on_another_path_is_named() -> None:
    edit = "pod['readinessProbe']['httpGet']['path'] = '/ready'"
    assert_fails_naming("manifests-answer", manifests_answer(edit), "the (path, port) of the readinessProbe: expected ('/readyz', 8080)")


# ---- 3: the monthly cost ---------------------------------------------------------------------------------
COST = '''
def monthly_cost(shape, prices):
    hours = 730
    fee = prices["cluster_fee_per_hour"] * hours
    if {free}:
        fee = {credit}
    if shape["mode"] == "Standard":
        vms = shape["nodes"] * ({zones})
        compute = vms * prices["machine_per_hour"][shape["machine_type"]] * hours
    else:
        compute = sum(p["replicas"] * ({cpu} * prices["autopilot_vcpu_per_hour"] + p["memory_gib"] * prices["autopilot_gib_per_hour"])
                      for p in shape["pods"]) * hours
    rules = shape["load_balancers"] * prices["forwarding_rule_per_hour"] * hours
    bill = {{"cluster_fee": round(fee, 2), "compute": round(compute, 2), "load_balancers": round(rules, 2)}}
    bill["total"] = round(sum(bill.values()), 2)
    return bill
'''
COST_RIGHT = {"free": 'shape["mode"] == "Autopilot" or shape["location"] == "zonal"',
              "credit": 'max(0.0, fee - prices["free_tier_per_month"])',
              "zones": '3 if shape["location"] == "regional" else 1', "cpu": 'math.ceil(p["cpu"] / 0.25) * 0.25'}


def cost_answer(**wrong) -> str:
    return COST.format(**{**COST_RIGHT, **wrong})


def test_the_cost_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("cost-answer", cost_answer()) is None


@pytest.mark.parametrize("wrong,said", [
    ({"free": "True"}, "Regional: no free tier (the fee is 73.00)"),
    ({"zones": "1"}, "nodes: 1 is one node in each of the region's 3 zones: 3 VMs"),
    ({"credit": 'fee - prices["free_tier_per_month"]'}, "expected 0.0 (within 0.011), got -1.4"),
    ({"cpu": 'p["cpu"]'}, "Each pod's 0.1 vCPU bills as 0.25 (a multiple of 0.25, rounded up)"),
], ids=["free tier for a regional cluster", "regional nodes in one zone", "a fee below 0", "CPU not rounded up"])
def test_typical_cost_mistakes_fail_with_the_rule_named(wrong, said) -> None:
    assert_fails_naming("cost-answer", cost_answer(**wrong), said)


def test_a_wrong_part_shows_how_it_is_computed() -> None:
    error = visible_error("cost-answer", cost_answer(cpu='p["cpu"]'))
    assert "How: (3 x (0.25 vCPU (for 0.1) x 0.0445 + 0.125 GiB x 0.0049225)) $/h x 730 h = 25.71." in error, error


# ---- 4: the teardown -------------------------------------------------------------------------------------
def teardown_answer(order=("services", "cluster", "repository"), quiet="--quiet", repository=True) -> str:
    steps = {"services": "[f'kubectl delete service {name}' for name in services]",
             "cluster": f"[f'gcloud container clusters delete cloud-kubernetes --zone {{zone}} --project {{project}} {quiet}']",
             "repository": ("[f'gcloud artifacts repositories delete {repository} --location={region} --project {project} --quiet']"
                            if repository else "[]")}
    return ("def teardown_commands(project, region, zone, repository, services):\n"
            f"    return {' + '.join(steps[s] for s in order)}\n")


def test_the_teardown_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("teardown-answer", teardown_answer()) is None


@pytest.mark.parametrize("answer,said", [
    (teardown_answer(quiet=""), "Add --quiet to the cluster's delete"),
    (teardown_answer(order=("cluster", "services", "repository")), "Delete the Service web before the cluster"),
    (teardown_answer(repository=False), "does not delete the repository course (stored images are billed)"),
], ids=["no --quiet", "the Service after the cluster", "the repository left"])
def test_typical_teardown_mistakes_fail_with_the_rule_named(answer, said) -> None:
    assert_fails_naming("teardown-answer", answer, said)


# ---- 5: Autopilot or Standard ----------------------------------------------------------------------------
MODE = '''
def choose_mode(needs):
    standard = {standard!r}
    autopilot = ["pay_per_pod", "no_node_management"]
    hard = {order}(n for n in standard if needs[n])
    if hard:
        return {{"mode": "Standard", "reasons": {reasons}}}
    return {{"mode": {default!r}, "reasons": sorted(n for n in autopilot if needs[n])}}
'''
MODE_RIGHT = {"standard": ["privileged_pods", "node_ssh", "machine_type", "node_image", "node_daemonsets"], "order": "sorted",
              "reasons": "hard", "default": "Autopilot"}


def mode_answer(**wrong) -> str:
    return MODE.format(**{**MODE_RIGHT, **wrong})


def test_the_mode_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("mode-answer", mode_answer()) is None


@pytest.mark.parametrize("wrong,said", [
    ({"standard": MODE_RIGHT["standard"] + ["gpus"]}, "gpus never decides: both modes run GPU workloads"),
    ({"default": "Standard"}, "No need here is one only Standard meets: Autopilot"),
    ({"order": "list"}, "expected ['node_daemonsets', 'privileged_pods'], got ['privileged_pods', 'node_daemonsets']"),
    ({"reasons": "sorted(hard + [n for n in autopilot if needs[n]])"}, "those are the reasons, sorted"),
], ids=["GPUs only on Standard", "Standard by default", "reasons unsorted", "preferences among the reasons"])
def test_typical_mode_mistakes_fail_with_the_rule_named(wrong, said) -> None:
    assert_fails_naming("mode-answer", mode_answer(**wrong), said)


# ---- the library ----------------------------------------------------------------------------------------
def test_targets_are_real_places_and_another_seed_gives_others() -> None:
    first, again, other = (practice_deploy.deploy_targets(seed, 4) for seed in (1, 1, 2))
    assert first == again and first != other
    for place in first + other:
        assert place["region"] in practice_deploy.REGIONS and place["zone"].rsplit("-", 1)[0] == place["region"]
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", place["project"]) and place["services"]


def test_the_cost_rules_follow_gkes_pricing() -> None:
    prices = practice_deploy.PRICES
    zonal = {"mode": "Standard", "location": "zonal", "machine_type": "e2-medium", "nodes": 3, "load_balancers": 1}
    assert practice_deploy.cost_reference(zonal, prices).parts["cluster_fee"] == 0.0   # the free tier covers one zonal fee
    dearer = dict(prices, cluster_fee_per_hour=0.15)
    assert practice_deploy.cost_reference(zonal, dearer).parts["cluster_fee"] == round(0.15 * 730 - 74.40, 2)
    regional = dict(zonal, location="regional")
    assert practice_deploy.cost_reference(regional, prices).parts["compute"] == round(9 * 0.033503 * 730, 2)
    pod = {"mode": "Autopilot", "pods": [{"cpu": 0.5, "memory_gib": 1.0, "replicas": 2}], "load_balancers": 0}
    assert practice_deploy.cost_reference(pod, prices).parts == {
        "cluster_fee": 0.0, "compute": round(2 * (0.5 * 0.0445 + 1.0 * 0.0049225) * 730, 2), "load_balancers": 0.0,
        "total": round(2 * (0.5 * 0.0445 + 1.0 * 0.0049225) * 730, 2)}
    shapes = [shape for shape, _ in practice_deploy.cost_examples(1, 150, vary_prices=True)]
    assert {s["mode"] for s in shapes} == {"Standard", "Autopilot"} and {s.get("location") for s in shapes} >= {"zonal", "regional"}


def test_the_exercise_agrees_with_the_lessons_estimate_without_boot_disks() -> None:
    from labkit import gke_costs

    for shape, prices in practice_deploy.cost_examples(0, 40):
        if shape["mode"] == "Standard":
            lesson = gke_costs.standard_estimate(shape["nodes"], shape["machine_type"], regional=shape["location"] == "regional",
                                                 boot_disk_gb=0, load_balancers=shape["load_balancers"])
        else:
            pods = [(p["cpu"], p["memory_gib"]) for p in shape["pods"] for _ in range(p["replicas"])]
            lesson = gke_costs.autopilot_estimate(pods, load_balancers=shape["load_balancers"])
        assert abs(practice_deploy.cost_reference(shape, prices).parts["total"] - lesson.per_month) < 0.02, shape


def test_standard_needs_decide_and_gpus_never_do() -> None:
    combos = practice_deploy.every_need()
    assert len(combos) == 256 and len({json.dumps(c, sort_keys=True) for c in combos}) == 256
    for needs in combos:
        chosen = practice_deploy.mode_reference(needs)
        assert "gpus" not in chosen["reasons"] and chosen["reasons"] == sorted(chosen["reasons"])
        assert (chosen["mode"] == "Standard") == any(needs[k] for k, (mode, _) in practice_deploy.NEEDS.items() if mode == "Standard")


def test_the_rehearsal_refuses_in_the_api_servers_words() -> None:
    with practice_deploy.gke_cluster("shop-4711", "us-east1-c") as practice:
        hpa = {"apiVersion": "autoscaling/v9", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}}
        assert practice_deploy.refusal(practice, hpa, "the HPA", dry_run=True) == \
            'The cluster cannot take the HPA: the cluster serves no apiVersion "autoscaling/v9".'
        widget = {"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "web"}}
        assert 'no matches for kind "Widget" in version "v1"' in practice_deploy.refusal(practice, widget, "it")
        config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}, "data": {"a": "b"}}
        assert practice_deploy.refusal(practice, config, "it", dry_run=True) is None
        assert practice.core.list_namespaced_config_map("default", field_selector="metadata.name=web").items == []
        assert practice_deploy.refusal(practice, config, "it") is None
        assert "already exists" in practice_deploy.refusal(practice, config, "it")
        nodes = practice.core.list_node().items
        assert all(n.spec.provider_id.startswith("gce://shop-4711/us-east1-c/") for n in nodes) and len(nodes) == 3
