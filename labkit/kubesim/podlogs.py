"""``pods/log``: simulated container logs.

Why its own module: what a container printed is not REST semantics; ``log_source`` (the
controllers' programs, or the few lines here for kind's system pods) says it.
"""
from __future__ import annotations

from typing import Any

from . import errors
from .routing import Request, Response, Target, int_param as _int

Obj = dict[str, Any]


class Logs:
    """The ``log`` subresource for :class:`~.api.Api`."""

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
        text = self.log_source(pod, name)
        tail = _int(req.query.get("tailLines"), "tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail:]) if tail > 0 else ""
        return Response(200, text.encode(), "text/plain")



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
