"""The course web service's files, as a VM must write them.

Why a module of its own: :mod:`labkit.vm_provisioning` writes these files into the VM
descriptions it builds, and :mod:`labkit.vm_serving_checks` checks that a learner's
user-data writes them. Both need the same list; neither should import the other for it.
"""
from __future__ import annotations

import importlib.resources

__all__ = ["WEBAPP_FILES", "webapp_files"]

#: The files (relative to the app directory) a machine needs to run the service.
WEBAPP_FILES = (
    "webapp/__init__.py",
    "webapp/app.py",
    "webapp/__main__.py",
    "webapp/requirements.txt",
)


def webapp_files() -> dict[str, str]:
    """Relative path -> text of each file a machine needs to run the web service.

    Read from the installed ``webapp`` package so that a VM gets exactly the code the
    container and Kubernetes lessons use: there is one copy in the repository, never a
    hand-kept duplicate that drifts.
    """
    package = importlib.resources.files("webapp")
    files: dict[str, str] = {}
    for relative in WEBAPP_FILES:
        name = relative.split("/", 1)[1]
        files[relative] = package.joinpath(name).read_text(encoding="utf-8")
    return files
