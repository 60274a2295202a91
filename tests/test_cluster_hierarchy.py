"""labkit.cluster_hierarchy.quantity reads quantities with the emulator's parser (one parser).

What the hierarchy code used to parse itself must read the same now; where the two differed,
the emulator's (Kubernetes') answer wins: exact decimal arithmetic, and no space inside.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from labkit import cluster_hierarchy as hierarchy
from labkit.kubesim import quantity as kubesim_quantity


@pytest.mark.parametrize("text", ["32866492Ki", "500m", "8", "1.5Gi", "2G", "100m", "1e3", "0.1", "7u",
                                  " 2Gi ", "+3", "-2m", "3E", "1.1k", "12345678n", "10240Ki"])
def test_quantity_is_the_emulators_parse_as_a_float(text):
    assert hierarchy.quantity(text) == float(kubesim_quantity.parse(text))


def test_quantity_is_exact_where_float_arithmetic_was_not():
    # 123456789 * 1e-9 in floats is 0.12345678900000001; the quantity is 0.123456789.
    assert hierarchy.quantity("123456789n") == float(Decimal("0.123456789"))


@pytest.mark.parametrize("text", ["1 Gi", "lots", "5Gb", ""])
def test_not_a_quantity_says_so(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        hierarchy.quantity(text)


def test_numbers_and_unset_fields_pass_through():
    assert hierarchy.quantity(None) is None
    assert hierarchy.quantity(4) == 4.0
    assert hierarchy.quantity(2.5) == 2.5


def test_node_memory_of_a_practice_cluster_reads_as_kibibytes():
    from labkit.practice_clusters import practice_cluster

    with practice_cluster(seed=0, workers=2) as practice:
        found = hierarchy.nodes(practice.core)
    assert found
    for node in found:
        assert node.memory.endswith("Ki")
        assert node.memory_gib == int(node.memory.removesuffix("Ki")) * 1024 / 2**30
