"""Read course.yml, the course's table of contents.

Navigation cells, releases and the README's lesson table all derive from this
one file, so that adding a lesson is one edit rather than five.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
MANIFEST = REPO_ROOT / "course.yml"


@dataclass(frozen=True)
class Step:
    """One notebook of the course, in the order a learner meets it."""

    notebook: Path  # relative to the repository root
    title: str
    objectives: tuple[int, ...] = ()
    assignment: str | None = None
    ship: tuple[str, ...] = field(default_factory=tuple)
    summary: str = ""  # a few words for the README's lesson table

    @property
    def release_notebook(self) -> Path | None:
        """Where nbgrader puts the learner's copy of an assignment notebook."""
        if self.assignment is None:
            return None
        return Path("release") / self.assignment / self.notebook.name


@dataclass(frozen=True)
class CourseManifest:
    """course.yml: the table of contents (lessons in order, their assignments and what ships).

    Not the autograder's ``Course`` (an nbgrader course directory that grading reads and writes).
    """

    title: str
    repository: str
    steps: tuple[Step, ...]
    learner_repository: str | None = None  # where the learner's edition (tools/publish.py) is pushed

    @property
    def assignments(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.assignment)


def load(path: Path = MANIFEST) -> CourseManifest:
    """Parse course.yml, failing with a message that names the broken entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = []
    for number, raw in enumerate(data.get("steps") or [], start=1):
        try:
            steps.append(
                Step(
                    notebook=Path(raw["notebook"]),
                    title=str(raw["title"]),
                    objectives=tuple(raw.get("objectives") or ()),
                    assignment=raw.get("assignment"),
                    ship=tuple(raw.get("ship") or ()),
                    summary=str(raw.get("summary") or ""),
                )
            )
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"{path.name}: step {number} needs 'notebook' and 'title' ({error!r})"
            ) from error
    for step in steps:
        if step.assignment and step.notebook.parts[:2] != ("source", step.assignment):
            raise ValueError(
                f"{path.name}: assignment {step.assignment!r} must live in "
                f"source/{step.assignment}/, not {step.notebook}"
            )
    return CourseManifest(
        title=data["title"],
        repository=data["repository"],
        steps=tuple(steps),
        learner_repository=data.get("learner_repository"),
    )
