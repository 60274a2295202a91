"""nbgrader's cell-metadata check with its JSON schema checked once per process, not once per cell.

Why: nbgrader's `CheckCellMetadata` validates every cell's ``nbgrader`` metadata with
``jsonschema.validate``, which first checks the schema itself against JSON Schema's meta-schema,
on every call. For an assignment notebook that is most of the preprocessor's time (about 0.07 s
of 0.1 s), and the grader runs it twice per submission: in the worker's first pass (`sanitize`)
and when the parent records the result. The schema is nbgrader's own file, so checking it once
gives the same verdicts: `validate` below is ``jsonschema.validate`` (same validator class, same
best-match error, a bad schema still raises `SchemaError`) with the checked validator kept.

`install()` hands nbgrader's metadata validator (``nbgrader.nbgraderformat.common``, which calls
``jsonschema.validate`` through its module attribute) this stand-in, in the grader's own processes
only: `execute` calls it on import. Nothing else of jsonschema changes.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from jsonschema import exceptions, validators


@functools.lru_cache(maxsize=16)
def _checked(schema_text: str) -> Any:
    schema = json.loads(schema_text)
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(instance: Any, schema: dict, cls: Any = None, *args: Any, **kwargs: Any) -> None:
    """``jsonschema.validate``, with the schema's own check done once per distinct schema."""
    if cls is not None or args or kwargs:  # not how nbgrader calls it: the library's own path
        return jsonschema.validate(instance, schema, cls, *args, **kwargs)
    error = exceptions.best_match(_checked(json.dumps(schema, sort_keys=True)).iter_errors(instance))
    if error is not None:
        raise error
    return None


class _JsonschemaWithCheckedSchemas:
    """The jsonschema module as nbgrader's validator sees it: everything as is, but `validate`."""

    validate = staticmethod(validate)

    def __getattr__(self, name: str) -> Any:
        return getattr(jsonschema, name)


def install() -> None:
    """Make nbgrader's metadata validator use `validate` (idempotent)."""
    from nbgrader.nbgraderformat import common

    if not isinstance(common.jsonschema, _JsonschemaWithCheckedSchemas):
        common.jsonschema = _JsonschemaWithCheckedSchemas()
