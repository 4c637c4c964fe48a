"""Progress for the long steps a person waits on (installing, generating an estate, provisioning devices).

On a terminal, one line redrawn in place: `[#########-----------]  45%  provisioning devices 4,500/10,000`.
Elsewhere (CI logs, pipes) one plain line per step, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self._drawn = 0.0
        self._started = time.monotonic()

    def step(self, label: str) -> None:
        """The next step starts: `label` says what it does."""
        self.done += 1
        if self.tty:
            self._draw(self.done - 1, label)
        else:
            print(f"[{self.done}/{self.total}] {label}", file=self.stream, flush=True)

    def count(self, done: int, of: int, label: str) -> None:
        """Inside a step: `done` of `of` items (redrawn at most 10 times a second)."""
        now = time.monotonic()
        if self.tty and (now - self._drawn > 0.1 or done == of):
            self._drawn = now
            self._draw(self.done - 1 + done / max(of, 1), f"{label} {done:,}/{of:,}")

    def finish(self, label: str = "ready") -> None:
        elapsed = time.monotonic() - self._started
        if self.tty:
            self._draw(self.total, f"{label} ({elapsed:.1f} s)")
            self.stream.write("\n")
            self.stream.flush()
        else:
            print(f"{label} ({elapsed:.1f} s)", file=self.stream, flush=True)

    def _draw(self, position: float, label: str) -> None:
        filled = int(WIDTH * position / self.total)
        percent = 100 * position / self.total
        line = f"\r[{'#' * filled}{'-' * (WIDTH - filled)}] {percent:3.0f}%  {label}"
        self.stream.write(line[:120].ljust(100))
        self.stream.flush()
