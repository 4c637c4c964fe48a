"""MQTT to spool: commit first, acknowledge after.

The MQTT protocol hands every socket read's messages to `deliver`, which only appends to a list. The commit
loop takes whatever has accumulated while the previous commit ran (natural batching: the busier, the bigger
the batch), commits it in one transaction, then sends all PUBACKs in one write. The list is bounded by the
session's Receive Maximum: the broker cannot send more unacknowledged messages than that, so under overload
the broker holds the backlog and nothing is dropped.

A device far above its normal rate is throttled here, before the spool (sensors/flood.py), so every later
stage sees the same messages and a flood cannot fill the disk; its messages over the limit are acknowledged,
counted as `rate_limited`, and one per device and commit is quarantined.

A broker redelivers a message whose PUBACK it did not see (gateway crash between commit and PUBACK, a link
drop). Such a message is already in the spool; a short memory of recent (topic, payload) digests, seeded from
the spool tail at start, recognises it so it is acknowledged without being stored twice. A device that
retries its own publish reaches us as a new message (the broker's DUP flag is per hop), so a telemetry or
event payload seen again within `redelivery_window` is the same message too: it carries the same `seq`.
A status without `seq` repeats on purpose (a heartbeat) and is only a redelivery when flagged so.

A commit that fails (the spool's disk is full, its file unwritable) is retried, same rows and ids, until it
succeeds: nothing is acknowledged meanwhile, so the broker keeps the messages for our persistent session and
sends no more than Receive Maximum; `guardian_spool_write_failing` is 1 while it lasts.

Receive times are integer microseconds, unique and increasing across commits and restarts: what a message
without device time is filed under must never be shared with another.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
from prometheus_client import Gauge

from gateway.errors import SpoolError
from gateway.mqtt import MqttSession, Publish
from gateway.observe.metrics import Metrics
from gateway.pipeline.spool import Spool
from sensors.columns import I32, Bool, RawMessage, Rejection, rejection
from sensors.flood import FloodGuard, is_alarm_event
from sensors.index import DeviceIndex
from sensors.rejections import Reason

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Arrival:
    recv_us: int
    generation: int
    publishes: list[Publish]


class RecentDigests:
    """The last `size` distinct (topic, payload) pairs committed, each with when it was last received (µs).

    One ordered dict, oldest first: a pair seen again moves to the end. The ingest hashes a pair once and
    asks and records by that digest: two C calls a message, where a deque beside two dicts of counts took
    eight and hashed the pair twice."""

    def __init__(self, size: int) -> None:
        self._last: OrderedDict[int, int] = OrderedDict()
        self.size = size

    def seen(self, digest: int) -> int | None:
        """When a pair with this digest was last committed, or None."""
        return self._last.get(digest)

    def note(self, digest: int, recv_us: int) -> None:
        last = self._last
        if digest in last:
            last.move_to_end(digest)
        last[digest] = recv_us
        if len(last) > self.size:
            last.popitem(last=False)

    def add(self, topic: str, payload: bytes, recv_us: int = 0) -> None:
        self.note(hash((topic, payload)), recv_us)

    def __contains__(self, item: tuple[str, bytes]) -> bool:
        return hash(item) in self._last

    def __len__(self) -> int:
        return len(self._last)

    def received_at(self, topic: str, payload: bytes) -> int | None:
        return self._last.get(hash((topic, payload)))


class Ingest:
    def __init__(
        self,
        spool: Spool,
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        on_commit: Callable[[list[RawMessage]], None],
        redelivery_memory: int = 65536,
        redelivery_window: float = 600.0,
        flood: tuple[DeviceIndex, FloodGuard] | None = None,
        session: MqttSession | None = None,
    ) -> None:
        """`session`: where PUBACKs go once a batch is committed (None in tests that feed `deliver`)."""
        self.flood = flood
        self._warned: dict[int, float] = {}
        self.spool = spool
        self.metrics = metrics
        self.clock = clock
        self.on_commit = on_commit
        self.session = session
        self._pending: list[_Arrival] = []
        self._wakeup = asyncio.Event()
        self.recent = RecentDigests(redelivery_memory)
        self.window_us = round(redelivery_window * 1e6)
        self._last_recv = 0
        self.fault: str | None = None
        """Why the last spool write failed, while it is being retried; None once writes succeed."""
        self._failing = Gauge(
            "guardian_spool_write_failing",
            "1 while spool commits fail (disk full): nothing is acknowledged, the broker holds the messages",
            registry=metrics.registry,
        )
        self.retry_initial = 0.2
        self.retry_max = 5.0

    async def _durably(self, write: Callable[[], Awaitable[None]]) -> None:
        """Run a spool write until it succeeds. The rows, their ids and the digests already taken stay as
        they are: giving up would lose the messages, and starting the commit over would see them as
        redeliveries of themselves."""
        delay = self.retry_initial
        while True:
            try:
                await write()
            except SpoolError as exc:
                if self.fault is None:
                    log.error("spool write failed, holding acknowledgements and retrying: %s", exc)
                self.fault = str(exc)
                self._failing.set(1)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if self.fault is not None:
                log.warning("spool writes succeed again after: %s", self.fault)
                self.fault = None
                self._failing.set(0)
            return

    async def seed(self) -> None:
        """Remember the spool's last messages so redeliveries after a crash are recognised."""
        for msg in await self.spool.tail(self.recent.size):
            self.recent.add(msg.topic, msg.payload, msg.recv)
            self._last_recv = max(self._last_recv, msg.recv)
        self._last_recv = max(self._last_recv, await self.spool.last_recv())

    def deliver(self, publishes: list[Publish], generation: int) -> None:
        """Called by the MQTT protocol for each socket read: O(1), never blocks."""
        self._pending.append(_Arrival(int(self.clock() * 1e6), generation, publishes))
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            arrivals, self._pending = self._pending, []
            if arrivals:
                await self._commit(arrivals)

    async def _commit(self, arrivals: list[_Arrival]) -> None:
        rows: list[RawMessage] = []
        next_id = self.spool.next_id
        acks: dict[int, list[int]] = {}
        seen_at, note = self.recent.seen, self.recent.note
        new_row = tuple.__new__  # RawMessage(...) goes through a generated __new__: 0.2 µs a message more
        redelivered = 0
        received = 0
        # for the flood guard, found in the same pass: each row's device (-1: unknown or a concentrator's
        # batch, left to the decoder) and whether it is a detector's own alarm
        by_topic = self.flood[0].by_topic if self.flood is not None else None
        devices: list[int] = []
        alarms: list[bool] = []
        window = self.window_us
        for arrival in arrivals:
            ids = acks.setdefault(arrival.generation, [])
            # Receive times are unique and increasing, 1 µs apart within one socket read: a reading without
            # device time is stored at its receive time, and two readings must never share a timestamp.
            recv = max(arrival.recv_us, self._last_recv + 1)
            for p in arrival.publishes:
                received += 1
                if p.qos:
                    ids.append(p.packet_id)
                digest = hash((p.topic, p.payload))
                seen = seen_at(digest)
                if seen is not None and (
                    p.dup or (recv - seen <= window and not p.topic.endswith("/status"))
                ):
                    redelivered += 1
                    continue
                rows.append(new_row(RawMessage, (next_id, recv, p.topic, p.payload)))
                next_id += 1
                note(digest, recv)
                recv += 1
                if by_topic is not None:
                    prefix, _, leaf = p.topic.rpartition("/")
                    device = by_topic(prefix)
                    devices.append(-1 if device is None else device)
                    alarms.append(leaf == "event" and is_alarm_event(p.topic, p.payload))
            self._last_recv = recv - 1
        if by_topic is not None and rows:
            rows = await self._throttle(rows, np.array(devices, np.int32), np.array(alarms, np.bool_))
        if rows:
            started = asyncio.get_running_loop().time()
            await self._durably(lambda: self.spool.append(rows))
            self.metrics.spool_commit_seconds.observe(asyncio.get_running_loop().time() - started)
            self.metrics.spool_commits.inc()
            self.on_commit(rows)
        if self.session is not None:
            for generation, packet_ids in acks.items():
                self.session.ack(packet_ids, generation)
        self.metrics.received.inc(received)
        if redelivered:
            self.metrics.redelivered.inc(redelivered)

    async def _throttle(self, rows: list[RawMessage], devices: I32, exempt: Bool) -> list[RawMessage]:
        """Drop messages over their device's rate; renumber the rest so spool ids stay contiguous."""
        assert self.flood is not None
        guard = self.flood[1]
        known = devices >= 0
        now = rows[-1].recv / 1e6
        allowed = np.ones(len(rows), dtype=np.bool_)
        allowed[known] = guard.admit(devices[known], now, exempt[known])
        if allowed.all():
            return rows
        self.metrics.devices_flooding.set(guard.flooding(now))
        first_id = rows[0].id
        passed = [r for r, ok in zip(rows, allowed.tolist(), strict=True) if ok]
        kept = [RawMessage(first_id + i, r.recv, r.topic, r.payload) for i, r in enumerate(passed)]
        sample = self._sample(rows, devices, allowed, first_id + len(kept), now)
        await self._durably(lambda: self.spool.quarantine(sample))
        return kept

    def _sample(
        self, rows: list[RawMessage], devices: I32, allowed: Bool, next_id: int, now: float
    ) -> list[Rejection]:
        """The first dropped message of each device, kept under a negative id (it never had a spool id):
        minus the id of the next stored message, item = the device's index. A warning per device a minute."""
        assert self.flood is not None
        index, guard = self.flood
        dropped = np.flatnonzero(~allowed)
        self.metrics.rejected.labels(reason=Reason.RATE_LIMITED.value).inc(len(dropped))
        lost, first, counts = np.unique(devices[dropped], return_index=True, return_counts=True)
        limit = f"{guard.rate:g}/s after a burst of {guard.burst:g}"
        sample: list[Rejection] = []
        for device, at, count in zip(lost.tolist(), dropped[first].tolist(), counts.tolist(), strict=True):
            row = rows[at]
            detail = f"{count} messages dropped in one commit, over {limit}"
            unstored = RawMessage(-next_id, row.recv, row.topic, row.payload)
            sample.append(rejection(unstored, Reason.RATE_LIMITED, detail, device))
            if now - self._warned.get(device, -1e18) >= 60.0:
                self._warned[device] = now
                log.warning(
                    "device %s of site %s is flooding: %d messages dropped (limit %s)",
                    index.ids[device],
                    index.site[device],
                    count,
                    limit,
                )
        return sample
