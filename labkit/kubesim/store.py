"""The object store: what etcd is to a real API server, plus the watch cache.

Why it looks like this:
- one global, monotonically increasing resourceVersion, as etcd's revision;
- stored objects are never mutated in place (writers put new dicts), so readers, watch
  history and cached JSON encodings can share them without copies;
- every change is an event ``(type, object, rv)`` kept in a bounded history, so watches can
  resume from a resourceVersion (older than the history: 410 Gone, as a compacted etcd);
- ``subscribe()`` hands the same events to in-process listeners: the controllers, scheduler
  and kubelet of the next issue plug in there instead of polling over HTTP.
"""
from __future__ import annotations

import collections
import json
import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import errors
from .clock import Clock, stamp
from .resources import Resource

from .naming import ALPHABET as _ALNUM  # what the API server draws generateName suffixes from
Obj = dict[str, Any]
Listener = Callable[["Event"], None]

HISTORY = 20_000


@dataclass(frozen=True)
class Event:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``obj`` the object after it."""

    type: str
    resource: Resource
    obj: Obj
    rv: int


def encode(obj: Obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Stored(dict):
    """A stored object: a dict that remembers its JSON encoding (stored objects never change)."""

    __slots__ = ("_json",)

    def encoded(self) -> bytes:
        try:
            return self._json
        except AttributeError:
            self._json = encode(self)
            return self._json


class Watcher:
    """A queue of events for one watch request; ``next()`` blocks until one arrives."""

    def __init__(self, store: "Store", resource: Resource, namespace: str | None):
        self.store = store
        self.resource = resource
        self.namespace = namespace
        self._queue: collections.deque[Event] = collections.deque()
        self._cond = threading.Condition()
        self.closed = False

    def _offer(self, event: Event) -> None:
        if event.resource.key != self.resource.key:
            return
        if self.namespace and event.obj["metadata"].get("namespace") != self.namespace:
            return
        with self._cond:
            self._queue.append(event)
            self._cond.notify()

    def next(self, timeout: float) -> Event | None:
        with self._cond:
            if not self._queue and not self.closed:
                self._cond.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        self.store._unwatch(self)
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class Store:
    """All objects of the cluster, by resource, namespace and name."""

    def __init__(self, clock: Clock | None = None, seed: int = 0):
        self.clock = clock or Clock()
        self.rng = random.Random(f"kubesim-store-{seed}")
        self.lock = threading.RLock()
        self._objects: dict[str, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self._rv = 1
        self._history: collections.deque[Event] = collections.deque(maxlen=HISTORY)
        self._compacted = 1  # history is complete only for resourceVersions after this
        self._watchers: list[Watcher] = []
        self._listeners: list[Listener] = []
        # server-side apply: the last configuration each field manager applied, per object
        self.applied: dict[tuple[str, str, str, str], Obj] = {}

    # ---- identity helpers -------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(length))

    def now(self) -> str:
        return stamp(self.clock.now())

    @staticmethod
    def encoded(obj: Obj) -> bytes:
        """The JSON bytes of an object, computed once for stored (immutable) objects."""
        return obj.encoded() if isinstance(obj, Stored) else encode(obj)

    # ---- reads ---------------------------------------------------------------------
    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        obj = self._objects[res.key].get((namespace or "", name))
        if obj is None:
            raise errors.not_found(res.group, res.plural, name)
        return obj

    def find(self, res: Resource, namespace: str, name: str) -> Obj | None:
        return self._objects[res.key].get((namespace or "", name))

    def list(self, res: Resource, namespace: str | None = None,
             match: Callable[[Obj], bool] | None = None) -> tuple[list[Obj], int]:
        """Objects sorted by (namespace, name), as etcd's key order gives them, and the list RV."""
        with self.lock:
            bucket = self._objects[res.key]
            keys = sorted(bucket) if not namespace else sorted(k for k in bucket if k[0] == namespace)
            items = [bucket[k] for k in keys]
            rv = self._rv
        if match is not None:
            items = [obj for obj in items if match(obj)]
        return items, rv

    def count(self, res: Resource) -> int:
        return len(self._objects[res.key])

    # ---- writes --------------------------------------------------------------------
    def _commit(self, res: Resource, kind: str, obj: Obj, rv: int) -> Event:
        event = Event(kind, res, obj, rv)
        self._history.append(event)
        for watcher in list(self._watchers):
            watcher._offer(event)
        return event

    def _notify(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the API
                pass

    def create(self, res: Resource, obj: Obj) -> Obj:
        """Store a new object, filling uid, resourceVersion, creationTimestamp and generation."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", "") if res.namespaced else "", meta["name"])
            if key in self._objects[res.key]:
                raise errors.already_exists(res.group, res.plural, meta["name"])
            self._rv += 1
            obj = Stored(obj)
            meta = obj["metadata"] = dict(meta)
            meta["uid"] = meta.get("uid") or self.new_uid()
            meta["resourceVersion"] = str(self._rv)
            meta.setdefault("creationTimestamp", self.now())
            if res.generation:
                meta["generation"] = 1
            self._objects[res.key][key] = obj
            event = self._commit(res, "ADDED", obj, self._rv)
        self._notify(event)
        return obj

    def update(self, res: Resource, obj: Obj, expect_rv: str | None = None) -> Obj:
        """Replace a stored object; ``expect_rv`` makes it a compare-and-swap (409 Conflict)."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace", "") if res.namespaced else "", meta["name"])
            old = self._objects[res.key].get(key)
            if old is None:
                raise errors.not_found(res.group, res.plural, meta["name"])
            if expect_rv and expect_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.group, res.plural, meta["name"], errors.STALE)
            if _same(old, obj):
                return old  # a no-op write keeps the resourceVersion, as the API server does
            self._rv += 1
            obj = Stored(obj)
            meta = obj["metadata"] = dict(meta)
            meta["resourceVersion"] = str(self._rv)
            self._objects[res.key][key] = obj
            event = self._commit(res, "MODIFIED", obj, self._rv)
        self._notify(event)
        return obj

    def delete(self, res: Resource, namespace: str, name: str) -> Obj:
        with self.lock:
            key = (namespace or "", name) if res.namespaced else ("", name)
            old = self._objects[res.key].pop(key, None)
            if old is None:
                raise errors.not_found(res.group, res.plural, name)
            self._rv += 1
            gone = Stored(old)
            gone["metadata"] = dict(old["metadata"], resourceVersion=str(self._rv))
            event = self._commit(res, "DELETED", gone, self._rv)
        self._notify(event)
        return gone

    def load(self, res: Resource, objects: Iterable[Obj]) -> None:
        """Bulk-insert prepared objects (initial state, generated clusters) without events."""
        with self.lock:
            bucket = self._objects[res.key]
            for obj in objects:
                obj = Stored(obj)
                meta = obj["metadata"]
                self._rv += 1
                meta["resourceVersion"] = str(self._rv)
                meta.setdefault("uid", self.new_uid())
                bucket[(meta.get("namespace", "") if res.namespaced else "", meta["name"])] = obj
            self._compacted = self._rv

    # ---- watch ---------------------------------------------------------------------
    def watch(self, res: Resource, namespace: str | None, since: int | None) -> tuple[Watcher, list[Event]]:
        """Register a watcher; returns it and the events to replay first.

        ``since=None`` replays the current state as ADDED events ("get state and start at most
        recent"); a number replays the history after it, or raises 410 Gone when it is older
        than the history kept.
        """
        with self.lock:
            watcher = Watcher(self, res, namespace)
            if since is None:
                items, rv = self.list(res, namespace)
                replay = [Event("ADDED", res, obj, rv) for obj in items]
            else:
                floor = self._compacted
                if len(self._history) == self._history.maxlen:
                    floor = max(floor, self._history[0].rv - 1)
                if since < floor:
                    raise errors.gone(f"too old resource version: {since} ({floor})")
                replay = [e for e in self._history if e.rv > since and e.resource.key == res.key and (
                    not namespace or e.obj["metadata"].get("namespace") == namespace)]
            self._watchers.append(watcher)
        return watcher, replay

    def _unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    def close_watches(self) -> None:
        for watcher in list(self._watchers):
            watcher.close()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every committed change; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None


def _same(old: Obj, new: Obj) -> bool:
    """Equal apart from resourceVersion (and managedFields timestamps)."""
    def strip(obj: Obj) -> Obj:
        meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
        return {**obj, "metadata": meta}
    return strip(old) == strip(new)
