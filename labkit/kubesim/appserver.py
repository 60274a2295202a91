"""The course web service inside the emulator: ``webapp.app.create_app`` answering in-process.

Why its own module: a table of canned answers for the course's own image would drift from the
app the lessons build; here the real Flask app answers through WSGI (werkzeug), so ``GET /`` is
the app's own JSON. The image's catalogue entry (``data/images.yaml``) names the factory
(``app: {factory: webapp.app:create_app, cpu: ...}``); the app is given the container's world
through its platform hooks (``webapp/app.py``, "Platform hooks"):

- its environment is the container's, as the kubelet builds it (env, envFrom ConfigMaps and
  Secrets: ``userland.container_view(...).env``), so a ConfigMap's ``APP_GREETING`` shows in ``/``;
- its hostname is the pod's (``spec.hostname`` or its name);
- ``APP_READY_FILE`` and ``APP_UNHEALTHY_FILE`` are looked up in the container's files (the image,
  volumes and what ``kubectl exec ... rm`` or ``touch`` changed: ``userland.file_exists``), so
  ``/readyz`` turns 503 and ``/healthz`` 500;
- ``/work?ms=N`` does not spin the host's CPU: the N ms are the request's cost
  (:attr:`..http_answers.HttpAnswer.cpu`, core-seconds); other requests cost the entry's ``cpu``.

One app is built per container instance (pod uid, container, restart count, environment) and
kept while that instance runs. A configuration the app refuses (``webapp.app.ConfigError``, e.g.
``PORT=abc``) makes the process fail at start as gunicorn does (:func:`start_failure`: its log
lines and exit code, which the kubelet's ``podconfig.program_at_start`` asks for).
"""
from __future__ import annotations

import importlib
import weakref
from dataclasses import dataclass
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, Callable

from . import images

if TYPE_CHECKING:  # pragma: no cover
    from .http_answers import HttpAnswer
    from .programs import Program
    from .store import Store

Obj = dict[str, Any]
# gunicorn's sync worker exits with WORKER_BOOT_ERROR (3) when the app cannot load; the master then stops
BOOT_ERROR_EXIT = 3


def app_entry(image: str) -> Obj | None:
    """The ``app:`` of the image's catalogue entry (a WSGI factory answers it), or None."""
    app = images.lookup(image).entry.get("app")
    return app if isinstance(app, dict) and app.get("factory") else None


def _factory(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass
class _Instance:
    """One container instance's app and what its hooks read."""

    key: tuple
    app: Any
    pod: Obj                 # the pod as the request found it (its status names the container instance)
    at: float = 0.0          # the moment the request (or the kubelet's probe) looks at the files
    burned_ms: float = 0.0   # what /work asked to burn during this request


_APPS: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], _Instance]]" = weakref.WeakKeyDictionary()


def _restarts(pod: Obj, name: str) -> int:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == name:
            return int(cs.get("restartCount") or 0)
    return 0


def _started(store: "Store", pod: Obj, name: str) -> float | None:
    from .controllers.kubelet import started_at  # late: the kubelet imports what imports this module
    exact = started_at(store, pod, name)
    if exact is not None:
        return exact
    from .userland import started_at as status_started
    return status_started(pod, name)


def container_env(store: "Store", pod: Obj, name: str, started: float | None) -> dict[str, str]:
    """The container's environment as the kubelet built it when the process started."""
    from . import userland
    view = userland.container_view(store, pod, name, store.clock.time(), started=started)
    return dict(view.env)


def _instance(store: "Store", pod: Obj, container: Obj, entry: Obj) -> _Instance:
    name = container.get("name", "")
    uid = pod["metadata"].get("uid", "")
    started = _started(store, pod, name)
    env = container_env(store, pod, name, started)
    key = (uid, name, _restarts(pod, name), started, tuple(sorted(env.items())))
    apps = _APPS.setdefault(store, {})
    inst = apps.get((uid, name))
    if inst is not None and inst.key == key:
        return inst
    from . import userland
    from .userland.filesystem import hostname_of
    box: list[_Instance] = []

    def file_exists(path: str) -> bool:
        return bool(userland.file_exists(store, box[0].pod, name, path, box[0].at, started=started))

    def burn(ms: int) -> float:
        box[0].burned_ms += ms
        return float(ms)

    host = hostname_of(pod)
    app = _factory(entry["factory"])(environ=env, hostname=lambda: host, file_exists=file_exists, burn=burn)
    inst = _Instance(key, app, pod)
    box.append(inst)
    apps[(uid, name)] = inst
    return inst


def answer(store: "Store", pod: Obj, container: Obj, port: int, method: str, path: str, headers: dict[str, str],
           body: bytes, client: str = "127.0.0.1", at: float | None = None) -> "HttpAnswer":
    """What the app in ``container`` answers to one HTTP request (through WSGI, as gunicorn calls it).

    ``at`` is when it looks at the container's files (default: now; the kubelet's planned
    probes ask about other moments). Raises :class:`..backends.ConnectionRefused` when the app
    cannot be built (its configuration error: under gunicorn nothing would listen)."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    from .backends import ConnectionRefused, pod_ip, refused
    from .http_answers import REASONS, HttpAnswer
    entry = app_entry(container.get("image", "")) or {}
    try:
        inst = _instance(store, pod, container, entry)
    except ValueError as error:  # webapp.app.ConfigError: gunicorn's worker failed to boot
        raise ConnectionRefused(refused(pod_ip(pod) or "<none>", port)) from error
    inst.pod = pod
    inst.at = store.clock.time() if at is None else at
    inst.burned_ms = 0.0
    lower = {k.lower(): v for k, v in headers.items()}
    host = lower.get("host") or f"{pod_ip(pod)}:{port}"
    target, _, query = path.partition("?")
    builder = EnvironBuilder(path=target or "/", query_string=query, method=method.upper(), headers=headers,
                             data=body or None, base_url=f"http://{host}")
    environ = builder.get_environ()
    environ.update({"REMOTE_ADDR": client, "SERVER_PORT": str(port), "SERVER_SOFTWARE": "gunicorn/23.0.0"})
    chunks, status, app_headers = run_wsgi_app(inst.app, environ)
    try:
        data = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    code = int(status.split(" ", 1)[0])
    out = {"Server": "gunicorn", "Date": format_datetime(store.clock.now(), usegmt=True), "Connection": "close"}
    out.update({k: v for k, v in app_headers.items()})
    cost = inst.burned_ms / 1000.0 if inst.burned_ms else float(entry.get("cpu", 0.0))
    return HttpAnswer(code, REASONS.get(code, status.partition(" ")[2]), out, data, cpu=cost)


def start_failure(info: images.ImageInfo, env: dict[str, str], program: "Program") -> "Program":
    """The process as it starts: gunicorn failing to boot the app on a configuration error
    (its log, exit code 3, about a second after the start), else ``program`` unchanged.

    Only for a container whose process is the app's server (the image's own, which serves)."""
    entry = info.entry.get("app")
    if not isinstance(entry, dict) or not entry.get("factory") or not program.serves or program.runs_for is not None:
        return program
    try:
        settings = importlib.import_module(entry["factory"].partition(":")[0]).load_settings
        settings(environ=env)
    except ValueError as error:
        from .programs import Program
        kind = type(error).__name__
        boot = float(info.entry.get("startupSeconds", 1.0))
        lines = list(info.logs) + [
            "[ERROR] Exception in worker process", f"app.{kind}: {error}",
            "[INFO] Worker exiting (pid: 7)", f"[ERROR] Worker (pid:7) exited with code {BOOT_ERROR_EXIT}",
            "[ERROR] Shutting down: Master", "[ERROR] Reason: Worker failed to boot."]
        return Program(runs_for=boot, exit_code=BOOT_ERROR_EXIT, logs=[(0.0, line) for line in lines])
    return program
