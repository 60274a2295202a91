"""Snapshots of an API-server-only emulator: its whole state as JSON text, and a new emulator from one.

Why: a grading run builds the same practice clusters for every submission, through the API
(hundreds of requests each); loading a snapshot is reading one JSON file. A restored emulator is
the same cluster, byte for byte as the API shows it: the same objects (names, uids, IPs,
resourceVersions, timestamps), the same watch history (a watch from an old resourceVersion
replays the same events), the same random draws for what is created next (uids, generated
names, ClusterIPs: the store's generator state travels too), and a clock that goes on from the
instant the snapshot was taken, served with the same shift onto the wall clock (none, as for a
cluster just built). Only what lives in the store is kept, so only an emulator started with
``controllers=False`` on its own clock can be captured (controllers keep state of their own).

JSON, not pickle: a snapshot is data, and loading one runs no code whoever wrote the file.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

from . import KubeSim, _listen, resources
from .api import Api
from .clock import SimClock
from .control import ClockControl
from .store import Event, Store, Stored

__all__ = ["FORMAT", "capture", "restore", "SnapshotError"]
FORMAT = 1


class SnapshotError(ValueError):
    """A snapshot this code cannot restore (another format, or not a snapshot at all)."""


def capture(sim: KubeSim) -> str:
    """The emulator's state as JSON text (stored objects once each, by index, shared with the history)."""
    if sim.manager is not None or sim.clock is None:
        raise ValueError("only an emulator started with controllers=False on its own clock can be captured")
    store, control = sim.store, sim.api.clock_control
    table: list[dict] = []
    index: dict[int, int] = {}

    def ref(obj: dict) -> int:
        at = index.get(id(obj))
        if at is None:
            at = index[id(obj)] = len(table)
            table.append(obj)
        return at

    with store.lock:
        buckets = {key: [[ns, name, ref(obj)] for (ns, name), obj in bucket.items()]
                   for key, bucket in store._objects.items() if bucket}
        history = [[e.type, e.resource.key, ref(e.obj), e.rv] for e in store._history]
        version, internal, gauss = store.rng.getstate()
        state = {
            "format": FORMAT, "name": sim.name, "seed": sim.seed, "profile": sim.profile, "context": sim.context,
            "address": sim.api.address,
            "clock": {"now": sim.clock.time(), "speed": sim.clock.speed, "realtime": sim.clock.realtime,
                      "wall_clock": sim.api.wallclock.enabled,
                      "wall_minus_sim": time.time() - sim.api.wallclock.offset - sim.clock.time(),
                      "created": control.created if control else None, "uid": control.uid if control else None,
                      "generation": control.generation if control else None},
            "rv": store._rv, "compacted": store._compacted, "rng": [version, list(internal), gauss],
            "applied": [[list(key), value] for key, value in store.applied.items()],
            "objects": table, "buckets": buckets, "history": history,
        }
        return json.dumps(state, separators=(",", ":"), ensure_ascii=False)


def restore(text: str, *, kubeconfig: str | os.PathLike[str] | None = None, port: int = 0,
            host: str = "127.0.0.1") -> KubeSim:
    """Start a new emulator (API server only) holding exactly the captured state; raises
    ``SnapshotError`` for text that is not a snapshot of this format."""
    began = time.perf_counter()
    try:
        state = json.loads(text)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise SnapshotError(f"not a kubesim snapshot of format {FORMAT}")
        clock_state = state["clock"]
        clock = SimClock(start=clock_state["now"], realtime=clock_state["realtime"], speed=clock_state["speed"])
        store = Store(clock, state["seed"])
        objects = [Stored(obj) for obj in state["objects"]]
        for key, entries in state["buckets"].items():
            bucket = store._objects[resources.get(key).key]
            for namespace, name, at in entries:
                bucket[(namespace, name)] = objects[at]
        store._history.extend(Event(kind, resources.get(key), objects[at], rv) for kind, key, at, rv in state["history"])
        store._rv, store._compacted = int(state["rv"]), int(state["compacted"])
        version, internal, gauss = state["rng"]
        store.rng.setstate((version, tuple(internal), gauss))
        store.applied = {tuple(key): value for key, value in state["applied"]}
    except SnapshotError:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise SnapshotError(f"not a usable kubesim snapshot ({type(exc).__name__})") from None
    api = Api(store, address=state["address"], wall_clock=bool(clock_state["wall_clock"]))
    api.clock_control = control = ClockControl(clock, None)
    if clock_state.get("created"):
        control.created, control.uid, control.generation = clock_state["created"], clock_state["uid"], clock_state["generation"]
    own_dir = None
    if kubeconfig is None:
        own_dir = tempfile.mkdtemp(prefix="kubesim-")
        kubeconfig = os.path.join(own_dir, "kubeconfig")
    # served with the shift onto the wall clock the captured cluster had (none for one just built)
    api.wallclock.offset = time.time() - clock.time() - float(clock_state["wall_minus_sim"])
    return _listen(api, host, port, kubeconfig, name=state["name"], seed=state["seed"], profile=state["profile"],
                   context=state["context"], began=began, own_dir=own_dir, manager=None, clock=clock)
