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
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager

from autograder import evaluator_agent, plain, sandbox_agent
from autograder.trusted_execute import hand_over


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
    ((x for x in []), "generator", "list(...)"),
])
def test_anything_else_is_refused_naming_its_type_and_how_to_fix_it(value, type_name, hint):
    with pytest.raises(plain.NotPlain) as caught:
        plain.encode(value, name="result")
    assert (caught.value.type_name, caught.value.hint, caught.value.path) == (type_name, hint, "")
    assert str(caught.value).startswith(f"result is {plain.article(type_name)}, not plain data")


def test_the_refusal_names_the_path_to_the_offending_value():
    with pytest.raises(plain.NotPlain) as caught:
        plain.encode({"pods": [1, 2, 3, (4,)]}, name="result")
    assert caught.value.path == '["pods"][3]' and str(caught.value).startswith('result["pods"][3] is a tuple')
    with pytest.raises(plain.NotPlain, match=r"has a key that is a tuple"):
        plain.encode({(1, 2): 3})


def test_numpy_values_are_refused_with_the_conversion_to_use():
    import numpy  # matplotlib, a course dependency, brings it
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
    with pytest.raises(plain.NotPlain, match="is an object"):
        plain.encode(object(), api=lambda obj: None)


def test_map_api_replaces_only_the_api_markers():
    text = plain.encode({"core": plain._Marker(API="CoreV1Api", host="http://127.0.0.1:80"), "n": [1, 2.0]},
                        api=lambda obj: dict(obj))
    changed = plain.map_api(text, lambda marker: {"API": marker["API"], "socket": "/k/t.sock"})
    assert json.loads(changed) == {"D": [["core", {"API": "CoreV1Api", "socket": "/k/t.sock"}], ["n", {"L": [1, 2.0]}]]}
    with pytest.raises(plain.NotPlain):
        plain.map_api('{"L": [1], "x": 2}', dict)


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


# -- the agents in real kernels --------------------------------------------------------------------------------------

ANSWER_MIME = "application/vnd.autograder.answer+json"


class Kernel:
    """A real ipykernel, run as the worker runs one: code in, outputs (nbformat-like dicts) out."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.blocking_client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, silent: bool = False, timeout: float = 60) -> list[dict]:
        outputs: list[dict] = []

        def hook(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if outputs and outputs[-1].get("name") == content["name"]:
                    outputs[-1]["text"] += content["text"]
                else:
                    outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
            elif kind in ("display_data", "execute_result"):
                outputs.append({"output_type": kind, "data": content["data"]})
            elif kind == "error":
                outputs.append({"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                                "traceback": "\n".join(content["traceback"])})

        self.kc.execute_interactive(code, silent=silent, store_history=not silent, output_hook=hook, timeout=timeout)
        return outputs

    def value(self, expression: str):
        """An expression's value, read back through its repr (test helper only)."""
        import ast

        outputs = self.run(f"print(repr(({expression})))")
        assert [o["output_type"] for o in outputs] == ["stream"], outputs
        return ast.literal_eval(outputs[0]["text"])

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _kernel_env(**extra: str) -> dict[str, str]:
    """The venv's interpreter with nothing of this worktree importable: the agents must work from their text alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(PYTHONSAFEPATH="1", **extra)
    return env


def answer_of(outputs: list[dict]) -> tuple[dict, list[dict]]:
    """What the worker does with a sandbox request's outputs: the last answer, and the rest as the call's output."""
    assert [o for o in outputs if ANSWER_MIME in o.get("data", {})][-1]["data"][ANSWER_MIME].startswith("{"), "a JSON string"
    answer, rest = sandbox_agent.split_answer(outputs)
    assert answer is not None, outputs
    return answer, rest


def test_bridge_outputs_are_streams_and_displays():
    assert sandbox_agent.bridge_outputs([
        {"output_type": "stream", "name": "stderr", "text": "careful"}, {"output_type": "display_data", "data": {"text/plain": "x"}},
        {"output_type": "error", "ename": "E", "evalue": "", "traceback": ""}]) == [{"stream": "stderr", "text": "careful"},
                                                                                   {"display": {"text/plain": "x"}}]


def test_split_answer_takes_the_last_answer_and_keeps_the_rest():
    def shown(data):
        return {"output_type": "display_data", "data": data}
    stream = {"output_type": "stream", "name": "stdout", "text": "hi"}
    outputs = [shown({ANSWER_MIME: '{"ok": "1"}'}), stream, shown({"text/plain": "x"}), shown({ANSWER_MIME: '{"ok": "2"}'})]
    assert sandbox_agent.split_answer(outputs) == ({"ok": "2"}, [stream, shown({"text/plain": "x"})])
    assert sandbox_agent.split_answer([stream, shown({ANSWER_MIME: "not json"})]) == (None, [stream])
    assert sandbox_agent.split_answer([shown({ANSWER_MIME: {"ok": "1"}})]) == (None, [])


@pytest.fixture(scope="module")
def short_dir():
    """Unix socket paths must stay under 108 bytes: pytest's tmp paths can be longer."""
    with tempfile.TemporaryDirectory(prefix="agents-", dir="/tmp") as path:
        yield Path(path)


@pytest.fixture(scope="module")
def sandbox(short_dir):
    work = short_dir / "work"
    work.mkdir()
    kernel = Kernel(work, _kernel_env())
    assert kernel.run(sandbox_agent.bootstrap(), silent=True) == []
    yield kernel
    kernel.stop()


def ask_manifest(sandbox: Kernel) -> dict:
    answer, rest = answer_of(sandbox.run(sandbox_agent.manifest_code(), silent=True))
    assert rest == []
    return answer


def ask_call(sandbox: Kernel, name: str, payload: str) -> tuple[dict, list[dict]]:
    return answer_of(sandbox.run(sandbox_agent.call_code(name, payload), silent=True))


def test_the_sandbox_bootstrap_registers_both_modules_and_leaves_the_namespace_alone(sandbox):
    assert ask_manifest(sandbox) == {"names": {}}
    assert sandbox.value("[k for k in get_ipython().user_ns if k not in get_ipython().user_ns_hidden]") == []
    assert sandbox.value('__import__("_autograder_agent").plain is __import__("sys").modules["_autograder_plain"]') is True


def test_the_manifest_lists_functions_plain_data_and_what_cannot_cross(sandbox):
    sandbox.run("import os, collections\n"
                "def m_fn(x):\n    return x\n"
                "class MClass:\n    pass\n"
                "m_data = {'a': [1, 2.5, None], 3: True}\n"
                "m_tuple = (1, 2)\n"
                "m_nested = [1, (2,)]\n"
                "m_ordered = collections.OrderedDict()\n"
                "m_big = 'x' * (1024 * 1024 + 1)\n"
                "m_deep = []\nm_deep.append(m_deep)\n"
                "_m_private = 1\n")
    names = ask_manifest(sandbox)["names"]
    m = {k: v for k, v in names.items() if k.startswith("m_") or k in ("MClass", "os", "collections", "_m_private")}
    assert "os" not in names and "_m_private" not in names
    assert m == {
        "m_fn": {"kind": "callable"}, "MClass": {"kind": "callable"},
        "m_data": {"kind": "data", "value": plain.encode({"a": [1, 2.5, None], 3: True})},
        "m_tuple": {"kind": "other", "type": "tuple"},
        "m_nested": {"kind": "other", "type": "list whose [1] is a tuple"},
        "m_ordered": {"kind": "other", "type": "collections.OrderedDict"},
        "m_big": {"kind": "other", "type": "str (too large)"},
        "m_deep": {"kind": "other", "type": "list (nested too deep)"},
    }


def test_a_call_answers_plain_data_and_its_output_stays_separate(sandbox):
    sandbox.run("import sys\n"
                "def c_add(a, b=0):\n    print('adding'); print('careful', file=sys.stderr)\n    return {'sum': a + b, 'args': [a, b]}\n")
    answer, rest = ask_call(sandbox, "c_add", plain.encode([[2], {"b": 3}]))
    assert plain.decode(answer["ok"]) == {"sum": 5, "args": [2, 3]}
    assert rest == [{"output_type": "stream", "name": "stdout", "text": "adding\n"},
                    {"output_type": "stream", "name": "stderr", "text": "careful\n"}]


def test_a_call_reports_what_the_function_raised(sandbox):
    sandbox.run("class CourseError(Exception):\n    pass\n"
                "class ValueError2(ValueError):\n    pass\n"
                "def r_value(n):\n    raise ValueError(f'bad {n}')\n"
                "def r_own():\n    raise CourseError('mine')\n"
                "def r_exit():\n    raise SystemExit(3)\n")
    answer, _ = ask_call(sandbox, "r_value", plain.encode([[7], {}]))
    raised = answer["raised"]
    assert (raised["type"], raised["builtin"], raised["message"]) == ("ValueError", True, "bad 7")
    assert "r_value" in raised["traceback"] and "raise ValueError" in raised["traceback"]
    assert "_answer" not in raised["traceback"], "the traceback shows the learner's frames only"
    own = ask_call(sandbox, "r_own", plain.encode([[], {}]))[0]["raised"]
    assert (own["type"], own["builtin"], own["builtin_base"]) == ("CourseError", False, "Exception")
    sandbox.run("def r_sub():\n    raise ValueError2('sub')\n")
    assert ask_call(sandbox, "r_sub", plain.encode([[], {}]))[0]["raised"]["builtin_base"] == "ValueError"
    assert ask_call(sandbox, "r_exit", plain.encode([[], {}]))[0]["raised"]["type"] == "SystemExit"
    assert ask_call(sandbox, "nowhere", plain.encode([[], {}]))[0] == {"missing": "nowhere is not defined in your notebook"}


def test_an_answer_that_is_not_plain_data_says_what_to_return(sandbox):
    sandbox.run("import collections\n"
                "def n_pair(a, b):\n    return (a, b)\n"
                "def n_deep():\n    return {'pods': [1, {2}]}\n"
                "def n_ordered():\n    return collections.OrderedDict(a=1)\n")
    assert ask_call(sandbox, "n_pair", plain.encode([[1, "x"], {}]))[0] == {
        "not_plain": "n_pair(1, 'x') returned a tuple: return plain data (None, bool, int, float, str, list or dict), e.g. list(...)"}
    assert ask_call(sandbox, "n_deep", plain.encode([[], {}]))[0] == {
        "not_plain": 'n_deep() returned a dict whose ["pods"][1] is a set: return plain data (None, bool, int, float, str, list or dict), '
                     "e.g. sorted(...) or list(...)"}
    assert ask_call(sandbox, "n_ordered", plain.encode([[], {}]))[0]["not_plain"].startswith(
        "n_ordered() returned a collections.OrderedDict: return plain data")


def test_the_contracts_numpy_example(sandbox):
    sandbox.run("import numpy\ndef how_many_fit(a, b, c):\n    return numpy.int64(a * b * c)\n")
    assert ask_call(sandbox, "how_many_fit", plain.encode([[16, 2, 1536], {}]))[0] == {
        "not_plain": "how_many_fit(16, 2, 1536) returned a numpy.int64: return plain data (None, bool, int, float, str, list or dict), "
                     "e.g. int(...)"}


def test_a_payload_the_sandbox_cannot_read_is_the_graders_error_not_the_learners(sandbox):
    raised = ask_call(sandbox, "c_add", '{"L": [1]}')[0]["raised"]
    assert raised["type"] == "RuntimeError" and raised["message"].startswith("the grader sent a call")


# -- the evaluator agent, over a bridge the test serves --------------------------------------------------------------

class FakeBridge:
    """The worker's bridge server, scripted: ``reply(request)`` answers each connection's one request line;
    a reply of None holds the call open and records the next line the proxy sends (a cancel). The
    evaluator's hook asks for a manifest as each cell starts: answered at once with ``pending`` (None:
    nothing to bind), as the worker does, and counted in ``manifests``, not in ``requests``."""

    def __init__(self, path: Path):
        self.requests: list[dict] = []
        self.manifests = 0
        self.pending: str | None = None
        self.after: list[bytes] = []
        self.reply = lambda request: {"failed": "no reply scripted"}
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            request = json.loads(lines.readline())
            if request == {"op": "manifest"}:
                self.manifests += 1
                pending, self.pending = self.pending, None
                conn.sendall(json.dumps({"manifest": pending}).encode() + b"\n")
                return
            self.requests.append(request)
            reply = self.reply(request)
            if reply is None:
                self.after.append(lines.readline())
                return
            conn.sendall(json.dumps(reply).encode() + b"\n")


@pytest.fixture(scope="module")
def bridge(short_dir):
    server = FakeBridge(short_dir / "bridge.sock")
    yield server
    server.listener.close()


@pytest.fixture(scope="module")
def evaluator(short_dir, bridge):
    cwd = short_dir / "evaluator"
    cwd.mkdir(mode=0o700)
    kernel = Kernel(cwd, _kernel_env(AUTOGRADER_BRIDGE=str(short_dir / "bridge.sock")))
    assert kernel.run(evaluator_agent.bootstrap(), silent=True) == []
    yield kernel
    kernel.stop()


def bind(evaluator: Kernel, names: dict) -> None:
    assert evaluator.run(evaluator_agent.bind_code(json.dumps({"names": names})), silent=True) == []


def data(value) -> dict:
    return {"kind": "data", "value": plain.encode(value)}


CALLABLE = {"kind": "callable"}
PLACEHOLDER = ("{} is a tuple in your notebook; the grader can only use functions and plain data "
               "(None, bool, int, float, str, list, dict)")


def test_the_evaluator_bootstrap_leaves_the_namespace_alone(evaluator):
    assert evaluator.value("[k for k in get_ipython().user_ns if k not in get_ipython().user_ns_hidden]") == []


def test_learner_names_are_bound_but_the_evaluators_own_always_win(evaluator):
    evaluator.run("checks = 'the evaluator s'\n")
    bind(evaluator, {"checks": CALLABLE, "len": CALLABLE, "b_fn": CALLABLE, "b_data": data({"a": [1, 2.5]}),
                     "b_tuple": {"kind": "other", "type": "tuple"}, "_b_private": data(1), "In": data(1), "get_ipython": data(2)})
    assert evaluator.value("checks, len([1, 2, 3]), b_data, type(b_data['a'][1]).__name__") == ("the evaluator s", 3, {"a": [1, 2.5]}, "float")
    assert evaluator.value("'_b_private' in globals(), callable(b_fn), type(get_ipython()).__name__") == (False, True, "ZMQInteractiveShell")
    for use in ("b_tuple.count(1)", "len(b_tuple)", "b_tuple[0]", "b_tuple == (1,)", "list(b_tuple)", "b_tuple()"):
        outputs = evaluator.run(use)
        assert [(o["output_type"], o.get("ename"), o.get("evalue")) for o in outputs] == [("error", "TypeError", PLACEHOLDER.format("b_tuple"))], use
    assert evaluator.value("repr(b_tuple)") == "<b_tuple: a tuple in your notebook>"


def test_rebinding_replaces_learner_names_and_never_a_name_an_evaluator_cell_assigned(evaluator):
    bind(evaluator, {"r_limit": data(3), "r_gone": data(1), "r_kept": data("x")})
    evaluator.run("r_limit = 3  # the same object as the learner's 3: only the cell's own assignment tells them apart")
    bind(evaluator, {"r_limit": data(0), "r_kept": data("y")})
    assert evaluator.value("r_limit, 'r_gone' in globals(), r_kept") == (3, False, "y")
    bind(evaluator, {f"r_{n}": data(0) for n in "abcdefghi"})
    evaluator.run("import json as r_a\nfrom os import path as r_b\nfor r_c in [2]: pass\ndef r_d(): global r_e\n"
                  "class r_f: pass\nwith open('/dev/null') as r_g: pass\ntry:\n    1/0\nexcept Exception as r_h: pass\n"
                  "match 0:\n    case r_i: pass\n"
                  "[r_x for r_x in [1]]\n(lambda: r_y)\n")
    bind(evaluator, {f"r_{n}": data(1) for n in "abcdefghixy"})
    assert evaluator.value("[n for n in 'abcdefghixy' if globals().get(f'r_{n}') == 1]") == ["x", "y"], \
        "every top-level binding is the evaluator's; names local to a comprehension or lambda are not"


def test_a_proxy_call_sends_plain_arguments_and_re_emits_the_calls_output(evaluator, bridge):
    bridge.reply = lambda request: {
        "outputs": [{"stream": "stdout", "text": "adding\n"}, {"stream": "stderr", "text": "careful\n"},
                    {"display": {"text/plain": "a picture", ANSWER_MIME: "{}"}}],
        "answer": {"ok": plain.encode({"sum": 5, "parts": [2, 3]})}}
    bind(evaluator, {"p_add": CALLABLE})
    outputs = evaluator.run("result = p_add(2, b=[3, None])\nresult, type(result).__name__")
    assert bridge.requests[-1] == {"op": "call", "name": "p_add", "payload": plain.encode([[2], {"b": [3, None]}])}
    assert outputs == [
        {"output_type": "stream", "name": "stdout", "text": "adding\n"},
        {"output_type": "stream", "name": "stderr", "text": "careful\n"},
        {"output_type": "display_data", "data": {"text/plain": "a picture"}},
        {"output_type": "execute_result", "data": {"text/plain": "({'sum': 5, 'parts': [2, 3]}, 'dict')"}},
    ]


RAISED = "Traceback (most recent call last):\n  File \"<cell>\", line 2, in p_x\nValueError: bad 7\n"


@pytest.mark.parametrize("reply, expected", [
    ({"answer": {"raised": {"type": "ValueError", "builtin": True, "message": "bad 7", "traceback": RAISED}}},
     ["ValueError", "bad 7", ["Raised in your notebook:\n" + RAISED.rstrip()]]),
    ({"answer": {"raised": {"type": "KeyError", "builtin": True, "message": "'web'", "traceback": ""}}}, ["KeyError", "'web'", []]),
    ({"answer": {"raised": {"type": "CourseError", "builtin": False, "message": "mine", "traceback": ""}}},
     ["LearnerError", "your function raised CourseError: mine", []]),
    ({"answer": {"raised": {"type": "BadSize", "builtin": False, "builtin_base": "ValueError", "message": "0", "traceback": ""}}},
     ["BadSize", "your function raised BadSize: 0", [], True]),
    ({"answer": {"raised": {"type": "SystemExit", "builtin": True, "message": "3", "traceback": ""}}},
     ["LearnerError", "your function raised SystemExit: 3", []]),
    ({"answer": {"raised": {"type": "print", "builtin": True, "message": "x", "traceback": ""}}},
     ["LearnerError", "your function raised print: x", []]),
    ({"answer": {"not_plain": "p_x() returned a tuple: return plain data"}}, ["AssertionError", "p_x() returned a tuple: return plain data", []]),
    ({"answer": {"missing": "p_x is not defined in your notebook"}}, ["NameError", "p_x is not defined in your notebook", []]),
    ({"answer": {"ok": "[1, 2]"}}, ["AssertionError", None, []]),
    ({"failed": "your notebook's kernel stopped (it ran out of time)"}, ["RuntimeError", "your notebook's kernel stopped (it ran out of time)", []]),
    ({"what": 1}, ["RuntimeError", "the grader got no usable answer from your notebook's kernel for p_x(...)", []]),
], ids=lambda v: str(v)[:40])
def test_each_answer_becomes_what_the_contract_says(evaluator, bridge, reply, expected):
    bridge.reply = lambda request: reply
    bind(evaluator, {"p_x": CALLABLE})
    evaluator.run("def _caught(f):\n    try:\n        f()\n    except BaseException as e:\n"
                  "        found = [type(e).__name__, str(e), getattr(e, '__notes__', [])]\n"
                  "        return found + [isinstance(e, ValueError)] if type(e).__name__ == 'BadSize' else found\n")
    got = evaluator.value("_caught(p_x)")
    if expected[1] is None:
        assert got[0] == expected[0] and got[1].startswith("p_x(...) returned something the grader could not read")
    else:
        assert got == expected


def test_arguments_are_plain_data_or_api_objects_for_a_local_cluster(evaluator, bridge):
    bridge.reply = lambda request: {"outputs": [], "answer": {"ok": "null"}}
    bind(evaluator, {"a_fn": CALLABLE})
    evaluator.run("from kubernetes import client as _k\n"
                  "a_fn(_k.CoreV1Api(_k.ApiClient(_k.Configuration(host='http://127.0.0.1:6443'))),\n"
                  "     apps=_k.AppsV1Api(_k.ApiClient(_k.Configuration(host='http://127.0.0.1:6443/'))), api=_k.ApiClient(_k.Configuration(host='http://127.0.0.1:1')))")
    assert plain.decode(bridge.requests[-1]["payload"], api=lambda marker: marker) == [
        [{"API": "CoreV1Api", "host": "http://127.0.0.1:6443"}],
        {"apps": {"API": "AppsV1Api", "host": "http://127.0.0.1:6443"}, "api": {"API": "ApiClient", "host": "http://127.0.0.1:1"}}]
    sent = len(bridge.requests)
    for call, message in [
        ("a_fn(1, object())", "a_fn() cannot be given an object as argument 2: the grader passes only plain data"),
        ("a_fn(x={1})", "a_fn() cannot be given a set as argument x=: the grader passes only plain data"),
        ("a_fn([1, b'2'])", "a_fn() cannot be given a bytes as argument 1 (at [1]): the grader passes only plain data"),
        ("a_fn(_k.CoreV1Api(_k.ApiClient(_k.Configuration(host='https://example.invalid'))))",
         "a CoreV1Api for 'https://example.invalid' cannot be handed"),
    ]:
        outputs = evaluator.run(call)
        assert outputs[0]["ename"] == "TypeError" and outputs[0]["evalue"].startswith(message), outputs
    assert len(bridge.requests) == sent, "nothing is sent for arguments the grader refuses"


def test_an_interrupted_call_tells_the_worker_to_cancel(evaluator, bridge):
    bridge.reply = lambda request: None
    bind(evaluator, {"slow": CALLABLE})
    sent = len(bridge.requests)

    def interrupt_once_asked() -> None:
        deadline = time.monotonic() + 30
        while len(bridge.requests) == sent and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        evaluator.km.interrupt_kernel()

    threading.Thread(target=interrupt_once_asked, daemon=True).start()
    outputs = evaluator.run("slow()")
    assert outputs[-1]["ename"] == "KeyboardInterrupt"
    deadline = time.monotonic() + 10
    while not bridge.after and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads(bridge.after[-1]) == {"op": "cancel"}


# -- both agents together, the test playing the worker: a learner function on a real kubesim cluster ---------------

class Tunnels:
    """The worker's side of tunnels, on threads: one Unix socket in the slot's ``kernel/`` folder per cluster port,
    each connection answered as the worker answers it (`hand_over`)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.paths: dict[int, str] = {}

    def socket_for(self, host: str) -> str:
        port = int(host.rsplit(":", 1)[1])
        if port not in self.paths:
            path = str(self.folder / f"tunnel-{port}.sock")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            listener.listen(8)

            def serve() -> None:
                while True:
                    conn, _ = listener.accept()
                    threading.Thread(target=hand_over, args=(conn, port), daemon=True).start()
            threading.Thread(target=serve, daemon=True).start()
            self.paths[port] = path
        return self.paths[port]


def worker_reply(sandbox: Kernel, tunnels: Tunnels):
    """A bridge reply that does what the worker does: host markers to socket markers, the call in the sandbox."""
    def reply(request: dict) -> dict:
        payload = plain.map_api(request["payload"], lambda marker: {"API": marker["API"], "socket": tunnels.socket_for(marker["host"])})
        answer, rest = ask_call(sandbox, request["name"], payload)
        return {"outputs": sandbox_agent.bridge_outputs(rest), "answer": answer}
    return reply


def test_a_learner_function_reads_an_evaluator_cluster_through_a_tunnel(sandbox, evaluator, bridge, short_dir):
    (short_dir / "kernel").mkdir(exist_ok=True)
    bridge.reply = worker_reply(sandbox, Tunnels(short_dir / "kernel"))
    sandbox.run("import sys\n"
                "def t_nodes(core):\n"
                "    print('listing', file=sys.stderr)\n"
                "    return {n.metadata.name: n.spec.pod_cidr for n in core.list_node().items}\n")
    bind(evaluator, {k: v for k, v in ask_manifest(sandbox)["names"].items() if k.startswith("t_")})
    outputs = evaluator.run(
        "from labkit.practice_clusters import practice_cluster\n"
        "with practice_cluster(seed=4, workers=2, name='lab') as practice:\n"
        "    expected = {n['metadata']['name']: n['spec'].get('podCIDR') for n in practice.raw('/api/v1/nodes')['items']}\n"
        "    got = t_nodes(practice.core)\n"
        "    again = t_nodes(core=practice.core)\n"
        "print(got == expected == again, sorted(got))\n", timeout=120)
    assert outputs == [{"output_type": "stream", "name": "stderr", "text": "listing\nlisting\n"},
                       {"output_type": "stream", "name": "stdout", "text": "True ['lab-control-plane', 'lab-worker', 'lab-worker2']\n"}]


def test_arguments_may_hold_tuples_but_answers_may_not() -> None:
    """A test cell's `[("FROM", "python:3.12-slim"), ...]` reaches the learner's function as tuples, as
    under nbgrader; a tuple in an answer (or a tuple marker sent back by the sandbox) is refused."""
    steps = [("FROM", "python:3.12-slim"), ("COPY", ". .")]
    text = plain.encode([steps, {}], tuples=True)
    assert plain.decode(text, tuples=True) == [steps, {}]
    assert type(plain.decode(text, tuples=True)[0][0]) is tuple
    with pytest.raises(plain.NotPlain):
        plain.decode(text)
    with pytest.raises(plain.NotPlain):
        plain.encode(steps)


def serve_session(sandbox: Kernel, path: Path, lines: list[dict]) -> tuple[list[dict], list[dict]]:
    """What the worker does for a test cell: one serve request, then each line sent and its answer read;
    closing the connection ends the session. (The serve request's outputs, the answers.)"""
    import threading

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    replies: list[dict] = []

    def worker_side() -> None:
        conn, _ = listener.accept()
        answers = conn.makefile("rb")
        for line in lines:
            conn.sendall((json.dumps(line) + "\n").encode())
            replies.append(json.loads(answers.readline()))
        conn.close()  # the end of the test cell: serve returns

    thread = threading.Thread(target=worker_side)
    thread.start()
    outputs = sandbox.run(sandbox_agent.serve_code(str(path)), silent=True)
    thread.join(10)
    listener.close()
    return outputs, replies


def test_serve_answers_every_call_of_a_session_with_its_output_in_order(sandbox, short_dir):
    """What the worker does for a test cell: one serve request, then calls as lines on a socket."""
    sandbox.run("import sys\n"
                "def s_twice(x):\n    print('out'); print('err', file=sys.stderr); print('out again')\n    return x * 2\n"
                "def s_fail():\n    raise KeyError('k')\n")
    outputs, replies = serve_session(sandbox, short_dir / "calls.sock", [
        {"name": name, "payload": plain.encode([args, {}])} for name, args in (("s_twice", [21]), ("s_fail", []), ("s_missing", []))])
    assert outputs == [], "a session prints nothing of its own"
    twice, fail, missing = replies
    assert plain.decode(twice["answer"]["ok"]) == 42
    assert twice["outputs"] == [{"stream": "stdout", "text": "out\n"}, {"stream": "stderr", "text": "err\n"},
                                {"stream": "stdout", "text": "out again\n"}]
    assert fail["answer"]["raised"]["type"] == "KeyError" and fail["outputs"] == []
    assert "s_missing is not defined" in missing["answer"]["missing"]
    assert sandbox.value("type(__import__('sys').stdout).__name__") != "_Capture", "the streams are given back"


def test_a_session_answers_the_manifest_first_as_the_manifest_request_would(sandbox, short_dir):
    """The worker's first line in a test cell's session asks for the names: the same answer as `manifest()`."""
    sandbox.run("def q_fn(x):\n    return x\nq_data = {'k': [1, 2]}\nq_tuple = (1,)\n")
    outputs, replies = serve_session(sandbox, short_dir / "manifest.sock",
                                     [{"op": "manifest"}, {"name": "q_fn", "payload": plain.encode([[7], {}])}])
    assert outputs == []
    names, call = replies
    assert names == {"answer": ask_manifest(sandbox)}
    assert {k: names["answer"]["names"][k] for k in ("q_fn", "q_data", "q_tuple")} == {
        "q_fn": CALLABLE, "q_data": data({"k": [1, 2]}), "q_tuple": {"kind": "other", "type": "tuple"}}
    assert plain.decode(call["answer"]["ok"]) == 7, "the session goes on serving the cell's calls"


def test_the_evaluator_binds_the_workers_pending_manifest_as_a_cell_starts(evaluator, bridge):
    """No bind request: the evaluator's pre_run_cell hook asks the bridge, once per cell the worker runs."""
    bridge.pending = json.dumps({"names": {"h_limit": data(4), "h_fn": CALLABLE}})
    before = bridge.manifests
    assert evaluator.run("'h_limit' in globals()", silent=True) == [] and bridge.pending is not None, \
        "a silent request (the grader's own) binds nothing"
    assert evaluator.value("h_limit, callable(h_fn)") == (4, True)
    assert bridge.manifests == before + 1 and bridge.pending is None
    assert evaluator.value("h_limit") == 4, "a cell with no manifest pending keeps the names bound"
    bridge.pending = json.dumps({"names": {"h_other": data(1)}})
    assert evaluator.value("'h_limit' in globals(), h_other") == (False, 1), "the next manifest replaces the last"


def test_the_workers_tunnel_hands_the_sandbox_a_connection_to_the_cluster(short_dir):
    """The worker's `Tunnels` answer a connection with one to the cluster's port, handed over (no relay)."""
    import asyncio

    from autograder.trusted_execute import Tunnels as WorkerTunnels

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    async def scenario() -> tuple[bytes, int]:
        tunnels = WorkerTunnels(short_dir)
        path = await tunnels.socket_for(f"http://127.0.0.1:{port}")
        try:
            handed = await asyncio.to_thread(sandbox_agent._connection_through, path)
            accepted, _ = await asyncio.to_thread(server.accept)
            with handed, accepted:
                handed.sendall(b"GET /api")
                got = await asyncio.to_thread(accepted.recv, 100)
                return got, handed.getpeername()[1]
        finally:
            tunnels.close()
            assert not Path(path).exists()

    try:
        got, peer = asyncio.run(scenario())
    finally:
        server.close()
    assert got == b"GET /api" and peer == port, "the sandbox's socket is connected to the cluster itself"
