"""Start-up timing: real processes, the no-engine path, a fake engine, and a real one when CI has it."""
import os
import subprocess
import sys

import pytest

from conftest import skip_unless_ci
from http_fakes import FakeDockerEngine, closed_port, serving

from labkit import docker_engine as engine
from labkit import startup


def test_timing_summaries():
    timing = startup.Timing("Starting a thing", [0.030, 0.010, 0.020])
    assert timing.median_s == 0.020
    assert timing.min_s == 0.010
    assert str(timing) == "Starting a thing: typically 20.0 ms (median of 3 runs; fastest 10.0 ms)."
    slow = startup.Timing("Booting", [2.5])
    assert str(slow) == "Booting: typically 2.50 s (median of 1 run; fastest 2.50 s)."


def test_timing_needs_samples():
    with pytest.raises(ValueError, match="at least one sample"):
        startup.Timing("nothing", [])


def test_time_process_runs_python():
    timing = startup.time_process(runs=2)
    assert len(timing.samples_s) == 2
    assert all(0 < sample < 30 for sample in timing.samples_s)
    assert timing.label == "Starting a Python process"


def test_time_process_with_a_command():
    timing = startup.time_process(runs=1, command=[sys.executable, "-c", "import sys"])
    assert len(timing.samples_s) == 1
    assert timing.label.startswith("Running ")


def test_time_process_reports_a_failing_command():
    with pytest.raises(subprocess.CalledProcessError):
        startup.time_process(runs=1, command=[sys.executable, "-c", "raise SystemExit(3)"])


@pytest.mark.parametrize("runs", [0, -1, 1.5, True])
def test_runs_must_be_positive_whole_numbers(runs):
    with pytest.raises(ValueError):
        startup.time_process(runs=runs)


def test_default_image(monkeypatch):
    monkeypatch.delenv("LABKIT_CONTAINER_IMAGE", raising=False)
    assert startup.default_image() == "busybox:latest"
    monkeypatch.setenv("LABKIT_CONTAINER_IMAGE", "course/tiny:1")
    assert startup.default_image() == "course/tiny:1"


@pytest.fixture
def docker_env(monkeypatch):
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_time_container_without_engine_explains(docker_env):
    docker_env.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    docker_env.setenv("LABKIT_CONTAINER_IMAGE", "course/tiny:1")
    result = startup.time_container(runs=1)
    assert isinstance(result, startup.Unavailable)
    assert result.reason.startswith("No Docker engine is running")
    assert "course/tiny:1" in result.what_would_happen
    assert "Not measured" in str(result)
    for words in ("Error while fetching", "Connection aborted", "ConnectionRefusedError"):
        assert words not in str(result)


class EngineWithoutImages(FakeDockerEngine):
    """An engine that answers, has no images, and cannot pull any."""

    not_found = "No such image"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.reply(500, {"message": "pull access denied: no network here"})


def test_time_container_missing_image_explains(docker_env):
    with serving(EngineWithoutImages) as url:
        docker_env.setenv("DOCKER_HOST", url.replace("http://", "tcp://", 1))
        result = startup.time_container("course/missing:1", runs=1)
    assert isinstance(result, startup.Unavailable)
    assert "'course/missing:1' is not on this machine" in result.reason
    assert "LABKIT_CONTAINER_IMAGE" in result.reason


def test_compare_startups_without_engine(docker_env):
    docker_env.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    both = startup.compare_startups(process_runs=1, container_runs=1)
    assert isinstance(both["process"], startup.Timing)
    assert isinstance(both["container"], startup.Unavailable)


def test_time_container_with_a_real_engine():
    image = os.environ.get("LABKIT_CONTAINER_IMAGE")
    status = engine.docker_engine()
    if not status.available:
        skip_unless_ci(f"no Docker engine here: {status.detail}")
    if not image:
        skip_unless_ci("set LABKIT_CONTAINER_IMAGE to a local image that has `true`")
    result = startup.time_container(image, runs=2)
    assert isinstance(result, startup.Timing), str(result)
    assert len(result.samples_s) == 2
    assert image in result.label
