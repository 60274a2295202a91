"""The gradebook's released cells, read once per worker: what nbgrader's first pass asks of it.

Why: nbgrader's `OverwriteKernelspec` and `OverwriteCells` open the gradebook for every
notebook (a new SQLAlchemy engine, and nbgrader's course check) and query it once or twice
for every cell that has a grade id. Measured on assignment 1 with 16 submissions: 3.0 s of the
two workers' CPU went to that first pass, most of it in those queries: about a third of all
their work. A worker reads a private snapshot of the
gradebook that nothing writes while it grades (`course.snapshot_gradebook`), so each
notebook's rows can be read once, through nbgrader's own `Gradebook`, and kept as plain
records: the preprocessors then get the same answers, in the same order, without a query.

The records carry exactly the attributes those two preprocessors read (a source cell's name,
type, locked flag, checksum and text; a graded cell's name and points; the notebook's
kernelspec), and a missing entry raises nbgrader's own `MissingEntry` with its own words.
A snapshot that changes on disk (a test that edits it between two calls) is read again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nbgrader.api import Gradebook, MissingEntry


@dataclass(frozen=True)
class SourceCell:
    name: str
    cell_type: str
    locked: bool
    checksum: str | None
    source: str


@dataclass(frozen=True)
class GradedCell:
    """A grade cell or a task cell: what OverwriteCells reads of either (a solution cell: its name; points 0)."""

    name: str
    max_score: float


@dataclass(frozen=True)
class Notebook:
    name: str
    kernelspec: str | None
    source_cells: tuple[SourceCell, ...]
    grade_cells: tuple[GradedCell, ...]
    solution_cells: tuple[GradedCell, ...]
    task_cells: tuple[GradedCell, ...]


class FrozenGradebook:
    """The few `Gradebook` lookups of nbgrader's first pass, answered from memory."""

    def __init__(self, assignment: str, notebooks: dict[str, Notebook]) -> None:
        self.assignment = assignment
        self.notebooks = notebooks

    def __enter__(self) -> FrozenGradebook:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def find_notebook(self, name: str, assignment: str) -> Notebook:
        if assignment != self.assignment or name not in self.notebooks:
            raise MissingEntry(f"No such notebook: {assignment}/{name}")
        return self.notebooks[name]

    def find_source_cell(self, name: str, notebook: str, assignment: str) -> SourceCell:
        found = self._find(name, notebook, assignment, "source_cells")
        if found is None:
            raise MissingEntry(f"No such source cell: {assignment}/{notebook}/{name}")
        return found

    def find_graded_cell(self, name: str, notebook: str, assignment: str) -> GradedCell:
        found = self._find(name, notebook, assignment, "grade_cells") or self._find(name, notebook, assignment, "task_cells")
        if found is None:
            raise MissingEntry(f"No such grade cell: {assignment}/{notebook}/{name}")
        return found

    def _find(self, name: str, notebook: str, assignment: str, kind: str):
        if assignment != self.assignment or notebook not in self.notebooks:
            return None
        return next((cell for cell in getattr(self.notebooks[notebook], kind) if cell.name == name), None)


def _read(db_url: str, assignment: str) -> FrozenGradebook:
    notebooks: dict[str, Notebook] = {}
    with Gradebook(db_url) as gb:
        try:
            records = gb.find_assignment(assignment).notebooks
        except MissingEntry:
            records = []
        for nb in records:
            notebooks[nb.name] = Notebook(
                name=nb.name,
                kernelspec=nb.kernelspec,
                source_cells=tuple(SourceCell(c.name, c.cell_type, c.locked, c.checksum, c.source) for c in nb.source_cells),
                grade_cells=tuple(GradedCell(c.name, c.max_score) for c in nb.grade_cells),
                solution_cells=tuple(GradedCell(c.name, 0.0) for c in nb.solution_cells),
                task_cells=tuple(GradedCell(c.name, c.max_score) for c in nb.task_cells),
            )
    return FrozenGradebook(assignment, notebooks)


_cache: dict[tuple, FrozenGradebook] = {}


def frozen(db_url: str, assignment: str) -> FrozenGradebook:
    """The snapshot at `db_url` for `assignment`, read once per process while its file is unchanged."""
    prefix = "sqlite:///"
    try:
        info = os.stat(db_url[len(prefix):]) if db_url.startswith(prefix) else None
    except OSError:
        info = None
    if info is None:  # not a file we can watch for changes: read it each time
        return _read(db_url, assignment)
    key = (db_url, assignment, info.st_mtime_ns, info.st_size, info.st_ino)
    if key not in _cache:
        _cache.clear()  # one snapshot per grading run: keep only the newest
        _cache[key] = _read(db_url, assignment)
    return _cache[key]
