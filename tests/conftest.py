"""Shared test fixtures: where the course lives, and its notebooks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # `tools` is not installed: it is instructor tooling

from tools import course as course_manifest  # noqa: E402

# the GitHub repository the test editions are published for (its name goes into the edition's Binder badge)
EDITION_REPOSITORY = "example-school/containers-course"


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


# The slow tiers, by test module: `make test-fast` leaves these out (`-m "not ..."`),
# `make test` and CI run everything. A module not listed is in the quick tier.
SLOW_TIERS: dict[str, str] = {
    "test_course_in_browser.py": "browser",
    "test_images_build.py": "docker",
    "test_autograder_docker.py": "docker",
    "test_base_images.py": "docker",
    "test_cluster_nodes_docker.py": "docker",
    "test_autograder.py": "cohort",
    "test_autograder_zygote.py": "cohort",
    "test_autograder_k8s.py": "cohort",
    "test_autograder_agents.py": "cohort",
    "test_autograder_evaluator.py": "cohort",
    "test_autograder_nbgrader_semantics.py": "cohort",
    "test_bench_autograde.py": "cohort",
    "test_instructor_workflow.py": "cohort",
    "test_hidden_tests_catch_cheats.py": "notebooks",
    "test_notebooks_run.py": "notebooks",
    "test_no_engine_lessons.py": "notebooks",
    "test_publish.py": "notebooks",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test of a slow module with its tier, so `-m` can select the quick tier."""
    for item in items:
        tier = SLOW_TIERS.get(item.path.name)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def edition_to_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A learner's edition (`make publish`) of its own, where the lessons run.

    A learner runs the lessons in a clone of the edition, with the edition's labkit: so each lesson's one
    run in the suite is that one (tests/notebook_checks.py `run_lesson_in_edition`). tests/test_publish.py
    checks its own edition's files, which these runs would otherwise add to.
    """
    from tools import publish

    dest = tmp_path_factory.mktemp("edition-to-run") / "edition"
    assert publish.publish(dest, EDITION_REPOSITORY) is not None
    return dest


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    """A seed-0 emulator of its own for each test module that asks for one."""
    from labkit import kubesim

    handle = kubesim.start(tmp_path_factory.mktemp("kubesim") / "kubeconfig", seed=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def api(sim):
    """The official client's ApiClient for that emulator."""
    from kubernetes import config

    api_client = config.new_client_from_config(sim.kubeconfig)
    yield api_client
    api_client.close()
