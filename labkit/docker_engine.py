"""The Docker engine probe: is a Docker engine reachable from here?

Why its own module: several lessons (start-up timing, Dockerfile builds) need
the same yes/no answer, and each must degrade to a plain explanation rather
than a traceback when there is no engine (Binder, most grading machines).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["EngineStatus", "docker_engine", "on_binder"]

_DEFAULT_ADDRESS = "unix:///var/run/docker.sock"

# BinderHub sets these in every server it launches (binderhub's spawner: BINDER_REPO_URL,
# BINDER_REF_URL, BINDER_LAUNCH_HOST, BINDER_REQUEST, BINDER_PERSISTENT_REQUEST).
BINDER_VARIABLES = ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REQUEST", "BINDER_REF_URL")


@dataclass
class EngineStatus:
    """What we found when we asked for a Docker engine.

    ``detail`` is one plain sentence for the learner and ``advice`` what they can do
    where they are; ``cause`` keeps the client's own error for whoever debugs it, and
    is never part of what a lesson prints.
    """

    available: bool
    version: str | None
    detail: str
    advice: str = ""
    cause: str = ""

    def __str__(self) -> str:
        return f"{self.detail} {self.advice}".strip()


def on_binder() -> bool:
    """True in a Binder session, where there is never a Docker engine to start."""
    return any(os.environ.get(name) for name in BINDER_VARIABLES)


def _no_engine(address: str, cause: str) -> EngineStatus:
    """Say in one sentence that no engine answered, with advice that fits this machine."""
    where = "on this machine" if address == _DEFAULT_ADDRESS else f"at {address} (from DOCKER_HOST)"
    if on_binder():
        return EngineStatus(
            False, None, "No Docker engine is running here.",
            "Binder gives you none, so the lessons show what Docker would do instead.", cause,
        )
    if "PermissionError" in cause or "Permission denied" in cause:
        return EngineStatus(
            False, None, f"A Docker engine is running {where}, but your user may not use it.",
            "On Linux, add yourself to the docker group (`sudo usermod -aG docker $USER`), log in again and "
            "run this cell again; until then the lessons show what Docker would do.", cause,
        )
    return EngineStatus(
        False, None, f"No Docker engine is running {where}.",
        "To use one, start Docker (Docker Desktop, or `sudo systemctl start docker` on Linux) and run this "
        "cell again; until then the lessons show what Docker would do.", cause,
    )


def _address() -> str:
    return os.environ.get("DOCKER_HOST") or _DEFAULT_ADDRESS


def _short(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    first = text.splitlines()[0]
    return first if len(first) <= 200 else first[:197] + "..."


def docker_engine(timeout: float = 2.0) -> EngineStatus:
    """Ask the Docker engine named by the environment (DOCKER_HOST) to answer.

    Never raises: every failure becomes an ``EngineStatus`` that says in plain
    words what happened (``detail``) and what to do about it (``advice``).
    """
    address = _address()
    try:
        import docker  # imported here so labkit works even without the package
    except ImportError:
        return EngineStatus(
            False, None,
            "The 'docker' Python package is not installed, so the course cannot talk to a Docker engine.",
            "Install the course requirements (`pip install -e .` in the course folder) and restart the kernel.",
        )
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        info = client.version()
    except Exception as error:  # any failure means "not available"
        return _no_engine(address, f"{type(error).__name__}: {_short(error)}")
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
    version = str(info.get("Version") or "") or None
    api = info.get("ApiVersion")
    name = f"Docker Engine {version}" if version else "A Docker engine"
    extra = f" (API {api})" if api else ""
    return EngineStatus(True, version, f"{name} is running at {address}{extra}.")
