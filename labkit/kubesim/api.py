"""The REST semantics of the API server, independent of HTTP.

Why separate from the HTTP layer: every verb (get, list, watch, create, update, patch, delete,
deletecollection and the subresources) is a plain method that takes a parsed request and returns
a response or raises :class:`~.errors.ApiError`, so it is testable without sockets and the
HTTP layer (server.py) stays a thin adapter that can never turn a bug into a dead server.

:class:`Api` is one generic store handler for every resource, put together from one module per
job: ``routing`` (URLs, dispatch, version conversion), ``decoding`` (request bodies), ``reads``
(get, list, watch), ``writes`` (create, update, patch, scale), ``apply`` (server-side apply and
managed fields), ``deletion`` (delete, finalizers, propagation), ``podlogs`` (pods/log),
``remotecommand`` (exec and attach), ``portforward``, ``proxy`` (the proxy subresources) and
``addresses.Allocator`` (ClusterIPs and NodePorts), and ``control`` (the emulator's own clock,
served as the API group ``kubesim.labkit.dev``). What differs between resources is data
(data/resources.yaml, read by ``resources``) or a named strategy (``strategies``).
"""
from __future__ import annotations

from typing import Callable

from . import addresses, defaults
from .apply import Apply, fieldset
from .control import ClockControl
from .decoding import Decoder
from .deletion import Deletion
from .eviction import Eviction
from .podlogs import LOG_LINES, Logs, default_logs
from .portforward import PortForward
from .proxy import Proxy
from .remotecommand import RemoteCommand
from .reads import Reads
from .routing import MAX_BODY, TABLE, Obj, Request, Response, Router, Target, error_response, json_response
from .store import Store
from .wallclock import WallClock
from .writes import Writes

__all__ = ["Api", "Request", "Response", "Target", "MAX_BODY", "TABLE", "json_response", "error_response",
           "fieldset", "default_logs", "LOG_LINES"]


class Api(Router, Decoder, Reads, Writes, Apply, Deletion, Eviction, Logs, RemoteCommand, PortForward, Proxy):
    """One emulated API server over one store."""

    def __init__(self, store: Store, address: str = "172.18.0.2:6443",
                 log_source: Callable[[Obj, str], str] | None = None, wall_clock: bool = False):
        self.store = store
        self.wallclock = WallClock(store.clock.time, enabled=wall_clock)  # timestamps as clients read them
        self.address = address
        self.log_source = log_source or default_logs
        self.allocator = addresses.Allocator(store)
        self.defaults = defaults.DefaultContext(store.suffix, self.allocator.cluster_ip, self.allocator.node_port)
        self.stopping = False
        self.controllers_running = False  # set by the controller manager: deletion then goes through it
        self.virtual: dict[str, Callable[[str | None], list[Obj]]] = {}  # store key -> provider (metrics)
        self.clock_control: ClockControl | None = None  # kubesim.labkit.dev/v1alpha1 clocks, set by start()
