"""Golden tests of the kubelet's lifecycle stages, one case per stage of ``data/lifecycle.yaml``.

In the spirit of KWOK's stage test data: each ``tests/data/stages/<stage>.yaml`` gives an input
pod, the steps of simulated time (and a deletion, where the stage reacts to one, or a ConfigMap that
appears, for the stages that wait for one), and what the
real kubelet on a frozen-clock emulator must show then: the stages that fired for the container,
in order (the case's own stage among them), the pod's phase and conditions, the container's state,
and the reasons (with counts) of the pod's events. ``python tests/test_kubesim_stages.py`` prints
what each case observes now, to write a new case from.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml

from labkit import kubesim
from labkit.kubesim import stages
from labkit.kubesim.controllers.kubelet import Kubelet

CASES = Path(__file__).parent / "data" / "stages"
PODS = "/api/v1/namespaces/default/pods"


def run_case(case: dict) -> dict:
    """Run one case on a fresh seeded emulator; what the cluster shows at its end."""
    fired: list[str] = []
    original = Kubelet._apply

    def recording(self, stage, pod, pr, run, at):
        fired.append(stage["name"] if isinstance(stage, dict) else stage.name)
        return original(self, stage, pod, pr, run, at)

    Kubelet._apply = recording  # type: ignore[method-assign]
    sim = kubesim.start(seed=0, realtime=False)
    try:
        name = "case"
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": case["pod"]}
        r = requests.post(sim.url + PODS, json=body, timeout=10)
        assert r.status_code == 201, r.text
        sim.advance(0)
        for step in case.get("steps", []):
            if "create" in step:   # a ConfigMap or Secret the pod waits for appears
                obj = dict(step["create"], apiVersion="v1")
                r = requests.post(f"{sim.url}/api/v1/namespaces/default/{obj['kind'].lower()}s", json=obj, timeout=10)
                assert r.status_code == 201, r.text
            if "advance" in step:
                sim.advance(step["advance"])
            if step.get("delete"):
                r = requests.delete(f"{sim.url}{PODS}/{name}", timeout=10)
                assert r.status_code == 200, r.text
                sim.advance(0)
        r = requests.get(f"{sim.url}{PODS}/{name}", timeout=10)
        events = requests.get(sim.url + "/api/v1/namespaces/default/events", timeout=10).json()["items"]
        events = sorted((e for e in events if e["involvedObject"]["name"] == name),
                        key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))
        seen: dict = {"fired": fired, "events": [[e["reason"], e["count"]] for e in events]}
        if r.status_code == 404:
            seen["pod"] = "gone"
            return seen
        status = r.json()["status"]
        cs = status["containerStatuses"][0]
        (state, detail), = cs["state"].items()
        container = {"state": state, "ready": cs["ready"], "restartCount": cs["restartCount"]}
        for key in ("reason", "exitCode"):
            if key in detail:
                container[key] = detail[key]
        if cs.get("lastState"):
            (last, last_detail), = cs["lastState"].items()
            container["lastState"] = {last: {k: last_detail[k] for k in ("reason", "exitCode") if k in last_detail}}
        seen.update(phase=status["phase"], conditions={c["type"]: c["status"] for c in status["conditions"]},
                    container=container)
        return seen
    finally:
        sim.stop()
        Kubelet._apply = original  # type: ignore[method-assign]


def load_cases() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(CASES.glob("*.yaml"))}


def test_there_is_one_golden_case_for_every_stage():
    assert sorted(load_cases()) == sorted(s.name for s in stages.lifecycle().stages)


@pytest.mark.parametrize("stage", sorted(load_cases()))
def test_stage(stage):
    case = load_cases()[stage]
    seen = run_case(case)
    assert stage in seen["fired"], f"the stage {stage} never fired: {seen['fired']}"
    assert seen == case["expect"]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_unknown_predicate_fails_when_the_file_loads_naming_the_stage(tmp_path):
    text = stages.DATA.read_text().replace("when: [liveness-fails]", "when: [livenes-fails]")
    with pytest.raises(stages.LifecycleError, match="stage 'liveness-kill': unknown predicate 'livenes-fails'"):
        stages.load(write(tmp_path / "lifecycle.yaml", text))


def test_an_unknown_negated_predicate_delay_effect_repeat_or_state_fails_when_the_file_loads(tmp_path):
    base = stages.DATA.read_text()
    for old, new, message in [
            ('when: ["!image-exists"]', 'when: ["!image-exist"]', "stage 'pull-failed': unknown predicate 'image-exist'"),
            ("delay: backoff, to: New", "delay: backof, to: New", "stage 'restart': unknown delay 'backof'"),
            ("effects: [image-on-node]", "effects: [image-on-nod]", "stage 'pulled': unknown effect 'image-on-nod'"),
            ("to: CrashLoopBackOff", "to: CrashLoop", "stage 'crash-back-off': unknown state 'CrashLoop'"),
            ("repeat: liveness-failures", "repeat: failures", "stage 'liveness-kill': unknown repeat 'failures'")]:
        assert old in base, old
        with pytest.raises(stages.LifecycleError, match=message):
            stages.load(write(tmp_path / "lifecycle.yaml", base.replace(old, new)))


def test_the_shipped_lifecycle_resolves_every_name():
    life = stages.load()
    assert [s.name for s in life.stages] == [s["name"] for s in yaml.safe_load(stages.DATA.read_text())["stages"]]
    assert {s.to for s in life.stages} <= set(life.states)


def _interactive(sim, name: str, policy: str) -> None:
    """What ``kubectl run -i --tty NAME --image=busybox --restart=POLICY -- sh`` creates."""
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"restartPolicy": policy, "containers": [
        {"name": name, "image": "busybox", "args": ["sh"], "stdin": True, "stdinOnce": True, "tty": True}]}}
    assert requests.post(sim.url + PODS, json=body, timeout=10).status_code == 201


def test_the_attached_shell_exiting_ends_the_container_with_its_code_and_the_restart_policy_applies():
    sim = kubesim.start(seed=0, realtime=False)
    try:
        _interactive(sim, "once", "Never")
        _interactive(sim, "again", "Always")
        sim.advance(20)
        kubelet = sim.manager.kubelet
        pod = sim.store.get(kubesim.resources.get("/pods"), "default", "once")  # simulated time, as the kubelet keeps it
        started = kubelet.container_started_at(pod, "once")
        assert pod["status"]["phase"] == "Running" and started is not None
        assert abs(started - kubesim.clock.parse(pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]).timestamp()) < 1
        assert kubelet.container_started_at(pod, "nosuch") is None
        kubelet.process_ended("default", "once", "once", 3)
        kubelet.process_ended("default", "again", "again", 0)
        sim.advance(0.5)
        once = requests.get(f"{sim.url}{PODS}/once", timeout=10).json()["status"]
        assert once["phase"] == "Failed"
        assert once["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3
        sim.advance(15)
        again = requests.get(f"{sim.url}{PODS}/again", timeout=10).json()["status"]["containerStatuses"][0]
        assert again["restartCount"] == 1 and "running" in again["state"], again
        assert again["lastState"]["terminated"]["exitCode"] == 0
        sim.advance(600)   # the restarted shell waits on stdin again: it does not exit by itself
        assert "running" in requests.get(f"{sim.url}{PODS}/again", timeout=10).json()["status"]["containerStatuses"][0]["state"]
    finally:
        sim.stop()


def test_a_one_shot_command_prints_what_the_containers_shell_answers_and_exits_with_its_status():
    """``kubectl run x --image=busybox:1.28 --restart=Never -- printenv HOSTNAME``: the log is the
    shell's answer in that container, the exit code its status (a missing file fails the pod)."""
    sim = kubesim.start(seed=0, realtime=False)
    try:
        for name, args in (("host", ["printenv", "HOSTNAME"]), ("missing", ["ls", "/nowhere"])):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"restartPolicy": "Never",
                    "containers": [{"name": name, "image": "busybox:1.28", "args": args}]}}
            assert requests.post(sim.url + PODS, json=body, timeout=10).status_code == 201
        sim.advance(5)
        assert requests.get(f"{sim.url}{PODS}/host", timeout=10).json()["status"]["phase"] == "Succeeded"
        assert requests.get(f"{sim.url}{PODS}/host/log", timeout=10).text == "host\n"
        missing = requests.get(f"{sim.url}{PODS}/missing", timeout=10).json()["status"]
        assert missing["phase"] == "Failed" and missing["containerStatuses"][0]["state"]["terminated"]["exitCode"] != 0
        assert "/nowhere" in requests.get(f"{sim.url}{PODS}/missing/log", timeout=10).text
    finally:
        sim.stop()


if __name__ == "__main__":
    for name, case in load_cases().items():
        print(f"--- {name}\n" + yaml.safe_dump({"expect": run_case(case)}, sort_keys=False, default_flow_style=None))
