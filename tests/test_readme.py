"""The README tells the truth: its lesson table, Binder badge and commands follow the course."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import REPO_ROOT
from tools import navigation

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_step_of_course_yml_is_in_the_readme_table(course) -> None:
    for step in course.steps:
        linked = step.release_notebook or step.notebook
        assert f"]({linked.as_posix()})" in README, f"README does not link {linked}"


def test_binder_badge_opens_the_start_notebook_of_this_repository(course) -> None:
    badge = re.search(r"\(https://mybinder\.org/v2/gh/([^/]+/[^/]+)/HEAD\?urlpath=([^)]+)\)", README)
    assert badge, "README has no Binder launch link"
    assert badge.group(1) == course.repository
    assert badge.group(2) == "lab/tree/notebooks/00-start-here.ipynb"


def test_readme_commands_are_make_targets() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    for target in set(re.findall(r"`make (\w+)", README)):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"README mentions make {target}, Makefile lacks it"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test    #" in README
    assert re.search(r"^make test$", ci, flags=re.M)


def test_lesson_table_is_what_course_yml_generates(course) -> None:
    assert navigation.stale_readme(course) == [], "run `make nav` to regenerate the README's lesson table"


def _scratch_readme(tmp_path: Path, edit) -> Path:
    shutil.copytree(REPO_ROOT / "release", tmp_path / "release")
    (tmp_path / "README.md").write_text(edit(README), encoding="utf-8")
    return tmp_path


def test_nav_check_fails_on_a_duplicated_row_and_make_nav_fixes_it(course, tmp_path: Path) -> None:
    rows = [line for line in README.splitlines() if line.startswith("| 3 |")]
    assert len(rows) == 1, "the lesson table should list lesson 3 once"
    root = _scratch_readme(tmp_path, lambda text: text.replace(rows[0], rows[0] + "\n" + rows[0]))
    assert navigation.stale_readme(course, root) == ["README.md: lesson table out of date"]
    navigation.stale_readme(course, root, write=True)
    assert (root / "README.md").read_text(encoding="utf-8") == README
    assert navigation.stale_readme(course, root) == []


def test_nav_check_names_missing_table_markers(course, tmp_path: Path) -> None:
    root = _scratch_readme(tmp_path, lambda text: text.replace(navigation.TABLE_END, ""))
    (problem,) = navigation.stale_readme(course, root)
    assert "no lesson table markers" in problem


def test_course_yml_names_only_files_that_exist() -> None:
    """Its comments point readers at tools and tests: those must exist."""
    text = (REPO_ROOT / "course.yml").read_text(encoding="utf-8")
    for path in re.findall(r"\b((?:tests|tools)/[\w/.-]+\.py)\b", text):
        assert (REPO_ROOT / path).exists(), f"course.yml names {path}, which does not exist"
