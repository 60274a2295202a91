"""docker_engine.docker_engine against nothing, and against a tiny fake engine on 127.0.0.1."""
import pytest

from http_fakes import FakeDockerEngine, closed_port, serving
from labkit import docker_engine as engine


@pytest.fixture
def clean_docker_env(monkeypatch):
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", *engine.BINDER_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def fake_engine(clean_docker_env):
    with serving(FakeDockerEngine) as url:
        address = url.replace("http://", "tcp://", 1)
        clean_docker_env.setenv("DOCKER_HOST", address)
        yield address


def test_no_engine_on_a_closed_port(clean_docker_env):
    address = f"tcp://127.0.0.1:{closed_port()}"
    clean_docker_env.setenv("DOCKER_HOST", address)
    status = engine.docker_engine(timeout=1)
    assert status.available is False
    assert status.version is None
    assert status.detail == f"No Docker engine is running at {address} (from DOCKER_HOST)."
    assert "start Docker" in status.advice
    assert "Connection" in status.cause  # the client's own words are kept, not shown


RAW_ERROR_WORDS = ("Error while fetching", "FileNotFoundError", "Connection aborted", "ConnectionRefusedError")


def test_no_engine_at_a_missing_socket(clean_docker_env, tmp_path):
    address = f"unix://{tmp_path}/docker.sock"
    clean_docker_env.setenv("DOCKER_HOST", address)
    status = engine.docker_engine(timeout=1)
    assert status.available is False
    assert address in status.detail
    assert "FileNotFoundError" in status.cause
    for words in RAW_ERROR_WORDS:
        assert words not in str(status)


def test_no_engine_on_binder_gives_no_advice_a_binder_learner_cannot_follow(clean_docker_env, tmp_path):
    clean_docker_env.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    clean_docker_env.setenv("BINDER_REPO_URL", "https://github.com/vms-containers-k8s/course")
    status = engine.docker_engine(timeout=1)
    assert str(status) == ("No Docker engine is running here. "
                           "Binder gives you none, so the lessons show what Docker would do instead.")


def test_no_engine_at_the_default_address_is_this_machine(clean_docker_env, monkeypatch):
    monkeypatch.setattr(engine, "_DEFAULT_ADDRESS", "unix:///nonexistent/docker.sock")
    clean_docker_env.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    status = engine.docker_engine(timeout=1)
    assert status.detail == "No Docker engine is running on this machine."


def test_an_engine_this_user_may_not_use(clean_docker_env):
    # what docker-py says when the socket exists but its permissions shut this user out
    cause = "DockerException: Error while fetching server API version: ('Connection aborted.', PermissionError(13, 'Permission denied'))"
    status = engine._no_engine("unix:///var/run/docker.sock", cause)
    assert status.detail == "A Docker engine is running on this machine, but your user may not use it."
    assert "docker group" in status.advice
    assert status.cause == cause


def test_engine_that_answers(fake_engine):
    status = engine.docker_engine(timeout=2)
    assert status.available is True
    assert status.version == "20.10.99"
    assert status.detail == f"Docker Engine 20.10.99 is running at {fake_engine} (API 1.41)."
    assert str(status) == status.detail
