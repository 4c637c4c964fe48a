"""MQTT to spool: commit first, acknowledge after.

The MQTT protocol hands every socket read's messages to `deliver`, which only appends to a list. The commit
loop takes whatever has accumulated while the previous commit ran (natural batching: the busier, the bigger
the batch), commits it in one transaction, then sends all PUBACKs in one write. The list is bounded by the
session's Receive Maximum: the broker cannot send more unacknowledged messages than that, so under overload
the broker holds the backlog and nothing is dropped.

A broker redelivers a message whose PUBACK it did not see (gateway crash between commit and PUBACK, a link
drop). Such a message is already in the spool; a short memory of recent (topic, payload) digests, seeded from
the spool tail at start, recognises it so it is acknowledged without being stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gateway.metrics import Metrics
from gateway.mqtt import MqttSession, Publish
from gateway.spool import Spool
from sensors.decode import RawMessage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Arrival:
    recv: float
    generation: int
    publishes: list[Publish]


class RecentDigests:
    """Membership of the last `size` (topic, payload) pairs committed."""

    def __init__(self, size: int) -> None:
        self._order: deque[int] = deque()
        self._counts: dict[int, int] = {}
        self.size = size

    def add(self, topic: str, payload: bytes) -> None:
        digest = hash((topic, payload))
        self._order.append(digest)
        self._counts[digest] = self._counts.get(digest, 0) + 1
        if len(self._order) > self.size:
            old = self._order.popleft()
            n = self._counts[old] - 1
            if n:
                self._counts[old] = n
            else:
                del self._counts[old]

    def __contains__(self, item: tuple[str, bytes]) -> bool:
        return hash(item) in self._counts


class Ingest:
    def __init__(
        self,
        spool: Spool,
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        on_commit: Callable[[list[RawMessage]], None],
        redelivery_memory: int = 65536,
    ) -> None:
        self.spool = spool
        self.metrics = metrics
        self.clock = clock
        self.on_commit = on_commit
        self.session: MqttSession | None = None
        self._pending: list[_Arrival] = []
        self._wakeup = asyncio.Event()
        self.recent = RecentDigests(redelivery_memory)
        self._last_recv = 0.0

    async def seed(self) -> None:
        """Remember the spool's last messages so redeliveries after a crash are recognised."""
        for msg in await self.spool.tail(self.recent.size):
            self.recent.add(msg.topic, msg.payload)
            self._last_recv = max(self._last_recv, msg.recv)

    def deliver(self, publishes: list[Publish], generation: int) -> None:
        """Called by the MQTT protocol for each socket read: O(1), never blocks."""
        self._pending.append(_Arrival(self.clock(), generation, publishes))
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
        recent = self.recent
        redelivered = 0
        received = 0
        for arrival in arrivals:
            ids = acks.setdefault(arrival.generation, [])
            # Receive times are unique and increasing, 1 µs apart within one socket read: a reading without
            # device time is stored at its receive time, and two readings must never share a timestamp.
            recv = max(arrival.recv, self._last_recv + 1e-6)
            for p in arrival.publishes:
                received += 1
                if p.qos:
                    ids.append(p.packet_id)
                if p.dup and (p.topic, p.payload) in recent:
                    redelivered += 1
                    continue
                rows.append(RawMessage(next_id, recv, p.topic, p.payload))
                next_id += 1
                recent.add(p.topic, p.payload)
                recv += 1e-6
            self._last_recv = recv - 1e-6
        if rows:
            started = asyncio.get_running_loop().time()
            await self.spool.append(rows)
            self.metrics.spool_commit_seconds.observe(asyncio.get_running_loop().time() - started)
            self.metrics.spool_commits.inc()
            self.on_commit(rows)
        if self.session is not None:
            for generation, packet_ids in acks.items():
                self.session.ack(packet_ids, generation)
        self.metrics.received.inc(received)
        if redelivered:
            self.metrics.redelivered.inc(redelivered)
