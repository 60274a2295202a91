"""What every new namespace gets: its ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap.

Why: on a real cluster the controller manager's serviceaccount controller and root-ca-cert-publisher
put both into every namespace as soon as it exists, and the pods of that namespace depend on them
(the ServiceAccount admission names ``default``; the projected service account volume reads
``kube-root-ca.crt``). Without them a learner's ``kubectl create namespace dev`` would give pods
that cannot mount their token volume, and ``kubectl get serviceaccounts -n dev`` would be empty.
The initial kind state already has both in kind's namespaces; this controller does it for the
namespaces made later, and puts them back when someone deletes them (as the real controllers do).
"""
from __future__ import annotations

from .. import kindstate
from ..store import Event
from . import Controller

ROOT_CA = "kube-root-ca.crt"


class NamespaceDefaults(Controller):
    name = "serviceaccount-and-root-ca-publisher"
    watches = ("/namespaces", "/serviceaccounts", "/configmaps")

    def on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        if event.resource.key == "/namespaces":
            if event.type != "DELETED":
                self.enqueue(meta["name"])
        elif event.type == "DELETED" and meta["name"] in ("default", ROOT_CA):
            self.enqueue(meta.get("namespace", ""))

    def sync(self, namespace) -> None:
        ns = self.mgr.find("/namespaces", "", namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        if self.mgr.find("/serviceaccounts", namespace, "default") is None:
            self.mgr.create("/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                 "metadata": {"name": "default", "namespace": namespace}})
        if self.mgr.find("/configmaps", namespace, ROOT_CA) is None:
            d = kindstate.data()
            self.mgr.create("/configmaps", {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA, "namespace": namespace,
                             "annotations": {"kubernetes.io/description": d["rootCADescription"]}},
                "data": dict(d["rootCA"])})
