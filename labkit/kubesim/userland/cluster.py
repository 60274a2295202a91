"""Reads of the objects a container's userland is built from (ConfigMaps, Secrets, Services,
endpoints, nodes, pods), by resource key, without going through HTTP.

Why one place: every module of the userland reads the store the same way, and a missing object
is ``None`` here, never an exception (the callers turn it into the kubelet's wording).
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from .. import resources

Obj = dict[str, Any]


def find(store: Any, key: str, namespace: str, name: str) -> Obj | None:
    """The stored object, or None."""
    try:
        return store.find(resources.get(key), namespace, name)
    except Exception:  # an unknown key or a store without it: nothing there
        return None


def listing(store: Any, key: str, namespace: str | None = None) -> list[Obj]:
    """Stored objects of a resource (all namespaces when ``namespace`` is None)."""
    try:
        return store.list(resources.get(key), namespace)[0]
    except Exception:
        return []


def secret_data(secret: Obj) -> dict[str, bytes]:
    """A Secret's ``data`` decoded (and ``stringData`` if a writer left it there)."""
    out: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value or "")
        except Exception:
            out[key] = str(value).encode()
    for key, value in (secret.get("stringData") or {}).items():
        out[key] = str(value).encode()
    return out


def configmap_data(cm: Obj) -> dict[str, bytes]:
    """A ConfigMap's ``data`` (text) and ``binaryData`` (base64) as bytes, the files a volume holds."""
    out = {k: str(v).encode() for k, v in (cm.get("data") or {}).items()}
    for key, value in (cm.get("binaryData") or {}).items():
        try:
            out[key] = base64.b64decode(value or "")
        except Exception:
            pass
    return out


def seconds(stamp: str | None) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
