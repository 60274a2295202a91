"""The base images every build and start-up test stands on let a non-root user work.

On CI machines nothing can be pulled, so `.ci/base-images.sh` makes the base images
from Debian packages. A root folder tarred with mode 0700 once made `/` unreadable to
every non-root `USER` in them, and CI stayed green only where older images were cached.
These checks run each image as an unprivileged user, the way the course's Dockerfiles
and the grading image do.
"""

from __future__ import annotations

import subprocess

from conftest import skip_unless_ci
from labkit import docker_engine as engine
from labkit import images, startup

NON_ROOT = "1000:1000"


def _present(image: str) -> None:
    status = engine.docker_engine()
    if not status.available:
        skip_unless_ci(f"no Docker engine: {status.detail}")
    found = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if found.returncode != 0:
        skip_unless_ci(
            f"the image {image} is not on this machine and none can be pulled here: "
            "make it with `bash .ci/base-images.sh`"
        )


def _run_as_non_root(image: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", NON_ROOT, image, *command],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_python_base_image_runs_a_non_root_users_python3() -> None:
    image = images.base_image()
    _present(image)
    result = _run_as_non_root(
        image, "python3", "-c", "import os, ssl, venv; print(os.getuid(), oct(os.stat('/').st_mode & 0o777))"
    )
    assert result.returncode == 0, f"{image} as uid 1000: {result.stderr.strip()}"
    assert result.stdout.split() == ["1000", "0o755"], result.stdout


def test_the_start_up_image_runs_a_non_root_users_shell() -> None:
    image = startup.default_image()
    _present(image)
    # busybox has no `id` here: the kernel's own record of the process says who runs it.
    result = _run_as_non_root(image, "sh", "-c", "ls / >/dev/null && cat /proc/self/status")
    assert result.returncode == 0, f"{image} as uid 1000: {result.stderr.strip()}"
    uid_line = next(line for line in result.stdout.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1] == "1000", uid_line
