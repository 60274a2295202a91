"""Defaulting, as the API server fills in fields a manifest leaves out.

Why: `kubectl get -o yaml` and the Python client show what a real server stores (a pod with
``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``, the default tolerations, a service
with a ClusterIP...). Learners compare their output with real clusters and tutorials, and the
controllers of the next issue read these fields. Only defaults of the kinds we serve are here.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

Obj = dict[str, Any]


def _container(c: Obj) -> None:
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if ref is not None:
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        p = c.get(probe)
        if isinstance(p, dict):
            p.setdefault("failureThreshold", 3)
            p.setdefault("periodSeconds", 10)
            p.setdefault("successThreshold", 1)
            p.setdefault("timeoutSeconds", 1)
            if isinstance(p.get("httpGet"), dict):
                p["httpGet"].setdefault("path", "/")
                p["httpGet"].setdefault("scheme", "HTTP")
            if isinstance(p.get("grpc"), dict):   # SetDefaults_Probe: kubectl describe reads it
                p["grpc"].setdefault("service", "")


def pod_spec(spec: Obj) -> None:
    """PodSpec defaults (also applied to the templates of workloads)."""
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(c, dict):
            _container(c)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for volume in spec.get("volumes") or []:
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")


def pod(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", ctx.priority(spec.get("priorityClassName")))
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key or (t.get("operator") == "Exists" and not t.get("key"))
                   for t in tolerations if isinstance(t, dict)):
            tolerations.append({"effect": "NoExecute", "key": key, "operator": "Exists",
                                "tolerationSeconds": 300})
    # the ServiceAccount admission plugin's token volume, unless the pod opts out
    if not spec.get("hostNetwork") and spec.get("automountServiceAccountToken") is not False and not any(
            isinstance(v, dict) and v.get("name", "").startswith("kube-api-access-")
            for v in spec.get("volumes") or []):
        name = "kube-api-access-" + ctx.suffix()
        spec.setdefault("volumes", []).append(_api_access_volume(name))
        for c in spec.get("containers") or []:
            if isinstance(c, dict):
                c.setdefault("volumeMounts", []).append({
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                    "name": name, "readOnly": True})
    status = obj.setdefault("status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


def _api_access_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace"}]}}]}}


def qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    requests = [((c.get("resources") or {}).get("requests") or {}) for c in containers]
    limits = [((c.get("resources") or {}).get("limits") or {}) for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(
        lim.get("cpu") and lim.get("memory") and req.get("cpu", lim["cpu"]) == lim["cpu"]
        and req.get("memory", lim["memory"]) == lim["memory"]
        for req, lim in zip(requests, limits))
    return "Guaranteed" if guaranteed else "Burstable"


def _template(spec: Obj) -> None:
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}))


def deployment(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    _template(spec)
    obj.setdefault("status", {})


def replicaset(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _template(spec)
    obj.setdefault("status", {}).setdefault("replicas", 0)


def daemonset(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("maxUnavailable", 1)
        strategy["rollingUpdate"].setdefault("maxSurge", 0)
    _template(spec)
    status = obj.setdefault("status", {})
    for key in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled", "numberReady"):
        status.setdefault(key, 0)


def statefulset(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    _template(spec)
    obj.setdefault("status", {}).setdefault("replicas", 0)
    obj["status"].setdefault("availableReplicas", 0)


def job(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    uid = obj["metadata"].get("uid")
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if uid and not spec.get("manualSelector"):
        name = obj["metadata"]["name"]
        for key, value in (("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name),
                           ("controller-uid", uid), ("job-name", name)):
            labels.setdefault(key, value)
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    pod_spec(template.setdefault("spec", {}))
    template["spec"].setdefault("restartPolicy", "Never")
    obj.setdefault("status", {})


def cronjob(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("failedJobsHistoryLimit", 1)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("suspend", False)
    obj.setdefault("status", {})


def service(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = ctx.cluster_ip()
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        else:
            spec.setdefault("clusterIPs", ["None"])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    ports = [port for port in spec.get("ports") or [] if isinstance(port, dict)]
    taken = {port["nodePort"] for port in ports if port.get("nodePort")}  # this Service's own, not stored yet
    for port in ports:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = ctx.node_port(taken)
            taken.add(port["nodePort"])
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def namespace(obj: Obj, ctx: "DefaultContext") -> None:
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def secret(obj: Obj, ctx: "DefaultContext") -> None:
    import base64
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def hpa(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):  # as SetDefaults_HorizontalPodAutoscalerBehavior: fill a given behavior
        up = behavior.get("scaleUp") if isinstance(behavior.get("scaleUp"), dict) else {}
        up.setdefault("selectPolicy", "Max")
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        down = behavior.get("scaleDown") if isinstance(behavior.get("scaleDown"), dict) else {}
        down.setdefault("selectPolicy", "Max")  # its window stays unset: the controller's 300 s applies
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])
        behavior["scaleUp"], behavior["scaleDown"] = up, down
    obj.setdefault("status", {}).setdefault("currentReplicas", 0)
    obj["status"].setdefault("desiredReplicas", 0)


def pvc(obj: Obj, ctx: "DefaultContext") -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    if "storageClassName" not in spec:
        spec["storageClassName"] = "standard"
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def storageclass(obj: Obj, ctx: "DefaultContext") -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


DEFAULTERS: dict[str, Callable[[Obj, "DefaultContext"], None]] = {
    "Pod": pod, "Deployment": deployment, "ReplicaSet": replicaset, "DaemonSet": daemonset,
    "StatefulSet": statefulset, "Job": job, "CronJob": cronjob, "Service": service,
    "Namespace": namespace, "Secret": secret, "HorizontalPodAutoscaler": hpa,
    "PersistentVolumeClaim": pvc, "StorageClass": storageclass,
}


class DefaultContext:
    """What defaulting needs from the server: random suffixes, ClusterIPs, node ports, priorities."""

    PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}

    def __init__(self, suffix: Callable[[], str], cluster_ip: Callable[[], str],
                 node_port: Callable[[set[int]], int]):
        self.suffix = suffix
        self.cluster_ip = cluster_ip
        self.node_port = node_port

    def priority(self, name: str | None) -> int:
        return self.PRIORITIES.get(name or "", 0)


def apply(kind: str, obj: Obj, ctx: DefaultContext) -> Obj:
    """Fill defaults in place (and return ``obj``)."""
    fn = DEFAULTERS.get(kind)
    if fn is not None:
        fn(obj, ctx)
    return obj


def template_copy(template: Obj) -> Obj:
    return copy.deepcopy(template)
