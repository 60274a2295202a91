"""Golden dumps of the emulator: the initial kind state and a short frozen-clock run, byte for byte.

Why: the same seed must give the same cluster (pod names, IPs, uids, resourceVersions, timestamps)
because graded tests and the course's visible test literals depend on it. Refactoring how the
initial state is rendered or how the controllers build objects must not change one byte; these
dumps, made before such a refactor and committed, check that.

Regenerate (only for an intended change of the cluster): ``KUBESIM_GOLDEN_WRITE=1 pytest this file``.
"""
from __future__ import annotations

import gzip
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from labkit import kubesim
from labkit.kubesim import resources
from labkit.kubesim.clock import SimClock
from labkit.kubesim.store import Store

DATA = Path(__file__).parent / "data" / "kubesim-golden.json.gz"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
CASES = [(0, 2), (7, 2), (0, 11), (7, 11)]  # (seed, workers): 3-node and 12-node clusters


def _all(store: Store) -> list[str]:
    """Every stored object as its JSON bytes (key order kept), sorted by resource and name."""
    out = []
    for key in sorted({r.key for r in resources.load() if r.group != "metrics.k8s.io"}):
        for obj in store.list(resources.get(key))[0]:
            meta = obj["metadata"]
            out.append(f"{key} {meta.get('namespace', '')}/{meta['name']} " + store.encoded(obj).decode())
    return sorted(out)


def initial(seed: int, workers: int) -> list[str]:
    store = Store(SimClock(NOW, realtime=False), seed)
    kubesim.load_state(store, "course", workers, seed, NOW)
    return _all(store)


def _deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}


def _daemonset() -> dict:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "agent", "image": "busybox:1.36",
                                                           "command": ["sleep", "3600"]}]}}}}


def _statefulset() -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "default"},
            "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "nginx:1.27"}]}}}}


def run(tmp_path: Path, seed: int) -> list[str]:
    """Create a Deployment, a DaemonSet and a StatefulSet, run 60 s, scale and change the image,
    run 60 s more: every object of the cluster afterwards."""
    sim = kubesim.start(tmp_path / f"kc{seed}", seed=seed, realtime=False, clock=SimClock(NOW, realtime=False))
    try:
        base = sim.url + "/apis/apps/v1/namespaces/default/"
        for plural, body in (("deployments", _deployment()), ("daemonsets", _daemonset()),
                             ("statefulsets", _statefulset())):
            requests.post(base + plural, json=body, timeout=5).raise_for_status()
        sim.advance(60)
        patch = {"spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
        requests.patch(base + "deployments/web", json=patch, timeout=5,
                       headers={"Content-Type": "application/strategic-merge-patch+json"}).raise_for_status()
        sim.advance(60)
        return _all(sim.store)
    finally:
        sim.stop()


def _current(tmp_path: Path) -> dict[str, list[str]]:
    out = {f"initial/{seed}/{workers}": initial(seed, workers) for seed, workers in CASES}
    out["run/0"] = run(tmp_path, 0)
    return out


def test_same_seed_gives_the_recorded_cluster_byte_for_byte(tmp_path):
    current = _current(tmp_path)
    if os.environ.get("KUBESIM_GOLDEN_WRITE"):
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_bytes(gzip.compress(json.dumps(current, indent=0).encode(), mtime=0))
        pytest.skip("golden dump written")
    golden = json.loads(gzip.decompress(DATA.read_bytes()))
    assert sorted(current) == sorted(golden)
    for case, lines in golden.items():
        have = current[case]
        missing = sorted(set(lines) - set(have))
        extra = sorted(set(have) - set(lines))
        assert not missing and not extra and have == lines, (
            f"{case}: the cluster differs from the recorded one; first differing objects:\n"
            f"recorded: {missing[:2]}\nnow:      {extra[:2]}")
