"""`bench/autograde` keeps working: a tiny cohort, every figure printed, scores identical.

The figures themselves are not asserted (they are measured, not promised: see the
README); this only makes sure the benchmark can be rerun by anyone.
"""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO_ROOT, nbgrader_env, skip_unless_ci


def test_the_autograde_benchmark_runs_and_scores_agree() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the benchmark grades with process isolation, which needs root (CI runs as root)")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "autograde"), "--students", "3", "--budget", "3"],
                            env=nbgrader_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("nbgrader autograde", "autograder grade", "throughput ratio", "no fork server", "notebook alone",
                 "identical scores   : yes", "looping submission"):
        assert line in result.stdout, f"{line!r} missing from:\n{result.stdout}"
