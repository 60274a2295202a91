"""Tests of labkit.vm_provisioning: the VM descriptions it builds are right and valid.

Each generated description (startup script, cloud-init user-data, gcloud command) must
pass the validators in labkit.vm_checks, since it is the reference answer learners
compare theirs with; the validators' own tests are in test_vm_checks.py.
"""

from __future__ import annotations

import subprocess
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from labkit import vm_checks as vc
from labkit import vm_provisioning as vp

REPO_ROOT = Path(__file__).resolve().parents[1]
GREETING = vp.DEFAULT_GREETING


# --- the reference outputs -------------------------------------------------------------


def test_webapp_files_are_the_repository_files() -> None:
    found = vp.webapp_files()
    assert sorted(found) == sorted(vp.WEBAPP_FILES)
    for relative, text in found.items():
        assert text == (REPO_ROOT / relative).read_text(encoding="utf-8")
    assert "def create_app" in found["webapp/app.py"]
    assert "gunicorn==" in found["webapp/requirements.txt"]
    assert files("webapp").joinpath("requirements.txt").is_file()


def test_user_data_is_header_plus_cloud_config() -> None:
    text = vp.user_data(port=9000, greeting="Hi")
    assert text.startswith("#cloud-config\n")
    assert yaml.safe_load(text) == vp.cloud_config(port=9000, greeting="Hi")
    # Readable: file contents as literal blocks, not one escaped line.
    assert "content: |" in text


def test_reference_user_data_passes_every_validator() -> None:
    text = vp.user_data()
    assert vc.check_user_data(text) == []
    assert vc.check_user_data(text, schema=False) == []
    assert vc.serves_webapp(text, 8080, GREETING) == []


@pytest.mark.parametrize("greeting", ['50% "off" \\o/', "Grüße, $HOME and `date`"])
def test_awkward_greetings_survive_quoting(greeting: str) -> None:
    text = vp.user_data(port=8081, greeting=greeting)
    assert vc.serves_webapp(text, 8081, greeting) == []
    assert vc.check_startup_script(vp.startup_script(port=8081, greeting=greeting)) == []


def test_reference_startup_script_passes_and_is_bash_clean() -> None:
    script = vp.startup_script()
    assert vc.check_startup_script(script) == []
    result = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.startswith("#!/bin/bash\n") and "set -euo pipefail" in script
    assert "--bind 0.0.0.0:8080" in script and "systemctl restart webapp.service" in script


def test_startup_script_writes_the_app_files_verbatim(tmp_path: Path) -> None:
    """Run just the file-writing part of the script: heredocs must not expand anything."""
    script = vp.startup_script(app_dir=str(tmp_path / "app"))
    start = script.index("mkdir -p")
    end = script.index("\n# 3.")
    result = subprocess.run(["bash", "-euc", script[start:end]], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for relative, text in vp.webapp_files().items():
        assert (tmp_path / "app" / relative).read_text(encoding="utf-8") == text


def test_heredoc_delimiter_never_collides(tmp_path: Path) -> None:
    content = "echo $HOME `id` \\n\nWEBAPP_EOF\n'quoted'\n"
    target = tmp_path / "out.txt"
    snippet = vp._heredoc(str(target), content)
    subprocess.run(["bash", "-euc", snippet], check=True)
    assert target.read_text() == content


def test_gcloud_command_reference() -> None:
    argv = vp.gcloud_create_command("web-1", metadata_files={"startup-script": "startup.sh"})
    assert argv[:5] == ["gcloud", "compute", "instances", "create", "web-1"]
    assert "--metadata-from-file=startup-script=startup.sh" in argv
    assert "--image-family=debian-12" in argv and "--image-project=debian-cloud" in argv
    assert vc.check_gcloud_command(argv) == []
    assert vc.check_gcloud_command(vp.gcloud_create_command("vm", tags=(), metadata_files={"startup-script": "s.sh"})) == []


def test_gcloud_create_command_refuses_a_bad_name() -> None:
    with pytest.raises(ValueError, match="Instance name 'Web_1' is not valid"):
        vp.gcloud_create_command("Web_1")


def test_shell_command_runs_as_the_same_argv() -> None:
    argv = vp.gcloud_create_command(
        "web-1", image_family="ubuntu-2204-lts", image_project="ubuntu-os-cloud",
        metadata_files={"user-data": "my files/user data.yaml"},
    )
    shown = vp.shell_command(argv)
    assert shown.count("\\\n") == len(argv) - 5
    # Let bash itself read the displayed command back into words.
    result = subprocess.run(
        ["bash", "-c", "set -- " + shown + "\nprintf '%s\\0' \"$@\""], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\0")[:-1] == argv


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"port": 0}, "port must be"),
        ({"port": "8080"}, "port must be"),
        ({"app_dir": "relative/dir"}, "app_dir must be an absolute"),
        ({"greeting": "two\nlines"}, "greeting must be a one-line"),
    ],
)
def test_generators_refuse_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vp.cloud_config(**kwargs)
    with pytest.raises(ValueError, match=message):
        vp.startup_script(**kwargs)
