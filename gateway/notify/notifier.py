"""From alarm transition to proof of delivery: the notifier is the planner, the pacing, the sender and the
deliveries book put together, plus what comes back from people (receipts, acknowledgements, phones).

    offer ─▶ pending ─▶ Planner.plan ─▶ outbox (committed) ─▶ Book ─▶ Sender (paced by Pacing) ─▶ channels

Planning runs in its own task behind a bounded queue of transitions (`PENDING_LIMIT`: beyond it the
processor waits, so nothing planned is dropped). Every state change is a point in InfluxDB (measurement
`notification`) and a row in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from alerts.signals import Acknowledgement, Signal, Transition, Where
from gateway.config.settings import NotifySettings
from gateway.influx.linequeue import LineQueue
from gateway.notify import order_notices
from gateway.notify.book import Book
from gateway.notify.channels import Channel, Receipt
from gateway.notify.costs import SiteCaps
from gateway.notify.directory import Directory
from gateway.notify.face import personal_channels
from gateway.notify.masking import masked_address
from gateway.notify.order_notices import Notice
from gateway.notify.outbox import Delivery, DeliveryStore
from gateway.notify.pacing import Pacing
from gateway.notify.planner import Planner
from gateway.notify.preferences import Preferences
from gateway.notify.reach import Reach
from gateway.notify.sender import Circuit, Sender, SendFence
from gateway.notify.shortlinks import ShortLinks
from gateway.notify.subscriptions import Subscriptions
from gateway.observe.metrics import Metrics
from gateway.subscription import Subscription
from gateway.tokens import Signer

log = logging.getLogger(__name__)

PENDING_LIMIT = 100_000
"""Transitions waiting to be planned. Beyond this the processor waits (`room`) and the spool holds the
readings behind: a planned notification is never dropped."""
DECIDED = ("raised", "escalated", "updated")


class Notifier:
    def __init__(
        self,
        directory: Directory,
        store: DeliveryStore,
        channels: dict[str, Channel],
        signer: Signer,
        settings: NotifySettings,
        lines: LineQueue,
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        acknowledge: Callable[[Acknowledgement], Awaitable[list[Transition]]],
        subscriptions: Subscriptions,
        report: Callable[[Signal], Any] | None = None,
        short_links: ShortLinks | None = None,
        preferences: Preferences | None = None,
        fence: SendFence | None = None,
    ) -> None:
        """`fence`: asked before sending (a district partition's lease); None on one box."""
        self.store = store
        self.preferences = Preferences() if preferences is None else preferences
        """People's own channel order, language, quiet hours and opt-outs, held in memory."""
        self.short_links = short_links
        """The codes behind `/s/{code}` in SMS (None: SMS carry the gateway's address instead)."""
        self.channels = channels
        self.signer = signer
        self.settings = settings
        self.lines = lines
        self.metrics = metrics
        self.clock = clock
        self.subscriptions = subscriptions
        self._acknowledge = acknowledge
        self.reach = Reach(report)
        self.book = Book(store, lines, metrics)
        self.pacing = Pacing(self.book, channels, settings)
        self.planner = Planner(
            directory, channels, signer, settings, self.reach, self.book, self.preferences, metrics
        )
        self.caps = SiteCaps(channels, settings, directory.timezone, metrics, clock=self._now)
        self.sender = Sender(
            self.book,
            self.pacing,
            channels,
            settings,
            self.reach,
            metrics,
            self.caps,
            clock=self._now,
            report=report,
            fence=fence,
        )
        self.pending: deque[tuple[Transition, float]] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self._planning = asyncio.Event()
        self._offered = 0
        self._planned = 0
        self._progress = asyncio.Condition()

    def _now(self) -> float:
        """The parts read the clock the notifier has now (a test may set `clock` after construction)."""
        return self.clock()

    @property
    def live(self) -> dict[str, Delivery]:
        return self.book.live

    @property
    def circuits(self) -> dict[str, Circuit]:
        return self.sender.circuits

    @property
    def subscribe_key(self) -> str | None:
        """The key phones subscribe with, if a channel people enrol a device on is configured."""
        return next((c.subscribe_key for c in self.channels.values() if c.subscribe_key), None)

    def personal_channels(self) -> list[str]:
        return personal_channels(self.channels)

    def plan(self, t: Transition, at: float) -> list[Delivery]:
        return self.planner.plan(t, at)

    # -- in: transitions from the alarm stage --------------------------------------------------------------
    def offer(self, t: Transition) -> None:
        """The AlarmStage listener: synchronous and cheap; planning runs in its own task. Never drops: past
        PENDING_LIMIT the processor is held at `room` until planning catches up."""
        self.pending.append((t, self.clock()))
        self._offered += 1
        if len(self.pending) >= PENDING_LIMIT and self._room.is_set():
            log.error("notifier behind by %d transitions; holding the processor", len(self.pending))
            self._room.clear()
        self._planning.set()

    async def room(self) -> None:
        """Returns when planning is not too far behind (the processor's back-pressure)."""
        await self._room.wait()

    async def load(self) -> int:
        """Resume what was open when the gateway stopped (or was killed), today's paid sends, and people's
        preferences."""
        count = await self.preferences.load()
        log.info("notify: %d people's preferences loaded", count)
        self.caps.load(await self.store.sent_since(self.clock() - 2 * 86400))
        for d in await self.store.open_deliveries():
            self.book.track(d)
            self._schedule(d)
        return len(self.book.live)

    def _schedule(self, d: Delivery) -> None:
        if d.state == "queued":
            self.book.schedule(d.next_at, "send", d)
        elif d.state == "sent":
            self.book.schedule(d.sent_at or d.next_at, "confirm", d)
        elif d.state == "standby" and d.message.ladder_at is not None:
            self.book.schedule(d.message.ladder_at, "wake", d)  # the ladder's later step

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._plan_loop(), name="notify-plan")
            tg.create_task(self.sender.run(), name="notify-send")
            tg.create_task(self._flush_loop(), name="notify-save")
            tg.create_task(self.lines.run(), name="notify-store")
            tg.create_task(self._poll_loop(), name="notify-receipts")
            tg.create_task(self.preferences.run(), name="notify-preferences")

    async def _plan_loop(self) -> None:
        while True:
            await self._planning.wait()
            self._planning.clear()
            while self.pending:
                batch = [self.pending.popleft() for _ in range(min(len(self.pending), 1000))]
                if len(self.pending) < PENDING_LIMIT // 2:
                    self._room.set()
                planned = [d for t, at in batch for d in self.planner.plan(t, at)]
                fresh = await self._enter(planned)
                now = self.clock()
                if fresh:
                    for t, _ in batch:
                        if t.transition in DECIDED:
                            self.metrics.notify_decision_seconds.observe(max(0.0, now - t.ts))
                async with self._progress:
                    self._planned += len(batch)
                    self._progress.notify_all()

    async def planned(self) -> None:
        """Wait until every transition offered so far is planned and its deliveries are in the outbox (a
        district partition keeps its replay position only past transitions whose deliveries are kept)."""
        target = self._offered
        async with self._progress:
            await self._progress.wait_for(lambda: self._planned >= target)

    async def _enter(self, planned: list[Delivery]) -> list[Delivery]:
        """Planned deliveries into the outbox (only keys never planned before) and onto the book's clock."""
        fresh = await self.store.add(planned)
        now = self.clock()
        for d in fresh:
            if d.state == "cancelled":  # a P3/P4 the person opted out of: recorded, never sent
                self.book.line(d, "cancelled", now)
                continue
            self.book.track(d)
            self.book.line(d, "queued", now)
            self._schedule(d)
        if fresh:
            self.book.wake.set()
        return fresh

    async def tell(self, notices: list[Notice]) -> int:
        """Work-order notices (claimed, resolved, escalated: `gateway.notify.order_notices`) through the same
        outbox, book and channels as alarms. A notice told again (after a restart) plans the same keys and
        sends nothing new. Returns how many deliveries were new."""
        at = self.clock()
        planned = [d for n in notices for d in order_notices.plan(self.planner, n, at)]
        return len(await self._enter(planned))

    async def _poll_loop(self) -> None:
        """Ask providers what became of messages they accepted (for those without callbacks, and for what a
        callback missed). A provider that fails to answer is asked again next round."""
        while True:
            await asyncio.sleep(self.settings.poll_seconds)
            for name, channel in self.channels.items():
                sent = self.book.awaiting(name)
                if not sent:
                    continue
                try:
                    receipts = await channel.poll(sent)
                except Exception:  # a provider's query failing must not stop the others; logged, retried
                    log.exception("asking %s for receipts failed", name)
                    continue
                await self.apply_receipts(receipts)

    async def receipts(self, channel: str, body: bytes, headers: Mapping[str, str]) -> tuple[str, bytes]:
        """A provider's receipt callback: verified and parsed by its channel, applied here. Raises KeyError
        for a channel that is not configured and ValueError for a callback that is not the provider's."""
        handler = self.channels[channel]
        await self.apply_receipts(handler.receipts(body, headers))
        return handler.receipt_reply()

    async def apply_receipts(self, receipts: list[Receipt]) -> int:
        """What providers said later: delivered, failed, a call answered or not, a key pressed. "Sent" never
        counts as reached; a receipt is the proof. Returns how many named an open delivery."""
        applied = 0
        for r in receipts:
            d = self.book.by_reference(r.ref)
            if d is None:
                continue  # already settled, or not ours
            applied += 1
            if r.state == "acknowledged":
                await self.acknowledge(d.alarm_id, d.recipient)
                continue
            if r.state in ("delivered", "answered"):
                if d.state in ("sent", "queued"):
                    d.delivered_at = r.at
                    self.book.change(d, "delivered", self.clock(), r.detail if r.state == "answered" else "")
                continue
            now = self.clock()  # failed, or a call nobody answered: the next channel goes
            d.failed_at = now
            self.book.change(d, "failed", now, f"{r.state}: {r.detail}" if r.detail else r.state)
            self.book.fallback(d, now)
            if d.kind == "alert" and d.audience != "-":
                where = Where(d.site, d.building)
                self.reach.gave_up(
                    d.alarm_id, d.rule, d.severity, where, self.book.person_open(d.alarm_id), now
                )
        if applied:
            self.book.wake.set()
        return applied

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            await self.flush()

    async def flush(self) -> None:
        await self.book.flush()

    # -- from people: receipts, acknowledgements, subscriptions ---------------------------------------------
    def confirm(self, key: str, recipient: str, alarm_id: str | None) -> bool:
        """The device showed the message (a phone's service worker said so). The receipt's token is the one
        the push carried: it names the alarm, so a link for one alarm cannot confirm another's push."""
        d = self.book.live.get(key)
        if d is None or d.recipient != recipient or d.alarm_id != alarm_id:
            return False
        if not self.channels[d.channel].confirms_receipt:
            return False
        if d.state in ("sent", "queued"):
            d.delivered_at = self.clock()
            self.book.change(d, "delivered", d.delivered_at)
        return True

    async def acknowledge_link(self, token: str) -> list[Transition]:
        claims = self.signer.verify(token, "ack", now=self.clock())
        return await self.acknowledge(claims.alarm_id, claims.recipient)

    async def acknowledge(self, alarm_id: str, by: str, ts: float | None = None) -> list[Transition]:
        """`ts`: when it was acknowledged, if not now (a district replays acknowledgements from its
        stream, and the follow-ups' idempotency keys carry the acknowledgement's time)."""
        now = self.clock() if ts is None else ts
        transitions = await self._acknowledge(Acknowledgement(ts=now, by=by, alarm_id=alarm_id))
        for d in self.book.of_alarm(alarm_id):
            theirs = by in (d.recipient, f"{d.site}/{d.recipient}")  # a link's id, or the API's site/id
            if theirs and d.state == "sent":
                d.acked_at = d.delivered_at = now  # they read it: that is delivery
                self.book.change(d, "delivered", now)
            elif theirs:
                d.acked_at = now
                self.book.touch(d)
            if d.state == "standby":
                self.book.change(d, "cancelled", now)
        await self.flush()
        for d in await self.store.acknowledged(alarm_id, by, now):
            self.book.line(d, "acknowledged", now)
        self.book.wake.set()
        return transitions

    async def subscribe(self, sub: Subscription) -> None:
        """Raises EndpointRefused for an endpoint that is not a push service's (gateway.notify.endpoints)."""
        await self.subscriptions.add(sub)

    async def remove_subscription(self, sub_id: str) -> None:
        await self.subscriptions.remove(sub_id)

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]:
        """Per alarm, the audiences an address accepted an alert for (what "notified" may truly say)."""
        await self.flush()
        return await self.store.reached(alarm_ids)

    async def deliveries(self, alarm_id: str) -> list[dict[str, Any]]:
        await self.flush()
        return [d.public() for d in await self.store.deliveries_of(alarm_id)]

    async def timeline(self, alarm_id: str) -> list[dict[str, Any]]:
        """`deliveries` with each address masked (gateway.notify.masking), for the alarm's timeline."""
        await self.flush()
        return [
            d.public() | {"address": masked_address(d.target)}
            for d in await self.store.deliveries_of(alarm_id)
        ]
