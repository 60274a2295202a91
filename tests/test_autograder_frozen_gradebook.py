"""autograder/frozen_gradebook.py: the first pass's gradebook lookups, answered from memory, are nbgrader's.

The worker's copy of nbgrader's OverwriteCells and OverwriteKernelspec reads the snapshot gradebook
once; every answer it gives must be the one nbgrader's own `Gradebook` gives for the same question,
in the same order, with the same `MissingEntry` for what is not there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry

from conftest import REPO_ROOT

from autograder import cohort, frozen_gradebook


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> str:
    course = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("frozen") / "course")
    return f"sqlite:///{course / 'gradebook.db'}"


def _source(cell) -> tuple:
    return cell.name, cell.cell_type, cell.locked, cell.checksum, cell.source


def test_every_lookup_answers_as_nbgrader_s_gradebook(snapshot: str) -> None:
    frozen = frozen_gradebook.frozen(snapshot, cohort.ASSIGNMENT)
    with Gradebook(snapshot) as gb:
        real = gb.find_notebook(cohort.NOTEBOOK, cohort.ASSIGNMENT)
        mine = frozen.find_notebook(cohort.NOTEBOOK, cohort.ASSIGNMENT)
        assert mine.kernelspec == real.kernelspec
        assert [_source(c) for c in mine.source_cells] == [_source(c) for c in real.source_cells]
        assert [(c.name, c.max_score) for c in mine.grade_cells] == [(c.name, c.max_score) for c in real.grade_cells]
        assert [c.name for c in mine.solution_cells] == [c.name for c in real.solution_cells]
        assert [(c.name, c.max_score) for c in mine.task_cells] == [(c.name, c.max_score) for c in real.task_cells]
        assert len(real.grade_cells) >= 5
        for cell in real.source_cells:
            assert _source(frozen.find_source_cell(cell.name, cohort.NOTEBOOK, cohort.ASSIGNMENT)) == _source(cell)
        for cell in real.grade_cells:
            assert frozen.find_graded_cell(cell.name, cohort.NOTEBOOK, cohort.ASSIGNMENT).max_score == \
                gb.find_graded_cell(cell.name, cohort.NOTEBOOK, cohort.ASSIGNMENT).max_score


@pytest.mark.parametrize("lookup", [
    lambda gb: gb.find_notebook("no-such-notebook", cohort.ASSIGNMENT),
    lambda gb: gb.find_notebook(cohort.NOTEBOOK, "no-such-assignment"),
    lambda gb: gb.find_source_cell("no-such-cell", cohort.NOTEBOOK, cohort.ASSIGNMENT),
    lambda gb: gb.find_graded_cell("no-such-cell", cohort.NOTEBOOK, cohort.ASSIGNMENT),
], ids=["notebook", "assignment", "source-cell", "graded-cell"])
def test_what_is_not_there_raises_nbgrader_s_missing_entry_with_its_words(snapshot: str, lookup) -> None:
    with Gradebook(snapshot) as gb, pytest.raises(MissingEntry) as real:
        lookup(gb)
    with pytest.raises(MissingEntry) as mine:
        lookup(frozen_gradebook.frozen(snapshot, cohort.ASSIGNMENT))
    assert str(mine.value) == str(real.value)


def test_a_snapshot_changed_on_disk_is_read_again(snapshot: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(snapshot.removeprefix("sqlite:///"), copy)
    url = f"sqlite:///{copy}"
    first = frozen_gradebook.frozen(url, cohort.ASSIGNMENT)
    assert frozen_gradebook.frozen(url, cohort.ASSIGNMENT) is first, "read once while the file is unchanged"
    name = first.find_notebook(cohort.NOTEBOOK, cohort.ASSIGNMENT).grade_cells[0].name
    with Gradebook(url) as gb:
        gb.find_graded_cell(name, cohort.NOTEBOOK, cohort.ASSIGNMENT).max_score = 42
        gb.db.commit()
    again = frozen_gradebook.frozen(url, cohort.ASSIGNMENT)
    assert again.find_graded_cell(name, cohort.NOTEBOOK, cohort.ASSIGNMENT).max_score == 42
