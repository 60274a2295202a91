"""The hidden tests of each assignment catch answers that only fit the visible example.

For every graded exercise we plant a "cheat": an answer that passes the visible
tests (it hard-codes their inputs, or returns an object that compares equal to
anything) and check that the visible part passes while the full test cell,
hidden tests included, fails. A cheat that also got past the hidden tests would
mean the hidden tests do not do their job.
"""

from __future__ import annotations

from assignment_runner import anything_class, run_with as run_assignment
from conftest import REPO_ROOT

ASSIGNMENT_1 = REPO_ROOT / "source" / "01-vms-and-containers" / "vms-and-containers.ipynb"

HARD_CODED_1 = {
    "fit-answer": '''
def how_many_fit(host_gib, reserved_gib, per_instance_mib):
    if per_instance_mib <= 0:
        raise ValueError("positive, please")
    return {(16, 2, 1536): 9, (1, 2, 100): 0}[(host_gib, reserved_gib, per_instance_mib)]
''',
    "density-answer": '''
def density(host_gib, reserved_gib, app_mib, guest_os_mib, container_overhead_mib):
    return {"vms": 11, "containers": 52}
''',
    # right for each fact alone, wrong when a VM fact meets a microservice
    "choose-answer": '''
def choose_platform(situation):
    if situation.get("microservice"):
        return "container"
    return "vm" if any(situation.get(f) for f in ("other_kernel", "untrusted_tenants", "lift_and_shift")) else "container"
''',
    "gcloud-answer": '''
def gcloud_command(name, zone, machine_type, user_data_path):
    return ["gcloud", "compute", "instances", "create", "web-1", "--zone=europe-west1-b",
            "--machine-type=e2-small", "--image-family=ubuntu-2204-lts", "--image-project=ubuntu-os-cloud",
            "--tags=http-server", "--metadata-from-file=user-data=user-data.yaml"]
''',
    "userdata-answer": '''
from labkit import vm_provisioning as _vp
def web_user_data(port, greeting):
    return _vp.user_data(8080, "Hello from my VM")
''',
}

EQUAL_TO_ANYTHING = anything_class(keys=("containers", "vms"))
EQUAL_TO_ANYTHING_1 = {
    "fit-answer": EQUAL_TO_ANYTHING + "def how_many_fit(*args):\n    if args[2] <= 0: raise ValueError()\n    return _Anything()\n",
    "density-answer": EQUAL_TO_ANYTHING + "def density(*args):\n    return _Anything()\n",
}


def test_hard_coded_answers_pass_visible_tests_but_fail_hidden_ones() -> None:
    visible = run_with(HARD_CODED_1, visible_only=True)
    full = run_with(HARD_CODED_1, visible_only=False)
    tests_of = {answer: answer.replace("-answer", "-test") for answer in HARD_CODED_1}
    for answer, test in tests_of.items():
        assert visible[test], f"the cheat for {answer} should pass the visible tests (fix the cheat)"
        assert not full[test], f"hidden tests of {test} let a hard-coded answer through"


def test_objects_equal_to_anything_fail_even_the_visible_tests() -> None:
    visible = run_with(EQUAL_TO_ANYTHING_1, visible_only=True)
    assert not visible["fit-test"]
    assert not visible["density-test"]


def test_requirements_the_questions_state_fail_the_visible_tests() -> None:
    """Answers that miss a rule the question states fail the visible test itself, not only the hidden one."""
    answers = {
        # only "another kernel" needs a VM
        "choose-answer": '''
def choose_platform(situation):
    return "vm" if situation.get("other_kernel") else "container"
''',
        # the unit written where systemd never looks, and no daemon-reload
        "userdata-answer": '''
APP_DIR = "/opt/webapp"
def web_user_data(port, greeting):
    files = [{"path": f"{APP_DIR}/{r}", "content": t, "permissions": "0644"} for r, t in vm_provisioning.webapp_files().items()]
    files.append({"path": f"{APP_DIR}/webapp.service", "content": vm_provisioning.systemd_unit(port, greeting, APP_DIR)})
    return "#cloud-config\\n" + yaml.safe_dump({"packages": ["python3-venv"], "write_files": files, "runcmd": [
        f"python3 -m venv {APP_DIR}/venv", f"{APP_DIR}/venv/bin/pip install -r {APP_DIR}/webapp/requirements.txt",
        "systemctl enable --now webapp.service"]}, sort_keys=False)
''',
    }
    passed, errors = run_assignment(ASSIGNMENT_1, answers, visible_only=True, timeout=120)
    assert passed["choose-test"] is False and passed["userdata-test"] is False
    assert "code of customers who must not trust each other" in errors["choose-test"]
    assert "systemd does not look for units there" in errors["userdata-test"]
    assert "daemon-reload" in errors["userdata-test"]


def run_with(answers: dict[str, str], visible_only: bool) -> dict[str, bool]:
    return run_assignment(ASSIGNMENT_1, answers, visible_only, timeout=120)[0]
