"""Power a node off and on: a machine failure, the same cell on kind and on the emulator.

Why a module: lesson 5 shows what high availability buys when a node dies (NotReady after about
50 s, its pods evicted once their 300 s toleration runs out, replacements on the other nodes). On
kind a node is a Docker container, so ``docker stop course-worker2`` is a node failure; the emulator
has no container, and powers a node off through its own API (``kubesim.labkit.dev`` ``machines``,
``labkit/kubesim/machines.py``). These two functions pick the right one, so a lesson cell never
names either. Other clusters (a cloud's) are not stopped from a notebook: the message says how.
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Any

from labkit.cluster_clock import emulator_request, is_emulated

__all__ = ["power_off", "power_on"]

MACHINES = "/apis/kubesim.labkit.dev/v1alpha1/machines"


def _kind_node(cluster: Any, node: str) -> bool:
    """Is ``node`` a kind node (a Docker container of that name, which kind labels)?"""
    if shutil.which("docker") is None:
        return False
    found = subprocess.run(["docker", "inspect", "--format", "{{index .Config.Labels \"io.x-k8s.kind.role\"}}", node],
                           capture_output=True, text=True, timeout=30)
    return found.returncode == 0 and found.stdout.strip() != ""


def _power(cluster: Any, node: str, on: bool) -> str:
    if is_emulated(cluster):
        emulator_request(cluster, "PATCH", f"{MACHINES}/{node}", {"spec": {"power": "On" if on else "Off"}})
        return f"{node}: powered {'on' if on else 'off'} (the emulator's machine {node})"
    if _kind_node(cluster, node):
        done = subprocess.run(["docker", "start" if on else "stop", node], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"docker {'start' if on else 'stop'} {node} failed: {done.stderr.strip()}")
        return f"{node}: {'started' if on else 'stopped'} (docker {'start' if on else 'stop'} {node}: a kind node is a container)"
    raise ValueError(f"{node} is neither a node of the course's emulator nor a kind node on this machine's Docker: "
                     "stop a cloud VM from its console or CLI (for GKE: gcloud compute instances stop NODE --zone ZONE)")


def power_off(cluster: Any, node: str) -> str:
    """Stop ``node`` as a machine failure would (kubelet and all): on kind ``docker stop``, on the emulator
    its machine. Returns a sentence saying what was done."""
    return _power(cluster, node, on=False)


def power_on(cluster: Any, node: str) -> str:
    """Start a node that :func:`power_off` stopped."""
    return _power(cluster, node, on=True)
