"""What a container's processes wrote: a per-container layer over the image and its volumes, kept
for that container's life (keyed by its container ID, so a restarted container starts clean, as
its new writable layer does), and the place exec probes read files from.

Why here and not in the view: ``kubectl exec POD -- rm /tmp/healthy`` must be seen by the next exec
probe (``cat /tmp/healthy``), which the kubelet computes without a shell; and the kubelet must learn
that a file changed, because it plans probe results ahead (:func:`on_overlay_change`).
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
DIR = object()        # content of a directory entry
GONE = None           # content of a removed entry

_lock = threading.Lock()
_layers: "weakref.WeakKeyDictionary[Any, dict[str, Layer]]" = weakref.WeakKeyDictionary()
_listeners: list[Callable[[str, str, str], None]] = []


@dataclass
class Layer:
    """Writes to one container, in order: (sim time, path, bytes | DIR | GONE)."""

    namespace: str
    pod: str
    container: str
    writes: list[tuple[float, str, Any]] = field(default_factory=list)

    def state(self, path: str, at: float | None = None) -> tuple[bool, Any]:
        """(written at all, last content) of ``path`` up to ``at``."""
        found, content = False, GONE
        for t, p, c in self.writes:
            if p == path and (at is None or t <= at):
                found, content = True, c
        return found, content

    def last_time(self, path: str, at: float | None = None) -> float | None:
        times = [t for t, p, _ in self.writes if p == path and (at is None or t <= at)]
        return times[-1] if times else None


def container_id(pod: Obj, container: str) -> str:
    """The container's ID from the pod's status (its current instance); the pod UID and name otherwise."""
    for cs in ((pod.get("status") or {}).get("containerStatuses") or []) + ((pod.get("status") or {}).get("initContainerStatuses") or []):
        if cs.get("name") == container and cs.get("containerID"):
            return cs["containerID"].split("//")[-1]
    return f"{(pod.get('metadata') or {}).get('uid', '')}/{container}"


def layer(store: Any, pod: Obj, container: str) -> Layer:
    """The writable layer of the current instance of ``container`` (made on first use)."""
    cid = container_id(pod, container)
    meta = pod.get("metadata") or {}
    with _lock:
        layers = _layers.setdefault(store, {})
        if cid not in layers:
            layers[cid] = Layer(meta.get("namespace", "default"), meta.get("name", ""), container)
        return layers[cid]


def write(store: Any, pod: Obj, container: str, path: str, content: Any, at: float) -> None:
    """Record a write (bytes, DIR or GONE) and tell the listeners."""
    lay = layer(store, pod, container)
    with _lock:
        lay.writes.append((at, path, content))
    for fn in list(_listeners):
        try:
            fn(lay.namespace, lay.pod, lay.container)
        except Exception:  # a listener's bug must not break the shell
            pass


def on_overlay_change(fn: Callable[[str, str, str], None]) -> Callable[[], None]:
    """Call ``fn(namespace, pod_name, container_name)`` after every write a shell makes to a
    container (the kubelet recomputes its probe plan); returns a function that unregisters it."""
    _listeners.append(fn)
    return lambda: _listeners.remove(fn) if fn in _listeners else None
