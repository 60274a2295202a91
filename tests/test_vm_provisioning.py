"""Tests of labkit.vm_provisioning: the reference VM description passes, broken ones are caught.

The broken-input tables are the mistakes learners make in the VM assignment; each
must produce a problem that names the fix, because that message is all the learner sees.
"""

from __future__ import annotations

import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

from conftest import skip_unless_ci
import yaml

from labkit import vm_provisioning as vp

REPO_ROOT = Path(__file__).resolve().parents[1]
GREETING = vp.DEFAULT_GREETING


def reference() -> dict:
    return vp.cloud_config()


def dump(config: dict) -> str:
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def one_problem_containing(problems: list[str], text: str) -> None:
    assert any(text in problem for problem in problems), f"no problem mentions {text!r}: {problems}"


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
    assert vp.check_user_data(text) == []
    assert vp.check_user_data(text, schema=False) == []
    assert vp.serves_webapp(text, 8080, GREETING) == []


@pytest.mark.parametrize("greeting", ['50% "off" \\o/', "Grüße, $HOME and `date`"])
def test_awkward_greetings_survive_quoting(greeting: str) -> None:
    text = vp.user_data(port=8081, greeting=greeting)
    assert vp.serves_webapp(text, 8081, greeting) == []
    assert vp.check_startup_script(vp.startup_script(port=8081, greeting=greeting)) == []


def test_reference_startup_script_passes_and_is_bash_clean() -> None:
    script = vp.startup_script()
    assert vp.check_startup_script(script) == []
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
    assert vp.check_gcloud_command(argv) == []
    assert vp.check_gcloud_command(vp.gcloud_create_command("vm", tags=(), metadata_files={"startup-script": "s.sh"})) == []


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


# --- broken user-data --------------------------------------------------------------


def _broken_user_data() -> list[tuple[str, str, str]]:
    good = vp.user_data()
    typo = reference()
    typo["packges"] = typo.pop("packages")
    no_content = reference()
    del no_content["write_files"][0]["content"]
    return [
        ("spaced header", good.replace("#cloud-config", "# cloud-config", 1), "only recognises exactly '#cloud-config'"),
        ("no header", good.split("\n", 1)[1], "The first line must be exactly '#cloud-config'"),
        ("shell script", "#!/bin/bash\necho hi\n", "shebang"),
        ("bad yaml", "#cloud-config\npackages:\n  - python3-venv\n runcmd: [oops\n", "line 4, column"),
        ("tab indent", "#cloud-config\npackages:\n\t- x\n", "does not parse at line 3"),
        ("typo key", dump(typo), "Did you mean 'packages'?"),
        ("unquoted permissions",
         "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: hi\n    permissions: 0644\n",
         "Quote it: permissions: '0644'"),
        ("symbolic permissions",
         "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: hi\n    permissions: rw-r--r--\n",
         "not an octal mode"),
        ("missing content", dump(no_content), "has no 'content'"),
        ("relative path", "#cloud-config\nwrite_files:\n  - path: etc/x\n    content: hi\n", "must be absolute"),
        ("runcmd mapping", "#cloud-config\nruncmd:\n  - echo: hi\n", "runcmd item 1"),
        ("runcmd string", "#cloud-config\nruncmd: systemctl start x\n", "runcmd must be a list"),
        ("list at top", "#cloud-config\n- packages\n", "The top level must be a mapping"),
        ("empty", "#cloud-config\n", "The cloud-config is empty"),
        ("package_update yes-string", "#cloud-config\npackage_update: 'yes'\n", "package_update must be true or false"),
    ]


@pytest.mark.parametrize("label, text, message", _broken_user_data(), ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "")
def test_check_user_data_catches(label: str, text: str, message: str) -> None:
    one_problem_containing(vp.check_user_data(text, schema=False), message)


def test_check_user_data_refuses_non_text() -> None:
    one_problem_containing(vp.check_user_data(b"#cloud-config\n"), "must be text")  # type: ignore[arg-type]


# --- cloud-init's own schema check --------------------------------------------------


@pytest.fixture
def needs_cloud_init_fixture() -> None:
    if not vp.schema_check_available():
        skip_unless_ci("the cloud-init command is not installed (apt-get install --no-install-recommends cloud-init)")


needs_cloud_init = pytest.mark.usefixtures("needs_cloud_init_fixture")


@needs_cloud_init
def test_schema_check_catches_what_our_checks_do_not() -> None:
    text = "#cloud-config\nusers:\n  - name: learner\n    sudo: 3\n"
    assert vp.check_user_data(text, schema=False) == []
    problems = vp.check_user_data(text)
    one_problem_containing(problems, "cloud-init's schema check says: users.0")


@needs_cloud_init
def test_schema_check_reports_each_error_separately() -> None:
    text = "#cloud-config\nusers:\n  - name: learner\n    sudo: 3\npower_state:\n  mode: sideways\n"
    schema_problems = [p for p in vp.check_user_data(text) if p.startswith("cloud-init's schema")]
    assert len(schema_problems) == 2, schema_problems
    one_problem_containing(schema_problems, "power_state.mode")


@needs_cloud_init
def test_schema_check_does_not_repeat_our_explanation() -> None:
    text = "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: hi\n    permissions: 0644\n"
    problems = vp.check_user_data(text)
    assert len([p for p in problems if "permissions" in p]) == 1, problems
    one_problem_containing(problems, "Quote it: permissions: '0644'")


def test_schema_check_available_follows_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert vp.schema_check_available() is False
    # And the checks still work without it.
    assert vp.check_user_data(vp.user_data()) == []


# --- broken startup scripts ----------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("set -euo pipefail\necho hi\n", "shebang such as '#!/bin/bash'"),
        ("#!/usr/bin/python3\nset -e\n", "does not run bash"),
        ("#!/bin/bash\nset -euo pipefail\nif true; then\n  echo hi\n", "bash syntax error"),
        ("#!/bin/bash\necho 'unclosed\n", "bash syntax error"),
        ("#!/bin/bash\napt-get install -y python3-venv\n", "set -euo pipefail"),
        ("", "is empty"),
    ],
)
def test_check_startup_script_catches(text: str, message: str) -> None:
    one_problem_containing(vp.check_startup_script(text), message)


@pytest.mark.parametrize("line", ["set -e", "set -eu", "set -o errexit", "set -xe"])
def test_startup_script_errexit_forms_accepted(line: str) -> None:
    assert vp.check_startup_script(f"#!/usr/bin/env bash\n{line}\necho ok\n") == []


# --- broken gcloud commands ----------------------------------------------------------

BASE = ["gcloud", "compute", "instances", "create"]
GOOD_FLAGS = ["--zone=europe-west1-b", "--image-family=debian-12", "--image-project=debian-cloud"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ("gcloud compute instances create web-1", "must be a list of strings"),
        (["gcloud", "compute", "instance", "create", "web-1"], "must start with 'gcloud compute instances create NAME'"),
        (BASE + ["Web_1", *GOOD_FLAGS], "Instance name 'Web_1' is not valid"),
        (BASE + ["1web", *GOOD_FLAGS], "must start with a letter"),
        (BASE + ["web-", *GOOD_FLAGS], "must not end with '-'"),
        (BASE + ["w" * 64, *GOOD_FLAGS], "at most 63"),
        (BASE + GOOD_FLAGS, "NAME is missing"),
        (BASE + ["web-1", "--machine_type=e2-small", *GOOD_FLAGS], "Did you mean '--machine-type'?"),
        (BASE + ["web-1", "--zone=europe-west1", "--image-family=debian-12", "--image-project=debian-cloud"], "is a region, not a zone"),
        (BASE + ["web-1", "--zone=westeurope", "--image-family=debian-12", "--image-project=debian-cloud"], "does not look like a zone"),
        (BASE + ["web-1", "--zone=europe-west1-b", "--image-family=debian-12"], "--image-family needs --image-project"),
        (BASE + ["web-1", *GOOD_FLAGS, "--metadata-from-file=user_data=u.yaml"], "Did you mean 'user-data'?"),
        (BASE + ["web-1", *GOOD_FLAGS, "--metadata-from-file=u.yaml"], "KEY=PATH"),
        (BASE + ["web-1", *GOOD_FLAGS, "--zone"], "--zone needs a value"),
        (BASE + ["web-1", *GOOD_FLAGS, "-zone=europe-west1-b"], "two dashes"),
        (BASE + ["web-1", *GOOD_FLAGS, "--spot=true"], "takes no value"),
        (BASE + ["web-1", *GOOD_FLAGS, "--tags=HTTP_server"], "Network tag"),
        (BASE + ["web-1", *GOOD_FLAGS, 8080], "must be a string"),
    ],
)
def test_check_gcloud_command_catches(argv, message: str) -> None:
    one_problem_containing(vp.check_gcloud_command(argv), message)


def test_gcloud_flag_value_as_separate_word() -> None:
    argv = BASE + ["web-1", "--zone", "us-central1-a", "--machine-type", "e2-micro",
                   "--image-family", "debian-12", "--image-project", "debian-cloud", "--spot"]
    assert vp.check_gcloud_command(argv) == []


# --- cloud-configs that would not serve the app -----------------------------------------


def _without_file(relative: str) -> str:
    config = reference()
    config["write_files"] = [e for e in config["write_files"] if not e["path"].endswith(relative)]
    return dump(config)


def _edited(edit) -> str:
    config = reference()
    edit(config)
    return dump(config)


def _set_runcmd(config: dict, commands: list[str]) -> None:
    config["runcmd"] = commands


@pytest.mark.parametrize(
    "text, port, greeting, message",
    [
        (vp.user_data(), 9090, GREETING, "the systemd unit uses port 8080 instead"),
        (_without_file("webapp/app.py"), 8080, GREETING, "No write_files entry writes webapp/app.py"),
        (_edited(lambda c: c["write_files"][1].update(content="print('hi')\n")), 8080, GREETING, "differs from the repository's"),
        (vp.user_data(greeting="Hi"), 8080, "Hello", "APP_GREETING is set to 'Hi'"),
        (_edited(lambda c: c["write_files"].pop()), 8080, GREETING, "APP_GREETING is never set"),
        (_edited(lambda c: c["runcmd"].pop(1)), 8080, GREETING, "No runcmd installs the requirements"),
        (_edited(lambda c: _set_runcmd(c, [
            "pip3 install -r /opt/webapp/webapp/requirements.txt",
            "systemctl enable --now webapp.service"])), 8080, GREETING, "externally-managed-environment"),
        (_edited(lambda c: c["runcmd"].pop()), 8080, GREETING, "nothing starts it"),
        (_edited(lambda c: c.update(packages=["nginx"])), 8080, GREETING, "'python3-venv' is not in packages"),
        ("#cloud-config\nruncmd: [oops\n", 8080, GREETING, "Fix the user-data first"),
    ],
)
def test_serves_webapp_catches(text: str, port: int, greeting: str, message: str) -> None:
    one_problem_containing(vp.serves_webapp(text, port, greeting), message)


def test_serves_webapp_accepts_base64_files_and_direct_gunicorn() -> None:
    import base64

    config = reference()
    for entry in config["write_files"]:
        entry["content"] = base64.b64encode(entry["content"].encode()).decode()
        entry["encoding"] = "b64"
    config["write_files"].pop()  # no systemd unit: run gunicorn from runcmd instead
    config["runcmd"][2:] = [
        "cd /opt/webapp && APP_GREETING='Hi there' nohup venv/bin/gunicorn -b 0.0.0.0:8000 webapp.app:app &"
    ]
    assert vp.serves_webapp(dump(config), 8000, "Hi there") == []
    assert vp.check_user_data(dump(config), schema=False) == []



def test_user_data_on_an_image_without_cloud_init_is_flagged() -> None:
    base = ["gcloud", "compute", "instances", "create", "web-1", "--zone=europe-west1-b"]
    debian = base + ["--image-family=debian-12", "--image-project=debian-cloud"]
    ubuntu = base + ["--image-family=ubuntu-2204-lts", "--image-project=ubuntu-os-cloud"]
    problems = vp.check_gcloud_command(debian + ["--metadata-from-file=user-data=ud.yaml"])
    assert len(problems) == 1 and "do not run cloud-init" in problems[0]
    assert vp.check_gcloud_command(ubuntu + ["--metadata-from-file=user-data=ud.yaml"]) == []
    assert vp.check_gcloud_command(debian + ["--metadata-from-file=startup-script=s.sh"]) == []
    with pytest.raises(ValueError, match="cloud-init"):
        vp.gcloud_create_command("web-1", metadata_files={"user-data": "ud.yaml"})
