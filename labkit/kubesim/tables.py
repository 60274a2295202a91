"""Server-side printing: ``meta.k8s.io/v1`` Table responses for ``kubectl get``.

Why on the server: kubectl asks for ``as=Table`` and prints the columns the server sends
(without them it can show only NAME and AGE). The columns and cell rules follow the
Kubernetes printers (pkg/printers/internalversion), re-expressed here: priority-0 columns
always, priority-1 columns with ``-o wide``; kubectl adds NAMESPACE itself.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from .clock import parse
from .selectors import selector_string

Obj = dict[str, Any]
NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although some "
             "resources may allow a client to request the generation of an appropriate name automatically. "
             "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
             "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was created. "
            "It is not guaranteed to be set in happens-before order across separate operations. Clients may "
            "not set this value. It is represented in RFC3339 form and is in UTC.")


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration: 45s, 3m20s, 15m, 5h3m, 2d4h, 30d, 2y10d."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


class Printer:
    """Prints one kind: column definitions and a row function."""

    def __init__(self, columns: list[tuple[str, str, int, str]], row: Callable[[Obj, "Ctx"], list[Any]]):
        self.columns = columns
        self.row = row

    def definitions(self) -> list[Obj]:
        out = []
        for name, kind, priority, desc in self.columns:
            fmt = "name" if name == "Name" else ""
            out.append({"name": name, "type": kind, "format": fmt, "description": desc, "priority": priority})
        return out


class Ctx:
    def __init__(self, now: datetime):
        self.now = now

    def age(self, stamp: str | None) -> str:
        if not stamp:
            return "<unknown>"
        return human_duration((self.now - parse(stamp)).total_seconds())


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _containers(spec: Obj) -> tuple[str, str]:
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return (",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers))


def _labels(labels: dict[str, str] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _selector(sel: Obj | None) -> str:
    return selector_string(sel) or "<none>"


# ---- pods ---------------------------------------------------------------------------------
def pod_row(pod: Obj, ctx: Ctx) -> list[Any]:
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, _meta(pod)
    restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: str | None = None
    reason = status.get("reason") or status.get("phase") or ""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    init_specs = spec.get("initContainers") or []
    for index, cs in enumerate(init_statuses):
        restarts += cs.get("restartCount", 0)
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        if state.get("running") and index < len(init_specs) and init_specs[index].get("restartPolicy") == "Always":
            continue
        if term:
            reason = "Init:" + (term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                                       else f"ExitCode:{term.get('exitCode', 0)}"))
        elif (state.get("waiting") or {}).get("reason") and state["waiting"]["reason"] != "PodInitializing":
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts = 0
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            term_last = (cs.get("lastState") or {}).get("terminated")
            if term_last and term_last.get("finishedAt") and (last_restart is None or term_last["finishedAt"] > last_restart):
                last_restart = term_last["finishedAt"]
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ok = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
            reason = "Running" if ok else "NotReady"
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    shown = str(restarts)
    if restarts and last_restart:
        shown = f"{restarts} ({ctx.age(last_restart)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gate_text = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gate_text = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    return [meta.get("name"), f"{ready}/{total}", reason, shown, ctx.age(meta.get("creationTimestamp")),
            (ips[0].get("ip") if ips else status.get("podIP")) or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gate_text]


def node_row(node: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(node), node.get("spec") or {}, node.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = []
    if "Ready" in conds:
        state.append("Ready" if conds["Ready"] == "True" else "NotReady")
    if not state:
        state.append("Unknown")
    if spec.get("unschedulable"):
        state.append("SchedulingDisabled")
    roles = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/"):]:
            roles.add(key[len("node-role.kubernetes.io/"):])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []
    internal = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "<none>")
    external = next((a["address"] for a in addresses if a.get("type") == "ExternalIP"), "<none>")
    return [meta.get("name"), ",".join(state), ",".join(sorted(roles)) or "<none>", ctx.age(meta.get("creationTimestamp")),
            info.get("kubeletVersion", ""), internal, external, info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


def _ports(ports: list[Obj]) -> str:
    out = []
    for p in ports or []:
        proto = p.get("protocol", "TCP")
        out.append(f"{p.get('port')}:{p['nodePort']}/{proto}" if p.get("nodePort") else f"{p.get('port')}/{proto}")
    return ",".join(out) or "<none>"


def service_row(svc: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(svc), svc.get("spec") or {}, svc.get("status") or {}
    kind = spec.get("type", "ClusterIP")
    internal = (spec.get("clusterIPs") or [spec.get("clusterIP") or "<none>"])[0] or "<none>"
    external_ips = spec.get("externalIPs") or []
    if kind == "ExternalName":
        external = spec.get("externalName", "")
    elif kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
        ips = [i for i in ingress if i] + external_ips
        external = ",".join(ips) if ips else "<pending>"
    else:
        external = ",".join(external_ips) or "<none>"
    return [meta.get("name"), kind, internal, external, _ports(spec.get("ports")), ctx.age(meta.get("creationTimestamp")),
            _labels(spec.get("selector"))]


def deployment_row(d: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(d), d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), ctx.age(meta.get("creationTimestamp")),
            names, images, _selector(spec.get("selector"))]


def replicaset_row(rs: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(rs), rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            ctx.age(meta.get("creationTimestamp")), names, images, _selector(spec.get("selector"))]


def daemonset_row(ds: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(ds), ds.get("spec") or {}, ds.get("status") or {}
    names, images = _containers(spec)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [meta.get("name"), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _labels(node_selector), ctx.age(meta.get("creationTimestamp")), names, images, _selector(spec.get("selector"))]


def statefulset_row(s: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(s), s.get("spec") or {}, s.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            ctx.age(meta.get("creationTimestamp")), names, images]


def job_row(job: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(job), job.get("spec") or {}, job.get("status") or {}
    names, images = _containers(spec)
    if spec.get("completions") is not None:
        completions = f"{status.get('succeeded', 0)}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{status.get('succeeded', 0)}/1 of {spec['parallelism']}"
    else:
        completions = f"{status.get('succeeded', 0)}/1"
    state = "Running"
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    for kind, text in (("Complete", "Complete"), ("Failed", "Failed"), ("FailureTarget", "FailureTarget"),
                       ("SuccessCriteriaMet", "SuccessCriteriaMet"), ("Suspended", "Suspended")):
        if conds.get(kind) == "True":
            state = text
            break
    else:
        if meta.get("deletionTimestamp"):
            state = "Terminating"
    duration = ""
    if status.get("startTime"):
        end = parse(status["completionTime"]) if status.get("completionTime") else ctx.now
        duration = human_duration((end - parse(status["startTime"])).total_seconds())
    return [meta.get("name"), state, completions, duration, ctx.age(meta.get("creationTimestamp")), names, images,
            _selector(spec.get("selector"))]


def cronjob_row(cj: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(cj), cj.get("spec") or {}, cj.get("status") or {}
    names, images = _containers((spec.get("jobTemplate") or {}).get("spec") or {})
    last = ctx.age(status["lastScheduleTime"]) if status.get("lastScheduleTime") else "<none>"
    return [meta.get("name"), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "True" if spec.get("suspend") else "False", len(status.get("active") or []), last,
            ctx.age(meta.get("creationTimestamp")), names, images, _selector((spec.get("jobTemplate") or {}).get("spec", {}).get("selector"))]


def hpa_row(h: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(h), h.get("spec") or {}, h.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    current = {((m.get("resource") or {}).get("name")): m for m in status.get("currentMetrics") or [] if m.get("type") == "Resource"}
    parts = []
    for metric in spec.get("metrics") or []:
        if metric.get("type") == "Resource":
            res = metric.get("resource") or {}
            target = res.get("target") or {}
            name = res.get("name")
            cur = ((current.get(name) or {}).get("resource") or {}).get("current") or {}
            if target.get("type") == "Utilization":
                now = f"{cur['averageUtilization']}%" if "averageUtilization" in cur else "<unknown>"
                parts.append(f"{name}: {now}/{target.get('averageUtilization')}%")
            else:
                now = cur.get("averageValue", "<unknown>")
                parts.append(f"{name}: {now}/{target.get('averageValue') or target.get('value')}")
        else:
            parts.append("<unknown>/<unknown>")
    if len(parts) > 2:
        targets = ", ".join(parts[:2]) + f" + {len(parts) - 2} more..."
    else:
        targets = ", ".join(parts) or "<none>"
    return [meta.get("name"), f"{ref.get('kind', '')}/{ref.get('name', '')}", targets,
            spec.get("minReplicas", "<unset>"), spec.get("maxReplicas", 0), status.get("currentReplicas", 0),
            ctx.age(meta.get("creationTimestamp"))]


def namespace_row(ns: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(ns).get("name"), (ns.get("status") or {}).get("phase", ""), ctx.age(_meta(ns).get("creationTimestamp"))]


def configmap_row(cm: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(cm).get("name"), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
            ctx.age(_meta(cm).get("creationTimestamp"))]


def secret_row(s: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(s).get("name"), s.get("type", ""), len(s.get("data") or {}), ctx.age(_meta(s).get("creationTimestamp"))]


def serviceaccount_row(sa: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(sa).get("name"), len(sa.get("secrets") or []), ctx.age(_meta(sa).get("creationTimestamp"))]


def event_row(ev: Obj, ctx: Ctx) -> list[Any]:
    meta = _meta(ev)
    first = ev.get("firstTimestamp") or ev.get("eventTime") or meta.get("creationTimestamp")
    last = ((ev.get("series") or {}).get("lastObservedTime") or ev.get("lastTimestamp") or ev.get("eventTime")
            or meta.get("creationTimestamp"))
    last_text = ctx.age(last)
    count = ev.get("count") or (ev.get("series") or {}).get("count") or 1
    if count > 1:
        last_text = f"{last_text} (x{count} over {ctx.age(first)})"
    involved = ev.get("involvedObject") or {}
    source = ev.get("source") or {}
    src = source.get("component") or ev.get("reportingComponent") or ""
    if source.get("host"):
        src = f"{src}, {source['host']}"
    return [last_text, ev.get("type", ""), ev.get("reason", ""),
            f"{(involved.get('kind') or '').lower()}/{involved.get('name', '')}", involved.get("fieldPath", ""),
            src, (ev.get("message") or "").strip(), ctx.age(first), count, meta.get("name")]


def endpoints_row(ep: Obj, ctx: Ctx) -> list[Any]:
    pairs = []
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for addr in subset.get("addresses") or []:
            for port in ports:
                pairs.append(f"{addr.get('ip')}:{port['port']}" if "port" in port else addr.get("ip"))
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "") if pairs else "<none>"
    return [_meta(ep).get("name"), text, ctx.age(_meta(ep).get("creationTimestamp"))]


def endpointslice_row(es: Obj, ctx: Ctx) -> list[Any]:
    ports = ",".join(str(p.get("port", "")) for p in es.get("ports") or []) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") if addrs else "<unset>"
    return [_meta(es).get("name"), es.get("addressType", ""), ports, text, ctx.age(_meta(es).get("creationTimestamp"))]


def storageclass_row(sc: Obj, ctx: Ctx) -> list[Any]:
    meta = _meta(sc)
    name = meta.get("name", "")
    if (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy", "Delete"), sc.get("volumeBindingMode", "Immediate"),
            bool(sc.get("allowVolumeExpansion", False)), ctx.age(meta.get("creationTimestamp"))]


def lease_row(lease: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(lease).get("name"), (lease.get("spec") or {}).get("holderIdentity", ""),
            ctx.age(_meta(lease).get("creationTimestamp"))]


def controllerrevision_row(cr: Obj, ctx: Ctx) -> list[Any]:
    owner = next((o for o in _meta(cr).get("ownerReferences") or [] if o.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").split("/")[0] if "/" in owner.get("apiVersion", "") else ""
        controller = f"{owner['kind'].lower()}.{group}/{owner['name']}" if group else f"{owner['kind'].lower()}/{owner['name']}"
    return [_meta(cr).get("name"), controller, cr.get("revision", 0), ctx.age(_meta(cr).get("creationTimestamp"))]


def pvc_row(pvc: Obj, ctx: Ctx) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    modes = ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                      "ReadWriteOncePod": "RWOP"}.get(m, m) for m in status.get("accessModes") or [])
    return [_meta(pvc).get("name"), status.get("phase", ""), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", ""), modes, spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>", ctx.age(_meta(pvc).get("creationTimestamp")),
            spec.get("volumeMode", "Filesystem")]


def default_row(obj: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(obj).get("name"), ctx.age(_meta(obj).get("creationTimestamp"))]


S, I, B = "string", "integer", "boolean"
C = ("Names of each container in the template.", "Images referenced by each container in the template.")
PRINTERS: dict[str, Printer] = {
    "Pod": Printer([("Name", S, 0, NAME_DESC), ("Ready", S, 0, "The aggregate readiness state of this pod for accepting traffic."),
                    ("Status", S, 0, "The aggregate status of the containers in this pod."),
                    ("Restarts", S, 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
                    ("Age", S, 0, AGE_DESC), ("IP", S, 1, "podIP is the IP address allocated to the pod."),
                    ("Node", S, 1, "NodeName indicates in which node this pod is scheduled."),
                    ("Nominated Node", S, 1, "nominatedNodeName is set when this pod preempts other pods on the node."),
                    ("Readiness Gates", S, 1, "If specified, all readiness gates will be evaluated for pod readiness.")], pod_row),
    "Node": Printer([("Name", S, 0, NAME_DESC), ("Status", S, 0, "The status of the node"), ("Roles", S, 0, "The roles of the node"),
                     ("Age", S, 0, AGE_DESC), ("Version", S, 0, "Kubelet Version reported by the node."),
                     ("Internal-IP", S, 1, "List of addresses reachable to the node."),
                     ("External-IP", S, 1, "List of addresses reachable to the node."),
                     ("OS-Image", S, 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                     ("Kernel-Version", S, 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                     ("Container-Runtime", S, 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).")], node_row),
    "Service": Printer([("Name", S, 0, NAME_DESC), ("Type", S, 0, "type determines how the Service is exposed."),
                        ("Cluster-IP", S, 0, "clusterIP is the IP address of the service."),
                        ("External-IP", S, 0, "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                        ("Port(s)", S, 0, "The list of ports that are exposed by this service."), ("Age", S, 0, AGE_DESC),
                        ("Selector", S, 1, "Route service traffic to pods with label keys and values matching this selector.")], service_row),
    "Deployment": Printer([("Name", S, 0, NAME_DESC), ("Ready", S, 0, "Number of the pod with ready state"),
                           ("Up-to-date", I, 0, "Total number of non-terminating pods targeted by this deployment that have the desired template spec."),
                           ("Available", I, 0, "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment."),
                           ("Age", S, 0, AGE_DESC), ("Containers", S, 1, C[0]), ("Images", S, 1, C[1]),
                           ("Selector", S, 1, "Label selector for pods.")], deployment_row),
    "ReplicaSet": Printer([("Name", S, 0, NAME_DESC), ("Desired", I, 0, "Replicas is the number of desired pods."),
                           ("Current", I, 0, "Replicas is the most recently observed number of non-terminating pods."),
                           ("Ready", I, 0, "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
                           ("Age", S, 0, AGE_DESC), ("Containers", S, 1, C[0]), ("Images", S, 1, C[1]),
                           ("Selector", S, 1, "Selector is a label query over pods that should match the replica count.")], replicaset_row),
    "DaemonSet": Printer([("Name", S, 0, NAME_DESC), ("Desired", I, 0, "The total number of nodes that should be running the daemon pod."),
                          ("Current", I, 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
                          ("Ready", I, 0, "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
                          ("Up-to-date", I, 0, "The total number of nodes that are running updated daemon pod"),
                          ("Available", I, 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                          ("Node Selector", S, 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
                          ("Age", S, 0, AGE_DESC), ("Containers", S, 1, C[0]), ("Images", S, 1, C[1]),
                          ("Selector", S, 1, "A label query over pods that are managed by the daemon set.")], daemonset_row),
    "StatefulSet": Printer([("Name", S, 0, NAME_DESC), ("Ready", S, 0, "Number of the pod with ready state"),
                            ("Age", S, 0, AGE_DESC), ("Containers", S, 1, C[0]), ("Images", S, 1, C[1])], statefulset_row),
    "Job": Printer([("Name", S, 0, NAME_DESC), ("Status", S, 0, "Status of the job."),
                    ("Completions", S, 0, "The completion status of the job."),
                    ("Duration", S, 0, "Time required to complete the job."), ("Age", S, 0, AGE_DESC),
                    ("Containers", S, 1, C[0]), ("Images", S, 1, C[1]),
                    ("Selector", S, 1, "A label query over pods that should match the pod count.")], job_row),
    "CronJob": Printer([("Name", S, 0, NAME_DESC), ("Schedule", S, 0, "The schedule in Cron format."),
                        ("Timezone", S, 0, "The time zone name for the given schedule."),
                        ("Suspend", B, 0, "This flag tells the controller to suspend subsequent executions."),
                        ("Active", I, 0, "A list of pointers to currently running jobs."),
                        ("Last Schedule", S, 0, "Information when was the last time the job was successfully scheduled."),
                        ("Age", S, 0, AGE_DESC), ("Containers", S, 1, C[0]), ("Images", S, 1, C[1]),
                        ("Selector", S, 1, "A label query over pods that should match the pod count.")], cronjob_row),
    "HorizontalPodAutoscaler": Printer([("Name", S, 0, NAME_DESC), ("Reference", S, 0, "Reference to the target resource."),
                                        ("Targets", S, 0, "The current and target metrics."),
                                        ("MinPods", S, 0, "Lower limit for the number of pods."),
                                        ("MaxPods", I, 0, "Upper limit for the number of pods."),
                                        ("Replicas", I, 0, "Current number of replicas of pods managed by this autoscaler."),
                                        ("Age", S, 0, AGE_DESC)], hpa_row),
    "Namespace": Printer([("Name", S, 0, NAME_DESC), ("Status", S, 0, "The status of the namespace"), ("Age", S, 0, AGE_DESC)], namespace_row),
    "ConfigMap": Printer([("Name", S, 0, NAME_DESC), ("Data", I, 0, "Data contains the configuration data."), ("Age", S, 0, AGE_DESC)], configmap_row),
    "Secret": Printer([("Name", S, 0, NAME_DESC), ("Type", S, 0, "The type of the secret"),
                       ("Data", I, 0, "The number of entries in the secret"), ("Age", S, 0, AGE_DESC)], secret_row),
    "ServiceAccount": Printer([("Name", S, 0, NAME_DESC), ("Secrets", I, 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
                               ("Age", S, 0, AGE_DESC)], serviceaccount_row),
    "Event": Printer([("Last Seen", S, 0, "The time at which the most recent occurrence of this event was recorded."),
                      ("Type", S, 0, "Type of this event (Normal, Warning), new types could be added in the future."),
                      ("Reason", S, 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                      ("Object", S, 0, "The object that this event is about."),
                      ("Subobject", S, 1, "The field of the object that this event is about."),
                      ("Source", S, 1, "The component reporting this event. Should be a short machine understandable string."),
                      ("Message", S, 0, "A human-readable description of the status of this operation."),
                      ("First Seen", S, 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
                      ("Count", S, 1, "The number of times this event has occurred."),
                      ("Name", S, 1, NAME_DESC)], event_row),
    "Endpoints": Printer([("Name", S, 0, NAME_DESC), ("Endpoints", S, 0, "The set of all endpoints is the union of all subsets."),
                          ("Age", S, 0, AGE_DESC)], endpoints_row),
    "EndpointSlice": Printer([("Name", S, 0, NAME_DESC), ("AddressType", S, 0, "The IP protocol for this slice"),
                              ("Ports", S, 0, "The ports for this slice"), ("Endpoints", S, 0, "The endpoints for this slice"),
                              ("Age", S, 0, AGE_DESC)], endpointslice_row),
    "StorageClass": Printer([("Name", S, 0, NAME_DESC), ("Provisioner", S, 0, "Indicates the type of the provisioner."),
                             ("ReclaimPolicy", S, 0, "Indicates the type of the reclaim policy."),
                             ("VolumeBindingMode", S, 0, "Indicates when volume binding and dynamic provisioning should occur."),
                             ("AllowVolumeExpansion", S, 0, "Indicates whether the storage class allow volume expand."),
                             ("Age", S, 0, AGE_DESC)], storageclass_row),
    "Lease": Printer([("Name", S, 0, NAME_DESC), ("Holder", S, 0, "holderIdentity contains the identity of the holder of a current lease."),
                      ("Age", S, 0, AGE_DESC)], lease_row),
    "ControllerRevision": Printer([("Name", S, 0, NAME_DESC), ("Controller", S, 0, "Controller of the object"),
                                   ("Revision", I, 0, "Revision indicates the revision of the state represented by Data."),
                                   ("Age", S, 0, AGE_DESC)], controllerrevision_row),
    "PersistentVolumeClaim": Printer([("Name", S, 0, NAME_DESC), ("Status", S, 0, "Phase of the claim."),
                                      ("Volume", S, 0, "The binding reference to the PersistentVolume backing this claim."),
                                      ("Capacity", S, 0, "The actual resources of the underlying volume."),
                                      ("Access Modes", S, 0, "The access modes the volume has."),
                                      ("StorageClass", S, 0, "The storage class of the claim."),
                                      ("VolumeAttributesClass", S, 0, "The volume attributes class of the claim."),
                                      ("Age", S, 0, AGE_DESC), ("VolumeMode", S, 1, "The volume mode of the claim.")], pvc_row),
}
DEFAULT = Printer([("Name", S, 0, NAME_DESC), ("Age", S, 0, AGE_DESC)], default_row)


def partial(obj: Obj) -> Obj:
    """PartialObjectMetadata, the row ``object`` kubectl uses for -A, --show-labels and -L."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(kind: str, objects: list[Obj], now: datetime, include: str = "Metadata",
          list_meta: Obj | None = None, headers: bool = True) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include`` is None, Metadata or Object."""
    printer = PRINTERS.get(kind, DEFAULT)
    ctx = Ctx(now)
    width = len(printer.columns)
    rows = []
    for obj in objects:
        cells = printer.row(obj, ctx)[:width]
        row: Obj = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial(obj)
        rows.append(row)
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {}}
    out["columnDefinitions"] = printer.definitions() if headers else []
    out["rows"] = rows
    return out
