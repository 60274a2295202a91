"""The StatefulSet controller: pods with stable, ordered names ``<sts>-0``, ``<sts>-1``, ...

As the statefulset controller: with ``podManagementPolicy: OrderedReady`` (the default) pod N is
created only when pods 0..N-1 are Running and Ready, and scaling down removes the highest ordinal
first, one at a time; ``Parallel`` creates and deletes them all at once. Each pod gets the labels
``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
``controller-revision-hash``, and ``hostname``/``subdomain`` (the serviceName). For each
``volumeClaimTemplates`` entry a PersistentVolumeClaim ``<claim>-<sts>-<ordinal>`` is created (and
kept after scale-down, as ``whenScaled: Retain``). A template change is rolled out from the highest
ordinal down (RollingUpdate), one pod at a time. Events: ``SuccessfulCreate`` "create Pod NAME in
StatefulSet STS successful" and ``SuccessfulDelete`` "delete Pod NAME in StatefulSet STS successful".
"""
from __future__ import annotations

from typing import Any

from ..objects import active, copy_obj, owner_ref, pod_from_template, ready_since, template_hash
from . import WorkloadController

Obj = dict[str, Any]


class StatefulSetController(WorkloadController):
    name = "statefulset-controller"
    watches = ("apps/statefulsets", "/pods")

    workload = "apps/statefulsets"
    workload_kind = "StatefulSet"

    def sync(self, key) -> None:
        namespace, name = key
        sts = self.mgr.find("apps/statefulsets", namespace, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        revision = f"{name}-{template_hash(sts['spec']['template'])}"
        replicas = int(sts["spec"].get("replicas", 1))
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {p["metadata"]["name"]: p for p in self.mgr.index.owned(sts, "/pods")}
        for ordinal in range(replicas):
            pname = f"{name}-{ordinal}"
            pod = pods.get(pname)
            if pod is None:
                self._create(sts, ordinal, revision)
                if ordered:
                    break
                continue
            if not active(pod):
                if (pod.get("status") or {}).get("phase") == "Failed":
                    self.mgr.delete("/pods", pod, grace=0)
                if ordered:
                    break
                continue
            if ordered and ready_since(pod) is None:
                break
        else:
            # all wanted pods exist (and are ready when ordered): scale down, then update
            extra = sorted((p for n, p in pods.items() if _ordinal(n, name) >= replicas and active(p)),
                           key=lambda p: -_ordinal(p["metadata"]["name"], name))
            for pod in extra[:1] if ordered else extra:
                self._delete(sts, pod)
            if not extra and (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                partition = int(((sts["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition", 0) or 0)
                for ordinal in reversed(range(partition, replicas)):
                    pod = pods.get(f"{name}-{ordinal}")
                    if pod is not None and (pod["metadata"].get("labels") or {}).get("controller-revision-hash") != revision:
                        if active(pod):
                            self._delete(sts, pod)
                        break
                    if pod is None or ready_since(pod) is None:
                        break
        self._status(sts, revision)

    def _create(self, sts: Obj, ordinal: int, revision: str) -> None:
        name = sts["metadata"]["name"]
        pname = f"{name}-{ordinal}"
        if self.mgr.find("/pods", sts["metadata"]["namespace"], pname) is not None:
            return  # the previous pod of that name is still terminating
        pod = pod_from_template(sts, pname, None, {"apps.kubernetes.io/pod-index": str(ordinal),
                                                   "controller-revision-hash": revision,
                                                   "statefulset.kubernetes.io/pod-name": pname})
        pod["metadata"].pop("generateName", None)
        pod["spec"]["hostname"] = pname
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        for claim in sts["spec"].get("volumeClaimTemplates") or []:
            cname = f"{claim['metadata']['name']}-{pname}"
            pod["spec"].setdefault("volumes", []).append({"name": claim["metadata"]["name"],
                                                          "persistentVolumeClaim": {"claimName": cname}})
            if self.mgr.find("/persistentvolumeclaims", sts["metadata"]["namespace"], cname) is None:
                pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": cname, "namespace": sts["metadata"]["namespace"],
                                    "labels": dict((sts["spec"].get("selector") or {}).get("matchLabels") or {})},
                       "spec": copy_obj(claim.get("spec") or {})}
                pvc["spec"].setdefault("storageClassName", "standard")
                pvc["spec"].setdefault("volumeMode", "Filesystem")
                made = self.mgr.create("/persistentvolumeclaims", pvc)
                self.mgr.recorder.record(sts, "Normal", "SuccessfulCreate",
                                         f"create Claim {cname} Pod {pname} in StatefulSet {name} success", "statefulset-controller")
                self._bind(made)
        self.mgr.create("/pods", pod)
        self.mgr.recorder.record(sts, "Normal", "SuccessfulCreate", f"create Pod {pname} in StatefulSet {name} successful",
                                 "statefulset-controller")

    def _bind(self, pvc: Obj) -> None:
        """local-path-provisioner: the claim is bound to a new volume (at once, for simplicity)."""
        size = ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage", "1Gi")

        def bound(obj: Obj) -> Obj:
            obj["spec"]["volumeName"] = f"pvc-{obj['metadata']['uid']}"
            obj["status"] = {"phase": "Bound", "accessModes": obj["spec"].get("accessModes", ["ReadWriteOnce"]),
                             "capacity": {"storage": size}}
            return obj
        self.mgr.mutate("/persistentvolumeclaims", pvc["metadata"]["namespace"], pvc["metadata"]["name"], bound)

    def _delete(self, sts: Obj, pod: Obj) -> None:
        self.mgr.delete("/pods", pod)
        self.mgr.recorder.record(sts, "Normal", "SuccessfulDelete",
                                 f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
                                 "statefulset-controller")

    def _status(self, sts: Obj, revision: str) -> None:
        pods = [p for p in self.mgr.index.owned(sts, "/pods") if active(p)]
        ready = sum(1 for p in pods if ready_since(p) is not None)
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == revision)
        old = sts.get("status") or {}
        current_rev = old.get("currentRevision") or revision
        if updated == len(pods) == int(sts["spec"].get("replicas", 1)):
            current_rev = revision
        status = {"availableReplicas": ready, "collisionCount": 0, "currentReplicas": updated if current_rev == revision else len(pods) - updated,
                  "currentRevision": current_rev, "observedGeneration": sts["metadata"].get("generation", 1),
                  "readyReplicas": ready, "replicas": len(pods), "updateRevision": revision, "updatedReplicas": updated}
        status = {k: v for k, v in status.items() if v or k in ("replicas", "availableReplicas", "collisionCount")}

        def put(obj: Obj) -> Obj | None:
            if obj.get("status") == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("apps/statefulsets", sts["metadata"]["namespace"], sts["metadata"]["name"], put, shallow=True)


def _ordinal(pod_name: str, sts_name: str) -> int:
    tail = pod_name[len(sts_name) + 1:]
    return int(tail) if tail.isdigit() else -1


__all__ = ["StatefulSetController", "owner_ref"]
