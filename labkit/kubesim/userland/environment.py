"""A container's environment, built as the kubelet (``makeEnvironmentVariables``) and the runtime
build it, and ``$(VAR)`` expansion as the kubelet does it for ``env`` values, ``command`` and ``args``.

The rules, in order:
1. service variables: for every Service of the pod's namespace that has a ClusterIP and existed
   when the container started (``enableServiceLinks``, default true), ``NAME_SERVICE_HOST``,
   ``NAME_SERVICE_PORT`` (+ ``_PORTNAME`` per named port) and the Docker-link variables
   ``NAME_PORT``, ``NAME_PORT_80_TCP{,_PROTO,_PORT,_ADDR}``; the ``kubernetes`` Service of
   ``default`` always (``KUBERNETES_SERVICE_HOST=10.96.0.1`` ...);
2. ``envFrom`` in order (ConfigMap or Secret, ``prefix``; keys that are not valid variable names
   are skipped and reported as the ``InvalidEnvironmentVariableNames`` event says);
3. ``env`` in order: ``value`` with ``$(VAR)`` expanded from the variables so far and the service
   variables (``$$`` is a literal ``$``; an unknown ``$(X)`` stays as written), or ``valueFrom``.
   A later name replaces an earlier one.
The runtime then sets PATH (the OCI default or the image's), HOSTNAME, the image's ENV lines, the
kubelet's variables (a name the image set is replaced in place), and HOME when none is set (runc).
Go iterates maps in random order; we use definition order, then the service variables, which is
one of the orders a real container can show.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from . import cluster, downward
from .families import Family

Obj = dict[str, Any]
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
MASTER_SERVICES = ("kubernetes",)
Lookup = Callable[[str, str, str], "dict[str, Any] | None"]


@dataclass
class Environment:
    """What the kubelet computed: the runtime's final list, the kubelet's own part (which is what
    ``$(VAR)`` in ``command``/``args`` sees), and what went wrong."""

    env: dict[str, str] = field(default_factory=dict)
    kubelet: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def expand(text: str, *mappings: dict[str, str]) -> str:
    """``$(VAR)`` expansion of third_party/forked/golang/expansion: ``$$`` -> ``$``, an unknown or
    unterminated reference stays as written, any other ``$x`` is kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    name = text[i + 2:close]
                    for m in mappings:
                        if name in m:
                            out.append(m[name])
                            break
                    else:
                        out.append("$(" + name + ")")
                    i = close + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _var_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_variables(services: list[Obj]) -> dict[str, str]:
    """envvars.FromServices for these Services (those without a ClusterIP give nothing)."""
    out: dict[str, str] = {}
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        ports = spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = _var_name(svc["metadata"]["name"])
        out[prefix + "_SERVICE_HOST"] = ip
        out[prefix + "_SERVICE_PORT"] = str(ports[0].get("port"))
        for p in ports:
            if p.get("name"):
                out[prefix + "_SERVICE_PORT_" + _var_name(p["name"])] = str(p.get("port"))
        for i, p in enumerate(ports):
            proto = (p.get("protocol") or "TCP").upper()
            url = f"{proto.lower()}://{ip}:{p.get('port')}"
            if i == 0:
                out[prefix + "_PORT"] = url
            pp = f"{prefix}_PORT_{p.get('port')}_{proto}"
            out[pp] = url
            out[pp + "_PROTO"] = proto.lower()
            out[pp + "_PORT"] = str(p.get("port"))
            out[pp + "_ADDR"] = ip
    return out


def _services_for(store: Any, pod: Obj, started_at: float | None) -> list[Obj]:
    """getServiceEnvVarMap: the pod namespace's Services (with service links) and the master
    ``kubernetes`` Service, those created by the time the container started."""
    ns = pod["metadata"].get("namespace") or "default"
    links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
    chosen: dict[str, Obj] = {}

    def existed(svc: Obj) -> bool:
        created = cluster.seconds(svc["metadata"].get("creationTimestamp"))
        return started_at is None or created is None or created <= started_at + 0.999

    for svc in cluster.listing(store, "/services", "default"):
        if svc["metadata"]["name"] in MASTER_SERVICES and existed(svc):
            chosen[svc["metadata"]["name"]] = svc
    if links:
        for svc in cluster.listing(store, "/services", ns):
            if existed(svc) and not (ns == "default" and svc["metadata"]["name"] in MASTER_SERVICES):
                chosen[svc["metadata"]["name"]] = svc
    return [chosen[n] for n in sorted(chosen, key=lambda n: (n in MASTER_SERVICES, n))]


def _value_from(store: Any, pod: Obj, container: Obj, src: Obj, cache: dict, env: Environment, lookup: Lookup) -> str | None:
    """A ``valueFrom`` source's value; None to skip the variable (optional and missing, or an error
    recorded in ``env.errors``)."""
    ns = pod["metadata"].get("namespace") or "default"
    if src.get("fieldRef"):
        return downward.field_value(pod, src["fieldRef"].get("fieldPath", "")) or ""
    if src.get("resourceFieldRef"):
        ref = src["resourceFieldRef"]
        value = downward.resource_value(store, pod, container, ref.get("resource", ""), ref.get("divisor"))
        if value is None:
            env.errors.append(f"unsupported container resource : {ref.get('resource', '')!r}")
        return value
    for kind, key_name, word, get in (("configMapKeyRef", "/configmaps", "configmap", lambda o: {k: str(v) for k, v in (o.get("data") or {}).items()}),
                                      ("secretKeyRef", "/secrets", "secret", lambda o: {k: v.decode(errors="replace") for k, v in cluster.secret_data(o).items()})):
        ref = src.get(kind)
        if not ref:
            continue
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        if (word, name) not in cache:
            cache[(word, name)] = lookup(key_name, ns, name)
        obj = cache[(word, name)]
        if obj is None:
            if not optional:
                env.errors.append(f'{word} "{name}" not found')
            return None
        data = get(obj)
        if key not in data:
            if not optional:
                env.errors.append(f"couldn't find key {key} in {'ConfigMap' if word == 'configmap' else 'Secret'} {ns}/{name}")
            return None
        return data[key]
    return None


def build(store: Any, pod: Obj, container: Obj, family: Family, hostname: str, started_at: float | None,
          lookup: Lookup | None = None) -> Environment:
    """The environment of ``container`` (its spec) in ``pod``; errors stop at the first one, as the
    kubelet's does (it returns the first error it meets)."""
    env = Environment()
    if lookup is None:
        def lookup(key: str, namespace: str, name: str) -> Obj | None:
            return cluster.find(store, key, namespace, name)
    ns = pod["metadata"].get("namespace") or "default"
    service_env = service_variables(_services_for(store, pod, started_at))
    tmp: dict[str, str] = {}
    cache: dict = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix") or ""
        for kind, key_name, word, Kind in (("configMapRef", "/configmaps", "configmap", "configMap"), ("secretRef", "/secrets", "secret", "secret")):
            ref = src.get(kind)
            if not ref:
                continue
            name, optional = ref.get("name", ""), bool(ref.get("optional"))
            obj = lookup(key_name, ns, name)
            if obj is None:
                if not optional:
                    env.errors.append(f'{word} "{name}" not found')
                    return env
                continue
            data = ({k: str(v) for k, v in (obj.get("data") or {}).items()} if word == "configmap"
                    else {k: v.decode(errors="replace") for k, v in cluster.secret_data(obj).items()})
            invalid = []
            for key, value in data.items():
                full = prefix + key
                if not ENV_NAME.match(full):
                    invalid.append(full)
                    continue
                tmp[full] = value
            if invalid:
                invalid.sort()
                env.warnings.append(f"Keys [{', '.join(invalid)}] from the EnvFrom {Kind} {ns}/{name} were skipped "
                                    "since they are considered invalid environment variable names.")
    for var in container.get("env") or []:
        name = var.get("name")
        if not name:
            continue
        value = var.get("value") or ""
        if value:
            value = expand(value, tmp, service_env)
        elif var.get("valueFrom"):
            got = _value_from(store, pod, container, var["valueFrom"], cache, env, lookup)
            if env.errors:
                return env
            if got is None:
                continue
            value = got
        tmp[name] = value
    kubelet = dict(tmp)
    for k, v in service_env.items():
        kubelet.setdefault(k, v)
    env.kubelet = kubelet
    final: dict[str, str] = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": hostname}
    for k, v in family.env:
        final[k] = v
    if container.get("tty"):
        final["TERM"] = "xterm"
    for k, v in kubelet.items():
        final[k] = v
    final.setdefault("HOME", "/root")
    env.env = final
    return env


def expand_command(argv: list[str] | None, kubelet_env: dict[str, str]) -> list[str]:
    """ExpandContainerCommandAndArgs: ``$(VAR)`` in ``command`` and ``args`` from the kubelet's
    variables (not the image's ENV: the kubelet does not know them)."""
    return [expand(a, kubelet_env) for a in argv or []]
