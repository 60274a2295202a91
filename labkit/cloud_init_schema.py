"""cloud-init's schema check, run in this interpreter against cloud-init's own schema file.

Why not only ``cloud-init schema --config-file``: that command starts a second Python and
imports most of cloud-init (about 0.3 s a call, measured on Debian 12's cloud-init 22.4),
and a VM test cell checks several user-data texts, so a cohort's grading spent a large share
of its time starting cloud-init. The check itself is a JSON-schema validation of the parsed
YAML against the schema file cloud-init installs, with three rules of cloud-init's own
(``cloudinit/config/schema.py``):

- a ``string`` may also be bytes (YAML's ``!!binary``);
- a ``deprecated: true`` keyword marks a key as deprecated, which is not an error;
- inside ``anyOf``/``oneOf`` a branch that only has deprecations counts as valid.

Those rules are restated here, in our words, on the same draft-4 validator. Errors are
``path: message`` sorted by path, as cloud-init prints them. When cloud-init's schema file
or ``jsonschema`` cannot be found, :func:`schema_errors` returns ``None`` and the caller
runs the command instead; ``tests/test_vm_checks.py`` checks that both agree.
"""

from __future__ import annotations

import functools
import glob
import json
import sys
from typing import Any

# jsonschema imports rfc3987_syntax when it is installed (JupyterLab's jupyter-events brings it),
# only to check the "iri" format, which cloud-init's schema never uses; that import builds a
# grammar and took 2.7 s of the 3 s `import jsonschema` cost here. Kept from loading, so a
# kernel that imports the VM checks pays 0.2 s, and the grader's fork server (which loads
# what setup cells load, `autograder/zygote.py`) keeps it out the same way.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)
try:
    import jsonschema
except ImportError:  # then cloud-init's command does the check
    jsonschema = None

__all__ = ["schema_file", "schema_errors"]

#: Where Debian's and Ubuntu's cloud-init package installs its schema (newest Python first).
SCHEMA_GLOBS = ("/usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json",
                "/usr/lib/python3*/site-packages/cloudinit/config/schemas/schema-cloud-config-v1.json")

#: The formats checked: those jsonschema checks with no optional package, as Debian 12's cloud-init
#: does (its jsonschema has no URI or hostname checker installed, so "uri" and "hostname" pass).
FORMATS = ("date",)


@functools.lru_cache(maxsize=1)
def schema_file() -> str | None:
    """The path of the installed cloud-init's cloud-config schema, or None."""
    for pattern in SCHEMA_GLOBS:
        found = sorted(glob.glob(pattern), reverse=True)
        if found:
            return found[0]
    return None


@functools.lru_cache(maxsize=1)
def _validator() -> Any | None:
    """A validator for cloud-init's schema with cloud-init's rules, built once; None if unavailable."""
    path = schema_file()
    if path is None:
        return None
    if jsonschema is None:
        return None
    from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
    try:
        with open(path, encoding="utf-8") as handle:
            schema = json.load(handle)
    except (OSError, ValueError):
        return None

    class Deprecated(ValidationError):
        """A deprecated key: reported by cloud-init apart from errors, never failing the check."""

    def deprecated(_validator, value, _instance, schema_):
        if value:
            yield Deprecated(f"DEPRECATED: {schema_.get('description', '')}".strip())

    def first_valid_branch(validator, branches, instance):
        """(index of the first branch with no real error, or None; the real errors of the others)."""
        errors = []
        for index, branch in enumerate(branches):
            found = [e for e in validator.descend(instance, branch, schema_path=index) if not isinstance(e, Deprecated)]
            if not found:
                return index, errors
            errors.extend(found)
        return None, errors

    def any_of(validator, branches, instance, _schema):
        index, errors = first_valid_branch(validator, branches, instance)
        if index is None:
            yield ValidationError(f"{instance!r} is not valid under any of the given schemas", context=errors)

    def one_of(validator, branches, instance, _schema):
        index, errors = first_valid_branch(validator, branches, instance)
        if index is None:
            yield ValidationError(f"{instance!r} is not valid under any of the given schemas", context=errors)
            return
        also = [b for b in branches[index + 1:] if not any(
            not isinstance(e, Deprecated) for e in validator.descend(instance, b))]
        if also:
            listed = ", ".join(repr(b) for b in [*also, branches[index]])
            yield ValidationError(f"{instance!r} is valid under each of {listed}")

    def string_or_bytes(checker, instance) -> bool:
        return Draft4Validator.TYPE_CHECKER.is_type(instance, "string") or isinstance(instance, bytes)

    cloud_init = validators.extend(
        Draft4Validator, {"deprecated": deprecated, "anyOf": any_of, "oneOf": one_of},
        type_checker=Draft4Validator.TYPE_CHECKER.redefine("string", string_or_bytes))
    return cloud_init(schema, format_checker=FormatChecker(formats=FORMATS)), Deprecated


def schema_errors(config: Any) -> list[str] | None:
    """cloud-init's schema errors for a parsed cloud-config, as ``path: message``; None if the check cannot run here."""
    built = _validator()
    if built is None:
        return None
    validator, deprecated = built
    # cloud-init sorts by path; typed so that a list index beside a key never fails to compare
    found = sorted(validator.iter_errors(config), key=lambda e: tuple((isinstance(p, str), p) for p in e.path))
    return [f"{'.'.join(str(p) for p in e.path)}: {e.message}" for e in found if not isinstance(e, deprecated)]
