"""Practice clusters built once per grading run: `LABKIT_PRACTICE_CACHE` and `cluster_seconds()`.

A grading run's evaluators ask for the same practice clusters once per submission. With the
cache, the first call builds a cluster and writes its snapshot; every later call restores a
fresh copy, which must be the same cluster byte for byte as the API shows it (a hidden test
computes its expected answer from the cluster it was given, and a copy that differed in one
name, IP, resourceVersion or timestamp would grade differently), must not go through the build
at all (that is what it saves), and must not share state with any other copy.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from labkit import practice_clusters
from labkit.kubesim import resources, snapshot
from labkit.practice_clusters import CACHE_ENV, cluster_seconds, practice_cluster

REPO = Path(__file__).resolve().parent.parent


def get(practice, path: str) -> bytes:
    with urllib.request.urlopen(practice.sim.url + path, timeout=10) as response:
        return response.read()


def api_view(practice) -> dict[str, bytes]:
    """Every stored resource's list as the API serves it (bytes), the clock object and discovery."""
    paths = ["/api", "/apis", "/version", "/apis/kubesim.labkit.dev/v1alpha1/clocks"]
    for key in sorted(k for k, bucket in practice.sim.store._objects.items() if bucket):
        res = resources.get(key)
        paths.append(f"/api/{res.version}/{res.plural}" if not res.group else f"/apis/{res.group}/{res.version}/{res.plural}")
    return {path: get(practice, path) for path in paths}


def later_writes(practice) -> list:
    """What a test cell's own writes get: generated names, uids, resourceVersions, ClusterIPs."""
    pod = practice.core.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "probe-"},
                                                          "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})
    node = practice.core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "course-spare"}})
    service = practice.core.create_namespaced_service("default", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                                                  "spec": {"ports": [{"port": 80}]}})
    return [pod.metadata.name, pod.metadata.uid, pod.metadata.resource_version, node.metadata.uid,
            node.metadata.resource_version, service.spec.cluster_ip]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "practice-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def test_a_restored_copy_is_the_built_cluster_byte_for_byte(cache):
    with practice_cluster(seed=0, workers=2, pods_per_worker=2) as built:
        built_view = api_view(built)
        assert len(list(cache.glob("practice-*.json"))) == 1, "the first call writes the cluster's snapshot"
        time.sleep(1.1)  # a copy made later still shows the build's timestamps, and the clock goes on from them
        with practice_cluster(seed=0, workers=2, pods_per_worker=2) as copy:
            assert copy.sim.url != built.sim.url, "a copy is a server of its own"
            copy_view = api_view(copy)
            assert set(copy_view) == set(built_view)
            for path in built_view:
                assert copy_view[path] == built_view[path], f"{path} differs between the built cluster and its copy"
            assert later_writes(copy) == later_writes(built), "what is created next must get the same names, uids and IPs"


def test_a_watch_from_an_old_resource_version_replays_the_same_events(cache):
    with practice_cluster(seed=5, workers=3, pods_per_worker=1) as built, practice_cluster(seed=5, workers=3, pods_per_worker=1) as copy:
        since = built.sim.store._compacted  # the initial state; the history holds every write of the build
        path = f"/api/v1/pods?watch=1&resourceVersion={since}&timeoutSeconds=1"
        events = get(built, path)
        assert events.count(b"\n") > 10, "the build's own writes are in the watch history"
        assert get(copy, path) == events


def test_a_copy_is_restored_not_built(cache, monkeypatch):
    practice_cluster(seed=3, workers=4, pods_per_worker=2).stop()  # builds and writes the snapshot

    def no_build(*args, **kwargs):
        raise AssertionError("a cached cluster was built again")

    monkeypatch.setattr(practice_clusters, "_add_workloads", no_build)
    monkeypatch.setattr("labkit.kubesim.start", no_build)
    with practice_cluster(seed=3, workers=4, pods_per_worker=2) as copy:
        assert len(copy.core.list_pod_for_all_namespaces().items) > 20


def test_every_caller_gets_a_fresh_copy(cache):
    with practice_cluster(seed=0, workers=2, pods_per_worker=2) as first:
        expected = api_view(first)
        with practice_cluster(seed=0, workers=2, pods_per_worker=2) as changed:
            for pod in changed.core.list_namespaced_pod("shop").items:
                changed.core.delete_namespaced_pod(pod.metadata.name, "shop")
            later_writes(changed)
        with practice_cluster(seed=0, workers=2, pods_per_worker=2) as fresh:
            assert api_view(fresh) == expected, "a copy saw what another copy's test did"


def test_other_arguments_and_other_code_get_other_snapshots(cache, monkeypatch):
    practice_cluster(seed=1, workers=2).stop()
    practice_cluster(seed=2, workers=2).stop()
    practice_cluster(seed=1, workers=2, name="lab").stop()
    assert len(list(cache.glob("practice-*.json"))) == 3
    monkeypatch.setattr(practice_clusters, "_code_digest", lambda: "other labkit code")
    with practice_cluster(seed=1, workers=2) as other:
        assert len(list(cache.glob("practice-*.json"))) == 4, "a snapshot of other labkit code must not be used"
        assert [n.metadata.name for n in other.core.list_node().items] == ["course-control-plane", "course-worker", "course-worker2"]


@pytest.mark.parametrize("damage", ["", "{not json", '{"format": 0}', '{"format": 1, "clock": {}}'])
def test_a_broken_snapshot_is_built_again_and_replaced(cache, damage):
    with practice_cluster(seed=0, workers=2, pods_per_worker=2) as built:
        expected = later_writes(built)
    [path] = cache.glob("practice-*.json")
    path.write_text(damage)
    with practice_cluster(seed=0, workers=2, pods_per_worker=2) as rebuilt:
        assert later_writes(rebuilt) == expected
    assert json.loads(path.read_text())["format"] == snapshot.FORMAT


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_folder_others_may_write_is_not_used(cache, mode):
    with practice_cluster(seed=0, workers=1) as built:
        expected = later_writes(built)
    [path] = cache.glob("practice-*.json")
    path.write_text(path.read_text().replace('"course-worker"', '"planted-worker"'))
    cache.chmod(mode)
    with practice_cluster(seed=0, workers=1) as got:
        names = [n.metadata.name for n in got.core.list_node().items]
        assert names == ["course-control-plane", "course-worker"], "a snapshot in a folder others may write was used"
        assert later_writes(got) == expected


def test_a_snapshot_that_is_a_symlink_is_not_followed(cache, tmp_path):
    practice_cluster(seed=0, workers=1).stop()
    [path] = cache.glob("practice-*.json")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(path.read_text().replace('"course-worker"', '"planted-worker"'))
    path.unlink()
    path.symlink_to(elsewhere)
    with practice_cluster(seed=0, workers=1) as got:
        assert [n.metadata.name for n in got.core.list_node().items] == ["course-control-plane", "course-worker"]


def test_no_cache_folder_builds_as_before(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setattr(practice_clusters, "_from_cache", lambda *a: pytest.fail("the cache is used without its variable"))
    with practice_cluster(seed=0, workers=1) as built:
        assert len(built.core.list_node().items) == 2


def test_an_unwritable_cache_folder_still_gives_the_cluster(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    with practice_cluster(seed=0, workers=1) as built:
        assert len(built.core.list_node().items) == 2


def test_several_processes_at_once_write_one_whole_snapshot(cache):
    script = ("import hashlib, json, urllib.request\n"
              "from labkit.practice_clusters import practice_cluster\n"
              "with practice_cluster(seed=7, workers=3, pods_per_worker=2) as p:\n"
              "    pods = json.load(urllib.request.urlopen(p.sim.url + '/api/v1/pods'))['items']\n"
              "    print(sorted((q['metadata']['name'], q['metadata']['uid'], q['metadata']['resourceVersion'],\n"
              "                  (q.get('status') or {}).get('podIP')) for q in pods))\n")
    env = {**os.environ, CACHE_ENV: str(cache), "PYTHONPATH": str(REPO)}
    runs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-2000:] for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1, "the processes got different clusters"
    assert [p.name for p in cache.iterdir()] == [next(cache.glob("practice-*.json")).name], "one snapshot, no leftovers"
    with practice_cluster(seed=7, workers=3, pods_per_worker=2) as copy:  # the snapshot is whole
        assert len(copy.core.list_pod_for_all_namespaces().items) > 20


def test_cluster_seconds_counts_the_time_spent_getting_clusters(cache):
    before = cluster_seconds()
    started = time.perf_counter()
    practice_cluster(seed=9, workers=2, pods_per_worker=1).stop()  # built
    built = time.perf_counter() - started
    after_build = cluster_seconds()
    assert 0 < after_build - before <= built
    time.sleep(0.3)  # time outside practice_cluster is not counted
    started = time.perf_counter()
    copy = practice_cluster(seed=9, workers=2, pods_per_worker=1)  # restored
    restored = time.perf_counter() - started
    copy.stop()
    assert 0 < cluster_seconds() - after_build <= restored


def test_capture_refuses_an_emulator_with_controllers():
    from labkit import kubesim

    with kubesim.start(workers=1, realtime=False) as sim:
        with pytest.raises(ValueError, match="controllers=False"):
            snapshot.capture(sim)
