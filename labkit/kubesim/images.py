"""Which container images exist, and what they are like: ``data/images.yaml`` as lookups (the image catalogue).

Named ``images``, not ``registry``: in Kubernetes the "registry" is the API server's storage layer.

Why data: whether ``nginx:1.27`` pulls and ``nginx:doesnotexist`` fails, how big an image is,
which ports its process serves (for probes) and how much CPU a request costs (for ``kubectl
top`` and the HPA) are facts a reviewer should read and extend in one table, not in code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .datafile import load_yaml

DATA = Path(__file__).parent / "data" / "images.yaml"


@dataclass(frozen=True)
class ImageInfo:
    """What the emulator knows about one image reference."""

    ref: str                       # normalised: docker.io/library/nginx:latest
    exists: bool                   # a registry has it
    pullable: bool = True
    preloaded: bool = False
    size: int = 30_000_000
    runs: str = "forever"          # forever | shell (exits at once without a command and a terminal)
    exit_code: int = 0             # of a `runs: shell` default process that exits at once
    process: str = ""              # what `ps` shows as PID 1 when the pod gives no command
    shell: str = "sh"              # sh | bash | none: what `kubectl exec POD -- sh` finds
    env: dict[str, str] = field(default_factory=dict)   # the image's ENV, before the pod's own
    serves: dict[int, tuple[str, ...]] = field(default_factory=dict)
    cpu_idle: float = 1.0          # millicores
    cpu_per_rps: float = 1.0
    mem_idle: float = 8.0          # MiB
    mem_per_rps: float = 0.05
    logs: tuple[str, ...] = ()
    error: str = ""                # the pull error when it does not exist
    entry: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the raw catalogue entry (e.g. `responses`)


@lru_cache(maxsize=1)
def data() -> dict[str, Any]:
    return load_yaml(DATA)


def normalise(image: str) -> tuple[str, str, str]:
    """(repository as containerd names it, tag or digest, short repository) of an image reference."""
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    first = image.split("/", 1)[0]
    if "/" not in image or not ("." in first or ":" in first or first == "localhost"):
        repo = "docker.io/" + (image if "/" in image else "library/" + image)
    else:
        repo = image
    short = repo
    for prefix in ("docker.io/library/", "docker.io/"):
        if short.startswith(prefix):
            short = short[len(prefix):]
            break
    return repo, ("@" + digest if digest else (tag or "latest")), short


def _tag_exists(entry: dict[str, Any], tag: str, pattern: str) -> bool:
    """The matching rules at the top of images.yaml: listed tags, the entry's pattern, digests."""
    if tag.startswith("@") or tag in entry.get("tags", []) or entry.get("anyTag", False):
        return True
    if tag == "latest" and not entry.get("tags"):
        return True
    pattern = entry.get("tagPattern", pattern)
    return bool(pattern) and re.match(pattern, tag) is not None


def artifact_registry_image(repo: str) -> str:
    """The IMAGE of ``REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE`` (a normalised repository), or ""."""
    rule = data()["artifactRegistry"]
    host, _, path = repo.partition("/")
    parts = path.split("/") if path else []
    if not re.match(rule["host"], host) or len(parts) < rule["pathParts"] or not all(parts):
        return ""
    return parts[-1]


def pushable(image: str) -> bool:
    """Whether ``image`` is an Artifact Registry reference of an image the rehearsal may push (the course's own)."""
    return bool(artifact_registry_image(normalise(image)[0])) and bool(lookup(image).entry.get("pushable"))


@lru_cache(maxsize=4096)
def lookup(image: str) -> ImageInfo:
    """Everything we know about ``image`` (a pod's ``containers[].image``). An Artifact Registry
    reference of a pushable image is that image, not yet pushed (``exists`` False): the cluster's
    registry (the kubelet's ``pushed``) says whether it was."""
    d = data()
    repo, tag, short = normalise(image)
    ref = f"{repo}{tag}" if tag.startswith("@") else f"{repo}:{tag}"
    base = d["defaults"]
    named = [e for e in d["images"] if short in e["names"] or repo in e["names"]]
    registry_image = "" if named else artifact_registry_image(repo)   # public images there are listed by name
    if registry_image:
        named = [e for e in d["images"] if registry_image in e["names"] and e.get("pushable")]
    for entry in named:
        tag_ok = _tag_exists(entry, tag, base["tagPattern"]) and not registry_image
        info = {**base, **entry}
        pullable = bool(registry_image) or entry.get("pullable", True)   # a registry has it once pushed
        exists = tag_ok and pullable
        error = "" if exists else d["pullErrors"]["notFound" if pullable else "denied"].format(ref=ref)
        return ImageInfo(ref=ref, exists=exists, pullable=pullable,
                         preloaded=entry.get("preloaded", False) and tag_ok, size=info["sizeBytes"],
                         runs=info["runs"], exit_code=int(info.get("exitCode", 0)), process=info.get("process", ""),
                         shell=info["shell"], env={k: str(v) for k, v in (info.get("env") or {}).items()},
                         serves={int(p): tuple(paths) for p, paths in (info.get("serves") or {}).items()},
                         cpu_idle=info["cpu"]["idle"], cpu_per_rps=info["cpu"]["perRps"],
                         mem_idle=info["memory"]["idle"], mem_per_rps=info["memory"]["perRps"],
                         logs=tuple(entry.get("logs", ())), error=error, entry=entry)
    return ImageInfo(ref=ref, exists=False, pullable=False, error=d["pullErrors"]["denied"].format(ref=ref),
                     env=dict(base.get("env") or {}))


def pull_seconds(info: ImageInfo) -> float:
    p = data()["pull"]
    return min(p["maxSeconds"], p["fixedSeconds"] + info.size / p["bytesPerSecond"])


# ---- the server a container runs (an image may hold several: agnhost's subcommands) ---------
def _subcommand(entry: dict[str, Any], argv: tuple[str, ...]) -> str:
    """The first word of ``argv`` that names one of the entry's ``subcommands`` (``agnhost liveness``,
    ``/agnhost netexec --http-port=8080``), else ""."""
    subs = entry.get("subcommands") or {}
    for word in argv:
        if word in subs:
            return word
        if not word.startswith("-") and word.rsplit("/", 1)[-1] != entry.get("process", "").rsplit("/", 1)[-1]:
            return ""
    return ""


@lru_cache(maxsize=1024)
def _server(image: str, argv: tuple[str, ...]) -> dict[str, Any]:
    entry = lookup(image).entry
    name = _subcommand(entry, argv)
    if not name:
        return entry
    sub = dict(entry["subcommands"][name] or {})
    flag = sub.get("portFlag")   # netexec --http-port=N: its one HTTP port moves there
    if flag:
        port = next((a.split("=", 1)[1] for a in argv if a.startswith(flag + "=")), None)
        if port is None and flag in argv and argv.index(flag) + 1 < len(argv):
            port = argv[argv.index(flag) + 1]
        if port is not None and str(port).isdigit():
            old = next(iter(sub.get("serves") or {}), None)
            sub["serves"] = {int(port): (sub.get("serves") or {}).get(old, [])}
    return {**entry, **sub, "subcommand": name}


def server(container: dict[str, Any]) -> dict[str, Any]:
    """The catalogue entry of the server a container's process is: the image's entry, or, for an
    image with ``subcommands:`` (agnhost), the one its ``command``/``args`` choose, merged over it
    (its own ``serves``, ``responses``, ``grpc``, ``startupSeconds``, ``cpu``)."""
    argv = tuple(str(a) for a in (container.get("command") or []) + (container.get("args") or []))
    return _server(container.get("image", "") or "", argv)


def server_ports(container: dict[str, Any], program_serves: dict[int, tuple[str, ...]]) -> dict[int, tuple[str, ...]]:
    """The ports the container listens on: what its process serves (``program_serves``, from
    :mod:`.programs`), moved to the subcommand's ports when the image's server is chosen by one."""
    if not program_serves:
        return program_serves
    entry = server(container)
    if "subcommand" not in entry:
        return program_serves
    return {int(p): tuple(paths) for p, paths in (entry.get("serves") or {}).items()}


def startup_seconds(container: dict[str, Any]) -> float:
    """How long after its process started the container's server begins to listen (``startupSeconds``)."""
    return float(server(container).get("startupSeconds", 0) or 0)


def request_cpu(entry: dict[str, Any], answer: dict[str, Any] | None = None) -> float:
    """Core-seconds one request costs: the answer's own ``cpu`` (seconds), else the image's
    ``cpu.perRps`` (millicore-seconds per request, the load model's unit) over 1000."""
    if answer is not None and answer.get("cpu") is not None:
        return float(answer["cpu"])
    per = ((entry.get("cpu") or {}).get("perRps"))
    if per is None:
        per = data()["defaults"]["cpu"]["perRps"]
    return float(per) / 1000.0
