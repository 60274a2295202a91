"""Build the web service's image for real, run it, call it, and clean up.

Why its own module: :mod:`labkit.dockerfile` reads a Dockerfile; this module hands it
to a Docker engine through the Docker SDK, the same API ``docker build`` and
``docker run`` use. Everything here degrades to a plain explanation when no engine
answers (Binder, most grading machines): the functions that a lesson calls return a
:class:`labkit.startup.Unavailable` that says why and what would have happened,
instead of raising.

No image registry is needed when the base image is already on the machine:
``LABKIT_BASE_IMAGE`` names such an image (CI makes one from Debian's packages) and
is passed to the Dockerfile as the build argument ``BASE_IMAGE``. Without it the
Dockerfile's own default (``python:3.12-slim``) is pulled from Docker Hub.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import requests

from labkit import docker_engine, dockerfile, dockerfile_layers
from labkit.dockerignore import ignored
from labkit.startup import Unavailable

__all__ = [
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_DOCKERIGNORE",
    "BuildError",
    "BuildResult",
    "TryReport",
    "CacheReport",
    "base_image",
    "build_args",
    "webapp_context",
    "context_files",
    "context_tar",
    "build",
    "remove_image",
    "clean_up",
    "image_layers",
    "layer_sizes",
    "what_would_happen",
    "try_webapp",
    "rebuild_after_change",
]

DEFAULT_BASE_IMAGE = "python:3.12-slim"
#: What the lesson leaves out of the context when it is not given a .dockerignore of its own.
DEFAULT_DOCKERIGNORE = "tests\n**/__pycache__\n**/*.pyc\n.git\n.venv\n.env\n"

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
# Images this process built, so clean_up() removes exactly those and nothing of anyone else's.
_BUILT: list[str] = []


class BuildError(RuntimeError):
    """The engine could not build the image; the message names the step and the engine's words."""


def base_image() -> str:
    """The base image to build on: ``LABKIT_BASE_IMAGE`` if set, else python:3.12-slim."""
    return os.environ.get("LABKIT_BASE_IMAGE") or DEFAULT_BASE_IMAGE


def build_args() -> dict[str, str]:
    """``--build-arg`` values for the course's Dockerfiles: ``BASE_IMAGE`` when set locally."""
    image = os.environ.get("LABKIT_BASE_IMAGE")
    return {"BASE_IMAGE": image} if image else {}


def webapp_context() -> Path:
    """The course web service's folder: the build context of its image."""
    import webapp

    return Path(webapp.__file__).resolve().parent


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} should be text (a str), got a {type(value).__name__}.")
    return value


def context_files(context: Path | str | None = None, dockerignore: str | None = DEFAULT_DOCKERIGNORE) -> list[str]:
    """The context's files (relative, sorted) that a build would send to the engine."""
    root = Path(context) if context is not None else webapp_context()
    if not root.is_dir():
        raise FileNotFoundError(f"The build context {root} is not a folder. Pass the folder that holds the app's files.")
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            if dockerignore is None or not ignored(dockerignore, relative):
                found.append(relative)
    return found


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    # Fixed owner, mode and time: the build cache then sees only real content changes.
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    archive.addfile(info, io.BytesIO(data))


def context_tar(
    dockerfile_text: str,
    context: Path | str | None = None,
    dockerignore: str | None = DEFAULT_DOCKERIGNORE,
    overrides: Mapping[str, str] | None = None,
) -> io.BytesIO:
    """The build context as the engine receives it: a tar of the files, the Dockerfile and .dockerignore.

    ``overrides`` replaces (or adds) files by relative path, so a lesson can show a
    code change without touching the course's one copy of the service.
    """
    dockerfile_text = _check_text(dockerfile_text, "The Dockerfile")
    root = Path(context) if context is not None else webapp_context()
    changes = dict(overrides or {})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for relative in context_files(root, dockerignore):
            if relative in ("Dockerfile", ".dockerignore"):
                continue
            data = changes.pop(relative).encode() if relative in changes else (root / relative).read_bytes()
            _add(archive, relative, data)
        for relative, text in changes.items():
            if dockerignore is None or not ignored(dockerignore, relative):
                _add(archive, relative, _check_text(text, f"The new content of {relative}").encode())
        _add(archive, "Dockerfile", dockerfile_text.encode())
        if dockerignore is not None:
            _add(archive, ".dockerignore", dockerignore.encode())
    buffer.seek(0)
    return buffer


@dataclasses.dataclass
class BuildResult:
    """A finished build."""

    image_id: str
    tag: str
    seconds: float
    log: list[str]
    cached_steps: list[int]  # steps the engine took from its build cache ("Using cache")
    run_steps: list[int]  # steps it ran (FROM and a leading ARG are neither)

    def __str__(self) -> str:
        return (
            f"Built {self.tag} ({self.image_id[:19]}) in {self.seconds:.1f} s: "
            f"{len(self.run_steps)} steps run, {len(self.cached_steps)} from the cache."
        )


def _cache_use(log: list[str]) -> tuple[list[int], list[int]]:
    """Which steps came from the cache and which ran, read from a classic builder's log."""
    cached, ran = [], []
    current, keyword = None, ""
    hit = False

    def close() -> None:
        if current is not None and keyword not in ("FROM", "ARG"):
            (cached if hit else ran).append(current)

    for line in log:
        match = _STEP.match(line.strip())
        if match:
            close()
            current, keyword, hit = int(match.group(1)), match.group(3).split()[0].upper(), False
        elif "Using cache" in line:
            hit = True
    close()
    return cached, ran


def _client(timeout: int = 300):
    import docker

    return docker.from_env(timeout=timeout)


def build(
    dockerfile_text: str,
    tag: str = "course-webapp:lesson",
    *,
    context: Path | str | None = None,
    dockerignore: str | None = DEFAULT_DOCKERIGNORE,
    overrides: Mapping[str, str] | None = None,
    buildargs: Mapping[str, str] | None = None,
    on_output: Callable[[str], None] | None = print,
) -> BuildResult:
    """Build an image through the Docker SDK, passing each line of progress to ``on_output``.

    ``buildargs`` defaults to :func:`build_args` (the local base image, when there is
    one). Raises :class:`BuildError` saying which step failed and why, and
    ``RuntimeError`` when no engine answers (check :func:`labkit.docker_engine.docker_engine` first).
    """
    status = docker_engine.docker_engine()
    if not status.available:
        raise RuntimeError(str(status))
    args = dict(build_args() if buildargs is None else buildargs)
    tar = context_tar(dockerfile_text, context, dockerignore, overrides)
    client = _client()
    log: list[str] = []
    image_id = None
    started = time.perf_counter()
    try:
        stream = client.api.build(
            fileobj=tar, custom_context=True, tag=tag, buildargs=args,
            rm=True, forcerm=True, decode=True, pull=False,
        )
        for chunk in stream:
            if "stream" in chunk:
                for line in chunk["stream"].splitlines():
                    if line.strip():
                        log.append(line)
                        if on_output is not None:
                            on_output(line)
            if "aux" in chunk and isinstance(chunk["aux"], dict) and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk:
                steps = [line for line in log if _STEP.match(line.strip())]
                where = f" at {steps[-1].strip()}" if steps else ""
                raise BuildError(
                    f"The build failed{where}: {chunk['error'].strip()} "
                    "Read the lines above it, fix that instruction, and build again."
                )
    except BuildError:
        raise
    except Exception as error:  # the engine's words, with what to do
        raise BuildError(f"The Docker engine refused the build: {error}") from error
    finally:
        client.close()
    if image_id is None:
        raise BuildError("The engine finished without saying which image it built. Build again and read the log.")
    _BUILT.append(image_id)
    cached, ran = _cache_use(log)
    return BuildResult(image_id, tag, time.perf_counter() - started, log, cached, ran)


def remove_image(image: str) -> bool:
    """Remove an image (and its untagged intermediate layers); True if it was there."""
    import docker

    client = _client(60)
    try:
        client.images.remove(image, force=True)
        return True
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()


def clean_up() -> list[str]:
    """Remove every image this Python process built (newest first); return the ids removed."""
    removed = []
    while _BUILT:
        image_id = _BUILT.pop()
        if remove_image(image_id):
            removed.append(image_id)
    return removed


def image_layers(image: str) -> list[tuple[str, float]]:
    """(instruction, size in MB) of each layer of a local image, bottom to top, like ``docker history``."""
    client = _client(60)
    try:
        history = client.api.history(image)
    finally:
        client.close()
    rows = []
    for entry in reversed(history):
        created_by = re.sub(r"^/bin/sh -c (#\(nop\) )?", "", entry.get("CreatedBy") or "").strip()
        rows.append((created_by or "(base image)", entry.get("Size", 0) / 1e6))
    return rows


def layer_sizes(image: str, dockerfile_text: str) -> list[float]:
    """Sizes in MB lined up with the Dockerfile's steps from FROM on (what the layer picture takes).

    The first number is the whole base image (all of its own layers); then one per step.
    """
    steps = dockerfile_layers.layers(dockerfile_text)
    ours = len(steps) - next(i for i, layer in enumerate(steps) if layer.instruction.keyword == "FROM") - 1
    sizes = [size for _, size in image_layers(image)]
    if ours > len(sizes) - 1 or ours < 0:
        raise ValueError(f"The image {image} has {len(sizes)} layers, too few for this Dockerfile's {ours} steps after FROM.")
    split = len(sizes) - ours
    return [sum(sizes[:split]), *sizes[split:]]


def what_would_happen(dockerfile_text: str, port: int = 8080) -> str:
    """In plain words, what building and running this Dockerfile would do, step by step."""
    steps = dockerfile_layers.layers(dockerfile_text)
    lines = [f"Building would send the context ({len(context_files())} files of webapp/) to the engine, then:"]
    for layer in steps:
        keyword = layer.instruction.keyword
        if keyword == "FROM":
            what = f"start from {dockerfile.base_image(dockerfile_text, build_args())}: its layers are the bottom of the image"
        elif keyword == "ARG":
            what = "declare a build argument (it fills in FROM)"
        elif keyword in ("COPY", "ADD"):
            what = "copy those files from the context into a new layer"
        elif keyword == "RUN":
            what = "run the command in a temporary container and save the files it changed as a new layer"
        else:
            what = "record it in the image's configuration (no files)"
        lines.append(f"  Step {layer.step}/{len(steps)}  {layer.instruction}\n           -> {what}")
    lines.append(
        f"Running would create a container (the image plus a thin writable layer), start it, publish port "
        f"{port} on 127.0.0.1, call /healthz until it answers 200, then stop it (SIGTERM) and remove it."
    )
    return "\n".join(lines)


@dataclasses.dataclass
class TryReport:
    """What happened when the lesson built, ran, called and stopped the service."""

    ok: bool
    build: BuildResult | None = None
    start_seconds: float | None = None  # from creating the container until /healthz answered
    health_status: int | None = None
    health_body: str | None = None
    lifecycle: list[str] = dataclasses.field(default_factory=list)
    problem: str = ""

    def __str__(self) -> str:
        lines = []
        if self.build:
            lines.append(str(self.build))
        if self.health_status is not None:
            lines.append(f"GET /healthz -> {self.health_status} {self.health_body} "
                         f"({self.start_seconds:.1f} s after start)")
        if self.lifecycle:
            lines.append("Container lifecycle: " + " -> ".join(self.lifecycle))
        if self.problem:
            lines.append(f"Problem: {self.problem}")
        return "\n".join(lines)


def _wait_healthy(url: str, container, deadline_s: float) -> tuple[int, str]:
    deadline = time.monotonic() + deadline_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            logs = container.logs(tail=15).decode(errors="replace").strip()
            raise RuntimeError(f"the container stopped by itself ({container.status}). Its last output:\n{logs}")
        try:
            answer = requests.get(url, timeout=2)
            return answer.status_code, answer.text.strip()
        except requests.RequestException as error:
            last_error = str(error)
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer within {deadline_s:.0f} s ({last_error}).")


@dataclasses.dataclass
class _Running:
    container: object
    url: str


def _run(image: str, port: int, lifecycle: list[str]) -> Iterator[_Running]:
    client = _client(60)
    container = client.containers.create(image, ports={f"{port}/tcp": ("127.0.0.1", None)}, detach=True)
    try:
        lifecycle.append(container.status)  # "created"
        container.start()
        container.reload()
        lifecycle.append(container.status)  # "running"
        host_port = container.ports[f"{port}/tcp"][0]["HostPort"]
        yield _Running(container, f"http://127.0.0.1:{host_port}")
        container.stop(timeout=10)
        container.reload()
        lifecycle.append(f"{container.status} (exit code {container.attrs['State']['ExitCode']})")
    finally:
        container.remove(force=True)
        lifecycle.append("removed")
        client.close()


def try_webapp(
    dockerfile_text: str,
    tag: str = "course-webapp:lesson",
    port: int = 8080,
    *,
    keep_image: bool = True,
    on_output: Callable[[str], None] | None = print,
    health_timeout_s: float = 30,
) -> TryReport | Unavailable:
    """Build the web service's image, run it, call /healthz, stop and remove the container.

    Never raises for a missing engine, a failed build or a service that does not
    answer: the report says what happened. Without an engine it returns an
    :class:`~labkit.startup.Unavailable` explaining what would have happened.
    The image stays (for a rebuild) unless ``keep_image`` is False.
    """
    dockerfile_text = _check_text(dockerfile_text, "The Dockerfile")
    status = docker_engine.docker_engine()
    if not status.available:
        return Unavailable(str(status), what_would_happen(dockerfile_text, port))
    report = TryReport(ok=False)
    try:
        report.build = build(dockerfile_text, tag, on_output=on_output)
    except BuildError as error:
        report.problem = str(error)
        return report
    try:
        started = time.monotonic()
        runner = _run(report.build.image_id, port, report.lifecycle)
        running = next(runner)
        try:
            report.health_status, report.health_body = _wait_healthy(
                f"{running.url}/healthz", running.container, health_timeout_s
            )
            report.start_seconds = time.monotonic() - started
            next(runner, None)  # stop and remove
        finally:
            runner.close()  # removes the container if anything above failed
        report.ok = report.health_status == 200
        if not report.ok:
            report.problem = f"/healthz answered {report.health_status}, not 200."
    except Exception as error:  # say what went wrong instead of a traceback
        report.problem = f"Running the image failed: {error}"
    finally:
        if not keep_image:
            remove_image(report.build.image_id)
    return report


@dataclasses.dataclass
class CacheReport:
    """A rebuild after a file changed: what Docker did, and what the course predicted."""

    changed: str
    predicted: list[int]
    build: BuildResult | None = None

    @property
    def matches(self) -> bool | None:
        return None if self.build is None else self.build.run_steps == self.predicted

    def __str__(self) -> str:
        lines = [f"After a change to {self.changed}, the course predicts steps {self.predicted or 'none'} run again."]
        if self.build:
            lines.append(f"Docker took steps {self.build.cached_steps} from the cache and ran {self.build.run_steps} "
                         f"({self.build.seconds:.1f} s).")
            lines.append("Prediction and build agree." if self.matches else "Prediction and build differ!")
        return "\n".join(lines)


def rebuild_after_change(
    dockerfile_text: str,
    changed: str = "app.py",
    tag: str = "course-webapp:lesson",
    on_output: Callable[[str], None] | None = None,
) -> CacheReport | Unavailable:
    """Change one context file (in the build context only) and rebuild: which steps came from the cache?

    The change is a comment appended to the file, sent in the build context; the
    course's copy of the file is not touched. Without an engine, returns an
    ``Unavailable`` with the prediction from :func:`labkit.dockerfile_layers.rebuilt_steps`.
    """
    predicted = dockerfile_layers.rebuilt_steps(dockerfile_text, changed, DEFAULT_DOCKERIGNORE)
    status = docker_engine.docker_engine()
    if not status.available:
        return Unavailable(
            str(status),
            f"Docker would reuse every step before the first one that copies {changed} from its cache, "
            f"and run steps {predicted or 'none'} again.",
        )
    original = (webapp_context() / changed).read_text() if (webapp_context() / changed).exists() else ""
    report = CacheReport(changed, predicted)
    try:
        report.build = build(
            dockerfile_text, tag, overrides={changed: original + f"\n# changed at {time.time()}\n"}, on_output=on_output
        )
    except BuildError as error:
        return Unavailable(str(error), f"Docker would run steps {predicted or 'none'} again and take the rest from its cache.")
    return report
