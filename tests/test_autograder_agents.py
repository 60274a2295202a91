"""The grader's agents and their codec (issue 15): what may cross between the learner's kernel and the grader.

The codec tests are plain unit tests; the agent tests run each agent as the worker will (its
``bootstrap()`` text executed silently in a real ipykernel) and play the worker's part themselves:
a fake bridge server for the evaluator's proxies, a Unix-socket forwarder to a real
``labkit.kubesim`` cluster for tunnels.
"""
from __future__ import annotations

import collections
import enum
import json
import math

import pytest

from autograder import plain


# -- the codec ---------------------------------------------------------------------------------------------------

ROUND_TRIPS = [
    None, True, False, 0, -7, 2 ** 80, 1.0, -0.0, 1e16, 2.5e-300, "", "héllo\n\u2603", "\ud800",
    [], {}, [1, [2, [3]]], {"a": 1, 2: "b", None: [], True: {}, 1.5: 0.5},
    {"pods": [{"name": "web", "ready": True, "restarts": 0}], "cidr": "10.244.1.0/24"},
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=repr)
def test_plain_values_come_back_equal_and_of_the_same_builtin_types(value):
    back = plain.decode(plain.encode(value))
    assert back == value and _types(back) == _types(value)


def _types(value):
    if type(value) is list:
        return ["list", [_types(x) for x in value]]
    if type(value) is dict:
        return ["dict", [[_types(k), _types(v)] for k, v in value.items()]]
    return type(value).__name__


def test_ints_stay_ints_floats_stay_floats_and_nan_and_infinity_cross():
    back = plain.decode(plain.encode([1, 1.0, float("inf"), -float("inf"), float("nan")]))
    assert [type(x) for x in back] == [int, float, float, float, float]
    assert back[:4] == [1, 1.0, math.inf, -math.inf] and math.isnan(back[4])


def test_the_wire_form_is_the_contracts():
    assert json.loads(plain.encode({"a": [1, None]})) == {"D": [["a", {"L": [1, None]}]]}
    assert json.loads(plain.encode("x")) == "x"


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize("value, type_name, hint", [
    ((1, 2), "tuple", "list(...)"), ({1}, "set", "sorted(...) or list(...)"), (b"x", "bytes", "....decode()"),
    (Color.RED, f"{__name__}.Color", "int(...)"), (Name("a"), f"{__name__}.Name", "str(...)"),
    (collections.OrderedDict(), "collections.OrderedDict", "dict(...)"), (object(), "object", ""),
])
def test_anything_else_is_refused_naming_its_type_and_how_to_fix_it(value, type_name, hint):
    with pytest.raises(plain.NotPlain) as caught:
        plain.encode(value, name="result")
    assert (caught.value.type_name, caught.value.hint, caught.value.path) == (type_name, hint, "")
    assert str(caught.value).startswith(f"result is a {type_name}, not plain data")


def test_the_refusal_names_the_path_to_the_offending_value():
    with pytest.raises(plain.NotPlain) as caught:
        plain.encode({"pods": [1, 2, 3, (4,)]}, name="result")
    assert caught.value.path == "['pods'][3]" and str(caught.value).startswith("result['pods'][3] is a tuple")
    with pytest.raises(plain.NotPlain, match=r"has a key that is a tuple"):
        plain.encode({(1, 2): 3})


def test_numpy_values_are_refused_with_the_conversion_to_use():
    numpy = pytest.importorskip("numpy")
    for value, type_name, hint in [(numpy.int64(3), "numpy.int64", "int(...)"), (numpy.float64(0.5), "numpy.float64", "float(...)"),
                                   (numpy.arange(3), "numpy.ndarray", "....tolist()")]:
        with pytest.raises(plain.NotPlain) as caught:
            plain.encode([value])
        assert (caught.value.type_name, caught.value.hint, caught.value.path) == (type_name, hint, "[0]")


def test_nesting_is_limited_to_a_hundred_levels_and_a_cycle_is_refused():
    def nested(levels):
        value = []
        for _ in range(levels - 1):
            value = [value]
        return value
    assert plain.decode(plain.encode(nested(100))) == nested(100)
    with pytest.raises(plain.NotPlain, match="deeper than 100"):
        plain.encode(nested(101))
    cycle = []
    cycle.append(cycle)
    with pytest.raises(plain.NotPlain, match="deeper than 100"):
        plain.encode(cycle)
    deep_text = '{"L":[' * 101 + "]}" * 101
    with pytest.raises(plain.NotPlain, match="deeper than 100"):
        plain.decode(deep_text)
    with pytest.raises(plain.NotPlain):
        plain.decode('{"L":[' * 100_000 + "]}" * 100_000)


def test_size_is_limited_both_ways():
    with pytest.raises(plain.NotPlain, match="larger than"):
        plain.encode("x" * plain.MAX_BYTES)
    with pytest.raises(plain.NotPlain, match="larger than 100 bytes"):
        plain.encode(list(range(1000)), limit=100)
    with pytest.raises(plain.NotPlain, match="longer than"):
        plain.decode('"' + "x" * plain.MAX_BYTES + '"')


def test_an_int_too_long_to_write_is_refused_not_raised_as_valueerror():
    with pytest.raises(plain.NotPlain, match="too long"):
        plain.encode(10 ** 5000)


@pytest.mark.parametrize("text", [
    "[1, 2]", '{"x": 1}', '{"L": 1}', '{"D": [[1]]}', '{"D": [[{"L": []}, 1]]}', '{"L": [], "L": []}', "nope", "",
    '{"API": "CoreV1Api", "host": "http://127.0.0.1:1", "extra": "x"}', '{"API": "CoreV1Api", "host": 1}',
])
def test_decode_refuses_any_other_text(text):
    with pytest.raises(plain.NotPlain):
        plain.decode(text)


def test_decode_refuses_what_is_not_a_str():
    with pytest.raises(plain.NotPlain, match="not a bytes"):
        plain.decode(b"1")


def test_api_objects_cross_only_through_the_callables_given():
    class Api:
        pass

    marker = {"API": "CoreV1Api", "host": "http://127.0.0.1:8080"}
    text = plain.encode({"core": Api()}, api=lambda obj: marker if isinstance(obj, Api) else None)
    assert json.loads(text) == {"D": [["core", marker]]}
    with pytest.raises(plain.NotPlain, match="API object where only plain data"):
        plain.decode(text)
    seen = []
    assert plain.decode(text, api=lambda m: seen.append(m) or "built") == {"core": "built"}
    assert seen == [marker]
    with pytest.raises(plain.NotPlain, match="is a object"):
        plain.encode(object(), api=lambda obj: None)


def test_module_source_registers_a_module_and_leaves_no_name_behind():
    import sys

    namespace: dict = {}
    code = plain.module_source("_autograder_test_module", "X = 42\ndef f():\n    return X\n")
    try:
        exec(code, namespace)
        assert sys.modules["_autograder_test_module"].f() == 42
        assert set(namespace) == {"__builtins__"}
    finally:
        sys.modules.pop("_autograder_test_module", None)
