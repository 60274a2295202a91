"""A Dockerfile's layers and its build cache: which steps a change to a file runs again.

Why a module of its own: the lesson's point about order (copy the requirements and install
them before copying the code) is a statement about Docker's build cache, which is a chain:
one miss rebuilds every step above it. :func:`layers` says what each step leaves in the image
and what makes Docker run it again; :func:`rebuilt_steps` which steps a changed file rebuilds
(a file the ``.dockerignore`` leaves out rebuilds nothing). No Docker engine needed.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from labkit.dockerfile import Instruction, as_instructions, copy_sources, normalise_path, source_matches
from labkit.dockerignore import ignored

__all__ = ["Layer", "layers", "rebuilt_steps"]

# Instructions that add files to the image (a filesystem layer); the rest only change
# the image's configuration (they still are build steps with their own cache entry).
_FILE_STEPS = {"RUN", "COPY", "ADD"}


@dataclasses.dataclass(frozen=True)
class Layer:
    """A build step and what it leaves in the image."""

    instruction: Instruction
    adds_files: bool  # RUN, COPY, ADD: a filesystem layer; FROM: the base image's layers
    invalidated_by: str  # in plain words: what makes Docker run this step again

    @property
    def step(self) -> int:
        return self.instruction.step




# --------------------------------------------------------------------------------------
# Layers and the build cache
# --------------------------------------------------------------------------------------


def _invalidated_by(instruction: Instruction) -> str:
    keyword = instruction.keyword
    if keyword == "FROM":
        return "a different base image (another tag, or a newer image pulled under the same tag)"
    if keyword == "ARG":
        return "a different --build-arg value, or an edit to this line"
    if keyword in ("COPY", "ADD"):
        sources = ", ".join(copy_sources(instruction)) or "its sources"
        what = "any file in the build context" if "." in [normalise_path(s) for s in copy_sources(instruction)] else sources
        return f"a change to {what}, an edit to this line, or any rebuilt step below"
    if keyword == "RUN":
        return "an edit to this command, or any rebuilt step below (Docker never looks at what it downloads)"
    return "an edit to this line, or any rebuilt step below"


def layers(dockerfile: str | Sequence[Instruction]) -> list[Layer]:
    """Every build step, bottom (FROM) to top, with what it adds and what rebuilds it."""
    return [
        Layer(
            instruction=instruction,
            adds_files=instruction.keyword in _FILE_STEPS or instruction.keyword == "FROM",
            invalidated_by=_invalidated_by(instruction),
        )
        for instruction in as_instructions(dockerfile)
    ]


def rebuilt_steps(
    dockerfile: str | Sequence[Instruction],
    changed: str | Iterable[str],
    dockerignore: str | None = None,
) -> list[int]:
    """The step numbers Docker runs again after the files ``changed`` (context paths) change.

    Docker reuses a step from its cache only if the step below it was reused too and
    the step itself is unchanged; for COPY and ADD that includes the contents of the
    files they copy. So the first COPY/ADD that copies a changed file misses the
    cache, and every step after it runs again. A file that ``.dockerignore`` leaves
    out never reaches the builder and rebuilds nothing.
    """
    paths = [changed] if isinstance(changed, str) else list(changed)
    if not all(isinstance(path, str) for path in paths):
        raise TypeError(f"changed should be a path or a list of paths (str), got {changed!r}.")
    if dockerignore is not None:
        paths = [path for path in paths if not ignored(dockerignore, path)]
    instructions = as_instructions(dockerfile)
    for index, instruction in enumerate(instructions):
        if any(source_matches(source, path) for source in copy_sources(instruction) for path in paths):
            return [later.step for later in instructions[index:]]
    return []
