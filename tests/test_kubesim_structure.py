"""The emulator's house rules: one naming module, one shared helpers module, a typed manager.

Why: these are what keeps the initial state and the controllers from drifting apart (issue 12):
the generated-name alphabet defined once, controllers that share helpers through ``objects``
instead of importing them from each other, and the ReplicaSet kind's controller made at start
built by the same function the Deployment controller uses.
"""
from __future__ import annotations

import ast
import typing
from datetime import datetime, timezone
from pathlib import Path

from labkit.kubesim import kindstate, naming, objects
from labkit.kubesim.controllers import Manager

KUBESIM = Path(kindstate.__file__).parent
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def test_the_generated_name_alphabet_is_defined_once_in_naming():
    holders = [str(p.relative_to(KUBESIM)) for p in sorted(KUBESIM.rglob("*.py")) if naming.ALPHABET in p.read_text()]
    assert holders == ["naming.py"], f"define the alphabet only in naming.py and import it; also found in {holders}"


def test_controllers_do_not_import_helpers_from_each_other():
    controllers = KUBESIM / "controllers"
    siblings = {p.stem for p in controllers.glob("*.py")} - {"__init__"}
    offenders = []
    for path in sorted(controllers.glob("*.py")):
        if path.name in ("all.py", "__init__.py"):  # assembling them; the manager's field types
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in siblings:
                offenders.append(f"{path.name}: from .{node.module} import ...")
    assert not offenders, "shared helpers belong in kubesim/objects.py: " + "; ".join(offenders)


def test_nothing_in_the_controllers_imports_from_the_initial_state():
    for path in sorted((KUBESIM / "controllers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "kindstate", f"{path.name} imports from kindstate; use objects instead"


def test_the_manager_declares_the_controllers_it_exposes(tmp_path):
    from labkit import kubesim
    from labkit.kubesim.clock import SimClock
    hints = typing.get_type_hints(Manager, localns=_controller_types())
    sim = kubesim.start(tmp_path / "kc", realtime=False, clock=SimClock(NOW, realtime=False))
    try:
        for field in ("index", "recorder", "scheduler", "kubelet", "nodes", "metrics"):
            assert field in hints, f"Manager should declare {field}"
            assert isinstance(getattr(sim.manager, field), hints[field])
    finally:
        sim.stop()


def _controller_types() -> dict[str, type]:
    from labkit.kubesim.controllers.events import EventRecorder
    from labkit.kubesim.controllers.kubelet import Kubelet
    from labkit.kubesim.controllers.metrics import MetricsServer
    from labkit.kubesim.controllers.nodes import NodeLifecycle
    from labkit.kubesim.controllers.owners import OwnerIndex
    from labkit.kubesim.controllers.scheduler import Scheduler
    return {c.__name__: c for c in (EventRecorder, Kubelet, MetricsServer, NodeLifecycle, OwnerIndex, Scheduler)}


def test_kinds_replica_sets_are_what_the_deployment_controller_builds():
    objs = kindstate.render("course", 2, 3, NOW)
    deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    replica_sets = [o for o in objs if o["kind"] == "ReplicaSet"]
    assert len(replica_sets) == len(deployments) == 2
    for rs in replica_sets:
        d = deployments[rs["metadata"]["ownerReferences"][0]["name"]]
        built = objects.replica_set_for(d, rs["metadata"]["labels"][objects.HASH], d["spec"]["replicas"], 1)
        for part in ("name", "namespace", "labels", "annotations", "ownerReferences"):
            assert rs["metadata"][part] == built["metadata"][part], part
        assert rs["spec"] == built["spec"]


def test_generated_names_use_the_naming_rules():
    objs = kindstate.render("course", 3, 1, NOW)
    pods = [o for o in objs if o["kind"] == "Pod" and o["metadata"].get("generateName")]
    assert pods
    for pod in pods:
        name, prefix = pod["metadata"]["name"], pod["metadata"]["generateName"]
        tail = name[len(prefix):]
        assert name.startswith(prefix) and len(tail) == naming.SUFFIX_LENGTH
        assert set(tail) <= set(naming.ALPHABET)
    hashes = {o["metadata"]["labels"]["pod-template-hash"] for o in objs if o["kind"] == "ReplicaSet"}
    assert all(len(h) == naming.HASH_LENGTH and set(h) <= set(naming.ALPHABET) for h in hashes)


def test_safe_encode_maps_onto_the_alphabet():
    assert naming.safe_encode("0123456789") == "".join(naming.ALPHABET[ord(ch) % 27] for ch in "0123456789")
    assert objects.template_hash({"a": 1}) == objects.template_hash({"a": 1})
    assert set(objects.template_hash({"a": 1})) <= set(naming.ALPHABET)
