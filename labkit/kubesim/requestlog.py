"""The lines a server prints for each request it answers: what ``kubectl logs`` shows after traffic.

Why its own module: a server's access log is neither its start-up output (the process timeline in
``programs.py``) nor its answer (``http_answers.py``); it is what happened to the container since
it started, kept per container instance and read by the kubelet's ``logs``. What a line says is
data: the ``log:`` of an image's ``responses:`` in ``data/images.yaml`` (the Kubernetes Basics
bootcamp prints ``Running On: POD | Total Requests: N | App Uptime: S seconds | Log Time: T``;
nginx prints its combined access log), with the placeholders of the answer plus ``{requests}``,
``{status}``, ``{length}``, ``{client}``, ``{clfdate}`` and ``{user_agent}``. Nothing is kept for a
container that has no ``log:``: an idle or unlogged cluster pays nothing.

It also counts the requests each server answered (:func:`served`, called where ``http_request``
answers) with what each cost, so that requests from the host (port-forward, the proxy
subresources, ``kubectl exec ... wget``) load the pod that served them: metrics-server reads
:func:`load` over its window. The traffic engine's own sampled requests are not counted here
(:func:`uncounted`): it accounts for its client loops' whole rate itself.
"""
from __future__ import annotations

import collections
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

MAX_LINES = 5000  # per container: a long load test keeps its latest lines, as a rotated log would


@dataclass
class _Container:
    requests: int = 0
    started: float = 0.0  # the run the counter belongs to (to the millisecond)
    lines: list[tuple[float, str]] = field(default_factory=list)


_LOCK = threading.Lock()  # servers answer on several threads at once (port-forward, proxy, exec)
_LOGS: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], _Container]]" = weakref.WeakKeyDictionary()


def count(store: Any, uid: str, container: str, started: float) -> int:
    """The number of the request being answered now: 1 for the first of the run that started at
    ``started`` (a restarted server counts from 1 again, as a new process does)."""
    with _LOCK:
        entry = _LOGS.setdefault(store, {}).setdefault((uid, container), _Container())
        if round(started, 3) != entry.started:
            entry.started, entry.requests = round(started, 3), 0
        entry.requests += 1
        return entry.requests


def record(store: Any, uid: str, container: str, at: float, line: str) -> None:
    entry = _LOGS.setdefault(store, {}).setdefault((uid, container), _Container())
    entry.lines.append((at, line))
    if len(entry.lines) > MAX_LINES:
        del entry.lines[: len(entry.lines) - MAX_LINES]


def lines_since(store: Any, uid: str, container: str, since: float, until: float | None = None) -> list[str]:
    """The request lines of a container's run that started at ``since`` (up to ``until``)."""
    entry = (_LOGS.get(store) or {}).get((uid, container))
    if entry is None:
        return []
    return [line for at, line in entry.lines if at >= since and (until is None or at <= until)]


def clf_date(moment: datetime) -> str:
    """The Common Log Format's date, as nginx and httpd write it: 01/Dec/2026:12:00:00 +0000."""
    return moment.astimezone(timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")


# ---- requests served, for the load model ---------------------------------------------------------
WINDOW = 60.0  # seconds of served requests kept per container (metrics-server reads the last 15 s)
_SERVED: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], collections.deque[tuple[float, float]]]]" = \
    weakref.WeakKeyDictionary()
_LOCAL = threading.local()


def served(store: Any, uid: str, container: str, at: float, cpu: float) -> None:
    """One request answered by ``container`` of the pod ``uid`` at ``at``, costing ``cpu`` core-seconds."""
    if getattr(_LOCAL, "uncounted", 0):
        return
    log = _SERVED.setdefault(store, {}).setdefault((uid, container), collections.deque())
    log.append((at, cpu))
    while log and log[0][0] < at - WINDOW:
        log.popleft()


def load(store: Any, uid: str, container: str, since: float, until: float) -> tuple[int, float]:
    """(requests, core-seconds) the container answered in (since, until]: what it served the host."""
    log = (_SERVED.get(store) or {}).get((uid, container))
    if not log:
        return 0, 0.0
    inside = [cpu for at, cpu in log if since < at <= until]
    return len(inside), sum(inside)


def counting(store: Any) -> bool:
    """Whether any request was counted in this cluster (metrics-server skips the look-ups otherwise)."""
    return bool(_SERVED.get(store))


@contextmanager
def uncounted() -> Iterator[None]:
    """Requests answered in this thread meanwhile are not counted (the traffic engine's samples)."""
    _LOCAL.uncounted = getattr(_LOCAL, "uncounted", 0) + 1
    try:
        yield
    finally:
        _LOCAL.uncounted -= 1
