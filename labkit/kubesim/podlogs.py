"""``pods/log``: simulated container logs.

Why its own module: what a container printed is not REST semantics; ``log_source`` (the
controllers' programs, or the few lines here for kind's system pods) says it.

``follow=true`` (``kubectl logs -f``) streams the lines as the simulated clock reaches them
(polling ``log_source``, in the request's own thread: no thread of its own), and ends when the
container stops running, the pod goes, the client goes away or the server stops. A line's time
(``timestamps``, ``sinceSeconds``, ``sinceTime``) is when it was seen while following, else the
container's start: the programs' timelines do not reach this module. Without ``timestamps`` a
line still being written is sent as it comes (a client loop's ``OK!OK!OK!`` has no newline).
``log_dropped`` says how many bytes a bounded log (a client loop's, newest kept) no longer holds,
so that following keeps its place when the front of the log goes.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterator

from . import errors
from .clock import parse
from .routing import Request, Response, Target, int_param as _int

Obj = dict[str, Any]


class Logs:
    """The ``log`` subresource for :class:`~.api.Api`."""

    def log_dropped(self, pod: Obj, container: str) -> int:
        """Bytes dropped from the front of the container's log (``controllers.all`` replaces this)."""
        return 0

    def logs(self, req: Request, t: Target) -> Response:
        pod = self.store.get(t.res, t.namespace or "", t.name or "")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        name = req.query.get("container")
        if not name:
            if len(containers) != 1:
                raise errors.bad_request(f"a container name must be specified for pod {t.name}, choose one of: [{' '.join(containers)}]")
            name = containers[0]
        elif name not in containers:
            raise errors.bad_request(f"container {name} is not valid for pod {t.name}")
        statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
        state = (statuses.get(name) or {}).get("state") or {}
        ran_before = ((statuses.get(name) or {}).get("lastState") or {}).get("terminated")
        if not state.get("running") and not state.get("terminated") and not ran_before:
            reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
            raise errors.bad_request(f'container "{name}" in pod "{t.name}" is waiting to start: {reason}')
        if req.flag("previous") and not ran_before:
            raise errors.bad_request(f'previous terminated container "{name}" in pod "{t.name}" not found')
        tail = _int(req.query.get("tailLines"), "tailLines")
        limit = _int(req.query.get("limitBytes"), "limitBytes")
        since = _int(req.query.get("sinceSeconds"), "sinceSeconds")
        if since is not None and since < 1:
            raise errors.bad_request("sinceSeconds: Invalid value: must be greater than 0")
        if limit is not None and limit < 1:
            raise errors.bad_request("limitBytes: Invalid value: must be greater than 0")
        now = self.store.clock.time()
        after = now - since if since is not None else None
        if req.query.get("sinceTime"):
            try:
                after = parse(req.query["sinceTime"]).timestamp()
            except ValueError:
                raise errors.bad_request(f'invalid value for "sinceTime": "{req.query["sinceTime"]}"') from None
        started = _ts((state.get("running") or state.get("terminated") or {}).get("startedAt")) or now
        stamps = req.flag("timestamps")
        text = self.log_source(pod, name)
        lines = text.splitlines(keepends=True)
        if after is not None and started < after:
            lines = []
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        first = "".join(_stamp(started) + line if stamps else line for line in lines).encode()
        if not (req.flag("follow") and state.get("running")):
            return Response(200, first[:limit] if limit is not None else first, "text/plain")
        sent = self.log_dropped(pod, name) + len(text)
        return Response(200, b"", "text/plain", {}, self._follow(t, name, first, sent, stamps, limit))

    def _follow(self, t: Target, container: str, first: bytes, sent: int, stamps: bool,
                limit: int | None) -> Iterator[bytes]:
        """The log so far, then each new line as it appears, until the container stops running."""
        budget = limit if limit is not None else -1

        def cut(data: bytes) -> bytes:
            nonlocal budget
            if budget < 0:
                return data
            data, budget = data[:budget], budget - min(budget, len(data))
            return data
        yield cut(first)
        pending = ""
        while not self.stopping and budget != 0:
            time.sleep(POLL)
            try:
                pod = self.store.get(t.res, t.namespace or "", t.name or "")
            except errors.ApiError:
                return
            text = self.log_source(pod, container)
            dropped = self.log_dropped(pod, container)
            if dropped + len(text) < sent:  # a new run of the container: the one followed has ended
                return
            fresh, sent = pending + text[max(0, sent - dropped):], dropped + len(text)
            if stamps:  # whole lines, each with the time it was seen
                whole, _, pending = fresh.rpartition("\n")
                chunk = "".join(_stamp(self.store.clock.time()) + line + "\n" for line in whole.split("\n")) if whole else ""
            else:       # bytes as they are written, a line being written included
                chunk, pending = fresh, ""
            yield cut(chunk.encode())  # b"" lets the HTTP layer notice a client that went away
            status = next((s for s in (pod.get("status") or {}).get("containerStatuses") or []
                           if s.get("name") == container), {})
            if not (status.get("state") or {}).get("running"):
                if pending:
                    yield cut(pending.encode())
                return


POLL = 0.1  # seconds between two looks at a followed log


def _ts(text: str | None) -> float | None:
    return parse(text).timestamp() if text else None


def _stamp(when: float) -> str:
    """The kubelet's timestamp prefix: RFC 3339 with nanoseconds."""
    moment = datetime.fromtimestamp(when, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z "


LOG_LINES = {
    "coredns": (
        ".:53\n[INFO] plugin/reload: Running configuration SHA512 = "
        "1b226df79860026c6a52e67daa10d7f0d57ec5b023288ec00c5e05f93523c894564e15b91770d3a07ae1cfbe861d15b37d4a0027e69c546ab112970993a3b03b"
        "\nCoreDNS-1.12.1\nlinux/amd64, go1.24.1, 707c7c1\n"
    ),
    "kindnet-cni": "INFO: kindnetd starting\nI main.go: Adding route {Ifindex: 0 Dst: 10.244.1.0/24 Flags: [] Table: 0}\n",
    "kube-proxy": "I server_linux.go: \"Using iptables proxy\"\nI server.go: \"Version info\" version=\"v1.36.1\"\n",
}


def default_logs(pod: Obj, container: str) -> str:
    """Simulated logs: a few plausible lines for kind's system pods, nothing for others yet."""
    return LOG_LINES.get(container, "")
