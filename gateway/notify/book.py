"""The deliveries book: every open delivery, what waits on the clock, what must be saved, and the rules
that tie deliveries together (a recipient's next channel, a digest's members).

Every state change goes through `change`: a point in InfluxDB (measurement `notification`), a row in the
outbox at the next flush, and, for a final state, the delivery leaves the book.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable

from gateway.influx.linequeue import LineQueue
from gateway.notify.channels.base import delivery_ref
from gateway.notify.lines import notification_line
from gateway.notify.outbox import Delivery, DeliveryStore
from gateway.observe.metrics import Metrics

OPEN_TO_ARRIVE = ("queued", "standby", "merged", "sent")
FINAL = ("delivered", "failed", "cancelled")


class Book:
    def __init__(self, store: DeliveryStore, lines: LineQueue, metrics: Metrics) -> None:
        self.store = store
        self.lines = lines
        self.metrics = metrics
        self.live: dict[str, Delivery] = {}
        self.by_alarm: dict[str, set[str]] = defaultdict(set)  # alarm -> keys of its open deliveries
        self.groups: dict[tuple[str, str, float, str], list[str]] = defaultdict(list)
        """(alarm, transition, ts, recipient) -> the keys of one person's channels for one transition."""
        self.followers: dict[str, list[str]] = {}  # a digest's carrier -> the deliveries it carries
        self.by_ref: dict[str, str] = {}
        """A provider's reference (`delivery_ref`) -> the delivery's key: receipts name deliveries by it."""
        self.heap: list[tuple[float, int, str, str]] = []
        self.dirty: dict[str, Delivery] = {}
        self._seq = itertools.count()
        self.wake = asyncio.Event()

    # -- in and out -------------------------------------------------------------------------------
    def track(self, d: Delivery) -> None:
        self.live[d.key] = d
        self.by_ref[delivery_ref(d.key)] = d.key
        self.by_alarm[d.alarm_id].add(d.key)
        self.groups[(d.alarm_id, d.transition, d.ts, d.recipient)].append(d.key)
        self.metrics.notify_open.set(len(self.live))

    def _finish(self, d: Delivery) -> None:
        self.live.pop(d.key, None)
        self.by_ref.pop(delivery_ref(d.key), None)
        keys_of_alarm = self.by_alarm.get(d.alarm_id)
        if keys_of_alarm is not None:
            keys_of_alarm.discard(d.key)
            if not keys_of_alarm:
                del self.by_alarm[d.alarm_id]
        group = (d.alarm_id, d.transition, d.ts, d.recipient)
        keys = self.groups.get(group)
        if keys is not None and not any(k in self.live for k in keys):
            del self.groups[group]
        self.metrics.notify_open.set(len(self.live))

    def by_reference(self, ref: str) -> Delivery | None:
        key = self.by_ref.get(ref)
        return None if key is None else self.live.get(key)

    def awaiting(self, channel: str) -> list[Delivery]:
        """Deliveries a channel accepted and whose fate its provider has not told yet."""
        return [d for d in self.live.values() if d.channel == channel and d.state == "sent"]

    def of_alarm(self, alarm_id: str) -> list[Delivery]:
        return [d for k in self.by_alarm.get(alarm_id, ()) if (d := self.live.get(k)) is not None]

    # -- the clock --------------------------------------------------------------------------------
    def schedule(self, at: float, what: str, d: Delivery) -> None:
        heapq.heappush(self.heap, (at, next(self._seq), what, d.key))
        self.wake.set()

    def hold(self, batch: Iterable[Delivery], until: float) -> None:
        for d in batch:
            d.next_at = until
            self.schedule(until, "send", d)

    def due(self, now: float) -> list[tuple[str, Delivery]]:
        out: list[tuple[str, Delivery]] = []
        while self.heap and self.heap[0][0] <= now:
            _, _, what, key = heapq.heappop(self.heap)
            d = self.live.get(key)
            if d is not None:
                out.append((what, d))
        return out

    def next_due(self) -> float | None:
        return self.heap[0][0] if self.heap else None

    # -- state ------------------------------------------------------------------------------------
    def change(
        self, d: Delivery, state: str, now: float, error: str = "", *, paid: bool = False, cap: str = ""
    ) -> None:
        d.state = state  # type: ignore[assignment]
        if error:
            d.error = error[:300]
        self.dirty[d.key] = d
        self.line(d, state, now, paid=paid, cap=cap)
        if state in FINAL:
            self._finish(d)

    def touch(self, d: Delivery) -> None:
        """Saved at the next flush, no state change to record (a retry's time, an acknowledgement)."""
        self.dirty[d.key] = d

    def line(self, d: Delivery, state: str, now: float, *, paid: bool = False, cap: str = "") -> None:
        self.metrics.notifications.labels(channel=d.channel, state=state).inc()
        ts_us = self.lines.unique_us(now)
        self.lines.put([notification_line(d, state, now, ts_us, paid=paid, cap=cap)])

    async def flush(self) -> None:
        """Settled states are saved in batches; a crash before a save resends at most once per delivery."""
        if self.dirty:
            batch, self.dirty = list(self.dirty.values()), {}
            await self.store.save(batch)

    # -- deliveries that go together --------------------------------------------------------------
    def fallback(self, d: Delivery, now: float) -> None:
        """Wake the next standby channel of this recipient for this transition (one per fault)."""
        for key in self.groups.get((d.alarm_id, d.transition, d.ts, d.recipient), []):
            other = self.live.get(key)
            if other is not None and other.state == "standby" and other.rank > d.rank:
                other.next_at = now
                other.state = "queued"
                self.touch(other)
                self.schedule(now, "send", other)
                return

    def carry(self, carrier: Delivery, now: float) -> None:
        """Deliveries merged into a digest share its fate."""
        for key in self.followers.pop(carrier.key, []):
            d = self.live.get(key)
            if d is None:
                continue
            d.sent_at, d.delivered_at, d.failed_at = carrier.sent_at, carrier.delivered_at, carrier.failed_at
            self.change(d, carrier.state if carrier.state != "sent" else "delivered", now)

    def unmerge(self, carrier: Delivery, now: float) -> None:
        """A digest that failed: the deliveries it carried are queued again, each on its own, and each
        wakes its recipient's next channel; the carrier goes back to its own message."""
        for key in self.followers.pop(carrier.key, []):
            d = self.live.get(key)
            if d is None:
                continue
            d.merged_into = None
            d.state = "queued"
            d.next_at = now + 1.0
            self.touch(d)
            self.schedule(d.next_at, "send", d)
            self.fallback(d, now)
        if carrier.message.own is not None:
            carrier.message = carrier.message.own

    def person_open(self, alarm_id: str) -> bool:
        """Whether an alert of this alarm to a person may still arrive (queued, on standby, or merged)."""
        return any(
            o.kind == "alert" and o.audience != "-" and o.state in OPEN_TO_ARRIVE
            for o in self.of_alarm(alarm_id)
        )
