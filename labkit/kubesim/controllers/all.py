"""Assemble the controller manager with every controller, in the order they run.

The order is part of determinism: within one instant, the owner index sees every change first,
the node IPAM controller gives new nodes their pod CIDRs, then the controllers that delete
(namespaces, garbage) and the one that fills new namespaces (ServiceAccount, root CA), the
workload controllers from the top down (Deployment -> ReplicaSet -> pods; DaemonSet,
StatefulSet, Job), the scheduler, the kubelets, service endpoints, disruption budgets, node lifecycle, the traffic
engine (client loops' requests), metrics-server (which reads what they served) and the HPA.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import backends
from ..clock import SimClock
from ..store import Store
from . import Manager
from .cloud import CloudController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .events import EventRecorder
from .gc import GarbageCollector, NamespaceController
from .hpa import HPAController
from .ipam import NodeIpam
from .job import JobController
from .kubelet import Kubelet
from .metrics import MetricsServer
from .namespaces import NamespaceDefaults
from .nodes import NodeLifecycle
from .owners import OwnerIndex
from .replicaset import ReplicaSetController
from .scheduler import Scheduler
from .statefulset import StatefulSetController
from .traffic import TrafficEngine

if TYPE_CHECKING:
    from ..api import Api


def build(store: Store, api: "Api", clock: SimClock, seed: int) -> Manager:
    mgr = Manager(store, api, clock, seed)
    backends.set_seed(store, seed)  # kube-proxy's endpoint choices follow the cluster's seed
    mgr.index = mgr.add(OwnerIndex(mgr))
    mgr.recorder = mgr.add(EventRecorder(mgr))
    mgr.add(NodeIpam(mgr))
    mgr.add(NamespaceController(mgr))
    mgr.add(NamespaceDefaults(mgr))
    mgr.add(GarbageCollector(mgr))
    mgr.add(DeploymentController(mgr))
    mgr.add(ReplicaSetController(mgr))
    mgr.add(DaemonSetController(mgr))
    mgr.add(StatefulSetController(mgr))
    mgr.add(JobController(mgr))
    mgr.scheduler = mgr.add(Scheduler(mgr))
    mgr.kubelet = mgr.add(Kubelet(mgr))
    mgr.add(EndpointsController(mgr))
    mgr.add(DisruptionController(mgr))  # PodDisruptionBudgets' status, from the pods the kubelets made ready
    mgr.add(CloudController(mgr))
    mgr.nodes = mgr.add(NodeLifecycle(mgr))
    traffic = mgr.add(TrafficEngine(mgr))  # client loops' requests, before metrics-server reads them
    mgr.metrics = mgr.add(MetricsServer(mgr))
    mgr.add(HPAController(mgr))
    api.controllers_running = True
    default = api.log_source

    def window(pod, container):  # the log, and the bytes a client loop's bounded log has dropped
        text = mgr.kubelet.logs(pod, container)
        text = default(pod, container) if text is None else text
        client = traffic.output(pod["metadata"].get("uid", ""), container)
        return (text + client[0], client[1]) if client is not None else (text, 0)
    api.log_source = lambda pod, container: window(pod, container)[0]
    api.log_window = window
    api.manager = mgr  # exec/attach: the kubelet hears when an attached main process ends
    return mgr
