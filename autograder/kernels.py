"""Fresh kernels, started before they are needed.

Starting a Python kernel costs most of a second. A worker keeps one kernel booting in
the background while it grades with another, so the start-up is hidden behind the
previous submission; with process isolation the kernel is forked from the worker's
fork server (`zygote.py`), which spares it the imports, the larger part of that cost.
Every kernel is used for exactly one submission and then killed with everything it
started: nothing a submission does can reach the next one.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from . import zygote
from .sandbox import Isolation, Slot


class WalledKernelManager(AsyncKernelManager):
    """nbgrader's kernel manager class, launching the kernel behind `isolation`'s walls,
    talking over Unix sockets in the slot's private `kernel/` directory."""

    def __init__(self, isolation: Isolation, slot: Slot, **kwargs) -> None:
        super().__init__(transport="ipc", ip=str(slot.kernel_dir / "ipc"),
                         connection_file=str(slot.kernel_dir / "kernel.json"), **kwargs)
        self.isolation = isolation
        self.slot = slot

    # Set at launch: the kernel has the grader's agent before any request (forked by a fork
    # server that gave it one: `zygote.agent_preloaded`), so it needs no bootstrap request.
    agent_preloaded = False

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if Path(cmd[0]).name.startswith("python"):
            cmd[0] = self.isolation.python()
        cmd = self.isolation.prefix(self.slot) + cmd
        self.agent_preloaded = zygote.agent_preloaded(cmd)
        return cmd

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        # The kernel runs as another user: it must read its connection file.
        if self.slot.uid is not None and self.isolation.name == "process":
            os.chown(self.connection_file, self.slot.uid, self.slot.uid)
        elif self.isolation.name == "docker":
            from .sandbox import GRADER_IMAGE_UID
            if os.geteuid() == 0:
                os.chown(self.connection_file, GRADER_IMAGE_UID, GRADER_IMAGE_UID)
            else:
                os.chmod(self.connection_file, 0o644)

    def kill_now(self) -> None:
        """Stop the kernel and everything behind it, now.

        SIGTERM to the launcher first: the jail answers by SIGKILLing the kernel (whose PID
        namespace takes every process it started along), reaps, and exits. Then the
        isolation's own sweep (every process of the slot's uid; the container) and a
        SIGKILL to the launcher's group, for whatever did not listen.
        """
        provisioner = self.provisioner
        process = getattr(provisioner, "process", None) if provisioner else None
        if self.isolation.name == "docker":  # removing the container ends `docker run`
            self.isolation.cleanup(self.slot, process)
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=2)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.isolation.cleanup(self.slot)
        if process is not None and process.poll() is None:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class KernelPool:
    """`size` slots, each holding at most one fresh kernel, started ahead of use."""

    def __init__(self, isolation: Isolation, slots: list[Slot], kernel_name: str) -> None:
        self.isolation = isolation
        self.free = list(slots)
        self.ready: list[tuple[WalledKernelManager, Slot]] = []
        self.kernel_name = kernel_name

    def _start(self, slot: Slot) -> WalledKernelManager:
        slot.reset()
        km = WalledKernelManager(self.isolation, slot, kernel_name=self.kernel_name)
        stderr = open(slot.root / "launcher.log", "ab")
        try:
            run_sync(km.start_kernel)(
                cwd=str(slot.work), env=self.isolation.kernel_env(slot),
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        finally:
            stderr.close()
        # Connect a client now: a new client's IOPub subscription takes a moment to reach the
        # kernel, and `wait_for_ready` then waits 0.2 s and asks again (about 0.2 s per kernel,
        # measured). Made here, it is connected by the time the submission needs it.
        km.prepared_client = km.client()
        km.prepared_client.start_channels()
        return km

    def prestart(self) -> None:
        """Boot kernels on free slots; they come up while the current submission runs."""
        while self.free:
            slot = self.free.pop(0)
            self.ready.append((self._start(slot), slot))

    def take(self) -> tuple[WalledKernelManager, Slot]:
        if not self.ready:
            self.prestart()
        km, slot = self.ready.pop(0)
        return km, slot

    def give_back(self, km: WalledKernelManager, slot: Slot) -> None:
        """Kill the used kernel and everything it started; the slot boots a fresh one later."""
        km.kill_now()
        try:
            run_sync(km.cleanup_resources)()
        except Exception:  # the kernel is dead, its leftovers do not matter
            pass
        self.free.append(slot)

    def close(self) -> None:
        for km, slot in self.ready:
            self.give_back(km, slot)
        self.ready.clear()
