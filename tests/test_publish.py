"""`make publish` writes the learner's edition: everything learners need, no answer.

The checks on the edition's content are made here from source/ directly (the
same as tests/test_release.py makes for release/), not by calling the publisher's
own checker, so that a publisher that forgot to check would still be caught.
The edition's lessons run top to bottom with `labkit` imported from the edition,
and its `make lab` serves the start notebook in the learner's view.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from conftest import EDITION_REPOSITORY, REPO_ROOT, lesson_notebooks
from test_lab import INSTRUCTOR_PLUGINS, page_config, serve
from tools import publish as publisher

REPOSITORY = EDITION_REPOSITORY
MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("publish") / "edition"
    assert publisher.publish(dest, REPOSITORY) is not None
    return dest


def edition_files(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts]


def solution_lines() -> set[str]:
    """Every line longer than 25 characters of every solution or hidden-test region of source/."""
    lines = set()
    for path in sorted((REPO_ROOT / "source").glob("*/*.ipynb")):
        text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        for region in re.findall(r"BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)\n\s*### END", text, flags=re.S):
            lines.update(line.strip() for line in region.splitlines() if len(line.strip()) > 25)
    assert lines, "source/ has no solution regions to look for"
    return lines


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def test_edition_holds_what_learners_need(edition: Path, course) -> None:
    for name in ("notebooks", "release", "labkit", "webapp", "clusters", "jupyter/learner",
                 "environment.yml", "postBuild", "pyproject.toml", "Makefile", "README.md"):
        assert (edition / name).exists(), f"the edition lacks {name}"
    for step in course.steps:
        assert (edition / (step.release_notebook or step.notebook)).exists()
    for step in course.assignments:
        for shipped in step.ship:
            assert (edition / "release" / step.assignment / shipped).exists()


def test_edition_holds_no_source_solutions_or_grading_internals(edition: Path) -> None:
    for name in ("source", "autograder", "tests", "bench", "tools", "gradebook.db", "submitted",
                 "autograded", "feedback", "webapp/tests", "jupyter/instructor"):
        assert not (edition / name).exists(), f"the edition must not hold {name}"


def test_no_solution_or_hidden_test_text_anywhere(edition: Path) -> None:
    secrets = solution_lines()
    for path in edition_files(edition):
        relative = path.relative_to(edition).as_posix()
        text = path.read_bytes().decode("utf-8", errors="ignore")
        if path.suffix == ".ipynb":
            text += "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        assert not MARKERS.search(text), f"{relative} carries solution or hidden-test markers"
        for line in secrets:
            if line in text:
                # Only lines reviewed as the course's own teaching material, in the file named.
                assert relative in publisher.SHARED_WITH_LESSONS.get(line, ()), f"{relative} gives away {line!r}"


def test_every_reviewed_shared_line_is_still_a_solution_line() -> None:
    """The allow-list shrinks when labkit or a lesson stops showing an answer's line."""
    stale = set(publisher.SHARED_WITH_LESSONS) - solution_lines()
    assert not stale, f"remove from SHARED_WITH_LESSONS (no longer in any solution): {sorted(stale)}"


def test_publish_refuses_an_edition_that_gives_answers_away(tmp_path: Path) -> None:
    secret = sorted(solution_lines())[0]
    (tmp_path / "labkit").mkdir()
    (tmp_path / "labkit" / "helper.py").write_text(f"def f():\n    {secret}\n")
    (tmp_path / "notebook.ipynb").write_text('{"cells": [], "note": "### BEGIN HIDDEN TESTS"}')
    (tmp_path / "source").mkdir()
    problems = publisher.leaks(tmp_path)
    assert f"labkit/helper.py: gives away {secret!r}" in problems
    assert "notebook.ipynb: carries solution or hidden-test markers" in problems
    assert "source: must not be in the learner's edition" in problems


def test_edition_readme_has_the_binder_badge_of_its_repository(edition: Path) -> None:
    readme = (edition / "README.md").read_text(encoding="utf-8")
    badge = re.search(r"\(https://mybinder\.org/v2/gh/([^/]+/[^/]+)/HEAD\?urlpath=([^)]+)\)", readme)
    assert badge and badge.group(1) == REPOSITORY
    assert (edition / badge.group(2).removeprefix("lab/tree/")).exists()
    assert "source/" not in readme
    for target in re.findall(r"\]\(((?:notebooks|release)/[^)]+)\)", readme):
        assert (edition / target).exists(), f"README links {target}, which the edition lacks"


def test_lessons_do_not_point_learners_at_source(edition: Path) -> None:
    for path in sorted((edition / "notebooks").glob("*.ipynb")):
        assert "source/" not in path.read_text(encoding="utf-8"), f"{path.name} mentions source/"


def test_edition_makefile_has_the_learner_targets_only(edition: Path) -> None:
    def dry_run(target: str) -> subprocess.CompletedProcess:
        return subprocess.run(["make", "-n", target, "USE_ENV=/nonexistent"], cwd=edition, capture_output=True, text=True)

    assert dry_run("lab").returncode == 0
    assert "make lab" in subprocess.run(["make", "help"], cwd=edition, capture_output=True, text=True).stdout
    makefile = (edition / "Makefile").read_text(encoding="utf-8")
    for target in ("lab-instructor", "test", "release", "grade", "publish", "nav"):
        assert not re.search(rf"^{target}:", makefile, flags=re.M), f"the learner's Makefile still has `make {target}`"


def test_edition_is_a_git_repository_and_a_rerun_keeps_its_history(tmp_path: Path) -> None:
    dest = tmp_path / "edition"
    first = publisher.publish(dest, REPOSITORY)
    assert publisher.publish(dest, REPOSITORY) is None, "nothing changed, so nothing should be committed"
    assert git(dest, "rev-list", "--count", "HEAD").strip() == "1"

    (dest / "stale-file-from-an-old-edition.txt").write_text("gone next time")
    second = publisher.publish(dest, "another-school/course")
    assert second and second != first
    assert git(dest, "rev-list", "HEAD").split() == [second, first], "the earlier edition's commit is kept"
    assert not (dest / "stale-file-from-an-old-edition.txt").exists()
    assert "another-school/course" in (dest / "README.md").read_text(encoding="utf-8")
    assert git(dest, "status", "--porcelain") == ""


def test_publish_will_not_overwrite_a_folder_that_is_not_an_edition(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(publisher.PublishError, match="not a git repository"):
        publisher.publish(tmp_path, REPOSITORY)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_edition_make_lab_serves_the_start_notebook_as_the_learner_view(edition: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    with serve("lab", cwd=edition, env=env) as (base, token):
        import requests

        response = requests.get(f"{base}/", params={"token": token}, allow_redirects=False, timeout=10)
        assert "/lab/tree/notebooks/00-start-here.ipynb" in response.headers["Location"]
        notebook = requests.get(f"{base}/api/contents/notebooks/00-start-here.ipynb", params={"token": token}, timeout=10)
        assert notebook.status_code == 200
        disabled = page_config(base, token)["disabledExtensions"]
        assert set(INSTRUCTOR_PLUGINS) <= set(disabled)


def test_the_lessons_the_suite_runs_are_the_editions(edition: Path) -> None:
    """Each lesson's one run in the suite is an edition's copy, with the edition's own labkit
    (tests/notebook_checks.py `run_lesson_in_edition`, from test_notebooks_run.py and test_lessons_on_kind.py);
    here, that the edition's lessons are the repository's, byte for byte, so those runs are of what learners get."""
    published = sorted(path.name for path in (edition / "notebooks").glob("*.ipynb"))
    assert published == [path.name for path in lesson_notebooks()]
    for name in published:
        assert (edition / "notebooks" / name).read_bytes() == (REPO_ROOT / "notebooks" / name).read_bytes(), name
