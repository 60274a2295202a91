"""Assignment 2's hidden tests catch answers that only fit the visible examples.

For each graded exercise we plant a "cheat" that passes the visible tests (it
hard-codes their inputs) and check that the full test cell, hidden tests included,
fails. Objects that compare equal to anything must not pass even the visible tests.
"""

from __future__ import annotations

from assignment_runner import anything_class, run_with as run_assignment
from conftest import REPO_ROOT

ASSIGNMENT_2 = REPO_ROOT / "source" / "02-dockerfile" / "dockerfile.ipynb"

HARD_CODED = {
    "dockerfile-answer": '''
def webapp_dockerfile(port, base_image="python:3.12-slim"):
    return """\\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt && useradd -l -u 10001 app
COPY . .
USER 10001
EXPOSE 8080
CMD ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]
"""
''',
    "rebuild-answer": '''
def rebuilt_steps(steps, changed):
    return {(7, "app.py"): [5, 6, 7], (7, "requirements.txt"): [3, 4, 5, 6, 7],
            (4, "constraints.txt"): [2, 3, 4], (4, "app.py"): [4]}.get((len(steps), changed), [])
''',
    # exactly the visible paths, at the visible depths
    "ignore-answer": '''
DOCKERIGNORE = """\\
tests
__pycache__
pkg/__pycache__
*.pyc
pkg/*.pyc
.git
.venv
.env
instance/.env
.ipynb_checkpoints
notes/.ipynb_checkpoints
"""
''',
    "facts-answer": '''
def image_facts(first, second):
    if first[0][0] == "base":
        return {"first_mb": 55.5, "second_mb": 57.5, "shared_mb": 50.0, "disk_mb": 63.0, "download_mb": 7.5}
    return {"first_mb": 119.21, "second_mb": 131.4, "shared_mb": 90.4, "disk_mb": 160.21, "download_mb": 41.0}
''',
}

ANYTHING = anything_class()
EQUAL_TO_ANYTHING = {
    "rebuild-answer": ANYTHING + "def rebuilt_steps(steps, changed):\n    return _Anything()\n",
    "facts-answer": ANYTHING + "def image_facts(first, second):\n    return _Anything()\n",
}


def test_the_solutions_pass_every_test() -> None:
    assert run_with({}, visible_only=False) == {
        "dockerfile-test": True, "rebuild-test": True, "ignore-test": True, "facts-test": True,
    }


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones() -> None:
    visible = run_with(HARD_CODED, visible_only=True)
    full = run_with(HARD_CODED, visible_only=False)
    for answer in HARD_CODED:
        test = answer.replace("-answer", "-test")
        assert visible[test], f"the cheat for {answer} should pass the visible tests (fix the cheat)"
        assert not full[test], f"hidden tests of {test} let a hard-coded answer through"


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    visible = run_with(EQUAL_TO_ANYTHING, visible_only=True)
    assert not visible["rebuild-test"]
    assert not visible["facts-test"]


def test_failures_tell_the_learner_what_to_fix() -> None:
    """An untouched release-style answer fails with advice, not with a bare traceback."""
    answers = {
        "dockerfile-answer": 'def webapp_dockerfile(port, base_image="python:3.12-slim"):\n'
                             '    return "FROM python:3.7\\nCOPY . .\\nRUN pip install -r requirements.txt\\n"\n',
        "ignore-answer": 'DOCKERIGNORE = "tests\\n"\n',
    }
    _, errors = run_assignment(ASSIGNMENT_2, answers, visible_only=False, timeout=120)
    assert "your Dockerfile for port 8080 has" in errors["dockerfile-test"]
    assert "end of life" in errors["dockerfile-test"] and "EXPOSE 8080" in errors["dockerfile-test"]
    assert "Your .dockerignore should leave out __pycache__/app.cpython-311.pyc" in errors["ignore-test"]


def test_a_shell_style_dockerignore_fails_the_visible_test() -> None:
    """The question asks for caches, .env and checkpoints at any depth: the visible test checks it, and says how."""
    shell_style = {"ignore-answer": 'DOCKERIGNORE = "tests\\n__pycache__\\n*.pyc\\n.git\\n.venv\\n.env\\n.ipynb_checkpoints\\n"\n'}
    passed, errors = run_assignment(ASSIGNMENT_2, shell_style, visible_only=True, timeout=120)
    assert passed["ignore-test"] is False
    assert "Your .dockerignore should leave out pkg/__pycache__/app.cpython-311.pyc" in errors["ignore-test"]
    assert "write **/__pycache__ to match it at any depth" in errors["ignore-test"]


def test_requirements_the_questions_state_fail_the_visible_tests() -> None:
    """Plausible answers that miss a stated rule fail the visible test, with a hint that names the rule."""
    answers = {
        # only the first source of each COPY, and ADD forgotten
        "rebuild-answer": '''
def rebuilt_steps(steps, changed):
    for number, (keyword, argument) in enumerate(steps, start=1):
        if keyword == "COPY" and dockerfile.source_matches(argument.split()[0], changed):
            return list(range(number, len(steps) + 1))
    return []
''',
        # shared layers as a set of ids, not the common bottom part
        "facts-answer": '''
def image_facts(first, second):
    ids = {layer for layer, _ in first} & {layer for layer, _ in second}
    shared = sum(size for layer, size in first if layer in ids)
    f, s = sum(x for _, x in first), sum(x for _, x in second)
    return {"first_mb": f, "second_mb": s, "shared_mb": shared, "disk_mb": f + s - shared, "download_mb": s - shared}
''',
    }
    passed, errors = run_assignment(ASSIGNMENT_2, answers, visible_only=True, timeout=120)
    assert passed["rebuild-test"] is False and passed["facts-test"] is False
    assert "options such as --chown=10001" in errors["rebuild-test"]
    assert "image_facts(APP_A, APP_B)['shared_mb']: expected 50.0" in errors["facts-test"]
    assert "stop at the first difference" in errors["facts-test"]


def run_with(answers: dict[str, str], visible_only: bool) -> dict[str, bool]:
    return run_assignment(ASSIGNMENT_2, answers, visible_only, timeout=120)[0]
