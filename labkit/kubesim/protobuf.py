"""Read Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) as JSON objects.

Why the emulator decodes protobuf: kubectl's generators (``kubectl create deployment web
--image=nginx``, ``create namespace|configmap|secret|service|job|serviceaccount``, ``autoscale``)
send typed objects through client-go's typed clients, whose request content type is protobuf,
fixed at build time; discovery and ``Accept`` negotiation do not change it, and client-go falls
back to JSON after a 415 only for CBOR, not for protobuf. Measured with the kubectl 1.32/1.33
on these machines: the POST carries ``Content-Type: application/vnd.kubernetes.protobuf``
whatever the server advertises. So the only robust way to serve those commands is to read it.

The format (apimachinery ``runtime/serializer/protobuf``): the 4 magic bytes ``k8s\\0``, then a
``runtime.Unknown`` message: field 1 TypeMeta {1 apiVersion, 2 kind}, field 2 the raw bytes of
the typed message, 3 contentEncoding, 4 contentType. The typed message is decoded with the field
tables in ``data/protobuf-v1.36.json.gz`` (made by ``protogen.py`` from the generated.proto files
of k8s.io/api v0.36.1). Go's protobuf marshalling writes every non-pointer field, so zero values
(``""``, ``0``, ``false``, zero times) are dropped as JSON's ``omitempty`` would, except for the
pointer fields in ``KEEP_ZERO`` where an explicit zero means something (``replicas: 0``).
Well-known apimachinery types become their JSON forms: Time -> RFC 3339 string, Quantity ->
string, IntOrString -> int or string, RawExtension -> embedded JSON, FieldsV1 -> object.
"""
from __future__ import annotations

import base64
import gzip
import json
import struct
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
DATA = Path(__file__).parent / "data" / "protobuf-v1.36.json.gz"
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
# pointer fields (Go *int32, *bool...) where an explicit zero differs from "not set"
KEEP_ZERO = frozenset({
    "replicas", "minReplicas", "parallelism", "completions", "backoffLimit", "backoffLimitPerIndex",
    "maxFailedIndexes", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "terminationGracePeriodSeconds",
    "automountServiceAccountToken", "immutable", "suspend", "targetCPUUtilizationPercentage",
    "averageUtilization", "stabilizationWindowSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
    "revisionHistoryLimit", "progressDeadlineSeconds", "startingDeadlineSeconds",
    "gracePeriodSeconds", "orphanDependents", "runAsUser", "runAsGroup", "runAsNonRoot", "privileged",
    "readOnlyRootFilesystem", "allowPrivilegeEscalation", "fsGroup", "hostUsers", "shareProcessNamespace",
    "enableServiceLinks", "tolerationSeconds", "defaultMode", "expirationSeconds", "optional",
})


class ProtobufError(ValueError):
    """The body is not a Kubernetes protobuf message we can read."""


@lru_cache(maxsize=1)
def tables() -> dict[str, Any]:
    return json.loads(gzip.decompress(DATA.read_bytes()))


def message_for(api_version: str, kind: str) -> str | None:
    """The proto message name of an apiVersion/kind, or None when the table lacks it."""
    want = f"{api_version}/{kind}"
    for name, gvk in tables()["roots"].items():
        if gvk == want:
            return name
    return None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """The raw (number, wire type, value) triples of one message."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated length-delimited field")
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _scalar(type_: str, wire: int, value: Any) -> Any:
    if type_ == "string":
        return bytes(value).decode("utf-8", errors="replace")
    if type_ == "bytes":
        return bytes(value)
    if type_ == "bool":
        return bool(value)
    if type_ in ("int32", "int64"):
        return _signed(value, 64)
    if type_ in ("uint32", "uint64"):
        return value
    if type_ == "double":
        return struct.unpack("<d", value)[0]
    if type_ == "float":
        return struct.unpack("<f", value)[0]
    raise ProtobufError(f"unsupported scalar type {type_}")


def _special(name: str, buf: bytes) -> tuple[bool, Any]:
    """The JSON form of apimachinery's well-known types (True, value) or (False, None)."""
    if name in (META + "Time", META + "MicroTime"):
        raw = {n: v for n, _, v in fields(buf)}
        seconds, nanos = _signed(raw.get(1, 0), 64), raw.get(2, 0)
        if not seconds and not nanos:
            return True, None
        moment = datetime.fromtimestamp(seconds + nanos / 1e9, timezone.utc)
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if name.endswith("MicroTime") else "%Y-%m-%dT%H:%M:%SZ"
        return True, moment.strftime(fmt)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        raw = {n: v for n, _, v in fields(buf)}
        return True, bytes(raw.get(1, b"")).decode()
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        raw = {n: v for n, _, v in fields(buf)}
        if raw.get(1, 0) == 1:
            return True, bytes(raw.get(3, b"")).decode()
        return True, _signed(raw.get(2, 0), 64)
    if name == "k8s.io.apimachinery.pkg.runtime.RawExtension":
        raw = {n: v for n, _, v in fields(buf)}
        data = bytes(raw.get(1, b""))
        return True, (json.loads(data) if data else None)
    if name == META + "FieldsV1":
        raw = {n: v for n, _, v in fields(buf)}
        data = bytes(raw.get(1, b""))
        return True, (json.loads(data) if data else {})
    return False, None


def _zero(value: Any) -> bool:
    return value is None or value == "" or value is False or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def decode_message(name: str, buf: bytes, depth: int = 0) -> Any:
    """Decode one typed message to its JSON-shaped value."""
    if depth > 64:
        raise ProtobufError("message nested too deeply")
    done, value = _special(name, buf)
    if done:
        return value
    table = tables()["messages"].get(name)
    if table is None:
        raise ProtobufError(f"no field table for {name}")
    out: dict[str, Any] = {}
    inline = tables().get("inline", {}).get(name, ())
    for number, wire, raw in fields(buf):
        spec = table.get(str(number))
        if spec is None:
            continue  # a field newer than our table: ignored, as an old server would
        key, type_, label = spec
        if type_.startswith("map<"):
            ktype, vtype = type_[4:-1].split(",")
            entry = {n: v for n, _, v in fields(raw)}
            k = _value(ktype, 2, entry.get(1, b"" if ktype == "string" else 0), depth)
            v = _value(vtype, 2, entry.get(2, b"" if vtype in ("string", "bytes") or "." in vtype else 0), depth)
            if vtype == "bytes":
                v = base64.b64encode(v).decode()
            out.setdefault(key, {})[k] = v
            continue
        if label == "repeated":
            if wire == 2 and type_ not in ("string", "bytes") and "." not in type_:
                values = _packed(type_, raw)  # packed repeated scalars
            else:
                values = [_value(type_, wire, raw, depth)]
            out.setdefault(key, []).extend(values)
            continue
        value = _value(type_, wire, raw, depth)
        if str(number) in inline and isinstance(value, dict):
            out.update(value)  # an embedded struct JSON inlines (json:",inline")
            continue
        if type_ == "bytes" and value is not None:
            value = base64.b64encode(value).decode()
        if _zero(value) and key not in KEEP_ZERO:
            out.pop(key, None)
            continue
        out[key] = value
    return out


def _packed(type_: str, raw: bytes) -> list[Any]:
    values = []
    pos = 0
    while pos < len(raw):
        v, pos = _varint(raw, pos)
        values.append(_scalar(type_, 0, v))
    return values


def _value(type_: str, wire: int, raw: Any, depth: int) -> Any:
    if "." in type_:
        return decode_message(type_, bytes(raw), depth + 1)
    return _scalar(type_, wire, raw)


def decode(body: bytes) -> dict[str, Any]:
    """A whole request body (magic + runtime.Unknown envelope) -> the object as JSON would carry it."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf prefix")
    envelope = {n: v for n, _, v in fields(body[len(MAGIC):])}
    type_meta = {n: bytes(v).decode() for n, _, v in fields(bytes(envelope.get(1, b"")))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    encoding = bytes(envelope.get(3, b"")).decode()
    raw = bytes(envelope.get(2, b""))
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    elif encoding:
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    name = message_for(api_version, kind)
    if name is None:
        raise ProtobufError(f"no protobuf table for {api_version}, Kind={kind}")
    obj = decode_message(name, raw)
    obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
