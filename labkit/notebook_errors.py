"""How a failing cell reads in a notebook: the learner's line and the message first.

Why: a failing test cell used to show five to eight lines of ``labkit/checks.py``
before the message, and a cell after a failed Run All showed a bare
``NameError`` that says nothing about why the name is missing. ``install()``
gives IPython one custom handler for both: it drops the frames of helpers that set
``__tracebackhide__`` (IPython itself always keeps the last frame, which is the
helper's ``raise``), and adds one plain sentence to "name ... is not defined".
The cell still fails: IPython records the error and shows an ``error`` output, so
nbgrader counts it as failed. Outside IPython, ``install()`` does nothing.
"""
from __future__ import annotations

import re
import sys
import types
from typing import Any

__all__ = ["install", "explain_name_error", "without_hidden_frames", "NOT_DEFINED_HINT"]

NOT_DEFINED_HINT = (
    "Either the name is misspelt, or the cell that defines it has not run yet. If Run All stopped at a "
    "failing test above, the cells after that test did not run: run them one by one (Shift+Enter), or click "
    "this cell and use Run > Run All Above Selected Cell."
)

_NOT_DEFINED = re.compile(r"^name '[^']+' is not defined")


def explain_name_error(error: NameError) -> bool:
    """Add ``NOT_DEFINED_HINT`` to an undefined-name error's message, once; True if it did.

    Only "name 'x' is not defined" is extended: a NameError raised on purpose
    with its own words, or an UnboundLocalError, keeps its message.
    """
    if type(error) is not NameError or len(error.args) != 1 or not isinstance(error.args[0], str):
        return False
    message = error.args[0]
    if not _NOT_DEFINED.match(message) or NOT_DEFINED_HINT in message:
        return False
    error.args = (f"{message}. {NOT_DEFINED_HINT}",)
    return True


def without_hidden_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The same traceback without the frames whose locals set ``__tracebackhide__``."""
    kept = []
    while tb is not None:
        if not tb.tb_frame.f_locals.get("__tracebackhide__", False):
            kept.append(tb)
        tb = tb.tb_next
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return rebuilt


def _handler(shell: Any, etype: type, value: BaseException, tb: types.TracebackType | None,
             tb_offset: int | None = None) -> None:
    """IPython's custom exception handler: tidy the error, then show it as IPython would."""
    if isinstance(value, NameError):
        explain_name_error(value)
    tb = without_hidden_frames(tb)
    value.__traceback__ = tb
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def install() -> bool:
    """Register the handler in the running IPython shell; True if one is registered now.

    Leaves a handler that something else registered alone, and does nothing in
    plain Python (IPython is not even imported).
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    if getattr(shell, "_labkit_errors", False):
        return True
    if shell.custom_exceptions:
        return False
    shell.set_custom_exc((AssertionError, NameError), _handler)
    shell._labkit_errors = True
    return True
