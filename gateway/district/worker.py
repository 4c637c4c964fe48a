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
from gateway.config.settings import duration_seconds
from gateway.district.lease import Lease, key_of
from gateway.district.partitions import stream_name, topic_of
from gateway.district.streams import REJECTED_SUBJECT
from gateway.errors import LeaseLost, StorageConfigError, StorageUnavailable
from gateway.influx.client import InfluxV1
from gateway.influx.lineprotocol import PointEncoder, alarm_line
from gateway.influx.policies import policy_of
from gateway.influx.refusals import beyond_retention, write_or_refuse
from sensors.columns import RawMessage
from sensors.decode import Decoder

log = logging.getLogger(__name__)

FETCH = 2000
"""Messages per pull: one decode, one rules pass and one store write each."""
BACKOFF_MAX = 10.0
IDLE_CHECK = 20
"""Empty fetches (of 0.5 s) after which the worker asks whether its consumer still exists."""

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
    ) -> None:
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
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
            opt_start_seq=after + 1 if after else None,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            max_waiting=4,
        )
        info = await self.js.add_consumer(stream, config)
        sub = await self.js.pull_subscribe_bind(info.name, stream)
        last_snapshot = time.monotonic()
        idle = 0
        try:
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
                if time.monotonic() - last_snapshot >= self.snapshot_seconds:
                    await self.snapshot()
                    last_snapshot = time.monotonic()
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone already
                await sub.unsubscribe()

    async def _batch(self, msgs: list) -> None:  # type: ignore[type-arg]
        rows = []
        for m in msgs:
            meta = m.metadata
            recv = int(meta.timestamp.timestamp() * 1e6) if meta.timestamp is not None else 0
            rows.append(RawMessage(meta.sequence.stream, recv, topic_of(m.subject), m.data))
        transitions = []
        lines: list[bytes] = []
        msg_ids: list[int] = []
        self._dirty = True
        if rows:
            batch = self.decoder.decode(rows)
            transitions += self.engine.process(batch)
            encoded = self.encoder.encode(batch)
            lines += encoded.lines
            msg_ids += encoded.msg_ids
            if batch.rejections:
                await self._reject(batch.rejections)
        transitions += self.engine.advance(self.clock())
        alarms = [alarm_line(t) for t in transitions]
        lines += alarms
        msg_ids += [rows[-1].id if rows else self.progress.seq] * len(alarms)
        raw = self.influx.settings.retention_policy
        by_policy: dict[str, tuple[list[bytes], list[int]]] = {}
        for line, mid in zip(lines, msg_ids, strict=True):
            group = by_policy.setdefault(policy_of(line, raw), ([], []))
            group[0].append(line)
            group[1].append(mid)
        for rp, (its, ids) in by_policy.items():
            await self._store(its, ids, rp)
        if rows:
            self.progress.seq = rows[-1].id
            self.progress.stored += len(rows)
        self._dirty = False

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
        blob = _HEADER.pack(self.progress.seq) + self.engine.snapshot()
        self._fence()
        key = key_of(self.partition)
        meta = ObjectMeta(name=key, headers={SEQ_HEADER: [str(self.progress.seq)]})
        await self.state.put(key, blob, meta=meta)
        self.progress.snapshot_seq = self.progress.seq
        self.progress.snapshot_at = time.time()
        return True
