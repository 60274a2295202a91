"""VM vs container comparisons, computed from stated and cited figures.

Why figures with sources: "containers are lighter" is only useful to a
learner who can see by how much, and where that number comes from. Every
default here is a ``Figure`` that carries its source, so a notebook can show
the citation next to the result, and a learner can change any number and see
what follows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Figure",
    "FIGURES",
    "instances_that_fit",
    "Capacity",
    "capacity",
    "memory_for",
]


@dataclass(frozen=True)
class Figure:
    """One number with its unit, what it measures, and where it was stated."""

    value: float
    unit: str
    what: str
    source: str
    url: str

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}: {self.what} (source: {self.source}, {self.url})"


FIGURES: dict[str, Figure] = {
    "vm_boot_seconds": Figure(
        value=96.9,
        unit="s",
        what=(
            "average start-up time of an Amazon EC2 m1.small Linux (Fedora) VM, from "
            "asking for it to the first successful SSH login, measured Oct 2011 - Feb 2012"
        ),
        source=(
            "M. Mao and M. Humphrey, 'A Performance Study on the VM Startup Time in the "
            "Cloud', IEEE CLOUD 2012, pp. 423-430, doi:10.1109/CLOUD.2012.103 "
            "(results table 'by time', as presented by the authors)"
        ),
        url="https://doi.org/10.1109/CLOUD.2012.103",
    ),
    "microvm_boot_seconds": Figure(
        value=0.125,
        unit="s",
        what=(
            "Firecracker microVM: time to start user-space or application code "
            "('as little as 125 ms'; the specification states <= 125 ms from the "
            "InstanceStart API call to the guest's /sbin/init, with a minimal kernel)"
        ),
        source="Firecracker website and SPECIFICATION.md (firecracker-microvm/firecracker)",
        url="https://firecracker-microvm.github.io/",
    ),
    "microvm_memory_overhead_mib": Figure(
        value=5.0,
        unit="MiB",
        what=(
            "Firecracker's memory overhead per microVM ('less than 5 MiB'; the "
            "specification says <= 5 MiB for the VMM threads of a 1 vCPU, 128 MiB microVM)"
        ),
        source="Firecracker website and SPECIFICATION.md (firecracker-microvm/firecracker)",
        url="https://firecracker-microvm.github.io/",
    ),
    "guest_os_memory_mib": Figure(
        value=256.0,
        unit="MiB",
        what=(
            "minimum RAM Debian states for an install without a desktop ('No desktop': "
            "256 MiB minimum, 512 MiB recommended)"
        ),
        source=(
            "Debian GNU/Linux 11 'bullseye' Installation Guide, section 3.4 "
            "'Meeting Minimum Hardware Requirements', Table 3.2"
        ),
        url="https://www.debian.org/releases/bullseye/s390x/ch03s04.ca.html",
    ),
    "container_runtime_overhead_mib": Figure(
        value=10.0,
        unit="MiB",
        what=(
            "resident memory of the containerd-shim-runc-v2 helper process that stays "
            "beside each running container (about 9-11 MiB RSS each in the report); "
            "the container's own processes are the app and are counted separately"
        ),
        source=(
            "containerd/containerd issue #7878 (Dec 2022), ps output of three shims, "
            "read by a maintainer as 11M, 10M and 9M resident"
        ),
        url="https://github.com/containerd/containerd/issues/7878",
    ),
}


def _check_amount(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number of MiB, got {value!r}.")
    if value < 0:
        raise ValueError(f"{name} cannot be negative (got {value!r}); memory sizes start at 0.")


def instances_that_fit(host_mib: float, per_instance_mib: float, reserved_mib: float = 0) -> int:
    """How many instances of ``per_instance_mib`` fit in what the host has left.

    Whole instances only (an instance cannot run in part of its memory), and 0
    when not even one fits.
    """
    _check_amount("host_mib", host_mib)
    _check_amount("reserved_mib", reserved_mib)
    _check_amount("per_instance_mib", per_instance_mib)
    if per_instance_mib <= 0:
        raise ValueError(
            f"per_instance_mib must be more than 0 (got {per_instance_mib!r}): "
            "every instance needs some memory."
        )
    free = host_mib - reserved_mib
    if free <= 0 or math.isinf(per_instance_mib):
        return 0
    # The tiny epsilon stops 0.3 / 0.1 = 2.9999999999999996 from losing an instance.
    return int(math.floor(free / per_instance_mib + 1e-9))


@dataclass
class Capacity:
    """How many VMs and how many containers one host can hold."""

    vms: int
    containers: int
    vm_memory_each_mib: float
    container_memory_each_mib: float
    host_mib: float

    @property
    def ratio(self) -> float | None:
        """Containers per VM on the same host; None when not even one VM fits."""
        if self.vms == 0:
            return None
        return self.containers / self.vms

    def __str__(self) -> str:
        ratio = "no VM fits" if self.ratio is None else f"{self.ratio:.1f} containers per VM"
        return (
            f"On a host with {self.host_mib:g} MiB: {self.vms} VMs "
            f"({self.vm_memory_each_mib:g} MiB each) or {self.containers} containers "
            f"({self.container_memory_each_mib:g} MiB each), {ratio}."
        )


def capacity(
    host_mib: float,
    app_mib: float,
    guest_os_mib: float,
    container_overhead_mib: float = FIGURES["container_runtime_overhead_mib"].value,
    hypervisor_reserved_mib: float = FIGURES["guest_os_memory_mib"].value,
) -> Capacity:
    """Compare how many copies of one app fit as VMs and as containers.

    Each VM carries the app plus a whole guest OS; each container carries the
    app plus a small runtime helper, because it shares the host's kernel. The
    host keeps ``hypervisor_reserved_mib`` for its own OS in both cases (by
    default the same minimal-OS figure as a guest: the host runs an OS too).
    """
    for name, value in (("app_mib", app_mib), ("guest_os_mib", guest_os_mib),
                        ("container_overhead_mib", container_overhead_mib)):
        _check_amount(name, value)
    vm_each = app_mib + guest_os_mib
    container_each = app_mib + container_overhead_mib
    return Capacity(
        vms=instances_that_fit(host_mib, vm_each, hypervisor_reserved_mib),
        containers=instances_that_fit(host_mib, container_each, hypervisor_reserved_mib),
        vm_memory_each_mib=vm_each,
        container_memory_each_mib=container_each,
        host_mib=host_mib,
    )


def memory_for(
    apps: int,
    app_mib: float,
    guest_os_mib: float,
    container_overhead_mib: float,
) -> dict[str, float]:
    """Memory that ``apps`` copies of an app need as VMs and as containers."""
    if isinstance(apps, bool) or not isinstance(apps, int) or apps < 0:
        raise ValueError(f"apps must be a whole number 0 or more, got {apps!r}.")
    for name, value in (("app_mib", app_mib), ("guest_os_mib", guest_os_mib),
                        ("container_overhead_mib", container_overhead_mib)):
        _check_amount(name, value)
    return {
        "vm": float(apps * (app_mib + guest_os_mib)),
        "container": float(apps * (app_mib + container_overhead_mib)),
    }
