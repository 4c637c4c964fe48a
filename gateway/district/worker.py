"""One partition on its owner: the stream from the snapshot's sequence, through the live decode and rule
code, into the time-series store, with the rule state kept every `snapshot_seconds`.

Nothing here acknowledges to JetStream: the stream keeps messages by age and the replay position is the
snapshot, written only after everything up to its sequence is in the store (the spool's guarantee on one
box: a message leaves the log's care only once it is stored and its effect on the rules is kept). A new
owner restores the snapshot and replays the rest; what the old owner had already written is written again
onto the same points (a point's identity is its device, time and seq: docs/storage.md), so nothing is
stored twice, and alarm ids are a function of site, rule, subject and event time, so a replayed alarm is
the same alarm.

A message's receive time is the stream's own timestamp, not this machine's clock, so a device without a
clock gets the same time on every replay.

Every write is fenced: nothing is written once the lease's local deadline has passed, and the renewal
that would revive it is refused by revision.

With the district's store on PostgreSQL, the engine's transitions also go to the partition's alarm book and
notifier (`gateway.district.notifying`), and a batch counts as done only once its alarms are in the book and
their deliveries in the outbox: a snapshot never moves past an alarm whose notifications are not kept.
Acknowledgements come through the stream too (`gateway.district.acks`), applied between the readings they
came among.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ObjectInfo, ObjectMeta
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from alerts.engine import Engine
from alerts.signals import Acknowledgement, Transition
from gateway.config.settings import duration_seconds
from gateway.district.acks import is_ack, read_ack
from gateway.district.lease import Lease, key_of
from gateway.district.notifying import NotifyParts, PartitionAlerting, partition_alerting
from gateway.district.outbox import Fence
from gateway.district.partitions import stream_name, topic_of
from gateway.district.streams import REJECTED_SUBJECT
from gateway.errors import LeaseLost, StorageConfigError, StorageUnavailable
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import PointEncoder, alarm_line
from gateway.influx.policies import policy_of
from gateway.influx.refusals import beyond_retention, write_or_refuse
from gateway.notify.directory import Directory
from sensors.columns import RawMessage
from sensors.decode import Decoder

log = logging.getLogger(__name__)

FETCH = 2000
"""Messages per pull: one decode, one rules pass and one store write each."""
BACKOFF_MAX = 10.0
IDLE_CHECK = 20
"""Empty fetches (of 0.5 s) after which the worker asks whether its consumer still exists."""
TRIM_SECONDS = 600.0
"""How often a partition forgets its finished deliveries older than `notify.keep_days`."""

_HEADER = struct.Struct(">Q")


@dataclass(slots=True)
class Progress:
    """What `guardian cluster status` reads of a running partition."""

    seq: int = 0
    """The last stream sequence processed and stored."""
    snapshot_seq: int = 0
    snapshot_at: float = 0.0
    stored: int = 0
    discarded: int = 0
    refused: int = 0
    """Points the store would not keep, kept in `GUARDIAN_REJECTED` with the reason."""
    """Batches dropped because the lease ran out while they were being made."""
    acknowledged: int = 0
    """Acknowledgements read from the stream and applied."""
    bad_acks: int = 0
    """Messages on an acknowledgement subject that held none (skipped)."""
    started: float = field(default_factory=time.time)


SEQ_HEADER = "Guardian-Seq"
"""The stream sequence a snapshot reflects, also in the object's metadata, so `guardian cluster status` reads
it with one direct get instead of downloading the object (which creates a consumer each time)."""


def snapshot_seq(meta: ObjectInfo) -> int | None:
    """The sequence in a snapshot's metadata (headers as NATS writes them: name -> list of values)."""
    values = (meta.headers or {}).get(SEQ_HEADER)
    if not values:
        return None
    value = values[0] if isinstance(values, list) else values
    return int(value) if str(value).isdigit() else None


async def load_snapshot(state: ObjectStore, partition: int) -> tuple[int, bytes] | None:
    try:
        got = await state.get(key_of(partition))
    except NotFoundError:
        return None
    data = got.data or b""
    if len(data) < _HEADER.size:
        return None
    return _HEADER.unpack_from(data)[0], data[_HEADER.size :]


class PartitionWorker:
    def __init__(
        self,
        partition: int,
        lease: Lease,
        *,
        js: JetStreamContext,
        state: ObjectStore,
        engine: Engine,
        decoder: Decoder,
        encoder: PointEncoder,
        influx: InfluxV1,
        snapshot_seconds: float,
        clock: Callable[[], float] = time.time,
        notify: NotifyParts | None = None,
        directory: Directory | None = None,
        sites: list[str] | None = None,
    ) -> None:
        """`notify`, `directory`, `sites`: the instance's notifier parts, and this partition's people and
        sites; without them alarms are stored as points only and nobody is notified."""
        self.partition = partition
        self.lease = lease
        self.js = js
        self.state = state
        self.engine = engine
        self.decoder = decoder
        self.encoder = encoder
        self.influx = influx
        self.snapshot_seconds = snapshot_seconds
        self.clock = clock
        self.progress = Progress()
        settings = influx.settings
        self.retention_s = (
            duration_seconds(settings.vm_retention) if settings.kind == "victoriametrics" else float("inf")
        )
        self._dirty = False
        """True while a batch is between the rules and the store: the engine is then ahead of
        `progress.seq`, and a snapshot taken now would make the next owner count that batch twice."""
        self.alerting: PartitionAlerting | None = None
        if notify is not None and directory is not None:
            self.alerting = partition_alerting(
                notify,
                partition,
                sites or [],
                directory,
                Fence(notify.store, lease),
                self,
                clock=clock,
                acknowledge=self._acknowledge,
                live_alarms=lambda: list(engine.lifecycle.alarms.values()),
            )
        self._book_task: asyncio.Task[None] | None = None
        """The alarm book's, once the replay caught up; until then transitions wait in its queue."""
        self._acked: list[Transition] = []
        """Transitions of the acknowledgements applied in the batch being made."""

    async def run(self) -> None:
        stream = stream_name(self.partition)
        kept = await load_snapshot(self.state, self.partition)
        after = 0
        if kept is not None and self.engine.restore(kept[1]):
            after = kept[0]
        elif kept is not None:
            log.warning(
                "partition %d: snapshot does not fit the registry; replaying the whole stream", self.partition
            )
        self.progress.seq = self.progress.snapshot_seq = after
        log.info("partition %d: resuming after sequence %d", self.partition, after)
        if self.alerting is not None:
            # the store's fence moves to this owner first: from here a stale owner's writes are refused
            await self.alerting.fence.confirm()
            resumed = await self.alerting.notifier.load()
            log.info("partition %d: %d open deliveries taken on", self.partition, resumed)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
            opt_start_seq=after + 1 if after else None,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            max_waiting=4,
        )
        info = await self.js.add_consumer(stream, config)
        sub = await self.js.pull_subscribe_bind(info.name, stream)
        try:
            if self.alerting is None:
                await self._consume(sub)
                return
            try:
                async with asyncio.TaskGroup() as tg:
                    name = f"partition-{self.partition:02d}"
                    tg.create_task(self.alerting.notifier.run(), name=f"{name}-notifier")
                    replay_to = (await self.js.stream_info(stream)).state.last_seq
                    tg.create_task(self._consume(sub, tg, replay_to), name=f"{name}-stream")
            except BaseExceptionGroup as group:
                raise _first(group) from None
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone already
                await sub.unsubscribe()

    async def _consume(self, sub, tg: asyncio.TaskGroup | None = None, replay_to: int = 0) -> None:  # type: ignore[no-untyped-def]
        """`tg`: where the alarm book starts once the replay has caught up with the stream as it was at
        the claim (`replay_to`): its first step copies the engine's open alarms in and closes those it
        no longer has, which must not happen with the engine still at the snapshot's state."""
        last_snapshot = last_trim = time.monotonic()
        idle = 0
        while True:
            try:
                msgs = await sub.fetch(FETCH, timeout=0.5)
                idle = 0
            except (TimeoutError, NatsTimeout):  # nats-py raises either when nothing came
                msgs = []
                idle += 1
                if idle % IDLE_CHECK == 0:
                    # quiet, or is the consumer gone (an R1 consumer on a node that died)? A missing
                    # consumer raises here, the worker stops and the partition is claimed afresh
                    await sub.consumer_info()
            await self._batch(msgs)
            caught_up = self.progress.seq >= replay_to or not msgs
            if tg is not None and self.alerting is not None and self._book_task is None and caught_up:
                self._book_task = tg.create_task(
                    self.alerting.book.run(), name=f"partition-{self.partition:02d}-alarm-book"
                )
            if time.monotonic() - last_snapshot >= self.snapshot_seconds:
                await self.snapshot()
                last_snapshot = time.monotonic()
            if self.alerting is not None and time.monotonic() - last_trim >= TRIM_SECONDS:
                keep = self.alerting.notifier.settings.keep_days * 86400
                await self.alerting.outbox.trim(self.clock() - keep)
                last_trim = time.monotonic()

    async def _batch(self, msgs: list) -> None:  # type: ignore[type-arg]
        """Readings through the rules in runs, an acknowledgement applied where it stands between them."""
        transitions: list[Transition] = []
        lines: list[bytes] = []
        msg_ids: list[int] = []
        rows: list[RawMessage] = []
        stored = 0
        self._dirty = True

        def readings() -> None:
            nonlocal stored
            if not rows:
                return
            batch = self.decoder.decode(rows)
            transitions.extend(self.engine.process(batch))
            encoded = self.encoder.encode(batch)
            lines.extend(encoded.lines)
            msg_ids.extend(encoded.msg_ids)
            rejections.extend(batch.rejections)
            stored += len(rows)
            rows.clear()

        rejections: list = []  # type: ignore[type-arg]
        for m in msgs:
            meta = m.metadata
            if is_ack(m.subject):
                readings()
                transitions += await self._stream_ack(m.data, meta.sequence.stream)
                continue
            recv = int(meta.timestamp.timestamp() * 1e6) if meta.timestamp is not None else 0
            rows.append(RawMessage(meta.sequence.stream, recv, topic_of(m.subject), m.data))
        readings()
        if rejections:
            await self._reject(rejections)
        transitions += self.engine.advance(self.clock())
        last = msgs[-1].metadata.sequence.stream if msgs else self.progress.seq
        alarms = [alarm_line(t) for t in transitions]
        lines += alarms
        msg_ids += [last] * len(alarms)
        await self.write(lines, msg_ids)
        if self.alerting is not None and transitions:
            for t in transitions:
                self.alerting.book.offer(t)
                self.alerting.notifier.offer(t)
            await self.alerting.notifier.planned()  # their deliveries in the outbox, then the batch is done
            if self._book_task is not None:
                await self.alerting.book.drained()
        self.progress.seq = last
        self.progress.stored += stored
        self._dirty = False

    async def write(self, lines: list[bytes], msg_ids: list[int]) -> None:
        """Points into the time-series store by retention policy (also the notifier's `LineWriter`)."""
        raw = self.influx.settings.retention_policy
        by_policy: dict[str, tuple[list[bytes], list[int]]] = {}
        for line, mid in zip(lines, msg_ids, strict=True):
            group = by_policy.setdefault(policy_of(line, raw), ([], []))
            group[0].append(line)
            group[1].append(mid)
        for rp, (its, ids) in by_policy.items():
            await self._store(its, ids, rp)

    async def _stream_ack(self, data: bytes, seq: int) -> list[Transition]:
        """An acknowledgement from the stream, at the time it carries (a replay acknowledges alike)."""
        ack = read_ack(data)
        if ack is None or ack.alarm_id is None:
            self.progress.bad_acks += 1
            log.warning(
                "partition %d: message %d on an acknowledgement subject holds none", self.partition, seq
            )
            return []
        self.progress.acknowledged += 1
        self._acked = []
        if self.alerting is not None:  # the notifier's part too: standby deliveries cancelled, acks stamped
            await self.alerting.notifier.acknowledge(ack.alarm_id, ack.by, ack.ts)
        else:
            await self._acknowledge(ack)
        out, self._acked = self._acked, []
        return out

    async def _acknowledge(self, ack: Acknowledgement) -> list[Transition]:
        """The notifier's way into the engine: the transitions join the batch being made."""
        out = self.engine.acknowledge(ack)
        self._acked += out
        return out

    def _fence(self) -> None:
        if not self.lease.valid():
            self.progress.discarded += 1
            raise LeaseLost(f"partition {self.partition}: lease expired; output discarded")

    async def _store(self, lines: list[bytes], msg_ids: list[int], rp: str) -> None:
        """Into the store, or into `GUARDIAN_REJECTED` with the reason: a point VictoriaMetrics would drop
        for its age, a line the store refuses (halved until it stands alone, as on one box). The partition
        goes on either way; only an unreachable store holds it (and the stream keeps what waits)."""
        name = self.influx.name
        lines, msg_ids, old = beyond_retention(
            lines, msg_ids, now=self.clock(), retention_s=self.retention_s, edge=f"{name}'s retention"
        )
        refused = old
        if lines:
            write = functools.partial(self._write, rp=rp)
            refused += await write_or_refuse(lines, msg_ids, write, now=self.clock(), store=name)
        if refused:
            log.warning(
                "partition %d: %d point(s) not stored: %s", self.partition, len(refused), refused[0].detail
            )
            self.progress.refused += len(refused)
            await self._reject(refused)

    async def _write(self, lines: list[bytes], rp: str) -> None:
        """Retried with capped, jittered backoff while the store is unreachable or misconfigured; a data
        refusal (400/413) is raised for `write_or_refuse` to split."""
        delay = 0.2
        body = b"\n".join(lines)
        while True:
            self._fence()
            try:
                await self.influx.write(body, rp=rp)
                return
            except (StorageUnavailable, StorageConfigError) as exc:
                log.warning("partition %d: store write failed (%s); retrying", self.partition, exc)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, BACKOFF_MAX)

    async def _reject(self, rejections: list) -> None:  # type: ignore[type-arg]
        stream = stream_name(self.partition)
        for r in rejections:
            self._fence()
            headers = {
                # the payload's digest tells apart several lines refused from one message (a concentrator's
                # batch, the alarms of one batch), and is the same when a new owner replays them
                "Nats-Msg-Id": f"{stream}:{r.msg_id}:{r.item}:{zlib.crc32(r.payload):08x}",
                "Guardian-Reason": r.reason.value,
                "Guardian-Detail": r.detail[:200],
                "Guardian-Topic": r.topic[:200],
            }
            await self.js.publish(f"{REJECTED_SUBJECT}.{self.partition}", r.payload, headers=headers)

    async def snapshot(self) -> bool:
        """The rule state as of `progress.seq` (everything up to it is stored), if still ours; False (and
        nothing kept: the next owner replays from the previous snapshot) if stopped mid-batch."""
        if self._dirty:
            log.info("partition %d: stopped mid-batch; the last snapshot stands", self.partition)
            return False
        if self.alerting is not None and self._book_task is None:
            return False  # still replaying: the book has not taken what was replayed yet
        if self.alerting is not None and self.lease.valid():
            await self.alerting.notifier.flush()  # what was sent is saved so: the next owner sends it not
        blob = _HEADER.pack(self.progress.seq) + self.engine.snapshot()
        self._fence()
        key = key_of(self.partition)
        meta = ObjectMeta(name=key, headers={SEQ_HEADER: [str(self.progress.seq)]})
        await self.state.put(key, blob, meta=meta)
        self.progress.snapshot_seq = self.progress.seq
        self.progress.snapshot_at = time.time()
        return True


def _first(group: BaseExceptionGroup) -> BaseException:
    """What ended a partition's tasks: a lost lease if that was among the causes, else the first cause."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup) -> None:
        for e in g.exceptions:
            if isinstance(e, BaseExceptionGroup):
                walk(e)
            else:
                leaves.append(e)

    walk(group)
    return next((e for e in leaves if isinstance(e, LeaseLost)), leaves[0])
