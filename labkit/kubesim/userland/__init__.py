"""What a container holds, as the kubelet builds it, and a small shell that answers what
tutorials type in ``kubectl exec`` and ``kubectl run -it`` (no process is started on the host).

Public names (the contract with the kubelet, exec/attach and the probes):

- ``container_view(store, pod, container, now) -> ContainerView``: ``.env`` (ordered as the kubelet
  and the runtime build it), ``.files`` (path -> bytes, None for a directory), ``.hostname``,
  ``.image`` (images.ImageInfo), ``.command()`` (PID 1's argv, ``$(VAR)`` expanded);
- ``run(view, argv, stdin, stdout, stderr, tty=False, store=None) -> int``: the exit code;
- ``env_errors(store, pod, container) -> list[str]``: CreateContainerConfigError messages;
- ``env_warnings(store, pod, container) -> list[str]``: InvalidEnvironmentVariableNames messages;
- ``mount_errors(store, pod) -> list[(volume, message)]``: FailedMount messages;
- ``expand_command(store, pod, container) -> list[str]``: ``command`` + ``args`` with ``$(VAR)`` expanded;
- ``file_exists(store, pod, container, path, at) -> bool`` and ``on_overlay_change(fn)``: what
  exec probes read, and a hook called when a shell wrote to a container.

Modules: ``families`` (image families, rootfs.yaml), ``environment``, ``downward``, ``filesystem``,
``history`` (ConfigMap/Secret versions: the kubelet's update delay), ``overlay`` (writes),
``view``, ``dns`` (cluster DNS answers), ``syntax`` (parsing), ``expansion`` (``$VAR``, ``${...}``, ``$(...)``, globbing), ``shell``
(running: pipes, redirects, control flow, ``run``), ``terminal``
(tty line discipline), ``commands`` (the table and ``call``), ``command_io`` (what commands share:
error lines, reading files or stdin), ``shell_builtins`` (export, set, read, test...),
``files_commands`` (cd, ls, cat, mkdir, rm...), ``text_commands`` (echo, printf, grep, head, wc...),
``system_commands`` (env, id, uname, date, sleep, ps...), ``net`` (wget/curl/nc), ``dns_commands``
(nslookup/dig/getent), ``archive`` (tar for ``kubectl cp``), ``cluster`` (store reads).
"""
from __future__ import annotations

from typing import Any

from . import environment, families, filesystem, history
from .overlay import on_overlay_change
from .shell import run
from .view import ContainerView, container_view, file_exists, started_at

__all__ = ["ContainerView", "container_view", "run", "env_errors", "env_warnings", "mount_errors",
           "expand_command", "file_exists", "on_overlay_change", "track", "started_at"]


def _spec(pod: dict, container: str) -> dict:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if c.get("name") == container:
            return c
    return {"name": container}


def _environment(store: Any, pod: dict, container: str) -> environment.Environment:
    spec = _spec(pod, container)
    fam = families.family(spec.get("image", "") or "")
    return environment.build(store, pod, spec, fam, filesystem.hostname_of(pod), store.clock.time())


def env_errors(store: Any, pod: dict, container: str) -> list[str]:
    """Why the kubelet cannot make this container's environment now (CreateContainerConfigError):
    ``configmap "x" not found``, ``couldn't find key k in ConfigMap default/x``... (the first one)."""
    return _environment(store, pod, container).errors


def env_warnings(store: Any, pod: dict, container: str) -> list[str]:
    """The kubelet's InvalidEnvironmentVariableNames event messages (envFrom keys skipped)."""
    return _environment(store, pod, container).warnings


def mount_errors(store: Any, pod: dict) -> list[tuple[str, str]]:
    """(volume, FailedMount message) for each volume that cannot be set up now."""
    return filesystem.mount_errors(store, pod)


def expand_command(store: Any, pod: dict, container: str) -> list[str]:
    """``command`` + ``args`` of the container with ``$(VAR)`` expanded as the kubelet does (what
    the process really receives); empty when neither is set (the image's entrypoint runs)."""
    env = _environment(store, pod, container)
    spec = _spec(pod, container)
    return environment.expand_command(spec.get("command"), env.kubelet) + environment.expand_command(spec.get("args"), env.kubelet)


def track(store: Any) -> None:
    """Record ConfigMap and Secret versions from now on (the kubelet's update delay needs the past);
    the kubelet calls it at start, container_view does too."""
    history.track(store)

