"""The whole course in a real browser: JupyterLab in Chromium, driven by Playwright.

One `make lab` server over a scratch copy of the course (emulator cluster, fresh
KUBECACHEDIR), one browser, the notebooks one after another (lessons, then assignments):

- each lesson: Run All Cells, wait until the kernel is idle and no prompt shows [*], and
  find no error output; then use the lesson's widget and see what it shows change (the
  start notebook has no widget);
- each released assignment, as a learner first opens it: every code cell run on its own
  (Run All would stop at the first failing test), and the only errors are the unanswered
  ones: answer cells raise NotImplementedError, test cells fail; any other error (an
  import error, a labkit crash, a setup cell failing, a timeout) fails the test;
- nbgrader's Validate button, on a copy of assignment 1 with every answer filled in from
  `source/`, says "Success", and on the untouched release notebook says which cell failed.

Errors are read from JupyterLab's notebook model (`window.jupyterapp`), the same outputs the
page renders and a save would write. A full-page screenshot of every notebook, and of each
widget and the Validate dialog, goes to `$LABKIT_ARTIFACTS/screenshots` (default
`test-artifacts/screenshots/`), with `timings.txt`: how long each notebook took.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import pytest

from conftest import REPO_ROOT, course_manifest, skip_unless_ci
from lab_browser import CHROMIUM, CHROMIUM_ARGS, Lab, Notebooks, copy_course, serve_lab

COURSE = course_manifest.load()
LESSONS = [step for step in COURSE.steps if step.assignment is None]
ASSIGNMENTS = list(COURSE.assignments)
# The quickest assignment to run: Validate executes it again on the server.
VALIDATED = "01-vms-and-containers"
SCREENSHOTS = Path(os.environ.get("LABKIT_ARTIFACTS") or REPO_ROOT / "test-artifacts") / "screenshots"
# Lesson 2 builds and runs the web service's image on a real engine (slow on vfs).
LESSON_TIMEOUT_S = 420
CELL_TIMEOUT_S = 120
# How an unanswered test cell fails: the answer it calls raises NotImplementedError,
# or a labkit check says what is missing (an AssertionError with a plain message).
UNANSWERED_TEST_ERRORS = {"NotImplementedError", "AssertionError"}
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")

pytestmark = pytest.mark.timeout(LESSON_TIMEOUT_S + 180)


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    try:
        from playwright import sync_api
    except ImportError:
        skip_unless_ci("Playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        skip_unless_ci("Debian's chromium is not installed (apt-get install chromium)")
    return sync_api


@pytest.fixture(scope="module")
def lab(playwright_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    scratch = tmp_path_factory.mktemp("course-in-browser")
    root = copy_course(REPO_ROOT, scratch / "course")
    kubecache = scratch / "kubecache"
    kubecache.mkdir()
    env = {**os.environ, "LABKIT_CLUSTER": "emulator", "KUBECACHEDIR": str(kubecache)}
    with serve_lab(root, env, state=scratch) as server:
        yield server


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, float]]:
    seconds: dict[str, float] = {}
    yield seconds
    if seconds:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        lines = [f"{value:7.1f} s  {name}" for name, value in seconds.items()]
        (SCREENSHOTS / "timings.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def notebooks(playwright_api: Any, lab: Lab) -> Iterator[Notebooks]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield Notebooks(browser.new_page(), lab)
        finally:
            browser.close()


def error_outputs(model: dict) -> list[tuple[int, str, str]]:
    """(cell number, ename, first line of evalue) of every error output in a notebook.

    Cell numbers count from 1, as JupyterLab's status bar does ("Cell 3/20").
    """
    return [
        (index + 1, output.get("ename", ""), (output.get("evalue") or "").splitlines()[0] if output.get("evalue") else "")
        for index, cell in enumerate(model["cells"]) if cell["cell_type"] == "code"
        for output in cell.get("outputs", []) if output.get("output_type") == "error"
    ]


def unanswered_problems(model: dict) -> list[str]:
    """What in a run, unanswered release notebook is not an unanswered exercise failing as it should."""
    problems = []
    for index, cell in enumerate(model["cells"]):
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        where = f"cell {index + 1} ({meta.get('grade_id', 'not graded')})"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        names = [e.get("ename") for e in errors]
        if cell.get("execution_count") is None:
            problems.append(f"{where} did not run")
        elif meta.get("solution"):
            if any(name != "NotImplementedError" for name in names):
                problems.append(f"{where}, an answer cell, raised {names}, not only NotImplementedError")
        elif meta.get("grade"):
            if not errors:
                problems.append(f"{where}, a test cell, passed with no answer given")
            elif any(name not in UNANSWERED_TEST_ERRORS for name in names):
                problems.append(f"{where}, a test cell, failed with {names}: "
                                f"{errors[0].get('evalue', '')[:200]!r}, not because the answer is missing")
        elif errors:
            problems.append(f"{where} raised {names[0]}: {errors[0].get('evalue', '')[:200]!r}")
    return problems


def answered(release: Path, source: Path) -> nbformat.NotebookNode:
    """The release notebook with each answer cell holding the source's solution, markers removed."""
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nbformat.read(source, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    notebook = nbformat.read(release, as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            lines = solutions[grade_id].splitlines()
            cell.source = "\n".join(line for line in lines if not SOLUTION_MARKER.match(line))
    return notebook


def slowest_cells(model: dict, count: int = 3) -> list[tuple[int, float]]:
    """(cell number from 1, seconds) of the slowest cells, from the run times JupyterLab records."""
    seconds = []
    for index, cell in enumerate(model["cells"]):
        execution = cell.get("metadata", {}).get("execution", {})
        began, ended = execution.get("iopub.execute_input"), execution.get("shell.execute_reply")
        if began and ended:
            parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
            seconds.append((index + 1, (parse(ended) - parse(began)).total_seconds()))
    return sorted(seconds, key=lambda pair: -pair[1])[:count]


def record(timings: dict[str, float], name: str, began: float, model: dict) -> None:
    timings[name] = time.monotonic() - began
    for index, seconds in slowest_cells(model):
        timings[f"  cell {index} of {name}"] = seconds


def cell_index(model: dict, marker: str) -> int:
    """The first code cell whose source contains `marker`."""
    for index, cell in enumerate(model["cells"]):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code" and marker in source:
            return index
    raise AssertionError(f"no code cell contains {marker!r}")


# -- one widget per lesson: use it, and see what it shows change ---------------------------------

def type_into_slider(notebooks: Notebooks, outputs: Any, label: str, value: str) -> None:
    """Type a value into the readout of the slider labelled ``label``, as a person does (click, select, type, Enter)."""
    outputs.locator(".widget-slider", has_text=label).locator(".widget-readout").click()
    notebooks.page.keyboard.press("Control+A")
    notebooks.page.keyboard.type(value)
    notebooks.page.keyboard.press("Enter")


def use_memory_calculator(notebooks: Notebooks, expect: Any, model: dict) -> str:
    outputs = notebooks.cell(cell_index(model, "memory_calculator.memory_calculator(")).locator(".jp-Cell-outputArea")
    summary = outputs.locator(".widget-html", has_text="containers")
    chart = outputs.locator("img").first
    expect(summary).to_contain_text("VMs", timeout=30_000)
    before, chart_before = summary.inner_text(), chart.get_attribute("src")
    type_into_slider(notebooks, outputs, "Host memory (GiB)", "64")
    expect(summary).not_to_have_text(before, timeout=30_000)
    expect(chart).not_to_have_attribute("src", chart_before or "", timeout=30_000)
    outputs.screenshot(path=str(SCREENSHOTS / "widget-memory-calculator.png"))
    return f"16 GiB: {before!r} -> 64 GiB: {summary.inner_text()!r}"


def use_rebuild_explorer(notebooks: Notebooks, expect: Any, model: dict) -> str:
    outputs = notebooks.cell(cell_index(model, "layers_view.rebuild_explorer(")).locator(".jp-Cell-outputArea")
    picture = outputs.locator("img").first
    expect(picture).to_be_visible(timeout=30_000)
    before = picture.get_attribute("src")
    outputs.locator(".widget-dropdown select").select_option("app.py")
    expect(picture).not_to_have_attribute("src", before or "", timeout=30_000)
    outputs.screenshot(path=str(SCREENSHOTS / "widget-rebuild-explorer.png"))
    return "picking app.py redrew the layer picture"


def use_cluster_tree(notebooks: Notebooks, expect: Any, model: dict) -> str:
    outputs = notebooks.cell(cell_index(model, "cluster_tree.cluster_tree(k8s.core")).locator(".jp-Cell-outputArea")
    opened = outputs.locator("button", has_text="▾")
    expect(opened.first).to_be_visible(timeout=30_000)  # the notebook opens the first worker
    count, before = opened.count(), outputs.inner_text()
    outputs.locator("button", has_text="▸").first.click()
    expect(opened).to_have_count(count + 1, timeout=30_000)
    # The toggle turns first; the node's pods arrive in a second message from the kernel.
    deadline, new_lines = time.monotonic() + 30, []
    while not new_lines and time.monotonic() < deadline:
        notebooks.page.wait_for_timeout(250)
        new_lines = [line for line in outputs.inner_text().splitlines()
                     if line.strip() and line not in before.splitlines()]
    assert new_lines, f"opening a node of the cluster tree showed nothing new:\n{before}"
    outputs.screenshot(path=str(SCREENSHOTS / "widget-cluster-tree.png"))
    return f"opening a node showed {len(new_lines)} new lines, e.g. {new_lines[0]!r}"


def use_autoscaling_playground(notebooks: Notebooks, expect: Any, model: dict) -> str:
    outputs = notebooks.cell(cell_index(model, "pg = playground(")).locator(".jp-Cell-outputArea")
    summary = outputs.locator(".widget-html", has_text="syncs")
    chart = outputs.locator("img").first
    expect(summary).to_contain_text("They agree", timeout=60_000)
    before, chart_before = summary.inner_text(), chart.get_attribute("src")
    type_into_slider(notebooks, outputs, "Max replicas", "3")
    expect(summary).not_to_have_text(before, timeout=60_000)
    expect(summary).to_contain_text("at most 3", timeout=60_000)   # both runs again, capped at the new maximum
    expect(summary).to_contain_text("They agree")
    expect(chart).not_to_have_attribute("src", chart_before or "", timeout=60_000)
    outputs.screenshot(path=str(SCREENSHOTS / "widget-autoscaling-playground.png"))
    return f"max 10: {before!r} -> max 3: {summary.inner_text()!r}"


WIDGETS: dict[str, Callable[[Notebooks, Any, dict], str]] = {
    "01-vms-and-containers": use_memory_calculator,
    "02-containers-and-dockerfiles": use_rebuild_explorer,
    "03-kubernetes-hierarchy": use_cluster_tree,
    "05-scaling-and-availability": use_autoscaling_playground,
}


@pytest.mark.parametrize("step", LESSONS, ids=[str(s.notebook) for s in LESSONS])
def test_lesson_runs_clean_and_its_widget_responds(
    step: course_manifest.Step, notebooks: Notebooks, playwright_api: Any, timings: dict[str, float],
) -> None:
    name = step.notebook.stem
    began = time.monotonic()
    notebooks.open(str(step.notebook))
    try:
        notebooks.run_all(timeout_s=LESSON_TIMEOUT_S)
        model = notebooks.model()
        record(timings, str(step.notebook), began, model)
        shot = notebooks.screenshot(SCREENSHOTS / f"{name}.png")
        # Run All stops at the first error, so no error output means every cell ran.
        problems = [f"cell {number} shows {ename}: {evalue}" for number, ename, evalue in error_outputs(model)]
        use_widget = WIDGETS.get(name)
        if use_widget is not None:
            try:
                use_widget(notebooks, playwright_api.expect, model)
            except (AssertionError, playwright_api.Error) as error:
                problems.append(f"its widget did not respond: {error}")
        assert not problems, f"{step.notebook} in JupyterLab (screenshot: {shot}):\n" + "\n".join(problems)
    finally:
        notebooks.close()


@pytest.mark.parametrize("step", ASSIGNMENTS, ids=[str(s.release_notebook) for s in ASSIGNMENTS])
def test_released_assignment_fails_only_where_unanswered(
    step: course_manifest.Step, notebooks: Notebooks, timings: dict[str, float],
) -> None:
    began = time.monotonic()
    notebooks.open(str(step.release_notebook))
    try:
        notebooks.run_each(timeout_s=CELL_TIMEOUT_S)
        model = notebooks.model()
        record(timings, str(step.release_notebook), began, model)
        shot = notebooks.screenshot(SCREENSHOTS / f"release-{step.assignment}.png")
        problems = unanswered_problems(model)
        assert not problems, f"{step.release_notebook} in JupyterLab (screenshot: {shot}):\n" + "\n".join(problems)
    finally:
        notebooks.close()


def press_validate(notebooks: Notebooks, expect: Any) -> Any:
    """Press nbgrader's Validate button in the notebook's toolbar; the dialog once it has a verdict."""
    notebooks.page.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    dialog = notebooks.page.locator(".jp-Dialog")
    expect(dialog.locator(".validation-success, .validation-failed, pre")).not_to_have_count(0, timeout=120_000)
    return dialog


def test_validate_says_success_on_an_answered_assignment(
    notebooks: Notebooks, lab: Lab, playwright_api: Any, timings: dict[str, float],
) -> None:
    expect = playwright_api.expect
    step = next(s for s in ASSIGNMENTS if s.assignment == VALIDATED)
    release = step.release_notebook
    answered_path = release.with_name(f"{release.stem}-answered.ipynb")
    nbformat.write(answered(REPO_ROOT / release, REPO_ROOT / step.notebook), lab.root / answered_path)

    # The untouched release notebook: Validate names a failing cell.
    notebooks.open(str(release))
    try:
        # The learner's view: nbgrader's Validate button, but no instructor menu or panels.
        expect(notebooks.page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")).to_have_count(0)
        expect(notebooks.page.get_by_text("Formgrader")).to_have_count(0)
        dialog = press_validate(notebooks, expect)
        expect(dialog).to_contain_text("The following cell failed")
        dialog.get_by_role("button", name="OK").click()
        expect(dialog).to_have_count(0)
    finally:
        notebooks.close()

    began = time.monotonic()
    notebooks.open(str(answered_path))
    try:
        dialog = press_validate(notebooks, expect)
        timings[f"Validate {answered_path}"] = time.monotonic() - began
        notebooks.page.screenshot(path=str(SCREENSHOTS / f"validate-{step.assignment}.png"))
        expect(dialog).to_contain_text("Success! Your notebook passes all the tests.")
        dialog.get_by_role("button", name="OK").click()
    finally:
        notebooks.close()


def test_an_error_in_a_lesson_is_seen(notebooks: Notebooks, lab: Lab) -> None:
    """The check above can fail: Run All stops at a raising cell, and the error is read back."""
    broken = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('print("first")'),
        nbformat.v4.new_code_cell("1 / 0"),
        nbformat.v4.new_code_cell('print("never reached")'),
    ])
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(broken, lab.root / "notebooks" / "broken.ipynb")
    notebooks.open("notebooks/broken.ipynb")
    try:
        notebooks.run_all(timeout_s=60)
        model = notebooks.model()
    finally:
        notebooks.close()
    assert [(number, ename) for number, ename, _ in error_outputs(model)] == [(2, "ZeroDivisionError")]
    printed = [[o.get("text", "") for o in cell["outputs"]] for cell in model["cells"]]
    assert printed == [["first\n"], [""], []], printed


def code_cell(meta: dict, *errors: str) -> dict:
    outputs = [{"output_type": "error", "ename": name, "evalue": "", "traceback": []} for name in errors]
    return {"cell_type": "code", "metadata": {"nbgrader": meta}, "execution_count": 1, "outputs": outputs,
            "source": ""}


ANSWER, TEST, SETUP = {"solution": True, "grade_id": "a"}, {"grade": True, "grade_id": "t"}, {"grade_id": "setup"}


@pytest.mark.parametrize("cells, problem", [
    ([code_cell(SETUP, "ModuleNotFoundError"), code_cell(ANSWER), code_cell(TEST, "NotImplementedError")],
     "cell 1 (setup) raised ModuleNotFoundError"),
    ([code_cell(SETUP), code_cell(ANSWER), code_cell(TEST)], "cell 3 (t), a test cell, passed with no answer given"),
    ([code_cell(SETUP), code_cell(ANSWER), code_cell(TEST, "KeyError")], "cell 3 (t), a test cell, failed with ['KeyError']"),
    ([code_cell(SETUP), code_cell(ANSWER, "SyntaxError"), code_cell(TEST, "NameError")],
     "cell 2 (a), an answer cell, raised ['SyntaxError']"),
])
def test_unanswered_rule_rejects_other_failures(cells: list[dict], problem: str) -> None:
    assert any(p.startswith(problem) for p in unanswered_problems({"cells": cells})), unanswered_problems({"cells": cells})


def test_unanswered_rule_accepts_unanswered_failures() -> None:
    cells = [code_cell(SETUP), code_cell(ANSWER), code_cell(TEST, "NotImplementedError"),
             code_cell(ANSWER, "NotImplementedError"), code_cell(TEST, "AssertionError")]
    assert unanswered_problems({"cells": cells}) == []


def test_readme_pictures_exist_and_are_small() -> None:
    """The README's screenshots (docs/images/, shrunk from this test's) are there and stay light."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    pictures = [p for p in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme) if "://" not in p]
    assert pictures, "the README shows no screenshot"
    for picture in pictures:
        path = REPO_ROOT / picture
        assert path.is_file(), f"README shows {picture}, which does not exist"
        assert path.stat().st_size < 300_000, f"{picture} is {path.stat().st_size:,} bytes; shrink it below 300 KB"
