"""Tests of labkit.vm_checks: the reference VM description passes, broken ones are caught.

The broken-input tables are the mistakes learners make in the VM assignment; each
must produce a problem that names the fix, because that message is all the learner sees.
"""

from __future__ import annotations

import pytest

from conftest import skip_unless_ci
import yaml

from labkit import vm_checks as vc
from labkit import vm_provisioning as vp

GREETING = vp.DEFAULT_GREETING


def reference() -> dict:
    return vp.cloud_config()


def dump(config: dict) -> str:
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False)


def one_problem_containing(problems: list[str], text: str) -> None:
    assert any(text in problem for problem in problems), f"no problem mentions {text!r}: {problems}"


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
    one_problem_containing(vc.check_user_data(text, schema=False), message)


def test_check_user_data_refuses_non_text() -> None:
    one_problem_containing(vc.check_user_data(b"#cloud-config\n"), "must be text")  # type: ignore[arg-type]


# --- cloud-init's own schema check --------------------------------------------------


@pytest.fixture
def needs_cloud_init_fixture() -> None:
    if not vc.schema_check_available():
        skip_unless_ci("the cloud-init command is not installed (apt-get install --no-install-recommends cloud-init)")


needs_cloud_init = pytest.mark.usefixtures("needs_cloud_init_fixture")


@needs_cloud_init
def test_schema_check_catches_what_our_checks_do_not() -> None:
    text = "#cloud-config\nusers:\n  - name: learner\n    sudo: 3\n"
    assert vc.check_user_data(text, schema=False) == []
    problems = vc.check_user_data(text)
    one_problem_containing(problems, "cloud-init's schema check says: users.0")


@needs_cloud_init
def test_schema_check_reports_each_error_separately() -> None:
    text = "#cloud-config\nusers:\n  - name: learner\n    sudo: 3\npower_state:\n  mode: sideways\n"
    schema_problems = [p for p in vc.check_user_data(text) if p.startswith("cloud-init's schema")]
    assert len(schema_problems) == 2, schema_problems
    one_problem_containing(schema_problems, "power_state.mode")


@needs_cloud_init
def test_schema_check_does_not_repeat_our_explanation() -> None:
    text = "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: hi\n    permissions: 0644\n"
    problems = vc.check_user_data(text)
    assert len([p for p in problems if "permissions" in p]) == 1, problems
    one_problem_containing(problems, "Quote it: permissions: '0644'")


def test_schema_check_available_follows_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert vc.schema_check_available() is False
    # And the checks still work without it.
    assert vc.check_user_data(vp.user_data()) == []


# User-data that cloud-init's schema accepts or rejects in different ways: types, a oneOf of a
# name or a dict (users), deprecated keys, !!binary content (bytes for a string), formats.
SCHEMA_SAMPLES = [
    "#cloud-config\npackages: [nginx]\nruncmd: [echo hi]\n",
    "#cloud-config\nusers:\n  - name: learner\n    sudo: 3\npower_state:\n  mode: sideways\n",
    "#cloud-config\npackages: 5\nusers: [{name: 3}]\nruncmd: echo\n",
    "#cloud-config\nwrite_files:\n  - content: !!binary aGk=\n    path: /x\n",
    "#cloud-config\nusers:\n  - default\n  - name: a\n    lock-passwd: true\n",
    "#cloud-config\napt_update: true\nssh_authorized_keys: [1]\n",
    "#cloud-config\nruncmd:\n  - [ls, 3]\n  - {a: b}\nbootcmd: 4\n",
    "#cloud-config\nwrite_files:\n  - path: /a\n    encoding: rot13\n    owner: 5\n",
    "#cloud-config\napt:\n  primary:\n    - arches: [default]\n      uri: not a uri\n",
    "#cloud-config\nhostname: 12\nntp: {enabled: maybe}\n",
]


@needs_cloud_init
@pytest.mark.parametrize("text", SCHEMA_SAMPLES, ids=range(len(SCHEMA_SAMPLES)))
def test_schema_check_in_process_agrees_with_the_command(text: str) -> None:
    """The in-process check (labkit.cloud_init_schema) says exactly what `cloud-init schema` says."""
    from labkit import cloud_init_schema, vm_user_data_checks
    if cloud_init_schema.schema_file() is None:
        pytest.fail("cloud-init is installed but its schema file was not found where cloud_init_schema.SCHEMA_GLOBS looks")
    config = yaml.safe_load(text)
    assert cloud_init_schema.schema_errors(config) is not None, "the in-process check stepped aside: both sides would be the command's"
    in_process = vm_user_data_checks._schema_problems(text, config)
    by_command = vm_user_data_checks._schema_problems(text)  # no parsed config: the command runs
    assert in_process == by_command


def test_schema_check_without_the_schema_file_runs_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit import cloud_init_schema
    monkeypatch.setattr(cloud_init_schema, "SCHEMA_GLOBS", ("/nonexistent/schema.json",))
    cloud_init_schema.schema_file.cache_clear()
    cloud_init_schema._validator.cache_clear()
    try:
        assert cloud_init_schema.schema_errors({"packages": 5}) is None
    finally:
        cloud_init_schema.schema_file.cache_clear()
        cloud_init_schema._validator.cache_clear()


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
    one_problem_containing(vc.check_startup_script(text), message)


@pytest.mark.parametrize("line", ["set -e", "set -eu", "set -o errexit", "set -xe"])
def test_startup_script_errexit_forms_accepted(line: str) -> None:
    assert vc.check_startup_script(f"#!/usr/bin/env bash\n{line}\necho ok\n") == []


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
    one_problem_containing(vc.check_gcloud_command(argv), message)


def test_gcloud_flag_value_as_separate_word() -> None:
    argv = BASE + ["web-1", "--zone", "us-central1-a", "--machine-type", "e2-micro",
                   "--image-family", "debian-12", "--image-project", "debian-cloud", "--spot"]
    assert vc.check_gcloud_command(argv) == []


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
        (_edited(lambda c: c["write_files"][-1].update(path="/opt/webapp/webapp.service")), 8080, GREETING,
         "systemd does not look for units there"),
        (_edited(lambda c: c["runcmd"].insert(0, c["runcmd"].pop(1))), 8080, GREETING, "make the venv first"),
        (_edited(lambda c: c["runcmd"].pop(2)), 8080, GREETING, "Run 'systemctl daemon-reload' before"),
        (_edited(lambda c: c["runcmd"].insert(1, c["runcmd"].pop())), 8080, GREETING,
         "runs before the requirements are installed"),
    ],
)
def test_serves_webapp_catches(text: str, port: int, greeting: str, message: str) -> None:
    one_problem_containing(vc.serves_webapp(text, port, greeting), message)


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
    assert vc.serves_webapp(dump(config), 8000, "Hi there") == []
    assert vc.check_user_data(dump(config), schema=False) == []


def test_user_data_on_an_image_without_cloud_init_is_flagged() -> None:
    base = ["gcloud", "compute", "instances", "create", "web-1", "--zone=europe-west1-b"]
    debian = base + ["--image-family=debian-12", "--image-project=debian-cloud"]
    ubuntu = base + ["--image-family=ubuntu-2204-lts", "--image-project=ubuntu-os-cloud"]
    problems = vc.check_gcloud_command(debian + ["--metadata-from-file=user-data=ud.yaml"])
    assert len(problems) == 1 and "do not run cloud-init" in problems[0]
    assert vc.check_gcloud_command(ubuntu + ["--metadata-from-file=user-data=ud.yaml"]) == []
    assert vc.check_gcloud_command(debian + ["--metadata-from-file=startup-script=s.sh"]) == []
    with pytest.raises(ValueError, match="cloud-init"):
        vp.gcloud_create_command("web-1", metadata_files={"user-data": "ud.yaml"})
