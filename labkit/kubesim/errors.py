"""Kubernetes ``Status`` errors, worded as k8s.io/apimachinery/pkg/api/errors words them.

Why: kubectl and the Python client print ``message`` and branch on ``reason`` and ``code``;
learners compare what they see with real clusters and documentation, so the wording matters.
Every handler raises :class:`ApiError`; the HTTP layer turns it into a Status response.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the API server reports to the client as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def not_found(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', _details(name, group, plural))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists',
                    _details(name, group, plural))


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {why}',
                    _details(name, group, plural))


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def invalid(group: str, kind: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are ``{"reason", "message", "field"}`` as field.ErrorList makes them."""
    qualified = f"{kind}.{group}" if group else kind
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = _details(name, group, kind)
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    "the server does not allow this method on the requested resource")


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def unsupported_media(content_type: str, protobuf: bool = False) -> ApiError:
    """415: a body format we do not read (protobuf is read, except where only patches are accepted)."""
    return ApiError(415, "UnsupportedMediaType",
                    f'the body of the request was in an unknown format - accepted media types include: '
                    f'application/json, application/yaml, application/vnd.kubernetes.protobuf, '
                    f'application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json, '
                    f'application/strategic-merge-patch+json (got "{content_type}")')


def not_acceptable() -> ApiError:
    return ApiError(406, "NotAcceptable",
                    "only the following media types are accepted: application/json, application/yaml")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def cause(field: str, reason: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def field_invalid(field: str, value: Any, why: str) -> dict[str, str]:
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return cause(field, "FieldValueInvalid", f"Invalid value: {shown}: {why}")


def field_required(field: str, why: str = "") -> dict[str, str]:
    return cause(field, "FieldValueRequired", "Required value" + (f": {why}" if why else ""))


def field_unsupported(field: str, value: Any, allowed: list[str]) -> dict[str, str]:
    return cause(field, "FieldValueNotSupported",
                 f'Unsupported value: "{value}": supported values: ' + ", ".join(f'"{a}"' for a in allowed))


def field_forbidden(field: str, why: str) -> dict[str, str]:
    return cause(field, "FieldValueForbidden", f"Forbidden: {why}")


def field_too_long(field: str, limit: int) -> dict[str, str]:
    return cause(field, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")
