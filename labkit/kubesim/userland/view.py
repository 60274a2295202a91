"""One container as its processes see it at a moment: environment, files, hostname, image, and
what was written to it since it started (the overlay).

Why a view object: ``kubectl exec`` runs several commands against the same container and a shell
session must see its own writes at once; the view is built once per exec (cheap: a few dicts) and
every write also goes to the container's overlay, where the next exec and the exec probes find it.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from .. import images, programs
from . import cluster, environment, filesystem, history, overlay
from .families import Family, family as family_of

Obj = dict[str, Any]


@dataclass
class ContainerView:
    """What one container holds at ``now`` (sim seconds since the epoch)."""

    store: Any
    pod: Obj
    spec: Obj                                   # the container's spec
    env: dict[str, str]
    tree: filesystem.Tree
    hostname: str
    image: images.ImageInfo
    family: Family
    now: float
    started_at: float | None
    kubelet_env: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def files(self) -> dict[str, bytes | None]:
        """path -> bytes for a file, None for a directory."""
        return self.tree.files

    @property
    def name(self) -> str:
        return self.spec.get("name", "")

    @property
    def namespace(self) -> str:
        return (self.pod.get("metadata") or {}).get("namespace", "default")

    @property
    def pod_ip(self) -> str:
        return (self.pod.get("status") or {}).get("podIP", "")

    def command(self) -> list[str]:
        """PID 1's argv: ``command``/``args`` ($(VAR) expanded) over the image's entrypoint and CMD."""
        cmd = environment.expand_command(self.spec.get("command"), self.kubelet_env)
        args = environment.expand_command(self.spec.get("args"), self.kubelet_env)
        if cmd:
            return cmd + args
        if args:
            return list(self.family.command[:1]) + args
        return list(self.family.command) or ["/pause"]

    def clock(self) -> float:
        """The simulated time now (a shell session lasts: ``date`` and writes use the live clock)."""
        try:
            return float(self.store.clock.time())
        except Exception:
            return self.now

    # ---- writes from the shell --------------------------------------------------------
    def write(self, path: str, content: bytes | None, directory: bool = False) -> str:
        """Create/replace a file (``content``), a directory, or remove (``content`` None); returns
        '' or the error's wording (``Read-only file system``, ``No such file or directory``)."""
        path = filesystem.norm(path)
        if self.tree.is_readonly(path):
            return "Read-only file system"
        parent = posixpath.dirname(path)
        if content is not None or directory:
            if self.tree.files.get(parent, b"") is not None:
                return "No such file or directory" if parent not in self.tree.files else "Not a directory"
        if directory:
            self.tree.files[path] = None
            overlay.write(self.store, self.pod, self.name, path, overlay.DIR, self.clock())
        elif content is None:
            for p in [p for p in self.tree.files if p == path or p.startswith(path + "/")]:
                del self.tree.files[p]
            overlay.write(self.store, self.pod, self.name, path, overlay.GONE, self.clock())
        else:
            self.tree.files[path] = content
            overlay.write(self.store, self.pod, self.name, path, content, self.clock())
        return ""


def _container_spec(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or []):
        if c.get("name") == name:
            return c
    return None


def started_at(pod: Obj, container: str) -> float | None:
    """When the current instance of the container started (its status' ``startedAt``)."""
    status = pod.get("status") or {}
    for cs in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if cs.get("name") == container:
            state = cs.get("state") or {}
            for k in ("running", "terminated"):
                if state.get(k, {}).get("startedAt"):
                    return cluster.seconds(state[k]["startedAt"])
    return cluster.seconds(status.get("startTime"))


def _program(view: ContainerView) -> programs.Program:
    """The process timeline programs.py reads from the command (``$(VAR)`` expanded first)."""
    cmd = environment.expand_command(view.spec.get("command"), view.kubelet_env) or None
    args = environment.expand_command(view.spec.get("args"), view.kubelet_env) or None
    return programs.simulate(view.image, cmd, args, view.env)


def container_view(store: Any, pod: Obj, container: str, now: float | None = None, *,
                   started: float | None = None, program: programs.Program | None = None) -> ContainerView:
    """The container ``container`` of ``pod`` as the kubelet built it, at ``now`` (default: the
    store's clock). ``started``/``program``: the kubelet's own figures when it has them."""
    history.track(store)
    if now is None:
        now = float(store.clock.time())
    spec = _container_spec(pod, container) or {"name": container, "image": ""}
    image = images.lookup(spec.get("image", "") or "")
    fam = family_of(spec.get("image", "") or "")
    host = filesystem.hostname_of(pod)
    start = started if started is not None else started_at(pod, container)
    ns = (pod.get("metadata") or {}).get("namespace", "default")

    def lookup(key: str, namespace: str, name: str) -> Obj | None:
        return history.as_of(store, key, namespace or ns, name, start)

    env = environment.build(store, pod, spec, fam, host, start, lookup)
    tree = filesystem.build(store, pod, spec, fam, host, start, now)
    view = ContainerView(store, pod, spec, env.env, tree, host, image, fam, now, start, env.kubelet, env.errors)
    prog = program if program is not None else _program(view)
    lay = overlay.layer(store, pod, container)
    # the process's own files (touch /tmp/healthy in its command), then what shells wrote, in time order
    events: list[tuple[float, str, Any]] = []
    if start is not None:
        events += [(start + t, p, b"" if present else overlay.GONE) for t, p, present in prog.files]
    events += list(lay.writes)
    for t, path, content in sorted(events, key=lambda e: e[0]):
        if t > now:
            continue
        path = filesystem.norm(path)
        if content is overlay.GONE:
            for p in [p for p in tree.files if p == path or p.startswith(path + "/")]:
                del tree.files[p]
        elif content is overlay.DIR:
            tree.add_dir(path)
        else:
            tree.add_file(path, content)
    return view


def file_exists(store: Any, pod: Obj, container: str, path: str, at: float, *,
                started: float | None = None, program: programs.Program | None = None) -> bool:
    """Whether ``path`` exists in the container at ``at`` (an exec probe's ``cat``/``test -e``):
    the image, volumes, the process's own timeline and what shells wrote."""
    view = container_view(store, pod, container, at, started=started, program=program)
    return filesystem.norm(path) in view.files
