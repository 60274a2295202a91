"""The evaluator agent: the learner's names as proxies inside the trusted kernel that runs the tests.

Why: the test cells (visible and hidden) run in the evaluator, a kernel learner code never touches
(issue 15). They still call the learner's functions by name; this agent binds each such name to a
proxy that runs the call in the learner's kernel through the worker and hands back only plain data,
so a test's checks, seeds and hidden inputs never enter the learner's kernel, and nothing the learner
defines can replace the evaluator's own names (``checks``, ``expect_dict``, builtins).

**Loading (the worker):** a kernel the fork server started has the agent already (`zygote`, which
runs this same text once and gives each kernel its role's modules). Otherwise, right after the evaluator
kernel starts, execute the text returned by
``autograder.evaluator_agent.bootstrap()`` as one execute request with ``silent=True,
store_history=False``. That text registers, in this order, ``autograder/plain.py``'s text as module
``_autograder_plain`` and this file's text as module ``_autograder_evaluator`` (each via
``plain.module_source``) and installs the agent's AST watcher and its ``pre_run_cell`` hook; it leaves
no name in the user namespace. Before each test cell, hold the sandbox's latest manifest: the hook asks
for it over the bridge (``{"op": "manifest"}``, answered ``{"manifest": JSON text or null}``) and binds
it (``bind_pending``). A bind can also be its own silent request (``bind_code`` writes it)::

    __import__("_autograder_evaluator").bind(MANIFEST)   # MANIFEST: a Python str literal of the manifest's JSON text

The kernel's environment must hold ``AUTOGRADER_BRIDGE`` (the worker's Unix socket), read at each call.

Rules (issue 15), and the choices where it is silent:
- Evaluator's own names always win: a name is never bound if the builtins module has it, if IPython
  put it in the namespace, if any cell the evaluator ran assigned it at top level (seen by an AST
  watcher on every cell: assignments, ``def``, ``class``, imports, ``for``/``with``/``except``
  targets, ``global`` inside functions), or if it is in the namespace and is not the object this
  agent bound. Names starting with ``_`` and ones that are not identifiers are never bound.
- ``bind`` first removes the names it bound before (those still holding its objects), then binds
  the new manifest: callables as proxies (``LearnerFunction``), data decoded to builtins, others as
  ``Unusable`` placeholders whose every use (call, attribute, item, iteration, comparison, ``bool``,
  ``len``, arithmetic) raises the contract's TypeError; ``repr`` works, so a test can still print one.
- A proxy call sends ``{"op": "call", "name", "payload"}`` (payload: codec text of ``[args, kwargs]``,
  API objects as host markers) and re-emits the reply's outputs (``sys.stdout``/``sys.stderr``
  writes, displays via ``publish_display_data``) before acting on the answer: ``ok`` -> the decoded
  value; ``raised`` -> the builtin exception class with the message (a KeyError's message is
  ``str(KeyError)``, so its argument is rebuilt when it is a literal), with the learner's traceback
  as a note; a non-builtin or non-``Exception`` class (SystemExit, KeyboardInterrupt) ->
  ``LearnerError`` (for a learner's own class: a subclass of LearnerError named as it is and derived
  from its ``builtin_base`` too, when that is an Exception class other than an OSError one);
  ``not_plain`` -> AssertionError; ``missing`` -> NameError; ``failed`` or a reply it cannot read ->
  RuntimeError with that reason.
- An argument that is neither plain data nor an official-client API object (``kubernetes.client.*Api``
  or ``ApiClient``, exactly those classes) whose host is ``http://127.0.0.1:PORT`` is the test
  author's error: TypeError naming the argument and its type.
"""
from __future__ import annotations

import ast
import builtins
import json
import keyword
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

plain = sys.modules.get("_autograder_plain")
if plain is None:  # imported as autograder.evaluator_agent (the worker, tests), not executed in a kernel
    from autograder import plain

ANSWER_MIME = "application/vnd.autograder.answer+json"  # the sandbox's answers: never shown as the call's output
PLAIN_HELP = "the grader can only use functions and plain data (None, bool, int, float, str, list, dict)"
_LOCAL_HOST = re.compile(r"http://127\.0\.0\.1:\d{1,5}/?")
_REPLY_LIMIT = 4 * plain.MAX_BYTES  # an answer's text, escaped inside JSON, plus the call's outputs


def bootstrap() -> str:
    """The text the worker executes (silently) in a fresh evaluator kernel: the codec, this agent, `install()`."""
    return bootstrap_modules() + '__import__("_autograder_evaluator").install()\n'


def bootstrap_modules() -> str:
    """The part of `bootstrap` that registers the modules; the fork server runs it once (`zygote`) and
    calls `install()` in each evaluator kernel it starts, before the kernel answers any request."""
    here = Path(__file__).resolve().parent
    return (plain.module_source("_autograder_plain", (here / "plain.py").read_text())
            + plain.module_source("_autograder_evaluator", (here / "evaluator_agent.py").read_text()))


def bind_code(manifest_text: str) -> str:
    """The code of the worker's bind request before a test cell (execute it silently)."""
    return f'__import__("_autograder_evaluator").bind({manifest_text!r})\n'


class LearnerError(RuntimeError):
    """The learner's function raised an exception that is not one of Python's builtin ones."""


# -- calling the learner's kernel through the worker ---------------------------------------------------------------

def _api_marker(obj: Any) -> dict | None:
    """The host marker of an official-client API object, or None when ``obj`` is not one."""
    client = sys.modules.get("kubernetes.client")
    if client is None:  # never imported: obj cannot be one of its objects
        return None
    name = type(obj).__name__
    if type(obj) is client.ApiClient:
        api_client = obj
    elif name.endswith("Api") and getattr(client, name, None) is type(obj):
        api_client = getattr(obj, "api_client", None)
        if type(api_client) is not client.ApiClient:
            return None
    else:
        return None
    host = api_client.configuration.host
    if not isinstance(host, str) or not _LOCAL_HOST.fullmatch(host):
        raise TypeError(f"a {name} for {host!r} cannot be handed to your function: the grader hands over only "
                        "clusters on http://127.0.0.1:PORT (a test author's error)")
    return {"API": name, "host": host.rstrip("/")}


def _argument(path: str) -> str:
    """``[0][1]["x"]`` (a path in ``[args, kwargs]``) -> ``argument 2 (at ["x"])``; ``[1]["key"]`` -> ``argument key=``."""
    steps = re.findall(r"\[([^\]]*)\]", path)
    if len(steps) < 2:
        return "the arguments"
    where = f"argument {int(steps[1]) + 1}" if steps[0] == "0" else f"argument {steps[1][1:-1]}="
    rest = path.split("]", 2)[2] if path.count("]") > 2 else ""
    return f"{where} (at {rest})" if rest else where


def _read_line(conn: socket.socket) -> bytes:
    data = bytearray()
    while b"\n" not in data:
        chunk = conn.recv(1 << 20)
        if not chunk:
            break
        data += chunk
        if len(data) > _REPLY_LIMIT:
            raise RuntimeError("the grader's answer for this call was too large")
    return bytes(data).split(b"\n", 1)[0]


def _ask(request: dict) -> dict:
    """One bridge exchange; on KeyboardInterrupt (the cell's timeout) tell the worker to cancel, then re-raise."""
    path = os.environ.get("AUTOGRADER_BRIDGE")
    if not path:
        raise RuntimeError("the grader's bridge to your notebook's kernel is not set up (AUTOGRADER_BRIDGE)")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        try:
            conn.connect(path)
            conn.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(conn)
        except KeyboardInterrupt:
            try:
                conn.sendall(b'{"op": "cancel"}\n')
            except OSError:
                pass
            raise
        except OSError as error:
            raise RuntimeError(f"the grader's bridge to your notebook's kernel failed ({error.strerror or error})") from None
    finally:
        conn.close()
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if type(reply) is not dict:
        raise RuntimeError("the grader's bridge gave no answer for this call")
    return reply


def _emit(outputs: Any) -> None:
    """The call's output, where the learner's function wrote it: stderr stays stderr (nbgrader gives 0 for it)."""
    if type(outputs) is not list:
        return
    for output in outputs:
        if type(output) is not dict:
            continue
        if output.get("stream") in ("stdout", "stderr") and type(output.get("text")) is str:
            stream = sys.stdout if output["stream"] == "stdout" else sys.stderr
            stream.write(output["text"])
            stream.flush()
        elif type(output.get("display")) is dict:
            from IPython.display import publish_display_data

            bundle = {k: v for k, v in output["display"].items() if type(k) is str and k != ANSWER_MIME}
            if bundle:
                publish_display_data(data=bundle)


def _builtin_exception(info: dict) -> BaseException:
    message = info.get("message") if type(info.get("message")) is str else ""
    name = info.get("type") if type(info.get("type")) is str else "an exception"
    cls = getattr(builtins, name, None) if info.get("builtin") is True else None
    error: BaseException | None = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        argument: Any = message
        if cls is KeyError and len(message) < 10_000:  # str(KeyError('x')) is "'x'": rebuild the argument so it reads the same
            try:
                value = ast.literal_eval(message)
                argument = value if repr(value) == message else message
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                pass
        try:
            error = cls(argument)
        except Exception:  # a class that needs more arguments (UnicodeDecodeError, ExceptionGroup)
            error = None
    if error is None:
        error = _learner_class(name, info.get("builtin_base"))(
            f"your function raised {name}: {message}" if message else f"your function raised {name}")
    traceback_text = info.get("traceback")
    if type(traceback_text) is str and traceback_text:
        note = "Raised in your notebook:\n" + traceback_text.rstrip("\n")
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:  # Python 3.10
            error.__notes__ = [note]
    return error


def _learner_class(name: str, base_name: Any) -> type:
    """A LearnerError named as the learner's class that is also its nearest builtin base (a BadSize(ValueError)
    is still caught by ``except ValueError``, as under nbgrader); plain LearnerError when that cannot be built."""
    base = getattr(builtins, base_name, None) if type(base_name) is str else None
    if not (isinstance(base, type) and issubclass(base, Exception)) or not name.isidentifier():
        return LearnerError
    if issubclass(LearnerError, base):
        return type(name, (LearnerError,), {"__module__": "__main__"})
    try:
        return type(name, (LearnerError, base), {"__module__": "__main__"})
    except TypeError:  # an instance lay-out conflict (OSError's subclasses)
        return LearnerError


class LearnerFunction:
    """A name the learner's notebook defines as a function: calling it runs it there, on plain data."""

    def __init__(self, name: str):
        self.__name__ = self.__qualname__ = name

    def __repr__(self) -> str:
        return f"<function {self.__name__} (in your notebook)>"

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:  # positional-only: a test may pass self=...
        name = self.__name__
        try:
            payload = plain.encode([list(args), dict(kwargs)], api=_api_marker, name="the arguments", tuples=True)
        except plain.NotPlain as error:
            what = f"{plain.article(error.type_name)} as {_argument(error.path)}" if error.type_name else error.reason
            raise TypeError(f"{name}() cannot be given {what}: the grader passes only plain data (None, bool, int, float, "
                            "str, list, tuple, dict) and kubernetes API objects for a cluster on 127.0.0.1 (a test author's error)") from None
        reply = _ask({"op": "call", "name": name, "payload": payload})
        if "failed" in reply:
            raise RuntimeError(str(reply["failed"]))
        _emit(reply.get("outputs"))
        answer = reply.get("answer") if type(reply.get("answer")) is dict else {}
        if type(answer.get("ok")) is str:
            try:
                return plain.decode(answer["ok"])
            except plain.NotPlain as error:
                raise AssertionError(f"{name}(...) returned something the grader could not read ({error}): return "
                                     "plain data (None, bool, int, float, str, list or dict)") from None
        if type(answer.get("raised")) is dict:
            raise _builtin_exception(answer["raised"])
        if type(answer.get("not_plain")) is str:
            raise AssertionError(answer["not_plain"])
        if type(answer.get("missing")) is str:
            raise NameError(answer["missing"])
        raise RuntimeError(f"the grader got no usable answer from your notebook's kernel for {name}(...)")


class Unusable:
    """A learner name whose value cannot cross (not a function, not plain data): any use says why."""

    def __init__(self, name: str, type_name: str):
        object.__setattr__(self, "_message", f"{name} is {plain.article(type_name)} in your notebook; {PLAIN_HELP}")
        object.__setattr__(self, "_shown", f"<{name}: {plain.article(type_name)} in your notebook>")

    def __repr__(self) -> str:
        return object.__getattribute__(self, "_shown")

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(object.__getattribute__(self, "_message"))

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # IPython's display machinery probes _repr_html_ and the like
            raise AttributeError(attribute)
        raise TypeError(object.__getattribute__(self, "_message"))

    __call__ = __getitem__ = __setitem__ = __delitem__ = __iter__ = __len__ = __contains__ = __bool__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __setattr__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __floordiv__ = __mod__ = _refuse
    __int__ = __float__ = __index__ = __str__ = __format__ = __enter__ = _refuse


# -- which names are the evaluator's own ---------------------------------------------------------------------------

class _TopLevelStores(ast.NodeVisitor):
    """The names a cell binds in the namespace it runs in (not inside functions, classes, lambdas, comprehensions)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.names.add(node.id)

    def _scope(self, node: ast.AST) -> None:
        self.names.update(n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.names.add(node.name)
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._scope(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self.visit(node.iter)
        for condition in node.ifs:
            self.visit(condition)

    def visit_alias(self, node: ast.alias) -> None:
        if node.name != "*":
            self.names.add(node.asname or node.name.split(".")[0])

    def visit_MatchAs(self, node: ast.AST) -> None:
        if getattr(node, "name", None):
            self.names.add(node.name)
        self.generic_visit(node)

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.AST) -> None:
        if getattr(node, "rest", None):
            self.names.add(node.rest)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.names.add(node.name)
        self.generic_visit(node)


class _Watcher(ast.NodeTransformer):
    """Registered in the shell's ast_transformers: notes each cell's top-level names, changes nothing."""

    def visit(self, node: ast.AST) -> ast.AST:
        try:
            stores = _TopLevelStores()
            stores.visit(node)
            _own.update(stores.names)
        except Exception:  # a watcher that raised would be removed by IPython; never raise
            pass
        return node


_own: set[str] = set()
_bound: dict[str, Any] = {}


def install() -> None:
    """Start watching the cells the evaluator runs, and bind before each one (once per kernel)."""
    from IPython import get_ipython

    shell = get_ipython()
    if not any(isinstance(t, _Watcher) for t in shell.ast_transformers):
        shell.ast_transformers.append(_Watcher())
    if bind_pending not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", bind_pending)


def bind_pending(info: Any = None) -> None:
    """Before a cell: bind the manifest the worker holds for it, if any (``{"op": "manifest"}`` on the bridge).

    Why a hook and not a request of its own: a bind request costs a round of kernel messages for
    every test cell; asking the worker over the bridge costs one local socket exchange. IPython
    runs this hook before it transforms the cell (so before the watcher sees the cell's names, as a
    bind request did) and only for the cells the worker runs as the notebook's (never for silent
    requests). Never raises: a hook that raised would print into the test cell's output.
    """
    try:
        reply = _ask({"op": "manifest"})
    except Exception:  # no bridge (a kernel started by hand), or the worker went away: nothing to bind
        return
    if type(reply.get("manifest")) is str:
        try:
            bind(reply["manifest"])
        except Exception:
            pass


def _is_own(name: str, namespace: dict, hidden: dict) -> bool:
    """Called after the previous binding is removed, so any name still in the namespace is the evaluator's."""
    return name in _own or hasattr(builtins, name) or name in hidden or name in namespace


def _value(name: str, entry: Any) -> Any:
    kind = entry.get("kind") if type(entry) is dict else None
    if kind == "callable":
        return LearnerFunction(name)
    if kind == "data":
        try:
            return plain.decode(entry.get("value"))
        except plain.NotPlain:
            return Unusable(name, "value the grader could not read")
    type_name = entry.get("type") if type(entry) is dict and type(entry.get("type")) is str else "value of another kind"
    return Unusable(name, type_name)


def bind(manifest: str | dict) -> None:
    """Install the learner's names from the sandbox's manifest, replacing those bound before."""
    from IPython import get_ipython

    shell = get_ipython()
    namespace, hidden = shell.user_ns, shell.user_ns_hidden
    for name, value in list(_bound.items()):
        if name not in _own and namespace.get(name, _bound) is value:  # an evaluator cell may have bound the same object
            del namespace[name]
        del _bound[name]
    if isinstance(manifest, str):
        try:
            manifest = json.loads(manifest)
        except ValueError:
            manifest = {}
    names = manifest.get("names") if type(manifest) is dict else None
    for name, entry in (names.items() if type(names) is dict else ()):
        if type(name) is not str or not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") \
                or _is_own(name, namespace, hidden):
            continue
        value = _value(name, entry)
        namespace[name] = _bound[name] = value
