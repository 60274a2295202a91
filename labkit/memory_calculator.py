"""The memory calculator: sliders over VM vs container density (lesson 1), and its chart.

Why thin views: all the arithmetic lives in ``labkit.vms`` and is tested
there; a widget only turns slider positions into arguments and results into
text and a chart. ``memory_chart`` is separate so it can be tested, and
reused in a static notebook, without any widget machinery.
"""
from __future__ import annotations

import base64

import ipywidgets
from matplotlib.figure import Figure

from labkit import vms
from labkit.figures import png_bytes

__all__ = ["memory_chart", "memory_calculator", "MemoryCalculator"]

_VM_COLOUR = "#4c72b0"
_CONTAINER_COLOUR = "#dd8452"
_OS_COLOUR = "#c0c0c0"


def memory_chart(capacity: vms.Capacity) -> Figure:
    """Bar charts: how many fit (left) and what each one costs in memory (right).

    Uses ``matplotlib.figure.Figure`` directly, not pyplot, so no global figure
    is left open when the widget redraws many times.
    """
    figure = Figure(figsize=(8, 3.2), layout="constrained")
    count_axes, each_axes = figure.subplots(1, 2)
    labels = ["VMs", "Containers"]
    counts = [capacity.vms, capacity.containers]
    bars = count_axes.bar(labels, counts, color=[_VM_COLOUR, _CONTAINER_COLOUR])
    count_axes.bar_label(bars, labels=[str(count) for count in counts], padding=2)
    count_axes.set_ylabel("how many fit")
    count_axes.set_title(f"On a {capacity.host_mib / 1024:g} GiB host")
    count_axes.set_ylim(0, max(counts + [1]) * 1.15)

    each = [capacity.vm_memory_each_mib, capacity.container_memory_each_mib]
    bars = each_axes.bar(labels, each, color=[_VM_COLOUR, _CONTAINER_COLOUR])
    each_axes.bar_label(bars, labels=[f"{value:g} MiB" for value in each], padding=2)
    each_axes.set_ylabel("MiB each")
    each_axes.set_title("Memory for one copy of the app")
    each_axes.set_ylim(0, max(each + [1]) * 1.15)
    return figure


class MemoryCalculator(ipywidgets.VBox):
    """Sliders for the memory figures, a one-line result, and a chart.

    Attributes a notebook or test may use: ``host_gib``, ``guest_os_mib``,
    ``app_mib``, ``container_overhead_mib`` (the sliders), ``summary`` (the
    result text), ``chart`` (an Output widget) and ``capacity`` (the latest
    ``vms.Capacity``).
    """

    def __init__(
        self,
        host_gib: float,
        guest_os_mib: float,
        app_mib: float,
        container_overhead_mib: float,
        hypervisor_reserved_mib: float,
    ):
        style = {"description_width": "16em"}
        layout = ipywidgets.Layout(width="38em")

        def slider(description: str, value: float, low: float, high: float, step: float):
            return ipywidgets.FloatSlider(
                value=value, min=low, max=max(high, value), step=step,
                description=description, style=style, layout=layout,
                continuous_update=False,
            )

        self.host_gib = slider("Host memory (GiB)", host_gib, 1, 256, 1)
        self.guest_os_mib = slider("Guest OS in each VM (MiB)", guest_os_mib, 0, 4096, 16)
        self.app_mib = slider("App footprint (MiB)", app_mib, 1, 4096, 16)
        self.container_overhead_mib = slider(
            "Runtime overhead per container (MiB)", container_overhead_mib, 0, 256, 1
        )
        self.hypervisor_reserved_mib = hypervisor_reserved_mib
        self.summary = ipywidgets.HTML()
        self.chart = ipywidgets.Output()
        self.capacity: vms.Capacity | None = None
        sliders = [self.host_gib, self.guest_os_mib, self.app_mib, self.container_overhead_mib]
        super().__init__(children=[*sliders, self.summary, self.chart])
        for control in sliders:
            control.observe(self._update, names="value")
        self._update()

    def _update(self, _change: object = None) -> None:
        result = vms.capacity(
            host_mib=self.host_gib.value * 1024,
            app_mib=self.app_mib.value,
            guest_os_mib=self.guest_os_mib.value,
            container_overhead_mib=self.container_overhead_mib.value,
            hypervisor_reserved_mib=self.hypervisor_reserved_mib,
        )
        self.capacity = result
        if result.ratio is None:
            comparison = "Not even one VM fits."
        else:
            comparison = f"That is {result.ratio:.1f} containers for every VM."
        self.summary.value = (
            f"<b>{result.vms} VMs</b> ({result.vm_memory_each_mib:g} MiB each) or "
            f"<b>{result.containers} containers</b> "
            f"({result.container_memory_each_mib:g} MiB each) fit, after "
            f"{self.hypervisor_reserved_mib:g} MiB kept for the host's own OS. {comparison}"
        )
        figure = memory_chart(result)
        image = png_bytes(figure)
        figure.clear()  # free the drawing now; nothing else holds the figure
        # Replacing the outputs redraws the chart; unlike clear_output() this
        # also works (and prints nothing) outside a running kernel.
        self.chart.outputs = (
            {"output_type": "display_data", "data": {"image/png": _b64(image)}, "metadata": {}},
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def memory_calculator(
    host_gib: float = 16,
    guest_os_mib: float = vms.FIGURES["guest_os_memory_mib"].value,
    app_mib: float = 256,
    container_overhead_mib: float = vms.FIGURES["container_runtime_overhead_mib"].value,
    hypervisor_reserved_mib: float = vms.FIGURES["guest_os_memory_mib"].value,
) -> ipywidgets.Widget:
    """An interactive VM-vs-container density calculator (see ``MemoryCalculator``)."""
    return MemoryCalculator(
        host_gib, guest_os_mib, app_mib, container_overhead_mib, hypervisor_reserved_mib
    )
