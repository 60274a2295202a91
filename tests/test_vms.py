import dataclasses

import pytest

from labkit import vms


def test_figures_are_cited():
    for key in (
        "vm_boot_seconds",
        "microvm_boot_seconds",
        "microvm_memory_overhead_mib",
        "guest_os_memory_mib",
        "container_runtime_overhead_mib",
    ):
        figure = vms.FIGURES[key]
        assert figure.value > 0
        assert figure.source and figure.what and figure.unit
        assert figure.url.startswith("https://")


def test_figures_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        vms.FIGURES["vm_boot_seconds"].value = 1


def test_firecracker_figures_match_their_source():
    assert vms.FIGURES["microvm_boot_seconds"].value == 0.125
    assert vms.FIGURES["microvm_memory_overhead_mib"].value == 5


@pytest.mark.parametrize(
    "host, each, reserved, expected",
    [
        (1024, 256, 0, 4),
        (1023, 256, 0, 3),
        (1024, 256, 256, 3),
        (100, 256, 0, 0),
        (256, 256, 256, 0),
        (100, 256, 200, 0),  # reserve larger than the host
        (0.3, 0.1, 0, 3),  # floating point must not lose an instance
    ],
)
def test_instances_that_fit(host, each, reserved, expected):
    assert vms.instances_that_fit(host, each, reserved) == expected


@pytest.mark.parametrize(
    "args",
    [(1024, 0), (1024, -1), (-1, 256), (1024, 256, -1), (1024, float("nan")), ("1024", 256)],
)
def test_instances_that_fit_rejects_bad_input(args):
    with pytest.raises(ValueError):
        vms.instances_that_fit(*args)


def test_capacity_counts_guest_os_only_for_vms():
    result = vms.capacity(
        host_mib=4096, app_mib=200, guest_os_mib=300,
        container_overhead_mib=10, hypervisor_reserved_mib=96,
    )
    assert result.vm_memory_each_mib == 500
    assert result.container_memory_each_mib == 210
    assert result.vms == 8  # 4000 // 500
    assert result.containers == 19  # 4000 // 210
    assert result.ratio == pytest.approx(19 / 8)
    assert result.host_mib == 4096


def test_capacity_ratio_is_none_when_no_vm_fits():
    result = vms.capacity(1024, app_mib=600, guest_os_mib=600,
                          container_overhead_mib=10, hypervisor_reserved_mib=0)
    assert result.vms == 0
    assert result.containers == 1
    assert result.ratio is None
    assert "no VM fits" in str(result)


def test_capacity_defaults_use_the_cited_figures():
    result = vms.capacity(16 * 1024, app_mib=256, guest_os_mib=256)
    overhead = vms.FIGURES["container_runtime_overhead_mib"].value
    reserved = vms.FIGURES["guest_os_memory_mib"].value
    assert result.container_memory_each_mib == 256 + overhead
    assert result.vms == int((16 * 1024 - reserved) // 512)


def test_memory_for():
    assert vms.memory_for(10, 100, 256, 10) == {"vm": 3560.0, "container": 1100.0}
    assert vms.memory_for(0, 100, 256, 10) == {"vm": 0.0, "container": 0.0}
    with pytest.raises(ValueError):
        vms.memory_for(-1, 100, 256, 10)
    with pytest.raises(ValueError):
        vms.memory_for(2, -5, 256, 10)
