"""The README tells the truth: its lesson table, Binder badge and commands follow the course."""

from __future__ import annotations

import re

from conftest import REPO_ROOT

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
