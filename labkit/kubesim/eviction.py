"""The eviction API: ``POST /api/v1/namespaces/NS/pods/NAME/eviction`` (policy/v1 ``Eviction``).

Why a subresource of its own: ``kubectl drain`` (and the cluster autoscaler, and node upgrades)
remove pods through it, not by deleting them, so that a PodDisruptionBudget can say no. As the
apiserver's eviction REST handler decides:

- a pod that is finished, still Pending, or already being deleted is deleted at once (no budget
  applies to it);
- a pod that no budget selects is deleted; one that two or more select is refused (500, the
  apiserver's "more than one PodDisruptionBudget" message);
- a pod that is not Ready is deleted only while its budget is healthy (``currentHealthy`` at least
  ``desiredHealthy``, and desiredHealthy above 0: the default ``IfHealthyBudget`` policy) or when
  the budget's ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``;
- a Ready pod needs ``disruptionsAllowed`` above 0 in a status the disruption controller has
  computed for the budget's generation; the handler then lowers it by one, records the pod in
  ``disruptedPods`` and deletes the pod (gracefully, with the Eviction's ``deleteOptions``).
  Otherwise 429 TooManyRequests, "Cannot evict pod as it would violate the pod's disruption
  budget.", with a cause that names the budget and its numbers: what ``kubectl drain`` prints
  before it tries again.

A successful eviction answers 201 with a ``Status`` of ``Success``.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from . import errors, resources
from .controllers.disruption import KEY as PDB_KEY, ready, selected
from .errors import ApiError
from .routing import Obj, Request, Response, Target, dry_run as _dry, json_response

if TYPE_CHECKING:  # pragma: no cover
    from .store import Store

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def _too_many(message: str) -> ApiError:
    return ApiError(429, "TooManyRequests", VIOLATION, {"causes": [{"reason": "DisruptionBudget", "message": message}]})


class Eviction:
    """The ``eviction`` subresource of pods (a mixin of ``Api``)."""

    store: "Store"

    def evict(self, req: Request, t: Target) -> Response:
        body = self._decode(req)
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
            raise errors.bad_request("the body of an eviction must be a policy/v1 Eviction object")
        named = (body.get("metadata") or {}).get("name")
        if named and named != t.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        pods = resources.get("/pods")
        pod = self.store.get(pods, t.namespace or "", t.name or "")
        options = body.get("deleteOptions") or {}
        grace = options.get("gracePeriodSeconds")
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
            return self._evicted(req, pods, pod, grace)
        budgets = [b for b in self.store.list(resources.get(PDB_KEY), t.namespace)[0] if selected(b, pod)]
        if not budgets:
            return self._evicted(req, pods, pod, grace)
        if len(budgets) > 1:
            raise ApiError(500, "InternalError",
                           "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        budget = budgets[0]
        status = budget.get("status") or {}
        healthy, desired = int(status.get("currentHealthy", 0)), int(status.get("desiredHealthy", 0))
        if not ready(pod):
            policy = (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
            if policy == "AlwaysAllow" or (healthy >= desired and desired > 0):
                return self._evicted(req, pods, pod, grace)
            raise _too_many(f"The disruption budget {budget['metadata']['name']} does not allow evicting pods "
                            f"currently: it needs {desired} healthy pods and has {healthy}")
        if status.get("observedGeneration", 0) < budget["metadata"].get("generation", 1):
            raise _too_many(f"The disruption budget {budget['metadata']['name']} is still being processed by the server.")
        allowed = int(status.get("disruptionsAllowed", 0))
        if allowed <= 0:
            raise _too_many(f"The disruption budget {budget['metadata']['name']} needs {desired} healthy pods "
                            f"and has {healthy} currently")
        if not _dry(req):
            lowered = copy.deepcopy(dict(budget))
            lowered["status"] = {**status, "disruptionsAllowed": allowed - 1,
                                 "disruptedPods": {**(status.get("disruptedPods") or {}), t.name: self.store.now()}}
            self.store.update(resources.get(PDB_KEY), lowered)
        return self._evicted(req, pods, pod, grace)

    def _evicted(self, req: Request, pods: resources.Resource, pod: Obj, grace: int | None) -> Response:
        if not _dry(req):
            self.remove(pods, pod, grace=grace)
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)
