"""Build the grading image from a small, clean context, tagged by what went into it.

The repository holds a virtual environment and scratch files the image must not get
(and that would make `docker build` upload a gigabyte), so the context is staged:
pyproject.toml, labkit/, webapp/ and autograder/ only. The tag is a hash of
exactly those files and the base image, so an unchanged course is never rebuilt.
README.md is replaced by a stub (pip wants one; its edits must not cost a rebuild).
The runtime dependencies are staged alone as requirements.txt, so that Docker's
layer cache keeps the slow dependency layer unless the dependencies themselves change
(an edit to pyproject.toml's test extras or package lists costs only the last layers).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

from .course import GradingError

REPO_ROOT = Path(__file__).resolve().parent.parent
CONTEXT = ("pyproject.toml", "labkit", "webapp", "autograder")
README_STUB = "The grading image of the course (see the repository's README).\n"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", "tests")
DEFAULT_BASE = "python:3.11-slim-bookworm"


def _files(root: Path) -> list[Path]:
    files = []
    for name in CONTEXT:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
                      and p.suffix != ".pyc" and "tests" not in p.relative_to(root).parts
                      and not any(part.endswith(".egg-info") for part in p.parts)]
    return files


def content_tag(base_image: str | None = None, root: Path = REPO_ROOT) -> str:
    """labkit/autograder:<12 hex digits of the context's and base image's hash>."""
    digest = hashlib.sha256((base_image or DEFAULT_BASE).encode())
    for path in _files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"labkit/autograder:{digest.hexdigest()[:12]}"


def runtime_requirements(root: Path = REPO_ROOT) -> str:
    """pyproject.toml's [project] dependencies, one per line, as pip's -r reads them."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return "".join(f"{line}\n" for line in project["dependencies"])


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build_image(tag: str | None = None, base_image: str | None = None, root: Path = REPO_ROOT,
                quiet: bool = True) -> str:
    """Build (unless an image with this content's tag exists) and return the tag."""
    if shutil.which("docker") is None:
        raise GradingError("the `docker` command is missing: install Docker to build the grading image")
    tag = tag or content_tag(base_image, root)
    if image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="autograder-image-") as context:
        context = Path(context)
        for name in CONTEXT:
            source = root / name
            if source.is_dir():
                shutil.copytree(source, context / name, ignore=IGNORE)
            elif source.is_file():
                shutil.copy2(source, context / name)
        (context / "README.md").write_text(README_STUB)
        (context / "requirements.txt").write_text(runtime_requirements(root))
        command = ["docker", "build", "-f", str(context / "autograder" / "Dockerfile"), "-t", tag]
        if base_image:
            command += ["--build-arg", f"BASE_IMAGE={base_image}"]
        result = subprocess.run(command + [str(context)], capture_output=quiet, text=True)
        if result.returncode != 0:
            detail = (result.stderr or "")[-3000:] if quiet else ""
            raise GradingError(f"docker build of {tag} failed; fix the error below and run "
                               f"`python -m autograder image` again:\n{detail}")
    return tag
