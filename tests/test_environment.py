"""The environment check, with Docker, kubectl and the cluster controlled by the test."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from http_fakes import closed_port
from labkit import environment
from labkit.environment import Finding


def fake_kubectl(directory: Path, script: str) -> None:
    path = directory / "kubectl"
    path.write_text(f"#!{sys.executable}\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def controlled(monkeypatch, tmp_path):
    """No Docker engine, a fake kubectl on PATH, no kubeconfig, not under nbgrader."""
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT", "NBGRADER_EXECUTION",
                 "BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REQUEST", "BINDER_REF_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_kubectl(bin_dir, 'import json; print(json.dumps({"clientVersion": {"gitVersion": "v1.36.1"}}))')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return monkeypatch


def by_name(findings):
    return {finding.name: finding for finding in findings}


def test_check_covers_everything(controlled):
    findings = by_name(environment.check())
    expected = {"Python", "Docker engine", "kubectl", "Kubernetes cluster", "Grading"}
    expected |= {f"package {name}" for name in environment.PACKAGES}
    assert set(findings) == expected
    assert all(isinstance(finding, Finding) for finding in findings.values())


def test_python_and_packages_are_found(controlled):
    findings = by_name(environment.check())
    assert findings["Python"].ok is True
    assert findings["Python"].detail.startswith("Python 3.")
    for name in ("nbgrader", "jupyterlab", "ipywidgets", "kubernetes", "docker"):
        finding = findings[f"package {name}"]
        assert finding.ok is True, finding.detail
        assert finding.detail.startswith(f"{name} ")


def test_missing_package_says_what_to_do():
    finding = environment._package("surely-not-installed-labkit-test", "nothing")
    assert finding.ok is False
    assert "pip install -e ." in finding.meaning


@pytest.mark.parametrize(
    "name, detail, meaning",
    [
        ("Docker engine", "No Docker engine is running at tcp://127.0.0.1:",
         "To use one, start Docker"),
        ("Kubernetes cluster", "No kubeconfig found at",
         "No cluster answered: the course will start its local emulator"),
    ],
    ids=["no-docker-engine", "no-cluster-means-emulator"],
)
def test_what_a_missing_service_means(controlled, name, detail, meaning):
    finding = by_name(environment.check())[name]
    assert finding.ok is False
    assert finding.detail.startswith(detail)
    assert finding.meaning.startswith(meaning)


def test_kubectl_version_is_read(controlled):
    finding = by_name(environment.check())["kubectl"]
    assert finding.ok is True
    assert finding.detail.startswith("kubectl v1.36.1 at ")


def test_kubectl_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = environment._kubectl()
    assert finding.ok is False
    assert finding.detail == "kubectl is not on your PATH"


def test_kubectl_that_hangs_is_cut_off(monkeypatch, tmp_path):
    fake_kubectl(tmp_path, "import time; time.sleep(30)")
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = environment._kubectl(timeout=0.5)
    assert finding.ok is False
    assert "did not answer within 0.5 s" in finding.detail


def test_kubectl_with_garbage_output(monkeypatch, tmp_path):
    fake_kubectl(tmp_path, "print('hello')")
    monkeypatch.setenv("PATH", str(tmp_path))
    finding = environment._kubectl()
    assert finding.ok is False
    assert "did not report its version" in finding.detail


def test_nbgrader_mode(controlled):
    finding = by_name(environment.check())["Grading"]
    assert finding.detail == "You are running this notebook yourself"
    assert "NBGRADER_EXECUTION" not in finding.detail + finding.meaning
    controlled.setenv("NBGRADER_EXECUTION", "autograde")
    finding = by_name(environment.check())["Grading"]
    assert finding.detail == "nbgrader is running this notebook (autograde)"


RAW_ERROR_WORDS = ("Error while fetching", "FileNotFoundError", "Connection aborted", "ConnectionRefusedError",
                   "Max retries")


@pytest.mark.parametrize("binder", [False, True], ids=["laptop", "binder"])
def test_no_engine_report_is_plain_words(controlled, tmp_path, binder):
    """The start notebook's report without an engine: no client error text; on Binder no advice to start Docker."""
    controlled.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    if binder:
        controlled.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    text = str(environment.report())
    docker_lines = [line for line in text.splitlines() if "Docker engine:" in line]
    assert docker_lines, text
    for words in RAW_ERROR_WORDS:
        assert words not in text
    if binder:
        assert "Binder gives you none" in text
        assert "start Docker" not in text and "install" not in text.lower().replace("not installed", "")
    else:
        assert "start Docker" in text


def test_report_renders_text_and_html():
    findings = [
        Finding("Python", True, "Python 3.11.7", "Good."),
        Finding("Docker engine", False, "No Docker <engine>", "Explained instead."),
    ]
    shown = environment.report(findings)
    text = str(shown)
    assert "✓ Python: Python 3.11.7" in text
    assert "✗ Docker engine: No Docker <engine>" in text
    assert "    Explained instead." in text
    page = shown._repr_html_()
    assert page.startswith("<table>")
    assert page.count("<tr>") == 3
    assert "No Docker &lt;engine&gt;" in page
    assert "What it means for the course" in page


def test_command_line_prints_the_report(controlled):
    done = subprocess.run(
        [sys.executable, "-m", "labkit.environment"],
        capture_output=True, text=True, timeout=120, check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Environment check")
    assert "✗ Docker engine: No Docker engine is running" in done.stdout
    assert "✓ kubectl: kubectl v1.36.1" in done.stdout
