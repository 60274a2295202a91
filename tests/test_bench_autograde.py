"""`bench/autograde` keeps working: a tiny cohort, every figure printed, scores identical.

The figures themselves are not asserted (they are measured, not promised: see the
README); this only makes sure the benchmark can be rerun by anyone, for assignment 1 and for
assignment 3 (whose test cells start practice clusters), and that the per-submission cost
split is read from the records when the grader writes one.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, nbgrader_env, skip_unless_ci

FIGURES = ("nbgrader autograde", "autograder grade", "throughput ratio", "no fork server", "notebook alone",
           "identical scores   : yes", "per submission", "cost split", "looping submission")


def bench_module():
    loader = importlib.machinery.SourceFileLoader("bench_autograde", str(REPO_ROOT / "bench" / "autograde"))
    spec = importlib.util.spec_from_loader("bench_autograde", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# Assignment 3 leaves out the comparisons that do not depend on the assignment (assignment 1 runs them).
@pytest.mark.parametrize("assignment, skipped", [("01-vms-and-containers", ()),
                                                 ("03-kubernetes-hierarchy", ("unforked", "alone", "looping"))],
                         ids=["01-vms-and-containers", "03-kubernetes-hierarchy"])
def test_the_autograde_benchmark_runs_and_scores_agree(assignment, skipped) -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the benchmark grades with process isolation, which needs root (CI runs as root)")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "autograde"), "--assignment", assignment,
                             "--students", "3", "--budget", "3", "--alone-runs", "1", *(["--skip", *skipped] if skipped else [])],
                            env=nbgrader_env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"3 submissions of {assignment}" in result.stdout, result.stdout
    left_out = {"unforked": "no fork server", "alone": "notebook alone", "looping": "looping submission"}
    for line in FIGURES:
        assert line in result.stdout, f"{line!r} missing from:\n{result.stdout}"
    for name in skipped:
        assert f"{left_out[name]:<19}: skipped (--skip {name})" in result.stdout, result.stdout


def test_the_cost_split_is_the_mean_of_the_records(tmp_path) -> None:
    bench = bench_module()
    folder = tmp_path / "autograder-results" / "03-kubernetes-hierarchy"
    folder.mkdir(parents=True)
    for student, cost in (("a", {"sandbox": 1.0, "evaluator": 3.0, "clusters": 0.5}),
                          ("b", {"sandbox": 2.0, "evaluator": 5.0, "clusters": 1.5})):
        (folder / f"{student}.json").write_text(json.dumps({"student": student, "seconds": 4.0, "cost": cost}))
    lines = bench.cost_lines(tmp_path, "03-kubernetes-hierarchy")
    assert "4.00 s in its worker (mean of 2 records)" in lines[0]
    assert "sandbox 1.50 s, evaluator 4.00 s (of which practice clusters 1.00 s) per submission (mean of 2 records)" in lines[1]


def test_records_without_a_cost_say_there_is_no_split(tmp_path) -> None:
    bench = bench_module()
    folder = tmp_path / "autograder-results" / "01-vms-and-containers"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps({"student": "a", "seconds": 2.5}))
    lines = bench.cost_lines(tmp_path, "01-vms-and-containers")
    assert "2.50 s in its worker" in lines[0]
    assert "n/a" in lines[1] and "no evaluator" in lines[1]
