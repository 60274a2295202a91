"""The memory calculator: the chart on its own, and the widget driven programmatically."""
import base64

import ipywidgets
import pytest
from matplotlib.figure import Figure

from labkit import memory_calculator as widgets
from labkit import vms


def test_memory_chart_draws_the_capacity():
    result = vms.capacity(8192, app_mib=256, guest_os_mib=256,
                          container_overhead_mib=10, hypervisor_reserved_mib=0)
    figure = widgets.memory_chart(result)
    assert isinstance(figure, Figure)
    count_axes, each_axes = figure.axes
    heights = [bar.get_height() for bar in count_axes.patches]
    assert heights == [result.vms, result.containers] == [16, 30]
    assert [bar.get_height() for bar in each_axes.patches] == [512, 266]
    assert count_axes.get_title() == "On a 8 GiB host"


def test_memory_chart_with_nothing_fitting():
    result = vms.capacity(512, app_mib=600, guest_os_mib=256,
                          container_overhead_mib=10, hypervisor_reserved_mib=0)
    figure = widgets.memory_chart(result)
    assert [bar.get_height() for bar in figure.axes[0].patches] == [0, 0]


def png_in(calculator):
    (output,) = calculator.chart.outputs
    return base64.b64decode(output["data"]["image/png"])


def test_calculator_builds_with_result_and_chart():
    calculator = widgets.memory_calculator(host_gib=16, guest_os_mib=256, app_mib=256,
                                           container_overhead_mib=10,
                                           hypervisor_reserved_mib=0)
    assert isinstance(calculator, ipywidgets.Widget)
    assert calculator.capacity == vms.capacity(16 * 1024, 256, 256, 10, 0)
    assert "<b>32 VMs</b>" in calculator.summary.value
    assert "<b>61 containers</b>" in calculator.summary.value
    assert png_in(calculator).startswith(b"\x89PNG")


def test_moving_a_slider_updates_text_and_chart():
    calculator = widgets.memory_calculator(host_gib=16, guest_os_mib=256, app_mib=256,
                                           container_overhead_mib=10,
                                           hypervisor_reserved_mib=0)
    before = png_in(calculator)
    calculator.host_gib.value = 32
    assert calculator.capacity.vms == 64
    assert "<b>64 VMs</b>" in calculator.summary.value
    calculator.guest_os_mib.value = 768  # a VM now needs 1 GiB
    assert calculator.capacity.vms == 32
    assert "<b>32 VMs</b>" in calculator.summary.value
    assert png_in(calculator) != before


def test_when_no_vm_fits_the_text_says_so():
    calculator = widgets.memory_calculator(host_gib=1, guest_os_mib=512, app_mib=600,
                                           container_overhead_mib=10,
                                           hypervisor_reserved_mib=0)
    assert calculator.capacity.vms == 0
    assert "Not even one VM fits." in calculator.summary.value


def test_defaults_come_from_the_cited_figures():
    calculator = widgets.memory_calculator()
    assert calculator.guest_os_mib.value == vms.FIGURES["guest_os_memory_mib"].value
    assert calculator.container_overhead_mib.value == pytest.approx(
        vms.FIGURES["container_runtime_overhead_mib"].value
    )
