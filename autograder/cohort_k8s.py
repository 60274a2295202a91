"""Synthetic cohorts of the assignments whose test cells start practice clusters (3, 4 and 5).

Why a module of its own: assignment 3 (the cluster -> node -> pod -> container hierarchy) starts about
nineteen API-only practice clusters per submission, assignment 4 (health, discovery, configuration) a
dozen live ones (controllers on a frozen clock, built without a cache), assignment 5 (scaling and
availability) a few live ones with rollouts, drains and zone failures, beside hundreds of HPA cases: that is
where grading costs most. `bench/autograde --assignment 03-kubernetes-hierarchy` (or
`04-health-discovery-config`, `05-scaling-and-availability`) and the tests
grade these cohorts. Each :class:`ClusterCohort` has the interface of :mod:`autograder.cohort` (the cohort
of assignment 1, a module; hence the upper-case names): `ASSIGNMENT`, `make_course`, `normal_cohort` (a
deterministic mix of right, wrong and untouched answers, so scores differ), `learner_version`,
`with_prefix`, `write`, `solved`, `released`. The wrong answers are the mistakes the questions warn
about, each failing its exercise's tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder import cohort
from autograder.cohort import gradebook_scores

__all__ = ["ClusterCohort", "HIERARCHY", "HEALTH", "SCALING", "DEPLOY", "gradebook_scores"]

HIERARCHY_WRONG = {
    # every node called a worker: the control plane's label is not read
    "roles": "def nodes_and_roles(core) -> dict:\n    return {node.metadata.name: 'worker' for node in core.list_node().items}\n",
    # keys only for nodes that run a pod: a node with no pod is missing
    "pods": ("def pods_per_node(core) -> dict:\n    result = {}\n"
             "    for pod in core.list_pod_for_all_namespaces().items:\n        if pod.spec.node_name:\n"
             "            result.setdefault(pod.spec.node_name, []).append(f'{pod.metadata.namespace}/{pod.metadata.name}')\n"
             "    return {node: sorted(pods) for node, pods in result.items()}\n"),
    # statuses matched to containers by position, not by name
    "containers": ("def containers_of(core, namespace: str, name: str) -> list:\n"
                   "    pod = core.read_namespaced_pod(name, namespace)\n"
                   "    statuses = pod.status.container_statuses or []\n    out = []\n"
                   "    for i, c in enumerate(pod.spec.containers):\n        s = statuses[i] if i < len(statuses) else None\n"
                   "        out.append({'name': c.name, 'image': c.image, 'ready': bool(s and s.ready),\n"
                   "                    'restarts': s.restart_count if s else 0})\n    return out\n"),
    "ips": None,  # keeps the stub
    # the node's pods without the pods that have no IP yet, and no node without pods
    "tree": ("def hierarchy(core) -> dict:\n    tree = {}\n    for pod in core.list_pod_for_all_namespaces().items:\n"
             "        if pod.spec.node_name and pod.status.pod_ip:\n"
             "            tree.setdefault(pod.spec.node_name, {'role': 'worker', 'ip': None, 'pods': {}})['pods'][\n"
             "                f'{pod.metadata.namespace}/{pod.metadata.name}'] = {'ip': pod.status.pod_ip, 'phase': pod.status.phase,\n"
             "                'containers': {c.name: c.image for c in pod.spec.containers}}\n    return tree\n"),
    # DaemonSet pods left out, but static (mirror) pods evicted too
    "drain": ("def drain_evicts(core, node: str) -> list:\n"
              "    pods = core.list_pod_for_all_namespaces(field_selector=f'spec.nodeName={node}').items\n"
              "    return sorted(f'{p.metadata.namespace}/{p.metadata.name}' for p in pods\n"
              "                  if not any(o.kind == 'DaemonSet' for o in p.metadata.owner_references or []))\n"),
}

HEALTH_WRONG = {
    # the readiness probe asks /healthz, not /readyz
    "probes": ("def web_deployment(name: str, replicas: int, startup_seconds: int) -> dict:\n"
               "    probe = lambda path, period, **extra: {'httpGet': {'path': path, 'port': 8080}, 'periodSeconds': period, **extra}\n"
               "    labels = {'app': name}\n"
               "    container = {'name': 'web', 'image': WEB_IMAGE, 'ports': [{'containerPort': 8080}],\n"
               "                 'startupProbe': probe('/healthz', 2, failureThreshold=math.ceil(startup_seconds / 2)),\n"
               "                 'livenessProbe': probe('/healthz', 10, failureThreshold=3), 'readinessProbe': probe('/healthz', 5)}\n"
               "    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name},\n"
               "            'spec': {'replicas': replicas, 'selector': {'matchLabels': labels},\n"
               "                     'template': {'metadata': {'labels': labels}, 'spec': {'containers': [container]}}}}\n"),
    # the phase taken for the reason
    "diagnose": ("def diagnose(core, namespace: str) -> dict:\n"
                 "    return {p.metadata.name: p.status.phase for p in core.list_namespaced_pod(namespace).items}\n"),
    # every endpoint, ready or not
    "serving": ("def serving_pods(discovery, namespace: str, service: str) -> list:\n"
                "    slices = discovery.list_namespaced_endpoint_slice(namespace, label_selector=f'kubernetes.io/service-name={service}')\n"
                "    return sorted(e.target_ref.name for s in slices.items for e in s.endpoints or [])\n"),
    "discovery": None,  # keeps the stub
    # the password written into the pod
    "config": ("def web_config(greeting: str, environment: str, password: str) -> list:\n"
               "    return [{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'web-config'},\n"
               "             'data': {'APP_GREETING': greeting, 'APP_ENV': environment}},\n"
               "            {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'web-secret'}, 'type': 'Opaque',\n"
               "             'data': {'DB_PASSWORD': base64.b64encode(password.encode()).decode()}},\n"
               "            {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'web'}, 'spec': {'containers': [{\n"
               "                'name': 'web', 'image': WEB_IMAGE, 'envFrom': [{'configMapRef': {'name': 'web-config'}}],\n"
               "                'env': [{'name': 'DB_PASSWORD', 'value': password}]}]}}]\n"),
    # every Secret of the namespace (no resourceNames)
    "rbac": ("def secret_reader(namespace: str, service_account: str, secret: str) -> list:\n"
             "    name = f'read-{secret}'\n"
             "    return [{'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'Role', 'metadata': {'name': name},\n"
             "             'rules': [{'apiGroups': [''], 'resources': ['secrets'], 'verbs': ['get']}]},\n"
             "            {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'RoleBinding', 'metadata': {'name': name},\n"
             "             'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'Role', 'name': name},\n"
             "             'subjects': [{'kind': 'ServiceAccount', 'name': service_account, 'namespace': namespace}]}]\n"),
}

SCALING_WRONG = {
    # the formula on every pod as it is: no tolerance, no missing or unready pods set aside
    "hpa": ("def hpa_replicas(current_replicas: int, pods: list, target_utilization: int) -> int:\n"
            "    used = sum(p['cpu_usage_m'] or 0 for p in pods) * 100 / sum(p['cpu_request_m'] for p in pods)\n"
            "    return math.ceil(current_replicas * used / target_utilization)\n"),
    "behavior": None,  # keeps the stub
    # both percentages rounded down (surge rounds up)
    "rollout": ("def rollout_bounds(replicas: int, max_surge, max_unavailable) -> dict:\n"
                "    count = lambda v: v if isinstance(v, int) else int(v.rstrip('%')) * replicas // 100\n"
                "    return {'max_pods': replicas + count(max_surge), 'min_available': replicas - count(max_unavailable)}\n"),
    # one pod fewer than must serve
    "budget": ("def disruption_budget(name: str, app: str, replicas: int, must_serve: int) -> dict:\n"
               "    return {'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget', 'metadata': {'name': name},\n"
               "            'spec': {'minAvailable': must_serve - 1, 'selector': {'matchLabels': {'app': app}}}}\n"),
    # spread by node only: a zone can hold most replicas
    "spread": ("def spread_deployment(name: str, replicas: int, zones: list) -> dict:\n"
               "    labels = {'app': name}\n"
               "    spread = {'maxSkew': 1, 'topologyKey': 'kubernetes.io/hostname', 'whenUnsatisfiable': 'DoNotSchedule',\n"
               "              'labelSelector': {'matchLabels': labels}}\n"
               "    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': name},\n"
               "            'spec': {'replicas': replicas, 'selector': {'matchLabels': labels}, 'template': {'metadata': {'labels': labels},\n"
               "                     'spec': {'topologySpreadConstraints': [spread], 'containers': [{'name': 'web', 'image': WEB_IMAGE}]}}}}\n"),
}
DEPLOY_WRONG = {
    # pushes before Docker may log in to the registry
    "deploy": ("def deploy_commands(project: str, region: str, zone: str, repository: str, image: str, tag: str) -> list:\n"
               "    ref = f'{region}-docker.pkg.dev/{project}/{repository}/{image}:{tag}'\n"
               "    here = f'--zone {zone} --project {project}'\n"
               "    return [f'docker tag {image}:{tag} {ref}', f'docker push {ref}',\n"
               "            f'gcloud artifacts repositories create {repository} --repository-format=docker '\n"
               "            f'--location={region} --project {project}',\n"
               "            f'gcloud auth configure-docker {region}-docker.pkg.dev --quiet',\n"
               "            f'gcloud container clusters create cloud-kubernetes {here}',\n"
               "            f'gcloud container clusters get-credentials cloud-kubernetes {here}', 'kubectl apply -f web.yaml']\n"),
    "manifests": None,  # keeps the stub
    # the free tier taken off a regional cluster's fee too
    "cost": ("def monthly_cost(shape: dict, prices: dict) -> dict:\n"
             "    hours = 730\n"
             "    fee = max(0.0, prices['cluster_fee_per_hour'] * hours - prices['free_tier_per_month'])\n"
             "    if shape['mode'] == 'Standard':\n"
             "        compute = shape['nodes'] * prices['machine_per_hour'][shape['machine_type']] * hours\n"
             "    else:\n"
             "        compute = sum(p['replicas'] * (p['cpu'] * prices['autopilot_vcpu_per_hour'] + p['memory_gib'] *\n"
             "                      prices['autopilot_gib_per_hour']) * hours for p in shape['pods'])\n"
             "    rules = shape['load_balancers'] * prices['forwarding_rule_per_hour'] * hours\n"
             "    bill = {'cluster_fee': round(fee, 2), 'compute': round(compute, 2), 'load_balancers': round(rules, 2)}\n"
             "    bill['total'] = round(sum(bill.values()), 2)\n"
             "    return bill\n"),
    # deletes the cluster first: the Services' load balancers may be left billing
    "teardown": ("def teardown_commands(project: str, region: str, zone: str, repository: str, services: list) -> list:\n"
                 "    return [f'gcloud container clusters delete cloud-kubernetes --zone {zone} --project {project} --quiet',\n"
                 "            *[f'kubectl delete service {name}' for name in services],\n"
                 "            f'gcloud artifacts repositories delete {repository} --location={region} --project {project} --quiet']\n"),
    # always Autopilot
    "mode": "def choose_mode(needs: dict) -> dict:\n    return {'mode': 'Autopilot', 'reasons': []}\n",
}


@dataclass(frozen=True)
class ClusterCohort:
    """One assignment's synthetic cohort: what :mod:`autograder.cohort` is for assignment 1."""

    ASSIGNMENT: str
    NOTEBOOK: str
    EXERCISES: tuple[str, ...]
    WRONG: dict

    def make_course(self, repo_root: Path, target: Path) -> Path:
        """A scratch course with the repository's config and source/, and a fresh gradebook for the assignment."""
        return cohort.make_course(repo_root, target, self.ASSIGNMENT)

    def solved(self, course: Path):
        return cohort.solved(course, self.ASSIGNMENT, self.NOTEBOOK)

    def released(self, course: Path):
        return cohort.released(course, self.ASSIGNMENT, self.NOTEBOOK)

    def learner_version(self, course: Path, choices: dict[str, str]):
        """A submission with each exercise `right`, `wrong` or `stub` (untouched)."""
        return cohort.learner_version(course, choices, self.ASSIGNMENT, self.NOTEBOOK, self.EXERCISES, self.WRONG)

    def write(self, course: Path, student: str, nb) -> Path:
        return cohort.write(course, student, nb, self.ASSIGNMENT, self.NOTEBOOK)

    def normal_cohort(self, course: Path, count: int) -> list[str]:
        """`count` learners with a deterministic mix of right, wrong and untouched answers (every
        fourth one all right, as in assignment 1's cohort)."""
        students = []
        for i in range(count):
            choices = {ex: ("right", "wrong", "stub")[(i * (k + 2) + k) % 3 if i % 4 else 0] for k, ex in enumerate(self.EXERCISES)}
            student = f"learner{i:03d}"
            self.write(course, student, self.learner_version(course, choices))
            students.append(student)
        return students

    def with_prefix(self, course: Path, exercise: str, prefix: str):
        """A submission with every answer right and `prefix` run first in one answer cell."""
        return cohort.prefixed(self.learner_version(course, {}), exercise, prefix)


HIERARCHY = ClusterCohort("03-kubernetes-hierarchy", "kubernetes-hierarchy",
                          ("roles", "pods", "containers", "ips", "tree", "drain"), HIERARCHY_WRONG)
HEALTH = ClusterCohort("04-health-discovery-config", "health-discovery-config",
                       ("probes", "diagnose", "serving", "discovery", "config", "rbac"), HEALTH_WRONG)
SCALING = ClusterCohort("05-scaling-and-availability", "scaling-and-availability",
                        ("hpa", "behavior", "rollout", "budget", "spread"), SCALING_WRONG)
DEPLOY = ClusterCohort("06-deploy-to-gke", "deploy-to-gke", ("deploy", "manifests", "cost", "teardown", "mode"), DEPLOY_WRONG)
