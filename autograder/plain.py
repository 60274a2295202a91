"""The plain-data codec: the only form in which values cross between the learner's kernel and the grader.

Why a codec of our own and not pickle or plain JSON: the grader must never run learner code to read a
value (pickle does), and must tell a list from a tuple, an int from a float and a dict with int keys
from one with str keys (JSON does not). Only None, bool, int, float, str, list and dict (of exactly
those types, never subclasses) cross; anything else is refused with a message naming where it sits.

Wire form (issue 15): JSON text in which null/true/false/int/float/str are themselves (floats always
read back as floats; NaN and Infinity allowed), a list is ``{"L": [items]}``, a dict is
``{"D": [[key, value], ...]}`` (keys: None/bool/int/float/str), an API object is
``{"API": "<class name>", "host": "http://127.0.0.1:PORT"}`` (evaluator side) or
``{"API": "<class name>", "socket": "<path>"}`` (sandbox side). Arguments (never answers) may also
hold tuples, ``{"T": [items]}``, with ``tuples=True`` on both ends: a test cell passes
``[("FROM", "python:3.12-slim"), ...]`` and the learner's function must receive what it would
receive under nbgrader. The codec itself never builds or
inspects API objects: ``encode``'s ``api(obj) -> marker | None`` and ``decode``'s
``api(marker) -> obj`` do (the agents supply them).

Choices where the contract is silent:
- Nesting: at most ``MAX_DEPTH = 100`` lists/dicts inside one another (the value itself is level 1);
  a cycle therefore fails as "nested deeper than 100 levels". Encoded text longer than
  ``MAX_BYTES`` (16 MiB; the text is ASCII, so characters are bytes) is refused, and so is a longer
  text given to ``decode``; ``encode(limit=...)`` lowers the bound (the manifest uses 1 MiB).
- An int JSON cannot write (over Python's int-to-str digit limit) is refused as not plain.
- ``decode`` accepts only the marker objects above: a bare JSON array, an object with other keys, a
  list or dict as a dict key, a repeated key inside a marker object are refused. Two pairs with equal
  keys in a dict marker keep the last (as ``dict(pairs)`` would).
- ``NotPlain`` carries ``path`` (``["pods"][3]``), ``type_name`` (``numpy.int64``) and ``hint``
  (``int(...)``) so each agent can word its own message; ``str(error)`` is a complete sentence.

This file is stdlib only and is also executed as text inside both kernels (see
``sandbox_agent.bootstrap`` and ``evaluator_agent.bootstrap``), registered as module
``_autograder_plain``: it must not import anything from the ``autograder`` package.
"""
from __future__ import annotations

import json
from typing import Any, Callable

__all__ = ["MAX_BYTES", "MAX_DEPTH", "NotPlain", "article", "decode", "describe_type", "encode", "map_api", "module_source"]

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
PLAIN_TYPES = "None, bool, int, float, str, list or dict"

_SCALARS = (type(None), bool, int, float, str)
_HINTS = {"tuple": "list(...)", "set": "sorted(...) or list(...)", "frozenset": "sorted(...) or list(...)",
          "bytes": "....decode()", "bytearray": "....decode()", "range": "list(...)",
          "dict_keys": "list(...)", "dict_values": "list(...)", "dict_items": "a dict or list(...)",
          "generator": "list(...)", "map": "list(...)", "filter": "list(...)", "zip": "list(...)"}


class NotPlain(ValueError):
    """A value (or a text) that is not plain data as the codec defines it; the message says where."""

    def __init__(self, message: str, path: str = "", type_name: str | None = None, hint: str = "", reason: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path
        self.type_name = type_name  # set when a value of a type that does not cross was found
        self.hint = hint
        self.reason = reason  # set when a plain value was still refused: too deep, too large, an int too long


def article(word: str) -> str:
    """``a tuple``, ``an object``: messages read as sentences."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def describe_type(value: Any) -> str:
    """The type as a learner would write it: ``tuple``, ``numpy.int64``, ``collections.OrderedDict``."""
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def _hint(value: Any) -> str:
    """How to turn a value of this kind into plain data, for the message (empty when we cannot say)."""
    cls = type(value)
    if cls.__name__ in _HINTS and cls.__module__ == "builtins":
        return _HINTS[cls.__name__]
    for base in (bool, int, float, str, list, dict):
        if isinstance(value, base):  # a subclass: IntEnum, OrderedDict, defaultdict, numpy.float64, ...
            return f"{base.__name__}(...)"
    module = (cls.__module__ or "").split(".")[0]
    if module == "numpy":
        kind = getattr(getattr(value, "dtype", None), "kind", "")
        if getattr(value, "ndim", 0):
            return "....tolist()"
        return {"b": "bool(...)", "i": "int(...)", "u": "int(...)", "f": "float(...)"}.get(kind, "....item()")
    return ""


def _path(path: list) -> str:
    """``["pods"][3]``: as the contract writes it (str keys in double quotes)."""
    return "".join(f"[{json.dumps(step, ensure_ascii=False) if type(step) is str else repr(step)}]" for step in path)


def _refuse(path: list, value: Any, name: str) -> NotPlain:
    type_name = describe_type(value)
    where = f"{name}{_path(path)}"
    return NotPlain(f"{where} is {article(type_name)}, not plain data ({PLAIN_TYPES})", _path(path), type_name, _hint(value))


def encode(value: Any, api: Callable[[Any], dict | None] | None = None, *, name: str = "the value",
           limit: int = MAX_BYTES, tuples: bool = False) -> str:
    """The codec text of ``value``; ``NotPlain`` naming the path (``name`` + ``["pods"][3]``) and type otherwise.

    ``api(obj)`` is asked about each value that is not plain data; a dict it returns is written as that
    API object's marker. The walk stops as soon as the text is sure to be over ``limit``.
    """
    size = [0]

    def walk(item: Any, path: list, depth: int) -> Any:
        cls = type(item)
        if cls in _SCALARS:
            size[0] += len(item) + 2 if cls is str else 1
            if size[0] > limit:
                raise NotPlain(f"{name} is larger than {limit} bytes when encoded", _path(path), reason=f"more than {limit} bytes")
            return item
        if cls is list or cls is dict or (cls is tuple and tuples):
            if depth >= MAX_DEPTH:
                raise NotPlain(f"{name}{_path(path)} is nested deeper than {MAX_DEPTH} levels (lists and dicts inside "
                               "one another)", _path(path), reason=f"lists or dicts nested deeper than {MAX_DEPTH} levels")
            size[0] += 8
            if cls is list or cls is tuple:
                return {"L" if cls is list else "T": [walk(x, path + [i], depth + 1) for i, x in enumerate(item)]}
            pairs = []
            for key, x in item.items():
                if type(key) not in _SCALARS:
                    error = _refuse(path, key, name)
                    raise NotPlain(f"{name}{_path(path)} has a key that is {article(error.type_name)} (keys must be None, bool, "
                                   "int, float or str)", _path(path), error.type_name, error.hint)
                size[0] += 3
                pairs.append([walk(key, path, depth + 1), walk(x, path + [key], depth + 1)])
            return {"D": pairs}
        marker = api(item) if api is not None else None
        if marker is None:
            raise _refuse(path, item, name)
        if type(marker) is not dict or type(marker.get("API")) is not str:
            raise NotPlain(f"{name}{_path(path)}: the API marker for a {describe_type(item)} is malformed", _path(path))
        return dict(marker)

    tree = walk(value, [], 0)
    try:
        text = json.dumps(tree, allow_nan=True, separators=(",", ":"))
    except ValueError as error:  # an int longer than Python's int-to-str digit limit
        raise NotPlain(f"{name} holds an int too long to write ({error})", reason="an int with too many digits") from None
    if len(text) > limit:
        raise NotPlain(f"{name} is larger than {limit} bytes when encoded ({len(text)} bytes)", reason=f"more than {limit} bytes")
    return text


def _pairs_hook(pairs: list) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise NotPlain("the text repeats a key inside one marker object")
    return result


def decode(text: str, api: Callable[[dict], Any] | None = None, *, limit: int = MAX_BYTES, tuples: bool = False) -> Any:
    """The value ``encode`` wrote, rebuilt from real builtins; ``NotPlain`` for any other text.

    ``api(marker)`` builds the object an API marker stands for; without it an API marker is refused.
    """
    if type(text) is not str:
        raise NotPlain(f"the codec reads text, not a {describe_type(text)}")
    if len(text) > limit:
        raise NotPlain(f"the text is longer than {limit} bytes ({len(text)})")
    try:
        tree = json.loads(text, object_pairs_hook=_pairs_hook)
    except NotPlain:
        raise
    except RecursionError:
        raise NotPlain(f"the text is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise NotPlain(f"the text is not the codec's JSON ({error})") from None

    def build(node: Any, depth: int) -> Any:
        cls = type(node)
        if cls in _SCALARS:
            return node
        if cls is not dict:
            raise NotPlain("the text has a bare JSON array (lists are written {\"L\": [...]})")
        if "API" in node:
            if set(node) not in ({"API", "host"}, {"API", "socket"}) or any(type(v) is not str for v in node.values()):
                raise NotPlain("the text has a malformed API marker")
            if api is None:
                raise NotPlain("the text holds an API object where only plain data is accepted")
            return api(dict(node))
        if depth >= MAX_DEPTH:
            raise NotPlain(f"the text is nested deeper than {MAX_DEPTH} levels")
        if list(node) == ["L"] and type(node["L"]) is list:
            return [build(x, depth + 1) for x in node["L"]]
        if tuples and list(node) == ["T"] and type(node["T"]) is list:
            return tuple(build(x, depth + 1) for x in node["T"])
        if list(node) == ["D"] and type(node["D"]) is list:
            result = {}
            for pair in node["D"]:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) not in _SCALARS:
                    raise NotPlain("a dict's pair in the text is not [key, value] with a None/bool/int/float/str key")
                result[pair[0]] = build(pair[1], depth + 1)
            return result
        raise NotPlain(f"the text has an object that is no marker (keys {sorted(node)[:5]})")

    return build(tree, 0)


class _Marker(dict):
    """An API marker held as a value while a text is rewritten (a dict subclass, so never mistaken for plain data)."""


def map_api(text: str, change: Callable[[dict], dict]) -> str:
    """The same codec text with each API marker replaced by ``change(marker)``.

    Why: the worker turns the evaluator's host markers into the sandbox's socket markers (one tunnel per
    cluster) without building any API object; everything else in the text is checked and kept as is.
    """
    value = decode(text, api=lambda marker: _Marker(change(dict(marker))), tuples=True)
    return encode(value, api=lambda obj: dict(obj) if type(obj) is _Marker else None, tuples=True)


_LOADER = '''exec(compile({source!r}, {filename!r}, "exec"), {{"__builtins__": __builtins__, "__name__": "_autograder_loader"}})
'''
_REGISTER = '''import sys, types
module = types.ModuleType({name!r})
module.__file__ = {filename!r}
sys.modules[{name!r}] = module
exec(compile({text!r}, {filename!r}, "exec"), module.__dict__)
'''


def module_source(name: str, text: str) -> str:
    """Code that, executed in a kernel, registers ``text`` as module ``name`` in ``sys.modules``.

    Why: the agents reach the kernels as source text (never as an importable path a submission could
    shadow), and running this code leaves no name behind in the namespace it runs in (the user's).
    """
    filename = f"<{name}>"
    return _LOADER.format(source=_REGISTER.format(name=name, filename=filename, text=text), filename=f"<load {name}>")
