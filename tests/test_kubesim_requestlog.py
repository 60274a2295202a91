"""A server's access log: what `kubectl logs` shows after requests reach it."""
from __future__ import annotations

import itertools
import re

import requests

from labkit import kubesim
from labkit.kubesim import userland

PODS = "/api/v1/namespaces/default/pods"


def _pod(sim, name: str, image: str, command: list[str] | None = None) -> None:
    container = {"name": name, "image": image, **({"command": command} if command else {})}
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container]}}
    assert requests.post(sim.url + PODS, json=body, timeout=10).status_code == 201


def _logs(sim, name: str) -> list[str]:
    return requests.get(f"{sim.url}{PODS}/{name}/log", timeout=10).text.splitlines()


def test_the_bootcamp_logs_each_request_it_answers_with_its_count_and_uptime():
    sim = kubesim.start(realtime=False, seed=1)
    try:
        _pod(sim, "boot", "gcr.io/google-samples/kubernetes-bootcamp:v1")
        sim.advance(10)
        assert [line for line in _logs(sim, "boot") if line.startswith("Running On")] == []
        for _ in range(2):
            answer = requests.get(f"{sim.url}{PODS}/boot:8080/proxy/", timeout=10)
            assert answer.text == "Hello Kubernetes bootcamp! | Running on: boot | v=1\n"
            sim.advance(1.5)
        served = [line for line in _logs(sim, "boot") if line.startswith("Running On")]
        assert len(served) == 2, served
        for n, line in enumerate(served, start=1):
            assert re.fullmatch(rf"Running On: boot \| Total Requests: {n} \| App Uptime: [\d.]+ seconds \| "
                                r"Log Time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line), line
    finally:
        sim.stop()


def test_nginx_writes_the_combined_access_log_with_the_client_pod_address():
    sim = kubesim.start(realtime=False, seed=2)
    try:
        _pod(sim, "web", "nginx")
        _pod(sim, "client", "busybox", ["sleep", "3600"])
        sim.advance(10)
        pods = {p["metadata"]["name"]: p for p in requests.get(sim.url + PODS, timeout=10).json()["items"]}
        view = userland.container_view(sim.store, sim.store.get(kubesim.resources.get("/pods"), "default", "client"),
                                       "client", sim.store.clock.time())
        out: list[bytes] = []
        code = userland.run(view, ["wget", "-qO-", f"http://{pods['web']['status']['podIP']}/"], None, out.append,
                            out.append, store=sim.store)
        assert code == 0 and b"Welcome to nginx!" in b"".join(out)
        access = [line for line in _logs(sim, "web") if '"GET / HTTP/1.1"' in line]
        assert len(access) == 1 and access[0].startswith(pods["client"]["status"]["podIP"] + " - - ["), access
        assert re.search(r'\] "GET / HTTP/1\.1" 200 615 "-" "\S+" "-"$', access[0]), access
    finally:
        sim.stop()


def test_the_request_count_holds_while_the_clock_runs_between_two_readings():
    """The counter belongs to the server's run, read once: not to a start time recomputed from the
    clock at each request (time passing inside one request, as under load, restarted the count)."""
    sim = kubesim.start(realtime=False, seed=3)
    try:
        _pod(sim, "boot", "gcr.io/google-samples/kubernetes-bootcamp:v1")
        sim.advance(10)
        clock, ticks = sim.store.clock, itertools.count()
        standing = clock.time
        clock.time = lambda: standing() + next(ticks) ** 2 * 1e-6  # each reading later, by more each time
        for _ in range(20):
            assert requests.get(f"{sim.url}{PODS}/boot:8080/proxy/", timeout=10).status_code == 200
        counts = [int(re.search(r"Total Requests: (\d+)", line)[1]) for line in _logs(sim, "boot") if line.startswith("Running On")]
        assert counts == list(range(1, 21)), counts
    finally:
        sim.stop()
