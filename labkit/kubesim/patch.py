"""The four PATCH flavours of the Kubernetes API, applied to plain dicts.

- JSON merge patch (RFC 7386): ``kubectl label/annotate/scale``, ``--type merge``;
- strategic merge patch: client-side ``kubectl apply``, ``kubectl edit``, ``set image`` and every
  dict PATCH of the Python client; lists merge by the ``x-kubernetes-patch-merge-key`` of the
  schema, with the directives ``$patch``, ``$retainKeys``, ``$setElementOrder/<f>`` and
  ``$deleteFromPrimitiveList/<f>``;
- JSON patch (RFC 6902): ``--type json`` and list bodies of the Python client;
- server-side apply (``kubectl apply --server-side``): merge the applied configuration into the
  live object by list-map keys and drop what the same field manager applied before but no
  longer applies. Field ownership conflicts between managers are not modelled (always "won").
"""
from __future__ import annotations

import copy
from typing import Any

from . import schema as schemas


class PatchError(ValueError):
    """The patch document cannot be applied (the server answers 422 or 400)."""


def json_merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = json_merge(out.get(key), value)
    return out


def _list_meta(node: dict[str, Any] | None) -> tuple[str | None, list[str]]:
    """(merge key, strategies) of a list field's schema node."""
    if not node:
        return None, []
    strategy = node.get("x-kubernetes-patch-strategy", "")
    return node.get("x-kubernetes-patch-merge-key"), [s for s in strategy.split(",") if s]


def strategic_merge(original: Any, patch: Any, node: dict[str, Any] | None) -> Any:
    """Apply a strategic merge patch to ``original`` using schema ``node`` for list semantics."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    removals = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$deleteFromPrimitiveList/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = schemas.prop(node, key)
        if value is None:
            out.pop(key, None)
            continue
        if isinstance(value, list):
            out[key] = _merge_list(out.get(key), value, child)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value, child)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    for key, values in removals.items():
        if isinstance(out.get(key), list):
            out[key] = [v for v in out[key] if v not in values]
    for key, order in orders.items():
        if isinstance(out.get(key), list):
            out[key] = _reorder(out[key], order, _list_meta(schemas.prop(node, key))[0])
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _merge_list(original: Any, patch: list[Any], node: dict[str, Any] | None) -> list[Any]:
    key, strategies = _list_meta(node)
    original = original if isinstance(original, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if "merge" not in strategies:
        return copy.deepcopy(patch)
    if not key:  # a merged list of primitives: union, patch order last
        out = list(original)
        for item in patch:
            if item not in out:
                out.append(copy.deepcopy(item))
        return out
    item_node = schemas.items(node)
    out = [copy.deepcopy(i) for i in original]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"strategic merge patch: list item {item!r} has no merge key {key!r}")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next((n for n, cur in enumerate(out)
                      if isinstance(cur, dict) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                out.pop(index)
            continue
        if index is None:
            out.append(strategic_merge({}, item, item_node))
        else:
            out[index] = strategic_merge(out[index], item, item_node)
    return out


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item
    wanted = [ident(o) for o in order]
    ranked = [i for w in wanted for i in items if ident(i) == w]
    return ranked + [i for i in items if ident(i) not in wanted]


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, dict):
            if part not in doc:
                raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
            doc = doc[part]
        elif isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                raise PatchError(f"unable to access invalid index: {part}") from None
        else:
            raise PatchError(f"doc is missing path: /{'/'.join(parts)}")
    return doc


def json_patch(doc: Any, operations: list[Any]) -> Any:
    """RFC 6902 ``add/remove/replace/move/copy/test`` on a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("invalid JSON patch operation: each needs \"op\" and \"path\"")
        kind, parts = op["op"], _pointer(op["path"])
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f'missing value for "{kind}" operation')
        if kind == "test":
            if _walk(doc, parts) != op["value"]:
                raise PatchError(f"testing value {op['path']} failed")
            continue
        if kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, parts, value, replace=False)
        elif kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op["value"]), replace=False)
        elif kind == "replace":
            _walk(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            doc = _remove(doc, parts)
        else:
            raise PatchError(f'unexpected operation "{kind}"')
    return doc


def _add(doc: Any, parts: list[str], value: Any, replace: bool) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError:
                raise PatchError(f"unable to access invalid index: {last}") from None
            if index < 0 or index > len(parent) or (replace and index == len(parent)):
                raise PatchError(f"add operation does not apply: doc is missing path: /{'/'.join(parts)}")
            if replace:
                parent[index] = value
            else:
                parent.insert(index, value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, list):
            parent.pop(int(last))
        else:
            raise KeyError(last)
    except (KeyError, ValueError, IndexError):
        raise PatchError(f"remove operation does not apply: doc is missing path: /{'/'.join(parts)}") from None
    return doc


def _list_keys(node: dict[str, Any] | None) -> list[str]:
    if not node:
        return []
    keys = node.get("x-kubernetes-list-map-keys")
    if keys:
        return list(keys)
    merge = node.get("x-kubernetes-patch-merge-key")
    return [merge] if merge else []


def apply_merge(live: Any, applied: Any, node: dict[str, Any] | None) -> Any:
    """Server-side apply: merge ``applied`` into ``live`` (maps recursively, list-maps by key)."""
    if isinstance(applied, dict) and isinstance(live, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = apply_merge(live.get(key), value, schemas.prop(node, key))
        return out
    if isinstance(applied, list) and isinstance(live, list):
        keys = _list_keys(node)
        resolved = schemas.resolve(node) if node and "$ref" in node else node
        set_list = (resolved or {}).get("x-kubernetes-list-type") == "set"
        if keys and all(isinstance(i, dict) for i in applied):
            item_node = schemas.items(node)
            out = [copy.deepcopy(i) for i in live]
            for item in applied:
                present = [k for k in keys if k in item]  # a key left out (to be defaulted) matches any
                index = next((n for n, cur in enumerate(out)
                              if isinstance(cur, dict) and all(cur.get(k) == item[k] for k in present)), None)
                if index is None:
                    out.append(copy.deepcopy(item))
                else:
                    out[index] = apply_merge(out[index], item, item_node)
            return out
        if set_list:
            return list(live) + [copy.deepcopy(i) for i in applied if i not in live]
    return copy.deepcopy(applied)


def apply_remove(live: Any, before: Any, now: Any, node: dict[str, Any] | None) -> Any:
    """Drop from ``live`` what one manager applied ``before`` but no longer applies ``now``."""
    if isinstance(live, dict) and isinstance(before, dict):
        now = now if isinstance(now, dict) else {}
        out = dict(live)
        for key, old in before.items():
            if key not in now:
                out.pop(key, None)
            elif key in out:
                out[key] = apply_remove(out[key], old, now[key], schemas.prop(node, key))
        return out
    if isinstance(live, list) and isinstance(before, list) and isinstance(now, list):
        keys = _list_keys(node)
        if keys:
            def ident(i: Any) -> Any:
                return tuple(i.get(k) for k in keys) if isinstance(i, dict) else None
            gone = {ident(i) for i in before} - {ident(i) for i in now}
            now_by = {ident(i): i for i in now}
            before_by = {ident(i): i for i in before}
            item_node = schemas.items(node)
            out = []
            for item in live:
                key = ident(item)
                if key in gone:
                    continue
                if key in now_by and key in before_by:
                    item = apply_remove(item, before_by[key], now_by[key], item_node)
                out.append(item)
            return out
    return live
