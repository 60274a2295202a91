"""Ages that clients compute themselves read as on a real cluster, whatever the simulated clock does."""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from labkit import kubesim
from labkit.kubesim import resources
from labkit.kubesim.clock import SimClock
from labkit.kubesim.wallclock import WallClock, shift_stamps


def test_shift_moves_every_timestamp_string_and_nothing_else():
    body = b'{"a":"2026-12-01T12:00:00Z","b":"2026-12-01T12:00:00.123456Z","c":"12:00:00Z","d":"30m"}'
    assert shift_stamps(body, 90) == b'{"a":"2026-12-01T12:01:30Z","b":"2026-12-01T12:01:30.123456Z","c":"12:00:00Z","d":"30m"}'
    assert shift_stamps(shift_stamps(body, 3600), -3600) == body
    assert shift_stamps(body, 0) is body  # no shift: the bytes are not even copied


def test_no_shift_when_the_clocks_agree_or_when_disabled():
    assert WallClock(time.time).shift() == 0
    assert WallClock(lambda: time.time() + 600, enabled=False).shift() == 0
    assert WallClock(lambda: time.time() + 600).shift() == -600


@pytest.fixture
def kubectl():
    sim = kubesim.start(realtime=False, seed=3)
    env = dict(os.environ, KUBECACHEDIR=tempfile.mkdtemp(prefix="kubecache-"))

    def run(*args: str) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", sim.kubeconfig, *args], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout
    yield sim, run
    sim.stop()


def test_describe_event_ages_follow_simulated_time(kubectl):
    sim, run = kubectl
    run("create", "deployment", "web", "--image=nginx")
    sim.advance(minutes=30)
    events = run("describe", "pods", "-l", "app=web").split("Events:")[1]
    ages = [line.split()[2] for line in events.splitlines()[3:] if line.strip()]
    assert ages and all(age in ("29m", "30m") for age in ages), events
    run("scale", "deployment", "web", "--replicas=2")
    sim.advance(minutes=5)
    described = run("describe", "deployment", "web")
    assert "<invalid>" not in described
    scaled = [line for line in described.splitlines() if "Scaled up replica set" in line and "from 1 to 2" in line]
    assert scaled and re.fullmatch(r"4m5\ds|5m|5m\ds", scaled[0].split()[2]), described  # 5 min, give or take the test's own seconds


def test_python_client_datetimes_are_wall_clock_and_round_trip(kubectl):
    sim, _ = kubectl
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made-before"}, "data": {"k": "v"}}
    assert requests.post(f"{sim.url}/api/v1/namespaces/default/configmaps", json=cm).status_code == 201
    sim.advance(minutes=45)
    made = requests.get(f"{sim.url}/api/v1/namespaces/default/configmaps/made-before").json()
    created = datetime.fromisoformat(made["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - created) - timedelta(minutes=45)) < timedelta(seconds=30)
    sent = datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
             "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"}, "reason": "Test",
             "message": "hi", "firstTimestamp": sent, "lastTimestamp": sent, "type": "Normal"}
    assert requests.post(f"{sim.url}/api/v1/namespaces/default/events", json=event).status_code == 201
    back = requests.get(f"{sim.url}/api/v1/namespaces/default/events/e1").json()
    assert back["firstTimestamp"] == sent  # what a client writes, it reads back
    stored = sim.store.get(resources.get("/events"), "default", "e1")
    assert stored["firstTimestamp"] != sent  # the store keeps simulated time
    assert requests.get(f"{sim.url}/version").json()["buildDate"] == "2026-05-14T00:00:00Z"  # a build date never moves


def test_a_chosen_clock_is_served_as_it_is():
    start = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    sim = kubesim.start(clock=SimClock(start, realtime=False))
    try:
        node = requests.get(f"{sim.url}/api/v1/nodes/course-control-plane").json()
        assert node["metadata"]["creationTimestamp"].startswith("2026-03-01T")
    finally:
        sim.stop()
