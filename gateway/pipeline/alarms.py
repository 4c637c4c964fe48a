"""The alert engine live: fed by the processor, ticked by the wall clock, persisted across restarts.

Transitions go to InfluxDB (measurement `alarm`, through the exporter's write path and its retry, split
and quarantine) and to the listeners it was built with (the alarm book, the notifier). Acknowledgements
and system alarms come in through its inbox (`gateway.pipeline.inbox`) and are applied by its own task.
Ticking and storing are separate loops: an InfluxDB outage must never delay a deadline.

Rule state is snapshotted with the spool id it reflects; after a crash the gateway restores the snapshot and
replays the spool from that id into the engine alone, so a restart mid-exposure resumes the CO dose instead
of resetting it to zero (the spool keeps those messages: trimming stops at the snapshot's id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

from alerts.engine import Engine
from alerts.signals import Acknowledgement, Signal, Transition
from alerts.status import estate_status
from gateway.errors import ForkFailed
from gateway.influx.lineprotocol import alarm_line
from gateway.influx.linequeue import LineQueue
from gateway.observe.metrics import Metrics
from gateway.pipeline.exporter import Exporter
from gateway.pipeline.forked import in_fork
from gateway.pipeline.inbox import AlarmInbox
from gateway.pipeline.selfstats import stats_lines
from gateway.pipeline.spool import Spool
from gateway.pipeline.status_lines import StatusEncoder
from sensors.columns import DecodedBatch
from sensors.decode import Decoder

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<q")


class AlarmStage:
    def __init__(
        self,
        engine: Engine,
        exporter: Exporter,
        metrics: Metrics,
        snapshot: Path,
        *,
        clock: Callable[[], float],
        listeners: Sequence[Callable[[Transition], None]] = (),
        inbox: AlarmInbox | None = None,
        snapshot_every: float = 30.0,
        status_every: float = 60.0,
        stats_every: float = 10.0,
    ) -> None:
        self.engine = engine
        self.exporter = exporter
        self.metrics = metrics
        self.snapshot_path = snapshot
        self.clock = clock
        self.snapshot_every = snapshot_every
        self.cursor = 0
        self.saved_cursor = 0
        self.status_every = status_every
        self.stats_every = stats_every
        self.lines = LineQueue(exporter, metrics.alarm_outbox_dropped)
        self.status = StatusEncoder(engine.model)
        # State and self-metrics are snapshots: during an outage only the latest few are worth keeping, and
        # they must never crowd alarm transitions out of their queue.
        self.state_lines = LineQueue(
            exporter, metrics.status_lines_dropped, limit=3 * len(engine.model.index) + 50_000
        )
        self._saving = asyncio.Lock()
        self.listeners = tuple(listeners)
        self.inbox = inbox

    # -- restart ----------------------------------------------------------------------------------

    def load(self) -> int | None:
        """Restore the snapshot; the spool id it reflects, or None when starting fresh."""
        try:
            blob = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            return None
        (cursor,) = _HEADER.unpack_from(blob)
        try:
            same = self.engine.restore(memoryview(blob)[_HEADER.size :])
        except Exception:
            log.exception("alert snapshot %s unreadable; rule state starts fresh", self.snapshot_path)
            return None
        if not same:
            log.warning("registry changed since the alert snapshot: per-device rule state starts fresh")
        elif self.engine.fresh_columns:
            fresh = ", ".join(self.engine.fresh_columns)
            log.warning("rule state columns new since the snapshot start fresh: %s", fresh)
        self.cursor = self.saved_cursor = int(cursor)
        return self.cursor

    async def catch_up(self, spool: Spool, decoder: Decoder, through: int, chunk: int = 5000) -> int:
        """Replay spool messages after the snapshot into the engine alone (they are already stored)."""
        replayed = 0
        while self.cursor < through:
            rows = await spool.read(self.cursor, chunk, through)
            if not rows:
                break
            batch = decoder.decode(rows)
            self.offer(rows[0].id, rows[-1].id, batch)
            latest = batch.latest_ts()
            if latest is not None:
                self._emit(self.engine.advance(latest))
            replayed += len(rows)
        return replayed

    # -- live -------------------------------------------------------------------------------------

    def offer(self, first: int, last: int, batch: DecodedBatch) -> None:
        self._emit(self.engine.process(batch))
        self.cursor = last

    def _emit(self, transitions: list[Transition]) -> None:
        for t in transitions:
            self.metrics.alarm_transitions.labels(rule=t.rule, transition=t.transition).inc()
            if t.transition == "raised":
                log.warning(
                    "alarm %s %s %s at %s",
                    t.severity,
                    t.rule,
                    t.subject,
                    t.where.household or t.where.building,
                )
            for listener in self.listeners:
                listener(t)
        self.lines.put(alarm_line(t) for t in transitions)
        self.metrics.alarms_active.set(len(self.engine.lifecycle.alarms))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._tick(), name="alarm-clock")
            if self.inbox is not None:
                tg.create_task(self._answers(self.inbox), name="alarm-inbox")
            tg.create_task(self.lines.run(), name="alarm-store")
            tg.create_task(self._states(), name="estate-state")
            tg.create_task(self.state_lines.run(), name="estate-state-store")

    async def _states(self) -> None:
        """The estate's state every `status_every` seconds and the gateway's metrics every `stats_every`."""
        next_status = next_stats = 0.0
        while True:
            now = self.clock()
            if now >= next_status:
                next_status = now + self.status_every
                self.state_lines.put(await self.estate_lines(now))
            if now >= next_stats:
                next_stats = now + self.stats_every
                self.state_lines.put(stats_lines(self.metrics.registry, now))
            await asyncio.sleep(max(0.05, min(next_status, next_stats) - self.clock()))

    async def estate_lines(self, now: float) -> list[bytes]:
        """The estate's state lines, worked out in a forked child (100-200 ms at 100k devices that the
        alarm path would otherwise wait behind); in place if no child can be made."""
        encoder, engine = self.status, self.engine

        def work() -> bytes:
            return pickle.dumps((encoder.encode(estate_status(engine, now)), encoder.written))

        try:
            lines, written = pickle.loads(await in_fork(work))  # our own child's bytes
        except ForkFailed as exc:
            log.warning("estate state in a child failed (%s); working it out here", exc)
            return encoder.encode(estate_status(engine, now))
        encoder.adopt(written)
        return list(lines)

    async def _tick(self) -> None:
        last_snapshot = self.clock()
        while True:
            await asyncio.sleep(0.5)
            self._emit(self.engine.advance(self.clock()))
            if self.clock() - last_snapshot >= self.snapshot_every and self.cursor != self.saved_cursor:
                await self.save()
                last_snapshot = self.clock()

    async def _answers(self, inbox: AlarmInbox) -> None:
        while True:
            item, done = await inbox.get()
            if isinstance(item, Acknowledgement):
                try:
                    result = await self.acknowledge(item)
                except Exception as exc:  # the caller hears of it; the stage goes on
                    if done is not None and not done.done():
                        done.set_exception(exc)
                    continue
                if done is not None and not done.done():
                    done.set_result(result)
            else:
                self.system(item)

    def system(self, s: Signal) -> list[Transition]:
        """An alarm about the system (SYS-CHANNEL from the notifier): through the same lifecycle and book."""
        transitions = self.engine.system(s)
        self._emit(transitions)
        return transitions

    async def acknowledge(self, ack: Acknowledgement) -> list[Transition]:
        """An acknowledgement from a person (signed link, API): into the engine, and saved at once, since
        the spool cannot replay it after a crash."""
        transitions = self.engine.acknowledge(ack)
        self._emit(transitions)
        if transitions:
            await self.save()
        return transitions

    async def save(self) -> None:
        """The rule state and the spool id it reflects, serialised and written by a forked child, so the
        110-160 ms of serialising 100k detectors' columns never hold the event loop (gateway.pipeline.forked);
        in place, as before, if no child can be made."""
        async with self._saving:  # the clock and an acknowledgement may both save; one file, one writer
            cursor, engine, path = self.cursor, self.engine, self.snapshot_path

            def work() -> bytes:
                _write_atomically(path, _HEADER.pack(cursor), engine.snapshot())
                return b"saved"

            try:
                if await in_fork(work) != b"saved":
                    raise ForkFailed("the child wrote no snapshot")
            except ForkFailed as exc:
                log.warning("rule snapshot in a child failed (%s); writing it here", exc)
                parts = (_HEADER.pack(cursor), engine.snapshot())  # not joined: a 25 MB copy
                await asyncio.to_thread(_write_atomically, path, *parts)
            self.saved_cursor = cursor


def _write_atomically(path: Path, *parts: bytes) -> None:
    """Written aside, then renamed over: a reader sees the old snapshot or the new, never half of one. The
    temporary name is the writer's own (a forked child may outlive a killed gateway by a moment)."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        for part in parts:
            f.write(part)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
