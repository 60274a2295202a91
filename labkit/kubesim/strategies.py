"""The named strategies: the few places where a resource's update or delete truly differs from
the generic store's, each chosen by name in data/resources.yaml (``updateStrategy``,
``deleteStrategy``), as the Kubernetes apiserver gives one resource its own strategy object.

Why names in the data and code here: everything that is just a choice (default propagation,
whether a delete returns the object, status on create...) is a field of the YAML entry; what is
behaviour (a pod's graceful termination, a namespace's Terminating phase) stays code, small and
named, so adding a resource never means a kind test in the request path.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from . import defaults, resources
from .clock import stamp
from .errors import ApiError
from .resources import Resource

if TYPE_CHECKING:  # pragma: no cover
    from .api import Api

Obj = dict[str, Any]


@dataclass(frozen=True)
class UpdateStrategy:
    """Hooks of an update: ``prepare`` before validation (every write), ``finish`` after it (not /status)."""

    prepare: Callable[[Obj, defaults.DefaultContext], None] | None = None
    finish: Callable[[Obj, defaults.DefaultContext], None] | None = None


GENERIC_UPDATE = UpdateStrategy()
UPDATE: dict[str, UpdateStrategy] = {
    # stringData is write-only: folded into data on every write, as on create
    "secret": UpdateStrategy(prepare=defaults.secret),
    # a pod's spec is defaulted again after an update (the fields a client left out)
    "podSpec": UpdateStrategy(finish=lambda obj, ctx: defaults.pod_spec(obj.get("spec") or {})),
    # a workload and its pod template are defaulted on every write, as the apiserver decodes them:
    # a template that an update left undefaulted (a new volume without defaultMode) would never equal
    # its ReplicaSet's defaulted copy, and the rollout would stall
    "workload": UpdateStrategy(prepare=lambda obj, ctx: defaults.apply(obj.get("kind", ""), obj, ctx)),
}


def update(res: Resource) -> UpdateStrategy:
    """The update strategy of ``res`` (the generic one unless its entry names another)."""
    return UPDATE[res.update_strategy] if res.update_strategy else GENERIC_UPDATE


def graceful(api: "Api", res: Resource, old: Obj, grace: int | None) -> Obj | None:
    """A pod bound to a node and not finished gets a deletionTimestamp and a grace period; its
    kubelet stops the containers and then removes it (``Api.finalize_pod``). None: delete now."""
    if not api.controllers_running:
        return None
    meta = old["metadata"]
    spec = old.get("spec") or {}
    phase = (old.get("status") or {}).get("phase")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    if spec.get("nodeName") and phase not in ("Succeeded", "Failed") and grace and grace > 0:
        if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds", grace) <= grace:
            return old
        new = copy.deepcopy(dict(old))
        new["metadata"]["deletionTimestamp"] = stamp(api.store.clock.now() + timedelta(seconds=grace))
        new["metadata"]["deletionGracePeriodSeconds"] = int(grace)
        return api.store.update(res, new)
    return None


def namespace(api: "Api", res: Resource, old: Obj, grace: int | None) -> Obj | None:
    """A namespace turns Terminating; the namespace controller deletes its content, then it
    (without controllers, its content and it go at once)."""
    meta = old["metadata"]
    name = meta["name"]
    if meta.get("deletionTimestamp"):
        return old
    terminating = copy.deepcopy(dict(old))
    terminating["metadata"]["deletionTimestamp"] = api.store.now()
    terminating["status"] = {"phase": "Terminating"}
    terminating = api.store.update(res, terminating)
    if api.controllers_running:
        return terminating
    for other in resources.load():
        if other.namespaced and not other.readonly:
            for item in api.store.list(other, name)[0]:
                try:
                    api.store.delete(other, name, item["metadata"]["name"])
                except ApiError:
                    pass
    return api.store.delete(res, "", name)


DELETE: dict[str, Callable[["Api", Resource, Obj, int | None], Obj | None]] = {
    "graceful": graceful, "namespace": namespace,
}


def check(table: tuple[Resource, ...]) -> list[str]:
    """Strategy names in the resource table that no strategy here implements (should be none)."""
    return [f"{r.kind}: updateStrategy {r.update_strategy}" for r in table if r.update_strategy and r.update_strategy not in UPDATE] + [
        f"{r.kind}: deleteStrategy {r.delete_strategy}" for r in table if r.delete_strategy and r.delete_strategy not in DELETE]
