"""A stand-in for autograder/plain.py (H-agent's), enough for tests/test_autograder_evaluator.py
until the real one is merged: the wire format of issue 15, few checks."""
import json
import math

MAX_BYTES = 16 * 1024 * 1024


class NotPlain(ValueError):
    pass


def _enc(value, api, path, depth):
    if depth > 100:
        raise NotPlain(f"{path} is nested deeper than 100")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value
    if kind is list:
        return {"L": [_enc(v, api, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}
    if kind is dict:
        items = []
        for k, v in value.items():
            if not (k is None or type(k) in (bool, int, float, str)):
                raise NotPlain(f"{path} has a key that is a {type(k).__name__}")
            items.append([k, _enc(v, api, f"{path}[{k!r}]", depth + 1)])
        return {"D": items}
    marker = api(value) if api is not None else None
    if marker is not None:
        return marker
    raise NotPlain(f"{path} is a {kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins"
                   else f"{path} is a {kind.__name__}")


def encode(value, api=None, path="result"):
    text = json.dumps(_enc(value, api, path, 0))
    if len(text) > MAX_BYTES:
        raise NotPlain(f"{path} is larger than {MAX_BYTES} bytes")
    return text


def _dec(node, api):
    if isinstance(node, dict):
        if "L" in node:
            return [_dec(v, api) for v in node["L"]]
        if "D" in node:
            return {k: _dec(v, api) for k, v in node["D"]}
        if "API" in node and api is not None:
            return api(node)
        raise NotPlain("an unknown marker")
    return node


def decode(text, api=None):
    if len(text) > MAX_BYTES:
        raise NotPlain("too large")
    return _dec(json.loads(text), api)


assert math.isnan(decode(encode(float("nan"))))
