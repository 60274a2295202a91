"""autograder/k8s/: the manifests are valid Kubernetes objects, and the Indexed Job's
shard-and-merge path, run locally exactly as its pods run it, covers every submission
once and fills the gradebook exactly as a single-machine run does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, nbgrader_env, skip_unless_ci

from autograder import cohort
from autograder.course import Course
from autograder.grade import GradeOptions, grade, shard_of

K8S = REPO_ROOT / "autograder" / "k8s"
KINDS = {"job.yaml": "Job", "merge-job.yaml": "Job", "pvc.yaml": "PersistentVolumeClaim",
         "networkpolicy.yaml": "NetworkPolicy"}


def manifest(name: str) -> dict:
    return yaml.safe_load((K8S / name).read_text())


@pytest.mark.parametrize("name", sorted(KINDS))
def test_manifest_is_a_valid_object_for_the_official_client(name: str) -> None:
    from kubernetes import client

    document = manifest(name)
    assert document["kind"] == KINDS[name]
    model = getattr(client, f"V1{document['kind']}")
    obj = client.ApiClient()._ApiClient__deserialize(document, model.__name__)  # the client's own models
    assert obj.metadata.name == document["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_manifest_passes_the_kubernetes_schema(name: str) -> None:
    try:
        import kubernetes_validate
    except ImportError:
        skip_unless_ci("kubernetes-validate is not installed (pip install kubernetes-validate)")
    kubernetes_validate.validate(manifest(name), "1.36.0", strict=True)


def test_the_job_is_indexed_and_its_shard_count_matches() -> None:
    job = manifest("job.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["SHARD_COUNT"]) == spec["completions"]
    assert container["command"][:4] == ["python", "-m", "autograder", "shard"]
    claims = {v["persistentVolumeClaim"]["claimName"] for v in spec["template"]["spec"]["volumes"]
              if "persistentVolumeClaim" in v}
    assert claims == {manifest("pvc.yaml")["metadata"]["name"]}
    assert manifest("networkpolicy.yaml")["spec"]["egress"] == []


def test_shards_are_disjoint_and_complete() -> None:
    students = [f"s{i:03d}" for i in range(23)]
    for count in (1, 2, 4, 7, 30):
        shards = [shard_of(students, k, count) for k in range(count)]
        flat = [s for shard in shards for s in shard]
        assert sorted(flat) == students and len(flat) == len(set(flat))


def _as_pod(command: list[str], course: Path) -> list[str]:
    """The container's command, with the volume's mount point replaced by the local course."""
    return [part.replace("/course", str(course)) for part in command]


@pytest.fixture(scope="module")
def graded_both_ways(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if os.geteuid() != 0:
        skip_unless_ci("the autograder's isolation needs root (CI runs as root)")
    single = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("single"))
    students = cohort.normal_cohort(single, 5)
    shared = tmp_path_factory.mktemp("volume")
    shutil.copytree(single, shared, dirs_exist_ok=True)
    grade(Course.open(single), cohort.ASSIGNMENT, GradeOptions(jobs=2, progress=False))

    job = manifest("job.yaml")
    container = job["spec"]["template"]["spec"]["containers"][0]
    count = job["spec"]["completions"]
    env = nbgrader_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update({e["name"]: e["value"] for e in container["env"]})
    pods = []
    for index in range(count):  # the pods, all at once, like parallelism: completions
        pod_env = dict(env, JOB_COMPLETION_INDEX=str(index))
        pods.append(subprocess.Popen(_as_pod(container["command"], shared), cwd=shared, env=pod_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     executable=sys.executable))
    for pod in pods:
        out, err = pod.communicate(timeout=600)
        assert pod.returncode == 0, err
    results = sorted((shared / "autograder-shards").glob("shard-*/*.json"))
    gradebook_before_merge = cohort.gradebook_scores(shared)

    merge = manifest("merge-job.yaml")["spec"]["template"]["spec"]["containers"][0]
    result = subprocess.run(_as_pod(merge["command"], shared), cwd=shared, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    return {"single": single, "shared": shared, "students": students, "results": results, "count": count,
            "before": gradebook_before_merge}


def test_every_submission_is_graded_by_exactly_one_shard(graded_both_ways: dict) -> None:
    names = [p.stem for p in graded_both_ways["results"]]
    assert sorted(names) == sorted(graded_both_ways["students"])
    shards = {p.parent.name for p in graded_both_ways["results"]}
    assert shards <= {f"shard-{k}" for k in range(graded_both_ways["count"])}


def test_shards_leave_the_gradebook_to_the_merge(graded_both_ways: dict) -> None:
    assert graded_both_ways["before"] == {}


def test_merge_equals_a_single_machine_run(graded_both_ways: dict) -> None:
    merged = cohort.gradebook_scores(graded_both_ways["shared"])
    single = cohort.gradebook_scores(graded_both_ways["single"])
    assert merged == single and set(merged) == set(graded_both_ways["students"])
    grades = graded_both_ways["shared"] / f"grades-{cohort.ASSIGNMENT}.csv"
    assert grades.exists() and len(grades.read_text().splitlines()) == len(graded_both_ways["students"]) + 1
