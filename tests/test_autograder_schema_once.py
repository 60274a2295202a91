"""nbgrader's cell-metadata check, with its schema checked once: the same verdicts as jsonschema's own."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.nbgraderformat import common
from nbgrader.preprocessors import CheckCellMetadata

from autograder import schema_once

SCHEMA = json.loads((Path(common.__file__).parent / "v3.json").read_text())
GOOD = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t", "schema_version": 3}
CASES = [
    GOOD,
    {**GOOD, "points": "two"},
    {**GOOD, "grade": "yes"},
    {**GOOD, "grade_id": 5},
    {**GOOD, "schema_version": "3"},
    {"grade": True},
    {**GOOD, "task": None},
    [],
]


def _verdict(check, instance) -> str:
    try:
        check(instance, SCHEMA)
    except jsonschema.ValidationError as error:
        return f"{list(error.absolute_path)} {error.validator} {error.message}"
    return "valid"


@pytest.mark.parametrize("instance", CASES, ids=range(len(CASES)))
def test_validate_gives_jsonschema_s_verdict(instance) -> None:
    assert _verdict(schema_once.validate, instance) == _verdict(jsonschema.validate, instance)


def test_a_bad_schema_still_raises_schema_error() -> None:
    with pytest.raises(jsonschema.SchemaError):
        schema_once.validate({}, {"type": 5})


def test_the_schema_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    schema_once._checked.cache_clear()
    cls = jsonschema.validators.validator_for(SCHEMA)
    checks = []
    original = cls.check_schema.__func__
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, *a, **k: (checks.append(1), original(c, s, *a, **k))[1]))
    for _ in range(20):
        schema_once.validate(GOOD, SCHEMA)
    assert len(checks) == 1


def test_nbgrader_s_check_uses_it_and_still_refuses_corrupt_metadata() -> None:
    schema_once.install()
    assert common.jsonschema.validate is schema_once.validate
    cell = new_code_cell("assert True")
    cell.metadata["nbgrader"] = dict(GOOD)
    CheckCellMetadata().preprocess(new_notebook(cells=[cell]), {})
    cell.metadata["nbgrader"]["points"] = "two"
    with pytest.raises(Exception, match="nbgrader metadata may be corrupted"):
        CheckCellMetadata().preprocess(nbformat.from_dict(new_notebook(cells=[cell])), {})
