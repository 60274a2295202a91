"""Where a pod may go given the pods already placed: topology spread constraints and inter-pod
(anti-)affinity, as kube-scheduler's PodTopologySpread and InterPodAffinity plugins decide.

Why a module of its own: the scheduler's other filters look at one node; these look at every pod
of a topology domain (a node, a zone: the nodes that share a value of ``topologyKey``). They are
pure functions over a :class:`Placement` (the bound pods and the nodes), built only for a pod that
has such constraints or when a placed pod has a required anti-affinity, so scheduling an ordinary
pod costs what it did.

- **PodTopologySpread** (``spec.topologySpreadConstraints``): the domains are the values of
  ``topologyKey`` among the nodes that have it and that the pod's node selector and required node
  affinity accept (``nodeAffinityPolicy: Honor``); a domain's count is its pods that match the
  constraint's ``labelSelector`` (plus ``matchLabelKeys``, the pod's own values), in the pod's
  namespace, not terminating. Placing the pod in domain d must keep ``count[d] + 1 - min(counts)``
  within ``maxSkew`` (the minimum is 0 while there are fewer than ``minDomains`` domains). With
  ``whenUnsatisfiable: DoNotSchedule`` a node that breaks it is filtered ("node(s) didn't match
  pod topology spread constraints"; a node without the key: "(missing required label)"); with
  ``ScheduleAnyway`` the skew only scores.
- **InterPodAffinity** (``spec.affinity.podAffinity`` / ``podAntiAffinity``): a required anti-affinity
  term rules out every node in the domain of a matching pod ("node(s) didn't match pod anti-affinity
  rules"), and a placed pod's required anti-affinity term that matches the new pod rules out its own
  domain ("node(s) didn't satisfy existing pods anti-affinity rules"); a required affinity term needs a
  matching pod in the node's domain ("node(s) didn't match pod affinity rules"), unless no pod matches
  anywhere and the pod matches its own term (the first pod of a group). Terms look in the pod's
  namespace unless they name ``namespaces`` (``namespaceSelector`` is not modelled: it counts as the
  pod's namespace). Preferred terms add or subtract their ``weight`` in the score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..objects import label_match, matches_affinity

Obj = dict[str, Any]
SPREAD_NOT_MATCHED = "node(s) didn't match pod topology spread constraints"
SPREAD_MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
AFFINITY = "node(s) didn't match pod affinity rules"


@dataclass
class Placement:
    """The bound, running pods and the nodes, as the two plugins read them."""

    nodes: dict[str, Obj]
    pods: list[Obj] = field(default_factory=list)

    def labels_of(self, node: str) -> dict[str, str]:
        return (self.nodes.get(node) or {}).get("metadata", {}).get("labels") or {}

    def domain(self, node: str, key: str) -> str | None:
        return self.labels_of(node).get(key)


def has_constraints(pod: Obj) -> bool:
    """Whether the pod asks for spreading or inter-pod (anti-)affinity at all."""
    spec = pod.get("spec") or {}
    affinity = spec.get("affinity") or {}
    return bool(spec.get("topologySpreadConstraints") or affinity.get("podAffinity") or affinity.get("podAntiAffinity"))


def required_anti_affinity(pod: Obj) -> list[Obj]:
    return (((pod.get("spec") or {}).get("affinity") or {}).get("podAntiAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution") or []


def _selects(selector: Obj | None, pod: Obj) -> bool:
    """A LabelSelector of these plugins: a null selector selects nothing, an empty one everything."""
    return selector is not None and label_match(selector, pod["metadata"].get("labels") or {})


def _term_namespaces(term: Obj, owner: Obj) -> set[str]:
    return set(term.get("namespaces") or []) or {owner["metadata"].get("namespace", "")}


def _term_matches(term: Obj, owner: Obj, other: Obj) -> bool:
    """Does ``other`` match the affinity term that ``owner`` carries?"""
    return other["metadata"].get("namespace", "") in _term_namespaces(term, owner) and _selects(term.get("labelSelector"), other)


def _spread_selector(constraint: Obj, pod: Obj) -> Obj | None:
    selector = constraint.get("labelSelector")
    keys = constraint.get("matchLabelKeys") or []
    if selector is None or not keys:
        return selector
    labels = pod["metadata"].get("labels") or {}
    extra = {k: labels[k] for k in keys if k in labels}
    return {**selector, "matchLabels": {**(selector.get("matchLabels") or {}), **extra}}


def _spread_keys(constraint: Obj, pod: Obj) -> set[str]:
    """The topology keys of the pod's constraints of the same kind (DoNotSchedule for the filter,
    ScheduleAnyway for the score): a node lacking any of them counts in none of their domains, as
    kube-scheduler's ``nodeLabelsMatchSpreadConstraints`` has it (a zone-less control plane is not a
    hostname domain of 0 pods beside zoned workers)."""
    hard = constraint.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
    return {c.get("topologyKey", "") for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []
            if (c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule") == hard}


def _spread_counts(constraint: Obj, pod: Obj, place: Placement) -> dict[str, int]:
    """The constraint's domains (of the nodes the pod could go to) and their matching pods."""
    key = constraint.get("topologyKey", "")
    spec = pod.get("spec") or {}
    honour = constraint.get("nodeAffinityPolicy", "Honor") == "Honor"
    keys = _spread_keys(constraint, pod)
    counted = {name for name, node in place.nodes.items()  # the nodes kube-scheduler counts pods on
               if keys <= place.labels_of(name).keys() and (not honour or matches_affinity(spec, node))}
    counts: dict[str, int] = {}
    for name in counted:
        counts.setdefault(place.domain(name, key), 0)
    selector = _spread_selector(constraint, pod)
    namespace = pod["metadata"].get("namespace", "")
    for other in place.pods:
        node = other["spec"].get("nodeName", "")
        value = place.domain(node, key)
        if node in counted and value in counts and other["metadata"].get("namespace", "") == namespace \
                and _selects(selector, other):
            counts[value] += 1
    return counts


def _skew(constraint: Obj, pod: Obj, counts: dict[str, int], value: str) -> int:
    floor = min(counts.values()) if counts else 0
    if len(counts) < int(constraint.get("minDomains") or 1):
        floor = 0
    self_match = 1 if _selects(_spread_selector(constraint, pod), pod) else 0
    return counts.get(value, 0) + self_match - floor


def filter_reason(pod: Obj, node: str, place: Placement) -> str | None:
    """Why ``node`` cannot take ``pod`` under these two plugins (None: it can)."""
    spec = pod.get("spec") or {}
    for constraint in spec.get("topologySpreadConstraints") or []:
        if constraint.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
            continue
        value = place.domain(node, constraint.get("topologyKey", ""))
        if value is None:
            return SPREAD_MISSING_LABEL
        if _skew(constraint, pod, _spread_counts(constraint, pod, place), value) > int(constraint.get("maxSkew", 1)):
            return SPREAD_NOT_MATCHED
    for term in required_anti_affinity(pod):
        value = place.domain(node, term.get("topologyKey", ""))
        if value is not None and any(place.domain(o["spec"]["nodeName"], term["topologyKey"]) == value
                                     and _term_matches(term, pod, o) for o in place.pods):
            return ANTI_AFFINITY
    for other in place.pods:
        for term in required_anti_affinity(other):
            value = place.domain(node, term.get("topologyKey", ""))
            if value is not None and place.domain(other["spec"]["nodeName"], term["topologyKey"]) == value \
                    and _term_matches(term, other, pod):
                return EXISTING_ANTI_AFFINITY
    affinity = (spec.get("affinity") or {}).get("podAffinity") or {}
    for term in affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        key = term.get("topologyKey", "")
        matching = [o for o in place.pods if _term_matches(term, pod, o)]
        if not matching and _term_matches(term, pod, pod):
            continue  # the first pod of its group may go anywhere
        value = place.domain(node, key)
        if value is None or not any(place.domain(o["spec"]["nodeName"], key) == value for o in matching):
            return AFFINITY
    return None


def penalty(pod: Obj, node: str, place: Placement) -> float:
    """The soft part, lower is better: ScheduleAnyway skew, preferred anti-affinity weights that a
    node's domain would break, minus preferred affinity weights it would meet."""
    spec = pod.get("spec") or {}
    total = 0.0
    for constraint in spec.get("topologySpreadConstraints") or []:
        if constraint.get("whenUnsatisfiable") == "ScheduleAnyway":
            value = place.domain(node, constraint.get("topologyKey", ""))
            counts = _spread_counts(constraint, pod, place)
            total += _skew(constraint, pod, counts, value) if value is not None else max(counts.values() or [0]) + 1
    affinity = spec.get("affinity") or {}
    for sign, kind in ((1, "podAntiAffinity"), (-1, "podAffinity")):
        for weighted in (affinity.get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            term = weighted.get("podAffinityTerm") or {}
            value = place.domain(node, term.get("topologyKey", ""))
            if value is not None and any(place.domain(o["spec"]["nodeName"], term["topologyKey"]) == value
                                         and _term_matches(term, pod, o) for o in place.pods):
                total += sign * int(weighted.get("weight", 1)) / 100
    return total
