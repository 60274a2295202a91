"""The start notebook's environment check: what is here, and what it means.

Why: a learner on a laptop, on Binder or in the grader has different tools.
Rather than fail half-way through a lesson, the first notebook lists what is
available and, for each missing piece, what the course will do instead.
Run ``python -m labkit.environment`` in a shell for the same report as text.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

from labkit import cluster, docker_engine

__all__ = ["Finding", "check", "report", "Report", "PACKAGES"]

MIN_PYTHON = (3, 10)

# distribution name -> what it is for, in the learner's terms
PACKAGES: dict[str, str] = {
    "nbgrader": "checks and grades the exercises",
    "jupyterlab": "the notebook interface you are using",
    "ipywidgets": "the interactive sliders and diagrams",
    "kubernetes": "the official Python client for talking to a cluster",
    "docker": "the Python client for talking to a Docker engine",
    "labkit": "this course's own helper library",
}


@dataclass
class Finding:
    """One line of the environment check."""

    name: str
    ok: bool
    detail: str
    meaning: str


def _python() -> Finding:
    version = ".".join(str(part) for part in sys.version_info[:3])
    ok = sys.version_info[:2] >= MIN_PYTHON
    needed = ".".join(str(part) for part in MIN_PYTHON)
    return Finding(
        "Python",
        ok,
        f"Python {version} at {sys.executable}",
        f"Good: the course needs Python {needed} or newer."
        if ok
        else f"The course needs Python {needed} or newer; start JupyterLab from an "
        "environment with a newer Python.",
    )


def _package(name: str, purpose: str) -> Finding:
    try:
        version = metadata.version(name)
    except metadata.PackageNotFoundError:
        return Finding(
            f"package {name}",
            False,
            f"{name} is not installed",
            f"Without it, {purpose} will not work. Install the course requirements "
            "(`pip install -e .` in the course folder) and restart the kernel.",
        )
    return Finding(f"package {name}", True, f"{name} {version}", f"Used for: {purpose}.")


def _docker() -> Finding:
    status = docker_engine.docker_engine()
    if status.available:
        return Finding(
            "Docker engine", True, status.detail,
            "You can build and run the Dockerfile lesson's image for real.",
        )
    return Finding(
        "Docker engine", False, status.detail,
        status.advice or "The Dockerfile lesson explains builds and shows what would happen.",
    )


def _kubectl(timeout: float = 10.0) -> Finding:
    path = shutil.which("kubectl")
    missing_meaning = (
        "You can still do every exercise through the official Python client; install "
        "kubectl to type the same commands yourself."
    )
    if path is None:
        return Finding("kubectl", False, "kubectl is not on your PATH", missing_meaning)
    try:
        done = subprocess.run(
            [path, "version", "--client", "-o", "json"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        version = json.loads(done.stdout)["clientVersion"]["gitVersion"]
    except subprocess.TimeoutExpired:
        return Finding(
            "kubectl", False, f"{path} did not answer within {timeout:g} s", missing_meaning
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Finding(
            "kubectl", False, f"{path} did not report its version ({error})", missing_meaning
        )
    return Finding(
        "kubectl", True, f"kubectl {version} at {path}",
        "You can run the kubectl commands shown in the lessons.",
    )


def _cluster(kubeconfig: str | None) -> Finding:
    found = cluster.probe(kubeconfig)
    if found.reachable:
        return Finding(
            "Kubernetes cluster", True, found.detail,
            "The lessons can use your own cluster.",
        )
    return Finding(
        "Kubernetes cluster", False, found.detail,
        "No cluster answered: the course will start its local emulator, a small "
        "Kubernetes API server on this machine, so every lesson still works.",
    )


def _nbgrader() -> Finding:
    # nbgrader sets NBGRADER_EXECUTION while it validates or grades a notebook.
    mode = os.environ.get("NBGRADER_EXECUTION")
    if mode:
        return Finding(
            "Grading", True, f"nbgrader is running this notebook ({mode})",
            "This is a grading or validation run, not you working in the notebook.",
        )
    return Finding(
        "Grading", True, "You are running this notebook yourself",
        "Test cells tell you at once whether an answer passes; the hidden tests run only "
        "when your instructor grades.",
    )


def check(kubeconfig: str | None = None) -> list[Finding]:
    """Look at Python, packages, Docker, kubectl, a cluster and nbgrader; never raises."""
    findings = [_python()]
    findings += [_package(name, purpose) for name, purpose in PACKAGES.items()]
    findings += [_docker(), _kubectl(), _cluster(kubeconfig), _nbgrader()]
    return findings


class Report:
    """Findings that show as a table in Jupyter and as text in a shell."""

    def __init__(self, findings: list[Finding]):
        self.findings = list(findings)

    @staticmethod
    def _mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    def __str__(self) -> str:
        lines = ["Environment check", ""]
        for finding in self.findings:
            lines.append(f"{self._mark(finding.ok)} {finding.name}: {finding.detail}")
            lines.append(f"    {finding.meaning}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = []
        for finding in self.findings:
            colour = "#1a7f37" if finding.ok else "#cf222e"
            rows.append(
                "<tr>"
                f"<td style='color:{colour};font-weight:bold;text-align:center'>"
                f"{self._mark(finding.ok)}</td>"
                f"<td style='text-align:left'>{html.escape(finding.name)}</td>"
                f"<td style='text-align:left'>{html.escape(finding.detail)}</td>"
                f"<td style='text-align:left'>{html.escape(finding.meaning)}</td>"
                "</tr>"
            )
        return (
            "<table><thead><tr><th></th><th style='text-align:left'>What</th>"
            "<th style='text-align:left'>Found</th>"
            "<th style='text-align:left'>What it means for the course</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


def report(findings: list[Finding] | None = None) -> Report:
    """Wrap findings (by default, a fresh ``check()``) for display."""
    return Report(check() if findings is None else findings)


if __name__ == "__main__":
    print(report())
