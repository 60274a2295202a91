"""A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

from __future__ import annotations

import sys
import time


class Progress:
    """`advance()` once per submission; shows done/total, zeros, rate and time left."""

    def __init__(self, total: int, enabled: bool = True, stream=None) -> None:
        self.total = total
        self.done = 0
        self.zeros = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()

    def advance(self, student: str, record: dict | None, zero: bool) -> None:
        self.done += 1
        self.zeros += int(zero)
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        width = 24
        filled = int(width * self.done / max(1, self.total))
        score = f" {record['score']:g}/{record['max_score']:g}" if record else ""
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"({self.zeros} zero) {rate:.2f}/s, ~{left:.0f} s left  {student}{score}{' ZERO' if zero else ''}")
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        if self.enabled:
            self.stream.write(("\n" if self.tty else "") + message + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
