"""An index of ownerReferences: which objects each owner (by uid) has, kept from store events.

Why: the workload controllers ask "which pods does this ReplicaSet own?" on every sync and the
garbage collector asks "what depends on this uid?" on every delete; scanning all pods each time
would make one controller step O(pods). The index makes both O(dependents).
"""
from __future__ import annotations

import collections
from typing import Any

from .. import resources
from ..objects import controller_of
from ..store import Event
from . import Controller, WorkloadController

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (store key, namespace, name)


class OwnerIndex(Controller):
    name = "owner-index"

    def __init__(self, mgr):
        super().__init__(mgr)
        self.watches = tuple(r.key for r in resources.load() if r.group != "metrics.k8s.io")
        self.dependents: dict[str, dict[Ref, Obj]] = collections.defaultdict(dict)
        self._owners_of: dict[Ref, tuple[str, ...]] = {}
        self.alive: dict[str, Ref] = {}  # uid -> where the object is

    def start(self) -> None:
        seen = set()
        for res in resources.load():
            if res.key in seen or res.group == "metrics.k8s.io":
                continue
            seen.add(res.key)
            for obj in self.store.list(res)[0]:
                self._index(res.key, obj, False)

    def _index(self, key: str, obj: Obj, gone: bool) -> None:
        meta = obj["metadata"]
        ref: Ref = (key, meta.get("namespace", ""), meta["name"])
        if meta.get("uid"):
            if gone:
                if self.alive.get(meta["uid"]) == ref:
                    del self.alive[meta["uid"]]
            else:
                self.alive[meta["uid"]] = ref
        for uid in self._owners_of.pop(ref, ()):
            self.dependents[uid].pop(ref, None)
            if not self.dependents[uid]:
                del self.dependents[uid]
        if gone:
            return
        uids = tuple(r.get("uid", "") for r in meta.get("ownerReferences") or [])
        if uids:
            self._owners_of[ref] = uids
            for uid in uids:
                self.dependents[uid][ref] = obj

    def on_event(self, event: Event) -> None:
        self._index(event.resource.key, event.obj, event.type == "DELETED")

    def sync(self, key) -> None:
        pass

    def owned(self, owner: Obj, key: str | None = None, controller_only: bool = True) -> list[Obj]:
        """The current objects (of store ``key``, if given) whose ownerReferences name ``owner``."""
        uid = owner["metadata"].get("uid")
        out = []
        for (k, _, _), obj in sorted(self.dependents.get(uid, {}).items()):
            if key is not None and k != key:
                continue
            if controller_only and not any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or []):
                continue
            out.append(obj)
        return out

    def refs(self, uid: str) -> list[tuple[Ref, Obj]]:
        return sorted(self.dependents.get(uid, {}).items())


__all__ = ["OwnerIndex", "WorkloadController", "controller_of"]
