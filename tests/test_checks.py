import pytest

from labkit.checks import (
    expect_equal,
    expect_no_problems,
    expect_raises,
    expect_true,
    expect_type,
)


class AgreesWithEverything:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class TruthyAnswer:
    def __eq__(self, other):
        return "yes"  # truthy, but not True

    __hash__ = object.__hash__


def test_expect_equal_passes_on_equal_values():
    expect_equal(3, 3, "count")
    expect_equal([1, {"a": (2, 3)}], [1, {"a": (2, 3)}], "nested")


def test_expect_equal_message_names_both_values_and_hint():
    with pytest.raises(AssertionError) as info:
        expect_equal(4, 3, "number of pods", hint="Count the replicas.")
    assert str(info.value) == "number of pods: expected 3, got 4. Count the replicas."


def test_expect_equal_is_not_fooled_by_an_always_equal_object():
    with pytest.raises(AssertionError, match="expected a int"):
        expect_equal(AgreesWithEverything(), 3, "answer")


def test_expect_equal_is_not_fooled_inside_containers():
    with pytest.raises(AssertionError):
        expect_equal([AgreesWithEverything()], [1], "answer")
    with pytest.raises(AssertionError):
        expect_equal({"k": AgreesWithEverything()}, {"k": 1}, "answer")


def test_expect_equal_requires_a_real_true_from_eq():
    weird = TruthyAnswer()
    other = TruthyAnswer()
    with pytest.raises(AssertionError):
        expect_equal(weird, other, "answer")


def test_bool_and_int_are_different():
    with pytest.raises(AssertionError, match="expected a int \\(1\\), got a bool \\(True\\)"):
        expect_equal(True, 1, "flag")
    with pytest.raises(AssertionError):
        expect_equal(1, True, "flag")


def test_int_is_not_accepted_for_float():
    with pytest.raises(AssertionError, match="expected a float"):
        expect_equal(2, 2.0, "ratio")


def test_float_tolerance():
    expect_equal(0.1 + 0.2, 0.3, "sum", tolerance=1e-9)
    with pytest.raises(AssertionError, match="within 0.01"):
        expect_equal(0.35, 0.3, "sum", tolerance=0.01)
    with pytest.raises(AssertionError):
        expect_equal(0.1 + 0.2, 0.3, "sum")  # exact without tolerance
    with pytest.raises(AssertionError):
        expect_equal(float("nan"), float("nan"), "sum", tolerance=1.0)


def test_tolerance_applies_inside_lists():
    expect_equal([0.1 + 0.2], [0.3], "values", tolerance=1e-9)


def test_bad_tolerance_is_rejected():
    with pytest.raises(ValueError):
        expect_equal(1.0, 1.0, "x", tolerance=-1)


def test_expect_type_exact():
    expect_type([], list, "pods")
    expect_type(3, (int, float), "size")
    with pytest.raises(AssertionError) as info:
        expect_type(True, int, "count")
    assert str(info.value) == "count: expected a int, got a bool (True)."
    with pytest.raises(AssertionError, match="expected a int or float, got a str"):
        expect_type("3", (int, float), "size")


def test_expect_true_needs_real_true():
    expect_true(True, "fine")
    with pytest.raises(AssertionError, match="^The pod should be ready$"):
        expect_true(False, "The pod should be ready")
    with pytest.raises(AssertionError, match="got a list"):
        expect_true([1], "The pod should be ready")


def test_expect_no_problems_lists_each_problem():
    expect_no_problems([], "Your Dockerfile")
    with pytest.raises(AssertionError) as info:
        expect_no_problems(["no FROM line", "COPY before WORKDIR"], "Your Dockerfile")
    assert str(info.value) == (
        "Your Dockerfile has 2 problems:\n  • no FROM line\n  • COPY before WORKDIR"
    )
    with pytest.raises(AssertionError, match="has 1 problem:"):
        expect_no_problems(["x"], "It")
    with pytest.raises(AssertionError, match="expected a list"):
        expect_no_problems(None, "It")


def test_expect_raises():
    error = expect_raises(ValueError, int, "abc", what="int('abc')")
    assert isinstance(error, ValueError)
    with pytest.raises(AssertionError, match="returned 12"):
        expect_raises(ValueError, int, "12", what="int('12')")
    with pytest.raises(AssertionError, match="expected KeyError, but it raised ValueError"):
        expect_raises(KeyError, int, "abc", what="int('abc')")


def test_expect_raises_passes_keyword_arguments():
    def divide(a, b=1):
        return a / b

    expect_raises(ZeroDivisionError, divide, 1, b=0, what="divide")


def test_a_manifest_the_client_refuses_is_said_as_the_api_server_says_it() -> None:
    from kubernetes import client

    from labkit.checks import refusal_of_client
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
            "spec": {"replicaz": 1, "selector": {}, "template": {"spec": {"containers": [
                {"name": "c", "image": "nginx", "ports": [{"containerPort": "eighty"}]}]}}}}
    with pytest.raises(ValueError) as refused:
        client.AppsV1Api(client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))).create_namespaced_deployment("default", body)
    said = refusal_of_client(refused.value)
    assert 'unknown field "spec.replicaz"' in said
    assert "spec.template.spec.containers[0].ports[0].containerPort: Input should be a valid integer" in said
    assert refusal_of_client(RuntimeError("plain")) == "plain"
