"""Timestamps as clients read them: simulated time shifted onto the wall clock.

Why: kubectl computes some ages itself, from the wall clock of the learner's machine
(`kubectl describe`'s event ages, `kubectl get -w` rows, the Python client's datetimes), while
the emulator stamps objects with *simulated* time, which runs ahead after ``advance()`` (kubectl
then prints ``<invalid>``) or stands still with ``realtime=False`` (ages then grow while the
cluster sleeps). A real cluster's clock is the wall clock. So every timestamp leaves the server
shifted by ``wall - simulated`` (whole seconds) and every timestamp a client sends comes back
shifted the other way: an age a client computes is then the simulated age, the same figure the
server-side AGE columns print. The store keeps simulated time, so the controllers and the
deterministic runs are unchanged. When the two clocks agree (a realtime emulator nobody has
advanced) the shift is zero and nothing is rewritten: an idle or ordinary cluster pays nothing.
"""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable, Iterator

# metav1.Time and metav1.MicroTime as JSON strings: "2026-12-01T12:00:00Z", "...00.123456Z"
_STAMP = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?Z"')
_FORMAT = "%Y-%m-%dT%H:%M:%S"


@lru_cache(maxsize=65536)
def _moved(seconds_part: bytes, shift: int) -> bytes:
    moment = datetime.strptime(seconds_part.decode(), _FORMAT).replace(tzinfo=timezone.utc)
    return (moment + timedelta(seconds=shift)).strftime(_FORMAT).encode()


def shift_stamps(data: bytes, shift: int) -> bytes:
    """``data`` with every RFC 3339 UTC timestamp string moved by ``shift`` seconds."""
    if not shift or b'Z"' not in data:
        return data
    return _STAMP.sub(lambda m: b'"' + _moved(m.group(1), shift) + (m.group(2) or b"") + b'Z"', data)


class WallClock:
    """The shift between a simulated clock and the wall clock, and its application to bodies."""

    def __init__(self, simulated: Callable[[], float], enabled: bool = True):
        self.simulated = simulated
        self.enabled = enabled
        self.offset = 0.0  # seconds the wall clock is read behind by (a restored snapshot's, ``snapshot.py``)

    def shift(self) -> int:
        """Seconds to add to a simulated timestamp to get the wall-clock one (0 when disabled)."""
        if not self.enabled:
            return 0
        return round(time.time() - self.offset - self.simulated())

    def outgoing(self, data: bytes) -> bytes:
        return shift_stamps(data, self.shift())

    def incoming(self, data: bytes) -> bytes:
        return shift_stamps(data, -self.shift())

    def incoming_text(self, text: str) -> str:
        """A timestamp given in a query parameter (``sinceTime``), as simulated time."""
        return shift_stamps(b'"' + text.encode() + b'"', -self.shift())[1:-1].decode()

    def stream(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """A watch stream whose events are shifted as they go out (the shift is read per event)."""
        try:
            for chunk in chunks:
                yield self.outgoing(chunk) if chunk else chunk
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
