"""labkit.gcloud_check: gcloud's own parser, offline and without an account, as the judge of a command."""
from __future__ import annotations

import os

import pytest

from conftest import skip_unless_ci
from labkit import gcloud_check
from labkit.gcloud_check import gcloud_verdict

CREATE = ["gcloud", "container", "clusters", "create", "cloud-kubernetes", "--zone", "us-central1-a",
          "--num-nodes", "3", "--machine-type", "e2-medium", "--project", "my-course-project"]


@pytest.fixture(autouse=True)
def _needs_gcloud() -> None:
    if not gcloud_check.gcloud_available():
        skip_unless_ci("gcloud is not installed on this machine (the CI machine image has gcloud 528)")


def test_a_command_gcloud_parses_is_accepted_and_creates_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))          # the learner's own gcloud configuration stays untouched
    verdict = gcloud_verdict(CREATE)
    assert verdict.accepted is True, verdict.message
    assert "no account" in verdict.message
    assert not (tmp_path / ".config").exists()


@pytest.mark.parametrize("change, says", [
    (["--num-nodes", "three"], "argument --num-nodes: Value must be an integer; received: three"),
    (["--nodes", "3"], "unrecognized arguments: --nodes (did you mean '--num-nodes'?) 3"),
    (["--machine-type"], "argument --machine-type/-m: expected one argument"),
])
def test_gcloud_refuses_a_bad_flag_in_its_own_words(change, says) -> None:
    verdict = gcloud_verdict(CREATE + change)
    assert verdict.accepted is False
    assert says in verdict.message, verdict.message
    assert not verdict.message.startswith("ERROR")
    assert "To search the help text" not in verdict.message and "Usage:" not in verdict.message, verdict.message


def test_other_commands_of_the_deploy_path() -> None:
    assert gcloud_verdict(["gcloud", "artifacts", "repositories", "create", "course", "--repository-format=docker",
                           "--location=us-central1"]).accepted is True
    assert gcloud_verdict(["gcloud", "container", "clusters", "get-credentials", "cloud-kubernetes",
                           "--zone", "us-central1-a"]).accepted is True
    assert gcloud_verdict(["gcloud", "auth", "configure-docker", "us-central1-docker.pkg.dev"]).accepted is True
    wrong_group = gcloud_verdict(["gcloud", "container", "cluster", "create", "x"])
    assert wrong_group.accepted is False and "cluster" in wrong_group.message


def test_a_learners_account_is_never_used(tmp_path, monkeypatch) -> None:
    """Even with a configuration that names an account and a project, gcloud runs in a throwaway one."""
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "mine"))
    monkeypatch.setenv("CLOUDSDK_CORE_ACCOUNT", "learner@example.com")
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "billable-project")
    gcloud_check._verdict.cache_clear()
    verdict = gcloud_verdict(CREATE[:-2])
    assert verdict.accepted is True and not (tmp_path / "mine").exists()
    env = gcloud_check._isolated_env(str(tmp_path / "scratch"))
    assert "CLOUDSDK_CORE_ACCOUNT" not in env and env["CLOUDSDK_CORE_CHECK_GCE_METADATA"] == "false"
    assert env["CLOUDSDK_CONFIG"].startswith(str(tmp_path / "scratch")) and os.environ["CLOUDSDK_CORE_ACCOUNT"]


def test_mistakes_in_the_call_get_plain_messages(monkeypatch) -> None:
    with pytest.raises(TypeError, match="list of words"):
        gcloud_verdict("gcloud container clusters list")
    with pytest.raises(ValueError, match="starts with 'gcloud'"):
        gcloud_verdict(["kubectl", "get", "pods"])
    monkeypatch.setattr(gcloud_check.shutil, "which", lambda name: None)
    gcloud_check._verdict.cache_clear()
    assert gcloud_verdict(CREATE).accepted is None


def test_a_grading_run_keeps_verdicts_for_the_next_submission(tmp_path, monkeypatch) -> None:
    """With the grader's cache folder, a verdict is a file; the next process reads it and runs no gcloud."""
    from labkit import gcloud_check
    monkeypatch.setenv(gcloud_check.CACHE_ENV, str(tmp_path))
    command = CREATE + ["--num-nodes", "seven"]
    gcloud_check._verdict.cache_clear()
    first = gcloud_verdict(command)
    (kept,) = (tmp_path / "gcloud-verdicts").iterdir()
    assert first.accepted is False and "seven" in kept.read_text()
    gcloud_check._verdict.cache_clear()
    monkeypatch.setattr(gcloud_check, "_ask", lambda *a: pytest.fail("gcloud ran although the verdict was kept"))
    assert gcloud_verdict(command) == first
    assert gcloud_check.gcloud_verdicts([command, command]) == [first, first]
