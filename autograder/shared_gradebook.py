"""One database engine per gradebook for a whole grading run, in the process that records results.

Why: nbgrader's `Gradebook(db_url)` builds a new SQLAlchemy engine every time it is opened: it
lists the tables, runs `create_all` (a query per table) and checks the course, and every query it
then makes is compiled afresh, because SQLAlchemy keeps compiled statements per engine. Recording
one submission opens the gradebook four times (the grader's own lookups, nbgrader's
`SaveAutoGrades` and `AssignLatePenalties`). Measured on assignment 1 with 16 submissions and two
workers: the recording process spent 2.7 s of CPU, most of it there, and it ran behind the
workers (each result waited for the one before it to be written); with one engine, 1.9 s.

Inside `shared_engines()`, a `SharedGradebook` for a URL it has seen reuses that engine (the first
one is built by nbgrader's own constructor, so the tables and the course are checked once); each
opening still gets its own session, as before, so every `with` block sees what is committed and
writes the same rows with the same commits. An engine is kept only while its database file is the
same file (same inode): a gradebook deleted and made again gets a new one. Leaving the block
disposes of the engines. Outside the block, and in a process forked inside it (a grading worker),
a `SharedGradebook` is nbgrader's `Gradebook` exactly.

`install()` makes nbgrader's recording preprocessors open this class (their module attribute
`Gradebook`); `Course.gradebook()` opens it too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from nbgrader.api import Gradebook
from sqlalchemy.orm import scoped_session, sessionmaker

# (db_url, device, inode) -> engine, while a shared_engines() block is open in this process; else None
_engines: dict[tuple, Any] | None = None


def _forget_in_child() -> None:
    """A forked child must not use, nor close, its parent's pooled connections (SQLAlchemy's rule
    for fork: `dispose(close=False)` in the child)."""
    global _engines
    for engine in (_engines or {}).values():
        engine.dispose(close=False)
    _engines = None


os.register_at_fork(after_in_child=_forget_in_child)


def _key(db_url: str) -> tuple | None:
    prefix = "sqlite:///"
    if not db_url.startswith(prefix):
        return (db_url, None, None)  # a database server: the URL names it
    try:
        info = os.stat(db_url[len(prefix):])
    except OSError:
        return None  # not made yet: nbgrader's constructor makes it, and the next opening shares
    return (db_url, info.st_dev, info.st_ino)


class SharedGradebook(Gradebook):
    """nbgrader's `Gradebook`, on the run's shared engine while `shared_engines()` is open."""

    def __init__(self, db_url: str, course_id: str = "default_course", authenticator: Any = None) -> None:
        engine = _engines.get(_key(db_url)) if _engines is not None else None
        if engine is None:
            super().__init__(db_url, course_id, authenticator)
            key = _key(db_url) if _engines is not None else None
            if key is not None and _engines is not None:
                _engines[key] = self.engine
                self._shared = True
            return
        self._shared = True
        self.engine = engine
        self.db = scoped_session(sessionmaker(autoflush=True, bind=engine, future=True))
        self.check_course(course_id=course_id)
        self.course_id = course_id
        self.authenticator = authenticator

    def close(self) -> None:
        if getattr(self, "_shared", False) and _engines is not None:
            self.db.remove()  # the engine stays for the next opening; shared_engines() disposes of it
        else:
            super().close()


@contextlib.contextmanager
def shared_engines() -> Iterator[None]:
    """Share one engine per gradebook among the `SharedGradebook`s opened in this block (not nested)."""
    global _engines
    if _engines is not None:  # already inside one: the outer block owns the engines
        yield
        return
    _engines = {}
    try:
        yield
    finally:
        engines, _engines = _engines, None
        for engine in (engines or {}).values():
            engine.dispose()


def install() -> None:
    """Make nbgrader's recording preprocessors open `SharedGradebook` (idempotent)."""
    from nbgrader.preprocessors import latesubmissions, saveautogrades

    for module in (saveautogrades, latesubmissions):
        module.Gradebook = SharedGradebook
