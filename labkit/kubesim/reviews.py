"""The review resources: questions the API server answers on create and never stores.

Why: ``kubectl auth can-i`` creates a SelfSubjectAccessReview, ``kubectl auth can-i --list`` a
SelfSubjectRulesReview, ``kubectl auth whoami`` a SelfSubjectReview, and a controller that checks
someone else's rights a SubjectAccessReview. Each is answered from the same RBAC authorizer that
guards requests (``rbac.py``), so the answer and what a request then meets agree. Which handler a
resource gets is data: its ``computed`` field in data/resources.yaml.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from . import errors, rbac
from .routing import Obj, Request, Response, Target, json_response


def answer(store: Any, req: Request, t: Target, obj: Obj) -> Response:
    """201 with `obj` and its status filled in by the resource's handler."""
    handler = HANDLERS[t.res.computed or ""]
    out = copy.deepcopy(obj)
    out["metadata"] = {key: value for key, value in (out.get("metadata") or {}).items()
                       if key in ("name", "namespace", "labels", "annotations")}
    out["metadata"]["creationTimestamp"] = None
    out["status"] = handler(store, rbac.requester(req.headers), out, t)
    return json_response(out, 201)


def _attributes(spec: Obj, namespace: str | None = None) -> rbac.Attributes:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource) == bool(non_resource):
        raise errors.bad_request("spec.resourceAttributes: exactly one of nonResourceAttributes or "
                                 "resourceAttributes must be specified")
    if non_resource:
        return rbac.Attributes(verb=non_resource.get("verb", ""), path=non_resource.get("path", ""))
    if namespace is not None and resource.get("namespace", "") != namespace:
        raise errors.bad_request("spec.resourceAttributes.namespace: Invalid value: "
                                 f'"{resource.get("namespace", "")}": must match metadata.namespace')
    return rbac.Attributes(verb=resource.get("verb", ""), group=resource.get("group", ""),
                           resource=resource.get("resource", ""), subresource=resource.get("subresource", ""),
                           namespace=resource.get("namespace", ""), name=resource.get("name", ""))


def _decision(store: Any, user: rbac.User, attrs: rbac.Attributes) -> Obj:
    decision = rbac.authorize(store, user, attrs)
    if user.admin and not decision.allowed:  # the admin needs no binding (rbac.py)
        return {"allowed": True}
    return {"allowed": decision.allowed, **({"reason": decision.reason} if decision.reason else {})}


def self_subject_access_review(store: Any, user: rbac.User, obj: Obj, t: Target) -> Obj:
    """May I? (``kubectl auth can-i VERB RESOURCE[/NAME] [--as USER]``)"""
    return _decision(store, user, _attributes(obj.get("spec") or {}))


def subject_access_review(store: Any, user: rbac.User, obj: Obj, t: Target) -> Obj:
    """May this user (spec.user, spec.groups) do it? Local: only in the URL's namespace."""
    spec = obj.get("spec") or {}
    if not spec.get("user") and not spec.get("groups"):
        raise errors.invalid("authorization.k8s.io", obj.get("kind", "SubjectAccessReview"), "", [{
            "reason": "FieldValueRequired", "field": "spec.user",
            "message": "Required value: at least one of user or group must be specified"}])
    subject = rbac.User(spec.get("user", ""), tuple(spec.get("groups") or ()))
    return _decision(store, subject, _attributes(spec, t.namespace if t.res.namespaced else None))


def self_subject_rules_review(store: Any, user: rbac.User, obj: Obj, t: Target) -> Obj:
    """Everything I may do in spec.namespace (``kubectl auth can-i --list``)."""
    namespace = (obj.get("spec") or {}).get("namespace", "")
    resource_rules, non_resource_rules = [], []
    for rule in rbac.rules_for(store, user, namespace):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": list(rule.get("verbs") or []), "nonResourceURLs": list(rule["nonResourceURLs"])})
        else:
            resource_rules.append({key: list(rule[key]) for key in ("verbs", "apiGroups", "resources", "resourceNames")
                                   if rule.get(key)})
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}


def self_subject_review(store: Any, user: rbac.User, obj: Obj, t: Target) -> Obj:
    """Who am I? (``kubectl auth whoami``)"""
    return {"userInfo": {"username": user.name, "groups": list(user.groups)}}


HANDLERS: dict[str, Callable[[Any, rbac.User, Obj, Target], Obj]] = {
    "selfSubjectAccessReview": self_subject_access_review,
    "subjectAccessReview": subject_access_review,
    "selfSubjectRulesReview": self_subject_rules_review,
    "selfSubjectReview": self_subject_review,
}
