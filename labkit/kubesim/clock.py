"""Time for the emulator: every timestamp the server writes comes from one ``Clock``.

Why: the controllers (scheduler, kubelet, deployments, HPA...) run on *simulated* time that a
notebook can advance at once (``sim.advance(seconds=300)`` runs five minutes of cluster life in
milliseconds), while the API server and the controllers read time only through this interface.
``SimClock`` follows real time by default (kubectl users see pods start as on a real cluster) and
can be frozen, so that the same seed and the same actions give the same cluster.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class Clock:
    """Wall-clock time (UTC). Subclasses may pin or advance it."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), timezone.utc)


class FixedOffsetClock(Clock):
    """Real time shifted so that ``now()`` started at a given instant (deterministic renders)."""

    def __init__(self, start: datetime):
        self._offset = start.timestamp() - time.time()

    def time(self) -> float:
        return time.time() + self._offset


class SimClock(Clock):
    """Simulated time: follows the wall clock (``realtime=True``) or stands still, and jumps forward.

    ``time()`` is ``base + (wall seconds since the last anchor)`` while following real time, else
    ``base``. ``advance(seconds)`` moves it forward at once; it never goes backwards. ``hold()``
    freezes it (the controller manager holds it while it runs a batch of due work, so that every
    write of that batch carries the instant the work was due) and ``release()`` lets it follow again.

    Call ``KubeSim.advance`` rather than ``SimClock.advance`` to let the controllers do the work
    that falls due on the way; moving the clock alone only makes that work due at the next tick.
    """

    def __init__(self, start: datetime | float | None = None, realtime: bool = True):
        if isinstance(start, datetime):
            start = start.timestamp()
        self._lock = threading.Lock()
        self._base = float(start) if start is not None else time.time()
        self._anchor = time.monotonic()
        self.realtime = realtime
        self._held = 0

    def time(self) -> float:
        with self._lock:
            if self.realtime and not self._held:
                return self._base + (time.monotonic() - self._anchor)
            return self._base

    def _rebase(self, value: float) -> None:
        self._base = value
        self._anchor = time.monotonic()

    def set(self, when: float) -> None:
        """Jump to ``when`` (seconds since the epoch); earlier instants are ignored."""
        with self._lock:
            now = self._base + (time.monotonic() - self._anchor if self.realtime and not self._held else 0.0)
            self._rebase(max(now, when))

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        self.set(self.time() + seconds)
        return self.time()

    def hold(self) -> None:
        with self._lock:
            if self.realtime and not self._held:
                self._rebase(self._base + (time.monotonic() - self._anchor))
            self._held += 1

    def release(self) -> None:
        with self._lock:
            self._held = max(0, self._held - 1)
            if not self._held:
                self._anchor = time.monotonic()


def stamp(moment: datetime) -> str:
    """RFC 3339 with seconds, as metav1.Time serializes."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_stamp(moment: datetime) -> str:
    """RFC 3339 with microseconds, as metav1.MicroTime serializes."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text: str) -> datetime:
    text = text.replace("Z", "+00:00")
    return datetime.fromisoformat(text)


def ago(seconds: float, clock: Clock) -> datetime:
    return clock.now() - timedelta(seconds=seconds)
