"""The course web service: one small Flask app that every lesson runs.

The same code runs on a VM (lesson on virtual machines: cloud-init starts it under
gunicorn), in a container (the Dockerfile lesson) and in Kubernetes pods (later
lessons). Everything it needs is read from environment variables, because that is
the one configuration channel all three platforms share (cloud-init / systemd
``Environment=``, ``docker run -e``, a pod's ``env:``/ConfigMap).

Endpoints
---------
``GET /``          greeting, hostname (which VM / container / pod answered), version, env
``GET /healthz``   liveness: the process is up; 500 while ``$APP_UNHEALTHY_FILE`` is set and that file exists
``GET /readyz``    readiness: 503 while ``$APP_READY_FILE`` is set and that file is missing
``GET /work?ms=N`` burns about N ms of CPU (at most 1000) so autoscaling has load to see

Platform hooks
--------------
:func:`create_app` takes four keyword-only hooks for a host that runs the app somewhere other
than a real machine (the course's Kubernetes emulator answers pods of this image with this very
app, in-process): ``environ`` (the environment to read instead of ``os.environ``), ``hostname``
(instead of ``socket.gethostname()``), ``file_exists`` (instead of ``os.path.exists``, for
``APP_READY_FILE`` and ``APP_UNHEALTHY_FILE``) and ``burn`` (instead of spinning the CPU for ``/work``: it gets the
milliseconds to burn and returns the milliseconds taken). Left out, the app behaves exactly as
it does under gunicorn.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import flask

DEFAULT_GREETING = "Hello from the course web service"
DEFAULT_ENV = "development"
DEFAULT_VERSION = "1.0.0"
DEFAULT_PORT = 8080
MAX_WORK_MS = 1000
DEFAULT_WORK_MS = 100


class ConfigError(ValueError):
    """A configuration variable has a value the service cannot use.

    A separate type so ``python -m webapp`` can print just the message (which names
    the variable and says how to fix it) instead of a traceback.
    """


@dataclass(frozen=True)
class Settings:
    """The service's configuration, already checked."""

    greeting: str = DEFAULT_GREETING
    env: str = DEFAULT_ENV
    version: str = DEFAULT_VERSION
    port: int = DEFAULT_PORT
    ready_file: str | None = None
    unhealthy_file: str | None = None


def _parse_port(raw: str) -> int:
    text = raw.strip()
    if not text.isdigit():
        raise ConfigError(
            f"PORT must be a whole number between 1 and 65535, got {raw!r}. "
            "Set it like PORT=8080, or unset it to use 8080."
        )
    port = int(text)
    if not 1 <= port <= 65535:
        raise ConfigError(
            f"PORT must be between 1 and 65535, got {port}. "
            "Set it like PORT=8080, or unset it to use 8080."
        )
    return port


def load_settings(
    config: Mapping[str, str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings from the environment, with ``config`` taking precedence.

    ``config`` exists so tests (and notebooks) can try settings without changing the
    process environment; ``environ`` replaces ``os.environ`` (a container's environment
    in the emulator). Raises :class:`ConfigError` naming the bad variable.
    """
    source: dict[str, str] = dict(os.environ if environ is None else environ)
    if config:
        source.update(config)
    for name in ("APP_GREETING", "APP_ENV", "APP_VERSION", "PORT", "APP_READY_FILE", "APP_UNHEALTHY_FILE"):
        value = source.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"{name} must be a string (environment variables always are), "
                f"got {type(value).__name__} {value!r}. Pass it as str(...)."
            )
    env = source.get("APP_ENV", DEFAULT_ENV).strip()
    if not env:
        raise ConfigError("APP_ENV is set but empty. Give it a name such as 'production', or unset it.")
    return Settings(
        greeting=source.get("APP_GREETING", DEFAULT_GREETING),
        env=env,
        version=source.get("APP_VERSION", DEFAULT_VERSION),
        port=_parse_port(source["PORT"]) if "PORT" in source else DEFAULT_PORT,
        ready_file=source.get("APP_READY_FILE") or None,
        unhealthy_file=source.get("APP_UNHEALTHY_FILE") or None,
    )


def _burn_cpu(ms: int) -> float:
    """Spin for about ``ms`` milliseconds of wall time; return the milliseconds taken.

    A busy loop rather than ``sleep`` on purpose: the Horizontal Pod Autoscaler reacts
    to CPU use, and sleeping uses none.
    """
    start = time.perf_counter()
    deadline = start + ms / 1000.0
    counter = 0
    while time.perf_counter() < deadline:
        counter += 1
    return (time.perf_counter() - start) * 1000.0


def create_app(
    config: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    hostname: Callable[[], str] | None = None,
    file_exists: Callable[[str], bool] | None = None,
    burn: Callable[[int], float] | None = None,
) -> flask.Flask:
    """Build the web service; settings come from the environment (``config`` overrides).

    A factory rather than only a global app so tests can build apps with different
    settings side by side; the module-level ``app`` below is what gunicorn serves.
    The keyword-only hooks (module docstring, "Platform hooks") let a host that is not a
    real machine give the app its hostname, files and CPU; the defaults are the real ones.
    """
    settings = load_settings(config, environ=environ)
    host_name = hostname or socket.gethostname
    exists = file_exists or os.path.exists
    spin = burn or _burn_cpu
    app = flask.Flask(__name__)
    app.config["SETTINGS"] = settings

    @app.get("/")
    def index() -> flask.Response:
        return flask.jsonify(
            greeting=settings.greeting,
            hostname=host_name(),
            version=settings.version,
            env=settings.env,
        )

    def status(state: str, code: int, reason: str = "") -> tuple[flask.Response, int]:
        body = {"status": state, **({"reason": reason} if reason else {})}
        return flask.jsonify(body), code

    @app.get("/healthz")
    def healthz() -> tuple[flask.Response, int]:
        # A switch for lessons on liveness: `touch` the file inside the container and the
        # process stays up but says it is broken, so the kubelet restarts the container.
        if settings.unhealthy_file and exists(settings.unhealthy_file):
            return status("unhealthy", 500, f"{settings.unhealthy_file} exists (APP_UNHEALTHY_FILE)")
        return status("ok", 200)

    @app.get("/readyz")
    def readyz() -> tuple[flask.Response, int]:
        if settings.ready_file and not exists(settings.ready_file):
            return status("not ready", 503, f"waiting for {settings.ready_file} to exist (APP_READY_FILE)")
        return status("ready", 200)

    @app.get("/work")
    def work() -> tuple[flask.Response, int]:
        raw = flask.request.args.get("ms", str(DEFAULT_WORK_MS))
        try:
            requested = int(raw)
        except ValueError:
            requested = -1
        if requested < 0:
            return (
                flask.jsonify(
                    error=f"ms must be a whole number of milliseconds from 0 to {MAX_WORK_MS}, got {raw!r}",
                    example="/work?ms=200",
                ),
                400,
            )
        ms = min(requested, MAX_WORK_MS)
        elapsed = spin(ms)
        return (
            flask.jsonify(
                requested_ms=requested,
                worked_ms=ms,
                capped=requested > MAX_WORK_MS,
                elapsed_ms=round(elapsed, 3),
                hostname=host_name(),
            ),
            200,
        )

    return app


_app: flask.Flask | None = None


def __getattr__(name: str) -> flask.Flask:
    """``app``, what gunicorn serves (``gunicorn webapp.app:app``), built from the environment the
    first time it is asked for, not at import: a program that only imports ``create_app`` (the
    course's Kubernetes emulator, which gives each pod its own environment) does not depend on the
    host's variables. A bad variable still stops gunicorn's worker with the :class:`ConfigError`."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
