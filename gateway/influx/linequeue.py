"""Lines for InfluxDB from stages other than the exporter (alarm transitions, notification states).

They go through the exporter's write path (retry while InfluxDB is away, split and quarantine on refusal) in
their own loop, so a database outage never holds up the alarm clock or a notification. Bounded: beyond
`limit` lines (days of outage) the oldest are dropped and counted; the spool still holds the readings and
the outbox the deliveries, so what is dropped is only their copy in InfluxDB.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import Counter


class LineWriter(Protocol):
    """The resilient write path (`gateway.pipeline.exporter.Exporter.write`): retried while InfluxDB is
    away, split and quarantined on refusal. `msg_ids` name spool rows; side-stream lines have none (0)."""

    async def write(self, lines: list[bytes], msg_ids: list[int]) -> None: ...


class LineQueue:
    def __init__(
        self, exporter: LineWriter, dropped: Counter, *, limit: int = 200_000, batch: int = 5000
    ) -> None:
        self.exporter = exporter
        self.dropped = dropped
        self.limit = limit
        self.batch = batch
        self.lines: deque[bytes] = deque()
        self._waiting = asyncio.Event()
        self._last_us = 0

    def unique_us(self, ts: float) -> int:
        """Microsecond timestamps that never repeat in this stream: two points with the same series and time
        would overwrite each other in InfluxDB."""
        us = max(round(ts * 1_000_000), self._last_us + 1)
        self._last_us = us
        return us

    def put(self, lines: Iterable[bytes]) -> None:
        self.lines.extend(lines)
        while len(self.lines) > self.limit:
            self.lines.popleft()
            self.dropped.inc()
        if self.lines:
            self._waiting.set()

    async def run(self) -> None:
        while True:
            await self._waiting.wait()
            self._waiting.clear()
            while self.lines:
                batch = [self.lines[i] for i in range(min(len(self.lines), self.batch))]
                await self.exporter.write(batch, [0] * len(batch))
                for _ in batch:
                    self.lines.popleft()
