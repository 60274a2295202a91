"""Binder's environment.yml and pip's pyproject.toml must describe the same course environment.

Binder builds environment.yml with conda and ignores pyproject.toml's dependencies
(postBuild installs labkit with --no-deps), so a package added to one file only
would work in `make lab` and break on Binder, or the other way round.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import REPO_ROOT

# PyPI name -> conda-forge name, where they differ.
CONDA_NAME = {
    "kubernetes": "python-kubernetes",
    "docker": "docker-py",
    "matplotlib": "matplotlib-base",
}
# conda-only entries: the interpreter, pip, and kubectl (not a Python package).
CONDA_ONLY = {"python", "pip", "kubernetes-client"}


# The newest version conda-forge was seen to carry (its package pages, 2026; this
# machine cannot reach conda-forge). A package whose range these versions do not
# satisfy cannot be solved there: take it from PyPI under `pip:` instead.
# Not looked up: jupyterlab, pyyaml, requests (long-standing conda-forge packages).
CONDA_FORGE_NEWEST_SEEN = {
    "nbgrader": "0.9.5",  # 0.9.6 came to PyPI in 2026-09; so nbgrader is under `pip:`
    "python-kubernetes": "36.0.2",
    "docker-py": "7.2.0",
    "dockerfile-parse": "2.0.1",
    "ipywidgets": "8.1.8",
    "flask": "3.1.3",
    "matplotlib-base": "3.11.0",
    "kubernetes-client": "1.34.3",
}


def conda_name(pypi_name: str) -> str:
    return CONDA_NAME.get(pypi_name.lower(), pypi_name.lower())


def pyproject_requirements() -> dict[str, SpecifierSet]:
    """pyproject.toml's dependencies, keyed by PyPI name."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {r.name.lower(): r.specifier for r in requirements}


def environment_entries() -> tuple[dict[str, SpecifierSet], dict[str, SpecifierSet]]:
    """(conda-forge packages by conda name, `pip:` packages by PyPI name) of environment.yml."""
    environment = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"], "Binder should build from conda-forge only"
    conda, pip = {}, {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            # `- pip: [...]`: packages taken from PyPI, under their PyPI names
            for line in entry["pip"]:
                requirement = Requirement(line.replace(" ", ""))
                pip[requirement.name.lower()] = requirement.specifier
            continue
        name, _, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(=?)(.*)", entry).groups()
        spec = spec.strip()
        if spec and spec[0] not in "<>=!~":
            spec = f"=={spec}.*"  # conda's `python=3.11` means any 3.11.x
        conda[name.lower()] = SpecifierSet(spec.replace(" ", ""))
    return conda, pip


def conda_requirements() -> dict[str, SpecifierSet]:
    """Every environment.yml package, keyed by its PyPI name where it has one."""
    conda, pip = environment_entries()
    pypi_name = {value: key for key, value in CONDA_NAME.items()}
    found = {pypi_name.get(name, name): spec for name, spec in conda.items()}
    found.update(pip)
    return found


def test_the_same_packages_are_named() -> None:
    pip_side = set(pyproject_requirements())
    conda_side = set(conda_requirements()) - CONDA_ONLY
    assert pip_side - conda_side == set(), "add these to environment.yml"
    assert conda_side - pip_side == set(), "add these to pyproject.toml (or to CONDA_ONLY, saying why)"


def test_no_package_is_both_a_conda_package_and_under_pip() -> None:
    conda, pip = environment_entries()
    both = {name for name in pip if conda_name(name) in conda}
    assert not both, f"environment.yml names {sorted(both)} twice: keep each either in conda or under pip:"


@pytest.mark.parametrize("name", sorted(pyproject_requirements()))
def test_the_same_versions_are_allowed(name: str) -> None:
    assert conda_requirements()[name] == pyproject_requirements()[name], (
        f"{name}: environment.yml allows {conda_requirements()[name]}, "
        f"pyproject.toml allows {pyproject_requirements()[name]}"
    )


def test_conda_packages_are_asked_for_at_versions_conda_forge_has() -> None:
    """A range conda-forge cannot meet makes Binder's build fail: such a package goes under pip:."""
    conda, _ = environment_entries()
    for name, spec in conda.items():
        seen = CONDA_FORGE_NEWEST_SEEN.get(name)
        if seen is not None and spec:
            assert spec.contains(seen), (
                f"environment.yml asks conda-forge for {name}{spec}, but its newest version there was "
                f"{seen}: move {name} under `pip:` (PyPI name)"
            )


def test_binder_python_satisfies_requires_python() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    binder_python = environment_entries()[0]["python"]
    lowest = re.search(r"(\d+\.\d+)", str(binder_python)).group(1) + ".0"
    assert SpecifierSet(project["requires-python"]).contains(lowest)


def test_postbuild_is_strict_and_installs_labkit() -> None:
    text = (REPO_ROOT / "postBuild").read_text()
    assert re.search(r"^set -e", text, flags=re.M), "postBuild must stop at the first failing command"
    assert "pip install --no-deps -e ." in text
    subprocess.run(["bash", "-n", str(REPO_ROOT / "postBuild")], check=True)


def test_the_slow_iri_validator_is_gone_wherever_the_course_is_installed() -> None:
    """jsonschema imports rfc3987-syntax, if present, wherever nbformat loads (JupyterLab, nbgrader,
    the grader): about 2 s per process. Every way the course is installed removes it."""
    import importlib.util

    assert importlib.util.find_spec("rfc3987_syntax") is None, (
        "rfc3987-syntax is installed in this environment: `make env` removes it (the Makefile's drop_slow_validator)")
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert makefile.count("$(drop_slow_validator)") == 2, "both of the Makefile's pip installs must drop rfc3987-syntax"
    for name in ("postBuild", "autograder/Dockerfile"):
        assert "pip uninstall" in (REPO_ROOT / name).read_text() and "rfc3987-syntax" in (REPO_ROOT / name).read_text(), name


def test_postbuild_installs_the_learner_view() -> None:
    """Binder is the learner's view: postBuild installs the same files `make lab` uses."""
    text = (REPO_ROOT / "postBuild").read_text()
    assert "cp jupyter/learner/labconfig/page_config.json" in text
    assert "cp jupyter/learner/jupyter_server_config.json" in text


def test_learner_view_disables_nbgrader_plugins_that_exist() -> None:
    """If nbgrader renames a plugin, the learner view would quietly show it again: catch it here."""
    import nbgrader

    static = Path(nbgrader.__file__).parent / "labextension" / "static"
    if not static.exists():
        import sys

        static = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader" / "static"
    bundle = "".join(path.read_text(errors="ignore") for path in static.glob("*.js"))
    page_config = json.loads((REPO_ROOT / "jupyter" / "learner" / "labconfig" / "page_config.json").read_text())
    disabled = [name for name, off in page_config["disabledExtensions"].items() if off]
    assert disabled, "the learner view disables no nbgrader plugin"
    for plugin in disabled:
        assert f'"{plugin}"' in bundle, f"nbgrader has no plugin {plugin!r}"
    assert '"@jupyter/nbgrader:validate-assignment"' in bundle
    assert "@jupyter/nbgrader:validate-assignment" not in disabled, "learners need Validate"


def test_learner_view_turns_off_instructor_server_extensions_that_exist() -> None:
    import importlib.util

    config = json.loads((REPO_ROOT / "jupyter" / "learner" / "jupyter_server_config.json").read_text())
    extensions = config["ServerApp"]["jpserver_extensions"]
    for module in extensions:
        assert importlib.util.find_spec(module) is not None, f"no server extension {module!r}"
    assert extensions["nbgrader.server_extensions.validate_assignment"] is True
    assert not extensions["nbgrader.server_extensions.formgrader"]


def test_webapp_pins_fit_the_course_environment() -> None:
    """The versions a VM or container installs for the web service are ones the course tests with."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    ranges = {
        Requirement(line).name.lower(): Requirement(line).specifier
        for line in project["dependencies"] + project["optional-dependencies"]["test"]
    }
    pins = [
        Requirement(line)
        for line in (REPO_ROOT / "webapp" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins, "webapp/requirements.txt pins nothing"
    for pin in pins:
        (version,) = [spec.version for spec in pin.specifier if spec.operator == "=="]
        assert pin.name.lower() in ranges, f"{pin.name} is pinned for the web service but not in pyproject.toml"
        assert ranges[pin.name.lower()].contains(version), (
            f"webapp pins {pin.name}=={version}, outside pyproject.toml's {ranges[pin.name.lower()]}"
        )
