"""The proxy subresources of pods, services and nodes: the API server as an HTTP proxy into the cluster.

Why: ``kubectl proxy`` + ``curl localhost:8001/api/v1/namespaces/default/pods/NAME:8080/proxy/``
is how the Kubernetes Basics tutorial first reaches an app, and ``kubectl get --raw
/api/v1/nodes/NODE/proxy/healthz`` how one asks a kubelet. As the real API server does
(pkg/registry/core/{pod,service,node} ``ResourceLocation`` and the proxy transport), the URL
names a target, ``[scheme:]NAME[:PORT]``; the request (method, path, query, headers, body) goes to
what serves there (:mod:`.serving`) and its answer comes back as it is. Failures are worded as the
API server words them: 404 for an unknown object, 400 ``address not allowed`` for a pod with no
IP yet, 503 ``no endpoints available for service "web"``, and 503 ``error trying to reach service:
dial tcp 10.244.1.5:8080: connect: connection refused`` when nothing listens.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from . import errors, resources, serving
from .routing import Request, Response, Target

Obj = dict[str, Any]
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer",
              "content-length", "host", "accept-encoding"}


def split_scheme_name_port(text: str) -> tuple[str, str, str] | None:
    """``[scheme:]name[:port]`` as apimachinery's SplitSchemeNamePort reads it; None if malformed."""
    parts = text.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def unreachable(message: str) -> errors.ApiError:
    return errors.ApiError(503, "ServiceUnavailable", f"error trying to reach service: {message}")


class Proxy:
    """``Api.proxy``: pods/NAME[:PORT]/proxy, services/[scheme:]NAME[:PORT]/proxy, nodes/NAME[:PORT]/proxy."""

    def proxy(self, req: Request, t: Target) -> Response:
        parsed = split_scheme_name_port(t.name or "")
        if parsed is None:
            raise errors.bad_request(f"invalid request {t.name!r}")
        scheme, name, port = parsed
        kind = t.res.plural
        if kind == "pods":
            pod = self.store.find(resources.get("/pods"), t.namespace or "", name)  # type: ignore[attr-defined]
            if pod is None:
                raise errors.not_found("", "pods", name)
            return self._to_pod(req, t, pod, self._pod_port(pod, port), scheme)
        if kind == "services":
            svc = self.store.find(resources.get("/services"), t.namespace or "", name)  # type: ignore[attr-defined]
            if svc is None:
                raise errors.not_found("", "services", name)
            return self._to_service(req, t, svc, port, scheme)
        if kind == "nodes":
            node = self.store.find(resources.get("/nodes"), "", name)  # type: ignore[attr-defined]
            if node is None:
                raise errors.not_found("", "nodes", name)
            return self._to_node(req, t, node, port)
        raise errors.path_not_found()

    # ---- pods ----------------------------------------------------------------------------------
    @staticmethod
    def _pod_port(pod: Obj, port: str) -> str:
        """No port in the URL: the first declared container port, else 80 (the URL's default)."""
        if port:
            return port
        for c in (pod.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("containerPort"):
                    return str(p["containerPort"])
        return "80"

    def _to_pod(self, req: Request, t: Target, pod: Obj, port: str, scheme: str) -> Response:
        ip = serving.pod_ip(pod)
        if not ip:
            raise errors.bad_request("address not allowed")
        if not port.isdigit():
            raise unreachable(f"dial tcp: lookup tcp/{port}: unknown port")
        if scheme == "https":
            if serving.listening_container(pod, int(port)) is None:
                raise unreachable(serving.refused(ip, int(port)))
            raise unreachable("tls: first record does not look like a TLS handshake")
        return self._forward(req, t, pod, int(port))

    # ---- services ------------------------------------------------------------------------------
    def _to_service(self, req: Request, t: Target, svc: Obj, port: str, scheme: str) -> Response:
        ports = (svc.get("spec") or {}).get("ports") or []
        name = svc["metadata"]["name"]
        if port:
            sport = next((p for p in ports if p.get("name") == port or (port.isdigit() and p.get("port") == int(port))), None)
        else:
            sport = next((p for p in ports if not p.get("name")), ports[0] if len(ports) == 1 else None)
        if sport is None:
            raise errors.ApiError(503, "ServiceUnavailable", f'no service port "{port}" found for service "{name}"')
        if not serving.ready_endpoints(self.store, svc, sport):  # type: ignore[attr-defined]
            raise errors.ApiError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
        backend = serving.service_backend(self.store, svc, sport)  # type: ignore[attr-defined]
        if isinstance(backend, serving.Refused):
            raise unreachable(backend.message)
        if scheme == "https":
            raise unreachable("tls: first record does not look like a TLS handshake")
        assert backend.pod is not None
        return self._forward(req, t, backend.pod, backend.port)

    # ---- the HTTP exchange ---------------------------------------------------------------------
    def _forward(self, req: Request, t: Target, pod: Obj, port: int) -> Response:
        headers = {k: v for k, v in req.headers.items() if k not in HOP_BY_HOP}
        query = getattr(req, "raw_query", None)
        if query is None:
            query = urlencode(req.query)
        path = t.proxy_path or "/"
        try:
            answer = serving.http_request(self.store, pod, port, req.method, path + ("?" + query if query else ""),  # type: ignore[attr-defined]
                                          headers, req.body, client=self.address.split(":")[0])  # type: ignore[attr-defined]
        except serving.ConnectionRefused as exc:
            raise unreachable(exc.message) from None
        return _response(answer)

    # ---- nodes: the kubelet's HTTP endpoints ---------------------------------------------------
    def _to_node(self, req: Request, t: Target, node: Obj, port: str) -> Response:
        if port and port != str(serving.KUBELET_PORT):
            ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"), "")
            if not port.isdigit():
                raise unreachable(f"dial tcp: lookup tcp/{port}: unknown port")
            backend = serving.resolve(self.store, ip, int(port))  # type: ignore[attr-defined]
            if isinstance(backend, serving.Refused) or backend.pod is None:
                raise unreachable(backend.message if isinstance(backend, serving.Refused) else serving.refused(ip, int(port)))
            return self._forward(req, t, backend.pod, backend.port)
        return self.kubelet_http(node, req.method, t.proxy_path or "/")

    def kubelet_http(self, node: Obj, method: str, path: str) -> Response:
        """What a kubelet's HTTPS port answers (healthz, pods, metrics, stats/summary, configz)."""
        name = node["metadata"]["name"]
        plain = re.sub(r"/+$", "", path) or "/"
        if plain == "/healthz":
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if plain == "/pods":
            pods = [p for p in self.store.list(resources.get("/pods"))[0] if (p.get("spec") or {}).get("nodeName") == name]  # type: ignore[attr-defined]
            body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{"kind": "Pod", "apiVersion": "v1", **p} for p in pods]}
            return Response(200, json.dumps(body, separators=(",", ":")).encode(), "application/json")
        if plain == "/metrics":
            return Response(200, self._kubelet_metrics(node).encode(), "text/plain; version=0.0.4; charset=utf-8")
        if plain == "/stats/summary":
            return Response(200, json.dumps(self._summary(node), indent=2).encode(), "application/json")
        if plain == "/configz":
            config = {"kubeletconfig": {"enableServer": True, "staticPodPath": "/etc/kubernetes/manifests", "syncFrequency": "1m0s",
                                        "clusterDomain": "cluster.local", "clusterDNS": ["10.96.0.10"], "port": 10250,
                                        "readOnlyPort": 0, "cgroupDriver": "systemd", "maxPods": 110, "podPidsLimit": -1,
                                        "healthzPort": 10248, "healthzBindAddress": "127.0.0.1", "evictionHard": {
                                            "imagefs.available": "0%", "nodefs.available": "0%", "nodefs.inodesFree": "0%"},
                                        "failSwapOn": False, "imageGCHighThresholdPercent": 100, "containerRuntimeEndpoint":
                                        "unix:///run/containerd/containerd.sock"}}
            return Response(200, json.dumps(config, separators=(",", ":")).encode(), "application/json")
        return Response(404, b"404 page not found\n", "text/plain; charset=utf-8", {"X-Content-Type-Options": "nosniff"})

    def _kubelet_metrics(self, node: Obj) -> str:
        name = node["metadata"]["name"]
        pods = [p for p in self.store.list(resources.get("/pods"))[0] if (p.get("spec") or {}).get("nodeName") == name]  # type: ignore[attr-defined]
        running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
        containers = sum(1 for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or [] if (cs.get("state") or {}).get("running"))
        version = (node.get("status") or {}).get("nodeInfo", {}).get("kubeletVersion", "")
        return ("# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox\n"
                "# TYPE kubelet_running_pods gauge\n"
                f"kubelet_running_pods {running}\n"
                "# HELP kubelet_running_containers [ALPHA] Number of containers currently running\n"
                "# TYPE kubelet_running_containers gauge\n"
                f'kubelet_running_containers{{container_state="running"}} {containers}\n'
                "# HELP kubelet_node_name [ALPHA] The node's name. The count is always 1.\n"
                "# TYPE kubelet_node_name gauge\n"
                f'kubelet_node_name{{node="{name}"}} 1\n'
                "# HELP kubernetes_build_info [ALPHA] A metric with a constant '1' value labeled by major, minor, git version.\n"
                "# TYPE kubernetes_build_info gauge\n"
                f'kubernetes_build_info{{git_version="{version}"}} 1\n')

    def _summary(self, node: Obj) -> Obj:
        """The kubelet's /stats/summary from metrics-server's latest samples (zeros before the first)."""
        from . import quantity
        name = node["metadata"]["name"]
        nodes = {m["metadata"]["name"]: m for m in self.virtual.get("metrics.k8s.io/nodes", lambda ns: [])(None)}  # type: ignore[attr-defined]
        pods = self.virtual.get("metrics.k8s.io/pods", lambda ns: [])(None)  # type: ignore[attr-defined]
        on_node = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in self.store.list(resources.get("/pods"))[0]  # type: ignore[attr-defined]
                   if (p.get("spec") or {}).get("nodeName") == name}
        now = self.store.now()  # type: ignore[attr-defined]

        def usage(u: Obj) -> Obj:
            cpu = int(quantity.parse(u.get("cpu", "0")) * 10**9)
            mem = int(quantity.parse(u.get("memory", "0")))
            return {"cpu": {"time": now, "usageNanoCores": cpu}, "memory": {"time": now, "workingSetBytes": mem, "usageBytes": mem}}
        node_usage = usage((nodes.get(name) or {}).get("usage") or {})
        out_pods = []
        for m in pods:
            key = (m["metadata"]["namespace"], m["metadata"]["name"])
            if key not in on_node:
                continue
            out_pods.append({"podRef": {"name": key[1], "namespace": key[0], "uid": on_node[key]["metadata"]["uid"]},
                             "startTime": (on_node[key].get("status") or {}).get("startTime", now),
                             "containers": [{"name": c["name"], "startTime": now, **usage(c["usage"])} for c in m["containers"]]})
        return {"node": {"nodeName": name, "systemContainers": [], "startTime": node["metadata"].get("creationTimestamp", now),
                         **node_usage}, "pods": out_pods}


def _response(answer: serving.HttpAnswer) -> Response:
    # the HTTP layer writes its own Server and Date (http.server does): leave the backend's out, not twice
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-type", "content-length", "server", "date")}
    content_type = next((v for k, v in answer.headers.items() if k.lower() == "content-type"), "")
    response = Response(answer.status, answer.body, content_type, headers)
    if not content_type:
        response.content_type = "text/plain; charset=utf-8"
    return response
