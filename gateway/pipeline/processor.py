"""Spool to decoded batches: count and quarantine rejections, then hand the batch on.

This is where the rule core plugs in (the alert-core issue): it receives every decoded batch in spool order,
right after the commit, without waiting for InfluxDB.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from gateway.observe.metrics import Metrics
from gateway.pipeline.follow import Follower
from gateway.pipeline.spool import Spool
from sensors.columns import DecodedBatch, RawMessage
from sensors.decode import Decoder

log = logging.getLogger(__name__)

CURSOR = "processor"

BatchSink = Callable[[int, int, DecodedBatch], None]


class Processor:
    def __init__(
        self,
        spool: Spool,
        decoder: Decoder,
        metrics: Metrics,
        *,
        after: int,
        sinks: list[BatchSink],
        chunk: int = 5000,
        room: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.room = room
        """Awaited before each batch: a later stage that is far behind (the notifier's planning) holds the
        processor back, and the spool keeps what waits. Nothing downstream ever drops for being late."""
        self.spool = spool
        self.decoder = decoder
        self.metrics = metrics
        self.sinks = sinks
        self.follower: Follower[list[RawMessage]] = Follower(
            spool,
            after=after,
            load=lambda rows: rows,
            capacity=64,
            chunk=chunk,
            on_overflow=metrics.handoff_overflow.labels(stage="processor").inc,
        )

    @property
    def cursor(self) -> int:
        return self.follower.after

    def offer(self, rows: list[RawMessage]) -> None:
        self.follower.offer(rows[0].id, rows[-1].id, rows)

    async def run(self) -> None:
        while True:
            first, last, rows = await self.follower.next()
            batch = self.decoder.decode(rows)
            self._count(batch)
            if batch.rejections:
                await self.spool.quarantine(batch.rejections)
                for r in batch.rejections:
                    log.debug("rejected message %d on %s: %s (%s)", r.msg_id, r.topic, r.reason, r.detail)
            for sink in self.sinks:
                sink(first, last, batch)
            if self.room is not None:
                await self.room()
            await asyncio.sleep(0)

    def _count(self, batch: DecodedBatch) -> None:
        m = self.metrics
        if len(batch.readings):
            m.accepted.labels(kind="reading").inc(len(batch.readings))
        if len(batch.events):
            m.accepted.labels(kind="sensor_event").inc(len(batch.events))
        if len(batch.door_events):
            m.accepted.labels(kind="door_event").inc(len(batch.door_events))
        if len(batch.statuses):
            m.accepted.labels(kind="status").inc(len(batch.statuses))
        if batch.skewed:
            m.clock_skew.inc(batch.skewed)
        if batch.late:
            m.late.inc(batch.late)
        for reason, n in Counter(r.reason for r in batch.rejections).items():
            m.rejected.labels(reason=reason.value).inc(n)
