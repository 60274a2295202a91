"""The controllers of the emulator, stepped by one manager on the simulated clock.

Why one manager: a real cluster runs the scheduler, the kubelets and kube-controller-manager as
separate processes reacting to watches; here they are in-process objects that react to the
store's events (``Store.subscribe``) and to timers on the ``SimClock``. One manager runs them in
a fixed order under one lock, so that:

- ``advance(seconds)`` runs all the work that falls due on the way, each batch at the instant it
  was due, in milliseconds, and always in the same order: with a frozen clock, the same seed and
  the same actions give the same cluster, byte for byte;
- when the clock follows real time, a background thread ticks every ~100 ms (and at once after
  an API write, and when the next timer falls due: on a clock running ``speed`` times faster a
  timer still fires at its instant), so ``kubectl create deployment`` shows Running pods within
  about a second.

Each controller lives in its own module and has ``watches`` (store keys whose events it wants),
``on_event(event)`` (which keys to sync) and ``sync(key)`` (make the world match the spec).
Random choices come from ``Manager.rng_for(...)``: a generator seeded by (seed, what it is for),
so a pod's name does not depend on how other work happened to interleave.
"""
from __future__ import annotations

import collections
import heapq
import itertools
import random
import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable, Hashable, TypeVar

from .. import defaults, errors, naming, resources
from ..clock import SimClock, stamp
from ..objects import controller_of, copy_obj
from ..store import Event, Store

if TYPE_CHECKING:
    from ..api import Api
    from .events import EventRecorder
    from .kubelet import Kubelet
    from .metrics import MetricsServer
    from .nodes import NodeLifecycle
    from .owners import OwnerIndex
    from .scheduler import Scheduler

Obj = dict[str, Any]
Key = Hashable
MAX_ROUNDS = 200_000
TICK = 0.1  # wall seconds between the real-time ticker's rounds, at most
MIN_TICK = 0.001  # and at least (a timer due now waits this long, not a busy loop)


class Controller:
    """Base class: a named reconciler with a work queue managed by :class:`Manager`."""

    name = "controller"
    watches: tuple[str, ...] = ()

    def __init__(self, mgr: "Manager"):
        self.mgr = mgr
        self.store = mgr.store

    def start(self) -> None:
        """Called once, after every controller exists: queue the initial work."""

    def on_event(self, event: Event) -> None:
        """React to a change of a watched resource (default: nothing)."""

    def sync(self, key: Key) -> None:
        raise NotImplementedError

    # helpers
    def enqueue(self, key: Key) -> None:
        self.mgr.enqueue(self, key)

    def after(self, seconds: float, key: Key) -> None:
        self.mgr.at(self.mgr.now() + max(0.0, seconds), self, key)


class WorkloadController(Controller):
    """A controller keyed by a workload (a Deployment, a Job...) that also wakes up when an
    object it controls changes: the pattern of every workload controller, written once.

    Subclasses name the workload's store key and kind; their ``sync`` gets (namespace, name).
    """

    workload: str = ""  # store key, e.g. "apps/deployments"
    workload_kind: str = ""  # the kind in ownerReferences, e.g. "Deployment"

    def start(self) -> None:
        for obj in self.mgr.list(self.workload):
            self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def on_event(self, event: Event) -> None:
        obj = event.obj
        if event.resource.key == self.workload:
            if event.type != "DELETED":
                self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))
            return
        ref = controller_of(obj)
        if ref and ref.get("kind") == self.workload_kind:
            self.enqueue((obj["metadata"]["namespace"], ref["name"]))


C = TypeVar("C", bound=Controller)


class Manager:
    """Runs the controllers: event dispatch, work queues, timers, the real-time ticker.

    The controllers others reach through the manager are named fields, set by
    ``controllers.all.build`` when it adds them: ``index`` (who owns what), ``recorder`` (events),
    ``scheduler``, ``kubelet``, ``nodes`` (node lifecycle: power off/on) and ``metrics``."""

    index: OwnerIndex
    recorder: EventRecorder
    scheduler: Scheduler
    kubelet: Kubelet
    nodes: NodeLifecycle
    metrics: MetricsServer

    def __init__(self, store: Store, api: "Api", clock: SimClock, seed: int = 0):
        self.store = store
        self.api = api
        self.clock = clock
        self.seed = seed
        self.epoch = clock.time()  # uids count time from here: a frozen clock's cluster is the same whenever it starts
        self.lock = threading.RLock()
        self.controllers: list[Controller] = []
        self._by_key: dict[str, list[Controller]] = collections.defaultdict(list)
        self._events: collections.deque[Event] = collections.deque()
        self._dirty: dict[Controller, dict[Key, None]] = {}
        self._timers: list[tuple[float, int, int, Key]] = []
        self._timer_due: dict[tuple[int, Key], float] = {}
        self._seq = itertools.count()
        self._counters: dict[str, int] = collections.defaultdict(int)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.defaults = defaults.DefaultContext(lambda: self.suffix("defaults"), api.allocator.cluster_ip, api.allocator.node_port)
        self.steps = 0  # syncs run, for benchmarks
        self._unsubscribe = store.subscribe(self._listen)

    # ---- set-up -------------------------------------------------------------------------
    def add(self, controller: C) -> C:
        self.controllers.append(controller)
        self._dirty[controller] = {}
        for key in controller.watches:
            self._by_key[key].append(controller)
        return controller

    def get(self, name: str) -> Controller:
        return next(c for c in self.controllers if c.name == name)

    def start(self, realtime: bool) -> None:
        with self.lock:
            for c in self.controllers:
                c.start()
            self.clock.hold()
            try:
                self._drain()
            finally:
                self.clock.release()
        if realtime:
            self._thread = threading.Thread(target=self._run, name="kubesim-controllers", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._unsubscribe()

    # ---- time and randomness ------------------------------------------------------------
    def now(self) -> float:
        return self.clock.time()

    def stamp(self) -> str:
        return stamp(self.clock.now())

    def rng_for(self, *what: object) -> random.Random:
        """A generator for one purpose: the same (seed, purpose) always draws the same numbers."""
        return random.Random("kubesim/" + "/".join(str(w) for w in (self.seed, *what)))

    def suffix(self, purpose: str, length: int = 5) -> str:
        """The next random suffix for ``purpose`` (a pod-name suffix per ReplicaSet, ...)."""
        n = self._counters[purpose]
        self._counters[purpose] = n + 1
        return naming.suffix(self.rng_for(purpose, n), length)

    def uid(self, *what: object) -> str:
        return str(uuid.UUID(int=self.rng_for("uid", *what).getrandbits(128), version=4))

    # ---- queues ---------------------------------------------------------------------------
    def _listen(self, event: Event) -> None:
        self._events.append(event)
        self._wake.set()

    def enqueue(self, controller: Controller, key: Key) -> None:
        self._dirty[controller][key] = None

    def at(self, when: float, controller: Controller, key: Key) -> None:
        index = self.controllers.index(controller)
        tk = (index, key)
        due = self._timer_due.get(tk)
        if due is not None and due <= when:
            return  # an earlier timer will sync it; that sync re-arms what it still needs
        self._timer_due[tk] = when
        if not self._timers or when < self._timers[0][0]:
            self._wake.set()  # the ticker may be waiting for a later one: let it recompute its wait
        heapq.heappush(self._timers, (when, next(self._seq), index, key))

    def _fire_due(self, until: float) -> bool:
        fired = False
        while self._timers and self._timers[0][0] <= until:
            when, _, index, key = heapq.heappop(self._timers)
            if self._timer_due.get((index, key)) != when:
                continue  # superseded by an earlier timer for the same key
            del self._timer_due[(index, key)]
            self._dirty[self.controllers[index]][key] = None
            fired = True
        return fired

    def next_due(self) -> float | None:
        while self._timers and self._timer_due.get((self._timers[0][2], self._timers[0][3])) != self._timers[0][0]:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _drain(self) -> None:
        """Dispatch events and run dirty keys until nothing is left to do at this instant."""
        rounds = 0
        while True:
            while self._events:
                event = self._events.popleft()
                for c in self._by_key.get(event.resource.key, ()):
                    try:
                        c.on_event(event)
                    except Exception:  # one bad object must not stop the cluster
                        pass
            busy = next((c for c in self.controllers if self._dirty[c]), None)
            if busy is None:
                return
            keys = list(self._dirty[busy])
            self._dirty[busy] = {}
            for key in keys:
                rounds += 1
                self.steps += 1
                try:
                    busy.sync(key)
                except errors.ApiError:
                    busy.after(1.0, key)  # a conflict or a vanished object: try again shortly
                except Exception:
                    pass
            if rounds > MAX_ROUNDS:
                return

    # ---- stepping -----------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Run ``seconds`` of simulated time now: every timer on the way fires at its instant."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self.lock:
            self.clock.hold()
            try:
                target = self.clock.time() + seconds
                self._drain()
                while True:
                    due = self.next_due()
                    if due is None or due > target:
                        break
                    self.clock.set(due)
                    self._fire_due(due)
                    self._drain()
                self.clock.set(target)
                self._fire_due(target)
                self._drain()
            finally:
                self.clock.release()

    def settle(self) -> None:
        """Do what is due now (the background thread's tick, callable by hand)."""
        with self.lock:
            self.clock.hold()
            try:
                self._fire_due(self.clock.time())
                self._drain()
            finally:
                self.clock.release()

    def _run(self) -> None:
        wait = TICK
        while not self._stopping:
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self.settle()
                wait = self._until_next()
            except Exception:  # the ticker must survive anything
                wait = TICK

    def _until_next(self) -> float:
        """Wall seconds until the next timer falls due (at most one tick): on a clock that runs
        ``speed`` times faster, a 0.1 s tick would be 10 s of cluster life at speed 100, and a
        timer would fire late by up to that; waking for the timer itself keeps it on time."""
        with self.lock:
            due = self.next_due()
            if due is None:
                return TICK
            left = (due - self.clock.time()) / self.clock.speed
        return min(TICK, max(MIN_TICK, left))

    # ---- writes as controllers make them ------------------------------------------------------
    def create(self, key: str, obj: Obj) -> Obj:
        """Store a new object (controllers bypass HTTP but not defaulting)."""
        res = resources.get(key)
        meta = obj["metadata"]
        meta.setdefault("uid", self.uid(res.key, meta.get("namespace", ""), meta["name"], round(self.now() - self.epoch, 6)))
        meta.setdefault("creationTimestamp", self.stamp())
        if res.kind in defaults.DEFAULTERS:
            defaults.apply(res.kind, obj, self.defaults)
        return self.store.create(res, obj)

    def update(self, key: str, obj: Obj, based_on: Obj | None = None) -> Obj:
        """Replace an object; with ``based_on`` only if nobody changed it since (else 409)."""
        res = resources.get(key)
        expect = based_on["metadata"]["resourceVersion"] if based_on is not None else None
        return self.store.update(res, obj, expect_rv=expect)

    def mutate(self, key: str, namespace: str, name: str, change: Callable[[Obj], Obj | None],
               shallow: bool = False) -> Obj | None:
        """Read-modify-write under the store lock: ``change(copy)`` returns the new object or None.

        ``shallow``: the copy is fresh only one level down (the object, its metadata, spec and status
        dicts), enough for changes that set keys there (``obj["status"] = ...``) and much cheaper
        than a deep copy for the kubelet's and the controllers' status writes."""
        res = resources.get(key)
        with self.store.lock:
            current = self.store.find(res, namespace, name)
            if current is None:
                return None
            if shallow:
                draft = dict(current)
                for part in ("metadata", "spec", "status"):
                    if isinstance(draft.get(part), dict):
                        draft[part] = dict(draft[part])
                new = change(draft)
            else:
                new = change(copy_obj(current))
            if new is None:
                return current
            return self.store.update(res, new)

    def delete(self, key: str, obj: Obj, grace: int | None = None, policy: str | None = None) -> Obj | None:
        """Delete as a client would (pods gracefully, dependents by policy); None if already gone."""
        res = resources.get(key)
        try:
            return self.api.remove(res, obj, grace=grace, policy=policy or "Background")
        except errors.ApiError:
            return None

    def find(self, key: str, namespace: str, name: str) -> Obj | None:
        return self.store.find(resources.get(key), namespace, name)

    def list(self, key: str, namespace: str | None = None) -> list[Obj]:
        return self.store.list(resources.get(key), namespace)[0]


__all__ = ["Controller", "Manager", "WorkloadController", "copy_obj"]
