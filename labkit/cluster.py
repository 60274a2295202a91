"""Which Kubernetes cluster can this notebook reach, and the API clients for it.

``probe()`` reads the kubeconfig the way kubectl does, asks the API server for
``/version`` with a short timeout, and says in plain words what happened. Why a probe
first: the course must decide, quickly and without a traceback, whether to use the
learner's real cluster or its own local emulator.

``connect()`` uses that decision: the official client's API objects for the kubeconfig's
current context when it answers, otherwise a started ``labkit.kubesim`` emulator (a fresh
kind-like cluster on 127.0.0.1). It always says which one the learner is on. The
environment variable ``LABKIT_CLUSTER`` forces the choice: ``emulator`` or ``kubeconfig``
(``auto``, the default, probes first).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

# What this module's functions import only when called (`_clients`: the official client, 0.7 s;
# `_start_emulator`: the emulator). A grading fork server loads these with the module
# (autograder/zygote.py), while it still waits for the full list, so that no kernel pays for them.
__imports_when_called__ = (
    "kubernetes.client.api_client", "kubernetes.client.configuration", "kubernetes.config.kube_config",
    "kubernetes.client.api.core_v1_api", "kubernetes.client.api.apps_v1_api",
    "kubernetes.client.api.autoscaling_v2_api", "kubernetes.client.api.batch_v1_api",
    "kubernetes.client.api.discovery_v1_api", "kubernetes.client.api.rbac_authorization_v1_api",
    "kubernetes.client.api.authorization_v1_api", "labkit.kubesim",
)

__all__ = ["ClusterProbe", "Connection", "connect", "probe"]


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
    except Exception as error:
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
    except Exception as error:
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


ENV = "LABKIT_CLUSTER"
_emulators: dict[tuple[str, int, int], Any] = {}


@dataclass
class Connection:
    """API clients for one cluster, and which cluster that is (``kind``: kubeconfig or emulator)."""

    kind: str
    description: str
    kubeconfig: str
    context: str | None
    api_client: Any = field(repr=False)
    core: Any = field(repr=False)
    apps: Any = field(repr=False)
    autoscaling: Any = field(repr=False)
    batch: Any = field(repr=False)
    discovery: Any = field(repr=False)  # EndpointSlices (discovery.k8s.io)
    rbac: Any = field(repr=False)       # Roles, RoleBindings (rbac.authorization.k8s.io)
    authorization: Any = field(repr=False)  # access reviews: what `kubectl auth can-i` asks
    policy: Any = field(repr=False)     # PodDisruptionBudgets and evictions (policy/v1)
    emulator: Any = field(default=None, repr=False)

    def __str__(self) -> str:
        return self.description

    @property
    def is_emulator(self) -> bool:
        return self.kind == "emulator"

    def close(self) -> None:
        """Close the HTTP connections (an emulator keeps running for other cells)."""
        self.api_client.close()


def _clients(config_file: str, context: str | None) -> dict[str, Any]:
    """The official client's API objects for one kubeconfig context, by Connection field."""
    from kubernetes import client
    from kubernetes.config import kube_config

    configuration = client.Configuration()
    kube_config.load_kube_config(config_file=config_file, context=context,
                                 client_configuration=configuration, persist_config=False)
    api = client.ApiClient(configuration)
    return {"api_client": api, "core": client.CoreV1Api(api), "apps": client.AppsV1Api(api),
            "autoscaling": client.AutoscalingV2Api(api), "batch": client.BatchV1Api(api),
            "discovery": client.DiscoveryV1Api(api), "rbac": client.RbacAuthorizationV1Api(api),
            "authorization": client.AuthorizationV1Api(api), "policy": client.PolicyV1Api(api)}


def _start_emulator(name: str, workers: int, seed: int) -> Any:
    from . import kubesim

    key = (name, workers, seed)
    sim = _emulators.get(key)
    if sim is None or sim.api.stopping:
        sim = kubesim.start(name=name, workers=workers, seed=seed)
        _emulators[key] = sim
    return sim


def connect(kubeconfig: str | None = None, *, prefer: str | None = None, timeout: float = 2.0,
            name: str = "course", workers: int = 2, seed: int = 0, export_kubeconfig: bool = True,
            quiet: bool = False) -> Connection:
    """Kubernetes API clients for a real cluster when one answers, else for a local emulator.

    ``prefer`` (or ``$LABKIT_CLUSTER``): ``auto`` (default) probes the kubeconfig's current
    context; ``kubeconfig`` insists on it (RuntimeError saying why when it does not answer);
    ``emulator`` starts the emulator (one per name/workers/seed per Python process, reused by
    later calls). With ``export_kubeconfig``, an emulator's kubeconfig is put in
    ``$KUBECONFIG`` so that ``!kubectl`` in the same notebook talks to the same cluster.
    Prints which cluster it is unless ``quiet``; the returned object's ``description`` says it too.
    """
    mode = (prefer or os.environ.get(ENV) or "auto").strip().lower()
    if mode not in ("auto", "emulator", "kubeconfig"):
        raise ValueError(f"{ENV} (or prefer=) must be 'auto', 'emulator' or 'kubeconfig', not {mode!r}")
    found = None
    if mode != "emulator":
        found = probe(kubeconfig, timeout=timeout)
        if not found.reachable and mode == "kubeconfig":
            raise RuntimeError(f"{ENV}=kubeconfig asks for the kubeconfig's cluster, but: {found.detail}")
    if found is not None and found.reachable:
        config_file = os.pathsep.join(p for p in _kubeconfig_paths(kubeconfig) if os.path.isfile(p))
        if (found.context or "").startswith("kubesim-"):
            what = f"the course's local Kubernetes emulator, reached through the kubeconfig: {found.detail}"
            kind = "emulator"
        else:
            what = f"a real Kubernetes cluster: {found.detail}"
            kind = "kubeconfig"
        conn = Connection(kind, f"You are on {what}", config_file, found.context, **_clients(config_file, found.context))
    else:
        sim = _start_emulator(name, workers, seed)
        if export_kubeconfig:
            os.environ["KUBECONFIG"] = sim.kubeconfig
        why = "" if found is None else f" ({found.detail})"
        reason = f"because {ENV}=emulator" if found is None else "because no real cluster answered"
        conn = Connection("emulator", f"You are on {sim.describe()}, {reason}{why}.", sim.kubeconfig, sim.context,
                          **_clients(sim.kubeconfig, sim.context), emulator=sim)
    if not quiet:
        print(conn.description)
    return conn
