"""labkit.service_picture: a Service, its EndpointSlices and pods, read from a live emulator, as text and a picture."""
from __future__ import annotations

import pytest
import yaml
from kubernetes import client, config, utils
from matplotlib.figure import Figure

from labkit import kubesim
from labkit import service_picture as sp
from labkit.cluster_hierarchy import ContainerInfo, PodInfo

# Two Deployments behind one Service (label app=web): `web` is ready, `web-warming` never is
# (its APP_READY_FILE does not exist, so /readyz answers 503), so the Service has ready and
# not-ready endpoints without anyone typing into a container.
MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web, track: stable}}
  template:
    metadata: {labels: {app: web, track: stable}}
    spec:
      containers:
        - name: web
          image: course-webapp:lesson
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-warming}
spec:
  replicas: 1
  selector: {matchLabels: {app: web, track: warming}}
  template:
    metadata: {labels: {app: web, track: warming}}
    spec:
      containers:
        - name: web
          image: course-webapp:lesson
          env: [{name: APP_READY_FILE, value: /tmp/ready}]
          readinessProbe: {httpGet: {path: /readyz, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-pods}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 8080}]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    sim = kubesim.start(tmp_path_factory.mktemp("svc") / "kubeconfig", seed=2, realtime=False)
    api = config.new_client_from_config(config_file=sim.kubeconfig)
    try:
        utils.create_from_yaml(api, yaml_objects=list(yaml.safe_load_all(MANIFESTS)), namespace="default")
        sim.advance(20)
        yield client.CoreV1Api(api), client.DiscoveryV1Api(api)
    finally:
        api.close()
        sim.stop()


def test_view_reads_the_service_its_slice_and_the_selected_pods(cluster):
    core, discovery = cluster
    view = sp.service_view(core, discovery, "web")
    assert view.type == "ClusterIP" and view.cluster_ip.startswith("10.96.") and not view.headless
    assert view.ports == ("80 -> 8080/TCP",) and view.selector == {"app": "web"}
    assert view.dns_name == "web.default.svc.cluster.local"
    assert len(view.slices) == 1 and view.slices[0].ports == (8080,)
    pods = {p.name: p for p in view.pods}
    assert len(pods) == 3 and {e.pod for e in view.endpoints} == set(pods)
    warming = [name for name in pods if name.startswith("web-warming-")]
    assert view.receiving() == sorted(set(pods) - set(warming))
    by_pod = {e.pod: e for e in view.endpoints}
    assert not by_pod[warming[0]].ready and by_pod[warming[0]].address == pods[warming[0]].ip
    assert all(by_pod[name].ready and by_pod[name].node == pods[name].node for name in view.receiving())


def test_text_says_which_pods_get_traffic(cluster):
    core, discovery = cluster
    text = sp.service_text(sp.service_view(core, discovery, "web"))
    assert text.startswith("Service default/web (ClusterIP): ClusterIP 10.96.")
    assert text.count("ready: gets traffic") == 2 and text.count("not ready: left out") == 1
    assert text.splitlines()[-1].startswith("gets traffic: web-") and "web-warming" not in text.splitlines()[-1]


def test_a_headless_service_says_so(cluster):
    core, discovery = cluster
    view = sp.service_view(core, discovery, "web-pods")
    assert view.headless and view.slices and len(view.receiving()) == 2
    assert "ClusterIP None (headless" in sp.service_text(view)


def test_picture_is_a_png_of_the_live_service(cluster):
    core, discovery = cluster
    image = sp.picture(core, discovery, "web")
    assert image.data.startswith(b"\x89PNG")


def _pod(name: str, ready: bool, ip: str | None = "10.244.1.2") -> PodInfo:
    container = ContainerInfo("web", "course-webapp:lesson", ready, 1, "running")
    return PodInfo("default", name, "course-worker", ip, "Running" if ip else "Pending", False, "ReplicaSet/web-1", False,
                   (container,))


def test_figure_draws_service_slice_endpoints_and_pods():
    endpoints = (sp.Endpoint("10.244.1.2", True, True, False, "web-a", "course-worker"),
                 sp.Endpoint("10.244.1.3", False, False, False, "web-b", "course-worker"))
    view = sp.ServiceView("default", "web", "ClusterIP", "10.96.0.50", ("80 -> 8080/TCP",), {"app": "web"},
                          (sp.EndpointSliceInfo("web-x1", (8080,), endpoints),),
                          (_pod("web-a", True), _pod("web-b", False, "10.244.1.3"), _pod("web-c", False, None)))
    figure = sp.service_figure(view)
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert texts[0] == "ClusterIP Service default/web: 1 of 2 endpoints ready"
    assert "Service web" in texts and "ClusterIP 10.96.0.50" in texts and "EndpointSlice web-x1 · port 8080" in texts
    assert "10.244.1.2  ready" in texts and "10.244.1.3  not ready" in texts
    assert any(t.startswith("IP 10.244.1.3 · course-worker · NOT ready · 1 restarts") for t in texts)
    assert "IP - · Pending · no endpoint" in texts  # selected, but no IP yet: no endpoint, no arrow
    arrows = [p for p in figure.axes[0].patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows) == 3  # Service -> slice, and one per endpoint
    assert sp.service_text(view).splitlines()[-2] == "pods the selector matches without an endpoint (no IP yet?): web-c"


def test_figure_of_a_service_without_slices_or_pods():
    view = sp.ServiceView("default", "lonely", "ClusterIP", "None", ("8080 -> 8080/TCP",), {"app": "none"}, (), ())
    texts = [t.get_text() for t in sp.service_figure(view).axes[0].texts]
    assert texts[0] == "headless Service default/lonely: 0 of 0 endpoints ready"
    assert "no EndpointSlice (yet)" in texts and "no pods match the selector" in texts
    assert sp.service_text(view).endswith("gets traffic: no pod")
