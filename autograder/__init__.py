"""Grade a whole cohort with nbgrader's own gradebook and preprocessors: in parallel,
each submission in a fresh, walled-in kernel (`python -m autograder --help`)."""

__all__ = ["__version__"]
__version__ = "0.1.0"
