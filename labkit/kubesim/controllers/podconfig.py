"""What the kubelet takes from a container's config when it starts it: first the checks, that the
ConfigMaps, Secrets and keys its environment and volumes name exist (CreateContainerConfigError,
FailedMount), then the process itself (``command``/``args`` with ``$(VAR)`` expanded in the
environment the kubelet builds, and a one-shot command run in the container's shell).

Why here: the userland package (``kubesim.userland``) builds the container's environment and files
and owns these rules (``env_errors``, ``mount_errors``, ``container_view``); this module asks it, and
holds the checks in short for a tree without it (the process is then what the spec alone says), so
the kubelet never depends on what else is installed. The messages are the kubelet's
(pkg/kubelet/kubelet_pods.go, pkg/volume/configmap and secret).
"""
from __future__ import annotations

from typing import Any

from .. import appserver, images, resources
from ..programs import Program, simulate

Obj = dict[str, Any]
KEYS = {"configMap": ("/configmaps", "configmap", "ConfigMap"), "secret": ("/secrets", "secret", "Secret")}
# kube-controller-manager's root-ca-cert-publisher puts this ConfigMap in every namespace at once; the
# emulator has no such controller yet, so the service account volume's source counts as present
ROOT_CA = "kube-root-ca.crt"

try:  # the userland's own rules, when present (contract 3 of issue 13)
    from .. import userland
    from ..userland import (env_errors as _userland_env_errors, environment as _environment,
                            mount_errors as _userland_mount_errors)
except ImportError:  # pragma: no cover - depends on the tree
    userland = _environment = _userland_env_errors = _userland_mount_errors = None


def _find(store: Any, key: str, namespace: str, name: str) -> Obj | None:
    return store.find(resources.get(key), namespace, name)


def _keys(obj: Obj) -> set[str]:
    return set(obj.get("data") or {}) | set(obj.get("binaryData") or {}) | set(obj.get("stringData") or {})


def env_errors(store: Any, pod: Obj, container: Obj) -> list[str]:
    """The CreateContainerConfigError messages of ``container`` (``configmap "x" not found``,
    ``couldn't find key k in ConfigMap default/x``); [] when its environment can be built."""
    if not container.get("env") and not container.get("envFrom"):
        return []
    if _userland_env_errors is not None:
        return list(_userland_env_errors(store, pod, container.get("name", "")))
    ns = pod["metadata"].get("namespace", "default")
    out: list[str] = []
    for src in container.get("envFrom") or []:
        for field, (key, word, _) in (("configMapRef", KEYS["configMap"]), ("secretRef", KEYS["secret"])):
            ref = src.get(field)
            if ref and not ref.get("optional") and _find(store, key, ns, ref.get("name", "")) is None:
                out.append(f'{word} "{ref.get("name", "")}" not found')
    for var in container.get("env") or []:
        vf = var.get("valueFrom") or {}
        for field, (key, word, kind) in (("configMapKeyRef", KEYS["configMap"]), ("secretKeyRef", KEYS["secret"])):
            ref = vf.get(field)
            if not ref or ref.get("optional"):
                continue
            obj = _find(store, key, ns, ref.get("name", ""))
            if obj is None:
                out.append(f'{word} "{ref.get("name", "")}" not found')
            elif ref.get("key") not in _keys(obj):
                out.append(f"couldn't find key {ref.get('key')} in {kind} {ns}/{ref.get('name', '')}")
    return out


def _source_error(store: Any, ns: str, kind: str, src: Obj) -> str:
    key, word, _ = KEYS[kind]
    name = src.get("name") if kind == "configMap" else src.get("secretName", src.get("name"))
    if src.get("optional"):
        return ""
    obj = _find(store, key, ns, name or "")
    if obj is None:
        return f'{word} "{name}" not found'
    for item in src.get("items") or []:
        if item.get("key") not in _keys(obj):
            return f"{word} references non-existent {'config ' if kind == 'configMap' else 'secret '}key: {item.get('key')}"
    return ""


def mount_errors(store: Any, pod: Obj) -> list[tuple[str, str]]:
    """(volume, ``MountVolume.SetUp failed for volume "cfg" : configmap "x" not found``) for each
    ConfigMap, Secret or projected volume the kubelet cannot set up now."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    if not any("configMap" in v or "secret" in v or "projected" in v for v in volumes):
        return []
    if _userland_mount_errors is not None:
        return [(v, m) for v, m in _userland_mount_errors(store, pod) if f'configmap "{ROOT_CA}" not found' not in m]
    ns = pod["metadata"].get("namespace", "default")
    out = []
    for vol in volumes:
        sources = [(k, vol[k]) for k in KEYS if k in vol]
        sources += [(k, s[k]) for s in (vol.get("projected") or {}).get("sources") or [] for k in KEYS
                    if k in s and (s[k] or {}).get("name") != ROOT_CA]
        for kind, src in sources:
            err = _source_error(store, ns, kind, src or {})
            if err:
                out.append((vol.get("name", ""), f'MountVolume.SetUp failed for volume "{vol.get("name", "")}" : {err}'))
                break
    return out


def program_at_start(store: Any, pod: Obj, container: Obj, info: images.ImageInfo, program: Program,
                     at: float) -> Program:
    """The process as the runtime starts it: ``command``/``args`` with ``$(VAR)`` expanded and
    the environment the kubelet built (env, envFrom, valueFrom, service variables), read now,
    as a real kubelet builds them when it creates the container; ``program`` (what the spec alone
    says) when the userland cannot build the container."""
    if userland is None:
        return program
    try:
        view = userland.container_view(store, pod, container["name"], at, started=at, program=Program())
    except Exception:  # the userland cannot build this container: keep what the spec alone says
        return program
    command = _environment.expand_command(container["command"], view.kubelet_env) if container.get("command") is not None else None
    args = _environment.expand_command(container["args"], view.kubelet_env) if container.get("args") is not None else None
    program = simulate(info, command, args, dict(view.env), stdin=bool(container.get("stdin")))
    # an app the emulator runs for real (the course web service) may refuse this environment at
    # start (webapp.app.ConfigError): then the process is gunicorn failing to boot (appserver.py)
    return appserver.start_failure(info, dict(view.env), program)


def run_oneshot(store: Any, pod: Obj, container: str, program: Program, at: float) -> None:
    """A one-shot command as the container's process (``-- nslookup kubernetes.default``): run
    it in the container's shell as it starts; its output becomes ``program``'s log, its status
    the exit code (unchanged when the shell cannot run it here)."""
    if userland is None:
        return
    out: list[bytes] = []
    try:
        view = userland.container_view(store, pod, container, at, started=at, program=Program())
        code = userland.run(view, list(program.oneshot), None, out.append, out.append, store=store)
    except Exception:  # the shell cannot run it here: the process exits without output
        return
    text = b"".join(out).decode("utf-8", "replace")
    program.logs = [(0.0, line) for line in text.splitlines()]
    program.exit_code = int(code)
