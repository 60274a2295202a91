"""Tests of the course web service: each endpoint, its configuration, and real servers.

The subprocess tests start the service the two ways lessons do (``python -m webapp``
and gunicorn) on a free 127.0.0.1 port, because a Flask test client cannot catch a
broken ``__main__`` or a wrong gunicorn import path.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from webapp.app import MAX_WORK_MS, ConfigError, create_app, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_VARS = ("APP_GREETING", "APP_ENV", "APP_VERSION", "PORT", "APP_READY_FILE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the defaults, whatever the shell running pytest has set."""
    for name in CONFIG_VARS:
        monkeypatch.delenv(name, raising=False)


def client(config: dict[str, str] | None = None):
    return create_app(config).test_client()


def test_index_defaults() -> None:
    response = client().get("/")
    assert response.status_code == 200
    assert response.get_json() == {
        "greeting": "Hello from the course web service",
        "hostname": socket.gethostname(),
        "version": "1.0.0",
        "env": "development",
    }


def test_index_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_GREETING", "Hi from env")
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("APP_VERSION", "2.3.4")
    body = client().get("/").get_json()
    assert (body["greeting"], body["env"], body["version"]) == ("Hi from env", "production", "2.3.4")


def test_config_argument_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_GREETING", "from env")
    monkeypatch.setenv("APP_VERSION", "9.9.9")
    body = client({"APP_GREETING": "from config"}).get("/").get_json()
    assert body["greeting"] == "from config"
    assert body["version"] == "9.9.9"


def test_healthz() -> None:
    response = client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_without_ready_file_is_ready() -> None:
    response = client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_readyz_waits_for_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    app_client = client({"APP_READY_FILE": str(ready)})
    response = app_client.get("/readyz")
    assert response.status_code == 503
    assert str(ready) in response.get_json()["reason"]
    ready.touch()
    assert app_client.get("/readyz").status_code == 200


def test_healthz_fails_while_the_unhealthy_file_exists(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    app_client = client({"APP_UNHEALTHY_FILE": str(broken)})
    assert app_client.get("/healthz").status_code == 200, "healthy until the file appears"
    broken.touch()
    response = app_client.get("/healthz")
    assert response.status_code == 500
    assert response.get_json() == {"status": "unhealthy", "reason": f"{broken} exists (APP_UNHEALTHY_FILE)"}
    broken.unlink()
    assert app_client.get("/healthz").status_code == 200


def test_work_burns_about_the_requested_time() -> None:
    response = client().get("/work?ms=30")
    assert response.status_code == 200
    body = response.get_json()
    assert body["requested_ms"] == 30 and body["worked_ms"] == 30 and body["capped"] is False
    assert body["elapsed_ms"] >= 30


def test_work_is_capped() -> None:
    body = client().get(f"/work?ms={MAX_WORK_MS * 5}").get_json()
    assert body["capped"] is True
    assert body["worked_ms"] == MAX_WORK_MS
    assert MAX_WORK_MS <= body["elapsed_ms"] < MAX_WORK_MS * 3


@pytest.mark.parametrize("bad", ["abc", "-5", "1.5", ""])
def test_work_rejects_bad_input(bad: str) -> None:
    response = client().get(f"/work?ms={bad}")
    assert response.status_code == 400
    assert "ms must be a whole number" in response.get_json()["error"]


@pytest.mark.parametrize("bad", ["eighty", "0", "70000", "80.5"])
def test_bad_port_names_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="PORT"):
        create_app({"PORT": bad})


def test_port_setting() -> None:
    assert load_settings({"PORT": "9000"}).port == 9000
    assert load_settings({}).port == 8080


def test_empty_app_env_is_refused() -> None:
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app({"APP_ENV": "  "})


# --- real servers -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30.0) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"server exited with {process.returncode} before answering:\n{output}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except (urllib.error.URLError, ConnectionError) as error:
            last_error = error
            time.sleep(0.1)
    pytest.fail(f"no answer from {url} within {timeout}s: {last_error}")


@contextlib.contextmanager
def start(argv: list[str], env_extra: dict[str, str]) -> Iterator[subprocess.Popen]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS} | env_extra
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def root_once_healthy(argv: list[str], env_extra: dict[str, str], port: int) -> dict:
    """Start a server, wait until /healthz says ok, return what / answers, and stop it."""
    with start(argv, env_extra) as process:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        assert (status, body) == (200, {"status": "ok"})
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            root = json.loads(response.read())
    assert process.returncode is not None
    return root


def test_python_dash_m_webapp_serves() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "webapp"]
    root = root_once_healthy(argv, {"PORT": str(port), "APP_GREETING": "dev server"}, port)
    assert root["greeting"] == "dev server"


def test_gunicorn_serves() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "webapp.app:app"]
    root = root_once_healthy(argv, {"APP_VERSION": "7.7.7"}, port)
    assert root["version"] == "7.7.7"


def test_python_dash_m_webapp_bad_port_says_what_to_fix() -> None:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS} | {"PORT": "eighty"}
    result = subprocess.run(
        [sys.executable, "-m", "webapp"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "PORT" in result.stderr and "eighty" in result.stderr
    assert "Traceback" not in result.stderr


def test_platform_hooks_replace_host_facts() -> None:
    """The emulator's hooks: its environment, hostname, files and CPU instead of the host's."""
    burned: list[int] = []
    app = create_app(
        environ={"APP_GREETING": "from a ConfigMap", "APP_READY_FILE": "/tmp/ready"},
        hostname=lambda: "web-7d4b9c-x2x1z",
        file_exists=lambda path: False,
        burn=lambda ms: burned.append(ms) or float(ms),
    )
    test = app.test_client()
    body = test.get("/").get_json()
    assert (body["greeting"], body["hostname"]) == ("from a ConfigMap", "web-7d4b9c-x2x1z")
    assert test.get("/readyz").status_code == 503
    work = test.get("/work?ms=250").get_json()
    assert burned == [250] and work["elapsed_ms"] == 250.0 and work["hostname"] == "web-7d4b9c-x2x1z"


def test_environ_hook_ignores_the_host_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_GREETING", "from the host")
    assert create_app(environ={}).test_client().get("/").get_json()["greeting"] == "Hello from the course web service"
    with pytest.raises(ConfigError, match="PORT"):
        create_app(environ={"PORT": "abc"})


def test_module_app_is_built_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the module does not read the host's environment (the emulator builds its own
    apps); gunicorn's ``app:app`` still gets the app, or the ConfigError of a bad variable."""
    import importlib

    import webapp.app as module

    monkeypatch.setenv("PORT", "abc")
    module = importlib.reload(module)   # no ConfigError at import
    with pytest.raises(module.ConfigError, match="PORT"):
        module.app  # the attribute access is what builds the app
    monkeypatch.setenv("PORT", "8080")
    assert module.app.test_client().get("/healthz").status_code == 200
    assert module.app is module.app
