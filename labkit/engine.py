"""Is a Docker engine reachable from here?

Why its own module: several lessons (start-up timing, Dockerfile builds) need
the same yes/no answer, and each must degrade to a plain explanation rather
than a traceback when there is no engine (Binder, most grading machines).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["EngineStatus", "docker_engine"]

_DEFAULT_ADDRESS = "unix:///var/run/docker.sock"


@dataclass
class EngineStatus:
    """What we found when we asked for a Docker engine."""

    available: bool
    version: str | None
    detail: str

    def __str__(self) -> str:
        return self.detail


def _address() -> str:
    return os.environ.get("DOCKER_HOST") or _DEFAULT_ADDRESS


def _short(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    first = text.splitlines()[0]
    return first if len(first) <= 200 else first[:197] + "..."


def docker_engine(timeout: float = 2.0) -> EngineStatus:
    """Ask the Docker engine named by the environment (DOCKER_HOST) to answer.

    Never raises: every failure becomes an ``EngineStatus`` whose ``detail``
    says in plain words what happened and what to do about it.
    """
    address = _address()
    try:
        import docker  # imported here so labkit works even without the package
    except ImportError:
        return EngineStatus(
            False,
            None,
            "The 'docker' Python package is not installed, so we cannot talk to a "
            "Docker engine. Install the course requirements to fix this.",
        )
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        info = client.version()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        return EngineStatus(
            False,
            None,
            f"No Docker engine answered at {address}: {_short(error)}. "
            "Start Docker (Docker Desktop, or the docker service) and run this again; "
            "until then the lessons explain what Docker would do.",
        )
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    version = str(info.get("Version") or "") or None
    api = info.get("ApiVersion")
    name = f"Docker Engine {version}" if version else "A Docker engine"
    extra = f" (API {api})" if api else ""
    return EngineStatus(True, version, f"{name} is running at {address}{extra}.")
