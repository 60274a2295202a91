"""Time for the emulator: every timestamp the server writes comes from one ``Clock``.

Why: the controllers (scheduler, kubelet, deployments, HPA...) run on *simulated* time that a
notebook can advance at once (``sim.advance(seconds=300)`` runs five minutes of cluster life in
milliseconds), while the API server and the controllers read time only through this interface.
``SimClock`` follows real time by default (kubectl users see pods start as on a real cluster) and
can be frozen, so that the same seed and the same actions give the same cluster. While it follows
real time it may run faster (``speed``: simulated seconds per real second), so that a terminal
user can watch five minutes of an autoscaler in thirty seconds without calling ``advance``.
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

    ``time()`` is ``base + speed * (wall seconds since the last anchor)`` while following real time,
    else ``base``. ``speed`` (> 0, default 1) is how many simulated seconds pass per real second;
    changing it (``set_speed``) re-anchors first, so time never jumps or goes back.
    ``advance(seconds)`` moves it forward at once; it never goes backwards. ``hold()`` freezes it
    (the controller manager holds it while it runs a batch of due work, so that every write of that
    batch carries the instant the work was due) and ``release()`` lets it follow again.

    Call ``KubeSim.advance`` rather than ``SimClock.advance`` to let the controllers do the work
    that falls due on the way; moving the clock alone only makes that work due at the next tick.
    """

    def __init__(self, start: datetime | float | None = None, realtime: bool = True, speed: float = 1.0):
        if isinstance(start, datetime):
            start = start.timestamp()
        _check_speed(speed)
        self._lock = threading.Lock()
        self._base = float(start) if start is not None else time.time()
        self._anchor = time.monotonic()
        self._speed = float(speed)
        self.realtime = realtime
        self._held = 0

    @property
    def speed(self) -> float:
        """Simulated seconds per real second while the clock follows real time."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Run ``speed`` times faster than the wall clock from now on (time goes on from where it is)."""
        _check_speed(speed)
        with self._lock:
            self._rebase(self._current())
            self._speed = float(speed)

    def _current(self) -> float:  # with the lock held
        if self.realtime and not self._held:
            return self._base + self._speed * (time.monotonic() - self._anchor)
        return self._base

    def time(self) -> float:
        with self._lock:
            return self._current()

    def _rebase(self, value: float) -> None:
        self._base = value
        self._anchor = time.monotonic()

    def set(self, when: float) -> None:
        """Jump to ``when`` (seconds since the epoch); earlier instants are ignored."""
        with self._lock:
            self._rebase(max(self._current(), when))

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0); returns the new time."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        self.set(self.time() + seconds)
        return self.time()

    def hold(self) -> None:
        with self._lock:
            if self.realtime and not self._held:
                self._rebase(self._current())
            self._held += 1

    def release(self) -> None:
        with self._lock:
            self._held = max(0, self._held - 1)
            if not self._held:
                self._anchor = time.monotonic()


MAX_SPEED = 1000.0


def _check_speed(speed: float) -> None:
    if not isinstance(speed, (int, float)) or isinstance(speed, bool) or not 0 < speed <= MAX_SPEED:
        raise ValueError(f"speed must be a number more than 0 and at most {MAX_SPEED:g} "
                         f"(1 follows real time, 10 runs ten times faster), not {speed!r}")


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
