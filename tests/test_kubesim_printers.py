"""Printer columns (``data/printers.yaml``) and their named row functions: the tables stay the same.

The golden file ``tests/data/kubesim-tables.json`` was written by the code before the columns
moved to YAML: every kind's table (``-o wide`` columns included) for a seeded cluster with one
object of each kind the course uses, some of them failing. Regenerate it only on purpose:
``python tests/test_kubesim_printers.py`` (then review the diff).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from labkit import kubesim
from labkit.kubesim import resources, tables
from labkit.kubesim.clock import SimClock

GOLDEN = Path(__file__).parent / "data" / "kubesim-tables.json"
LABELS = {"app": "web"}
TEMPLATE = {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
OBJECTS = [
    ("/apis/apps/v1/namespaces/default/deployments",
     {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
      "spec": {"replicas": 2, "selector": {"matchLabels": LABELS}, "template": TEMPLATE}}),
    ("/apis/apps/v1/namespaces/default/statefulsets",
     {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
      "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
               "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "redis"}]}}}}),
    ("/api/v1/namespaces/default/services",
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
      "spec": {"type": "LoadBalancer", "selector": LABELS, "ports": [{"port": 80, "targetPort": 80}]}}),
    ("/api/v1/namespaces/default/services",
     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-np"},
      "spec": {"type": "NodePort", "selector": LABELS, "ports": [{"port": 8080, "targetPort": 80}]}}),
    ("/api/v1/namespaces/default/pods",
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash"},
      "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "sleep 5; exit 1"]}]}}),
    ("/api/v1/namespaces/default/pods",
     {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "typo"},
      "spec": {"containers": [{"name": "c", "image": "nginx:doesnotexist"}]}}),
    ("/apis/batch/v1/namespaces/default/jobs",
     {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
      "spec": {"template": {"spec": {"restartPolicy": "Never",
                                     "containers": [{"name": "j", "image": "busybox", "command": ["sh", "-c", "sleep 3"]}]}}}}),
    ("/apis/batch/v1/namespaces/default/cronjobs",
     {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
      "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
          "restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox", "command": ["true"]}]}}}}}}),
    ("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
     {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
      "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 1,
               "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                   "type": "Utilization", "averageUtilization": 50}}}]}}),
    ("/api/v1/namespaces/default/configmaps",
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}}),
    ("/api/v1/namespaces/default/secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw"}, "stringData": {"pw": "x"}}),
    ("/api/v1/namespaces/default/persistentvolumeclaims",
     {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
]


def cells(table: dict) -> list:
    """A table's rows (each a list of cells), having checked the parts that are the same for every kind."""
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert all(set(row) == {"cells"} for row in table["rows"])
    return [row["cells"] for row in table["rows"]]


def render_all() -> dict[str, list]:
    """Every stored kind's rows at three moments of a seeded cluster's life, as JSON-ready data."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a fixed clock: event names and timestamps are the same each run
    sim = kubesim.start(seed=3, realtime=False, clock=SimClock(start, realtime=False))
    try:
        for path, body in OBJECTS:
            r = requests.post(sim.url + path, json=body, timeout=10)
            assert r.status_code == 201, r.text
        out: dict[str, list] = {}
        for step in (0, 7, 400):
            sim.advance(step)
            now = sim.now()
            for res in resources.load():
                items = sim.store.list(res)[0]
                if not items:
                    continue
                items = sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
                out[f"{res.kind}@{step}"] = cells(tables.table(res.kind, items, now, include="None"))
                out[f"{res.kind}@{step}+3d"] = cells(tables.table(res.kind, items[:1], now + timedelta(days=3),
                                                                  include="None", headers=False))
        for kind in sorted(tables.PRINTERS) + ["Unknown"]:
            table = tables.table(kind, [{"metadata": {"name": "x"}}], sim.now(), include="None")
            out[f"{kind}@columns"] = table["columnDefinitions"]
            out[f"{kind}@empty"] = cells(table)
        return out
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def rendered() -> dict[str, list]:
    return json.loads(json.dumps(render_all()))


def test_every_table_is_the_same_as_before_the_columns_moved_to_data(rendered):
    golden = json.loads(GOLDEN.read_text())
    assert sorted(rendered) == sorted(golden)
    for key in golden:
        assert rendered[key] == golden[key], f"the table {key} changed"


if __name__ == "__main__":
    tables_now = render_all()
    GOLDEN.write_text("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(tables_now[k])}" for k in sorted(tables_now)) + "\n}\n")


def test_the_yaml_names_a_row_function_for_every_kind_and_the_columns_match_its_cells():
    """Each printer's row function gives at least as many cells as the YAML has columns."""
    obj = {"metadata": {"name": "x", "creationTimestamp": "2026-03-02T09:00:00Z"}}
    ctx = tables.Ctx(datetime(2026, 3, 2, 9, 1, tzinfo=timezone.utc))
    for kind, printer in tables.PRINTERS.items():
        assert len(printer.row(obj, ctx)) >= len(printer.columns), kind


@pytest.mark.parametrize("bad, message", [
    ("printers:\n  Pod: {row: pood, columns: [{name: Name, type: string, priority: 0}]}\n"
     "  default: {row: default, columns: [{name: Name, type: string, priority: 0}]}\n",
     "Pod: unknown row function 'pood'"),
    ("printers:\n  Pod: {row: pod, columns: [{name: Name, type: str, priority: 0}]}\n"
     "  default: {row: default, columns: [{name: Name, type: string, priority: 0}]}\n",
     "Pod: column"),
    ("printers:\n  Pod: {row: pod, columns: [{name: Name, type: string, priority: 0}]}\n",
     "no 'default' printer"),
])
def test_a_printers_file_naming_an_unknown_function_or_type_fails_when_it_loads(tmp_path, bad, message):
    path = tmp_path / "printers.yaml"
    path.write_text(bad)
    with pytest.raises(tables.PrinterError, match=message):
        tables.load_printers(path)
