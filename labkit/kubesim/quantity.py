"""Kubernetes resource quantities (``100m``, ``1.5``, ``128Mi``, ``1G``) as numbers, and back.

Why: the scheduler compares requests with allocatable, the metrics API reports usage in
nanocores and KiB as metrics-server does, and the HPA works in milli-units.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
           "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
           "P": Decimal("1e15"), "E": Decimal("1e18"),
           "Ki": Decimal(2 ** 10), "Mi": Decimal(2 ** 20), "Gi": Decimal(2 ** 30), "Ti": Decimal(2 ** 40),
           "Pi": Decimal(2 ** 50), "Ei": Decimal(2 ** 60)}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def parse(value: object) -> Decimal:
    """A quantity as a Decimal in base units (cores, bytes); ValueError when malformed."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    m = _RE.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {value!r}")
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2)]
    except InvalidOperation:
        raise ValueError(f"invalid quantity {value!r}") from None


def milli(value: object) -> int:
    """In milli-units, rounded up as Quantity.MilliValue does (``100m`` -> 100, ``1`` -> 1000)."""
    return int((parse(value) * 1000).to_integral_value(rounding="ROUND_CEILING"))


def value(value: object) -> int:
    """In base units, rounded up (``128Mi`` -> 134217728)."""
    return int(parse(value).to_integral_value(rounding="ROUND_CEILING"))


def cpu_nanocores(millicores: float) -> str:
    """metrics-server's CPU usage format: ``12345678n``."""
    return f"{int(round(millicores * 1_000_000))}n"


def memory_ki(mib: float) -> str:
    """metrics-server's memory usage format: ``10240Ki``."""
    return f"{int(round(mib * 1024))}Ki"


def pod_requests(spec: dict, resource: str) -> int:
    """Sum of the containers' requests of ``resource`` (milli-units; limits stand in for missing requests)."""
    total = 0
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        q = (res.get("requests") or {}).get(resource, (res.get("limits") or {}).get(resource))
        if q is not None:
            try:
                total += milli(q)
            except ValueError:
                pass
    return total
