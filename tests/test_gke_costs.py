"""What a GKE cluster costs: Google's rules applied to the prices the course wrote down."""
from __future__ import annotations

import pytest

from labkit import gke_costs
from labkit.gke_costs import HOURS_PER_MONTH, PRICES, autopilot_estimate, registry_monthly, standard_estimate

FEE = PRICES["cluster_fee_per_hour"]["usd"]
E2_MEDIUM = PRICES["machine_per_hour"]["usd"]["e2-medium"]
DISK_HOURLY = 100 * PRICES["boot_disk_per_gb_month"]["usd"] / HOURS_PER_MONTH
RULE = PRICES["forwarding_rule_per_hour"]["usd"]


def test_every_price_names_its_page() -> None:
    assert all(entry["source"].startswith("https://cloud.google.com/") for entry in PRICES.values())
    assert gke_costs.RECORDED[:4].isdigit()


def test_a_zonal_standard_cluster_bills_its_nodes_and_the_free_tier_covers_its_fee() -> None:
    estimate = standard_estimate(3, "e2-medium", load_balancers=1)
    assert estimate.per_hour == pytest.approx(FEE + 3 * E2_MEDIUM + 3 * DISK_HOURLY + RULE)
    assert estimate.free_tier_credit == pytest.approx(FEE * HOURS_PER_MONTH)   # 73.00 of the 74.40 credit
    assert estimate.per_month == pytest.approx((3 * E2_MEDIUM + 3 * DISK_HOURLY + RULE) * HOURS_PER_MONTH)


def test_a_regional_cluster_has_its_nodes_in_each_of_three_zones_and_no_free_tier() -> None:
    zonal, regional = standard_estimate(2, "e2-standard-2"), standard_estimate(2, "e2-standard-2", regional=True)
    assert regional.lines[1].quantity == 6 and zonal.lines[1].quantity == 2
    assert regional.free_tier_credit == 0
    assert regional.per_month > 3 * (zonal.per_month - RULE * HOURS_PER_MONTH)


def test_autopilot_bills_the_pods_requests_cpu_in_quarter_vcpus() -> None:
    estimate = autopilot_estimate([(0.1, 0.5), (0.3, 0.5)], load_balancers=0)
    cpu, memory = estimate.lines[1], estimate.lines[2]
    assert cpu.quantity == pytest.approx(0.75)       # 0.1 -> 0.25, 0.3 -> 0.5
    assert memory.quantity == pytest.approx(1.0)
    assert cpu.per_hour == pytest.approx(0.75 * PRICES["autopilot_vcpu_per_hour"]["usd"])
    assert estimate.per_month == pytest.approx((cpu.per_hour + memory.per_hour) * HOURS_PER_MONTH)


def test_registry_storage_is_free_up_to_half_a_gigabyte() -> None:
    assert registry_monthly(0.3) == 0
    assert registry_monthly(2.5) == pytest.approx(2.0 * PRICES["registry_storage_per_gb_month"]["usd"])


def test_an_unknown_machine_type_is_refused_in_plain_words() -> None:
    with pytest.raises(ValueError, match="no price for 'n9-giant'.*e2-medium"):
        standard_estimate(1, "n9-giant")


def test_the_table_and_the_plain_data_agree() -> None:
    estimate = standard_estimate(1)
    data = estimate.as_dict()
    assert data["per_month"] == round(estimate.per_month, 2)
    assert f"{estimate.per_month:.2f}" in estimate.table() and gke_costs.RECORDED in estimate.table()
