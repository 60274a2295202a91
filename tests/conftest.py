"""Shared test fixtures: where the course lives, and its notebooks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # `tools` is not installed: it is instructor tooling

from tools import course as course_manifest  # noqa: E402


def nbgrader_env() -> dict[str, str]:
    """nbgrader calls `alembic` through PATH: make this interpreter's scripts come first."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def course() -> course_manifest.CourseManifest:
    return course_manifest.load()


def lesson_notebooks() -> list[Path]:
    return sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def source_notebooks() -> list[Path]:
    return sorted((REPO_ROOT / "source").glob("*/*.ipynb"))


def release_notebooks() -> list[Path]:
    return sorted((REPO_ROOT / "release").glob("*/*.ipynb"))


def ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(REPO_ROOT)) for path in paths]


def skip_unless_ci(reason: str) -> None:
    """Skip a check that needs something this machine lacks, saying why.

    `.ci/run` installs everything these checks need and sets LABKIT_STRICT=1, so in
    CI a missing dependency is a failure, not a quiet skip.
    """
    if os.environ.get("LABKIT_STRICT") == "1":
        pytest.fail(f"CI should provide this but does not: {reason}")
    pytest.skip(reason)
