"""What a GKE cluster costs by the hour and by the month, from list prices the course wrote down.

Why a module: lesson 6 asks a learner to create a cluster that bills by the second, and "what does
this cost me?" deserves a table, not a guess. The prices are data (:data:`PRICES`), each with the page
it comes from and the date the course recorded it, so that a reader can check them and a maintainer
can update them in one place; the arithmetic follows Google's rules:

- a cluster management fee per cluster per hour, the same for Standard and Autopilot;
- the GKE free tier, a monthly credit per billing account that covers the fee of one zonal Standard
  or one Autopilot cluster (never a regional Standard one, and never compute);
- Standard bills every node: its machine type by the hour and its boot disk by the GB-month; a
  regional cluster has the node count *in each* of its zones (three by default);
- Autopilot bills the pods' requests (vCPU and memory per hour), not nodes;
- each ``type: LoadBalancer`` Service holds a forwarding rule, billed by the hour;
- Artifact Registry bills stored images by the GB-month, after a free half GB.

A month is 730 hours, as Google's pricing calculator counts it. Prices are USD, on-demand, in
``us-central1``; other regions differ, and prices change: the lesson says to check the pages.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["PRICES", "RECORDED", "HOURS_PER_MONTH", "CostLine", "Estimate", "standard_estimate", "autopilot_estimate",
           "registry_monthly"]

RECORDED = "2026-12-03"   # when the course wrote these prices down
HOURS_PER_MONTH = 730
PRICES: dict[str, dict] = {
    "cluster_fee_per_hour": {"usd": 0.10, "source": "https://cloud.google.com/kubernetes-engine/pricing"},
    "free_tier_per_month": {"usd": 74.40, "source": "https://cloud.google.com/kubernetes-engine/pricing"},
    "machine_per_hour": {"usd": {"e2-small": 0.016751, "e2-medium": 0.033503, "e2-standard-2": 0.067006,
                                 "e2-standard-4": 0.134012},
                         "source": "https://cloud.google.com/compute/vm-instance-pricing", "region": "us-central1"},
    "boot_disk_per_gb_month": {"usd": 0.10, "what": "pd-balanced, GKE's default node boot disk",
                               "source": "https://cloud.google.com/compute/disks-image-pricing"},
    "autopilot_vcpu_per_hour": {"usd": 0.0445, "source": "https://cloud.google.com/kubernetes-engine/pricing",
                                "region": "us-central1"},
    "autopilot_memory_gb_per_hour": {"usd": 0.0049225, "source": "https://cloud.google.com/kubernetes-engine/pricing",
                                     "region": "us-central1"},
    "forwarding_rule_per_hour": {"usd": 0.025, "what": "a network load balancer's forwarding rule (the first five)",
                                 "source": "https://cloud.google.com/vpc/network-pricing"},
    "registry_storage_per_gb_month": {"usd": 0.10, "free_gb": 0.5, "source": "https://cloud.google.com/artifact-registry/pricing"},
}
DEFAULT_BOOT_DISK_GB = 100   # `gcloud container clusters create` gives each node a 100 GB boot disk
REGIONAL_ZONES = 3           # a regional cluster puts --num-nodes nodes in each of three zones
AUTOPILOT_CPU_STEP = 0.25    # Autopilot bills CPU in steps of a quarter vCPU


def _price(key: str) -> float:
    return PRICES[key]["usd"]


@dataclass(frozen=True)
class CostLine:
    """One thing on the bill: what it is, how many, and what it costs per hour."""

    item: str
    quantity: float
    per_hour: float

    @property
    def per_month(self) -> float:
        return self.per_hour * HOURS_PER_MONTH


@dataclass
class Estimate:
    """A cluster's bill, line by line, with the free tier's credit (per month) taken off the fee."""

    mode: str
    lines: list[CostLine] = field(default_factory=list)
    free_tier_credit: float = 0.0   # per month

    @property
    def per_hour(self) -> float:
        return sum(line.per_hour for line in self.lines)

    @property
    def per_month(self) -> float:
        return max(0.0, sum(line.per_month for line in self.lines) - self.free_tier_credit)

    def as_dict(self) -> dict:
        """Plain data: each line per hour and per month, the credit, the month's total (USD, cents)."""
        return {"mode": self.mode,
                "lines": [{"item": line.item, "quantity": line.quantity, "per_hour": round(line.per_hour, 4),
                           "per_month": round(line.per_month, 2)} for line in self.lines],
                "free_tier_credit": round(self.free_tier_credit, 2), "per_month": round(self.per_month, 2)}

    def table(self) -> str:
        """The bill as a few aligned lines of text (what a notebook prints)."""
        rows = [f"{'item':47} {'per hour':>9} {'per month':>10}"]
        rows += [f"{line.item:47} {line.per_hour:9.4f} {line.per_month:10.2f}" for line in self.lines]
        if self.free_tier_credit:
            rows.append(f"{'free tier credit (a zonal or Autopilot cluster)':47} {'':9} {-self.free_tier_credit:10.2f}")
        rows.append(f"{'total, USD (prices of ' + RECORDED + ')':47} {self.per_hour:9.4f} {self.per_month:10.2f}")
        return "\n".join(rows)


def _fee_and_credit(estimate: Estimate, free_tier: bool, eligible: bool) -> None:
    fee = _price("cluster_fee_per_hour")
    estimate.lines.append(CostLine("cluster management fee", 1, fee))
    if free_tier and eligible:
        estimate.free_tier_credit = min(_price("free_tier_per_month"), fee * HOURS_PER_MONTH)


def standard_estimate(nodes: int, machine_type: str = "e2-medium", *, regional: bool = False,
                      boot_disk_gb: int = DEFAULT_BOOT_DISK_GB, load_balancers: int = 1, free_tier: bool = True) -> Estimate:
    """A Standard cluster of ``nodes`` nodes (per zone when ``regional``) of ``machine_type``."""
    machines = PRICES["machine_per_hour"]["usd"]
    if machine_type not in machines:
        raise ValueError(f"the course has no price for {machine_type!r}; it knows {', '.join(machines)}")
    count = nodes * (REGIONAL_ZONES if regional else 1)
    estimate = Estimate("Standard (regional)" if regional else "Standard (zonal)")
    _fee_and_credit(estimate, free_tier, eligible=not regional)
    estimate.lines.append(CostLine(f"{count} x {machine_type} node", count, count * machines[machine_type]))
    disk_hourly = boot_disk_gb * _price("boot_disk_per_gb_month") / HOURS_PER_MONTH
    estimate.lines.append(CostLine(f"{count} x {boot_disk_gb} GB boot disk", count, count * disk_hourly))
    if load_balancers:
        estimate.lines.append(CostLine(f"{load_balancers} x load balancer forwarding rule", load_balancers,
                                       load_balancers * _price("forwarding_rule_per_hour")))
    return estimate


def autopilot_estimate(pods: list[tuple[float, float]], *, load_balancers: int = 1, free_tier: bool = True) -> Estimate:
    """An Autopilot cluster running ``pods``, each (vCPU requested, memory GB requested): Google bills
    the requests, CPU rounded up to a quarter vCPU."""
    cpu = sum(math.ceil(c / AUTOPILOT_CPU_STEP - 1e-9) * AUTOPILOT_CPU_STEP for c, _ in pods)
    memory = sum(m for _, m in pods)
    estimate = Estimate("Autopilot")
    _fee_and_credit(estimate, free_tier, eligible=True)
    estimate.lines.append(CostLine(f"{cpu:g} vCPU requested by {len(pods)} pods", cpu, cpu * _price("autopilot_vcpu_per_hour")))
    estimate.lines.append(CostLine(f"{memory:g} GB memory requested", memory, memory * _price("autopilot_memory_gb_per_hour")))
    if load_balancers:
        estimate.lines.append(CostLine(f"{load_balancers} x load balancer forwarding rule", load_balancers,
                                       load_balancers * _price("forwarding_rule_per_hour")))
    return estimate


def registry_monthly(stored_gb: float) -> float:
    """What Artifact Registry bills a month for ``stored_gb`` of images (the first half GB is free)."""
    storage = PRICES["registry_storage_per_gb_month"]
    return max(0.0, stored_gb - storage["free_gb"]) * storage["usd"]
