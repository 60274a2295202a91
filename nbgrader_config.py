"""nbgrader settings for the course: the instructor's side of grading.

Run nbgrader from the repository root (the Makefile does) so that this file
and the `source/` and `release/` folders beside it are found.
"""

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

# The course, rooted here: source/<assignment>/ -> release/<assignment>/.
c.CourseDirectory.course_id = "vms-containers-k8s"
# The course root is the folder nbgrader runs in: run it from the repository root.
# Never copy editor debris or an instructor's grading output into what learners get.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".pytest_cache",
]

# Students' notebooks run with a per-cell time limit; a stuck cell is interrupted,
# reported in the feedback, and the rest of the notebook still runs.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
# Exercises have one kernel: the course environment's python3.
c.Execute.kernel_name = "python3"

# A learner who deletes a test cell must not escape it: restore it from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Keep huge outputs (an accidental print in a loop) out of the graded notebooks.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 50

# Every code answer cell starts as this stub, so an untouched exercise fails its
# test with a clear NotImplementedError rather than a NameError.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE\nraise NotImplementedError(\"Replace this line with your answer.\")"
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Learners' notebooks are checked against the cell metadata nbgrader wrote.
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.enforce_metadata = True
