"""The HPA playground (lesson 5): one load scenario run twice, by the algorithm and by the emulated cluster.

Why two runs side by side: ``labkit.autoscaling`` is the HPA's algorithm as Kubernetes documents it, and
the emulator's HPA controller calls it too; what the playground shows is that the algorithm, fed what a
cluster would feed it, predicts replica for replica what the cluster does. The learner changes the load,
the target and the behavior, and sees both curves move together (or, if one side has a bug, apart).

What is compared, sync by sync (t = 0 is the HPA's creation, then a sync every 15 s):

- the **emulated run** (``emulator_run``): an emulator started here with a frozen clock, a Deployment
  of ``course-webapp:lesson`` with a CPU request, an ``autoscaling/v2`` HPA on CPU utilization, load from
  ``sim.set_load(...)``; after each sync the Deployment's ``/scale`` and the HPA's ``status.currentMetrics``
  are read back through the API with the official client;
- the **model run** (``model_run``): ``Autoscaler.decide`` and ``replicas_for_utilization`` fed the pods a
  cluster would have at that sync, modelled as the emulator (and a real cluster) behaves:
  metrics-server samples every 15 s, **7.5 s before each sync** (the emulated HPA is created half a
  sample period after a scrape, so a sync never races a scrape at the same instant); a pod's CPU in a
  sample is ``idle + cost x rps / ready pods`` (the image's cost, ``labkit.kubesim`` data ``images.yaml``),
  rounded to millicores; a pod created by a sync is Running and Ready well before the next sample
  (emulator: 0.3 s) but has no sample until it has run a full 15 s window, so at the next sync it is a
  *missing* pod and counts as the algorithm says; a pod removed by a scale-down stops sharing the load at once.
- each row is (t, the load the sample used in requests/s, the utilization the HPA reported, the replicas
  after the sync); ``differences`` compares utilization and replicas at every sync.

A load change at time c is seen by the first sample at or after c, so by the sync 7.5 s later. Both runs
decide with ``labkit.autoscaling``: agreement checks the cluster around the algorithm (sampling, pod start,
load sharing, the controller's reads and writes), not the algorithm; the tests check that by hand.
"""
from __future__ import annotations

import base64
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets
from matplotlib.figure import Figure

from labkit import autoscaling as algo
from labkit.figures import png_bytes

__all__ = ["Scenario", "Sync", "Timeline", "step_load", "model_run", "emulator_run", "differences",
           "playground_figure", "playground", "Playground"]

IMAGE = "course-webapp:lesson"
SAMPLE_OFFSET = 7.5        # seconds between a metrics sample and the sync that reads it
POD_START = 0.3            # seconds from a pod's creation to Running and Ready (the emulator's start stage)
CLUSTER_CPU_M = 13_000     # millicores of pod requests the emulated kind cluster's two workers surely hold
METRIC = "cpu resource utilization (percentage of request)"


def step_load(rps: float, start: float = 60.0, stop: float | None = 600.0, base: float = 0.0) -> tuple[tuple[float, float], ...]:
    """The usual profile: ``base`` requests/s, ``rps`` from ``start`` s, back to ``base`` at ``stop`` s (None: never)."""
    steps = [(0.0, base), (start, rps)] if start > 0 else [(0.0, rps)]
    return tuple(steps + ([(stop, base)] if stop is not None else []))


@dataclass(frozen=True)
class Scenario:
    """What to run: a load profile ((from t s, requests/s), ...), the HPA's spec, the pods' CPU request.

    ``behavior`` is ``spec.behavior`` of an autoscaling/v2 HPA: ``{}`` (the default) is written out and
    the API server fills in the documented defaults; None leaves the field out, and the controller then
    takes its older path (at most max(2 x current, 4) per sync: ``labkit.autoscaling.behavior_from_spec``).
    Checked when made, so a bad value fails here with a message rather than half-way through a run.
    """

    load: tuple[tuple[float, float], ...] = step_load(4.0)
    target: int = 50
    cpu_request_m: int = 100
    min_replicas: int = 1
    max_replicas: int = 10
    behavior: dict[str, Any] | None = field(default_factory=dict)
    seconds: float = 900.0

    def __post_init__(self) -> None:
        times = [t for t, _ in self.load]
        if not self.load or times[0] != 0 or times != sorted(times):
            raise ValueError(f"load must be (time s, requests/s) pairs from t=0 on, in time order, not {self.load!r}")
        for t, rps in self.load:
            if rps < 0 or not math.isfinite(rps):
                raise ValueError(f"load must be 0 requests/s or more, not {rps} (at t={t:g} s)")
        if isinstance(self.target, bool) or not isinstance(self.target, int) or not 1 <= self.target <= 1000:
            raise ValueError(f"target utilization must be a whole percentage from 1 to 1000, not {self.target!r} "
                             "(the API server rejects averageUtilization 0)")
        if not 1 <= self.cpu_request_m <= 1000:
            raise ValueError(f"the CPU request must be 1 to 1000 millicores, not {self.cpu_request_m}")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"need 1 <= min replicas <= max replicas, not {self.min_replicas} and {self.max_replicas}")
        if self.max_replicas * self.cpu_request_m > CLUSTER_CPU_M:
            raise ValueError(f"{self.max_replicas} pods of {self.cpu_request_m}m do not surely fit the emulated cluster "
                             f"(at most {CLUSTER_CPU_M}m of requests): pods left Pending would be a different lesson")
        if not 0 < self.seconds <= 3600:
            raise ValueError(f"seconds must be more than 0 and at most 3600, not {self.seconds}")
        _check_behavior(self.behavior)

    def rps_at(self, t: float) -> float:
        """The load in effect at ``t`` (the first value before t=0)."""
        return next((rps for start, rps in reversed(self.load) if start <= t), self.load[0][1])

    def sync_times(self) -> list[float]:
        return [15.0 * k for k in range(int(self.seconds // algo.SYNC_PERIOD) + 1)]


def _check_behavior(behavior: dict[str, Any] | None) -> None:
    """The API server's rules for ``spec.behavior`` (the emulator accepts more than a real one, so they are checked here)."""
    if behavior is None:
        return
    if not isinstance(behavior, dict) or set(behavior) - {"scaleUp", "scaleDown"}:
        raise ValueError(f"behavior has scaleUp and/or scaleDown, not {behavior!r}")
    for direction, rules in behavior.items():
        rules = rules or {}
        window = rules.get("stabilizationWindowSeconds", 0)
        if not isinstance(window, int) or not 0 <= window <= 3600:
            raise ValueError(f"{direction}.stabilizationWindowSeconds must be 0 to 3600 seconds, not {window!r}")
        if rules.get("selectPolicy", "Max") not in ("Max", "Min", "Disabled"):
            raise ValueError(f"{direction}.selectPolicy must be Max, Min or Disabled, not {rules['selectPolicy']!r}")
        if rules.get("policies") == []:
            raise ValueError(f"{direction}.policies must have at least one policy (leave it out for the default)")
        for p in rules.get("policies") or []:
            if p.get("type") not in ("Pods", "Percent") or not 0 < p.get("value", 0) or not 0 < p.get("periodSeconds", 0) <= 1800:
                raise ValueError(f"{direction} policy {p!r}: type Pods or Percent, value above 0, periodSeconds 1 to 1800")


@dataclass(frozen=True)
class Sync:
    """One HPA sync: the load its sample saw (requests/s), the utilization it reported (None: no metric), replicas after it."""

    t: float
    rps: float
    utilization: int | None
    replicas: int


@dataclass
class Timeline:
    """One run of a scenario: a row per sync, who made it (``model`` or ``emulator``) and how long it took (wall s)."""

    source: str
    rows: list[Sync] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def replicas(self) -> list[int]:
        return [row.replicas for row in self.rows]


def _webapp_cost() -> tuple[float, float]:
    """(idle millicores, millicores per request/s) of the course web service, from the emulator's image data."""
    from labkit.kubesim import images

    info = images.lookup(IMAGE)
    return info.cpu_idle, info.cpu_per_rps


def _tolerance(behavior: dict[str, Any] | None) -> tuple[float, float]:
    """(down, up) tolerance as the HPA controller reads it from ``behavior`` (default 0.1 each way)."""
    down, up = (algo.TOLERANCE if v is None else float(v) for v in
                (((behavior or {}).get(d) or {}).get("tolerance") for d in ("scaleDown", "scaleUp")))
    return down, up


def model_run(scenario: Scenario) -> Timeline:
    """The scenario by ``labkit.autoscaling`` alone, on pods modelled as the module docstring says."""
    began = time.perf_counter()
    idle, per_rps = _webapp_cost()
    behavior, tolerance = algo.behavior_from_spec(scenario.behavior), _tolerance(scenario.behavior)
    hpa = algo.Autoscaler()
    created = [-5 * SAMPLE_OFFSET] * scenario.min_replicas   # the Deployment's first pods, made before the HPA
    replicas = scenario.min_replicas
    timeline = Timeline("model")
    for t in scenario.sync_times():  # each pod was made at an earlier sync, so it is Ready at the sample and shares the load
        sampled = t - SAMPLE_OFFSET
        rps = scenario.rps_at(sampled)
        usage = int(round(idle + per_rps * (rps / len(created))))
        pods = [algo.PodSample(f"pod-{i}", usage if c + POD_START <= sampled - algo.SYNC_PERIOD else None, scenario.cpu_request_m,
                               started=c + POD_START, ready_since=c + POD_START, metric_time=sampled)
                for i, c in enumerate(created)]
        proposals, errors, utilization = [], [], None
        try:
            result = algo.replicas_for_utilization(replicas, pods, scenario.target, "cpu", tolerance, now=t)
            proposals, utilization = [(result.replicas, METRIC)], result.utilization
        except algo.MetricError as err:
            errors = [("FailedGetResourceMetric", f"failed to get cpu utilization: {err}")]
        decision = hpa.decide(replicas, scenario.min_replicas, scenario.max_replicas, proposals, errors, 1, behavior, t)
        # new pods are made now; a scale-down removes the newest first, as the ReplicaSet does
        created = sorted(created)[:decision.desired] + [t] * max(0, decision.desired - len(created))
        replicas = decision.desired
        timeline.rows.append(Sync(t, rps, utilization, replicas))
    timeline.seconds = time.perf_counter() - began
    return timeline


def _manifests(scenario: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
    labels = {"app": "web"}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": labels},
                  "spec": {"replicas": scenario.min_replicas, "selector": {"matchLabels": labels},
                           "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                               {"name": "web", "image": IMAGE, "ports": [{"containerPort": 8080}],
                                "resources": {"requests": {"cpu": f"{scenario.cpu_request_m}m"}}}]}}}}
    spec: dict[str, Any] = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                            "minReplicas": scenario.min_replicas, "maxReplicas": scenario.max_replicas,
                            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                "type": "Utilization", "averageUtilization": scenario.target}}}]}
    if scenario.behavior is not None:  # {} is written: the API server fills in the defaults
        spec["behavior"] = scenario.behavior
    return deployment, {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"}, "spec": spec}


def emulator_run(scenario: Scenario, seed: int = 0) -> Timeline:
    """The scenario on a fresh emulated cluster (frozen clock), read back through the Kubernetes API.

    The Deployment is made at a scrape and the HPA 37.5 s later, half a sample period after the third
    scrape, when the first pods have a sample: the HPA syncs at 0, 15, 30 s..., metrics-server samples at
    -7.5, 7.5, 22.5 s... The clock is stopped 3 s after each sync to read it, and the load for the next
    sample is set then, so a change at c is sampled at the first scrape at or after c, as in ``model_run``.
    """
    from kubernetes import client, config

    from labkit import kubesim

    began = time.perf_counter()
    deployment, autoscaler = _manifests(scenario)
    timeline = Timeline("emulator")
    with tempfile.TemporaryDirectory(prefix="hpa-playground-") as tmp:
        sim = kubesim.start(Path(tmp) / "kubeconfig", seed=seed, realtime=False)
        api = config.new_client_from_config(sim.kubeconfig)
        try:
            apps, scaling = client.AppsV1Api(api), client.AutoscalingV2Api(api)
            apps.create_namespaced_deployment("default", deployment)
            sim.set_load("web", rps=scenario.rps_at(-SAMPLE_OFFSET))
            sim.advance(5 * SAMPLE_OFFSET)
            try:
                scaling.create_namespaced_horizontal_pod_autoscaler("default", autoscaler)
            except client.ApiException as err:
                raise ValueError(f"the API server rejected the HPA: {err.body}") from None
            for t in scenario.sync_times():
                sim.advance(3.0 if t == 0 else algo.SYNC_PERIOD)
                rps = scenario.rps_at(t - SAMPLE_OFFSET)
                replicas = apps.read_namespaced_deployment_scale("web", "default").spec.replicas
                status = scaling.read_namespaced_horizontal_pod_autoscaler("web", "default").status
                metrics = status.current_metrics or []
                utilization = metrics[0].resource.current.average_utilization if metrics else None
                timeline.rows.append(Sync(t, rps, utilization, replicas))
                sim.set_load("web", rps=scenario.rps_at(t + SAMPLE_OFFSET))
        finally:
            api.close()
            sim.stop()
    timeline.seconds = time.perf_counter() - began
    return timeline


def differences(model: Timeline, emulated: Timeline) -> list[str]:
    """Where the two runs differ, one line per sync (utilization or replicas); empty when they agree throughout."""
    out = [] if len(model.rows) == len(emulated.rows) else [f"{len(model.rows)} model syncs but {len(emulated.rows)} emulated ones"]
    for a, b in zip(model.rows, emulated.rows):
        if (a.t, a.utilization, a.replicas) != (b.t, b.utilization, b.replicas):   # the load column is the scenario's on both sides
            out.append(f"t={a.t:g} s: model {a.utilization}% -> {a.replicas} replicas, emulator {b.utilization}% -> {b.replicas}")
    return out


_MODEL, _EMULATOR, _TARGET, _DIFF = "#4c72b0", "#dd8452", "#55a868", "#c44e52"


def playground_figure(model: Timeline, emulated: Timeline, scenario: Scenario | None = None) -> Figure:
    """Load (top), utilization with the target (middle) and replicas (bottom) over time, both runs.

    The model is a wide pale line and the emulator a thin dashed one with dots on top of it, so where they
    agree the dashes sit inside the band, and a sync where they differ is ringed in red. With ``scenario``
    the load panel also draws the load profile itself, and the utilization panel its target.
    """
    figure = Figure(figsize=(9, 6.4), layout="constrained")
    load_axes, util_axes, replica_axes = figure.subplots(3, 1, sharex=True)
    runs = ((model, _MODEL, {"linewidth": 5, "alpha": 0.45}), (emulated, _EMULATOR, {"linewidth": 1.4, "linestyle": "--", "marker": "."}))
    if scenario is not None:
        end = scenario.seconds
        points = [(t, rps) for t, rps in scenario.load if t <= end]
        load_axes.step([t for t, _ in points] + [end], [r for _, r in points] + [points[-1][1]], where="post", color="#888888",
                       label="load profile")
        util_axes.axhline(scenario.target, color=_TARGET, linestyle=":", label=f"target {scenario.target}%")
    for run, colour, style in runs:
        t = [row.t for row in run.rows]
        load_axes.plot(t, [row.rps for row in run.rows], color=colour, linestyle="none", marker="o" if run is model else ".",
                       alpha=0.6 if run is model else 1.0, label=f"{run.source}: load its sample saw")
        util_axes.plot(t, [math.nan if row.utilization is None else row.utilization for row in run.rows], color=colour,
                       label=run.source, **style)
        replica_axes.step(t, run.replicas, where="post", color=colour, label=f"{run.source}: final {run.replicas[-1] if run.rows else '-'}",
                          **{k: v for k, v in style.items() if k != "marker"})
    bad = {a.t: a.replicas for a, b in zip(model.rows, emulated.rows) if (a.utilization, a.replicas) != (b.utilization, b.replicas)}
    if bad:
        replica_axes.plot(list(bad), list(bad.values()), linestyle="none", marker="o", markersize=11, markerfacecolor="none",
                          markeredgecolor=_DIFF, label="the runs differ")
    for axes, label in ((load_axes, "requests/s"), (util_axes, "CPU, % of request"), (replica_axes, "replicas")):
        axes.set_ylabel(label)
        axes.legend(fontsize=7, loc="upper right")
        axes.grid(alpha=0.3)
    replica_axes.set_xlabel("seconds since the HPA was created (a sync every 15 s)")
    replica_axes.set_ylim(bottom=0)
    agreement = f"the runs differ at {len(bad) or 'some'} sync(s)" if differences(model, emulated) else "they agree at every sync"
    load_axes.set_title(f"The HPA, computed (model) and emulated: {agreement}", fontsize=10)
    return figure


class Playground(ipywidgets.VBox):
    """Load, target and behavior controls over the two runs, a line saying whether they agree, and the figure.

    Attributes a notebook or test may use: ``rps``, ``window`` (load from, until: s; 900 means never stops),
    ``target``, ``stabilization`` (scale-down window, s), ``max_replicas`` (the controls), ``summary`` (HTML),
    ``chart`` (an Output), and the latest ``scenario``, ``model`` and ``emulated``.
    """

    def __init__(self, rps: float, target: int, stabilization: int, max_replicas: int, cpu_request_m: int, seed: int):
        self.seed, self.cpu_request_m = seed, cpu_request_m
        self._scenario(rps, (60, 600), target, stabilization, max_replicas)   # bad values fail here, before a slider clamps them
        style, layout = {"description_width": "15em"}, ipywidgets.Layout(width="40em")

        def slider(kind: type, description: str, value: Any, low: Any, high: Any, step: Any) -> Any:
            return kind(value=value, min=low, max=high, step=step, description=description, style=style, layout=layout,
                        continuous_update=False)
        self.rps = slider(ipywidgets.FloatSlider, "Load (requests/s)", rps, 0, max(20.0, rps), 0.5)
        self.window = slider(ipywidgets.IntRangeSlider, "Load from, until (s)", (60, 600), 0, 900, 15)
        self.target = slider(ipywidgets.IntSlider, "Target CPU (% of request)", target, min(10, target), max(100, target), 5)
        self.stabilization = slider(ipywidgets.IntSlider, "Scale-down window (s)", stabilization, 0, max(600, stabilization), 15)
        self.max_replicas = slider(ipywidgets.IntSlider, "Max replicas", max_replicas, 1, max(20, max_replicas), 1)
        self.summary, self.chart = ipywidgets.HTML(), ipywidgets.Output()
        self.scenario, self.model, self.emulated = Scenario(), Timeline("model"), Timeline("emulator")   # set by _update
        controls = [self.rps, self.window, self.target, self.stabilization, self.max_replicas]
        super().__init__(children=[*controls, self.summary, self.chart])
        for control in controls:
            control.observe(self._update, names="value")
        self._update()

    def _scenario(self, rps: float, window: tuple[int, int], target: int, stabilization: int, max_replicas: int) -> Scenario:
        behavior = {} if stabilization == algo.DOWNSCALE_WINDOW else {"scaleDown": {"stabilizationWindowSeconds": int(stabilization)}}
        load = step_load(rps, window[0], window[1] if window[1] < 900 else None)
        return Scenario(load, target, self.cpu_request_m, 1, max_replicas, behavior)

    def _update(self, _change: object = None) -> None:
        self.scenario = self._scenario(self.rps.value, self.window.value, self.target.value, self.stabilization.value, self.max_replicas.value)
        self.model, self.emulated = model_run(self.scenario), emulator_run(self.scenario, self.seed)
        diff = differences(self.model, self.emulated)
        verdict = (f"<b>They agree</b> at all {len(self.model.rows)} syncs" if not diff else
                   f"<b style='color:{_DIFF}'>They differ</b> at {len(diff)} sync(s), first {diff[0]}")
        self.summary.value = (f"{verdict}. Final replicas: model <b>{self.model.replicas[-1]}</b>, emulated cluster "
                              f"<b>{self.emulated.replicas[-1]}</b>, at most {max(self.emulated.replicas)} "
                              f"(the emulated run took {self.emulated.seconds:.2f} s).")
        figure = playground_figure(self.model, self.emulated, self.scenario)
        image = base64.b64encode(png_bytes(figure)).decode("ascii")
        figure.clear()  # free the drawing now; replacing the outputs redraws the chart, also outside a kernel
        self.chart.outputs = ({"output_type": "display_data", "data": {"image/png": image}, "metadata": {}},)


def playground(rps: float = 4.0, target: int = 50, stabilization: int = algo.DOWNSCALE_WINDOW, max_replicas: int = 10,
               cpu_request_m: int = 100, seed: int = 0) -> Playground:
    """The HPA playground widget (see ``Playground``): each change of a control runs both sides again."""
    return Playground(rps, target, stabilization, max_replicas, cpu_request_m, seed)
