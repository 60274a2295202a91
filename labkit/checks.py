"""Helpers for nbgrader test cells that fail with friendly advice.

A bare ``assert answer == 42`` tells a learner nothing when it fails, and it
can be fooled: an object whose ``__eq__`` always returns True passes every
such test. These helpers check the *type* first, compare structurally, and
raise an AssertionError whose message says what was expected, what was found
and what to try next. nbgrader counts any AssertionError as a failed test, so
they drop straight into test cells.

Each helper sets ``__tracebackhide__`` so that a failing test shows the test
cell's line and the message, not the helper's insides (pytest honours it, and
``labkit.notebook_errors``, installed on import in a notebook, trims those
frames from IPython's tracebacks).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from labkit import notebook_errors

__all__ = [
    "expect_equal",
    "expect_type",
    "expect_true",
    "expect_no_problems",
    "expect_raises",
    "refusal_of_client",
]


def _type_name(value_or_type: Any) -> str:
    kind = value_or_type if isinstance(value_or_type, type) else type(value_or_type)
    return kind.__name__


def _same(actual: Any, expected: Any, tolerance: float | None) -> bool:
    """Structural equality that an overly agreeable ``__eq__`` cannot fool.

    Why: ``[Cheat()] == [1]`` is True if Cheat.__eq__ always says yes, because
    list equality asks the elements. So we walk containers ourselves and insist
    on the exact same type at every level.
    """
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float) and tolerance is not None:
        return math.isclose(actual, expected, rel_tol=0.0, abs_tol=tolerance)
    if isinstance(expected, (list, tuple)):
        return len(actual) == len(expected) and all(
            _same(a, e, tolerance) for a, e in zip(actual, expected)
        )
    if isinstance(expected, dict):
        if set(actual) != set(expected):
            return False
        return all(_same(actual[key], expected[key], tolerance) for key in expected)
    # Ask the trusted side first, and accept only a real True: a truthy
    # non-bool answer (or NotImplemented) is not "equal".
    return (expected == actual) is True and (actual == expected) is True


def expect_equal(
    actual: Any,
    expected: Any,
    what: str,
    hint: str = "",
    *,
    tolerance: float | None = None,
) -> None:
    """Fail unless ``actual`` has exactly the type of ``expected`` and equals it.

    Types are compared exactly, so ``True`` is not accepted for ``1`` and ``1``
    is not accepted for ``1.0``. For floats, pass ``tolerance`` to accept any
    value within that absolute distance (rounding differences are not the
    learner's fault).
    """
    __tracebackhide__ = True  # read by pytest and notebook_errors
    if tolerance is not None:
        if not isinstance(tolerance, numbers.Real) or isinstance(tolerance, bool) or tolerance < 0:
            raise ValueError("tolerance must be a non-negative number, or None")
    if _same(actual, expected, tolerance):
        return
    if type(actual) is not type(expected):
        message = (
            f"{what}: expected a {_type_name(expected)} ({expected!r}), "
            f"got a {_type_name(actual)} ({actual!r})."
        )
    else:
        near = f" (within {tolerance})" if tolerance is not None and isinstance(expected, float) else ""
        message = f"{what}: expected {expected!r}{near}, got {actual!r}."
    if hint:
        message += f" {hint}"
    raise AssertionError(message)


def expect_type(value: Any, expected_type: type | tuple[type, ...], what: str) -> None:
    """Fail unless ``type(value)`` is exactly ``expected_type`` (or one of them).

    Exact, not isinstance: a bool is not an int here, because a learner who
    returns True where a count was asked for has misunderstood the task.
    """
    __tracebackhide__ = True  # read by pytest and notebook_errors
    allowed = expected_type if isinstance(expected_type, tuple) else (expected_type,)
    if type(value) in allowed:
        return
    names = " or ".join(_type_name(kind) for kind in allowed)
    raise AssertionError(
        f"{what}: expected a {names}, got a {_type_name(value)} ({value!r})."
    )


def expect_true(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` is the bool ``True`` itself.

    A non-empty list or a string is truthy, but it is not an answer to a
    yes/no question; accepting it would hide mistakes.
    """
    __tracebackhide__ = True  # read by pytest and notebook_errors
    if condition is True:
        return
    if isinstance(condition, bool):
        raise AssertionError(message)
    raise AssertionError(
        f"{message} (The check expected True or False but got a "
        f"{_type_name(condition)}: {condition!r}.)"
    )


def expect_no_problems(problems: list[str], what: str) -> None:
    """Fail if a validator returned any problems, listing each as a bullet."""
    __tracebackhide__ = True  # read by pytest and notebook_errors
    if not isinstance(problems, list):
        raise AssertionError(
            f"{what}: the check expected a list of problems (strings), "
            f"got a {_type_name(problems)} ({problems!r})."
        )
    if not problems:
        return
    count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
    bullets = "\n".join(f"  • {problem}" for problem in problems)
    raise AssertionError(f"{what} has {count}:\n{bullets}")


def expect_raises(
    exc_type: type[BaseException] | tuple[type[BaseException], ...],
    func: Callable[..., Any],
    *args: Any,
    what: str,
    **kwargs: Any,
) -> BaseException:
    """Call ``func(*args, **kwargs)`` and fail unless it raises ``exc_type``.

    Returns the exception so a test can go on to check its message.
    """
    __tracebackhide__ = True  # read by pytest and notebook_errors
    names = (
        " or ".join(kind.__name__ for kind in exc_type)
        if isinstance(exc_type, tuple)
        else exc_type.__name__
    )
    try:
        result = func(*args, **kwargs)
    except exc_type as error:
        return error
    except Exception as error:  # we report what happened instead
        raise AssertionError(
            f"{what}: expected {names}, but it raised "
            f"{type(error).__name__}: {error}"
        ) from error
    raise AssertionError(
        f"{what}: expected {names} to be raised, but the call returned {result!r}."
    )


# Importing this module acts: it installs the error trimming in the running IPython. A grader
# that loads modules ahead of a kernel (autograder/zygote.py) leaves this one to the kernel.
__acts_on_import__ = True
notebook_errors.install()


def refusal_of_client(error: Exception) -> str:
    """What the Kubernetes Python client refused before sending a manifest, in the API server's words.

    Why: the official client (version 37 on) checks a body against its models before it sends it, so a
    misspelt field fails there with a pydantic ``ValidationError`` listing argument positions, where
    ``kubectl apply`` would have shown the server's ``unknown field "spec.replicaz"``. This says it the
    server's way (an extra field as an unknown field; another mistake as its path and the client's reason)."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return str(error)
    said = []
    for problem in errors():
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.get("loc", ())[1:]).lstrip(".")
        if problem.get("type") == "extra_forbidden":
            said.append(f'unknown field "{path}"')
        else:
            said.append(f"{path}: {problem.get('msg', 'not accepted')}")
    return "; ".join(said) or str(error)
