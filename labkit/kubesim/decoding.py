"""Decoding request bodies as the API server does: content types, YAML/JSON/protobuf, the
kind and apiVersion check, unknown fields and field validation.

Why its own module: every write verb decodes the same way, and the error texts here are the ones
kubectl shows learners, so they live in one place.
"""
from __future__ import annotations

import json
from typing import Any

import yaml

from . import conversion, errors, protobuf, schema
from .resources import Resource
from .routing import TABLE, Obj, Request, Target


class Decoder:
    """Body decoding for :class:`~.api.Api`."""

    def _wants_table(self, req: Request) -> bool:
        return TABLE in req.headers.get("accept", "").replace(" ", "")

    def _decode(self, req: Request, kinds: tuple[str, ...] = ("application/json", "application/yaml")) -> Any:
        ctype = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if not req.body:
            raise errors.bad_request("the request body is empty; a Kubernetes object was expected")
        if ctype == protobuf.CONTENT_TYPE and "application/json" in kinds:
            try:
                return protobuf.decode(req.body)
            except (protobuf.ProtobufError, ValueError, UnicodeDecodeError) as exc:
                raise errors.bad_request(f"the protobuf request body could not be decoded: {exc}") from None
        if ctype not in kinds and ctype not in ("", "*/*", "text/plain"):
            raise errors.unsupported_media(ctype, protobuf=ctype == protobuf.CONTENT_TYPE)
        text = req.body.decode("utf-8", errors="replace")
        try:
            if ctype.endswith("yaml") or ctype.endswith("+yaml"):
                docs = [d for d in yaml.safe_load_all(text) if d is not None]
                if len(docs) != 1:
                    raise errors.bad_request(f"expected one YAML document in the request body, found {len(docs)}")
                return docs[0]
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc.msg} "
                                     f"(line {exc.lineno} column {exc.colno})") from None
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
            raise errors.bad_request(f"error converting YAML to JSON: yaml: {first}") from None

    def _object_body(self, req: Request, t: Target,
                     kinds: tuple[str, ...] = ("application/json", "application/yaml")) -> Obj:
        obj = self._decode(req, kinds)
        res = t.res
        if not isinstance(obj, dict):
            raise errors.bad_request(f"couldn't get version/kind; json parse error: expected a JSON object, got {type(obj).__name__}")
        shown = t.view or res
        want_kind, want_api = (("Scale", "autoscaling/v1") if t.sub == "scale" else (shown.kind, shown.api_version))
        kind = obj.get("kind") or want_kind
        api = obj.get("apiVersion") or want_api
        if obj.get("kind") is not None and not isinstance(obj.get("kind"), str) or (
                obj.get("apiVersion") is not None and not isinstance(obj.get("apiVersion"), str)):
            raise errors.bad_request("couldn't get version/kind; json parse error: kind and apiVersion must be strings")
        if not isinstance(kind, str) or not isinstance(api, str):
            raise errors.bad_request("couldn't get version/kind; json parse error: kind and apiVersion must be strings")
        if api != want_api:
            raise errors.bad_request(f"the API version in the data ({api}) does not match the expected API version ({want_api})")
        if kind != want_kind:
            raise errors.bad_request(f'{kind} in version "{api.split("/")[-1]}" cannot be handled as a {want_kind}: '
                                     f'no kind "{kind}" is registered for version "{api}" in this endpoint')
        obj["kind"], obj["apiVersion"] = kind, api
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(f'{want_kind} in version "{want_api.split("/")[-1]}" cannot be handled as a {want_kind}: '
                                     f'json: cannot unmarshal {type(meta).__name__} into Go struct field {want_kind}.metadata of type v1.ObjectMeta')
        if t.view is not None and t.sub != "scale":
            self._decode_checks(req, t.view, obj)
            obj = conversion.to_storage(t.view.group, t.view.plural, t.view.version, obj)
        return obj

    def _decode_checks(self, req: Request, res: Resource, obj: Obj, kind: str | None = None) -> list[str]:
        """Unknown fields and JSON type errors, as decoding into the Go types finds them."""
        def_name = "io.k8s.api.autoscaling.v1.Scale" if kind == "Scale" else res.schema
        unknown, type_errors = schema.check(obj, def_name)
        kind = kind or res.kind
        version = (obj.get("apiVersion") or res.api_version).split("/")[-1]
        if type_errors:
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {type_errors[0]}')
        mode = req.query.get("fieldValidation", "Warn") or "Warn"
        if mode not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn" or "Strict", got "{mode}"')
        if unknown and mode == "Strict":
            text = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {text}')
        if unknown and mode == "Warn":
            return [f'unknown field "{u}"' for u in unknown]
        return []

