"""Write the learner's edition: the repository learners get, with no solution in it.

`make publish DEST=dir [REPOSITORY=owner/name]` runs this. The edition holds what a
learner needs to run `make lab` or open Binder: the lessons, the released
assignments and the files they ship, `labkit`, `webapp`, `clusters/`, the Binder
files and the learner's Jupyter settings, a Makefile without the instructor's
targets, and a learner README whose Binder badge opens that repository. It never
holds `source/`, the autograder, tests, benchmarks, instructor tooling or any
gradebook: the solutions and hidden tests live only in `source/` and the gradebook.

DEST becomes a git repository the first time (`git init`); every later run
replaces its files with the current edition and commits on top, so its history
is kept and an instructor can push it as it is. Nothing changed, no commit.
Before anything is written, the edition is checked for solution and hidden-test
text (`leaks`): a leak stops the run with the file and the line.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from tools.course import REPO_ROOT, CourseManifest, load
from tools.navigation import lesson_table

# Repository paths copied into the edition as they are (minus IGNORE).
EDITION_PATHS = (
    "notebooks",
    "release",
    "labkit",
    "webapp",
    "clusters",
    "jupyter/learner",
    "jupyter/overrides.json",
    "environment.yml",
    "postBuild",
    "pyproject.toml",
    ".ci/base-images.sh",
)
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache", "*.egg-info", "tests")
# What must never be in the edition: solutions, hidden tests, grading internals.
FORBIDDEN = ("source", "autograder", "tests", "bench", "tools", "gradebook.db", "submitted", "autograded", "feedback", "course.yml")
MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")
REGION = re.compile(r"BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)\n\s*### END", flags=re.S)
SPECIFIC = 25  # a region line longer than this is specific to the answer or the test
INSTRUCTOR_BLOCK = re.compile(r"^# >>> instructor only.*?^# <<< instructor only\n", flags=re.S | re.M)
# Lines of source/'s solution regions that the course's own teaching material shows
# too, reviewed one by one, and allowed only in the file named. Anything else found
# stops `make publish`. Reported to the lead (not changed here: labkit and the lessons
# belong to their authors):
# - labkit/vm_provisioning.py builds the same gcloud command and cloud-init config that
#   assignment 1 asks for (gcloud_command, web_user_data): a learner can call it.
# - lesson 2 shows the fixed Dockerfile whose RUN steps assignment 2's answer writes.
# - the rest are short client idioms the lessons teach (reading labels, container statuses).
SHARED_WITH_LESSONS: dict[str, set[str]] = {
    'status = statuses.get(container.name)': {"labkit/cluster_hierarchy.py", "notebooks/03-kubernetes-hierarchy.ipynb"},
    'if keyword in ("COPY", "ADD"):': {"labkit/dockerfile_layers.py", "labkit/images.py", "labkit/layers_view.py"},
    '"gcloud", "compute", "instances", "create", name,': {"labkit/vm_provisioning.py"},
    '"packages": ["python3-venv"],': {"labkit/vm_provisioning.py"},
    'f"--machine-type={machine_type}",': {"labkit/vm_provisioning.py"},
    '&& /opt/venv/bin/pip install --no-cache-dir -r requirements.txt \\\\': {"notebooks/02-containers-and-dockerfiles.ipynb"},
    '&& useradd --no-log-init --uid 10001 --no-create-home app': {"notebooks/02-containers-and-dockerfiles.ipynb"},
    'RUN python3 -m venv /opt/venv \\\\': {"notebooks/02-containers-and-dockerfiles.ipynb"},
    'if "kubernetes.io/config.mirror" in (pod.metadata.annotations or {}):': {"notebooks/03-kubernetes-hierarchy.ipynb"},
    'labels = node.metadata.labels or {}': {"notebooks/03-kubernetes-hierarchy.ipynb"},
}
BINDER = "https://mybinder.org/v2/gh/{repository}/HEAD?urlpath=lab/tree/notebooks/00-start-here.ipynb"


class PublishError(Exception):
    """Why the edition was not written, in words an instructor can act on."""


def secret_lines(source_dir: Path = REPO_ROOT / "source") -> set[str]:
    """Every specific line of every solution and hidden-test region in source/."""
    lines = set()
    for path in sorted(source_dir.glob("*/*.ipynb")):
        text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        for region in REGION.findall(text):
            lines.update(line.strip() for line in region.splitlines() if len(line.strip()) > SPECIFIC)
    return lines


def _text_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files.append(path)
    return files


def _as_text(path: Path) -> str:
    """A notebook as the joined source of its cells (so JSON escaping hides nothing), else the file's text."""
    raw = path.read_bytes().decode("utf-8", errors="ignore")
    if path.suffix == ".ipynb":
        try:
            return raw + "\n" + "\n".join(cell.source for cell in nbformat.reads(raw, as_version=4).cells)
        except Exception:  # an unreadable notebook is still searched as text
            return raw
    return raw


def leaks(root: Path, source_dir: Path = REPO_ROOT / "source") -> list[str]:
    """What in `root` gives away a solution or a hidden test, or should not be there at all."""
    problems = [f"{name}: must not be in the learner's edition" for name in FORBIDDEN if (root / name).exists()]
    secrets = secret_lines(source_dir)
    for path in _text_files(root):
        relative = path.relative_to(root)
        text = _as_text(path)
        if MARKERS.search(text):
            problems.append(f"{relative}: carries solution or hidden-test markers")
        for line in sorted(secrets):
            if line in text and relative.as_posix() not in SHARED_WITH_LESSONS.get(line, ()):
                problems.append(f"{relative}: gives away {line!r}")
    return problems


def learner_makefile(text: str) -> str:
    """The course Makefile without its instructor-only block."""
    stripped, count = INSTRUCTOR_BLOCK.subn("", text)
    if count != 1:
        raise PublishError("Makefile: expected one '# >>> instructor only' ... '# <<< instructor only' block")
    return stripped


def learner_nbgrader_config(text: str) -> str:
    """Only the settings Validate uses (how notebooks run), from the course's nbgrader_config.py."""
    settings = [line for line in text.splitlines() if line.startswith("c.Execute.")]
    return "\n".join(
        [
            '"""nbgrader settings for the Validate button: notebooks run as they will at grading."""',
            "",
            "c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file",
            *settings,
            "",
        ]
    )


def learner_readme(course: CourseManifest, repository: str, root: Path = REPO_ROOT) -> str:
    badge = BINDER.format(repository=repository)
    return f"""# {course.title}

[![Binder](https://mybinder.org/badge_logo.svg)]({badge})

A hands-on JupyterLab course. Every exercise is a small Python function with a test cell right
under it; the assignments are graded with nbgrader.

## Start

- **Binder**: click the badge. You get this repository, the course environment and JupyterLab,
  with nothing to install. Binder has no Docker engine and no cluster: the lessons tell you what
  they would do, and the Kubernetes lessons use the course's local emulator.
- **Your laptop** (Python 3.10+ and `make`): `git clone` this repository, then

  ```bash
  make lab     # create the Python environment (.venv) if needed, open JupyterLab at notebooks/00-start-here.ipynb
  ```

  `make lab LAB_ARGS="--no-browser --port=8899"` passes options to JupyterLab. With Docker installed,
  the container lessons build and run real images.
- **A JupyterHub**: your instructor releases the assignments to you.

## Lessons

{lesson_table(course, root, instructor=False)}

Lessons are for running and changing. In an assignment (`release/<assignment>/`), replace each
`raise NotImplementedError(...)` with your answer and run the test cell under it: no output means it
passed, otherwise the last line of its red box says what was expected, what your code gave and what to
fix. *Run All* stops at the first test that fails, so the cells below it have not run (a later cell may
say a name `is not defined`): run them one by one, or use *Run → Run All Above Selected Cell*. Press
**Validate** before you submit. At grading the test cells run again with hidden tests that try other
inputs; they check nothing the question does not ask.

**Building images without internet access.** Make a local base image and name it:
`sudo bash .ci/base-images.sh` (needs Debian's `debootstrap` and `busybox-static`), then
`export LABKIT_BASE_IMAGE=labkit/debian-python:bookworm` before `make lab`.
"""


def learner_gitignore() -> str:
    return "\n".join([".venv/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/", "*.egg-info/", "build/", ""])


def build(course: CourseManifest, repository: str, target: Path, root: Path = REPO_ROOT) -> None:
    """Write the edition's files into `target` (an empty folder)."""
    for relative in EDITION_PATHS:
        source = root / relative
        if not source.exists():
            raise PublishError(f"{relative} is missing from the course repository")
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, ignore=IGNORE)
        else:
            shutil.copy2(source, destination)
    (target / "Makefile").write_text(learner_makefile((root / "Makefile").read_text(encoding="utf-8")), encoding="utf-8")
    (target / "nbgrader_config.py").write_text(
        learner_nbgrader_config((root / "nbgrader_config.py").read_text(encoding="utf-8")), encoding="utf-8"
    )
    (target / "README.md").write_text(learner_readme(course, repository, root), encoding="utf-8")
    (target / ".gitignore").write_text(learner_gitignore(), encoding="utf-8")


def _git(dest: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(dest), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed in {dest}:\n{result.stderr.strip()}")
    return result.stdout


def _identity(dest: Path) -> list[str]:
    """The committer git knows, or a neutral one for a machine that has none set."""
    known = subprocess.run(["git", "-C", str(dest), "config", "user.email"], capture_output=True, text=True)
    if known.returncode == 0 and known.stdout.strip():
        return []
    return ["-c", "user.name=Course publisher", "-c", "user.email=publisher@localhost"]


def _source_revision(root: Path) -> str:
    """The course commit the edition was made from, so an edition can be traced back."""
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if result.returncode != 0:
        return "an unversioned copy"
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], capture_output=True, text=True).stdout
    return result.stdout.strip() + (" with uncommitted changes" if dirty.strip() else "")


def publish(dest: Path, repository: str, course: CourseManifest | None = None, root: Path = REPO_ROOT) -> str | None:
    """Write or update the edition in `dest` and commit it; the new commit's id, or None if nothing changed."""
    course = course or load(root / "course.yml")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
        raise PublishError(f"REPOSITORY must be a GitHub owner/name, not {repository!r}")
    dest = dest.resolve()
    if dest == root.resolve() or root.resolve() in dest.parents:
        raise PublishError(f"{dest} is inside the course repository: publish somewhere else")
    if dest.exists() and any(dest.iterdir()) and not (dest / ".git").exists():
        raise PublishError(f"{dest} has files but is not a git repository: name an empty folder or an earlier edition")

    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "edition"
        fresh.mkdir()
        build(course, repository, fresh, root)
        found = leaks(fresh, root / "source")
        if found:
            raise PublishError("the edition would give answers away:\n  " + "\n  ".join(found))
        dest.mkdir(parents=True, exist_ok=True)
        if not (dest / ".git").exists():
            _git(dest, "init", "-q")
        for child in dest.iterdir():
            if child.name == ".git":
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        for child in fresh.iterdir():
            shutil.move(str(child), dest / child.name)

    _git(dest, "add", "-A")
    if not _git(dest, "status", "--porcelain").strip():
        return None
    message = f"Learner's edition of {course.title}, from the course repository at {_source_revision(root)}"
    _git(dest, *_identity(dest), "commit", "-q", "-m", message)
    return _git(dest, "rev-parse", "HEAD").strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="the edition's folder (created, or an earlier edition to update)")
    parser.add_argument("--repository", help="its GitHub owner/name, for the Binder badge (default: course.yml learner_repository)")
    args = parser.parse_args(argv)
    course = load()
    repository = args.repository or course.learner_repository
    if not repository:
        print("Say which repository learners will use: make publish DEST=... REPOSITORY=owner/name", file=sys.stderr)
        return 2
    try:
        commit = publish(args.dest, repository, course)
    except PublishError as error:
        print(f"publish failed: {error}", file=sys.stderr)
        return 1
    if commit is None:
        print(f"{args.dest}: already up to date, nothing committed")
    else:
        print(f"{args.dest}: committed {commit[:12]}; push it to github.com/{repository} for learners and Binder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
