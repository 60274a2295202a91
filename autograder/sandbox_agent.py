"""The sandbox agent: what the worker asks the learner's kernel, and how the kernel answers.

Why an agent: the hidden tests run in a trusted evaluator (issue 15), so the learner's kernel only
ever answers two questions, "which names do you have?" (``manifest``) and "call this one with these
arguments" (``call``), and only plain data comes back. Nothing here is trusted by the grader: learner
code shares this process and may replace any of it; the worker treats every answer as untrusted and
the evaluator re-checks what it decodes.

**Loading (the worker):** a kernel the fork server started has the agent already (`zygote`, which
runs this same text once and gives each kernel its role's modules). Otherwise, right after the sandbox
kernel starts, execute the text returned by
``autograder.sandbox_agent.bootstrap()`` as one execute request with ``silent=True,
store_history=False``. That text registers, in this order, ``autograder/plain.py``'s text as module
``_autograder_plain`` and this file's text as module ``_autograder_agent`` (each via
``plain.module_source``); it leaves no name in the user namespace. Then, before each test cell,
start ``serve_code(path)``: one silent request during which the agent answers, as lines on the
Unix socket ``path`` (see ``serve``), first the worker's request for the names, then the cell's
calls. ``manifest_code()`` asks for the names as a request of its own. ``__import__`` returns the
registered module without any file lookup::

    __import__("_autograder_agent").manifest()
    __import__("_autograder_agent").serve(PATH)              # PATH: a Python str literal (repr)

A manifest (and a call made as a request of its own, ``call_code(name, payload)``: the same call
without a socket) publishes exactly one display_data whose bundle is ``{ANSWER_MIME:
json.dumps(answer)}``; the worker takes the last such output of the request and treats the
request's other outputs as the call's (``split_answer(outputs)`` does both on nbformat output
dicts; ``bridge_outputs`` writes the others as the bridge reply's ``outputs``).

Answers (issue 15 wire format), and the choices where it is silent:
- ``manifest()`` -> ``{"names": {name: {"kind": "callable"} | {"kind": "data", "value": codec text} |
  {"kind": "other", "type": str}}}``. Left out: names starting with ``_``, ``In Out get_ipython exit
  quit``, modules, and names IPython itself put there (``user_ns_hidden``, unchanged). Classes are
  callables. For data that is not plain the type says where: ``"list whose [3] is a numpy.int64"``.
- ``call(name, payload)`` -> ``{"ok": codec text}`` | ``{"raised": {"type", "builtin", "message",
  "traceback"}}`` | ``{"not_plain": message}`` | ``{"missing": message}``. ``builtin`` is true when the
  exception's class is the builtins module's class of that name (a learner's own ``ValueError``
  class is not); when it is not, an extra key ``builtin_base`` names the nearest builtin class it
  derives from (so ``expect_raises(ValueError, ...)`` still catches a learner's ``class BadSize(ValueError)``,
  as under nbgrader). ``message`` is ``str(exc)``; ``traceback`` is the learner's frames only. A payload
  the agent cannot read is answered ``raised`` RuntimeError "the grader sent a call ..." (a grader
  bug, never a learner's). The call text in messages shows API arguments by their usual names
  (``core`` for a CoreV1Api, ``apps``, ``api_client``).
- Tunnels: a ``{"API": cls, "socket": path}`` marker becomes ``kubernetes.client.<cls>`` on an
  ``ApiClient`` whose host is ``http://127.0.0.1:PORT``, a port this agent serves (one per socket
  path, for the kernel's life) and forwards, connection by connection, to the Unix socket ``path``.
"""
from __future__ import annotations

import builtins
import json
import re
import socket
import sys
import threading
import traceback
import types
from pathlib import Path
from typing import Any

plain = sys.modules.get("_autograder_plain")
if plain is None:  # imported as autograder.sandbox_agent (the worker, tests), not executed in a kernel
    from autograder import plain

ANSWER_MIME = "application/vnd.autograder.answer+json"
MANIFEST_DATA_LIMIT = 1024 * 1024
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit"}
_PLAIN = "plain data (None, bool, int, float, str, list or dict)"


def bootstrap() -> str:
    """The text the worker executes (silently) in a fresh sandbox kernel: the codec, then this agent.

    A kernel forked by the fork server has both already (`zygote`, which runs this same text once)."""
    here = Path(__file__).resolve().parent
    return (plain.module_source("_autograder_plain", (here / "plain.py").read_text())
            + plain.module_source("_autograder_agent", (here / "sandbox_agent.py").read_text()))


def manifest_code() -> str:
    """The code of the worker's manifest request (execute it silently)."""
    return '__import__("_autograder_agent").manifest()\n'


def call_code(name: str, payload: str) -> str:
    """The code of the worker's call request for ``name`` with ``payload`` (codec text with socket markers)."""
    return f'__import__("_autograder_agent").call({name!r}, {payload!r})\n'


def split_answer(outputs: list[dict]) -> tuple[dict | None, list[dict]]:
    """A request's outputs (nbformat dicts) -> (the last answer, or None if none could be read; the other outputs).

    Why here: the answer's mimetype and form belong to this module; the worker never copies an answer into
    the notebook, whether or not it could read it.
    """
    answer, rest = None, []
    for output in outputs:
        data = output.get("data") if output.get("output_type") == "display_data" else None
        if isinstance(data, dict) and ANSWER_MIME in data:
            try:
                parsed = json.loads(data[ANSWER_MIME]) if isinstance(data[ANSWER_MIME], str) else None
            except ValueError:
                parsed = None
            answer = parsed if type(parsed) is dict else None
        else:
            rest.append(output)
    return answer, rest


def bridge_outputs(outputs: list[dict]) -> list[dict]:
    """A call's other outputs (nbformat dicts, from ``split_answer``) in the bridge reply's form:
    ``{"stream": name, "text": str}`` and ``{"display": mimebundle}``; anything else is left out."""
    converted: list[dict] = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") in ("stdout", "stderr"):
            converted.append({"stream": output["name"], "text": output.get("text", "")})
        elif output.get("output_type") in ("display_data", "execute_result") and isinstance(output.get("data"), dict):
            converted.append({"display": output["data"]})
    return converted


def _publish(answer: dict) -> None:
    """The answer as the one display_data the worker looks for (after flushing the call's own output)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # a learner may have replaced the streams
            pass
    from IPython import get_ipython

    get_ipython().display_pub.publish(data={ANSWER_MIME: json.dumps(answer)}, metadata={})


def _user_ns() -> dict:
    from IPython import get_ipython

    return get_ipython().user_ns


def _describe_not_plain(value: Any, error: Any) -> str:
    """``a numpy.int64`` at the top, ``a list whose [3] is a numpy.int64`` further in, ``a list of ...`` when too big."""
    if error.reason:
        return f"{plain.article(plain.describe_type(value))} of {error.reason}"
    if not error.path:
        return plain.article(error.type_name)
    return f"{plain.article(plain.describe_type(value))} whose {error.path} is {plain.article(error.type_name)}"


def _entry(value: Any) -> dict:
    if callable(value):
        return {"kind": "callable"}
    try:
        return {"kind": "data", "value": plain.encode(value, limit=MANIFEST_DATA_LIMIT)}
    except plain.NotPlain as error:
        if error.reason:
            why = "nested too deep" if "deeper" in error.reason else "too large"
            return {"kind": "other", "type": f"{plain.describe_type(value)} ({why})"}
        return {"kind": "other", "type": _describe_not_plain(value, error).split(" ", 1)[1]}


def manifest() -> None:
    """Publish the user namespace's names, as the evaluator will bind them."""
    _publish(names())


def names() -> dict:
    """The user namespace's names, as the evaluator will bind them: ``{"names": {...}}``."""
    from IPython import get_ipython

    found = {}
    try:
        shell = get_ipython()
        hidden = shell.user_ns_hidden
        for name, value in list(shell.user_ns.items()):
            if type(name) is not str or name.startswith("_") or name in _IPYTHON_NAMES:
                continue
            if isinstance(value, types.ModuleType) or (name in hidden and hidden[name] is value):
                continue
            try:
                found[name] = _entry(value)
            except BaseException:  # learner code (a __call__ or property) must not stop the manifest
                found[name] = {"kind": "other", "type": plain.describe_type(value)}
    except BaseException:  # the namespace itself was tampered with: the names read so far
        pass
    return {"names": found}


# -- tunnels: an API object the evaluator handed over, rebuilt on a local port -----------------------------------

_ports: dict[str, int] = {}
_ports_lock = threading.Lock()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        for end in (source, target):
            try:
                end.close()
            except OSError:
                pass


def _connection_through(path: str) -> socket.socket:
    """A connection to the cluster behind the worker's Unix socket ``path``: the worker answers each
    connection with one it opened to the cluster, handed over as a file descriptor (SCM_RIGHTS)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        unix.connect(path)
        _, fds, _, _ = socket.recv_fds(unix, 1, 1)
    if not fds:
        raise OSError("the grader handed over no connection")
    return socket.socket(fileno=fds[0])


def _serve(listener: socket.socket, path: str) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = _connection_through(path)
        except OSError:
            conn.close()
            continue
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(a, b), daemon=True, name="autograder-tunnel").start()


def _tunnel_port(path: str) -> int:
    """A 127.0.0.1 port that forwards to the worker's Unix socket ``path`` (started once per path)."""
    with _ports_lock:
        if path not in _ports:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            threading.Thread(target=_serve, args=(listener, path), daemon=True, name="autograder-tunnel").start()
            _ports[path] = listener.getsockname()[1]
        return _ports[path]


def _short_name(class_name: str) -> str:
    """``CoreV1Api`` -> ``core``, ``RbacAuthorizationV1Api`` -> ``rbac_authorization``: the usual variable names."""
    stem = re.sub(r"(V\d+((alpha|beta)\d+)?)?Api$", "", class_name) or class_name
    return re.sub(r"(?<!^)([A-Z])", r"_\1", stem).lower() if class_name != "ApiClient" else "api_client"


def _api_builder(shown: dict) -> Any:
    def build(marker: dict) -> Any:
        if set(marker) != {"API", "socket"}:
            raise plain.NotPlain("an API marker in the sandbox must name a socket")
        import kubernetes.client

        name = marker["API"]
        cls = getattr(kubernetes.client, name, None)
        if not isinstance(cls, type) or not (name == "ApiClient" or (name.endswith("Api") and cls.__module__.startswith("kubernetes.client.api."))):
            raise plain.NotPlain(f"{name} is not an API class of the official client")
        configuration = kubernetes.client.Configuration()
        configuration.host = f"http://127.0.0.1:{_tunnel_port(marker['socket'])}"
        api_client = kubernetes.client.ApiClient(configuration)
        obj = api_client if name == "ApiClient" else cls(api_client)
        shown[id(obj)] = _short_name(name)
        return obj
    return build


def _call_text(name: str, args: list, kwargs: dict, shown: dict) -> str:
    def show(value: Any) -> str:
        text = shown.get(id(value)) or repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _raised(error: BaseException, skip_frames: int = 1) -> dict:
    cls = type(error)
    try:
        message = str(error)
    except BaseException:  # a learner's __str__ may raise
        message = "(its message could not be read)"
    tb = error.__traceback__
    for _ in range(skip_frames):
        tb = tb.tb_next if tb is not None else None
    try:
        text = "".join(traceback.format_exception(cls, error, tb))
    except BaseException:
        text = f"{cls.__name__}: {message}\n"
    raised = {"type": cls.__name__, "builtin": getattr(builtins, cls.__name__, None) is cls, "message": message, "traceback": text}
    if not raised["builtin"]:
        raised["builtin_base"] = next((c.__name__ for c in cls.__mro__ if getattr(builtins, c.__name__, None) is c), "BaseException")
    return {"raised": raised}


def _answer(name: str, payload: str) -> dict:
    shown: dict = {}
    try:
        arguments = plain.decode(payload, api=_api_builder(shown), tuples=True)
        if type(arguments) is not list or len(arguments) != 2 or type(arguments[0]) is not list or type(arguments[1]) is not dict \
                or any(type(k) is not str for k in arguments[1]):
            raise plain.NotPlain("the payload is not [args, kwargs]")
    except Exception as error:  # a grader bug, answered as such
        return {"raised": {"type": "RuntimeError", "builtin": True, "traceback": "",
                           "message": f"the grader sent a call the notebook's kernel could not read ({error})"}}
    args, kwargs = arguments
    function = _user_ns().get(name, _user_ns)
    if function is _user_ns:
        return {"missing": f"{name} is not defined in your notebook"}
    call = _call_text(name, args, kwargs, shown)
    try:
        result = function(*args, **kwargs)
    except BaseException as error:  # whatever the learner's function raises is its answer
        return _raised(error)
    try:
        return {"ok": plain.encode(result, name=call)}
    except plain.NotPlain as error:
        if error.reason:
            return {"not_plain": f"{call} returned {_describe_not_plain(result, error)}: the grader takes at most "
                                 f"{plain.MAX_BYTES // 1024 ** 2} MiB of {_PLAIN}, at most {plain.MAX_DEPTH} levels deep"}
        hint = f", e.g. {error.hint}" if error.hint else ""
        return {"not_plain": f"{call} returned {_describe_not_plain(result, error)}: return {_PLAIN}{hint}"}


def call(name: str, payload: str) -> None:
    """Call the learner's ``name`` with the payload's ``[args, kwargs]``; publish the answer."""
    try:
        answer = _answer(name, payload)
    except BaseException as error:  # e.g. a learner's repr() raised while wording a message
        answer = _raised(error, skip_frames=0)
    _publish(answer)


# --- serving calls over a socket (one session per test cell) ------------------------------

SERVE_OUTPUT_LIMIT = 8 * 1024 * 1024


class _Capture:
    """sys.stdout/sys.stderr during one served call: what the call prints, in order, as bridge outputs."""

    def __init__(self, name: str, chunks: list[dict], budget: list[int]) -> None:
        self.name, self.chunks, self.budget = name, chunks, budget
        self.encoding = "utf-8"

    def write(self, text: Any) -> int:
        text = str(text)
        if self.budget[0] > 0 and text:
            text = text[: self.budget[0]]
            self.budget[0] -= len(text)
            if self.chunks and self.chunks[-1]["stream"] == self.name:
                self.chunks[-1]["text"] += text
            else:
                self.chunks.append({"stream": self.name, "text": text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def serve_code(path: str) -> str:
    """The code of the worker's serve request for a test cell (execute it silently)."""
    return f'__import__("_autograder_agent").serve({path!r})\n'


def serve(path: str) -> None:
    """Answer the worker's calls on the Unix socket ``path`` until it closes the connection.

    Why: a call as its own execute request costs a round of kernel messages (about 8 ms on a
    busy machine, and a test cell may make dozens of calls); one request that serves every call of
    a test cell costs one. Each call runs here, in the kernel's main thread, as an execute request
    would run it; what it prints to sys.stdout/sys.stderr comes back with its answer, in order. A
    line in: ``{"name", "payload"}``; a line out: ``{"answer": ..., "outputs": [...]}``. The line
    ``{"op": "manifest"}`` asks for the names instead (the worker's first line, before the test
    cell runs): ``{"answer": names()}``, the same answer as ``manifest()`` publishes.
    """
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    reader = conn.makefile("rb")
    try:
        while True:
            line = reader.readline()
            if not line:
                return
            request = json.loads(line)
            if type(request) is dict and request.get("op") == "manifest":
                conn.sendall((json.dumps({"answer": names()}) + "\n").encode())
                continue
            chunks: list[dict] = []
            budget = [SERVE_OUTPUT_LIMIT]
            saved = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = _Capture("stdout", chunks, budget), _Capture("stderr", chunks, budget)
            try:
                answer = _answer(str(request.get("name")), str(request.get("payload")))
            except BaseException as error:  # e.g. a learner's repr() raised while wording a message
                answer = _raised(error, skip_frames=0)
            finally:
                sys.stdout, sys.stderr = saved
            conn.sendall((json.dumps({"answer": answer, "outputs": chunks}) + "\n").encode())
    finally:
        reader.close()
        conn.close()
