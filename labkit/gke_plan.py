"""Check a plan to ship the web service to GKE, and the plan that tears it down, before anyone runs them.

Why a module: lesson 6 and its assignment have the learner write the whole path as commands (build and
tag, an Artifact Registry repository, ``docker push``, ``gcloud container clusters create``,
``get-credentials``, ``kubectl apply``), and the mistakes that cost an afternoon are between commands,
not inside one: a registry host of another region, a pushed tag that is not the one built, credentials
fetched for a cluster of another name or zone, a push before ``configure-docker``. Each gcloud command is
also put to gcloud itself (:mod:`labkit.gcloud_check`: offline, no account, so nothing is created or
billed). A command is a list of words, as ``shlex.split`` gives it; problems come back as sentences
that say what to fix (empty: none found).

The names follow Google's documentation: an image in Artifact Registry is
``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG`` (:func:`image_reference`); a zone is its region
and a letter (``us-central1-a`` is in ``us-central1``).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from labkit.gcloud_check import gcloud_verdict, gcloud_verdicts

__all__ = ["Target", "image_reference", "check_deploy_plan", "check_teardown_plan", "region_of", "flag", "positional",
           "location", "starts_with", "normal"]

MULTI_REGIONS = ("us", "europe", "asia")
REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


@dataclass(frozen=True)
class Target:
    """Where the web service goes: the Google Cloud project, the region (and zone) of the registry and the
    cluster, the Artifact Registry repository, the image and its tag, the cluster's name."""

    project: str
    region: str
    zone: str
    repository: str
    image: str
    tag: str
    cluster: str = "cloud-kubernetes"


def region_of(zone: str) -> str | None:
    """The region of a zone (``us-central1-a`` -> ``us-central1``), None if it is not a zone's name."""
    found = ZONE.match(zone)
    return found.group(1) if found else None


def image_reference(project: str, region: str, repository: str, image: str, tag: str) -> str:
    """The image's full name in Artifact Registry: what ``docker tag``, ``docker push`` and a manifest's
    ``image`` all say."""
    return f"{region}-docker.pkg.dev/{project}/{repository}/{image}:{tag}"


def flag(words: Sequence[str], name: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE`` (the last one given), None if absent."""
    value = None
    for index, word in enumerate(words):
        if word == name and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith(name + "="):
            value = word.split("=", 1)[1]
    return value


# flags of the deploy path's commands that take no value (every other ``--flag`` without ``=`` takes the next word)
SWITCHES = {"--quiet", "-q", "--async", "--help", "-h"}


def _takes_value(word: str) -> bool:
    return word.startswith("-") and "=" not in word and word not in SWITCHES and not word.startswith(("--no-", "--enable-"))


def positional(words: Sequence[str], after: int) -> str | None:
    """The first word after the command's group words that is neither a flag nor a flag's value (the
    resource's name: ``clusters create --zone Z NAME`` names NAME)."""
    rest = list(words[after:])
    index = 0
    while index < len(rest):
        word = rest[index]
        if not word.startswith("-"):
            return word
        index += 2 if _takes_value(word) else 1
    return None


def normal(words: Sequence[str]) -> list[str]:
    """A gcloud command with the flags written before its group moved to the end (``gcloud --project P
    container clusters create X`` -> ``gcloud container clusters create X --project P``): the same command."""
    words = list(words)
    if not words or words[0] != "gcloud":
        return words
    index, leading = 1, []
    while index < len(words) and words[index].startswith("-"):
        width = 2 if _takes_value(words[index]) else 1
        leading += words[index:index + width]
        index += width
    return ["gcloud", *words[index:], *leading]


def starts_with(words: Sequence[str], *prefix: str) -> bool:
    return tuple(words[:len(prefix)]) == prefix


def location(words: Sequence[str]) -> tuple[str, str | None]:
    """("zone"|"region", value) of a ``gcloud container clusters`` command."""
    zone, region = flag(words, "--zone"), flag(words, "--region")
    return ("zone", zone) if zone or not region else ("region", region)


def _shape_problems(commands: object) -> list[str]:
    if not isinstance(commands, list) or not all(isinstance(c, list) and c and all(isinstance(w, str) for w in c)
                                                 for c in commands):
        return ["Give the plan as a list of commands, each a non-empty list of words (strings), e.g. "
                "[['docker', 'push', 'us-central1-docker.pkg.dev/my-project/course/web:v1'], ...]."]
    return []


def _gcloud_problems(commands: list[list[str]], verdict: Callable[[list[str]], object]) -> list[str]:
    asked = [words for words in commands if words[0] == "gcloud"]
    answers = gcloud_verdicts(asked) if verdict is gcloud_verdict else [verdict(words) for words in asked]
    return [f"gcloud refuses `{' '.join(words)}`: {said.message}"
            for words, said in zip(asked, answers) if getattr(said, "accepted", None) is False]


def _first(commands: list[list[str]], *prefix: str) -> int | None:
    return next((i for i, words in enumerate(commands) if starts_with(words, *prefix)), None)


def check_deploy_plan(commands: list[list[str]], target: Target,
                      verdict: Callable[[list[str]], object] = gcloud_verdict) -> list[str]:
    """Problems with a plan that ships ``target``'s image and runs it on a new GKE cluster.

    The plan must build (or tag) the image as :func:`image_reference` names it, create the Artifact
    Registry repository (format docker, in the target's region), let Docker log in to that registry
    (``gcloud auth configure-docker HOST``), push exactly that image, create the cluster (in the target's
    zone or region), fetch its credentials from the same place, and ``kubectl apply`` the manifests, in an
    order that works. ``verdict`` asks gcloud about each gcloud command (tests pass their own)."""
    problems = _shape_problems(commands)
    if problems:
        return problems
    commands = [normal(words) for words in commands]
    ref = image_reference(target.project, target.region, target.repository, target.image, target.tag)
    host = f"{target.region}-docker.pkg.dev"
    if region_of(target.zone) != target.region:
        problems.append(f"The zone {target.zone} is not in the region {target.region}: a zone is its region and a letter.")
    steps = {
        "build": next((i for i, w in enumerate(commands) if (starts_with(w, "docker", "build") and ref in w)
                       or (starts_with(w, "docker", "tag") and w[-1] == ref)), None),
        "repository": _first(commands, "gcloud", "artifacts", "repositories", "create"),
        "login": _first(commands, "gcloud", "auth", "configure-docker"),
        "push": _first(commands, "docker", "push"),
        "create": next((i for i, w in enumerate(commands) if starts_with(w, "gcloud", "container", "clusters")
                        and len(w) > 3 and w[3] in ("create", "create-auto")), None),
        "credentials": _first(commands, "gcloud", "container", "clusters", "get-credentials"),
        "apply": _first(commands, "kubectl", "apply"),
    }
    missing = {"build": f"build or tag the image as {ref} (docker build -t {ref} . or docker tag)",
               "repository": f"create the repository: gcloud artifacts repositories create {target.repository} "
                             f"--repository-format=docker --location={target.region}",
               "login": f"let Docker log in to the registry: gcloud auth configure-docker {host}",
               "push": f"push the image: docker push {ref}",
               "create": f"create the cluster: gcloud container clusters create {target.cluster} --zone {target.zone}",
               "credentials": f"fetch its credentials: gcloud container clusters get-credentials {target.cluster} --zone {target.zone}",
               "apply": "apply the manifests: kubectl apply -f ..."}
    for step, index in steps.items():
        if index is None:
            problems.append(f"The plan does not {missing[step]}.")
    if steps["repository"] is not None:
        words = commands[steps["repository"]]
        if positional(words, 4) != target.repository:
            problems.append(f"The repository is called {positional(words, 4)!r}; the image's name says {target.repository!r}.")
        if flag(words, "--repository-format") != "docker":
            problems.append("An image needs a repository of --repository-format=docker.")
        if flag(words, "--location") not in (target.region, *(m for m in MULTI_REGIONS if host.startswith(m + "-docker"))):
            problems.append(f"The repository's --location is {flag(words, '--location')!r}, but the image goes to "
                            f"{host}: create it in {target.region}.")
    if steps["login"] is not None:
        hosts = [h for word in commands[steps["login"]][3:] if not word.startswith("-") for h in word.split(",") if h]
        if host not in hosts:
            problems.append(f"configure-docker logs Docker in to {', '.join(hosts) or 'gcr.io and the default registries'}, "
                            f"not to {host}, where the image goes: gcloud auth configure-docker {host}.")
    if steps["push"] is not None and commands[steps["push"]][2:] != [ref]:
        problems.append(f"`{' '.join(commands[steps['push']])}` pushes something other than the image {ref}.")
    for step in ("create", "credentials"):
        if steps[step] is None:
            continue
        words = commands[steps[step]]
        name = positional(words, 4)
        if name != target.cluster:
            problems.append(f"`{' '.join(words[:4])}` names the cluster {name!r}, not {target.cluster!r}.")
        kind, where = location(words)
        if where is None:
            problems.append(f"`{' '.join(words[:4])}` says no --zone (or --region): give --zone {target.zone}, "
                            "so it does not depend on a default of someone's gcloud configuration.")
        elif where not in (target.zone, target.region):
            problems.append(f"`{' '.join(words[:4])}` uses {kind} {where}; the cluster belongs in {target.zone}.")
    if steps["create"] is not None and steps["credentials"] is not None:
        created, fetched = (location(commands[steps[s]]) for s in ("create", "credentials"))
        if created != fetched and None not in (created[1], fetched[1]):
            problems.append(f"The cluster is created with --{created[0]} {created[1]} but its credentials are fetched "
                            f"with --{fetched[0]} {fetched[1]}: use the same location.")
    for command in commands:
        project = flag(command, "--project")
        if command[0] == "gcloud" and project is not None and project != target.project:
            problems.append(f"`{' '.join(command[:4])}` works in the project {project!r}, not {target.project!r}.")
    order = [("build", "push", "build the image before you push it"),
             ("repository", "push", "create the repository before you push to it"),
             ("login", "push", "run configure-docker before docker push, or the push is refused"),
             ("create", "credentials", "create the cluster before you fetch its credentials"),
             ("credentials", "apply", "fetch the credentials before kubectl apply, or kubectl talks to another cluster"),
             ("push", "apply", "push the image before the cluster has to pull it")]
    for first, then, why in order:
        if steps[first] is not None and steps[then] is not None and steps[first] > steps[then]:
            problems.append(f"The order: {why}.")
    return problems + _gcloud_problems(commands, verdict)


def check_teardown_plan(commands: list[list[str]], target: Target, services: Sequence[str] = ("web",),
                        verdict: Callable[[list[str]], object] = gcloud_verdict) -> list[str]:
    """Problems with a plan that leaves nothing billing: each LoadBalancer Service deleted first (so that
    GKE releases its load balancer while the cluster still runs), then the cluster (from its location,
    ``--quiet`` so that it does not wait for a yes), then the Artifact Registry repository (stored images
    are billed)."""
    problems = _shape_problems(commands)
    if problems:
        return problems
    commands = [normal(words) for words in commands]
    cluster = next((i for i, w in enumerate(commands) if starts_with(w, "gcloud", "container", "clusters", "delete")), None)
    repository = _first(commands, "gcloud", "artifacts", "repositories", "delete")
    if cluster is None:
        problems.append(f"The plan does not delete the cluster: gcloud container clusters delete {target.cluster} "
                        f"--zone {target.zone} --quiet (its nodes are billed by the hour).")
    else:
        words = commands[cluster]
        if positional(words, 4) != target.cluster:
            problems.append(f"It deletes the cluster {positional(words, 4)!r}, not {target.cluster!r}.")
        if location(words)[1] not in (target.zone, target.region):
            problems.append(f"Delete the cluster where it is: --zone {target.zone}.")
        if "--quiet" not in words and "-q" not in words:
            problems.append("Add --quiet to the cluster's delete: without it gcloud waits for a yes, and a script stops there.")
    if repository is None:
        problems.append(f"The plan does not delete the repository {target.repository} (stored images are billed): "
                        f"gcloud artifacts repositories delete {target.repository} --location={target.region} --quiet.")
    elif positional(commands[repository], 4) != target.repository:
        problems.append(f"It deletes the repository {positional(commands[repository], 4)!r}, not {target.repository!r}.")
    for service in services:
        index = next((i for i, w in enumerate(commands) if starts_with(w, "kubectl", "delete") and
                      ({"service", service} <= set(w) or f"service/{service}" in w or {"svc", service} <= set(w))), None)
        if index is None:
            problems.append(f"Delete the Service {service} first (kubectl delete service {service}): that releases its "
                            "cloud load balancer, which deleting the cluster may leave behind, billing.")
        elif cluster is not None and index > cluster:
            problems.append(f"Delete the Service {service} before the cluster: once the cluster is gone, nothing releases "
                            "its load balancer.")
    return problems + _gcloud_problems(commands, verdict)
