"""API discovery documents: ``/version``, ``/api``, ``/apis`` and group-version resource lists.

Why both forms: kubectl (client-go) asks for *aggregated* discovery (one
``APIGroupDiscoveryList`` for ``/api`` and one for ``/apis``) and falls back to the legacy
documents; the Python client's dynamic client reads only the legacy ones. All of them are
derived from the resource table, so they can never disagree. ``extra`` resources are served
outside the store (the emulator's own ``kubesim.labkit.dev`` clock, ``control.py``): described
the same way, so kubectl sees one more API group.
"""
from __future__ import annotations

import hashlib
from typing import Any

from . import kindstate, resources
from .resources import Resource

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
SUB_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"], "log": ["get"],
             "exec": ["create", "get"], "attach": ["create", "get"], "portforward": ["create", "get"],
             "proxy": ["create", "delete", "get", "patch", "update"], "advance": ["create"], "eviction": ["create"]}
# the options kind a connect subresource answers with, as the real discovery documents lists them
SUB_KINDS = {"exec": "PodExecOptions", "attach": "PodAttachOptions", "portforward": "PodPortForwardOptions"}


def version_info() -> dict[str, str]:
    version = kindstate.kubernetes_version()
    major, minor = version.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "emulationMajor": major, "emulationMinor": minor,
            "minCompatibilityMajor": major, "minCompatibilityMinor": str(int(minor) - 1),
            "gitVersion": version, "gitCommit": hashlib.sha1(version.encode()).hexdigest(),
            "gitTreeState": "clean", "buildDate": "2026-05-14T00:00:00Z", "goVersion": "go1.25.5",
            "compiler": "gc", "platform": "linux/amd64"}


def _hash(res: Resource) -> str:
    import base64
    return base64.b64encode(hashlib.sha256(f"{res.group}/{res.version}/{res.kind}".encode()).digest()[:8]).decode()


def _sub_kind(res: Resource, sub: str) -> tuple[str, str, str]:
    if sub == "scale":
        return "autoscaling", "v1", "Scale"
    if sub == "eviction":
        return "policy", "v1", "Eviction"
    if sub in SUB_KINDS:
        return res.group, res.version, SUB_KINDS[sub]
    if sub == "proxy":
        return res.group, res.version, f"{res.kind}ProxyOptions"
    return res.group, res.version, res.kind


def _served(extra: tuple[Resource, ...]) -> tuple[Resource, ...]:
    return resources.load() + tuple(extra)


def _group_versions(extra: tuple[Resource, ...]) -> dict[str, list[str]]:
    out = resources.group_versions()
    for res in extra:
        versions = out.setdefault(res.group, [])
        if res.version not in versions:
            versions.append(res.version)
    return out


def resource_list(group: str, version: str, extra: tuple[Resource, ...] = ()) -> dict[str, Any]:
    """Legacy ``APIResourceList`` for one group version."""
    out = []
    for res in _served(extra):
        if res.group != group or res.version != version:
            continue
        entry: dict[str, Any] = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                                 "kind": res.kind, "verbs": list(res.verbs)}
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entry["storageVersionHash"] = _hash(res)
        out.append(entry)
        for sub in res.all_subresources():
            g, v, k = _sub_kind(res, sub)
            item = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced, "kind": k,
                    "verbs": SUB_VERBS[sub]}
            if sub in ("scale", "eviction"):
                item.update(group=g, version=v)
            out.append(item)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": out}


def api_versions(address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group(name: str, extra: tuple[Resource, ...] = ()) -> dict[str, Any] | None:
    versions = _group_versions(extra).get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def api_group_list(extra: tuple[Resource, ...] = ()) -> dict[str, Any]:
    groups = [_group(g, v) for g, v in _group_versions(extra).items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def aggregated(core: bool, extra: tuple[Resource, ...] = ()) -> dict[str, Any]:
    """``APIGroupDiscoveryList`` for ``/api`` (core=True) or ``/apis``."""
    items = []
    for group, versions in _group_versions(extra).items():
        if (group == "") != core:
            continue
        entries = []
        for version in versions:
            rs = []
            for res in _served(extra):
                if res.group != group or res.version != version:
                    continue
                entry: dict[str, Any] = {
                    "resource": res.plural,
                    "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
                    "scope": "Namespaced" if res.namespaced else "Cluster",
                    "singularResource": res.singular, "verbs": list(res.verbs)}
                if res.short_names:
                    entry["shortNames"] = list(res.short_names)
                if res.categories:
                    entry["categories"] = list(res.categories)
                subs = []
                for sub in res.all_subresources():
                    g, v, k = _sub_kind(res, sub)
                    subs.append({"subresource": sub, "responseKind": {"group": g, "version": v, "kind": k},
                                 "verbs": SUB_VERBS[sub]})
                if subs:
                    entry["subresources"] = subs
                rs.append(entry)
            entries.append({"version": version, "resources": rs, "freshness": "Current"})
        meta: dict[str, Any] = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        items.append({"metadata": meta, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
