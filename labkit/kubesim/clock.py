"""Time for the emulator: every timestamp the server writes comes from one ``Clock``.

Why an abstraction now: the next issue adds a simulated clock that notebooks advance at once
(``advance(seconds=...)``) and controllers that run on it. The API server already reads time
only through this interface, so swapping in the simulated clock changes no handler.
"""
from __future__ import annotations

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
