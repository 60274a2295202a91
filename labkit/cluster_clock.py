"""Let cluster time pass: at once on the emulator, in real time on a real cluster.

Why a module: a lesson watches things that take minutes on a cluster (a crash loop's back-off grows
to 300 s; a mounted ConfigMap follows an update within about a minute). On the emulator a cell asks
its clock to run forward at once, through the emulator's own API group (``kubesim.labkit.dev``
``clocks/cluster/advance``, the same request ``kubectl create --raw`` makes); on kind the same cell
waits the time out. So the cell is the same both ways, and it talks only to the kubeconfig's
cluster through the official client (no emulator handle, which a kind user does not have).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["is_emulated", "pass_time", "watch", "emulator_request"]

CLOCK_GROUP = "/apis/kubesim.labkit.dev"
ADVANCE = "/apis/kubesim.labkit.dev/v1alpha1/clocks/cluster/advance"
MAX_STEP = 24 * 3600.0  # the emulator's limit for one advance


def _api_client(cluster: Any) -> Any:
    """The ``ApiClient`` of a ``labkit.cluster.Connection``, a practice cluster, an API object or itself."""
    for candidate in (getattr(cluster, "api_client", None), cluster):
        if candidate is not None and hasattr(candidate, "call_api"):
            return candidate
    raise TypeError("pass a connection from labkit.cluster.connect() (or an API client of the official client)")


def _call(api_client: Any, path: str, method: str, body: Any = None) -> Any:
    """One request through the client's own configuration (host, TLS, token), its JSON answer."""
    request = api_client.param_serialize(method, path, body=body, auth_settings=["BearerToken"],
                                         header_params={"Accept": "application/json", "Content-Type": "application/json"})
    response = api_client.call_api(*request, _request_timeout=120)
    response.read()
    return api_client.response_deserialize(response, {"200": "object", "201": "object"}).data


def emulator_request(cluster: Any, method: str, path: str, body: Any = None) -> Any:
    """A request to the emulator's own API group (``/apis/kubesim.labkit.dev/...``) through the
    cluster's client: its JSON answer. Raises ValueError, saying so, on a cluster that is not the emulator."""
    api_client = _api_client(cluster)
    if not is_emulated(api_client):
        raise ValueError("this cluster is not the course's emulator: it has no kubesim.labkit.dev API")
    return _call(api_client, path, method, body)


def is_emulated(cluster: Any) -> bool:
    """Does this cluster have the emulator's clock (so time can be run forward)? A real one has not."""
    from kubernetes.client.exceptions import ApiException

    api_client = _api_client(cluster)
    known = getattr(api_client, "_labkit_emulated", None)
    if known is None:
        try:
            _call(api_client, CLOCK_GROUP, "GET")
            known = True
        except ApiException as error:
            if error.status not in (404, 403):
                raise
            known = False
        api_client._labkit_emulated = known
    return known


def pass_time(cluster: Any, seconds: float) -> str:
    """Let ``seconds`` of cluster time pass: the emulator runs its controllers through them at once,
    a real cluster is waited for. Returns a sentence saying which happened."""
    if seconds < 0:
        raise ValueError("time only goes forward: pass a number of seconds of 0 or more")
    api_client = _api_client(cluster)
    if not is_emulated(api_client):
        time.sleep(seconds)
        return f"waited {seconds:g} s (a real cluster runs in real time)"
    left = float(seconds)
    while left > 0:
        step = min(left, MAX_STEP)
        _call(api_client, ADVANCE, "POST", {"apiVersion": "kubesim.labkit.dev/v1alpha1", "kind": "Advance",
                                             "seconds": step})
        left -= step
    return f"the emulator's clock ran {seconds:g} s forward at once"


def watch(cluster: Any, seconds: float, every: float, show: Callable[[float], Any]) -> None:
    """Call ``show(elapsed)`` now and after every ``every`` seconds of cluster time, for ``seconds``:
    a timeline of what the cluster does (at once on the emulator, in real time on a real cluster)."""
    if every <= 0:
        raise ValueError("every must be a positive number of seconds")
    elapsed = 0.0
    show(elapsed)
    while elapsed + 1e-9 < seconds:
        step = min(every, seconds - elapsed)
        pass_time(cluster, step)
        elapsed += step
        show(elapsed)
