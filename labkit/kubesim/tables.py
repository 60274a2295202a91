"""Server-side printing: ``meta.k8s.io/v1`` Table responses for ``kubectl get``.

Why on the server: kubectl asks for ``as=Table`` and prints the columns the server sends
(without them it can show only NAME and AGE). The columns and cell rules follow the
Kubernetes printers (pkg/printers/internalversion), re-expressed here: priority-0 columns
always, priority-1 columns with ``-o wide``; kubectl adds NAMESPACE itself.

The columns are data (``data/printers.yaml``); the cells that need code (a pod's STATUS and
RESTARTS, a node's ROLES, ages) are row functions in ``printer_rows``, registered in ``ROWS`` under the name the
YAML gives them.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .datafile import load_yaml
from .printer_rows import ROWS, Ctx, human_duration

__all__ = ["PRINTERS", "DEFAULT", "Printer", "PrinterError", "Ctx", "human_duration", "load_printers", "partial", "table"]

Obj = dict[str, Any]
DATA = Path(__file__).parent / "data" / "printers.yaml"


class Printer:
    """Prints one kind: column definitions and a row function."""

    def __init__(self, columns: list[tuple[str, str, int, str]], row: Callable[[Obj, "Ctx"], list[Any]]):
        self.columns = columns
        self.row = row

    def definitions(self) -> list[Obj]:
        out = []
        for name, kind, priority, desc in self.columns:
            fmt = "name" if name == "Name" else ""
            out.append({"name": name, "type": kind, "format": fmt, "description": desc, "priority": priority})
        return out



class PrinterError(ValueError):
    """``data/printers.yaml`` names something printer_rows.py does not have; raised at import."""


TYPES = ("string", "integer", "boolean", "number", "date")


def load_printers(path: Path = DATA) -> tuple[dict[str, Printer], Printer]:
    """The printers of ``path`` (every kind's, and ``default``), checked against ``ROWS``.

    Why checked here: a misspelt row function or column type must fail when the emulator is
    imported, with the kind's name, not as a 500 on the first ``kubectl get`` of that kind."""
    data = load_yaml(path)
    printers: dict[str, Printer] = {}
    for kind, spec in (data.get("printers") or {}).items():
        fn = ROWS.get(spec.get("row", ""))
        if fn is None:
            raise PrinterError(f"{path.name}: {kind}: unknown row function {spec.get('row')!r} "
                               f"(printer_rows.py has: {', '.join(sorted(ROWS))})")
        columns = []
        for col in spec.get("columns") or []:
            if col.get("type") not in TYPES or col.get("priority") not in (0, 1) or not col.get("name"):
                raise PrinterError(f"{path.name}: {kind}: column {col!r} needs a name, a type "
                                   f"({', '.join(TYPES)}) and priority 0 or 1")
            columns.append((col["name"], col["type"], col["priority"], col.get("description", "")))
        if not columns:
            raise PrinterError(f"{path.name}: {kind}: no columns")
        printers[kind] = Printer(columns, fn)
    if "default" not in printers:
        raise PrinterError(f"{path.name}: no 'default' printer (for kinds without their own)")
    return printers, printers.pop("default")


PRINTERS, DEFAULT = load_printers()


def partial(obj: Obj) -> Obj:
    """PartialObjectMetadata, the row ``object`` kubectl uses for -A, --show-labels and -L."""
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def table(kind: str, objects: list[Obj], now: datetime, include: str = "Metadata",
          list_meta: Obj | None = None, headers: bool = True) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include`` is None, Metadata or Object."""
    printer = PRINTERS.get(kind, DEFAULT)
    ctx = Ctx(now)
    width = len(printer.columns)
    rows = []
    for obj in objects:
        cells = printer.row(obj, ctx)[:width]
        row: Obj = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial(obj)
        rows.append(row)
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta or {}}
    out["columnDefinitions"] = printer.definitions() if headers else []
    out["rows"] = rows
    return out
