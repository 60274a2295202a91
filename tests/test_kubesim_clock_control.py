"""Time from a terminal: a faster clock (``--speed``), the ``kubesim.labkit.dev`` clock API, ``ctl``.

The command-line server runs as a subprocess (``python -m labkit.kubesim --kubeconfig F --speed
20``), as a learner starts it, and real kubectl talks to it; the ``SimClock`` unit tests bracket
the clock between two wall-clock readings, so they are exact however busy the machine is.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import skip_unless_ci
from labkit import kubesim
from labkit.kubesim import resources, userland
from labkit.kubesim.clock import FixedOffsetClock, SimClock, parse
from labkit.kubesim.control import duration_text, parse_duration
from labkit.kubesim.controllers import Controller

ROOT = Path(__file__).resolve().parent.parent
CLOCK = "/apis/kubesim.labkit.dev/v1alpha1/clocks/cluster"


# ---- SimClock's speed ---------------------------------------------------------------------------
def bracket(clock: SimClock, wait: float) -> tuple[float, float, float]:
    """(simulated seconds that passed over ``wait``, the least and the most wall time it could be)."""
    w0 = time.monotonic()
    t0 = clock.time()
    w0b = time.monotonic()
    time.sleep(wait)
    w1a = time.monotonic()
    t1 = clock.time()
    w1 = time.monotonic()
    return t1 - t0, w1a - w0b, w1 - w0


def test_speed_runs_simulated_time_that_many_times_faster():
    clock = SimClock(start=1_800_000_000.0, speed=25)
    passed, least, most = bracket(clock, 0.05)
    assert 25 * least <= passed <= 25 * most
    assert clock.speed == 25


def test_changing_speed_neither_jumps_nor_goes_back():
    clock = SimClock(start=1_800_000_000.0, speed=100)
    time.sleep(0.02)
    w = time.monotonic()
    before = clock.time()
    clock.set_speed(2)
    after = clock.time()
    assert before <= after <= before + 100 * (time.monotonic() - w)  # at most what speed 100 gave meanwhile
    passed, least, most = bracket(clock, 0.05)
    assert 2 * least <= passed <= 2 * most


def test_a_frozen_clock_ignores_speed_and_advance_still_moves_it():
    clock = SimClock(start=1_800_000_000.0, realtime=False, speed=50)
    time.sleep(0.02)
    assert clock.time() == 1_800_000_000.0
    assert clock.advance(90) == 1_800_000_090.0


@pytest.mark.parametrize("bad", [0, -1, 1001, "10", True])
def test_speed_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="more than 0 and at most 1000"):
        SimClock(speed=bad)
    with pytest.raises(ValueError, match="more than 0 and at most 1000"):
        SimClock().set_speed(bad)


def test_start_passes_speed_to_its_clock_and_a_foreign_clock_refuses_it():
    with kubesim.start(speed=40, controllers=False) as sim:
        assert sim.clock is not None and sim.clock.speed == 40
    with pytest.raises(ValueError, match="SimClock"):
        kubesim.start(clock=FixedOffsetClock(parse("2026-01-01T00:00:00Z")), speed=5, controllers=False)


class Stopwatch(Controller):
    """Records the simulated instant its timers fire at."""

    name = "stopwatch"

    def __init__(self, mgr):
        super().__init__(mgr)
        self.fired: list[tuple[float, float]] = []  # (due, fired at)

    def sync(self, key):
        self.fired.append((key, self.mgr.now()))


def test_the_ticker_fires_timers_on_time_at_speed_100():
    # at speed 100 one 0.1 s tick is 10 s of cluster life: a timer due between ticks would fire
    # up to 10 s late; the ticker wakes for the timer itself
    with kubesim.start(speed=100) as sim:
        mgr = sim.manager
        with mgr.lock:
            watch = mgr.add(Stopwatch(mgr))
            now = mgr.now()
            for due in (now + 3.0, now + 7.5, now + 12.0, now + 21.0):
                mgr.at(due, watch, due)
        deadline = time.monotonic() + 5
        while len(watch.fired) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(watch.fired) == 4, watch.fired
    late = [at - due for due, at in watch.fired]
    # each within 40 ms of wall time; 0.1 s ticks could not put all four within 4 s (they are 5.5 s apart mod 10 s)
    assert all(0 <= d < 4.0 for d in late), late


# ---- durations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("1h30m", 5400), ("1.5h", 5400),
                                           ("250ms", 0.25), ("0", 0), ("2m30s", 150)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, says", [("5", "a number needs a unit"), ("-5m", "cannot go backwards"),
                                        ("soon", "such as 90s, 5m, 1h30m"), ("", "such as 90s")])
def test_bad_durations_say_what_to_write(text, says):
    with pytest.raises(ValueError, match=says):
        parse_duration(text)


def test_durations_print_as_go_prints_them():
    assert [duration_text(s) for s in (300, 90, 5400, 0.5)] == ["5m0s", "1m30s", "1h30m0s", "0.5s"]


# ---- sleep in a container follows the simulated clock -------------------------------------------
def shell_sleep(sim, seconds: str) -> float:
    pod = sim.store.get(resources.get("/pods"), "default", "napper")
    view = userland.container_view(sim.store, pod, "c", sim.store.clock.time())
    began = time.monotonic()
    code = userland.run(view, ["sleep", seconds], None, lambda b: None, lambda b: None)
    assert code == 0
    return time.monotonic() - began


NAPPER = {"metadata": {"name": "napper", "namespace": "default"},
          "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}


def test_sleep_waits_simulated_seconds_on_a_fast_clock_and_wall_seconds_on_a_frozen_one():
    with kubesim.start(speed=50, controllers=False) as fast:
        fast.store.create(resources.get("/pods"), json.loads(json.dumps(NAPPER)))
        before = fast.now()
        took = shell_sleep(fast, "10")
        assert 10 <= (fast.now() - before).total_seconds() and took < 1.5  # 10 s at 50x is 0.2 s
    with kubesim.start(realtime=False, controllers=False) as frozen:
        frozen.store.create(resources.get("/pods"), json.loads(json.dumps(NAPPER)))
        assert shell_sleep(frozen, "0.3") >= 0.3


# ---- the command-line server, kubectl and ctl ---------------------------------------------------
class Server:
    """A ``python -m labkit.kubesim`` subprocess and the commands that talk to it."""

    def __init__(self, where: Path, *flags: str):
        self.kubeconfig = where / "kubeconfig"
        self.env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(where / "cache"),
                        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen([sys.executable, "-m", "labkit.kubesim", "--kubeconfig", str(self.kubeconfig),
                                      *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        deadline = time.monotonic() + 30
        while not self.kubeconfig.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the server did not start: {self.proc.communicate(timeout=5)}")
            time.sleep(0.05)
        self.banner = self.proc.stdout.readline()
        self.started = time.monotonic()

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
        return done

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "labkit.kubesim", "ctl", *args], capture_output=True,
                              text=True, env=self.env, timeout=60)

    def clock(self) -> dict:
        return json.loads(self.kubectl("get", "clock", "cluster", "-o", "json").stdout)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


def server(tmp_path_factory, request, *flags: str) -> Server:
    if shutil.which("kubectl") is None:
        skip_unless_ci("kubectl is not installed on this machine")
    started = Server(tmp_path_factory.mktemp("kubesim-clock"), *flags)
    request.addfinalizer(started.stop)
    return started


@pytest.fixture(scope="module")
def fast(tmp_path_factory, request):
    return server(tmp_path_factory, request, "--speed", "20")


@pytest.fixture(scope="module")
def slow(tmp_path_factory, request):
    return server(tmp_path_factory, request)


def test_the_banner_says_the_speed(fast):
    assert "clock at 20x real time" in fast.banner


def test_at_speed_20_pods_run_at_once_and_ages_grow_twenty_times_faster(fast):
    fast.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    began = time.monotonic()
    while True:
        pods = json.loads(fast.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
        if len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods):
            break
        assert time.monotonic() - began < 15, "the pods did not start"
        time.sleep(0.1)
    time.sleep(max(0.0, 2.0 - (time.monotonic() - began)))
    wall = time.monotonic() - began
    created = parse(json.loads(fast.kubectl("get", "deployment", "web", "-o", "json").stdout)
                    ["metadata"]["creationTimestamp"])
    # the age kubectl computes itself (wall clock minus the served, shifted stamp) is the simulated age
    client_age = time.time() - created.timestamp()
    assert 20 * wall * 0.6 <= client_age <= 20 * (wall + 3), (client_age, wall)
    out = fast.kubectl("get", "pods", "-l", "app=web").stdout.splitlines()
    ages = [row.split()[-1] for row in out[1:]]
    assert all(a.endswith("s") and not a.endswith("ms") for a in ages) and all("m" in a or int(a[:-1]) >= 20 for a in ages), out


def test_kubectl_sees_the_clock_api(fast):
    rows = [" ".join(r.split()) for r in fast.kubectl("api-resources").stdout.splitlines()]
    assert "clocks kubesim.labkit.dev/v1alpha1 false Clock" in rows
    table = fast.kubectl("get", "clocks").stdout.splitlines()
    assert table[0].split() == ["NAME", "NOW", "SPEED", "REALTIME", "AGE"]
    name, now, speed, realtime, _age = table[1].split()
    assert (name, realtime) == ("cluster", "true") and float(speed) == 20 and now.endswith("Z")
    time.sleep(max(0.0, fast.started + 1.0 - time.monotonic()))
    clock = fast.clock()
    # status.now is the simulated time as it is, not moved onto the wall clock as objects' stamps are:
    # after a second or more at 20x it is 19 s or more ahead of the wall clock
    assert parse(clock["status"]["now"]).timestamp() - time.time() >= 10
    assert clock["apiVersion"] == "kubesim.labkit.dev/v1alpha1" and clock["kind"] == "Clock"
    assert clock["spec"]["speed"] == 20 and clock["status"]["realtime"] is True
    assert "now: \"20" in fast.kubectl("get", "clock", "cluster", "-o", "yaml").stdout


def test_patch_or_apply_changes_the_speed_and_ctl_prints_it(fast, tmp_path):
    out = fast.kubectl("patch", "clock", "cluster", "--type", "merge", "-p", '{"spec":{"speed":10}}').stdout
    assert "clock.kubesim.labkit.dev/cluster patched" in out
    assert fast.clock()["spec"]["speed"] == 10
    status = fast.ctl("status")
    assert status.returncode == 0 and status.stdout.startswith("clock: 20") and \
        status.stdout.rstrip().endswith("speed 10x, following real time"), status
    manifest = tmp_path / "clock.yaml"
    manifest.write_text("apiVersion: kubesim.labkit.dev/v1alpha1\nkind: Clock\nmetadata: {name: cluster}\nspec: {speed: 30}\n")
    fast.kubectl("apply", "--server-side", "-f", str(manifest))
    assert fast.clock()["spec"]["speed"] == 30
    changed = fast.ctl("speed", "20")
    assert changed.returncode == 0 and "speed 20x" in changed.stdout
    assert fast.clock()["spec"]["speed"] == 20


def test_bad_input_gets_a_status_that_says_what_to_write(fast, tmp_path):
    bad = fast.kubectl("patch", "clock", "cluster", "--type", "merge", "-p", '{"spec":{"speed":0}}', check=False)
    assert bad.returncode == 1 and "more than 0 and at most 1000" in bad.stderr and '{"spec":{"speed":10}}' in bad.stderr
    moved = fast.kubectl("patch", "clock", "cluster", "--type", "merge", "-p", '{"status":{"now":"2030-01-01T00:00:00Z"}}',
                         check=False)
    assert moved.returncode == 1 and "advance" in moved.stderr
    (tmp_path / "advance.json").write_text('{"apiVersion": "kubesim.labkit.dev/v1alpha1", "kind": "Advance", "duration": "5"}')
    raw = fast.kubectl("create", "--raw", CLOCK + "/advance", "-f", str(tmp_path / "advance.json"), check=False)
    assert raw.returncode == 1 and "BadRequest" in raw.stderr and "a number needs a unit: 300s or 5m" in raw.stderr
    other = fast.kubectl("get", "clock", "tomorrow", check=False)
    assert other.returncode == 1 and "NotFound" in other.stderr and "named cluster" in other.stderr
    ctl = fast.ctl("advance", "5")
    assert ctl.returncode == 1 and ctl.stderr.startswith("kubesim ctl: bad duration") and "Traceback" not in ctl.stderr
    assert fast.clock()["spec"]["speed"] == 20


def test_ctl_advance_moves_the_clock_and_runs_the_controllers(slow, tmp_path):
    slow.kubectl("run", "napper", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "60")
    before = parse(slow.clock()["status"]["now"])
    done = slow.ctl("advance", "5m")
    assert done.returncode == 0 and done.stdout.startswith("advanced 5m0s; clock: "), done
    moved = (parse(slow.clock()["status"]["now"]) - before).total_seconds()
    assert 300 <= moved <= 310
    phase = slow.kubectl("get", "pod", "napper", "-o", "jsonpath={.status.phase}").stdout
    assert phase == "Succeeded"  # pulled, started and slept its 60 s inside the five minutes
    slow.kubectl("run", "napper2", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "60")
    (tmp_path / "advance.json").write_text('{"apiVersion": "kubesim.labkit.dev/v1alpha1", "kind": "Advance", "duration": "2m"}')
    answer = json.loads(slow.kubectl("create", "--raw", CLOCK + "/advance", "-f", str(tmp_path / "advance.json")).stdout)
    assert answer["kind"] == "Clock" and answer["spec"]["speed"] == 1
    assert slow.kubectl("get", "pod", "napper2", "-o", "jsonpath={.status.phase}").stdout == "Succeeded"


# ---- ctl against what is not a running emulator ---------------------------------------------------
def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit.kubesim", "ctl", *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})), timeout=60)


def kubeconfig(path: Path, server_url: str) -> Path:
    path.write_text(kubesim.kubeconfig_text(server_url, "somewhere"))
    return path


def test_ctl_advances_a_frozen_emulator(tmp_path):
    with kubesim.start(tmp_path / "kc", realtime=False) as sim:
        before = sim.now()
        done = ctl("--kubeconfig", sim.kubeconfig, "advance", "90s")
        assert done.returncode == 0 and "frozen" in done.stdout, done
        assert (sim.now() - before).total_seconds() == 90


def test_ctl_errors_are_plain_words(tmp_path):
    missing = ctl("status", env={"KUBECONFIG": str(tmp_path / "nothing")})
    assert missing.returncode == 1 and "no kubeconfig at" in missing.stderr
    with kubesim.start(tmp_path / "gone") as sim:
        url = sim.url
    down = ctl("--kubeconfig", str(kubeconfig(tmp_path / "down", url)), "status")
    assert down.returncode == 1 and "no emulator answers at" in down.stderr
    real = ctl("--kubeconfig", str(kubeconfig(tmp_path / "real", "https://34.118.0.1")), "status")
    assert real.returncode == 1 and "this cluster is not the course emulator" in real.stderr
    with kubesim.start(tmp_path / "foreign", clock=FixedOffsetClock(parse("2026-01-01T00:00:00Z")),
                       controllers=False) as other:  # an API server without the clock group
        foreign = ctl("--kubeconfig", other.kubeconfig, "status")
    assert foreign.returncode == 1 and "this cluster is not the course emulator" in foreign.stderr
    context = ctl("--kubeconfig", str(kubeconfig(tmp_path / "ctx", url)), "--context", "nope", "status")
    assert context.returncode == 1 and "no context 'nope'" in context.stderr
    for result in (missing, down, real, foreign, context):
        assert "Traceback" not in result.stderr and result.stdout == ""
