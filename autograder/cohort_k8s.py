"""A synthetic cohort of assignment 3 (the cluster -> node -> pod -> container hierarchy).

Why its own module: assignment 3 is the one whose test cells start practice clusters (about
nineteen per submission, visible and hidden), so it is where grading costs most and where
building each cluster once per run pays; `bench/autograde --assignment 03-kubernetes-hierarchy`
and the tests grade this cohort. The same interface as :mod:`autograder.cohort` (the cohort of
assignment 1): `make_course`, `normal_cohort` (a deterministic mix of right, wrong and untouched
answers, so scores differ), `learner_version`, `with_prefix`, `write`, `solved`, `released`.
The wrong answers are the mistakes the questions warn about, each failing its exercise's tests.
"""

from __future__ import annotations

from pathlib import Path


from autograder import cohort
from autograder.cohort import gradebook_scores

__all__ = ["ASSIGNMENT", "NOTEBOOK", "EXERCISES", "WRONG", "make_course", "solved", "released", "learner_version",
           "write", "normal_cohort", "with_prefix", "gradebook_scores"]

ASSIGNMENT = "03-kubernetes-hierarchy"
NOTEBOOK = "kubernetes-hierarchy"
EXERCISES = ("roles", "pods", "containers", "ips", "tree", "drain")

WRONG = {
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


def make_course(repo_root: Path, target: Path) -> Path:
    """A scratch course with the repository's config and source/, and a fresh gradebook for assignment 3."""
    return cohort.make_course(repo_root, target, ASSIGNMENT)


def solved(course: Path):
    return cohort.solved(course, ASSIGNMENT, NOTEBOOK)


def released(course: Path):
    return cohort.released(course, ASSIGNMENT, NOTEBOOK)


def learner_version(course: Path, choices: dict[str, str]):
    """A submission with each exercise `right`, `wrong` or `stub` (untouched)."""
    return cohort.learner_version(course, choices, ASSIGNMENT, NOTEBOOK, EXERCISES, WRONG)


def write(course: Path, student: str, nb) -> Path:
    return cohort.write(course, student, nb, ASSIGNMENT, NOTEBOOK)


def normal_cohort(course: Path, count: int) -> list[str]:
    """`count` learners with a deterministic mix of right, wrong and untouched answers (every
    fourth one all right, as in assignment 1's cohort)."""
    students = []
    for i in range(count):
        choices = {ex: ("right", "wrong", "stub")[(i * (k + 2) + k) % 3 if i % 4 else 0] for k, ex in enumerate(EXERCISES)}
        student = f"learner{i:03d}"
        write(course, student, learner_version(course, choices))
        students.append(student)
    return students


def with_prefix(course: Path, exercise: str, prefix: str):
    """A submission with every answer right and `prefix` run first in one answer cell."""
    return cohort.prefixed(learner_version(course, {}), exercise, prefix)
