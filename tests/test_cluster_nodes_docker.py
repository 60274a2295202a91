"""labkit.cluster_nodes on kind: a kind node is a Docker container (labelled io.x-k8s.kind.role), and
powering it off is `docker stop`. Checked with a real engine and a container that stands for a kind
worker (made from the local busybox image; no kind binary or Kubernetes image can be had here).
"""
from __future__ import annotations

import os

import pytest

from conftest import skip_unless_ci
from http_fakes import FakeHandler, serving
from labkit import cluster_nodes, docker_engine

NODE = "labkit-test-kind-worker"


class _KindApiServer(FakeHandler):
    """kind's API server, as far as cluster_nodes asks: it has no emulator clock group."""

    def do_GET(self) -> None:
        self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})


@pytest.fixture()
def kind_worker():
    status = docker_engine.docker_engine()
    if not status.available:
        skip_unless_ci(f"no Docker engine: {status.detail}")
    import docker

    client = docker.from_env()
    image = os.environ.get("LABKIT_CONTAINER_IMAGE", "busybox:latest")
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        client.close()
        skip_unless_ci(f"the image {image} is not on this machine: make it with `bash .ci/base-images.sh`")
    for old in client.containers.list(all=True, filters={"name": NODE}):
        old.remove(force=True)
    container = client.containers.run(image, ["sleep", "3600"], name=NODE, detach=True,
                                      labels={"io.x-k8s.kind.role": "worker", "io.x-k8s.kind.cluster": "course"})
    try:
        yield container
    finally:
        container.remove(force=True)
        client.close()


def test_power_off_and_on_stop_and_start_the_kind_nodes_container(kind_worker) -> None:
    from kubernetes import client

    with serving(_KindApiServer) as url:
        configuration = client.Configuration()
        configuration.host = url
        api = client.ApiClient(configuration)
        said = cluster_nodes.power_off(api, NODE)
        assert said == f"{NODE}: stopped (docker stop {NODE}: a kind node is a container)"
        kind_worker.reload()
        assert kind_worker.status == "exited"
        cluster_nodes.power_on(api, NODE)
        kind_worker.reload()
        assert kind_worker.status == "running"
