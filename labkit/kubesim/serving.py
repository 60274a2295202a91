"""What answers a connection to an address inside the emulated cluster (the data plane's servers):
the one module the proxy subresources, ``kubectl port-forward``, the container shell's
``wget``/``curl``/``nc`` and the kubelet's probes import.

Why a public face over three modules: each caller needs the same answers, and the traffic issue
will grow them, but they are three jobs:

- :mod:`.backends`: *who is listening at this address and port* (:func:`resolve`: a pod IP, a
  Service's ClusterIP through a ready endpoint (kube-proxy's random choice), a NodePort on any node, a node's kubelet
  port, else :class:`Refused` with the dialer's wording), and which ports a container listens on;
- :mod:`.http_answers`: *what that server says to this HTTP request* (:func:`http_request`), from
  the ``responses:`` of its image in ``data/images.yaml`` with the pod's facts filled in, or from
  the course web service's own app (:mod:`.appserver`); the kubelet's probes ask the same;
- :mod:`.conversation`: the same over a byte stream (:class:`Conversation`: HTTP requests cut off
  the stream, an echo server, a server that closes).

Callers keep using ``serving.NAME``; the names below are the interface.
"""
from __future__ import annotations

from .backends import (KUBELET_PORT, UNREACHABLE_SECONDS, Backend, ConnectionClosed, ConnectionRefused, Refused, echo_ports,
                       listening_container, node_by_ip, pod_by_ip, pod_ip, ready_endpoints, refused, resolve,
                       service_backend, service_by_cluster_ip, service_by_external_ip, serves)
from .conversation import Conversation
from .http_answers import (GENERIC, REASONS, HttpAnswer, answer_of, answers_anytime, changes_with_age, container_age,
                           http_request, planned_answer, probe_status, responses_of)

__all__ = ["GENERIC", "KUBELET_PORT", "REASONS", "UNREACHABLE_SECONDS", "Backend", "ConnectionClosed", "ConnectionRefused", "Conversation",
           "HttpAnswer", "Refused", "answer_of", "answers_anytime", "changes_with_age", "planned_answer",
           "container_age", "echo_ports", "http_request",
           "listening_container", "node_by_ip", "pod_by_ip", "pod_ip", "probe_status", "ready_endpoints", "refused",
           "resolve", "responses_of", "service_backend", "service_by_cluster_ip", "service_by_external_ip", "serves"]
