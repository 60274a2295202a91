"""``.dockerignore`` matching with Docker's own rules (github.com/moby/patternmatcher).

Why a module of its own: what a build sends to the engine, and what a changed file rebuilds,
both depend on it, and its rules surprise people: ``*`` stays inside one folder, ``**``
crosses folders, a pattern that matches a folder excludes everything in it, the last match wins.
"""
from __future__ import annotations

import os
import re

from labkit.dockerfile import glob_regex, normalise_path, parent_folders, require_text

__all__ = ["ignored"]

def _dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for raw in require_text(text, "the .dockerignore").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = os.path.normpath(line).replace("\\", "/")
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        patterns.append((exclusion, glob_regex(line)))
    return patterns


def ignored(dockerignore: str, path: str) -> bool:
    """Does this ``.dockerignore`` keep the context file ``path`` out of the build?

    Docker's rules: each line is a pattern relative to the context; ``*`` and ``?``
    stay inside one folder, ``**`` matches any number of folders; a pattern that
    matches a folder leaves out everything in it; ``!pattern`` takes a path back in;
    the last pattern that matches decides; ``#`` starts a comment.
    """
    path = normalise_path(path)
    matched = False
    for exclusion, regex in _dockerignore_patterns(dockerignore):
        if exclusion != matched:  # as Docker does: only a pattern that could change the answer counts
            continue
        if regex.match(path) or any(regex.match(parent) for parent in parent_folders(path)):
            matched = not exclusion
    return matched
