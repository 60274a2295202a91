"""engine.docker_engine against nothing, and against a tiny fake engine on 127.0.0.1."""
import pytest

from http_fakes import FakeDockerEngine, closed_port, serving
from labkit import engine


@pytest.fixture
def clean_docker_env(monkeypatch):
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
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
    assert status.detail.startswith(f"No Docker engine answered at {address}: ")
    assert "Start Docker" in status.detail


def test_no_engine_at_a_missing_socket(clean_docker_env, tmp_path):
    address = f"unix://{tmp_path}/docker.sock"
    clean_docker_env.setenv("DOCKER_HOST", address)
    status = engine.docker_engine(timeout=1)
    assert status.available is False
    assert address in status.detail


def test_engine_that_answers(fake_engine):
    status = engine.docker_engine(timeout=2)
    assert status.available is True
    assert status.version == "20.10.99"
    assert status.detail == f"Docker Engine 20.10.99 is running at {fake_engine} (API 1.41)."
    assert str(status) == status.detail
