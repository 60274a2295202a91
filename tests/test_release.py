"""release/ is exactly what nbgrader makes from source/, and gives nothing away.

Also: source notebooks pass their own tests (`nbgrader validate`), release
notebooks fail every test until the learner answers (`nbgrader validate --invert`),
and every graded cell carries points.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT, ids, nbgrader_env, release_notebooks, source_notebooks
from tools import release as release_tool

SOURCES = source_notebooks()
RELEASES = release_notebooks()
MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
# Metadata that differs between machines or runs and says nothing about content.
VOLATILE_NOTEBOOK_METADATA = ("widgets", "toc", "vscode")


def comparable(path: Path) -> dict:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for key in VOLATILE_NOTEBOOK_METADATA:
        notebook.get("metadata", {}).pop(key, None)
    notebook.get("metadata", {}).get("language_info", {}).pop("version", None)
    return notebook


def files_below(root: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(root)): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh course directory with release/ made from the committed source/."""
    course_dir = tmp_path_factory.mktemp("course")
    shutil.copy(REPO_ROOT / "nbgrader_config.py", course_dir)
    shutil.copytree(REPO_ROOT / "source", course_dir / "source")
    release_tool.release(release_tool.load(), course_dir, no_db=True)
    return course_dir


def test_every_assignment_in_course_yml_is_released(course) -> None:
    for step in course.assignments:
        assert (REPO_ROOT / step.release_notebook).exists(), (
            f"{step.release_notebook} is missing: run `make release`"
        )


def test_release_is_what_source_generates(regenerated: Path) -> None:
    made = files_below(regenerated / "release")
    committed = files_below(REPO_ROOT / "release")
    assert sorted(made) == sorted(committed), "release/ has other files than source/ makes: run `make release`"
    for name, path in made.items():
        if name.endswith(".ipynb"):
            assert comparable(path) == comparable(committed[name]), f"release/{name} is stale: run `make release`"
        else:
            assert path.read_bytes() == committed[name].read_bytes(), f"release/{name} is stale: run `make release`"


@pytest.mark.parametrize("path", RELEASES, ids=ids(RELEASES))
def test_release_has_no_solution_and_no_hidden_test(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not MARKERS.search(text), f"{path} still carries solution or hidden-test markers"
    source = REPO_ROOT / "source" / path.parent.name / path.name
    released_code = "\n".join(
        cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"
    )
    for region in re.findall(
        r"BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)\n\s*### END", "\n".join(
            cell.source for cell in nbformat.read(source, as_version=4).cells
        ), flags=re.S,
    ):
        for line in region.splitlines():
            if len(line.strip()) > 25:  # long enough to be specific to the answer or the test
                assert line.strip() not in released_code, f"{path.name} gives away: {line.strip()!r}"


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_source_graded_cells_have_points_and_hidden_tests(path: Path) -> None:
    cells = nbformat.read(path, as_version=4).cells
    graded = [cell for cell in cells if cell.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) >= 4, f"{path.name}: an assignment needs at least 4 graded cells"
    for cell in graded:
        meta = cell.metadata["nbgrader"]
        assert meta.get("points", 0) > 0, f"{path.name}: graded cell {meta['grade_id']} has no points"
        if cell.cell_type == "code":
            assert "BEGIN HIDDEN TESTS" in cell.source, (
                f"{path.name}: test cell {meta['grade_id']} has no hidden tests to catch hard-coding"
            )


def _validate(path: Path, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", *extra, str(path)],
        cwd=REPO_ROOT, env=nbgrader_env(), capture_output=True, text=True, timeout=600,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_source_passes_nbgrader_validate(path: Path) -> None:
    output = _validate(path)
    assert "Success! Your notebook passes all the tests." in output, output


@pytest.mark.parametrize("path", RELEASES, ids=ids(RELEASES))
def test_release_fails_every_test_until_answered(path: Path) -> None:
    output = _validate(path, "--invert")
    assert "Success! The notebook does not pass any tests." in output, output


def test_ship_copies_the_one_copy_into_release(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "webapp" / "__pycache__").mkdir(parents=True)
    (repo / "webapp" / "app.py").write_text("print('hi')\n")
    (repo / "webapp" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "course" / "release" / "02-x" / "webapp").mkdir(parents=True)
    (tmp_path / "course" / "release" / "02-x" / "webapp" / "stale.py").write_text("old")

    release_tool.ship("02-x", ("webapp",), tmp_path / "course", repo_root=repo)

    shipped = tmp_path / "course" / "release" / "02-x" / "webapp"
    assert sorted(p.name for p in shipped.rglob("*")) == ["app.py"]
    assert (shipped / "app.py").read_text() == "print('hi')\n"


def test_ship_names_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ships 'nothing-here'"):
        release_tool.ship("02-x", ("nothing-here",), tmp_path, repo_root=tmp_path)
