"""Garbage collection through ownerReferences, and namespace deletion.

Garbage collector (as kube-controller-manager's, see kubernetes.io "Garbage Collection"):
- *background* deletion: the owner is gone at once; then every dependent whose owners are all
  gone is deleted (pods gracefully), and so on down the chain;
- *foreground* deletion: the API server gave the owner a deletionTimestamp and the
  ``foregroundDeletion`` finalizer; the collector deletes the dependents, waits until those with
  ``blockOwnerDeletion`` are gone, then removes the finalizer and the owner;
- *orphan*: finalizer ``orphan``; the collector removes the owner from the dependents'
  ownerReferences, then the finalizer, and the owner goes.

Namespace controller: a namespace being deleted (phase Terminating) has all its content deleted;
when nothing is left, the namespace itself goes (``kubectl delete namespace`` waits for that).
"""
from __future__ import annotations

from typing import Any

from .. import resources
from ..store import Event
from . import Controller

Obj = dict[str, Any]
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, mgr):
        super().__init__(mgr)
        self.watches = tuple(r.key for r in resources.load() if r.group != "metrics.k8s.io")

    def start(self) -> None:
        pass

    def on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        uid = meta.get("uid")
        if event.type == "DELETED":
            if uid and self.mgr.index.dependents.get(uid):
                self.enqueue(("orphans-of", uid))
            for ref in meta.get("ownerReferences") or []:
                owner = self.mgr.index.alive.get(ref.get("uid", ""))
                if owner is not None:
                    self.enqueue(("owner", owner))
            return
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers):
            self.enqueue(("owner", (event.resource.key, meta.get("namespace", ""), meta["name"])))

    def sync(self, key) -> None:
        what, arg = key
        if what == "orphans-of":
            for (dkey, ns, name), obj in self.mgr.index.refs(arg):
                refs = obj["metadata"].get("ownerReferences") or []
                if all(r.get("uid") not in self.mgr.index.alive for r in refs):
                    self.mgr.delete(dkey, obj)
            return
        rkey, ns, name = arg
        owner = self.mgr.find(rkey, ns, name)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = owner["metadata"].get("finalizers") or []
        uid = owner["metadata"]["uid"]
        if ORPHAN in finalizers:
            for (dkey, dns, dname), _ in self.mgr.index.refs(uid):
                def drop(obj: Obj) -> Obj:
                    obj["metadata"]["ownerReferences"] = [r for r in obj["metadata"].get("ownerReferences") or []
                                                          if r.get("uid") != uid]
                    if not obj["metadata"]["ownerReferences"]:
                        del obj["metadata"]["ownerReferences"]
                    return obj
                self.mgr.mutate(dkey, dns, dname, drop)
            self._finish(rkey, ns, name, ORPHAN)
            return
        if FOREGROUND in finalizers:
            blocking = 0
            for (dkey, dns, dname), obj in self.mgr.index.refs(uid):
                ref = next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") == uid), {})
                if ref.get("blockOwnerDeletion"):
                    blocking += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.mgr.delete(dkey, obj, policy="Foreground")
            if blocking == 0:
                self._finish(rkey, ns, name, FOREGROUND)

    def _finish(self, rkey: str, ns: str, name: str, finalizer: str) -> None:
        def drop(obj: Obj) -> Obj:
            obj["metadata"]["finalizers"] = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
            if not obj["metadata"]["finalizers"]:
                del obj["metadata"]["finalizers"]
            return obj
        after = self.mgr.mutate(rkey, ns, name, drop)
        if after is not None and not after["metadata"].get("finalizers"):
            try:
                self.store.delete(resources.get(rkey), ns, name)
            except Exception:  # already gone
                pass


class NamespaceController(Controller):
    name = "namespace-controller"

    def __init__(self, mgr):
        super().__init__(mgr)
        self.watches = tuple(r.key for r in resources.load() if r.group != "metrics.k8s.io")
        self.terminating: set[str] = set()

    def start(self) -> None:
        for ns in self.mgr.list("/namespaces"):
            if ns["metadata"].get("deletionTimestamp"):
                self.terminating.add(ns["metadata"]["name"])
                self.enqueue(ns["metadata"]["name"])

    def on_event(self, event: Event) -> None:
        obj = event.obj
        if event.resource.key == "/namespaces":
            name = obj["metadata"]["name"]
            if event.type == "DELETED":
                self.terminating.discard(name)
            elif obj["metadata"].get("deletionTimestamp"):
                self.terminating.add(name)
                self.enqueue(name)
            return
        ns = obj["metadata"].get("namespace")
        if ns in self.terminating and event.type == "DELETED":
            self.enqueue(ns)

    def sync(self, name) -> None:
        ns = self.mgr.find("/namespaces", "", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = 0
        seen = set()
        for res in resources.load():
            if not res.namespaced or res.key in seen or res.group == "metrics.k8s.io":
                continue
            seen.add(res.key)
            for obj in self.store.list(res, name)[0]:
                remaining += 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.mgr.delete(res.key, obj)
        if remaining == 0 or not any(self.store.list(r, name)[0] for r in resources.load()
                                     if r.namespaced and r.group != "metrics.k8s.io"):
            try:
                self.store.delete(resources.get("/namespaces"), "", name)
            except Exception:
                pass
        else:
            self.after(5.0, name)
