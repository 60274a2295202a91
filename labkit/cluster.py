"""Which Kubernetes cluster can this notebook reach?

For now only the probe: read the kubeconfig the way kubectl does, ask the
API server for ``/version`` with a short timeout, and say in plain words
what happened. Why a probe first: the course must decide, quickly and
without a traceback, whether to use the learner's real cluster or its own
local emulator.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ClusterProbe", "probe"]


@dataclass
class ClusterProbe:
    """What we found when we looked for a Kubernetes cluster."""

    reachable: bool
    context: str | None
    server: str | None
    detail: str

    def __str__(self) -> str:
        return self.detail


def _kubeconfig_paths(kubeconfig: str | None = None) -> list[str]:
    """The kubeconfig files kubectl would read: the argument, else $KUBECONFIG, else ~/.kube/config."""
    raw = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [os.path.expanduser(part) for part in raw.split(os.pathsep) if part]


def _short(error: BaseException) -> str:
    reason = getattr(error, "reason", None)  # urllib3 wraps the real cause here
    text = str(reason if reason is not None else error).strip() or type(error).__name__
    text = text.splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


def probe(kubeconfig: str | None = None, timeout: float = 2.0) -> ClusterProbe:
    """Try the kubeconfig's current context and report whether its API server answers.

    Never raises; a missing file, a broken kubeconfig, a server that does not
    answer or refuses us all come back as ``reachable=False`` with an explanation.
    """
    paths = _kubeconfig_paths(kubeconfig)
    existing = [path for path in paths if os.path.isfile(path)]
    if not existing:
        where = " or ".join(paths)
        return ClusterProbe(
            False, None, None,
            f"No kubeconfig found at {where}, so there is no cluster to connect to "
            "(kind writes one when it creates a cluster).",
        )
    config_file = os.pathsep.join(existing)
    try:
        from kubernetes import client
        from kubernetes.config import kube_config

        _, current = kube_config.list_kube_config_contexts(config_file=config_file)
        context = current.get("name") if current else None
        configuration = client.Configuration()
        kube_config.load_kube_config(
            config_file=config_file, client_configuration=configuration, persist_config=False
        )
        configuration.retries = 0  # one quick try: the timeout is the whole budget
    except Exception as error:  # noqa: BLE001
        return ClusterProbe(
            False, None, None,
            f"The kubeconfig at {config_file} could not be used: {_short(error)}. "
            "Check that it is a kubeconfig file with a current context set.",
        )
    server = configuration.host
    api = client.ApiClient(configuration)
    try:
        info = client.VersionApi(api).get_code(_request_timeout=timeout)
    except client.ApiException as error:
        if error.status in (401, 403):
            advice = (
                "The credentials in the kubeconfig may be out of date; recreate the "
                "cluster or fetch fresh credentials."
            )
        else:
            advice = "It may not be a Kubernetes API server; check the address in the kubeconfig."
        return ClusterProbe(
            False, context, server,
            f"The kubeconfig's current context '{context}' points at {server}, which "
            f"answered but refused the request (HTTP {error.status} {error.reason}). {advice}",
        )
    except Exception as error:  # noqa: BLE001
        return ClusterProbe(
            False, context, server,
            f"The kubeconfig's current context '{context}' points at {server} but nothing "
            f"answered within {timeout:g} s ({_short(error)}). If that is a kind cluster, "
            "check that Docker and the cluster are running (`kind get clusters`).",
        )
    finally:
        api.close()
    version = getattr(info, "git_version", None) or "unknown version"
    return ClusterProbe(
        True, context, server,
        f"The kubeconfig's current context '{context}' points at {server}, and a "
        f"Kubernetes API server answered there (version {version}).",
    )
