"""Regenerate ``data/protobuf-v1.36.json.gz``: protobuf field tables for the kinds kubectl sends.

Why: kubectl's generators (``kubectl create deployment|namespace|configmap|secret|service|job|
serviceaccount...``, ``kubectl autoscale``) build typed objects and POST them as
``application/vnd.kubernetes.protobuf``; that content type is fixed in client-go's typed clients
and there is no fallback to JSON when a server answers 415. To accept those requests the
emulator decodes the protobuf wire format itself (``protobuf.py``), and for that it needs, per
message, the field numbers, names and types. They come from the ``generated.proto`` files of
``k8s.io/api`` and ``k8s.io/apimachinery`` at the tag matching Kubernetes 1.36.1 (v0.36.1).
Their field names are the JSON names, so the table maps a field number straight to a JSON key.

We keep only the messages reachable from the kinds the emulator serves (plus autoscaling/v1's
HorizontalPodAutoscaler and Scale, which ``kubectl autoscale`` and ``/scale`` use), as a small
table: ``{message: {number: [json name, type, label]}}`` where ``type`` is a scalar
(``string``, ``int32``, ``bool``...), a fully qualified message name, or ``map<K,V>``, and
``label`` is ``optional`` or ``repeated``.

Run (developers only, never at course time), with clones of the two repositories::

    python -m labkit.kubesim.protogen /path/to/kubernetes/api /path/to/kubernetes/apimachinery
"""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TAG = "v0.36.1"
OUT = Path(__file__).parent / "data" / "protobuf-v1.36.json.gz"
API_FILES = ["core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "storage/v1",
             "coordination/v1", "discovery/v1", "policy/v1"]
MACHINERY_FILES = ["pkg/apis/meta/v1", "pkg/api/resource", "pkg/util/intstr", "pkg/runtime",
                   "pkg/runtime/schema"]
# (proto message, the apiVersion/kind it is sent as): the roots of the table
ROOTS = {
    "k8s.io.api.core.v1.Namespace": "v1/Namespace", "k8s.io.api.core.v1.Pod": "v1/Pod",
    "k8s.io.api.core.v1.Service": "v1/Service", "k8s.io.api.core.v1.ConfigMap": "v1/ConfigMap",
    "k8s.io.api.core.v1.Secret": "v1/Secret", "k8s.io.api.core.v1.ServiceAccount": "v1/ServiceAccount",
    "k8s.io.api.core.v1.Endpoints": "v1/Endpoints", "k8s.io.api.core.v1.Event": "v1/Event",
    "k8s.io.api.core.v1.Node": "v1/Node", "k8s.io.api.core.v1.PersistentVolumeClaim": "v1/PersistentVolumeClaim",
    "k8s.io.api.core.v1.PersistentVolume": "v1/PersistentVolume",
    "k8s.io.api.apps.v1.Deployment": "apps/v1/Deployment", "k8s.io.api.apps.v1.ReplicaSet": "apps/v1/ReplicaSet",
    "k8s.io.api.apps.v1.DaemonSet": "apps/v1/DaemonSet", "k8s.io.api.apps.v1.StatefulSet": "apps/v1/StatefulSet",
    "k8s.io.api.apps.v1.ControllerRevision": "apps/v1/ControllerRevision",
    "k8s.io.api.batch.v1.Job": "batch/v1/Job", "k8s.io.api.batch.v1.CronJob": "batch/v1/CronJob",
    "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler": "autoscaling/v1/HorizontalPodAutoscaler",
    "k8s.io.api.autoscaling.v1.Scale": "autoscaling/v1/Scale",
    "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler": "autoscaling/v2/HorizontalPodAutoscaler",
    "k8s.io.api.storage.v1.StorageClass": "storage.k8s.io/v1/StorageClass",
    "k8s.io.api.coordination.v1.Lease": "coordination.k8s.io/v1/Lease",
    "k8s.io.api.discovery.v1.EndpointSlice": "discovery.k8s.io/v1/EndpointSlice",
    "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions": "v1/DeleteOptions",
}


def roots() -> dict[str, str]:
    """The fixed roots above plus every served resource with a schema (data/resources.yaml)."""
    from .resources import load
    out = dict(ROOTS)
    for res in load():
        if res.schema and res.schema.startswith("io.k8s.api."):
            out.setdefault("k8s.io.api." + res.schema[len("io.k8s.api."):], f"{res.api_version}/{res.kind}")
    return out


def api_files() -> list[str]:
    """The k8s.io/api folders holding the roots' messages (``k8s.io.api.rbac.v1.Role``: rbac/v1)."""
    out = list(API_FILES)
    for message in roots():
        if message.startswith("k8s.io.api."):
            folder = "/".join(message.split(".")[3:5])
            if folder not in out:
                out.append(folder)
    return out


FIELD = re.compile(r"^\s*(optional|repeated)?\s*([\w.<>, ]+?)\s+(\w+)\s*=\s*(\d+)\s*;")
MAP = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse(text: str) -> dict[str, dict[str, list[str]]]:
    """Messages of one generated.proto (they are flat: no nested messages, no oneofs)."""
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
    messages: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.split("//")[0]
        start = re.match(r"^message\s+(\w+)\s*{", line)
        if start:
            current = messages.setdefault(f"{package}.{start.group(1)}", {})
            continue
        if line.startswith("}"):
            current = None
            continue
        if current is None:
            continue
        m = MAP.match(line)
        if m:
            current[m.group(4)] = [m.group(3), f"map<{_qualify(m.group(1), package)},{_qualify(m.group(2), package)}>", "optional"]
            continue
        f = FIELD.match(line)
        if f:
            current[f.group(4)] = [f.group(3), _qualify(f.group(2).strip(), package), f.group(1) or "optional"]
    return messages


SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float", "sint32", "sint64",
           "fixed32", "fixed64", "sfixed32", "sfixed64"}


def _qualify(name: str, package: str) -> str:
    if name in SCALARS:
        return name
    if name.startswith("."):
        return name[1:]
    return f"{package}.{name}"


INLINE = re.compile(r'^\s*[\w.]+\s+`json:",inline"\s+protobuf:"bytes,(\d+),')


def inline_fields(types_go: str, package: str) -> dict[str, list[str]]:
    """Embedded structs that JSON inlines (``json:",inline"``: Volume's VolumeSource,
    IngressRule's IngressRuleValue...): protobuf carries them as a nested message, JSON as the
    parent's own fields. Returns {message: [field numbers]} from one package's types.go."""
    out: dict[str, list[str]] = {}
    current = None
    for line in types_go.splitlines():
        start = re.match(r"^type\s+(\w+)\s+struct\s*{", line)
        if start:
            current = f"{package}.{start.group(1)}"
            continue
        if line.startswith("}"):
            current = None
            continue
        m = INLINE.match(line)
        if current and m:
            out.setdefault(current, []).append(m.group(1))
    return out


def reachable(messages: dict[str, dict[str, list[str]]], roots: list[str]) -> dict[str, dict[str, list[str]]]:
    keep: dict[str, dict[str, list[str]]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in keep or name not in messages:
            continue
        keep[name] = messages[name]
        for _, type_, _ in messages[name].values():
            for part in re.findall(r"[\w.]+", type_.replace("map<", "").replace(">", "")):
                if part not in SCALARS and part not in keep:
                    todo.append(part)
    return dict(sorted(keep.items()))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    api, machinery = argv
    messages: dict[str, dict[str, list[str]]] = {}
    inline: dict[str, list[str]] = {}
    for repo, files in ((api, api_files()), (machinery, MACHINERY_FILES)):
        for folder in files:
            text = subprocess.run(["git", "-C", repo, "show", f"{TAG}:{folder}/generated.proto"],
                                  capture_output=True, text=True, check=True).stdout
            messages.update(parse(text))
            if repo == api:
                go = subprocess.run(["git", "-C", repo, "show", f"{TAG}:{folder}/types.go"],
                                    capture_output=True, text=True, check=True).stdout
                inline.update(inline_fields(go, "k8s.io.api." + folder.replace("/", ".")))
    kept = reachable(messages, list(roots()))
    table: dict[str, Any] = {"source": f"k8s.io/api and k8s.io/apimachinery {TAG} generated.proto",
                             "roots": roots(), "messages": kept}
    table["inline"] = {name: numbers for name, numbers in sorted(inline.items()) if name in kept}
    OUT.write_bytes(gzip.compress(json.dumps(table, sort_keys=True, separators=(",", ":")).encode(), mtime=0))
    print(f"wrote {OUT} ({len(table['messages'])} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
