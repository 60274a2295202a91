"""labkit.cluster_hierarchy, cluster_tree and practice_clusters: the hierarchy's data, the lazy tree widget, the picture, practice clusters."""
from __future__ import annotations

import ipaddress
import time
from collections import Counter

import ipywidgets
import pytest
from matplotlib.figure import Figure

from labkit import cluster_hierarchy as hierarchy
from labkit import cluster_tree as ct
from labkit import practice_clusters


class CountingCore:
    """Wraps a CoreV1Api and counts which API calls go through it (and with what field selector)."""

    def __init__(self, core):
        self._core = core
        self.calls: Counter = Counter()

    def __getattr__(self, name):
        method = getattr(self._core, name)

        def counted(*args, **kwargs):
            selector = kwargs.get("field_selector")
            self.calls[name if selector is None else f"{name}[{selector}]"] += 1
            return method(*args, **kwargs)

        return counted

    def pod_calls(self) -> int:
        return sum(count for call, count in self.calls.items() if "pod" in call)


@pytest.fixture(scope="module")
def busy():
    with practice_clusters.practice_cluster(seed=3, workers=4, pods_per_worker=3) as practice:
        yield practice


@pytest.fixture(scope="module")
def fresh():
    with practice_clusters.practice_cluster(seed=0, workers=2) as practice:
        yield practice


def test_quantities():
    assert hierarchy.quantity("32866492Ki") == 32866492 * 1024
    assert hierarchy.quantity("500m") == 0.5
    assert hierarchy.quantity("8") == 8.0
    assert hierarchy.quantity("1.5Gi") == 1.5 * 2**30
    assert hierarchy.quantity("2G") == 2e9
    assert hierarchy.quantity(None) is None
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        hierarchy.quantity("lots")


def test_natural_order_of_kind_node_names():
    names = ["course-worker10", "course-worker", "course-worker2", "course-control-plane"]
    assert sorted(names, key=hierarchy.natural_key) == ["course-control-plane", "course-worker", "course-worker2", "course-worker10"]


def test_nodes_of_a_fresh_cluster_look_like_kind(fresh):
    found = hierarchy.nodes(fresh.core)
    assert [n.name for n in found] == ["course-control-plane", "course-worker", "course-worker2"]
    assert [n.role for n in found] == ["control-plane", "worker", "worker"]
    for node in found:
        assert node.ready and node.internal_ip.startswith("172.18.0.")
        assert ipaddress.ip_network(node.pod_cidr).prefixlen == 24
        assert node.cpu == "8" and node.max_pods == "110" and 30 < node.memory_gib < 33
    assert found[0].capacity_text() == "8 CPU, 31.3 GiB, up to 110 pods"


def test_pods_on_a_node_with_their_containers(fresh):
    control_plane = hierarchy.pods_on(fresh.core, "course-control-plane")
    names = {p.name for p in control_plane}
    assert "etcd-course-control-plane" in names and "kube-apiserver-course-control-plane" in names
    etcd = next(p for p in control_plane if p.name == "etcd-course-control-plane")
    assert etcd.mirror and etcd.host_network and etcd.owner == "Node/course-control-plane"
    assert etcd.ip == hierarchy.nodes(fresh.core)[0].internal_ip
    assert [c.name for c in etcd.containers] == ["etcd"] and etcd.containers[0].ready
    assert all(p.node == "course-control-plane" for p in control_plane)
    kindnet = [p for n in hierarchy.nodes(fresh.core) for p in hierarchy.pods_on(fresh.core, n.name) if p.name.startswith("kindnet-")]
    assert len(kindnet) == 3 and all(p.owner == "DaemonSet/kindnet" and not p.mirror for p in kindnet)


def test_practice_cluster_is_deterministic_and_seeds_differ():
    def snapshot(seed):
        with practice_clusters.practice_cluster(seed=seed, workers=3, pods_per_worker=2) as practice:
            return sorted((p.key, p.node, p.ip) for n in hierarchy.nodes(practice.core) for p in hierarchy.pods_on(practice.core, n.name))

    first, again, other = snapshot(11), snapshot(11), snapshot(12)
    assert first == again
    assert first != other
    assert len(first) == len(other)  # the same structure, other names and placement


def test_practice_cluster_has_every_kind_of_pod(busy):
    everything = [p for n in hierarchy.nodes(busy.core) for p in hierarchy.pods_on(busy.core, n.name)]
    owners = Counter((p.owner or "none/").split("/")[0] for p in everything)
    assert owners["ReplicaSet"] >= 12 + 1  # the shop's web pods and coredns' (and local-path's)
    assert owners["DaemonSet"] == 5 * 3  # kindnet, kube-proxy and node-agent on each of 5 nodes
    assert owners["Job"] == 1 and owners["none"] >= 1
    assert sum(p.mirror for p in everything) == 4 + 1  # the control plane's four, the worker's one
    web = [p for p in everything if p.namespace == "shop"]
    assert all([c.name for c in p.containers] == ["web", "log-shipper"] for p in web)
    assert sum(not c.ready for p in web for c in p.containers) == 1
    assert {p.phase for p in everything} == {"Running", "Succeeded"}
    (waiting,) = hierarchy.unscheduled_pods(busy.core)
    assert waiting.node is None and waiting.phase == "Pending" and waiting.ip is None


def test_pod_ips_are_unique_and_inside_the_node_cidr_unless_host_network(busy):
    seen = set()
    for node in hierarchy.nodes(busy.core):
        network = ipaddress.ip_network(node.pod_cidr)
        for pod in hierarchy.pods_on(busy.core, node.name):
            if pod.host_network:
                assert pod.ip == node.internal_ip, pod
            else:
                assert ipaddress.ip_address(pod.ip) in network, pod
                assert pod.ip not in seen, f"{pod.ip} given twice"
                seen.add(pod.ip)


def test_raw_json_agrees_with_the_client(busy):
    raw = busy.raw("/api/v1/pods")
    assert raw["kind"] == "PodList"
    assert len(raw["items"]) == len(busy.core.list_pod_for_all_namespaces().items)


def test_text_tree_shows_all_four_levels(fresh):
    text = hierarchy.text_tree(fresh.core, "course")
    assert text.splitlines()[0] == "course: 3 nodes"
    assert "└─ node course-worker (worker, IP 172.18.0." in text
    assert "   └─ pod kube-system/etcd-course-control-plane  Running" in text
    assert "      └─ container etcd  registry.k8s.io/etcd:" in text
    short = hierarchy.text_tree(fresh.core, "course", max_nodes=1, max_pods=2)
    assert "... and 2 more nodes" in short and "more pods" in short


def test_tree_builds_with_one_call_and_loads_pods_only_on_expand(busy):
    core = CountingCore(busy.core)
    tree = ct.cluster_tree(core, "course")
    assert isinstance(tree.widget, ipywidgets.VBox)
    assert core.calls == Counter({"list_node": 1})
    assert tree.visible_nodes == ["course-control-plane", "course-worker", "course-worker2", "course-worker3", "course-worker4"]
    assert "5 nodes (1 control plane, 4 workers)" in tree.header.value

    pods = tree.expand("course-worker2")
    assert core.calls["list_pod_for_all_namespaces[spec.nodeName=course-worker2]"] == 1
    assert core.pod_calls() == 1
    assert pods == hierarchy.pods_on(busy.core, "course-worker2")
    web = next(p for p in pods if p.namespace == "shop")
    tree.expand_pod("course-worker2", web.key)
    text = tree.text()
    assert f"pod {web.key}" in text and "container log-shipper  busybox:1.36" in text
    assert core.pod_calls() == 1  # containers come with the pod: no extra call

    tree.refresh()  # reloads what is open, and it stays open
    assert core.calls["list_node"] == 2 and core.pod_calls() == 2
    assert "container log-shipper" in tree.text()
    tree.collapse("course-worker2")
    assert "pod " not in tree.text()


def test_tree_refresh_sees_new_pods(busy):
    tree = ct.cluster_tree(busy.core, "course")
    before = len(tree.expand("course-worker"))
    busy.core.create_namespaced_pod("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late-arrival"},
        "spec": {"nodeName": "course-worker", "containers": [{"name": "c", "image": "busybox:1.36"}]}})
    try:
        tree.refresh()
        assert len(tree.loaded_pods["course-worker"]) == before + 1
        assert "default/late-arrival" in tree.text()
    finally:
        busy.core.delete_namespaced_pod("late-arrival", "default")


def test_tree_on_hundreds_of_nodes_stays_lazy():
    with practice_clusters.practice_cluster(seed=1, workers=300) as practice:
        core = CountingCore(practice.core)
        began = time.perf_counter()
        tree = ct.cluster_tree(core, "course", page_size=25)
        built_in = time.perf_counter() - began
        assert core.calls == Counter({"list_node": 1}), "building the tree must not list any pods"
        assert len(tree.all_nodes) == 301
        assert len(tree.visible_nodes) == 25 and len(tree.node_box.children) == 25
        assert tree.more_button.layout.display is None
        assert "showing 25" in tree.header.value
        tree.show_more()
        assert len(tree.node_box.children) == 50
        tree.filter.value = "worker29"  # worker29 and worker290..worker299
        assert tree.visible_nodes[:2] == ["course-worker29", "course-worker290"] and len(tree.visible_nodes) == 11
        assert tree.more_button.layout.display == "none"
        tree.expand("course-worker299")
        assert core.pod_calls() == 1
        # Speed is measured in bench/, not asserted; this only reports it.
        print(f"tree over 301 nodes built in {built_in * 1000:.0f} ms")


def test_expanding_an_unknown_node_says_which_exist(fresh):
    tree = ct.cluster_tree(fresh.core)
    with pytest.raises(KeyError, match="no node called 'nope'.*course-worker"):
        tree.expand("nope")


def test_figure_draws_nodes_pods_and_containers(busy):
    node_list = hierarchy.nodes(busy.core)
    pods = {n.name: hierarchy.pods_on(busy.core, n.name) for n in node_list}
    figure = ct.hierarchy_figure(node_list, pods, "course")
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts[0] == "cluster course: 5 nodes"
    assert sum(t.startswith("node ") for t in texts) == 5
    shown_pods = sum(min(len(p), 8) for p in pods.values())
    assert sum(t.startswith("pod ") for t in texts) == shown_pods
    assert any(t.startswith("log-shipper: busybox:1.36") for t in texts)
    small = ct.hierarchy_figure(node_list, pods, "course", max_nodes=2, max_pods=1)
    texts = [t.get_text() for t in small.axes[0].texts]
    assert texts[0] == "cluster course: 5 nodes (3 not drawn)"
    assert any("more pods" in t for t in texts)


def test_picture_is_a_png_of_the_live_cluster(fresh):
    image = ct.picture(fresh.core, "course", highlight=lambda pod: pod.name.startswith("coredns"))
    assert image.data.startswith(b"\x89PNG")


def test_picture_shows_a_node_failure_as_lesson_5_draws_it():
    """A powered-off node is drawn grey with "NotReady"; its pods, once evicted, "Terminating"; a pod
    whose readiness fails, "not ready"; a label selector draws only one app's pods."""
    from labkit import cluster_nodes
    from labkit.practice_live import live_cluster

    with live_cluster(seed=1, workers=3) as practice:
        practice.apps.create_namespaced_deployment("default", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "course-webapp:lesson"}]}}}})
        practice.advance(20)
        victim = hierarchy.pods_on(practice.core, "course-worker2", "app=web")[0]
        cluster_nodes.power_off(practice, "course-worker2")
        practice.advance(360)  # NotReady after ~50 s, evicted 300 s later (the toleration)
        node_list = hierarchy.nodes(practice.core)
        down = next(n for n in node_list if n.name == "course-worker2")
        assert not down.ready
        pods = {n.name: hierarchy.pods_on(practice.core, n.name, "app=web") for n in node_list}
        assert {p.status for p in pods["course-worker2"]} == {"Terminating"}, pods["course-worker2"]
        assert victim.name in {p.name for p in pods["course-worker2"]}
        assert all(p.name.startswith("web-") for ps in pods.values() for p in ps)
        assert sum(p.status == "Running" for ps in pods.values() for p in ps) == 3  # replaced on the others
        texts = [t.get_text() for t in ct.hierarchy_figure(node_list, pods, "course").axes[0].texts]
        assert texts.count("NotReady") == 1
        assert any(t.endswith("· Terminating") for t in texts)
        assert ct.picture(practice.core, "course", label_selector="app=web").data.startswith(b"\x89PNG")
    unready = hierarchy.PodInfo("default", "web-1", "n", "10.244.1.2", "Running", False, None, False,
                                (hierarchy.ContainerInfo("web", "course-webapp:lesson", False, 0, "running"),))
    assert unready.status == "Running, not ready" and hierarchy.pod_line(unready).startswith("pod default/web-1  Running, not ready")


def test_tree_says_inside_the_widget_when_its_cluster_is_gone(caplog):
    """After the cluster behind a tree stops, opening a node or pressing Refresh shows a sentence
    in the widget (not nothing), and no exception or warning escapes a click (JupyterLab would
    only show it in its log console)."""
    practice = practice_clusters.practice_cluster(seed=0, workers=2, pods_per_worker=1)
    try:
        tree = ct.cluster_tree(practice.core)
        before = tree.expand("course-worker")
        assert tree.problem is None and ct.GONE not in tree.shown_text()
    finally:
        practice.stop()
    caplog.set_level("WARNING")
    tree._node_rows["course-worker2"].toggle.click()  # what a click on ▸ does
    shown = tree.shown_text()
    assert ct.GONE in shown, shown
    opened = ct._visible_text(tree._node_rows["course-worker2"].children)
    assert opened == ct.GONE, "the node being opened says why it shows no pods"
    tree.refresh_button.click()
    shown = tree.shown_text()
    assert shown.count(ct.GONE) >= 2 and tree.notice.layout.display is None
    assert before[0].name in shown, "what was loaded before stays on show"
    assert [r.getMessage() for r in caplog.records] == [], "nothing may reach the log console"
    with pytest.raises(ct.ClusterUnavailable, match="no longer running"):
        tree.expand("course-worker2")


def test_tree_says_when_the_cluster_answers_with_an_error(fresh):
    from kubernetes.client.rest import ApiException

    class Failing:
        def __init__(self, core):
            self._core = core

        def list_node(self, **kwargs):
            return self._core.list_node(**kwargs)

        def list_pod_for_all_namespaces(self, **kwargs):
            raise ApiException(status=503, reason="Service Unavailable")

    tree = ct.cluster_tree(Failing(fresh.core))
    tree._node_rows["course-worker"].toggle.click()
    assert "The cluster answered 503 Service Unavailable" in tree.shown_text()
    tree.core = fresh.core
    tree.refresh()
    assert tree.problem is None and tree.notice.layout.display == "none"
    assert "no pods on this node" not in tree.shown_text() and "kube-proxy-" in tree.shown_text()
