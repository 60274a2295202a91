"""The kubelet's lifecycle stages (``data/lifecycle.yaml``), loaded and checked, and the named
predicates, delays, effects and event repeats they use, as registries.

Why registries: ``lifecycle.yaml`` says *which* rule applies (``when: [liveness-fails]``,
``delay: backoff``, ``effects: [start]``); the code behind each name lives in one small function
here, found by its name. ``load()`` resolves every name once, when the file is read, so a
misspelt name fails at import with the stage's name, not at second 300 of a lesson when a
container first reaches that stage.

Each function takes the ``Kubelet`` (for what it knows of nodes: images present, the pull time,
the liveness schedule of its ``probes``), the pod, its ``PodRun`` and the container's ``Run``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .datafile import load_yaml
from .clock import stamp

if TYPE_CHECKING:  # only for type hints: kubelet.py imports this module
    from .controllers.kubelet import Kubelet, PodRun, Run

Obj = dict[str, Any]
DATA = Path(__file__).resolve().parent / "data" / "lifecycle.yaml"
Predicate = Callable[["Kubelet", Obj, "PodRun", "Run", bool], bool]
Delay = Callable[["Kubelet", Obj, "PodRun", "Run"], float]
Effect = Callable[["Kubelet", Obj, "PodRun", "Run", float], None]
PREDICATES: dict[str, Predicate] = {}
DELAYS: dict[str, Delay] = {}
EFFECTS: dict[str, Effect] = {}
COUNTS: dict[str, Callable[["PodRun", "Run"], int]] = {}   # how many times an event is recorded (`repeat:`)


class LifecycleError(ValueError):
    """``lifecycle.yaml`` names a predicate, delay, effect, repeat or state that does not exist."""


def _register(table: dict[str, Any], name: str) -> Callable[[Any], Any]:
    def put(fn: Any) -> Any:
        table[name] = fn
        return fn
    return put


# ---- predicates: does a stage apply to this container now? ---------------------------------
@_register(PREDICATES, "terminating")
def _terminating(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    return terminating


@_register(PREDICATES, "needs-pull")
def _needs_pull(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    """The pull policy asks for a pull: Always, or IfNotPresent and the node lacks the image."""
    policy = run.spec.get("imagePullPolicy", "IfNotPresent")
    on_node = kl.node_images.get(pr.node, set())
    present = (run.info.preloaded or run.info.ref in on_node or run.spec.get("image") in on_node
               or run.info.ref in kl.loaded_images or run.spec.get("image") in kl.loaded_images)
    return policy == "Always" or (policy != "Never" and not present)


@_register(PREDICATES, "image-exists")
def _image_exists(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    """The registry has it: the catalogue says so, or it was pushed since (a retry after a push pulls it)."""
    return run.info.exists or run.info.ref in kl.pushed


@_register(PREDICATES, "exits")
def _exits(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    return run.ended is not None or run.program.runs_for is not None


@_register(PREDICATES, "liveness-fails")
def _liveness_fails(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    return kl.probes.kill_at(pr, run) is not None


@_register(PREDICATES, "first-crash")
def _first_crash(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    """No back-off yet (or it was reset by a long enough run): the first restart is immediate."""
    ran = (run.finished or 0.0) - (run.started or 0.0)
    return run.backoff is None or ran >= lifecycle().backoff["resetAfterSeconds"]


@_register(PREDICATES, "mount-fails")
def _mount_fails(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    """A volume's ConfigMap or Secret (or a key it names) is missing: the pod cannot start (FailedMount)."""
    return bool(kl.mount_errors(pod))


@_register(PREDICATES, "config-error")
def _config_error(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    """env/envFrom names a missing ConfigMap, Secret or key, not optional: CreateContainerConfigError."""
    return bool(kl.env_errors(pod, run))


@_register(PREDICATES, "will-restart")
def _will_restart(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
    policy = pod["spec"].get("restartPolicy", "Always")
    return policy == "Always" or (policy == "OnFailure" and run.exit_code != 0)


# ---- delays: seconds in the state before the stage fires ------------------------------------
@_register(DELAYS, "pull")
def _pull(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    return kl._pull_time(pr, run)


@_register(DELAYS, "exit")
def _exit(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    if run.ended is not None:   # the attached shell exited (Kubelet.process_ended)
        return max(0.0, run.ended[0] - run.since)
    return run.program.runs_for or 0.0


@_register(DELAYS, "liveness")
def _liveness(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    return kl.probes.kill_at(pr, run) or 0.0


@_register(DELAYS, "backoff")
def _backoff(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    return run.backoff or lifecycle().backoff["initialSeconds"]


@_register(DELAYS, "pod-worker")
def _pod_worker(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    return float(lifecycle().settings["podWorkerRetrySeconds"])


@_register(DELAYS, "mount")
def _mount(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    return run.mount_backoff or float(lifecycle().settings["mountBackoff"]["initialSeconds"])


@_register(DELAYS, "stop")
def _stop(kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
    """At most the grace period; a process that handles SIGTERM is gone in half a second."""
    grace = pod["metadata"].get("deletionGracePeriodSeconds", pod["spec"].get("terminationGracePeriodSeconds", 30))
    return min(float(grace or 0), 0.5) if run.program.handles_sigterm else float(grace or 0)


# ---- effects: what changes when the stage fires ---------------------------------------------
@_register(EFFECTS, "start")
def _start(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    if run.ever_started:
        run.restarts += 1
    run.ever_started = True
    run.started = at
    run.finished = None
    run.ended = None
    run.plan, run.changes, run.unhealthy, run.base_files, run.probe_state = None, None, 0, {}, {}
    if run.program.oneshot:
        kl.run_oneshot(pod, run, at)
    run.cid = hashlib.sha256(f"{pr.uid}/{run.name}/{run.restarts}".encode()).hexdigest()
    run.reason = ""


@_register(EFFECTS, "image-on-node")
def _image_on_node(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    kl.node_images.setdefault(pr.node, set()).add(run.info.ref)


def _when(t: float) -> str:
    return stamp(datetime.fromtimestamp(t, timezone.utc))


def _terminate(run: Run, at: float, exit_code: int) -> None:
    run.exit_code = exit_code
    run.reason = "Completed" if exit_code == 0 else "Error"
    run.finished = at
    run.last = {"terminated": {"containerID": f"containerd://{run.cid}", "exitCode": exit_code,
                               "finishedAt": _when(at), "reason": run.reason,
                               "startedAt": _when(run.started or at)}}


@_register(EFFECTS, "terminate-exit")
def _terminate_exit(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    _terminate(run, at, run.ended[1] if run.ended is not None else run.program.exit_code)


@_register(EFFECTS, "terminate-killed")
def _terminate_killed(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    _terminate(run, at, 137)


@_register(EFFECTS, "terminate-signal")
def _terminate_signal(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    _terminate(run, at, 0 if run.program.handles_sigterm else 137)


@_register(EFFECTS, "backoff-start")
def _backoff_start(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    """The first back-off, or again the first after the container ran long enough to reset it."""
    b = lifecycle().backoff
    ran = (run.finished or at) - (run.started or at)
    if run.backoff is None or ran >= b["resetAfterSeconds"]:
        run.backoff = float(b["initialSeconds"])


@_register(EFFECTS, "backoff-double")
def _backoff_double(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    b = lifecycle().backoff
    run.backoff = min(float(b["maxSeconds"]), (run.backoff or b["initialSeconds"]) * 2)


@_register(EFFECTS, "pull-error")
def _pull_error(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    """Remember the registry's answer: the waiting message of ErrImagePull and ImagePullBackOff."""
    run.error = run.info.error


@_register(EFFECTS, "config-error")
def _config_error_effect(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    """Remember why the container config failed: the waiting message of CreateContainerConfigError."""
    errors = kl.env_errors(pod, run)
    run.error = errors[0] if errors else ""


@_register(EFFECTS, "mount-backoff")
def _mount_backoff(kl: Kubelet, pod: Obj, pr: PodRun, run: Run, at: float) -> None:
    """The volume manager's exponential back-off: the first retry after 0.5 s, then doubled."""
    b = lifecycle().settings["mountBackoff"]
    run.mount_backoff = (float(b["initialSeconds"]) if run.mount_backoff is None
                         else min(float(b["maxSeconds"]), run.mount_backoff * 2))


# ---- repeats: an event recorded more (or fewer) times than once when the stage fires --------
@_register(COUNTS, "liveness-failures")
def _liveness_failures(pr: PodRun, run: Run) -> int:
    """One Unhealthy event per failed probe, failureThreshold of them before the kill: those the
    kubelet has not recorded yet as they happened (Prober.record_unhealthy, controllers/probes.py)."""
    return max(0, int(run.spec.get("livenessProbe", {}).get("failureThreshold", 3)) - run.unhealthy)


@_register(COUNTS, "per-pod")
def _per_pod(pr: PodRun, run: Run) -> int:
    """Once for the pod: recorded by its first container only (FailedMount concerns the pod)."""
    return 1 if pr.runs and pr.runs[0] is run else 0


# ---- the file, loaded -----------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    """One stage of ``lifecycle.yaml`` with its names resolved to functions."""

    name: str
    sources: tuple[str, ...]
    when: tuple[tuple[Predicate, bool], ...]      # (predicate, negated)
    delay: float | Delay
    to: str
    effects: tuple[Effect, ...]
    events: tuple[Obj, ...]  # type, reason, message, and `repeat` (a COUNTS function) if more than once
    on_deletion: bool      # reacts to the deletion: its delay counts from when the kubelet saw it
    probe_message: bool    # an event names the failed probe ({probe})
    config_message: bool = False   # an event names the container's config error ({config_error})

    def applies(self, kl: Kubelet, pod: Obj, pr: PodRun, run: Run, terminating: bool) -> bool:
        return all(fn(kl, pod, pr, run, terminating) != negated for fn, negated in self.when)

    def seconds(self, kl: Kubelet, pod: Obj, pr: PodRun, run: Run) -> float:
        return self.delay if isinstance(self.delay, float) else self.delay(kl, pod, pr, run)


@dataclass(frozen=True)
class Lifecycle:
    states: dict[str, Obj]
    backoff: Obj
    settings: Obj          # the file's other numbers (podWorkerRetrySeconds, mountBackoff)
    stages: tuple[Stage, ...]
    by_state: dict[str, tuple[Stage, ...]]


def _resolve(table: dict[str, Any], kind: str, name: Any, stage: str, path: Path) -> Any:
    if not isinstance(name, str) or name not in table:
        raise LifecycleError(f"{path.name}: stage {stage!r}: unknown {kind} {name!r} "
                             f"(known: {', '.join(sorted(table))})")
    return table[name]


def load(path: Path = DATA) -> Lifecycle:
    """Read and check ``path``: every predicate, delay, effect, repeat and state a stage names must exist."""
    d = load_yaml(path)
    states = d.get("states") or {}
    stages = []
    for raw in d.get("stages") or []:
        name = raw.get("name", "?")
        for state in [*raw.get("from", []), raw.get("to")]:
            if state not in states:
                raise LifecycleError(f"{path.name}: stage {name!r}: unknown state {state!r} "
                                     f"(states: {', '.join(states)})")
        when = tuple((_resolve(PREDICATES, "predicate", p.lstrip("!") if isinstance(p, str) else p, name, path),
                      isinstance(p, str) and p.startswith("!")) for p in raw.get("when", []))
        delay = raw.get("delay", 0)
        if isinstance(delay, (int, float)) and not isinstance(delay, bool):
            delay = float(delay)
        else:
            delay = _resolve(DELAYS, "delay", delay, name, path)
        effects = tuple(_resolve(EFFECTS, "effect", e, name, path) for e in raw.get("effects", []))
        events = tuple(dict(ev, repeat=_resolve(COUNTS, "repeat", ev["repeat"], name, path)) if "repeat" in ev else ev
                       for ev in raw.get("events", []))
        stages.append(Stage(name, tuple(raw["from"]), when, delay, raw["to"], effects, events,
                            on_deletion="terminating" in raw.get("when", []),
                            probe_message=any("{probe}" in ev.get("message", "") for ev in events),
                            config_message=any("{config_error}" in ev.get("message", "") for ev in events)))
    by_state: dict[str, list[Stage]] = {}
    for stage in stages:
        for state in stage.sources:
            by_state.setdefault(state, []).append(stage)
    settings = {k: v for k, v in d.items() if k not in ("states", "stages", "backoff")}
    return Lifecycle(states, d["backoff"], settings, tuple(stages), {k: tuple(v) for k, v in by_state.items()})


@lru_cache(maxsize=1)
def lifecycle() -> Lifecycle:
    """The emulator's lifecycle (loaded once; kubelet.py loads it at import, so errors show at once)."""
    return load()
