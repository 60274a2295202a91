"""Start-up times, measured live on the learner's own machine.

Why measure instead of quoting: a number the learner watched being taken
(a fresh Python process, a fresh container) is more convincing than any
table, and it shows how much of "starting" is the runtime's own work.
Published VM figures live in ``labkit.vms.FIGURES`` for comparison.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from labkit import docker_engine

__all__ = [
    "Timing",
    "Unavailable",
    "time_process",
    "time_container",
    "compare_startups",
    "default_image",
]


def _short(error: BaseException) -> str:
    text = (str(error).strip() or type(error).__name__).splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


def _human(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


@dataclass
class Timing:
    """Repeated wall-clock measurements of one kind of start-up."""

    label: str
    samples_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.samples_s:
            raise ValueError(f"A timing needs at least one sample; '{self.label}' has none.")

    @property
    def median_s(self) -> float:
        """The typical run: the median ignores one unusually slow first run."""
        return statistics.median(self.samples_s)

    @property
    def min_s(self) -> float:
        """The fastest run: closest to the cost with everything already cached."""
        return min(self.samples_s)

    def __str__(self) -> str:
        runs = "1 run" if len(self.samples_s) == 1 else f"{len(self.samples_s)} runs"
        return (
            f"{self.label}: typically {_human(self.median_s)} "
            f"(median of {runs}; fastest {_human(self.min_s)})."
        )


@dataclass
class Unavailable:
    """A measurement we could not take, and what it would have shown."""

    reason: str
    what_would_happen: str

    def __str__(self) -> str:
        return f"Not measured: {self.reason}\nWhat would happen: {self.what_would_happen}"


def default_image() -> str:
    """The image to time: ``LABKIT_CONTAINER_IMAGE`` if set, else busybox."""
    return os.environ.get("LABKIT_CONTAINER_IMAGE") or "busybox:latest"


def _check_runs(runs: int) -> None:
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a whole number, 1 or more (got {runs!r}).")


def time_process(
    runs: int = 5,
    command: Sequence[str] | None = None,
    label: str | None = None,
) -> Timing:
    """Time starting a fresh process that exits at once.

    By default that is this Python interpreter running ``pass``: the baseline
    a container start-up adds to. Raises CalledProcessError if the command fails.
    """
    _check_runs(runs)
    argv = list(command) if command is not None else [sys.executable, "-c", "pass"]
    if label is None:
        label = "Starting a Python process" if command is None else f"Running {' '.join(argv)}"
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return Timing(label, samples)


def _would_happen(image: str) -> str:
    return (
        f"Each run would ask the Docker engine to create a container from the image "
        f"'{image}', start the program `true` inside it (it exits at once), and delete "
        "the container again, like `docker run --rm "
        f"{image} true`. The time measured is the engine's own work: setting up the "
        "container's isolated filesystem, network and process space. No guest OS boots."
    )


def time_container(image: str | None = None, runs: int = 3) -> Timing | Unavailable:
    """Time ``docker run --rm IMAGE true`` through the Docker SDK.

    Never raises for a missing engine, image or failed run: returns an
    ``Unavailable`` that says what happened and what the run would have done.
    The image must be on this machine already or be pullable.
    """
    _check_runs(runs)
    image = image or default_image()
    status = docker_engine.docker_engine()
    if not status.available:
        return Unavailable(str(status), _would_happen(image))
    try:
        import docker

        client = docker.from_env(timeout=60)
    except Exception as error:
        return Unavailable(f"Could not connect to the Docker engine: {error}", _would_happen(image))
    try:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            try:
                client.images.pull(image)
            except Exception as error:
                return Unavailable(
                    f"The image '{image}' is not on this machine and could not be "
                    f"downloaded ({_short(error)}). Pull or build it first, or set "
                    "LABKIT_CONTAINER_IMAGE to an image you have (`docker images` lists them).",
                    _would_happen(image),
                )
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            client.containers.run(image, ["true"], remove=True)
            samples.append(time.perf_counter() - started)
        return Timing(f"Starting a container from {image}", samples)
    except Exception as error:
        return Unavailable(
            f"Running a container from '{image}' failed: {_short(error)}. "
            "The image needs a `true` program (busybox and most Linux images have one).",
            _would_happen(image),
        )
    finally:
        try:
            client.close()
        except Exception:
            pass


def compare_startups(
    process_runs: int = 5,
    container_runs: int = 3,
    image: str | None = None,
) -> dict[str, Timing | Unavailable]:
    """Measure both start-ups: ``{"process": Timing, "container": Timing | Unavailable}``."""
    return {
        "process": time_process(process_runs),
        "container": time_container(image, container_runs),
    }
