"""Who is asking, and may they: the API server's authentication by impersonation and its RBAC authorizer.

Why its own module: lesson 4 asks "may this service account read that Secret?" and expects the
cluster's answer (``kubectl auth can-i ... --as=system:serviceaccount:default:web``, a request
refused with 403 Forbidden), so the emulator evaluates Roles, ClusterRoles and their bindings as
the RBAC authorizer does (plugin/pkg/auth/authorizer/rbac): a request is allowed when some binding
whose subjects include the user grants a rule that matches it; nothing else ever allows.

Who: a request with no ``Impersonate-User`` header is the kubeconfig's admin (kind's
``kubernetes-admin``, group ``kubeadm:cluster-admins``), who is always allowed: the emulator has
no credentials to check, and a learner who deletes the admin's binding keeps their cluster (a
real kind cluster would lock them out). A request that impersonates a user is that user, with the
groups it names; a service account's name (``system:serviceaccount:NS:NAME``) without groups gets
its account groups, and every user but ``system:anonymous`` is in ``system:authenticated``, as the
impersonation filter does. Only those impersonated requests are authorized.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from . import resources
from .errors import ApiError

Obj = dict[str, Any]
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    admin: bool = False  # the kubeconfig's own user: always allowed (see the module's docstring)


ADMIN = User("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated"), admin=True)


@dataclass(frozen=True)
class Attributes:
    """What a request does, as the authorizer sees it (k8s.io/apiserver's authorizer.Attributes)."""

    verb: str
    group: str = ""
    resource: str = ""  # "" for a non-resource request
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # a non-resource request's URL path

    @property
    def is_resource(self) -> bool:
        return bool(self.resource)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def requester(headers: dict[str, str]) -> User:
    """The user a request acts as: the admin, or whom its impersonation headers name."""
    name = (headers.get("impersonate-user") or "").strip()
    groups = [g.strip() for g in (headers.get("impersonate-group") or "").split(",") if g.strip()]
    if not name:
        if groups:
            raise ApiError(500, "InternalError", f"Internal error occurred: requested [{', '.join(groups)}] "
                           "without impersonating a user")
        return ADMIN
    return impersonated(name, groups)


def impersonated(name: str, groups: list[str] | tuple[str, ...] = ()) -> User:
    groups = list(groups)
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and not groups:
        namespace = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")[0]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    if name != "system:anonymous" and "system:authenticated" not in groups:
        groups.append("system:authenticated")
    return User(name, tuple(groups))


# ---- the RBAC authorizer -------------------------------------------------------------------

def authorize(store: Any, user: User, attrs: Attributes) -> Decision:
    """Allowed when a binding for `user` grants a rule matching `attrs`; the reason names the binding."""
    for binding, role_kind, role_name, subject, rules in _grants(store, user, attrs.namespace):
        if any(rule_matches(rule, attrs) for rule in rules):
            where = (f'RoleBinding "{binding["metadata"]["name"]}/{binding["metadata"].get("namespace", "")}"'
                     if binding["kind"] == "RoleBinding" else f'ClusterRoleBinding "{binding["metadata"]["name"]}"')
            return Decision(True, f'RBAC: allowed by {where} of {role_kind} "{role_name}" to {subject}')
    return Decision(False)


def rules_for(store: Any, user: User, namespace: str) -> list[Obj]:
    """Every rule that applies to `user` in `namespace` (a SelfSubjectRulesReview's answer)."""
    return [rule for *_, rules in _grants(store, user, namespace) for rule in rules]


def _grants(store: Any, user: User, namespace: str) -> Iterator[tuple[Obj, str, str, str, list[Obj]]]:
    """(binding, role kind, role name, the subject that matched, the role's rules) for `user`:
    cluster-wide bindings first, then the namespace's, as the authorizer visits them."""
    cluster_roles = resources.get("rbac.authorization.k8s.io/clusterroles")
    for binding in store.list(resources.get("rbac.authorization.k8s.io/clusterrolebindings"))[0]:
        subject = _matching_subject(binding, user, "")
        ref = binding.get("roleRef") or {}
        if subject and ref.get("kind") == "ClusterRole":
            role = store.find(cluster_roles, "", ref.get("name", ""))
            if role is not None:
                yield binding, "ClusterRole", ref["name"], subject, list(role.get("rules") or [])
    if not namespace:
        return
    roles = resources.get("rbac.authorization.k8s.io/roles")
    for binding in store.list(resources.get("rbac.authorization.k8s.io/rolebindings"), namespace)[0]:
        subject = _matching_subject(binding, user, namespace)
        ref = binding.get("roleRef") or {}
        if not subject or ref.get("kind") not in ("Role", "ClusterRole"):
            continue
        role = (store.find(roles, namespace, ref.get("name", "")) if ref["kind"] == "Role"
                else store.find(cluster_roles, "", ref.get("name", "")))
        if role is not None:
            yield binding, ref["kind"], ref["name"], subject, list(role.get("rules") or [])


def _matching_subject(binding: Obj, user: User, namespace: str) -> str:
    """How the first subject of `binding` that names `user` is written in a reason ("" if none does)."""
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User" and name == user.name:
            return f'User "{name}"'
        if kind == "Group" and name in user.groups:
            return f'Group "{name}"'
        if kind == "ServiceAccount":
            account_namespace = subject.get("namespace") or namespace
            if user.name == f"{SERVICE_ACCOUNT_PREFIX}{account_namespace}:{name}":
                return f'ServiceAccount "{name}/{account_namespace}"'
    return ""


def rule_matches(rule: Obj, attrs: Attributes) -> bool:
    """One PolicyRule against a request (rbac/v1's RuleAllows)."""
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.is_resource:
        return any(url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1]))
                   for url in rule.get("nonResourceURLs") or [])
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not any(r == "*" or r == combined or (attrs.subresource and r == f"*/{attrs.subresource}")
               for r in rule.get("resources") or []):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


# ---- what a refusal says ---------------------------------------------------------------------

def forbidden(user: User, attrs: Attributes) -> ApiError:
    """403 with the API server's own words (``secrets "db" is forbidden: User "..." cannot get ...``)."""
    if not attrs.is_resource:
        return ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"', {})
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    what = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    details: Obj = {"name": attrs.name} if attrs.name else {}
    if attrs.group:
        details["group"] = attrs.group
    details["kind"] = attrs.resource
    return ApiError(403, "Forbidden", f'{what} is forbidden: User "{user.name}" cannot {attrs.verb} resource '
                    f'"{combined}" in API group "{attrs.group}" {scope}', details)
