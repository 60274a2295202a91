"""The Kubernetes lessons run unchanged on kind: the same cells on a real cluster as on the emulator.

Their cells that talk to the cluster may use only the public Kubernetes API (the official client,
kubectl) and `labkit.cluster_clock` (cluster time: at once on the emulator, waited for on kind). We
check the source for emulator-only calls, and run each lesson against an emulator reached *through a
kubeconfig whose context is named like kind's*, so `connect()` takes it for a real cluster and no
emulator handle exists in the notebook at all. That run checks what each lesson must print there
(LESSONS), and is also the lesson's one run in the suite: it checks what tests/test_notebooks_run.py
checks for every other notebook (tests/notebook_checks.py: no error output, passing test cells
print nothing, every ``{"claims": {"in_output_above": [...]}}`` met), and that module leaves these
lessons out. Like every lesson run it is the learner's edition's copy, with the edition's labkit.
"""
from __future__ import annotations

import re

import nbformat
import pytest
import yaml

from conftest import REPO_ROOT
from notebook_checks import assert_ran_as_promised, run_lesson_in_edition

EMULATOR_ONLY = re.compile(r"kubesim|\.emulator\b|\.advance\(|\.store\b|stop_node|start_node|set_load|load_image|\bsim\.")

# lesson -> what its run on the kind-looking cluster must print (beside "You are on a real Kubernetes cluster");
# a lesson named here is run only here (tests/test_notebooks_run.py leaves it out)
LESSONS = {
    "03-kubernetes-hierarchy": {"texts": ["deployment.apps/hello created"], "counts": {"all containers ready": 6}},
    "04-health-discovery-config": {"texts": ["deployment.apps/web created", "CrashLoopBackOff", "Forbidden",
                                             "Hello from the new ConfigMap"], "counts": {}},
    "05-scaling-and-availability": {
        "texts": ["deployment.apps/web created",
                  "New size: 5; reason: cpu resource utilization (percentage of request) above target",
                  "TooManyReplicas", "New size: 1; reason: All metrics below target", "agree at every sync",
                  "didn't match pod anti-affinity rules", "Ready=Unknown", "Kubelet stopped posting node status.",
                  "TaintManagerEviction", "HTTP 429", "will retry after 5s", "drained", "calls, 0 failed",
                  "exceeded its progress deadline", "ImagePullBackOff", "rolled back"],
        "counts": {"successfully rolled out": 3}},
    "06-deploy-to-gke": {
        "texts": ["deployment.apps/web created", "<pending>", "NoLoadBalancer", "Hello from the web-config ConfigMap",
                  "denied: Unauthenticated request", "Created repository [course]", "did you mean '--num-nodes'?",
                  "kubeconfig entry generated for cloud-kubernetes", "gke_labkit-rehearsal_us-central1-a_cloud-kubernetes",
                  "EnsuredLoadBalancer", "external IP: 203.0.113.", "course-webapp:v2", "Listed 0 items.",
                  "Deleting cluster cloud-kubernetes...done.", "Nothing is billing.", "deploy: no problems",
                  "teardown: no problems", "kind-course"],
        "counts": {"successfully rolled out": 3, "Hello from the web-config ConfigMap": 2}},
}


def lesson(name: str):
    return nbformat.read(REPO_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_lesson_cells_use_no_emulator_only_calls(name: str) -> None:
    for cell in lesson(name).cells:
        if cell.cell_type != "code":
            continue
        assert not EMULATOR_ONLY.search(cell.source), f"an emulator-only call in a cell of {name}:\n{cell.source}"
        if "practice_cluster" in cell.source or "big." in cell.source:
            # lesson 3's one deliberately emulator-only demo (hundreds of nodes) never touches the learner's cluster
            assert "k8s" not in cell.source, cell.source


@pytest.mark.parametrize("name", sorted(LESSONS))
def test_lesson_runs_against_a_cluster_that_looks_real(name: str, tmp_path, monkeypatch, edition_to_run) -> None:
    """The lesson, run where connect() finds a kubeconfig context `kind-course` (an emulator behind it).

    Its one run in the suite, so it also checks what tests/test_notebooks_run.py checks of a run.
    """
    from labkit import kubesim

    kubeconfig = tmp_path / "kubeconfig"
    sim = kubesim.start(kubeconfig=kubeconfig, seed=5)
    try:
        assert yaml.safe_load(kubeconfig.read_text())["current-context"] == "kubesim-course"
        kubeconfig.write_text(kubeconfig.read_text().replace("kubesim-course", "kind-course"))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.setenv("LABKIT_CLUSTER", "kubeconfig")
        monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kubecache"))
        notebook = run_lesson_in_edition(edition_to_run, name, monkeypatch)
    finally:
        sim.stop()
    assert_ran_as_promised(notebook, f"{name}.ipynb")
    printed = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "You are on a real Kubernetes cluster" in printed and "on a real cluster | kubeconfig context: kind-course" in printed
    for text in LESSONS[name]["texts"]:
        assert text in printed, f"{name} on the kind-looking cluster did not print {text!r}"
    for text, at_least in LESSONS[name]["counts"].items():
        assert printed.count(text) >= at_least, f"{name}: {text!r} {printed.count(text)} times, expected {at_least} or more"
