"""The cells of each kind's row in ``kubectl get``: one function per kind, named in data/printers.yaml.

Why code and not data: a pod's READY, STATUS and RESTARTS, a node's ROLES or a binding's
subjects come out of one look at the whole object, the way the Kubernetes printers
(pkg/printers/internalversion/printers.go) compute them. ``tables`` reads the YAML, checks
every name in it against ``ROWS`` and builds the Table.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from .clock import parse
from .selectors import selector_string

Obj = dict[str, Any]


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


ROWS: dict[str, Callable[[Obj, "Ctx"], list[Any]]] = {}


def row(name: str) -> Callable[[Callable[[Obj, "Ctx"], list[Any]]], Callable[[Obj, "Ctx"], list[Any]]]:
    """Register a row function under the name ``data/printers.yaml`` uses for it."""
    def register(fn: Callable[[Obj, "Ctx"], list[Any]]) -> Callable[[Obj, "Ctx"], list[Any]]:
        ROWS[name] = fn
        return fn
    return register


# ---- pods ---------------------------------------------------------------------------------
@row("pod")
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


@row("node")
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


@row("service")
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


@row("deployment")
def deployment_row(d: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(d), d.get("spec") or {}, d.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), ctx.age(meta.get("creationTimestamp")),
            names, images, _selector(spec.get("selector"))]


def _replicas_row(obj: Obj, ctx: Ctx, selector: str) -> list[Any]:
    """DESIRED, CURRENT, READY: a ReplicaSet's row, and a ReplicationController's."""
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            ctx.age(meta.get("creationTimestamp")), names, images, selector]


@row("replicaset")
def replicaset_row(rs: Obj, ctx: Ctx) -> list[Any]:
    return _replicas_row(rs, ctx, _selector((rs.get("spec") or {}).get("selector")))


@row("daemonset")
def daemonset_row(ds: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(ds), ds.get("spec") or {}, ds.get("status") or {}
    names, images = _containers(spec)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [meta.get("name"), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            _labels(node_selector), ctx.age(meta.get("creationTimestamp")), names, images, _selector(spec.get("selector"))]


@row("statefulset")
def statefulset_row(s: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(s), s.get("spec") or {}, s.get("status") or {}
    names, images = _containers(spec)
    return [meta.get("name"), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            ctx.age(meta.get("creationTimestamp")), names, images]


@row("job")
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


@row("cronjob")
def cronjob_row(cj: Obj, ctx: Ctx) -> list[Any]:
    meta, spec, status = _meta(cj), cj.get("spec") or {}, cj.get("status") or {}
    names, images = _containers((spec.get("jobTemplate") or {}).get("spec") or {})
    last = ctx.age(status["lastScheduleTime"]) if status.get("lastScheduleTime") else "<none>"
    return [meta.get("name"), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "True" if spec.get("suspend") else "False", len(status.get("active") or []), last,
            ctx.age(meta.get("creationTimestamp")), names, images, _selector((spec.get("jobTemplate") or {}).get("spec", {}).get("selector"))]


@row("hpa")
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


@row("namespace")
def namespace_row(ns: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(ns).get("name"), (ns.get("status") or {}).get("phase", ""), ctx.age(_meta(ns).get("creationTimestamp"))]


@row("configmap")
def configmap_row(cm: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(cm).get("name"), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
            ctx.age(_meta(cm).get("creationTimestamp"))]


@row("secret")
def secret_row(s: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(s).get("name"), s.get("type", ""), len(s.get("data") or {}), ctx.age(_meta(s).get("creationTimestamp"))]


@row("serviceaccount")
def serviceaccount_row(sa: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(sa).get("name"), len(sa.get("secrets") or []), ctx.age(_meta(sa).get("creationTimestamp"))]


@row("event")
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


@row("endpoints")
def endpoints_row(ep: Obj, ctx: Ctx) -> list[Any]:
    pairs = []
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for addr in subset.get("addresses") or []:
            for port in ports:
                pairs.append(f"{addr.get('ip')}:{port['port']}" if "port" in port else addr.get("ip"))
    text = ",".join(pairs[:3]) + (f" + {len(pairs) - 3} more..." if len(pairs) > 3 else "") if pairs else "<none>"
    return [_meta(ep).get("name"), text, ctx.age(_meta(ep).get("creationTimestamp"))]


@row("endpointslice")
def endpointslice_row(es: Obj, ctx: Ctx) -> list[Any]:
    ports = ",".join(str(p.get("port", "")) for p in es.get("ports") or []) or "<unset>"
    addrs = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    text = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "") if addrs else "<unset>"
    return [_meta(es).get("name"), es.get("addressType", ""), ports, text, ctx.age(_meta(es).get("creationTimestamp"))]


@row("storageclass")
def storageclass_row(sc: Obj, ctx: Ctx) -> list[Any]:
    meta = _meta(sc)
    name = meta.get("name", "")
    if (meta.get("annotations") or {}).get("storageclass.kubernetes.io/is-default-class") == "true":
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy", "Delete"), sc.get("volumeBindingMode", "Immediate"),
            bool(sc.get("allowVolumeExpansion", False)), ctx.age(meta.get("creationTimestamp"))]


@row("lease")
def lease_row(lease: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(lease).get("name"), (lease.get("spec") or {}).get("holderIdentity", ""),
            ctx.age(_meta(lease).get("creationTimestamp"))]


@row("controllerrevision")
def controllerrevision_row(cr: Obj, ctx: Ctx) -> list[Any]:
    owner = next((o for o in _meta(cr).get("ownerReferences") or [] if o.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").split("/")[0] if "/" in owner.get("apiVersion", "") else ""
        controller = f"{owner['kind'].lower()}.{group}/{owner['name']}" if group else f"{owner['kind'].lower()}/{owner['name']}"
    return [_meta(cr).get("name"), controller, cr.get("revision", 0), ctx.age(_meta(cr).get("creationTimestamp"))]


@row("pvc")
def pvc_row(pvc: Obj, ctx: Ctx) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    modes = ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                      "ReadWriteOncePod": "RWOP"}.get(m, m) for m in status.get("accessModes") or [])
    return [_meta(pvc).get("name"), status.get("phase", ""), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", ""), modes, spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>", ctx.age(_meta(pvc).get("creationTimestamp")),
            spec.get("volumeMode", "Filesystem")]


# ---- policy, RBAC and networking ---------------------------------------------------------
@row("pdb")
def pdb_row(pdb: Obj, ctx: Ctx) -> list[Any]:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    return [_meta(pdb).get("name"), str(spec["minAvailable"]) if "minAvailable" in spec else "N/A",
            str(spec["maxUnavailable"]) if "maxUnavailable" in spec else "N/A",
            status.get("disruptionsAllowed", 0), ctx.age(_meta(pdb).get("creationTimestamp"))]


@row("replicationcontroller")
def replicationcontroller_row(rc: Obj, ctx: Ctx) -> list[Any]:
    """A ReplicationController's selector is a plain map of labels, not a label selector."""
    return _replicas_row(rc, ctx, _labels((rc.get("spec") or {}).get("selector")))


@row("role")
def role_row(role: Obj, ctx: Ctx) -> list[Any]:
    """Roles print when they were made (RFC 3339, UTC), not an age."""
    stamp = _meta(role).get("creationTimestamp")
    return [_meta(role).get("name"), parse(stamp).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else ""]


def _subjects(binding: Obj) -> tuple[str, str, str]:
    users, groups, accounts = [], [], []
    for subject in binding.get("subjects") or []:
        kind, name = subject.get("kind"), subject.get("name", "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{subject.get('namespace', '')}/{name}")
    return ", ".join(users), ", ".join(groups), ", ".join(accounts)


@row("rolebinding")
def rolebinding_row(binding: Obj, ctx: Ctx) -> list[Any]:
    ref = binding.get("roleRef") or {}
    return [_meta(binding).get("name"), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            ctx.age(_meta(binding).get("creationTimestamp")), *_subjects(binding)]


@row("networkpolicy")
def networkpolicy_row(policy: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(policy).get("name"), _selector((policy.get("spec") or {}).get("podSelector")),
            ctx.age(_meta(policy).get("creationTimestamp"))]


@row("ingress")
def ingress_row(ingress: Obj, ctx: Ctx) -> list[Any]:
    spec = ingress.get("spec") or {}
    hosts = [rule["host"] for rule in spec.get("rules") or [] if rule.get("host")]
    shown = ",".join(hosts[:4]) + (f" + {len(hosts) - 4} more..." if len(hosts) > 4 else "") if hosts else "*"
    points = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(p.get("ip") or p.get("hostname", "") for p in points)
    return [_meta(ingress).get("name"), spec.get("ingressClassName") or "<none>", shown, address,
            "80, 443" if spec.get("tls") else "80", ctx.age(_meta(ingress).get("creationTimestamp"))]


@row("ingressclass")
def ingressclass_row(ingress_class: Obj, ctx: Ctx) -> list[Any]:
    spec = ingress_class.get("spec") or {}
    parameters = "<none>"
    if spec.get("parameters"):
        ref = spec["parameters"]
        parameters = ref.get("kind", "") + (f".{ref['apiGroup']}" if ref.get("apiGroup") else "") + f"/{ref.get('name', '')}"
    return [_meta(ingress_class).get("name"), spec.get("controller", ""), parameters,
            ctx.age(_meta(ingress_class).get("creationTimestamp"))]


@row("default")
def default_row(obj: Obj, ctx: Ctx) -> list[Any]:
    return [_meta(obj).get("name"), ctx.age(_meta(obj).get("creationTimestamp"))]

