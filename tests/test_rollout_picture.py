"""labkit.rollout_picture: one app's pods on their nodes, read from a live emulator, as text and a picture.

Each test changes the cluster on a frozen clock (``advance``), so the states are the controllers' own:
a node powered off is NotReady and its pods are evicted after their 300 s toleration, a cordoned node
is SchedulingDisabled, an image nobody has is ImagePullBackOff, a pod that fits nowhere is Pending.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from kubernetes import client, config, utils

from labkit import kubesim
from labkit import rollout_picture as rp

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      topologySpreadConstraints:
        - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
           labelSelector: {matchLabels: {app: web}}}
      containers:
        - name: web
          image: course-webapp:lesson
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: other}
spec:
  replicas: 2
  selector: {matchLabels: {app: other}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: web, image: course-webapp:lesson}]
"""


@pytest.fixture
def cluster(tmp_path):
    sim = kubesim.start(tmp_path / "kubeconfig", seed=1, realtime=False)
    api = config.new_client_from_config(config_file=sim.kubeconfig)
    core = client.CoreV1Api(api)
    try:
        for name, zone in (("course-worker", "zone-a"), ("course-worker2", "zone-b")):
            core.patch_node(name, {"metadata": {"labels": {rp.ZONE_LABEL: zone}}})
        utils.create_from_yaml(api, yaml_objects=list(yaml.safe_load_all(WEB)), namespace="default")
        sim.advance(20)
        yield sim, core, client.AppsV1Api(api)
    finally:
        api.close()
        sim.stop()


def test_a_snapshot_puts_each_selected_pod_on_its_node_and_no_other_pod(cluster):
    _, core, _ = cluster
    snap = rp.snapshot(core, "app=web", title="before")
    by_node = {node.name: node for node in snap.nodes}
    assert list(by_node) == ["course-control-plane", "course-worker", "course-worker2"]
    assert by_node["course-control-plane"].control_plane and not by_node["course-control-plane"].pods
    assert by_node["course-worker"].zone == "zone-a" and by_node["course-worker2"].zone == "zone-b"
    assert snap.count("course-worker") == 2 and snap.count("course-worker2") == 2   # maxSkew 1 over two zones
    assert len(snap.pods) == 4 and all(p.name.startswith("web-") and p.status == "Running" and p.ready for p in snap.pods)
    assert not snap.pending and all(n.state == "Ready" for n in snap.nodes)
    text = rp.snapshot_text(snap)
    assert text.splitlines()[0] == "before:" and "course-worker (Ready, zone zone-a): web-" in text and "other-" not in text


def test_a_powered_off_node_is_notready_and_its_evicted_pods_terminating_while_replacements_run(cluster):
    sim, core, _ = cluster
    sim.stop_node("course-worker2")
    sim.advance(60)
    down = rp.snapshot(core, "app=web")
    worker2 = next(n for n in down.nodes if n.name == "course-worker2")
    assert not worker2.ready and worker2.state == "NotReady"
    assert len(worker2.pods) == 2 and all(p.status == "Running" and not p.ready for p in worker2.pods)
    sim.advance(300)   # the 300 s toleration of node.kubernetes.io/unreachable runs out
    after = rp.snapshot(core, "app=web")
    worker2 = next(n for n in after.nodes if n.name == "course-worker2")
    assert [p.status for p in worker2.pods] == ["Terminating", "Terminating"] and not any(p.ready for p in worker2.pods)
    # the replacements would break maxSkew 1 in the live zone (the dead node's zone counts, with 0 pods): Pending
    assert len(after.pending) == 2 and all(p.status == "Pending" and p.node is None for p in after.pending)
    assert "not scheduled: web-" in rp.snapshot_text(after)


def test_a_cordoned_node_and_an_image_nobody_has_show_as_kubectl_shows_them(cluster):
    sim, core, apps = cluster
    core.patch_node("course-worker", {"spec": {"unschedulable": True}})
    apps.patch_namespaced_deployment("other", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "course-wepapp:lesson"}]}}}})
    sim.advance(30)
    snap = rp.snapshot(core, "app=other")
    assert next(n for n in snap.nodes if n.name == "course-worker").state == "Ready,SchedulingDisabled"
    failing = [p for p in snap.pods if p.status in ("ErrImagePull", "ImagePullBackOff")]
    assert failing and all(not p.ready and p.node == "course-worker2" for p in failing)


def test_pod_status_follows_kubectls_status_column():
    def pod(deleting=False, phase="Running", waiting=None, terminated=None):
        state = client.V1ContainerState(
            waiting=client.V1ContainerStateWaiting(reason=waiting) if waiting else None,
            terminated=client.V1ContainerStateTerminated(exit_code=0, reason=terminated) if terminated else None)
        status = client.V1ContainerStatus(name="c", image="i", image_id="", ready=False, restart_count=0, state=state)
        return client.V1Pod(metadata=client.V1ObjectMeta(name="p", deletion_timestamp=datetime.now(timezone.utc) if deleting else None),
                            status=client.V1PodStatus(phase=phase, container_statuses=[status]))

    assert rp.pod_status(pod()) == "Running"
    assert rp.pod_status(pod(deleting=True, waiting="ImagePullBackOff")) == "Terminating"
    assert rp.pod_status(pod(phase="Pending", waiting="ImagePullBackOff")) == "ImagePullBackOff"
    assert rp.pod_status(pod(phase="Succeeded", terminated="Completed")) == "Completed"
    assert rp.pod_status(client.V1Pod(metadata=client.V1ObjectMeta(name="p"))) == "Unknown"


def test_the_figure_has_one_panel_per_snapshot_and_leaves_out_an_empty_control_plane(cluster):
    sim, core, _ = cluster
    before = rp.snapshot(core, "app=web", title="before")
    sim.stop_node("course-worker2")
    sim.advance(360)
    after = rp.snapshot(core, "app=web", title="after")
    figure = rp.placement_figure(before, after)
    axes = figure.get_axes()
    assert len(axes) == 2
    texts = [[t.get_text() for t in one.texts] for one in axes]
    assert "course-control-plane" not in texts[0] and "course-worker" in texts[0] and "course-worker2" in texts[0]
    assert axes[0].get_title() == "before: 4 of 4 pods ready" and axes[1].get_title() == "after: 2 of 6 pods ready"
    assert "not scheduled" in texts[1] and "zone zone-b · NotReady" in texts[1]
    assert rp.picture(before, after).data.startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="one snapshot or more"):
        rp.placement_figure()
