"""Committed notebooks carry no outputs, and their navigation follows course.yml."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import ids, lesson_notebooks, release_notebooks, source_notebooks
from tools import navigation

ALL = lesson_notebooks() + source_notebooks() + release_notebooks()


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name} cell {number} has outputs: clear them before committing"
            )


def test_every_notebook_in_course_yml_has_current_navigation(course) -> None:
    assert navigation.stale_notebooks(course) == []


def test_navigation_links_point_at_existing_notebooks(course) -> None:
    from conftest import REPO_ROOT

    for index, step in enumerate(course.steps):
        text = navigation.navigation_markdown(course, index)
        here = REPO_ROOT / navigation.learner_path(step).parent
        for target in __import__("re").findall(r"\]\(([^)#]+)", text):
            assert (here / target).resolve().exists(), f"{step.notebook}: link {target} leads nowhere"


def test_navigation_is_first_and_last_and_replaces_old_cells(course) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lesson")])
    once = navigation.with_navigation(notebook, "links v1")
    twice = navigation.with_navigation(once, "links v2")
    sources = [cell.source for cell in twice.cells]
    assert sources == ["links v2", "# Lesson", "links v2"]
    assert all(navigation.TAG in twice.cells[i].metadata["tags"] for i in (0, -1))


def test_lesson_links_to_its_neighbours(course) -> None:
    lesson = next(i for i, s in enumerate(course.steps) if s.notebook.name == "01-vms-and-containers.ipynb")
    text = navigation.navigation_markdown(course, lesson)
    assert "(00-start-here.ipynb)" in text
    assert "(../release/01-vms-and-containers/vms-and-containers.ipynb)" in text
    assert "(00-start-here.ipynb#Lessons)" in text
