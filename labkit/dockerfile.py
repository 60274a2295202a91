"""Read a Dockerfile the way Docker does: its instructions, its base image, what each COPY takes.

Why this module: a learner's first Dockerfile usually *builds*; what is wrong with it only shows
later. Every other Dockerfile module starts from what this one reads: :func:`parse` reads a
Dockerfile with dockerfile-parse, the library that Red Hat's container build system (OSBS)
uses, and refuses text Docker would refuse; :func:`base_image` resolves ``FROM`` (build args
too); :func:`copy_sources` and :func:`source_matches` say what a ``COPY`` takes from the context,
with Docker's path patterns (:func:`glob_regex`, which ``.dockerignore`` uses too).

The rest, one job each, with no Docker engine: :mod:`labkit.dockerfile_layers` (the image's
layers and which of them a change rebuilds), :mod:`labkit.dockerignore` (``.dockerignore`` with
Docker's matching rules), :mod:`labkit.dockerfile_lint` (hadolint, the course's own rules, and
:func:`~labkit.dockerfile_lint.check_dockerfile`, what the assignment grades with). Building
and running an image for real is :mod:`labkit.images`' job.
"""
from __future__ import annotations

import dataclasses
import difflib
import io
import json
import os
import re
import shlex
from collections.abc import Sequence

__all__ = [
    "OUTLINE_EXAMPLE", "KEYWORDS", "DockerfileError", "Instruction", "parse", "as_instructions", "base_image",
    "copy_sources", "source_matches", "normalise_path", "parent_folders", "glob_regex", "require_text",
]

#: The example Dockerfile from the course outline, examined in the lesson.
OUTLINE_EXAMPLE = """\
FROM python:3.7.3-stretch
WORKDIR /app
COPY . app.py /app/
RUN pip install --upgrade pip &&\\
    pip install --trusted-host pypi.python.org -r requirements.txt
"""

#: Every instruction the Dockerfile reference (docs.docker.com/reference/dockerfile) knows.
KEYWORDS = (
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
    "HEALTHCHECK", "SHELL",
)


class DockerfileError(ValueError):
    """The text is not a Dockerfile Docker would build; the message says where and why."""


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One instruction, as Docker numbers it in ``Step N/M`` of a build log."""

    step: int  # 1-based, counting every instruction (a leading ARG too, as Docker does)
    line: int  # 1-based line where it starts
    keyword: str  # upper case: FROM, RUN, ...
    argument: str  # the rest, continuation lines joined
    text: str  # the instruction as written

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of ``CMD ["a", "b"]`` (exec form), or None for shell form."""
        value = self.argument.strip()
        if not value.startswith("["):
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
        return None

    def __str__(self) -> str:
        return f"{self.keyword} {self.argument}"



# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def require_text(text: object, what: str = "the Dockerfile") -> str:
    """``text`` if it is a str; otherwise a DockerfileError that says what was given instead."""
    if not isinstance(text, str):
        raise DockerfileError(
            f"{what} should be text (a str), got a {type(text).__name__}. "
            'Write it as a string, for example a triple-quoted """...""" block.'
        )
    return text


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, in order, comments and blank lines left out.

    Raises :class:`DockerfileError` for text Docker would refuse: nothing in it, an
    unknown instruction (with the closest real one suggested), or no ``FROM`` before
    the first instruction that needs an image.
    """
    from dockerfile_parse import DockerfileParser  # imported here: a plain import of labkit stays light

    text = require_text(text)
    parser = DockerfileParser(fileobj=io.BytesIO(text.encode("utf-8")), env_replace=False)
    instructions: list[Instruction] = []
    for item in parser.structure:
        keyword = item["instruction"].upper()
        if keyword == "COMMENT":
            continue
        line = item["startline"] + 1
        if keyword not in KEYWORDS:
            close = difflib.get_close_matches(keyword, KEYWORDS, n=1)
            hint = f" Did you mean {close[0]}?" if close else ""
            raise DockerfileError(
                f"line {line}: {item['instruction']!r} is not a Dockerfile instruction.{hint} "
                f"The instructions are: {', '.join(KEYWORDS)}."
            )
        instructions.append(
            Instruction(
                step=len(instructions) + 1,
                line=line,
                keyword=keyword,
                argument=item["value"].strip(),
                text=item["content"].rstrip("\n"),
            )
        )
    if not instructions:
        raise DockerfileError("The Dockerfile is empty. Start it with FROM and a base image, e.g. FROM python:3.12-slim.")
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword != "ARG":
            raise DockerfileError(
                f"line {instruction.line}: {instruction.keyword} comes before any FROM. "
                "A Dockerfile starts with FROM (only ARG may come before it)."
            )
    else:
        raise DockerfileError("There is no FROM line: say which image to start from, e.g. FROM python:3.12-slim.")
    return instructions


def as_instructions(dockerfile: str | Sequence[Instruction]) -> list[Instruction]:
    """The instructions of a Dockerfile given as text or already parsed (the other modules take either)."""
    if isinstance(dockerfile, str):
        return parse(dockerfile)
    return list(dockerfile)


_ARG_REFERENCE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def base_image(dockerfile: str | Sequence[Instruction], build_args: dict[str, str] | None = None) -> str:
    """The image the (last) ``FROM`` starts from, with ``ARG`` defaults and ``build_args`` filled in.

    ``ARG BASE_IMAGE=python:3.12-slim`` then ``FROM ${BASE_IMAGE}`` gives
    ``python:3.12-slim``; with ``build_args={"BASE_IMAGE": "x"}`` it gives ``x``,
    like ``docker build --build-arg BASE_IMAGE=x``.
    """
    values: dict[str, str] = {}
    found = None
    for instruction in as_instructions(dockerfile):
        if instruction.keyword == "ARG":
            name, _, default = instruction.argument.partition("=")
            values[name.strip()] = default.strip().strip("\"'")
        elif instruction.keyword == "FROM":
            words = [word for word in instruction.argument.split() if not word.startswith("--")]
            found = words[0] if words else ""
    merged = {**values, **(build_args or {})}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        return merged.get(name) or (match.group(2) or "")

    return _ARG_REFERENCE.sub(substitute, found or "")


def copy_sources(instruction: Instruction) -> list[str]:
    """The source paths of a COPY or ADD (every word but the last, flags left out)."""
    if instruction.keyword not in ("COPY", "ADD"):
        return []
    words = instruction.exec_form
    if words is None:
        try:
            words = shlex.split(instruction.argument)
        except ValueError:
            words = instruction.argument.split()
    words = [word for word in words if not word.startswith("--")]
    return words[:-1]


def normalise_path(path: str) -> str:
    """A context path as Docker compares it: forward slashes, no leading ``/`` or ``./``; ``.`` is the whole context."""
    cleaned = os.path.normpath(path.replace("\\", "/")).replace("\\", "/")
    return cleaned.lstrip("/") if cleaned not in (".", "/") else "."


def source_matches(source: str, path: str) -> bool:
    """Does ``COPY source ...`` copy the context file ``path``?

    ``.`` copies the whole context; a folder copies everything under it; wildcards
    match like the shell's (``*.txt``), within one folder.
    """
    source, path = normalise_path(source), normalise_path(path)
    if source == ".":
        return True
    if path == source or path.startswith(source + "/"):
        return True
    return glob_regex(source).match(path) is not None or any(
        glob_regex(source).match(parent) for parent in parent_folders(path)
    )


def parent_folders(path: str) -> list[str]:
    """The folders that hold ``path``, outermost first (a pattern matching a folder matches what is in it)."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]



def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Go filepath.Match-style pattern as a regex, with Docker's ``**`` extension."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 2
                if pattern[i : i + 1] == "/":
                    i += 1
                out.append(".*" if i >= len(pattern) else "(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))
