"""Assignment 5 (scaling and availability): its tests catch cheats and say what to fix.

For each graded exercise a "cheat" returns, as a literal, what the reference solution returns for the
visible examples (a lookup of every visible call): it must pass the visible test and fail the full one
(the hidden tests use other seeds, sizes, behaviors, names and zones). Objects equal to anything fail even
the visible tests. Typical mistakes fail the visible test with a message that names the rule; those run the
setup cell, the answer and the visible part of the test cell in this process (the same code as in the
notebook, without a kernel), so that many mistakes cost little. The practice module behind it
(labkit.practice_scaling) is tested in test_practice_scaling.py.
"""
from __future__ import annotations


import pytest

from assignment_runner import (InProcess, anything_class, assert_hidden_tests_catch, assert_visible_tests_refuse, graded_cells,
                               run_with as run_assignment)
from conftest import REPO_ROOT

ASSIGNMENT = REPO_ROOT / "source" / "05-scaling-and-availability" / "scaling-and-availability.ipynb"
TESTS = ["hpa-test", "behavior-test", "rollout-test", "budget-test", "spread-test"]
FUNCTIONS = {"hpa-answer": "hpa_replicas", "behavior-answer": "replicas_over_time", "rollout-answer": "rollout_bounds",
             "budget-answer": "disruption_budget", "spread-answer": "spread_deployment"}
SIGNATURES = {"hpa-answer": "current_replicas, pods, target_utilization",
              "behavior-answer": "current, recommendations, min_replicas, max_replicas, behavior",
              "rollout-answer": "replicas, max_surge, max_unavailable",
              "budget-answer": "name, app, replicas, must_serve",
              "spread-answer": "name, replicas, zones"}


IN_PROCESS = InProcess(ASSIGNMENT, FUNCTIONS, SIGNATURES)
CELLS = IN_PROCESS.cells
_setup, _answer_namespace = IN_PROCESS.setup, IN_PROCESS.answer_namespace
visible_error, visible_calls, lookup_cheat = IN_PROCESS.visible_error, IN_PROCESS.visible_calls, IN_PROCESS.lookup_cheat


@pytest.fixture(scope="module")
def hard_coded() -> dict[str, str]:
    solutions = _answer_namespace("budget-answer")
    exec(CELLS["spread-answer"], solutions)
    budget = solutions["disruption_budget"]("web-pdb", "web", 5, 3)
    spread = solutions["spread_deployment"]("web", 7, ["europe-west1-b", "europe-west1-c", "europe-west1-d"])
    return {
        "hpa-answer": lookup_cheat("hpa-answer"),
        "behavior-answer": lookup_cheat("behavior-answer"),
        "rollout-answer": lookup_cheat("rollout-answer"),
        "budget-answer": f"def disruption_budget(name, app, replicas, must_serve):\n    return {budget!r}\n",
        "spread-answer": f"def spread_deployment(name, replicas, zones):\n    return {spread!r}\n",
    }


ANYTHING = anything_class()
EQUAL_TO_ANYTHING = {answer: ANYTHING + f"def {FUNCTIONS[answer]}({SIGNATURES[answer]}):\n    return _Anything()\n"
                     for answer in FUNCTIONS}


def run_with(answers: dict[str, str], visible_only: bool) -> tuple[dict[str, bool], dict[str, str]]:
    return run_assignment(ASSIGNMENT, answers, visible_only, timeout=600)


def test_the_assignment_has_five_graded_cells_with_points() -> None:
    graded = graded_cells(ASSIGNMENT)
    assert [g["grade_id"] for g in graded] == TESTS
    assert all(g["points"] > 0 and g["locked"] for g in graded)
    assert sum(g["points"] for g in graded) == 16
    assert "Points: 16 in all" in CELLS["intro"]
    for test in TESTS:  # the question says its points
        intro = CELLS[test.replace("-test", "-intro")]
        points = next(g["points"] for g in graded if g["grade_id"] == test)
        assert f"({points} points)" in intro.splitlines()[0], test


def test_every_answer_cell_has_a_small_solution_region() -> None:
    for answer in FUNCTIONS:
        source = CELLS[answer]
        assert source.count("### BEGIN SOLUTION") == 1 and source.count("### END SOLUTION") == 1, answer
        assert source.startswith(f"def {FUNCTIONS[answer]}("), answer
    for test in TESTS:
        assert CELLS[test].count("### BEGIN HIDDEN TESTS") == 1 and CELLS[test].count("### END HIDDEN TESTS") == 1, test


def test_the_solutions_pass_every_test() -> None:
    passed, errors = run_with({}, visible_only=False)
    assert passed == {test: True for test in TESTS}, errors


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones(hard_coded) -> None:
    assert_hidden_tests_catch(ASSIGNMENT, hard_coded, timeout=600)


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    assert_visible_tests_refuse(ASSIGNMENT, EQUAL_TO_ANYTHING, timeout=600)


# ---- typical mistakes ----------------------------------------------------------------------------------
HPA = '''
def hpa_replicas(current_replicas, pods, target_utilization):
    counted, missing, unready = [], [], []
    for pod in pods:
        if {left_out}:
            continue
        if pod["phase"] == "Pending":
            unready.append(pod)
        elif pod["cpu_usage_m"] is None:
            missing.append(pod)
        elif {unready_test}:
            unready.append(pod)
        else:
            counted.append(pod)

    def ratio_of(usages):
        return ({percent}) / target_utilization

    def within(ratio):
        return {within}

    usages = [(p["cpu_usage_m"], p["cpu_request_m"]) for p in counted]
    ratio = ratio_of(usages)
    if {first_pass_only} or (not missing and not (unready and ratio > 1)):
        return current_replicas if within(ratio) else math.ceil(ratio * {n})
    for p in missing:
        if ratio < 1:
            usages.append(({missing_down}, p["cpu_request_m"]))
        elif ratio > 1:
            usages.append((0, p["cpu_request_m"]))
    if ratio > 1:
        usages += [(0, p["cpu_request_m"]) for p in unready]
    new_ratio = ratio_of(usages)
    if within(new_ratio) or ratio < 1 < new_ratio or ratio > 1 > new_ratio:
        return current_replicas
    proposal = math.ceil(new_ratio * len(usages))
    if (new_ratio < 1 and proposal > current_replicas) or (new_ratio > 1 and proposal < current_replicas):
        return current_replicas
    return proposal
'''
HPA_RIGHT = {"left_out": 'pod["deleting"] or pod["phase"] == "Failed"', "unready_test": 'not pod["ready"]',
             "percent": "sum(u for u, _ in usages) * 100 // sum(r for _, r in usages)",
             "within": "1.0 - 0.1 <= ratio <= 1.0 + 0.1", "first_pass_only": "False", "n": "len(usages)",
             "missing_down": 'p["cpu_request_m"] * max(100, target_utilization) // 100'}


def hpa_answer(**wrong: str) -> str:
    return HPA.format(**{**HPA_RIGHT, **wrong})


def test_the_mistake_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("hpa-answer", hpa_answer()) is None


@pytest.mark.parametrize("wrong,said", [
    ({"within": "False"}, "is within the tolerance, both ends included"),
    ({"within": "abs(ratio - 1) <= 0.1"}, "abs(ratio - 1) <= 0.1 gets 1.1 wrong in floating point"),
    ({"percent": "sum(u for u, _ in usages) * 100 / sum(r for _, r in usages)"}, "(integer division, truncated), not 33.3 %"),
    ({"n": "current_replicas"}, "not by current_replicas"),
    ({"first_pass_only": "True"}, "The two without count as 0 % when scaling up"),
    ({"unready_test": "False"}, "The pod not ready counts as 0 % when scaling up"),
    ({"left_out": "False"}, "Failed pods and pods being deleted are left out"),
    ({"missing_down": 'p["cpu_request_m"]'}, "% of request (scale down)"),
], ids=["no tolerance", "abs tolerance", "float percent", "current replicas", "missing ignored", "unready counted",
        "failed and deleting counted", "missing at 100 %"])
def test_typical_hpa_mistakes_fail_with_the_rule_named(wrong, said) -> None:
    error = visible_error("hpa-answer", hpa_answer(**wrong))
    assert error is not None and error.startswith("AssertionError") and said in error, error


OVER_TIME = '''
def replicas_over_time(current, recommendations, min_replicas, max_replicas, behavior):
    defaults = {{"scaleUp": {{"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{{"type": "Pods", "value": 4, "periodSeconds": 15}},
                                         {{"type": "Percent", "value": 100, "periodSeconds": 15}}]}},
                "scaleDown": {{"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                              "policies": [{{"type": "Percent", "value": 100, "periodSeconds": 15}}]}}}}
    rules = {{way: {{**defaults[way], **(behavior.get(way) or {{}})}} for way in defaults}}
    history, rescales, counts = [], [], []
    for now, recommended in recommendations:
        if not history and {record_first}:
            history.append((now, current))
        up, down = rules["scaleUp"], rules["scaleDown"]
        floor = min([recommended] + [r for t, r in history if t {newer} now - up["stabilizationWindowSeconds"]])
        ceiling = max([recommended] + [r for t, r in history if t {newer} now - down["stabilizationWindowSeconds"]])
        history.append((now, recommended))
        wanted = {wanted}
        new = current
        if wanted != current:
            growing = wanted > current
            way = up if growing else down
            allowed = []
            for policy in way["policies"]:
                start = {start}
                if policy["type"] == "Pods":
                    allowed.append(start + policy["value"] if growing else start - policy["value"])
                elif growing:
                    allowed.append(math.ceil(start * (1 + policy["value"] / 100)))
                else:
                    allowed.append(int(start * (1 - policy["value"] / 100)))
            if way["selectPolicy"] == "Disabled":
                limit = current
            elif growing:
                limit = ({pick_up} if way["selectPolicy"] == "Max" else min)(allowed)
            else:
                limit = (min if way["selectPolicy"] == "Max" else max)(allowed)
            if growing:
                new = min(wanted, {up_limit}, max_replicas)
            else:
                new = max(wanted, min(limit, current), min_replicas)
        if new != current:
            rescales.append((now, new - current))
            current = new
        counts.append(current)
    return counts
'''
OVER_TIME_RIGHT = {"record_first": "True", "newer": ">", "wanted": "min(max(current, floor), ceiling)",
                   "start": 'current - sum(change for t, change in rescales if t > now - policy["periodSeconds"])',
                   "pick_up": "max", "up_limit": "max(limit, current)"}


def over_time_answer(**wrong: str) -> str:
    return OVER_TIME.format(**{**OVER_TIME_RIGHT, **wrong})


def test_the_over_time_template_is_the_solution_when_nothing_is_wrong() -> None:
    assert visible_error("behavior-answer", over_time_answer()) is None


@pytest.mark.parametrize("wrong,said", [
    ({"wanted": "recommended"}, "the scale-down stabilization window holds it"),
    ({"record_first": "False"}, "the count the HPA found at its first sync"),
    ({"up_limit": "wanted"}, "the scaleUp policies limit it"),
    ({"start": "current"}, "the count at the start of its period (pods added by rescales of the last periodSeconds"),
    ({"newer": ">="}, "expected 6, got 2. At this sync the stabilized count is 9: 2 brought between the floor 9"),
    ({"pick_up": "min"}, "selectPolicy picks among the policies (Max the largest)"),
], ids=["no stabilization", "no first record", "no rate limit", "period start ignored", "window includes its edge",
        "Max picks the smallest"])
def test_typical_over_time_mistakes_fail_with_the_rule_named(wrong, said) -> None:
    error = visible_error("behavior-answer", over_time_answer(**wrong))
    assert error is not None and error.startswith("AssertionError") and said in error, error


ROLLOUT = '''
def rollout_bounds(replicas, max_surge, max_unavailable):
    def pods(value, up):
        if isinstance(value, str):
            share = int(value[:-1]) * replicas / 100
            return {surge_round}(share) if up else {unavailable_round}(share)
        return value
    surge, unavailable = pods(max_surge, True), pods(max_unavailable, False)
    if {fencepost} and surge == 0 and unavailable == 0:
        unavailable = 1
    return {{"max_pods": replicas + surge, "min_available": replicas - unavailable}}
'''


def rollout_answer(surge_round="math.ceil", unavailable_round="math.floor", fencepost="True") -> str:
    return ROLLOUT.format(surge_round=surge_round, unavailable_round=unavailable_round, fencepost=fencepost)


def test_typical_rollout_mistakes_fail_with_the_rule_named() -> None:
    assert visible_error("rollout-answer", rollout_answer()) is None
    for answer, said in [(rollout_answer(surge_round="math.floor"), "a percentage of replicas rounds up"),
                         (rollout_answer(unavailable_round="math.ceil"), "a percentage rounds down"),
                         (rollout_answer(surge_round="round", unavailable_round="round"), "'max_pods']: expected 13, got 12"),
                         (rollout_answer(fencepost="False"), "If maxSurge and maxUnavailable both come to 0, maxUnavailable counts as 1")]:
        error = visible_error("rollout-answer", answer)
        assert error is not None and error.startswith("AssertionError") and said in error, error


def budget_answer(spec: str, selector: str = '{"matchLabels": {"app": app}}') -> str:
    return f'''
def disruption_budget(name, app, replicas, must_serve):
    return {{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {{"name": name}},
            "spec": {{{spec}, "selector": {selector}}}}}
'''


def test_the_budget_may_count_either_way() -> None:
    assert visible_error("budget-answer", budget_answer('"maxUnavailable": replicas - must_serve')) is None
    assert visible_error("budget-answer", budget_answer('"minAvailable": must_serve')) is None


@pytest.mark.parametrize("answer,said", [
    (budget_answer('"minAvailable": must_serve - 1'), "fewer than must_serve = 3: the budget let too many go at once"),
    (budget_answer('"maxUnavailable": must_serve'), "fewer than must_serve = 3: the budget let too many go at once"),
    (budget_answer('"minAvailable": replicas'), "did not finish in 300 s: the eviction was refused"),
    (budget_answer('"minAvailable": must_serve + 1'), "status.disruptionsAllowed of disruption_budget('web-pdb', 'web', 5, 3)"),
    (budget_answer('"minAvailable": must_serve', selector="{}"), "how many pods your budget web-pdb selects"),
    (budget_answer('"minAvailable": must_serve', selector='{"matchLabels": {"app": name}}'), "how many pods your budget web-pdb selects"),
], ids=["min available one short", "max unavailable is must serve", "min available all", "one too strict", "every pod",
        "selects by the budget's name"])
def test_typical_budget_mistakes_fail_with_the_rule_named(answer, said) -> None:
    error = visible_error("budget-answer", answer)
    assert error is not None and error.startswith("AssertionError") and said in error, error


def spread_answer(keys=("topology.kubernetes.io/zone", "kubernetes.io/hostname"), when="DoNotSchedule",
                  affinity="list(zones)") -> str:
    return f'''
def spread_deployment(name, replicas, zones):
    labels = {{"app": name}}
    spec = {{"topologySpreadConstraints": [{{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": {when!r},
                                            "labelSelector": {{"matchLabels": labels}}}} for key in {list(keys)!r}],
            "containers": [{{"name": "web", "image": WEB_IMAGE, "ports": [{{"containerPort": 8080}}]}}]}}
    if {affinity} is not None:
        spec["affinity"] = {{"nodeAffinity": {{"requiredDuringSchedulingIgnoredDuringExecution": {{"nodeSelectorTerms": [
            {{"matchExpressions": [{{"key": "topology.kubernetes.io/zone", "operator": "In", "values": {affinity}}}]}}]}}}}}}
    return {{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": name}},
            "spec": {{"replicas": replicas, "selector": {{"matchLabels": labels}},
                     "template": {{"metadata": {{"labels": labels}}, "spec": spec}}}}}}
'''


@pytest.mark.parametrize("answer,said", [
    (spread_answer(keys=("kubernetes.io/hostname",)), "are not spread over zones: add a topologySpreadConstraint"),
    (spread_answer(keys=("topology.kubernetes.io/zone",)), "are not spread over nodes: add a topologySpreadConstraint"),
    (spread_answer(when="ScheduleAnyway"), "ScheduleAnyway would only prefer the spread"),
    (spread_answer(affinity="None"), "the nodes the pods of spread_deployment('web', 7, ['europe-west1-b', 'europe-west1-c', "
                                     "'europe-west1-d']) may run on (their node affinity)"),
    (spread_answer(affinity="zones[:1]"), "Require (requiredDuringSchedulingIgnoredDuringExecution) a node whose "
                                          "topology.kubernetes.io/zone is In"),
], ids=["hostname only", "zone only", "schedule anyway", "no node affinity", "one zone only"])
def test_typical_spread_mistakes_fail_with_the_rule_named(answer, said) -> None:
    assert visible_error("spread-answer", spread_answer()) is None
    error = visible_error("spread-answer", answer)
    assert error is not None and error.startswith("AssertionError") and said in error, error


def test_the_messages_show_the_working_of_a_generated_case() -> None:
    """A mistake only generated cases catch is shown the controller's steps (labkit.autoscaling's working)."""
    error = visible_error("hpa-answer", hpa_answer(missing_down='p["cpu_request_m"]'))
    assert "generated case" in error and "How the controller gets there: first pass over" in error, error
