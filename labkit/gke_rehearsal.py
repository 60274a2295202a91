"""Deploy to GKE, rehearsed: the lesson's gcloud, docker and kubectl commands, checked, then acted out.

Why a module: lesson 6 ships the web service to Google Kubernetes Engine, which needs a Google Cloud
account with billing, and every minute of a cluster costs money. A learner should be able to walk the
whole path first, type every command, make every mistake, and see what each command does, on any
machine and for free. :class:`Cloud` takes the commands one at a time, as a terminal would:

- every ``gcloud`` command is first put to gcloud itself, offline (:mod:`labkit.gcloud_check`), so a
  mistyped flag is refused in gcloud's words before anything happens;
- in a **rehearsal** (the default), the command is then acted out locally: an Artifact Registry
  repository and ``configure-docker`` are remembered, ``docker push`` puts the image in the rehearsal's
  registry, ``gcloud container clusters create`` starts the course's emulator with its GKE-like profile
  (named, placed and sized as the command says, a cloud controller that gives LoadBalancers an external
  IP), ``get-credentials`` writes its kubeconfig context, ``kubectl`` talks to it, ``clusters delete``
  stops it. Mistakes between commands fail as on Google Cloud: a push before ``configure-docker`` or to a
  repository nobody created, credentials of a cluster that does not exist, a delete without ``--quiet``
  in a notebook (gcloud cannot ask);
- **for real** only when the learner gives a project *and* says so (``Cloud(project, really=True)``):
  then each command runs as typed, with the learner's own gcloud, docker and kubectl.

:meth:`Cloud.call` calls a URL as a browser on the internet would (only a LoadBalancer's external IP
answers), :meth:`Cloud.bill` says what is billing now, priced by :mod:`labkit.gke_costs`. The
rehearsal's kubeconfig is a file of its own (``$KUBECONFIG`` points at it once credentials are fetched),
so the learner's ``~/.kube/config`` is never touched.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from labkit import gke_costs
from labkit.gcloud_check import gcloud_verdict
from labkit.gke_plan import flag, location, positional, region_of, starts_with

__all__ = ["Cloud", "Outcome", "REHEARSAL_PROJECT"]

REHEARSAL_PROJECT = "labkit-rehearsal"
IMAGE_GB = 0.061               # the course image's size in the registry
MAX_REHEARSAL_NODES = 9        # the emulator stays quick; a bigger cluster is said, not built
UNATTENDED = ("This prompt could not be answered because you are not in an interactive session. "
              "You can re-run the command with the --quiet flag to accept default answers for all prompts.")


@dataclass
class Outcome:
    """What one command did: ``ok`` and what it printed (shown as the cell's output)."""

    ok: bool
    output: str

    def __repr__(self) -> str:
        return self.output


@dataclass
class _Cluster:
    name: str
    kind: str            # zone | region
    where: str
    autopilot: bool
    nodes: int
    machine_type: str
    sim: Any = None


@dataclass
class _State:
    repositories: set[tuple[str, str, str]] = field(default_factory=set)   # (project, location, name)
    docker_hosts: set[str] = field(default_factory=set)
    local_images: set[str] = field(default_factory=lambda: {"course-webapp:lesson", "course-webapp:latest"})
    pushed: set[str] = field(default_factory=set)
    clusters: dict[str, _Cluster] = field(default_factory=dict)
    left_rules: list[str] = field(default_factory=list)   # forwarding rules a cluster delete may have left


def _registry_parts(ref: str) -> tuple[str, str, str, str] | None:
    """(location, project, repository, image:tag) of ``LOCATION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG``."""
    host, _, path = ref.partition("/")
    parts = path.split("/")
    if not host.endswith("-docker.pkg.dev") or len(parts) < 3:
        return None
    return host[: -len("-docker.pkg.dev")], parts[0], parts[1], "/".join(parts[2:])


class Cloud:
    """Google Cloud for lesson 6: a rehearsal unless ``project`` is set *and* ``really`` is True.

    ``run("gcloud ...")`` / ``run("docker push ...")`` / ``run("kubectl ...")`` takes one command line;
    ``call(url)``, ``bill()`` and ``close()`` (stops any rehearsal cluster) complete it."""

    def __init__(self, project: str = "", really: bool = False, *, seed: int = 0,
                 verdict: Callable[[list[str]], Any] = gcloud_verdict) -> None:
        if really and not project.strip():
            raise ValueError("really=True needs your Google Cloud project's ID: Cloud(project='my-project-id', really=True)")
        self.really = bool(really)
        self.project = project.strip() or REHEARSAL_PROJECT
        self.seed = seed
        self.verdict = verdict
        self.state = _State()
        self.kubeconfig = os.path.join(tempfile.mkdtemp(prefix="labkit-gke-"), "kubeconfig")
        self._kubeconfig_before: str | None = os.environ.get("KUBECONFIG")   # put back by close()
        self.history: list[list[str]] = []   # the commands that did what they said, in order (for gke_plan's checks)

    def __repr__(self) -> str:
        if self.really:
            return f"Google Cloud, for real: project {self.project}. Every command runs as typed and may bill."
        return (f"A rehearsal of Google Cloud (project {self.project}): commands are checked by gcloud and acted "
                "out on this machine; nothing is created in Google Cloud and nothing is billed.")

    # ---- one command ---------------------------------------------------------------------
    def run(self, command: str) -> Outcome:
        """Check one command line and carry it out (acted out in a rehearsal, run for real otherwise)."""
        try:
            words = shlex.split(command)
        except ValueError as error:
            return Outcome(False, f"The command line does not parse ({error}): check its quotes.")
        if not words:
            return Outcome(False, "Give a command, e.g. run('gcloud container clusters list').")
        if words[0] == "gcloud":
            said = self.verdict(words)
            if getattr(said, "accepted", None) is False:
                return Outcome(False, f"gcloud refuses this command, and nothing happened:\n  {said.message}")
        if self.really:
            outcome = self._for_real(words)
        else:
            act = next((fn for prefix, fn in self._acts() if starts_with(words, *prefix)), None)
            if act is None:
                known = ", ".join(" ".join(prefix) for prefix, _ in self._acts())
                return Outcome(False, f"The rehearsal does not act out `{' '.join(words[:4])}`. It knows: {known}.")
            outcome = act(words)
        if outcome.ok:
            self.history.append(words)
        return outcome

    def _acts(self) -> list[tuple[tuple[str, ...], Callable[[list[str]], Outcome]]]:
        return [(("gcloud", "config", "set", "project"), self._set_project),
                (("gcloud", "services", "enable"), self._enable),
                (("gcloud", "artifacts", "repositories", "create"), self._create_repository),
                (("gcloud", "artifacts", "repositories", "delete"), self._delete_repository),
                (("gcloud", "auth", "configure-docker"), self._configure_docker),
                (("docker", "build"), self._docker_build),
                (("docker", "tag"), self._docker_tag),
                (("docker", "push"), self._docker_push),
                (("gcloud", "container", "clusters", "create"), self._create_cluster),
                (("gcloud", "container", "clusters", "create-auto"), self._create_cluster),
                (("gcloud", "container", "clusters", "get-credentials"), self._get_credentials),
                (("gcloud", "container", "clusters", "list"), self._list_clusters),
                (("gcloud", "container", "clusters", "delete"), self._delete_cluster),
                (("gcloud", "compute", "forwarding-rules", "list"), self._list_rules),
                (("gcloud", "compute", "forwarding-rules", "delete"), self._delete_rules),
                (("kubectl",), self._kubectl)]

    # ---- project, services, registry --------------------------------------------------------
    def _project(self, words: list[str]) -> str:
        return flag(words, "--project") or self.project

    def _set_project(self, words: list[str]) -> Outcome:
        self.project = words[4] if len(words) > 4 else self.project
        return Outcome(True, "Updated property [core/project].")

    def _enable(self, words: list[str]) -> Outcome:
        return Outcome(True, f"Operation \"operations/acf.p2-{self._digest(' '.join(words))[:8]}\" finished successfully.")

    def _create_repository(self, words: list[str]) -> Outcome:
        name, where = positional(words, 4), flag(words, "--location")
        if flag(words, "--repository-format") != "docker":
            return Outcome(False, "ERROR: an image needs a Docker repository: add --repository-format=docker.")
        key = (self._project(words), where or "", name or "")
        if key in self.state.repositories:
            return Outcome(False, "ERROR: (gcloud.artifacts.repositories.create) ALREADY_EXISTS: the repository already exists")
        self.state.repositories.add(key)
        return Outcome(True, f"Create request issued for: [{name}]\nWaiting for operation to complete...done.\n"
                             f"Created repository [{name}].")

    def _delete_repository(self, words: list[str]) -> Outcome:
        if not self._quiet(words):
            return Outcome(False, f"ERROR: (gcloud.artifacts.repositories.delete) {UNATTENDED}")
        key = (self._project(words), flag(words, "--location") or "", positional(words, 4) or "")
        if key not in self.state.repositories:
            return Outcome(False, f"ERROR: (gcloud.artifacts.repositories.delete) NOT_FOUND: Repository {key[2]!r} "
                                  f"not found in {key[1] or 'no location (give --location)'}.")
        self.state.repositories.discard(key)
        prefix = f"{key[1]}-docker.pkg.dev/{key[0]}/{key[2]}/"
        self.state.pushed = {ref for ref in self.state.pushed if not ref.startswith(prefix)}
        return Outcome(True, f"Deleted repository [{key[2]}].")

    def _configure_docker(self, words: list[str]) -> Outcome:
        hosts = [h for word in words[3:] if not word.startswith("-") for h in word.split(",") if h]
        self.state.docker_hosts.update(hosts)
        return Outcome(True, f"Adding credentials for: {','.join(hosts) or 'all registries'}\n"
                             "Docker configuration file updated.")

    def _docker_build(self, words: list[str]) -> Outcome:
        tags = [w for i, w in enumerate(words) if i and words[i - 1] in ("-t", "--tag")]
        self.state.local_images.update(tags)
        return Outcome(True, "Rehearsal: the image is the course web service lesson 2 built; it is now also tagged "
                             f"{', '.join(tags) or '(no -t: untagged)'}.")

    def _docker_tag(self, words: list[str]) -> Outcome:
        if len(words) != 4:
            return Outcome(False, "docker tag takes two names: docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
        source = words[2] if ":" in words[2].rsplit("/", 1)[-1] else words[2] + ":latest"
        if source not in self.state.local_images:
            return Outcome(False, f"Error response from daemon: No such image: {source}")
        self.state.local_images.add(words[3])
        return Outcome(True, "")

    def _docker_push(self, words: list[str]) -> Outcome:
        ref = words[2] if len(words) == 3 else ""
        parts = _registry_parts(ref)
        if ref not in self.state.local_images:
            return Outcome(False, f"An image does not exist locally with the tag: {ref.rsplit(':', 1)[0]}")
        if parts is None:
            return Outcome(False, f"{ref} is not an Artifact Registry name: LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE:TAG")
        where, project, repository, _ = parts
        host = ref.split("/", 1)[0]
        if host not in self.state.docker_hosts:
            return Outcome(False, f"denied: Unauthenticated request. Unauthenticated requests do not have permission "
                                  f"\"artifactregistry.repositories.uploadArtifacts\" on resource \"projects/{project}/"
                                  f"locations/{where}/repositories/{repository}\" (run gcloud auth configure-docker {host})")
        if (project, where, repository) not in self.state.repositories:
            return Outcome(False, f"name unknown: Repository \"{repository}\" not found (create it in {where} first)")
        self.state.pushed.add(ref)
        for cluster in self.state.clusters.values():
            cluster.sim.push_image(ref)
        digest = self._digest(ref)
        return Outcome(True, f"The push refers to repository [{ref.rsplit(':', 1)[0]}]\n{digest[:12]}: Pushed\n"
                             f"{ref.rsplit(':', 1)[1]}: digest: sha256:{digest} size: 1573")

    # ---- clusters ----------------------------------------------------------------------------
    def _create_cluster(self, words: list[str]) -> Outcome:
        from labkit import kubesim
        name = positional(words, 4) or ""
        autopilot = words[3] == "create-auto"
        kind, where = location(words)
        if where is None:
            return Outcome(False, "ERROR: (gcloud.container.clusters.create) One of [--zone, --region] must be supplied: "
                                  "Please specify location.")
        if name in self.state.clusters:
            return Outcome(False, f"ERROR: (gcloud.container.clusters.create) ResponseError: code=409, message=Already exists: "
                                  f"projects/{self._project(words)}/{kind}s/{where}/clusters/{name}.")
        if autopilot and kind == "zone":
            return Outcome(False, "ERROR: Autopilot clusters are regional: give --region (e.g. --region us-central1).")
        nodes = int(flag(words, "--num-nodes") or 3)
        machine = flag(words, "--machine-type") or "e2-medium"
        total = 3 if autopilot else nodes * (3 if kind == "region" else 1)
        zone = where if kind == "zone" else f"{where}-a"
        sim = kubesim.start(profile="gke", name=name, workers=min(total, MAX_REHEARSAL_NODES), seed=self.seed,
                            project=self._project(words), zone=zone)
        self.state.clusters[name] = _Cluster(name, kind, where, autopilot, total, machine, sim)
        for ref in self.state.pushed:
            sim.push_image(ref)
        self._write_credentials(self.state.clusters[name])
        notes = []
        if machine != "e2-medium":
            notes.append(f"Rehearsal: the emulator's nodes are e2-medium whatever the machine type; Google would give {machine}.")
        if total > MAX_REHEARSAL_NODES:
            notes.append(f"Rehearsal: {MAX_REHEARSAL_NODES} of the {total} nodes are emulated.")
        node_version = kubesim.gkestate.data()["kubernetesVersion"].lstrip("v")
        table = self._table([("NAME", name), ("LOCATION", where), ("MASTER_VERSION", node_version),
                             ("MASTER_IP", "192.0.2.10"), ("MACHINE_TYPE", "e2-medium" if not autopilot else "ek-standard-8"),
                             ("NODE_VERSION", node_version), ("NUM_NODES", str(total)), ("STATUS", "RUNNING")])
        return Outcome(True, "\n".join([f"Creating cluster {name} in {where}...done.",
                                        f"Created [https://container.googleapis.com/v1/projects/{self._project(words)}/"
                                        f"{kind}s/{where}/clusters/{name}].",
                                        f"kubeconfig entry generated for {name}.", table, *notes]))

    def _find(self, words: list[str]) -> tuple[_Cluster | None, str]:
        name = positional(words, 4) or ""
        kind, where = location(words)
        cluster = self.state.clusters.get(name)
        if where is None:
            return None, "One of [--zone, --region] must be supplied: Please specify location."
        if cluster is None or cluster.where != where:
            return None, (f"ResponseError: code=404, message=Not found: projects/{self._project(words)}/{kind}s/{where}/"
                          f"clusters/{name}. Could not find [{name}] in [{where}].")
        return cluster, ""

    def _get_credentials(self, words: list[str]) -> Outcome:
        cluster, error = self._find(words)
        if cluster is None:
            return Outcome(False, f"ERROR: (gcloud.container.clusters.get-credentials) {error}")
        self._write_credentials(cluster)
        return Outcome(True, f"Fetching cluster endpoint and auth data.\nkubeconfig entry generated for {cluster.name}.")

    def _write_credentials(self, cluster: _Cluster) -> None:
        """Merge the cluster's context into the rehearsal's kubeconfig and make it current, as gcloud does."""
        config = yaml.safe_load(open(self.kubeconfig)) if os.path.exists(self.kubeconfig) else None
        config = config or {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
        own = yaml.safe_load(open(cluster.sim.kubeconfig))
        for section in ("clusters", "users", "contexts"):
            names = {entry["name"] for entry in own[section]}
            config[section] = [e for e in config[section] if e["name"] not in names] + own[section]
        config["current-context"] = cluster.sim.context
        with open(self.kubeconfig, "w") as out:
            yaml.safe_dump(config, out, sort_keys=False)
        os.environ["KUBECONFIG"] = self.kubeconfig

    def _list_clusters(self, words: list[str]) -> Outcome:
        if not self.state.clusters:
            return Outcome(True, "Listed 0 items.")
        rows = [("NAME", "LOCATION", "NUM_NODES", "STATUS")] + [(c.name, c.where, str(c.nodes), "RUNNING")
                                                                 for c in self.state.clusters.values()]
        return Outcome(True, self._columns(rows))

    def _delete_cluster(self, words: list[str]) -> Outcome:
        if not self._quiet(words):
            return Outcome(False, f"ERROR: (gcloud.container.clusters.delete) {UNATTENDED}")
        cluster, error = self._find(words)
        if cluster is None:
            return Outcome(False, f"ERROR: (gcloud.container.clusters.delete) {error}")
        left = self._load_balancers(cluster)
        self.state.left_rules += left
        cluster.sim.stop()
        del self.state.clusters[cluster.name]
        said = [f"Deleting cluster {cluster.name}...done.",
                f"Deleted [https://container.googleapis.com/v1/projects/{self.project}/{cluster.kind}s/{cluster.where}/"
                f"clusters/{cluster.name}]."]
        if left:
            said.append(f"Rehearsal: {len(left)} LoadBalancer Service(s) still existed. GKE attempts to delete their load "
                        "balancers, but deletion is not guaranteed: check with gcloud compute forwarding-rules list.")
        return Outcome(True, "\n".join(said))

    def _load_balancers(self, cluster: _Cluster) -> list[str]:
        """The forwarding rules of a cluster's LoadBalancer Services, named as GKE names them ("a" + the uid)."""
        from labkit.kubesim import resources
        services = cluster.sim.store.list(resources.get("/services"))[0]
        return [("a" + s["metadata"]["uid"].replace("-", ""))[:32] for s in services
                if s["spec"].get("type") == "LoadBalancer" and (s.get("status") or {}).get("loadBalancer", {}).get("ingress")]

    def _list_rules(self, words: list[str]) -> Outcome:
        rules = [(rule, "running cluster") for c in self.state.clusters.values() for rule in self._load_balancers(c)]
        rules += [(rule, "left by a deleted cluster") for rule in self.state.left_rules]
        if not rules:
            return Outcome(True, "Listed 0 items.")
        return Outcome(True, self._columns([("NAME", "OWNER")] + rules))

    def _delete_rules(self, words: list[str]) -> Outcome:
        if not self._quiet(words):
            return Outcome(False, f"ERROR: (gcloud.compute.forwarding-rules.delete) {UNATTENDED}")
        names = [w for w in words[4:] if not w.startswith("-") and w != flag(words, "--region")]
        gone = [n for n in names if n in self.state.left_rules]
        self.state.left_rules = [r for r in self.state.left_rules if r not in names]
        return Outcome(bool(gone), "\n".join(f"Deleted forwarding rule [{n}]." for n in gone) or "Nothing was deleted.")

    def _kubectl(self, words: list[str]) -> Outcome:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            return Outcome(False, "kubectl is not installed on this machine (on Binder it comes from conda-forge).")
        done = subprocess.run([kubectl, *words[1:]], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "KUBECONFIG": self.kubeconfig}, stdin=subprocess.DEVNULL)
        return Outcome(done.returncode == 0, (done.stdout + done.stderr).rstrip())

    # ---- the internet and the bill ---------------------------------------------------------------
    def call(self, url: str) -> Outcome:
        """GET ``url`` as a browser on the internet would: the body, or why nothing answered."""
        if self.really:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    return Outcome(True, answer.read().decode(errors="replace").rstrip())
            except (urllib.error.URLError, OSError) as error:
                return Outcome(False, f"Nothing answered at {url}: {error}")
        for cluster in self.state.clusters.values():
            try:
                status, _, body = cluster.sim.call_from_internet(url)
            except ConnectionError as error:
                reason = str(error)
                continue
            return Outcome(status < 400, body.decode(errors="replace").rstrip())
        return Outcome(False, reason if self.state.clusters else f"Nothing answered at {url}: no cluster is running.")

    def bill(self) -> Outcome:
        """What is billing now, per hour and per month, at the prices of :mod:`labkit.gke_costs`."""
        parts: list[str] = []
        total = 0.0
        for cluster in self.state.clusters.values():
            balancers = len(self._load_balancers(cluster))
            if cluster.autopilot:
                estimate = gke_costs.autopilot_estimate(self._pod_requests(cluster), load_balancers=balancers)
            else:
                machine = cluster.machine_type if cluster.machine_type in gke_costs.PRICES["machine_per_hour"]["usd"] else "e2-medium"
                estimate = gke_costs.standard_estimate(cluster.nodes // (3 if cluster.kind == "region" else 1), machine,
                                                       regional=cluster.kind == "region", load_balancers=balancers)
            parts.append(f"Cluster {cluster.name} ({estimate.mode}, {cluster.where}):\n{estimate.table()}")
            total += estimate.per_month
        if self.state.left_rules:
            monthly = len(self.state.left_rules) * gke_costs.PRICES["forwarding_rule_per_hour"]["usd"] * gke_costs.HOURS_PER_MONTH
            parts.append(f"{len(self.state.left_rules)} forwarding rule(s) a deleted cluster may have left: {monthly:.2f} a month")
            total += monthly
        if self.state.pushed:
            monthly = gke_costs.registry_monthly(len(self.state.pushed) * IMAGE_GB)
            parts.append(f"Artifact Registry: {len(self.state.pushed)} image(s), about {len(self.state.pushed) * IMAGE_GB:.2f} GB "
                         f"stored: {monthly:.2f} a month (the first 0.5 GB is free)")
        if self.state.repositories and not parts:
            parts.append(f"{len(self.state.repositories)} empty repository(ies): nothing stored, nothing billed")
        if not parts:
            return Outcome(True, "Nothing is billing.")
        return Outcome(True, "\n\n".join(parts + [f"In all: about {total:.2f} USD a month if left running."]))

    def _pod_requests(self, cluster: _Cluster) -> list[tuple[float, float]]:
        from labkit.kubesim import quantity, resources
        pods = []
        for pod in cluster.sim.store.list(resources.get("/pods"))[0]:
            if pod["metadata"]["namespace"] in ("kube-system", "gmp-system", "gke-managed-system"):
                continue   # Autopilot does not bill system pods
            cpu = memory = 0.0
            for container in pod["spec"].get("containers") or []:
                requests = (container.get("resources") or {}).get("requests") or {}
                cpu += quantity.parse(requests.get("cpu", "500m"))              # Autopilot's defaults
                memory += quantity.parse(requests.get("memory", "2Gi")) / 1e9
            pods.append((cpu, memory))
        return pods

    def connect(self) -> Any:
        """The official client's APIs for the cluster whose credentials were fetched last (``labkit.cluster.connect``)."""
        from labkit import cluster
        if self.really:
            return cluster.connect(prefer="kubeconfig")
        if not os.path.exists(self.kubeconfig):
            raise RuntimeError("No credentials yet: run gcloud container clusters get-credentials NAME --zone ZONE first.")
        connection = cluster.connect(kubeconfig=self.kubeconfig, prefer="kubeconfig", quiet=True)
        print(f"You are on the rehearsal's GKE-like cluster (context {connection.context}): the course's emulator, "
              "not Google Cloud.")
        return connection

    def close(self) -> None:
        """Stop every rehearsal cluster (nothing of a real project is touched) and point ``$KUBECONFIG``
        back where it pointed before the rehearsal wrote its own."""
        for cluster in self.state.clusters.values():
            cluster.sim.stop()
        if not self.really and os.environ.get("KUBECONFIG") == self.kubeconfig:
            if self._kubeconfig_before is None:
                os.environ.pop("KUBECONFIG", None)
            else:
                os.environ["KUBECONFIG"] = self._kubeconfig_before

    # ---- for real ------------------------------------------------------------------------------
    def _for_real(self, words: list[str]) -> Outcome:
        program = shutil.which(words[0])
        if program is None:
            return Outcome(False, f"{words[0]} is not installed on this machine, so the command did not run.")
        try:
            done = subprocess.run([program, *words[1:]], capture_output=True, text=True, timeout=1800, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome(False, f"`{' '.join(words[:4])}` took more than 30 minutes; check the Cloud console for its state.")
        return Outcome(done.returncode == 0, (done.stdout + done.stderr).rstrip())

    # ---- small things ----------------------------------------------------------------------------
    @staticmethod
    def _quiet(words: list[str]) -> bool:
        return "--quiet" in words or "-q" in words

    def _digest(self, text: str) -> str:
        return hashlib.sha256(f"{self.seed}/{text}".encode()).hexdigest()

    @staticmethod
    def _columns(rows: list[tuple[str, ...]]) -> str:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)

    def _table(self, pairs: list[tuple[str, str]]) -> str:
        return self._columns([tuple(k for k, _ in pairs), tuple(v for _, v in pairs)])


def zone_or_region_note(where: str) -> str:
    """One sentence on what a location means for a cluster (a zone: one data centre; a region: three)."""
    if region_of(where):
        return f"{where} is a zone: the control plane and nodes live in one data centre (the free tier covers its fee)."
    return f"{where} is a region: the control plane is replicated and the nodes are spread over three zones."
