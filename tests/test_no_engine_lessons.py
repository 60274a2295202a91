"""On Binder (no Docker engine), the start notebook and lessons 1-2 say so in plain words.

What a learner read before: "Error while fetching server API version: ('Connection aborted.',
FileNotFoundError(2, ...))", once per cell that wanted an engine, and advice to start Docker
that nobody on Binder can follow.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO_ROOT

LESSONS = [REPO_ROOT / "notebooks" / name for name in
           ("00-start-here.ipynb", "01-vms-and-containers.ipynb", "02-containers-and-dockerfiles.ipynb")]
RAW_ERROR_WORDS = ("Error while fetching", "FileNotFoundError", "Connection aborted", "ConnectionRefusedError",
                   "Max retries", "NBGRADER_EXECUTION", "Traceback")
ADVICE_BINDER_CANNOT_FOLLOW = ("start Docker", "systemctl start docker", "Docker Desktop", "docker group")


def all_output_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            for kind in ("text/plain", "text/html"):
                parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


@pytest.mark.parametrize("path", LESSONS, ids=[path.name for path in LESSONS])
def test_binder_learner_reads_plain_words_about_docker(path: Path, monkeypatch, tmp_path) -> None:
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")  # no engine here
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    monkeypatch.setenv("BINDER_REPO_URL", "https://github.com/vms-containers-k8s/course")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    text = all_output_text(notebook)
    assert "No Docker engine is running here." in text
    for words in RAW_ERROR_WORDS + ADVICE_BINDER_CANNOT_FOLLOW:
        assert words not in text, f"{path.name} shows {words!r} to a Binder learner"
