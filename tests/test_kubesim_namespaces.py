"""New namespaces get what the controller manager puts in every namespace; pods can opt out of the token."""
from __future__ import annotations

import requests

from labkit import kubesim


def _names(sim, path: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in requests.get(sim.url + path, timeout=10).json()["items"])


def test_a_new_namespace_gets_its_default_service_account_and_root_ca_back_when_deleted():
    sim = kubesim.start(realtime=False)
    try:
        assert requests.post(sim.url + "/api/v1/namespaces", json={"metadata": {"name": "dev"}}, timeout=10).status_code == 201
        sim.advance(0)
        assert _names(sim, "/api/v1/namespaces/dev/serviceaccounts") == ["default"]
        assert _names(sim, "/api/v1/namespaces/dev/configmaps") == ["kube-root-ca.crt"]
        requests.delete(sim.url + "/api/v1/namespaces/dev/serviceaccounts/default", timeout=10)
        requests.delete(sim.url + "/api/v1/namespaces/dev/configmaps/kube-root-ca.crt", timeout=10)
        sim.advance(0)
        assert _names(sim, "/api/v1/namespaces/dev/serviceaccounts") == ["default"]
        assert _names(sim, "/api/v1/namespaces/dev/configmaps") == ["kube-root-ca.crt"]
        requests.delete(sim.url + "/api/v1/namespaces/dev", timeout=10)
        sim.advance(60)
        assert requests.get(sim.url + "/api/v1/namespaces/dev", timeout=10).status_code == 404
    finally:
        sim.stop()


def test_automount_false_gives_no_token_volume():
    sim = kubesim.start(realtime=False, controllers=False)
    try:
        def made(extra: dict) -> dict:
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p" + str(len(extra))},
                   "spec": {"containers": [{"name": "c", "image": "busybox"}], **extra}}
            return requests.post(sim.url + "/api/v1/namespaces/default/pods", json=pod, timeout=10).json()["spec"]
        plain = made({})
        assert [v["name"].startswith("kube-api-access-") for v in plain["volumes"]] == [True]
        opted_out = made({"automountServiceAccountToken": False})
        assert "volumes" not in opted_out and "volumeMounts" not in opted_out["containers"][0]
    finally:
        sim.stop()
