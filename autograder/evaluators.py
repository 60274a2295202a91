"""The evaluator: a fresh, trusted kernel per submission that runs the locked test cells.

The learner's kernel (the sandbox, `sandbox.py`) runs the learner's cells; the evaluator
runs the setup cells and the autograded test cells, visible and hidden, so no code of the
learner's ever runs beside the tests (see `trusted_execute.py` for how cells are routed and
how the learner's functions are called from the tests).

It is trusted, so its walls are light: its own mount and PID namespaces (every process it
starts dies with it), the same resource limits as the sandbox, but the worker's uid and
network (it starts practice clusters on 127.0.0.1 and hands the sandbox tunnels to them).
Its working directory is private (0700) and holds only the assignment's files from
`source/`, never the learner's, so nothing a learner submitted can shadow a module the
tests import. Like the sandbox's, evaluator kernels are started ahead of use, from the
worker's fork server when there is one, and each serves one submission only.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .sandbox import JAIL, Isolation, Slot, _cpu_seconds
from .zygote import AGENT_ENV

BRIDGE = "bridge.sock"


class EvaluatorSlot(Slot):
    """An evaluator's private place: everything 0700 and the worker's own."""

    @property
    def bridge(self) -> Path:
        """The Unix socket the evaluator's proxies call the worker on."""
        return self.root / BRIDGE

    def reset(self) -> None:
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.kernel_dir.mkdir()
        for path in (self.root, self.work, self.kernel_dir):
            os.chmod(path, 0o700)


@dataclass
class EvaluatorIsolation(Isolation):
    """The light jail of `jail.py` (namespaces and limits; no uid change, network shared)."""

    name: str = "evaluator"
    zygote: str | None = None
    practice_cache: str | None = None

    def prefix(self, slot: Slot) -> list[str]:
        lim = self.limits
        cmd = [sys.executable, "-I", "-S", str(JAIL), "--host-root", "--log", str(slot.log)]
        if self.zygote:
            cmd += ["--zygote", self.zygote]
        return cmd + [
            "--rlimit", f"as={max(lim.memory_mb, 4096) * 1024 * 1024}",
            "--rlimit", f"cpu={_cpu_seconds(lim)}",
            "--rlimit", "core=0",
            "--",
        ]

    def kernel_env(self, slot: Slot) -> dict[str, str]:
        """The sandbox's clean environment, plus the bridge, and the current directory kept off sys.path."""
        env = super().kernel_env(slot)
        env["PYTHONSAFEPATH"] = "1"
        env["AUTOGRADER_BRIDGE"] = str(slot.root / BRIDGE)
        env[AGENT_ENV] = "evaluator"
        if self.practice_cache:
            env["LABKIT_PRACTICE_CACHE"] = self.practice_cache
        return env


def evaluator_slots(root: Path, index: int, count: int = 2) -> list[EvaluatorSlot]:
    """The evaluator slots of worker `index` (two: one in use, one booting)."""
    return [EvaluatorSlot(root / f"evaluator{index * 2 + k}", -1 - (index * 2 + k), None) for k in range(count)]


def prepare_evaluator_dir(work: Path, extra_files: list[tuple[Path, Path]]) -> None:
    """The evaluator's current directory: only the assignment's files from source/."""
    for source, relative in extra_files:
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
