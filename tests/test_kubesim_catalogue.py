"""The image catalogue (``kubesim/data/images.yaml``): the images learners meet exist with their
real tags, a tag or repository that does not exist fails with containerd's words, and each image's
default process, shell and logs are what a real cluster shows.

Why: kubernetes.io's Kubernetes Basics, the probes, DNS and HPA pages, Docker's workshop and GKE's
quickstart are typed verbatim against the emulator; an image they use that "does not exist" stops
the lesson at its first pod, and the tutorial's deliberate bad tag (``kubernetes-bootcamp:v10``)
must fail as it does on a real cluster.
"""
from __future__ import annotations

import pytest
import requests

from labkit import kubesim
from labkit.kubesim import images

TUTORIAL_IMAGES = [
    "gcr.io/google-samples/kubernetes-bootcamp:v1", "docker.io/jocatalin/kubernetes-bootcamp:v2",
    "jocatalin/kubernetes-bootcamp:v1", "registry.k8s.io/busybox", "registry.k8s.io/goproxy:0.1",
    "registry.k8s.io/liveness", "k8s.gcr.io/liveness", "registry.k8s.io/e2e-test-images/agnhost:2.40",
    "registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3", "registry.k8s.io/hpa-example", "busybox:1.28",
    "docker.io/curlimages/curl", "curlimages/curl:8.11.1", "nginx:1.14.2", "nginx:1.16.1", "redis", "mongo",
    "gcr.io/google_samples/gb-frontend:v5", "us-docker.pkg.dev/google-samples/containers/gke/gb-redis-follower:v2",
    "registry.k8s.io/echoserver:1.10", "k8s.gcr.io/echoserver:1.4", "docker/getting-started", "node:18-alpine",
    "mysql:8.0", "us-docker.pkg.dev/google-samples/containers/gke/hello-app:1.0",
    "us-docker.pkg.dev/google-samples/containers/gke/hello-app:2.0", "gcr.io/google-samples/hello-app:1.0",
    "gcr.io/google-samples/hello-app:2.0", "us-docker.pkg.dev/google-samples/containers/gke/whereami:v1.2.24",
    "registry.k8s.io/nginx-slim:0.21", "perl:5.34.0",
]


@pytest.mark.parametrize("image", TUTORIAL_IMAGES)
def test_the_images_of_the_tutorials_exist(image):
    info = images.lookup(image)
    assert info.exists, f"{image} should pull, as it does on a real cluster: {info.error}"


@pytest.mark.parametrize("image", ["gcr.io/google-samples/kubernetes-bootcamp:v10", "jocatalin/kubernetes-bootcamp:v3",
                                   "gcr.io/google-samples/hello-app:3.0", "registry.k8s.io/goproxy:0.2",
                                   "nginx:doesnotexist", "docker/getting-started:v9"])
def test_a_tag_that_does_not_exist_is_not_found_in_containerds_words(image):
    info = images.lookup(image)
    assert not info.exists
    ref = info.ref
    assert info.error == (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
                          f'failed to resolve reference "{ref}": {ref}: not found')


def test_a_repository_that_does_not_exist_is_pull_access_denied():
    info = images.lookup("kubernetes-bootcamp:v1")   # the short name is Docker Hub's library/, which has no such image
    assert info.ref == "docker.io/library/kubernetes-bootcamp:v1"
    assert "pull access denied, repository does not exist or may require authorization" in info.error


def test_each_image_says_its_shell_its_process_and_its_environment():
    assert images.lookup("us-docker.pkg.dev/google-samples/containers/gke/hello-app:1.0").shell == "none"
    assert images.lookup("gcr.io/google-samples/kubernetes-bootcamp:v1").shell == "bash"
    assert images.lookup("busybox:1.28").shell == "sh"
    boot = images.lookup("gcr.io/google-samples/kubernetes-bootcamp:v1")
    assert boot.process == "node server.js" and boot.runs == "forever" and 8080 in boot.serves
    assert images.lookup("busybox").env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert images.lookup("curlimages/curl").exit_code == 2


def _pod(sim, name: str, spec: dict) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    r = requests.post(sim.url + "/api/v1/namespaces/default/pods", json=body, timeout=10)
    assert r.status_code == 201, r.text


def _get(sim, name: str) -> dict:
    return requests.get(f"{sim.url}/api/v1/namespaces/default/pods/{name}", timeout=10).json()


def test_on_the_cluster_the_bootcamp_runs_and_its_v10_fails_as_the_tutorial_shows():
    sim = kubesim.start(seed=0, realtime=False)
    try:
        _pod(sim, "good", {"containers": [{"name": "kubernetes-bootcamp", "image": "gcr.io/google-samples/kubernetes-bootcamp:v1"}]})
        _pod(sim, "bad", {"containers": [{"name": "kubernetes-bootcamp", "image": "gcr.io/google-samples/kubernetes-bootcamp:v10"}]})
        sim.advance(5)
        good = _get(sim, "good")
        assert good["status"]["phase"] == "Running"
        log = requests.get(f"{sim.url}/api/v1/namespaces/default/pods/good/log", timeout=10).text
        first = log.splitlines()[0]
        assert first.startswith("Kubernetes Bootcamp App Started At: 20") and first.endswith("| Running On:  good "), log
        assert "T" in first.split("At: ")[1] and first.split("At: ")[1].split(" ")[0].endswith("Z")
        waiting = _get(sim, "bad")["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] in ("ErrImagePull", "ImagePullBackOff")
        events = requests.get(sim.url + "/api/v1/namespaces/default/events", timeout=10).json()["items"]
        ref = "gcr.io/google-samples/kubernetes-bootcamp:v10"
        assert any(e["involvedObject"]["name"] == "bad" and e["message"] ==
                   f'Failed to pull image "{ref}": rpc error: code = NotFound desc = failed to pull and unpack image '
                   f'"{ref}": failed to resolve reference "{ref}": {ref}: not found' for e in events)
    finally:
        sim.stop()


def test_a_shell_with_stdin_waits_for_the_learner_and_one_without_exits():
    """`kubectl run -i --tty x --image=busybox -- sh` keeps running; the same pod without stdin completes."""
    sim = kubesim.start(seed=0, realtime=False)
    try:
        _pod(sim, "tty", {"restartPolicy": "Never", "containers": [
            {"name": "tty", "image": "busybox", "args": ["sh"], "stdin": True, "stdinOnce": True, "tty": True}]})
        _pod(sim, "plain", {"restartPolicy": "Never", "containers": [{"name": "plain", "image": "busybox", "args": ["sh"]}]})
        _pod(sim, "default", {"restartPolicy": "Never", "containers": [
            {"name": "default", "image": "busybox", "stdin": True, "tty": True}]})
        sim.advance(30)
        assert _get(sim, "tty")["status"]["phase"] == "Running"
        assert _get(sim, "default")["status"]["phase"] == "Running"
        assert _get(sim, "plain")["status"]["phase"] == "Succeeded"
    finally:
        sim.stop()


def test_a_pid_1_without_a_sigterm_handler_keeps_its_pod_terminating_for_the_grace_period():
    """The bootcamp's `node server.js` ignores SIGTERM (Kubernetes Basics: "view the old one terminating")."""
    import requests

    from labkit import kubesim
    sim = kubesim.start(realtime=False, seed=4)
    pods = sim.url + "/api/v1/namespaces/default/pods"
    try:
        for name, image in (("boot", "gcr.io/google-samples/kubernetes-bootcamp:v1"), ("web", "nginx")):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"containers": [{"name": name, "image": image}]}}
            assert requests.post(pods, json=body, timeout=10).status_code == 201
        sim.advance(10)
        for name in ("boot", "web"):
            assert requests.delete(f"{pods}/{name}", timeout=10).status_code == 200
        sim.advance(5)
        assert requests.get(f"{pods}/web", timeout=10).status_code == 404  # nginx stops on SIGTERM
        boot = requests.get(f"{pods}/boot", timeout=10).json()
        assert boot["metadata"].get("deletionTimestamp"), boot
        sim.advance(30)
        assert requests.get(f"{pods}/boot", timeout=10).status_code == 404  # killed when the 30 s ran out
    finally:
        sim.stop()
