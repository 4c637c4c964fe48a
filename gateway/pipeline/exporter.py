"""Spool to InfluxDB: batched, gzipped, several writes in flight, nothing lost, nothing doubled.

The exporter keeps its own cursor in the spool: the highest id below which every message is in InfluxDB.
Writes may finish out of order; the cursor only moves over a contiguous run of finished ranges, so after a
crash the unfinished tail is written again (same series and timestamps: an overwrite, not a duplicate).

Responses (docs/reliability.md): 400/422 and 413 split the batch until the bad line is alone, which is
quarantined while its neighbours are written; 429/5xx/timeouts retry with capped, jittered backoff that
honours Retry-After; 401/403/404 hold the data and report unhealthy until the configuration is fixed.

VictoriaMetrics (docs/victoriametrics.md) takes the same lines, but answers 204 for a point older than its
retention period and drops it with only a line in its own log: such points are quarantined here before
writing (`beyond_retention`), counted and logged. It has no schema to create and no continuous queries
to run again for late data, so neither is done; its /health says when it is up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.config.settings import duration_seconds
from gateway.errors import (
    StorageConfigError,
    StorageError,
    StorageUnavailable,
)
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import EncodedLines, PointEncoder
from gateway.influx.policies import policy_of
from gateway.influx.refusals import beyond_retention, write_or_refuse
from gateway.influx.retention import Backfill, ensure_schema
from gateway.observe.health import Component
from gateway.observe.metrics import Metrics
from gateway.pipeline.follow import Follower
from gateway.pipeline.spool import Spool
from sensors.columns import DecodedBatch
from sensors.decode import Decoder
from sensors.rejections import Reason

log = logging.getLogger(__name__)

CURSOR = "exporter"


@dataclass(slots=True)
class _Range:
    last: int
    done: bool = False


class Exporter:
    def __init__(
        self,
        spool: Spool,
        influx: InfluxV1,
        decoder: Decoder,
        encoder: PointEncoder,
        metrics: Metrics,
        health: Component,
        *,
        after: int,
        clock: Callable[[], float],
    ) -> None:
        self.spool = spool
        self.influx = influx
        self.encoder = encoder
        self.metrics = metrics
        self.health = health
        self.clock = clock
        settings = influx.settings
        self.batch_lines = settings.batch_lines
        self.backoff_max = settings.backoff_max
        self.follower: Follower[DecodedBatch] = Follower(
            spool,
            after=after,
            load=decoder.decode,
            capacity=64,
            chunk=settings.batch_lines,
            on_overflow=metrics.handoff_overflow.labels(stage="exporter").inc,
        )
        self.cursor = after
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._inflight: deque[_Range] = deque()
        self._database_ready = False
        self.victoria = settings.kind == "victoriametrics"
        self.retention_s = duration_seconds(settings.vm_retention) if self.victoria else float("inf")
        self.backfill = None if self.victoria else Backfill(influx, every=settings.backfill_seconds)

    def offer(self, first: int, last: int, batch: DecodedBatch) -> None:
        self.follower.offer(first, last, batch)

    @property
    def depth(self) -> int:
        return max(0, self.spool.last_id - self.cursor)

    async def run(self) -> None:
        await self._retry(self._ensure_database)
        async with asyncio.TaskGroup() as tg:
            if self.backfill is not None:
                tg.create_task(self.backfill.run(), name="influx-backfill")
            while True:
                await self._slots.acquire()
                try:
                    _first, last, batch = await self.follower.next()
                    encoded = [self.encoder.encode(batch)]
                    times = [batch.earliest_ts(), batch.latest_ts()]
                    n = len(encoded[0].lines)
                    # Coalesce what is already waiting, so a busy gateway posts few large batches.
                    while n < self.batch_lines and self.follower.ready():
                        # the alarm path's turn between encodes: a batch the processor holds is evaluated
                        # before this one is encoded, so an alarm never waits for a whole coalesced write
                        await asyncio.sleep(0)
                        _first, last, batch = await self.follower.next()
                        encoded.append(self.encoder.encode(batch))
                        times += [batch.earliest_ts(), batch.latest_ts()]
                        n += len(encoded[-1].lines)
                except BaseException:
                    self._slots.release()
                    raise
                entry = _Range(last)
                self._inflight.append(entry)
                known = [t for t in times if t is not None]
                span = (min(known), max(known)) if known else None
                tg.create_task(self._export(entry, encoded, span), name=f"influx-write-{last}")

    async def _export(
        self, entry: _Range, encoded: list[EncodedLines], span: tuple[float, float] | None
    ) -> None:
        try:
            lines = [line for e in encoded for line in e.lines]
            msg_ids = [mid for e in encoded for mid in e.msg_ids]
            for start in range(0, len(lines), self.batch_lines):
                end = start + self.batch_lines
                await self.write(lines[start:end], msg_ids[start:end])
        finally:
            self._slots.release()
        if span is not None and self.backfill is not None:
            self.backfill.note(*span, now=self.clock())
        entry.done = True
        while self._inflight and self._inflight[0].done:
            self.cursor = self._inflight.popleft().last
        self.metrics.spool_depth.set(self.depth)

    async def write(self, lines: list[bytes], msg_ids: list[int]) -> None:
        """Write lines until InfluxDB takes them: retried while it is down, split and quarantined line by line
        when it refuses the data (`gateway.influx.refusals`). Other stages (alarm transitions) write through
        here too."""
        lines, msg_ids, old = beyond_retention(
            lines,
            msg_ids,
            now=self.clock(),
            retention_s=self.retention_s,
            edge=f"VictoriaMetrics' retention ({self.influx.settings.vm_retention})",
        )
        if old:
            self.metrics.rejected.labels(reason=Reason.BEYOND_RETENTION.value).inc(len(old))
            log.warning("%d point(s) quarantined, not written: %s", len(old), old[0].detail)
            await self.spool.quarantine(old)
        if not lines:
            return
        refused = await write_or_refuse(
            lines,
            msg_ids,
            lambda part: self._retry(lambda: self._post(part)),
            now=self.clock(),
            store=self.influx.name,
        )
        if refused:
            log.warning(
                "%s refused %d line(s); quarantined: %s", self.influx.name, len(refused), refused[0].detail
            )
            self.metrics.rejected.labels(reason=Reason.STORAGE_REJECTED.value).inc(len(refused))
            await self.spool.quarantine(refused)

    async def _post(self, lines: list[bytes]) -> None:
        """One write per retention policy the lines belong to (door events, alarms: docs/storage.md)."""
        raw = self.influx.settings.retention_policy
        by_policy: dict[str, list[bytes]] = {}
        for line in lines:
            by_policy.setdefault(policy_of(line, raw), []).append(line)
        for rp, group in by_policy.items():
            started = asyncio.get_running_loop().time()
            await self.influx.write(b"\n".join(group), rp=rp)
            self.metrics.write_seconds.observe(asyncio.get_running_loop().time() - started)
            self.metrics.points_written.inc(len(group))

    async def _ensure_database(self) -> None:
        if self.victoria:
            await self.influx.health()  # no databases, policies or continuous queries to create
        else:
            await ensure_schema(self.influx)
        self._database_ready = True

    async def _retry(self, attempt: Callable[[], Awaitable[None]]) -> None:
        """Run `attempt` until it succeeds; only data errors (400/413) escape, for splitting."""
        backoff = 0.25
        while True:
            try:
                await attempt()
            except (StorageUnavailable, StorageConfigError) as exc:
                kind = "unavailable" if isinstance(exc, StorageUnavailable) else "config"
                self.metrics.write_errors.labels(kind=kind).inc()
                if self.health.ok:
                    log.error(
                        "%s write failing (%s); holding data in the spool: %s", self.influx.name, kind, exc
                    )
                self.health.set(False, self.clock(), f"{kind}: {exc}")
                self.metrics.influx_up.set(0)
                if isinstance(exc, StorageConfigError) and "database not found" in str(exc):
                    self._database_ready = False
                delay = random.uniform(backoff / 2, backoff)
                if isinstance(exc, StorageUnavailable) and exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, self.backoff_max))
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, self.backoff_max)
                if not self._database_ready:
                    try:
                        await self._ensure_database()
                    except StorageError:
                        continue
                continue
            if self.health.error is not None:  # a recovery, not the first success after start
                log.info("%s writes succeed again", self.influx.name)
            self.health.set(True, self.clock())
            self.metrics.influx_up.set(1)
            return
