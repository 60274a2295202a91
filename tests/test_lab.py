"""`make lab` is the learner's view; `make lab-instructor` the instructor's.

Both serve JupyterLab over the whole course, opening at the start notebook. The
learner's view (the same as Binder's) has no nbgrader instructor panels and no
Formgrader, but keeps Validate. The instructor's view runs Formgrader on the
course: it lists the assignments of course.yml and the submissions in submitted/.

The servers run through make with USE_ENV set to this test run's environment, so
make never installs anything. The browser check drives Debian's Chromium with
Playwright, as a learner's browser would: the start notebook must render with its
title. It is skipped only where no Chromium or Playwright is installed (`.ci/run`
installs both).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, skip_unless_ci
from lab_browser import CHROMIUM, LabDidNotStart, serve_make



@contextlib.contextmanager
def serve(target: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """Run `make <target>` as a user would (on 127.0.0.1, no browser, a token) until JupyterLab answers."""
    try:
        with serve_make(target, cwd, env) as server:
            yield server
    except LabDidNotStart as error:
        pytest.fail(str(error))


def page_config(base: str, token: str) -> dict:
    """The settings JupyterLab's page hands the browser (jupyterlab_server's page config)."""
    html = requests.get(f"{base}/lab", params={"token": token}, timeout=30).text
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, flags=re.S)
    assert found, "JupyterLab's page carries no jupyter-config-data"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[str, str]]:
    with serve("lab") as server:
        yield server


def test_lab_opens_at_the_start_notebook(lab: tuple[str, str]) -> None:
    base, token = lab
    response = requests.get(f"{base}/", params={"token": token}, allow_redirects=False, timeout=10)
    assert response.status_code in (301, 302)
    assert "/lab/tree/notebooks/00-start-here.ipynb" in response.headers["Location"]


def test_lab_serves_the_whole_course(lab: tuple[str, str]) -> None:
    base, token = lab
    for path in ("notebooks/00-start-here.ipynb", "release", "README.md"):
        response = requests.get(f"{base}/api/contents/{path}", params={"token": token, "content": 0}, timeout=10)
        assert response.status_code == 200, f"{path}: {response.status_code}"


INSTRUCTOR_PLUGINS = [f"@jupyter/nbgrader:{name}" for name in ("formgrader", "create-assignment", "course-list", "assignment-list", "menu")]


def test_learner_view_has_no_instructor_panels(lab: tuple[str, str]) -> None:
    disabled = page_config(*lab)["disabledExtensions"]
    for plugin in INSTRUCTOR_PLUGINS:
        assert plugin in disabled, f"the learner view shows {plugin}"
    assert "@jupyter/nbgrader:validate-assignment" not in disabled, "learners need Validate"


def test_learner_view_serves_validate_but_no_formgrader(lab: tuple[str, str]) -> None:
    base, token = lab
    assert requests.get(f"{base}/formgrader/api/status", params={"token": token}, timeout=10).status_code == 404
    import nbgrader

    version = requests.get(f"{base}/nbgrader_version", params={"token": token, "version": nbgrader.__version__}, timeout=10)
    assert version.status_code == 200 and version.json() == {"success": True}, version.text


def test_start_notebook_renders_in_a_browser(lab: tuple[str, str]) -> None:
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        skip_unless_ci("Playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        skip_unless_ci("Debian's chromium is not installed (apt-get install chromium)")
    base, token = lab
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/?token={token}")
            heading = page.get_by_role("heading", name="Start here: virtual machines, containers and Kubernetes")
            heading.wait_for(timeout=90_000)
            current_tab = page.locator(".jp-mod-current .lm-TabBar-tabLabel", has_text="00-start-here.ipynb")
            current_tab.first.wait_for(timeout=30_000)
            page.screenshot(path=str(REPO_ROOT / ".pytest_cache" / "lab-start-notebook.png"))
        finally:
            browser.close()


@pytest.fixture(scope="module")
def instructor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """`make lab-instructor` on a scratch copy of the course, with one learner's submission waiting."""
    course = tmp_path_factory.mktemp("course")
    for name in ("Makefile", "nbgrader_config.py", "course.yml", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, course / name)
    for name in ("jupyter", "tools", "source", "release", "notebooks"):
        shutil.copytree(REPO_ROOT / name, course / name, ignore=shutil.ignore_patterns("__pycache__"))
    submitted = course / "submitted" / "alice" / "01-vms-and-containers"
    submitted.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "release" / "01-vms-and-containers" / "vms-and-containers.ipynb", submitted)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with serve("lab-instructor", cwd=course, env=env) as (base, token):
        yield base, token, course


def test_instructor_view_formgrader_lists_the_assignments(instructor_lab, course) -> None:
    base, token, _ = instructor_lab
    response = requests.get(f"{base}/formgrader/api/assignments", params={"token": token}, timeout=60)
    assert response.status_code == 200, response.text
    listed = {assignment["name"] for assignment in response.json()}
    assert listed == {step.assignment for step in course.assignments}


def test_instructor_view_formgrader_lists_the_submission(instructor_lab) -> None:
    base, token, _ = instructor_lab
    response = requests.get(f"{base}/formgrader/api/submissions/01-vms-and-containers", params={"token": token}, timeout=60)
    assert response.status_code == 200, response.text
    assert [submission["student"] for submission in response.json()] == ["alice"]


def test_instructor_view_shows_the_instructor_panels(instructor_lab) -> None:
    base, token, _ = instructor_lab
    disabled = page_config(base, token)["disabledExtensions"]
    assert not set(INSTRUCTOR_PLUGINS) & set(disabled), disabled


def test_instructor_view_records_the_assignments_and_a_local_exchange(instructor_lab, course) -> None:
    _, _, scratch = instructor_lab
    from tools.release import recorded_assignments

    assert recorded_assignments(scratch) == {step.assignment for step in course.assignments}
    assert (scratch / ".exchange").is_dir()
    assert not (scratch / ".gradebook-scratch").exists()
