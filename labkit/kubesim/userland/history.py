"""Past versions of ConfigMaps and Secrets, so a container sees them as the kubelet would.

Why: environment variables are read once, when the container starts, and never change; files of a
ConfigMap or Secret volume follow an update only after the kubelet's next sync of the pod (its
``--sync-frequency``, 60 s by default, plus the cache's TTL: kubernetes.io says "as long as the
kubelet sync period + cache propagation delay"); a ``subPath`` mount never follows. So a view at
time t needs the version that was current at an earlier time. Versions seen before the first
``track`` of a store are not known: the version current then stands for all earlier times.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

from . import cluster

Obj = dict[str, Any]
KEYS = ("/configmaps", "/secrets")
SYNC_DELAY = 60.0          # the kubelet's default --sync-frequency: when updated files reach a running pod

_lock = threading.Lock()
_histories: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str], list[tuple[float, Obj | None]]]]" = weakref.WeakKeyDictionary()


def track(store: Any) -> None:
    """Start recording the versions of ConfigMaps and Secrets in ``store`` (idempotent)."""
    with _lock:
        if store in _histories:
            return
        hist: dict[tuple[str, str, str], list[tuple[float, Obj | None]]] = {}
        for key in KEYS:
            for obj in cluster.listing(store, key):
                hist[(key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = [(float("-inf"), obj)]
        _histories[store] = hist
    ref = weakref.ref(store)

    def listen(event: Any) -> None:
        s = ref()
        if s is None or event.resource.key not in KEYS:
            return
        meta = event.obj["metadata"]
        entry = (s.clock.time(), None if event.type == "DELETED" else event.obj)
        with _lock:
            _histories[s].setdefault((event.resource.key, meta.get("namespace", ""), meta["name"]), []).append(entry)

    try:
        store.subscribe(listen)
    except Exception:  # a store without listeners: current versions only
        pass


def as_of(store: Any, key: str, namespace: str, name: str, when: float | None) -> Obj | None:
    """The object as it was at ``when`` (None: now)."""
    if when is None:
        return cluster.find(store, key, namespace, name)
    with _lock:
        versions = list((_histories.get(store) or {}).get((key, namespace, name), ()))
    if not versions:
        return cluster.find(store, key, namespace, name)
    current: Obj | None = None
    for t, obj in versions:
        if t <= when:
            current = obj
    return current


def mounted(store: Any, key: str, namespace: str, name: str, mounted_at: float | None, now: float, follows: bool = True) -> Obj | None:
    """What a volume shows at ``now``: the version at mount time, or, once the kubelet's sync has
    caught up (``SYNC_DELAY``), a later one; ``follows=False`` (subPath) keeps the mount-time one."""
    if mounted_at is None:
        return as_of(store, key, namespace, name, now)
    when = mounted_at if not follows else max(mounted_at, now - SYNC_DELAY)
    return as_of(store, key, namespace, name, when)
