"""Practice for shipping the web service to GKE (assignment 6): targets, a GKE-like rehearsal
cluster, the cost of a cluster from a price table, and Autopilot or Standard.

Why a module of its own: the deploy exercises are checked on things a learner cannot try on the
real cloud without an account and a bill. Here:

- :func:`deploy_targets` makes the places a plan ships to (project, region, zone, repository, image,
  tag, the LoadBalancer Services to release), from a seed, so that a hidden test has other ones;
  :func:`plan_problems` and :func:`teardown_problems` check a plan given as command lines with
  :mod:`labkit.gke_plan` (and gcloud itself), plus the few rules the assignment states on top;
- :func:`gke_cluster` is the emulator's GKE-like profile (``gcloud container clusters create`` of
  that project and zone): its Artifact Registry has what the test pushed, its cloud controller gives
  a LoadBalancer an external IP. :func:`refusal` applies a manifest as ``kubectl apply`` sends it
  (a server-side dry run first, strict about unknown fields) and says in a sentence what the API
  server refused; :func:`from_inside` calls a URL from a client pod; :func:`pod_troubles` says why
  pods are not Ready;
- :func:`cost_reference` is what a cluster costs a month under the stated rules, with its working
  (:func:`cost_examples` generates shapes and price tables); :func:`mode_reference` chooses between
  Autopilot and Standard from needs, by the rules of :data:`NEEDS`.
"""
from __future__ import annotations

import itertools
import json
import math
import random
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from labkit import gke_costs
from labkit.gke_plan import Target, check_deploy_plan, check_teardown_plan, flag, image_reference
from labkit.practice_clusters import PracticeCluster, _connect, timed

__all__ = ["CLUSTER", "REGIONS", "deploy_targets", "as_target", "plan_problems", "teardown_problems", "gke_cluster",
           "refusal", "from_inside", "pod_troubles", "HOURS_PER_MONTH", "REGIONAL_ZONES", "CPU_STEP", "PRICES", "Cost",
           "cost_reference", "cost_examples", "NEEDS", "mode_reference", "every_need"]

CLUSTER = "cloud-kubernetes"
# Real regions and some of their zones (a zone is its region and a letter)
REGIONS = {"us-central1": "abcf", "europe-west1": "bcd", "us-east1": "bcd", "europe-west4": "abc",
           "asia-northeast1": "abc", "australia-southeast1": "abc", "southamerica-east1": "abc"}
_WORDS = ("shop", "course", "lab", "orders", "acme", "demo", "class", "team")


# ---- targets and plans ------------------------------------------------------------------------------
def deploy_targets(seed: int, count: int) -> list[dict]:
    """``count`` places to ship to, from ``seed``: the keyword arguments of the deploy exercise (project,
    region, zone, repository, image, tag) and ``services``, the LoadBalancer Services a teardown releases."""
    rng = random.Random(f"deploy-targets-{seed}")
    targets = []
    for _ in range(count):
        region = rng.choice(sorted(REGIONS))
        targets.append({
            "project": f"{rng.choice(_WORDS)}-{rng.randint(1000, 99999)}",
            "region": region, "zone": f"{region}-{rng.choice(REGIONS[region])}",
            "repository": rng.choice(["course", "images", "web-images", "apps", "docker-repo"]),
            "image": rng.choice(["course-webapp", "web", "shop-front", "api"]),
            "tag": rng.choice(["v1", "v2.3", "2025-06-01", "lesson", "build-17"]),
            "services": rng.sample(["web", "admin", "api", "shop-front", "metrics"], rng.randint(1, 3)),
        })
    return targets


def as_target(place: dict) -> Target:
    """The :class:`labkit.gke_plan.Target` of a :func:`deploy_targets` entry (a teardown has no image: any will do)."""
    return Target(place["project"], place["region"], place["zone"], place["repository"],
                  place.get("image", "course-webapp"), place.get("tag", "v1"), CLUSTER)


def _split(commands: object, call: str) -> tuple[list[list[str]], list[str]]:
    """The command lines as lists of words, as a shell splits them, or the sentences that say why not."""
    if not isinstance(commands, list) or not commands:
        return [], [f"{call} must return a non-empty list of command lines (strings), got {commands!r}."]
    split, problems = [], []
    for number, line in enumerate(commands, 1):
        if not isinstance(line, str):
            problems.append(f"Command {number} is {line!r}, not a string: give each command as one string, "
                            "as you would type it in a terminal.")
            continue
        try:
            words = shlex.split(line)
        except ValueError as error:  # an unbalanced quote
            problems.append(f"Command {number} ({line!r}) cannot be split into words as a shell would: {error}.")
            continue
        if not words:
            problems.append(f"Command {number} is empty.")
        split.append(words)
    return split, problems


def _project_problems(split: list[list[str]], project: str) -> list[str]:
    """Every ``gcloud artifacts`` and ``gcloud container`` command says ``--project PROJECT``."""
    problems = []
    for words in split:
        if words[:2] in (["gcloud", "artifacts"], ["gcloud", "container"]) and flag(words, "--project") is None:
            problems.append(f"`{' '.join(words[:4])}` says no --project: add --project {project}, so that it does not "
                            "work in whatever project someone's gcloud configuration has.")
    return problems


def _zone_problems(split: list[list[str]], verbs: tuple[str, ...], zone: str) -> list[str]:
    problems = []
    for words in split:
        if words[:3] == ["gcloud", "container", "clusters"] and len(words) > 3 and words[3] in verbs:
            if words[3] == "create-auto":
                problems.append("`gcloud container clusters create-auto` makes an Autopilot cluster, and those are regional: "
                                f"create a Standard cluster in the zone (gcloud container clusters create {CLUSTER} --zone {zone}).")
            elif flag(words, "--zone") is None and flag(words, "--region") is not None:  # gke_plan takes either
                problems.append(f"`{' '.join(words[:4])}` must say --zone {zone}, not --region: the cluster is a zonal one "
                                "(with --region it would be another, regional cluster, or none at all).")
    return problems


def plan_problems(commands: object, place: dict, call: str = "deploy_commands(...)") -> list[str]:
    """What is wrong with a deploy plan given as command lines, for ``place`` (a :func:`deploy_targets`
    entry): :func:`labkit.gke_plan.check_deploy_plan` (which also asks gcloud), and the assignment's rules on
    top: the image is tagged from the local ``IMAGE:TAG``, the cluster is a Standard one in the zone, the gcloud
    commands that make things name the project, and the plan ends with ``kubectl apply -f web.yaml``."""
    split, problems = _split(commands, call)
    if problems or not split:
        return problems
    target = as_target(place)
    local, ref = f"{target.image}:{target.tag}", image_reference(target.project, target.region, target.repository,
                                                                  target.image, target.tag)
    problems = check_deploy_plan(split, target)
    for words in split:
        if words[:2] == ["docker", "tag"] and words[-1] == ref and local not in words[2:-1]:
            problems.append(f"`{' '.join(words)}` tags something other than the image built here, {local}: "
                            f"docker tag {local} {ref}.")
    problems += _zone_problems(split, ("create", "create-auto", "get-credentials"), target.zone)
    problems += _project_problems(split, target.project)
    if split[-1] != ["kubectl", "apply", "-f", "web.yaml"]:
        problems.append(f"The plan must end with `kubectl apply -f web.yaml`; its last command is `{' '.join(split[-1])}`.")
    return list(dict.fromkeys(problems))


def teardown_problems(commands: object, place: dict, call: str = "teardown_commands(...)") -> list[str]:
    """What is wrong with a teardown plan for ``place``: :func:`labkit.gke_plan.check_teardown_plan` (the
    LoadBalancer Services first, the cluster with its location and ``--quiet``, the repository; gcloud asked),
    and on top: the cluster deleted from its zone, the repository with ``--location`` and ``--quiet``, the
    project named."""
    split, problems = _split(commands, call)
    if problems or not split:
        return problems
    target = as_target(place)
    problems = check_teardown_plan(split, target, place["services"])
    problems += _zone_problems(split, ("delete",), target.zone)
    for words in split:
        if words[:4] == ["gcloud", "artifacts", "repositories", "delete"]:
            if flag(words, "--location") != target.region:
                problems.append(f"Delete the repository where it is: --location={target.region}.")
            if "--quiet" not in words and "-q" not in words:
                problems.append("Add --quiet to the repository's delete too: without it gcloud waits for a yes.")
    problems += _project_problems(split, target.project)
    return list(dict.fromkeys(problems))


# ---- the rehearsal cluster ---------------------------------------------------------------------------
def gke_cluster(project: str, zone: str, seed: int = 0, workers: int = 3) -> PracticeCluster:
    """The GKE-like emulator that ``gcloud container clusters create cloud-kubernetes --zone ZONE --project
    PROJECT`` would give (three e2-medium nodes, a cloud controller for LoadBalancers, an Artifact Registry that
    holds what ``practice.sim.push_image(ref)`` pushed), on a frozen clock: nothing happens until ``advance``."""
    from labkit import kubesim

    with timed():
        return _connect(kubesim.start(seed=seed, workers=workers, name=CLUSTER, realtime=False, profile="gke",
                                      project=project, zone=zone))


def _request(practice: PracticeCluster, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(practice.sim.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.load(error)
        except ValueError:
            return error.code, {"message": error.reason}


def _collection(practice: PracticeCluster, manifest: dict, namespace: str) -> tuple[str | None, str]:
    """The API path where ``manifest`` is created, found as kubectl finds it (discovery), or None and why not."""
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None, "it needs an apiVersion and a kind (strings)"
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    status, found = _request(practice, "GET", base)
    if status != 200:
        return None, f'the cluster serves no apiVersion "{api_version}"'
    resource = next((r for r in found.get("resources") or [] if r.get("kind") == kind and "/" not in r["name"]), None)
    if resource is None:
        return None, f'no matches for kind "{kind}" in version "{api_version}"'
    scope = f"/namespaces/{namespace}" if resource.get("namespaced") else ""
    return f"{base}{scope}/{resource['name']}", ""


def refusal(practice: PracticeCluster, manifest: object, what: str, namespace: str = "default",
            dry_run: bool = False) -> str | None:
    """Create ``manifest`` as ``kubectl apply`` sends it (JSON, ``fieldValidation=Strict``: an unknown field is
    an error, not a silent drop); ``dry_run``: the API server checks everything and stores nothing. None when it
    was accepted, else a sentence: what the server refused, in its own words."""
    if not isinstance(manifest, dict):
        return f"{what} is a {type(manifest).__name__}, not a manifest (a dict)."
    with timed():
        path, why = _collection(practice, manifest, namespace)
        if path is None:
            return f"The cluster cannot take {what}: {why}."
        query = "?fieldValidation=Strict" + ("&dryRun=All" if dry_run else "")
        status, answer = _request(practice, "POST", path + query, manifest)
    if status in (200, 201):
        return None
    said = (answer or {}).get("message") or f"HTTP {status}"
    return f"The cluster refused {what}{' (a dry run: nothing was created)' if dry_run else ''}: {said}"


def from_inside(practice: PracticeCluster, url: str) -> str:
    """What ``wget -qO- URL`` prints in a client pod of the cluster (busybox, namespace ``client``), made on the
    first call: how a pod (or, for an external IP, anyone) sees a Service."""
    core = practice.core
    with timed():
        if not any(n.metadata.name == "client" for n in core.list_namespace().items):
            core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "client"}})
            core.create_namespaced_pod("client", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"}, "spec": {
                "containers": [{"name": "client", "image": "busybox:1.36", "command": ["sleep", "86400"]}]}})
        for _ in range(30):
            if core.read_namespaced_pod("client", "client").status.phase == "Running":
                break
            practice.advance(1)
        return practice.exec("client", "client", ["wget", "-qO-", "-T", "5", url])


def pod_troubles(practice: PracticeCluster, namespace: str, selector: str) -> list[str]:
    """Why the pods of ``selector`` are not Ready, one sentence each: a waiting container's reason and message,
    or the pod's latest Warning event (a failing probe says so there)."""
    troubles = []
    events = [e for e in practice.core.list_namespaced_event(namespace).items if e.type == "Warning"]
    for pod in practice.core.list_namespaced_pod(namespace, label_selector=selector).items:
        statuses = pod.status.container_statuses or []
        if statuses and all(s.ready for s in statuses):
            continue
        waiting = [s.state.waiting for s in statuses if s.state and s.state.waiting]
        if waiting:
            troubles.append(f"{pod.metadata.name}: {waiting[0].reason}: {waiting[0].message or ''}".rstrip(": "))
            continue
        said = [e for e in events if e.involved_object.name == pod.metadata.name]
        if said:
            troubles.append(f"{pod.metadata.name}: {said[-1].reason}: {said[-1].message}")
        else:
            troubles.append(f"{pod.metadata.name}: {pod.status.phase}, not Ready")
    return troubles


# ---- what a cluster costs --------------------------------------------------------------------------
HOURS_PER_MONTH = gke_costs.HOURS_PER_MONTH
REGIONAL_ZONES = gke_costs.REGIONAL_ZONES   # a regional cluster's nodes: the node count in each of its region's 3 zones
CPU_STEP = gke_costs.AUTOPILOT_CPU_STEP     # Autopilot bills a pod's CPU request in steps of 0.25 vCPU
# The exercise's price table: plain numbers, the lesson's recorded us-central1 list prices (labkit.gke_costs,
# with their sources and date); boot disks and registry storage are left out of the exercise
PRICES: dict[str, Any] = {
    "cluster_fee_per_hour": gke_costs.PRICES["cluster_fee_per_hour"]["usd"],
    "free_tier_per_month": gke_costs.PRICES["free_tier_per_month"]["usd"],
    "machine_per_hour": dict(gke_costs.PRICES["machine_per_hour"]["usd"]),
    "autopilot_vcpu_per_hour": gke_costs.PRICES["autopilot_vcpu_per_hour"]["usd"],
    "autopilot_gib_per_hour": gke_costs.PRICES["autopilot_memory_gb_per_hour"]["usd"],
    "forwarding_rule_per_hour": gke_costs.PRICES["forwarding_rule_per_hour"]["usd"],
}


@dataclass(frozen=True)
class Cost:
    """What :func:`cost_reference` found: the dollars of each part (rounded to cents) and how it got them."""

    parts: dict[str, float]
    steps: dict[str, str]


def cost_reference(shape: dict, prices: dict) -> Cost:
    """A cluster's monthly bill by the exercise's rules: the management fee less the free tier (zonal Standard
    and Autopilot only), the nodes (Standard; a regional cluster has its node count in each of 3 zones) or the
    pods' requests (Autopilot; CPU in steps of :data:`CPU_STEP`), the forwarding rules of the load balancers."""
    hours = HOURS_PER_MONTH
    autopilot = shape["mode"] == "Autopilot"
    gross = prices["cluster_fee_per_hour"] * hours
    eligible = autopilot or shape["location"] == "zonal"
    credit = min(gross, prices["free_tier_per_month"]) if eligible else 0.0
    fee_step = (f"{prices['cluster_fee_per_hour']} $/h x {hours} h = {gross:.2f}, less the free tier "
                f"min({gross:.2f}, {prices['free_tier_per_month']}) = {credit:.2f}" if eligible else
                f"{prices['cluster_fee_per_hour']} $/h x {hours} h = {gross:.2f}; no free tier for a regional Standard cluster")
    if autopilot:
        per_hour, terms = 0.0, []
        for pod in shape["pods"]:
            billed_cpu = math.ceil(pod["cpu"] / CPU_STEP) * CPU_STEP
            per_hour += pod["replicas"] * (billed_cpu * prices["autopilot_vcpu_per_hour"] + pod["memory_gib"] * prices["autopilot_gib_per_hour"])
            terms.append(f"{pod['replicas']} x ({billed_cpu:g} vCPU (for {pod['cpu']:g}) x {prices['autopilot_vcpu_per_hour']} + "
                         f"{pod['memory_gib']:g} GiB x {prices['autopilot_gib_per_hour']})")
        compute = per_hour * hours
        compute_step = f"({' + '.join(terms) or 'no pods'}) $/h x {hours} h = {compute:.2f}"
    else:
        zones = REGIONAL_ZONES if shape["location"] == "regional" else 1
        machines = shape["nodes"] * zones
        rate = prices["machine_per_hour"][shape["machine_type"]]
        compute = machines * rate * hours
        compute_step = (f"{shape['nodes']} node{'s' if shape['nodes'] != 1 else ''} x {zones} zone{'s' if zones > 1 else ''} = "
                        f"{machines} {shape['machine_type']} VMs "
                        f"x {rate} $/h x {hours} h = {compute:.2f}")
    lbs = shape["load_balancers"] * prices["forwarding_rule_per_hour"] * hours
    parts = {"cluster_fee": round(gross - credit, 2), "compute": round(compute, 2), "load_balancers": round(lbs, 2)}
    parts["total"] = round(sum(parts.values()), 2)
    steps = {"cluster_fee": fee_step, "compute": compute_step,
             "load_balancers": f"{shape['load_balancers']} x {prices['forwarding_rule_per_hour']} $/h x {hours} h = {lbs:.2f}",
             "total": "the sum of the three rounded parts"}
    return Cost(parts, steps)


def cost_examples(seed: int, count: int, vary_prices: bool = False) -> list[tuple[dict, dict]]:
    """``count`` (shape, prices) cases from ``seed``: zonal and regional Standard clusters and Autopilot ones with
    a few Deployments' pods, 0 to 3 load balancers; with ``vary_prices`` each case gets its own price table
    (another fee, free tier, machine and Autopilot prices, as in another region or year)."""
    rng = random.Random(f"cost-examples-{seed}")
    cases = []
    for _ in range(count):
        prices = json.loads(json.dumps(PRICES))
        if vary_prices:
            scale = rng.choice([0.8, 1.0, 1.1, 1.25, 1.5])
            prices["machine_per_hour"] = {m: round(p * scale, 6) for m, p in prices["machine_per_hour"].items()}
            prices["machine_per_hour"]["n2-standard-2"] = round(0.097118 * scale, 6)   # a machine type the visible table lacks
            prices["cluster_fee_per_hour"] = rng.choice([0.10, 0.10, 0.15, 0.2, 0.05])
            prices["free_tier_per_month"] = rng.choice([74.40, 74.40, 50.0, 0.0])
            prices["autopilot_vcpu_per_hour"] = round(0.0445 * scale, 6)
            prices["autopilot_gib_per_hour"] = round(0.0049225 * scale, 7)
            prices["forwarding_rule_per_hour"] = rng.choice([0.025, 0.03, 0.0275])
        mode = rng.choice(["Standard", "Standard", "Autopilot"])
        shape: dict[str, Any] = {"mode": mode}
        if mode == "Standard":
            shape.update(location=rng.choice(["zonal", "regional"]), machine_type=rng.choice(sorted(prices["machine_per_hour"])),
                         nodes=rng.randint(1, 6))
        else:
            shape["pods"] = [{"cpu": round(rng.randint(1, 40) * 0.05, 2), "memory_gib": rng.choice([0.125, 0.25, 0.5, 1.0, 1.5, 2.0, 4.0]),
                              "replicas": rng.randint(1, 6)} for _ in range(rng.randint(1, 3))]
        shape["load_balancers"] = rng.randint(0, 3)
        cases.append((shape, prices))
    return cases


# ---- Autopilot or Standard -------------------------------------------------------------------------
# need -> (the mode it calls for, or None when both modes meet it; why), from Google's comparison of the modes
NEEDS: dict[str, tuple[str | None, str]] = {
    "privileged_pods": ("Standard", "Autopilot refuses privileged containers"),
    "node_ssh": ("Standard", "Autopilot's nodes cannot be reached over SSH"),
    "machine_type": ("Standard", "only Standard node pools run one exact machine type that you pick"),
    "node_image": ("Standard", "Autopilot's nodes run Container-Optimized OS only; Standard lets you choose the node image"),
    "node_daemonsets": ("Standard", "DaemonSets that change the nodes need host access that Autopilot does not give"),
    "pay_per_pod": ("Autopilot", "Autopilot bills the pods' requests; Standard bills whole nodes, used or not"),
    "no_node_management": ("Autopilot", "Autopilot creates, sizes and upgrades the nodes for you"),
    "gpus": (None, "both modes run GPU workloads"),
}


def mode_reference(needs: dict) -> dict:
    """The mode that meets ``needs`` (need -> bool): a need only Standard meets decides for Standard, whatever
    else is wanted; otherwise Autopilot (Google's recommendation). ``reasons``: the true needs of the deciding
    mode, sorted (for Autopilot the ones it meets better; a need both meet is never a reason)."""
    deciding = "Standard" if any(needs[k] and NEEDS[k][0] == "Standard" for k in NEEDS) else "Autopilot"
    return {"mode": deciding, "reasons": sorted(k for k in NEEDS if needs[k] and NEEDS[k][0] == deciding)}


def every_need() -> list[dict]:
    """Every combination of :data:`NEEDS` (2 ** 8 dicts)."""
    return [dict(zip(NEEDS, values)) for values in itertools.product([False, True], repeat=len(NEEDS))]
