"""From alarm transition to proof of delivery: plan, persist, send, retry, fall back, pace, record.

Planning turns one transition into deliveries, one per (recipient, channel), keyed by an idempotency key and
committed to the outbox before the first send. P1/P2 go out on every channel a recipient has at once (the
GB/T 45839 two-channel rule); P3/P4 go to the first and keep the others on standby, woken when the first
fails or a push is not confirmed by the phone in time. Retries are capped and jittered and honour
Retry-After; a target that keeps failing opens its circuit so its deliveries wait and their fallbacks go.

Pacing merges rather than drops: a bot over its ~20 messages a minute, or a person over their flood budget
of P3/P4, gets one digest per slot of everything that waited. P1/P2 to a person are never held.

Every state change is a point in InfluxDB (measurement `notification`) and a row in the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
import logging
import random
import zoneinfo
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from alerts.signals import Acknowledgement, Signal, Transition, Where
from gateway.config.settings import NotifySettings
from gateway.influx.linequeue import LineQueue
from gateway.notify import messages
from gateway.notify.channels import Channel, Outcome, bot_kind, text_limit
from gateway.notify.directory import Directory, Recipient
from gateway.notify.endpoints import check_endpoint
from gateway.notify.lines import notification_line
from gateway.notify.outbox import Delivery, OutboxStore, Subscription
from gateway.notify.reach import Reach
from gateway.observe.metrics import Metrics
from gateway.tokens import Signer

log = logging.getLogger(__name__)

PENDING_LIMIT = 100_000
"""Transitions waiting to be planned. Beyond this the processor waits (`room`) and the spool holds the
readings behind: a planned notification is never dropped."""
URGENT = ("P1", "P2")
OPEN_TO_ARRIVE = ("queued", "standby", "merged", "sent")


def _quiet_window(spec: str | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """ "22:00-07:00" -> ((22, 0), (7, 0)); the settings pattern has checked the shape."""
    if not spec:
        return None
    start, end = spec.split("-")
    return (int(start[:2]), int(start[3:])), (int(end[:2]), int(end[3:]))


@dataclass(slots=True)
class Circuit:
    failures: int = 0
    open_until: float = 0.0

    def is_open(self, now: float) -> bool:
        return self.open_until > now


class SubscriptionStore(Protocol):
    """Where phones' push subscriptions are kept: the relational store in the gateway, the outbox alone
    in the notifier's own tests."""

    async def subscribe(self, sub: Subscription) -> None: ...
    async def unsubscribe(self, sub_id: str) -> None: ...
    async def subscriptions(self) -> list[Subscription]: ...


class Notifier:
    def __init__(
        self,
        directory: Directory,
        store: OutboxStore,
        channels: dict[str, Channel],
        signer: Signer,
        settings: NotifySettings,
        lines: LineQueue,
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        acknowledge: Callable[[Acknowledgement], Awaitable[list[Transition]]],
        subscriptions: dict[str, Subscription],
        subscription_store: SubscriptionStore | None = None,
        report: Callable[[Signal], list[Transition]] | None = None,
    ) -> None:
        self.report = report
        """Raises an alarm about the system (SYS-CHANNEL): a target that refuses its messages for good."""
        self.refused: dict[str, str] = {}  # circuit -> the refusal, reported once until it sends again
        self.timeouts: dict[str, int] = {}  # delivery key -> attempts that got no answer in time
        self.reach = Reach(report)
        self.by_alarm: dict[str, set[str]] = defaultdict(set)  # alarm -> keys of its open deliveries
        self.buckets: dict[str, tuple[float, float]] = {}  # bot -> (tokens, when counted)
        self._room = asyncio.Event()
        self._room.set()
        self.directory = directory
        self.store = store
        self.subscription_store: SubscriptionStore = subscription_store or store
        self.channels = channels
        self.signer = signer
        self.settings = settings
        self.lines = lines
        self.metrics = metrics
        self.clock = clock
        self._acknowledge = acknowledge
        self.subscriptions = subscriptions
        self.by_person: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sub in subscriptions.values():
            self.by_person[(sub.site, sub.person)].append(sub.id)
        self.pending: deque[tuple[Transition, float]] = deque()
        self.live: dict[str, Delivery] = {}
        self.groups: dict[tuple[str, str, float, str], list[str]] = defaultdict(list)
        self.followers: dict[str, list[str]] = {}
        self.heap: list[tuple[float, int, str, str]] = []
        self.circuits: dict[str, Circuit] = defaultdict(Circuit)
        self.pacers: dict[str, deque[float]] = {}
        self.dirty: dict[str, Delivery] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._planning = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tg: asyncio.TaskGroup | None = None
        self._quiet = _quiet_window(settings.quiet_hours)

    # -- in: transitions from the alarm stage --------------------------------------------------------------
    def offer(self, t: Transition) -> None:
        """The AlarmStage listener: synchronous and cheap; planning runs in its own task. Never drops: past
        PENDING_LIMIT the processor is held at `room` until planning catches up."""
        self.pending.append((t, self.clock()))
        if len(self.pending) >= PENDING_LIMIT and self._room.is_set():
            log.error("notifier behind by %d transitions; holding the processor", len(self.pending))
            self._room.clear()
        self._planning.set()

    async def room(self) -> None:
        """Returns when planning is not too far behind (the processor's back-pressure)."""
        await self._room.wait()

    async def load(self) -> int:
        """Resume what was open when the gateway stopped (or was killed)."""
        for d in await self.store.open_deliveries():
            self._track(d)
            if d.state == "queued":
                self._schedule(d.next_at, "send", d)
            elif d.state == "sent":
                self._schedule(d.sent_at or d.next_at, "confirm", d)
        return len(self.live)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(self._plan_loop(), name="notify-plan")
            tg.create_task(self._pump(), name="notify-send")
            tg.create_task(self._flush_loop(), name="notify-save")
            tg.create_task(self.lines.run(), name="notify-store")

    # -- planning --------------------------------------------------------------------------------------------
    async def _plan_loop(self) -> None:
        while True:
            await self._planning.wait()
            self._planning.clear()
            while self.pending:
                batch = [self.pending.popleft() for _ in range(min(len(self.pending), 1000))]
                if len(self.pending) < PENDING_LIMIT // 2:
                    self._room.set()
                planned = [d for t, at in batch for d in self.plan(t, at)]
                fresh = await self.store.add(planned)
                now = self.clock()
                for d in fresh:
                    self._track(d)
                    self._line(d, "queued", now)
                    if d.state == "queued":
                        self._schedule(d.next_at, "send", d)
                if fresh:
                    self._wake.set()
                    for t, _ in batch:
                        if t.transition in ("raised", "escalated", "updated"):
                            self.metrics.notify_decision_seconds.observe(max(0.0, now - t.ts))

    def plan(self, t: Transition, at: float) -> list[Delivery]:
        message = messages.render(t)
        message["decided_at"] = at
        follow_up = t.transition in ("acknowledged", "cleared")
        out: list[Delivery] = []

        def delivery(
            r_id: str,
            audience: str,
            channel: str,
            target: str,
            rank: int,
            msg: dict[str, Any],
            state: str,
            next_at: float,
        ) -> Delivery:
            key = f"{t.alarm_id}|{t.transition}|{round(t.ts * 1000)}|{r_id}|{channel}|{target}"
            return Delivery(
                key=key,
                alarm_id=t.alarm_id,
                kind="follow-up" if follow_up else "alert",
                transition=t.transition,
                ts=t.ts,
                site=t.where.site,
                building=t.where.building,
                rule=t.rule,
                severity=str(t.severity),
                recipient=r_id,
                audience=audience,
                channel=channel,
                target=target,
                rank=rank,
                state=state,  # type: ignore[arg-type]
                next_at=next_at,
                queued_at=at,
                message=msg,
            )

        urgent = str(t.severity) in URGENT
        for r in self.directory.resolve(t.where, t.notify):
            if follow_up and not self._follows(t, r.id, at):
                continue
            msg = message
            if not follow_up:
                token = self.signer.sign(
                    "ack", r.id, alarm_id=t.alarm_id, expires=at + self.settings.link_hours * 3600
                )
                msg = {
                    **message,
                    "ack_url": f"{self.settings.public_url.rstrip('/')}/ack/{token}",
                    "ack": token,
                }
            not_before = at if urgent or follow_up or not r.at_home else self._after_quiet(t.where.site, at)
            rank = 0
            for channel, target in self._routes(t.where.site, r):
                if follow_up and not self.channels[channel].follow_ups:
                    continue
                state = "queued" if rank == 0 or urgent else "standby"
                out.append(delivery(r.id, str(r.audience), channel, target, rank, msg, state, not_before))
                rank += 1
        self.reach.planned(t, len(out), at)
        if t.transition == "cleared":
            self.reach.forget(t.alarm_id)
        for url in self.settings.webhooks if "webhook" in self.channels else ():
            out.append(delivery("webhook", "-", "webhook", url, 0, message, "queued", at))
        # Duress is a silent alarm: no siren, no light at the door where it happens.
        if "mqtt" in self.channels and t.rule != "DR-7":
            topic = f"guardian/{t.where.site}/alarm/{t.alarm_id}"
            out.append(delivery("mqtt", "-", "mqtt", topic, 0, message, "queued", at))
        return out

    def _follows(self, t: Transition, recipient: str, now: float) -> bool:
        """Whether a follow-up (acknowledged, cleared) goes to this person. What it follows and that was
        never sent (held by quiet hours, waiting on standby or a retry) is cancelled: the news is over. The
        follow-up goes only if an alert did reach them; good news never wakes someone at 01:53 for an alarm
        they would only have heard of at 07:00."""
        unsent = [
            d
            for d in self.live.values()
            if d.alarm_id == t.alarm_id
            and d.recipient == recipient
            and d.kind == "alert"
            and d.sent_at is None
            and d.state in ("queued", "standby")
        ]
        for d in unsent:
            self._change(d, "cancelled", now, f"{t.transition} before it was sent")
        return not unsent or recipient in self.reach.reached.get(t.alarm_id, ())

    def _routes(self, site: str, r: Recipient) -> list[tuple[str, str]]:
        """A person's channels, best first: their phones' push subscriptions, then the registry's URLs."""
        routes = [("webpush", sub_id) for sub_id in self.by_person.get((site, r.id), [])]
        for url in r.urls:
            routes.append(("bot" if bot_kind(url) else "apprise", url))
        return [(c, target) for c, target in routes if c in self.channels]

    def _after_quiet(self, site: str, now: float) -> float:
        if self._quiet is None:
            return now
        (start_h, start_m), (end_h, end_m) = self._quiet
        zone = zoneinfo.ZoneInfo(self.directory.timezone.get(site, "UTC"))
        local = dt.datetime.fromtimestamp(now, zone)
        start = local.replace(hour=start_h, minute=start_m, second=0, microsecond=0)
        end = local.replace(hour=end_h, minute=end_m, second=0, microsecond=0)
        if start <= end:  # a window inside one day
            return end.timestamp() if start <= local < end else now
        if local >= start:
            return (end + dt.timedelta(days=1)).timestamp()
        return end.timestamp() if local < end else now

    # -- bookkeeping -----------------------------------------------------------------------------------------
    def _track(self, d: Delivery) -> None:
        self.live[d.key] = d
        self.by_alarm[d.alarm_id].add(d.key)
        self.groups[(d.alarm_id, d.transition, d.ts, d.recipient)].append(d.key)
        self.metrics.notify_open.set(len(self.live))

    def _finish(self, d: Delivery) -> None:
        self.live.pop(d.key, None)
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

    def _schedule(self, at: float, what: str, d: Delivery) -> None:
        heapq.heappush(self.heap, (at, next(self._seq), what, d.key))
        self._wake.set()

    def _change(self, d: Delivery, state: str, now: float, error: str = "") -> None:
        d.state = state  # type: ignore[assignment]
        if error:
            d.error = error[:300]
        self.dirty[d.key] = d
        self._line(d, state, now)
        if state in ("delivered", "failed", "cancelled"):
            self._finish(d)

    def _line(self, d: Delivery, state: str, now: float) -> None:
        self.metrics.notifications.labels(channel=d.channel, state=state).inc()
        self.lines.put([notification_line(d, state, now, self.lines.unique_us(now))])

    async def _flush_loop(self) -> None:
        """Settled states are saved in batches; a crash before a save resends at most once per delivery."""
        while True:
            await asyncio.sleep(0.2)
            await self.flush()

    async def flush(self) -> None:
        if self.dirty:
            batch, self.dirty = list(self.dirty.values()), {}
            await self.store.save(batch)

    # -- sending ---------------------------------------------------------------------------------------------
    async def _pump(self) -> None:
        while True:
            now = self.clock()
            due: list[tuple[str, Delivery]] = []
            while self.heap and self.heap[0][0] <= now:
                _, _, what, key = heapq.heappop(self.heap)
                d = self.live.get(key)
                if d is not None:
                    due.append((what, d))
            sends: dict[str | None, list[Delivery]] = defaultdict(list)
            for what, d in due:
                if what == "confirm":
                    if d.state == "sent":
                        self._fallback(d, now)
                    continue
                if d.state != "queued" or d.next_at > now:
                    continue
                circuit = self.circuits[self.channels[d.channel].circuit(d.target)]
                if circuit.is_open(now):
                    d.next_at = circuit.open_until
                    self._schedule(d.next_at, "send", d)
                    self._fallback(d, now)
                    continue
                sends[self._pace_key(d)].append(d)
            for pace, batch in sends.items():
                for d in self._paced(pace, batch, now):
                    await self._slots.acquire()
                    assert self._tg is not None
                    self._tg.create_task(self._attempt(d))
            self._wake.clear()
            timeout = min(self.heap[0][0] - self.clock(), 1.0) if self.heap else 1.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(timeout, 0.0)):
                    await self._wake.wait()

    def _pace_key(self, d: Delivery) -> str | None:
        if d.channel == "bot":
            return f"bot:{d.target}"
        if d.channel in ("webpush", "apprise") and d.severity not in URGENT:
            return f"person:{d.site}:{d.recipient}:{d.channel}"
        return None

    def _paced(self, pace: str | None, batch: list[Delivery], now: float) -> list[Delivery]:
        """What may go now, most severe and oldest first: within the budget one by one, beyond it one digest;
        nothing when it is spent."""
        if pace is None:
            return batch
        batch.sort(key=lambda d: (d.severity, d.ts))
        if pace.startswith("bot:"):
            return self._bot_paced(pace, batch, now)
        limit, window = self.settings.flood_messages, self.settings.flood_window
        sent = self.pacers.setdefault(pace, deque())
        while sent and sent[0] <= now - window:
            sent.popleft()
        room = limit - len(sent)
        if room <= 0:
            self._hold(batch, sent[0] + window)
            return []
        if len(batch) > room:
            batch = batch[: room - 1] + self._digest(batch[room - 1 :], None, now)
        sent.extend([now] * len(batch))
        return batch

    def _bot_paced(self, pace: str, batch: list[Delivery], now: float) -> list[Delivery]:
        """A token bucket per bot that never lets more than `bot_per_minute` through in any minute, retries
        and digests included: DingTalk blocks a bot for 10 minutes past ~20 a minute. A burst of a quarter of
        the budget, the rest spread over the minute."""
        limit = self.settings.bot_per_minute
        burst = max(1, limit // 4)
        rate = max(limit - burst, 1) / 60.0
        tokens, then = self.buckets.get(pace, (float(burst), now))
        tokens = min(float(burst), tokens + (now - then) * rate)
        room = int(tokens)
        if room <= 0:
            self.buckets[pace] = (tokens, now)
            self._hold(batch, now + (1.0 - tokens) / rate)
            return []
        if len(batch) > room:
            carrier = self._digest(batch[room - 1 :], text_limit("bot", batch[0].target), now)
            batch = batch[: room - 1] + carrier
        self.buckets[pace] = (tokens - len(batch), now)
        return batch

    def _hold(self, batch: list[Delivery], until: float) -> None:
        for d in batch:
            d.next_at = until
            self._schedule(until, "send", d)

    def _digest(self, batch: list[Delivery], limit: int | None, now: float) -> list[Delivery]:
        """Merge `batch` into its first delivery, as many as fit in `limit` bytes of text; the rest wait
        for the next slot, still individual (most severe first, so P1s are never the ones left out)."""
        carrier, taken = batch[0], [batch[0]]
        original = carrier.message
        merged = original
        for d in batch[1:]:
            trial = messages.digest([original] + [x.message for x in taken[1:]] + [d.message])
            if limit is not None and len(messages.text(trial).encode()) > limit:
                break
            taken.append(d)
            merged = trial
        if len(taken) > 1:
            carrier.message = {**merged, "own": original}  # what the carrier says again if the digest fails
            self.followers.setdefault(carrier.key, []).extend(d.key for d in taken[1:])
            for d in taken[1:]:
                d.merged_into = carrier.key
                self._change(d, "merged", now)
        left = batch[len(taken) :]
        if left:
            self._hold(left, now + 1.0)
        return [carrier]

    async def _attempt(self, d: Delivery) -> None:
        try:
            d.attempts += 1
            try:
                async with asyncio.timeout(self.settings.send_timeout):
                    outcome = await self.channels[d.channel].send(d, d.message)
            except TimeoutError:
                outcome = Outcome(False, retry=True, ambiguous=True, error="no answer in time")
            except Exception as exc:  # a channel bug must not take the notifier down; retried, logged
                log.exception("channel %s failed on %s", d.channel, d.key)
                outcome = Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}")
            await self._settle(d, outcome)
        finally:
            self._slots.release()

    async def _settle(self, d: Delivery, outcome: Outcome) -> None:
        now = self.clock()
        circuit = self.circuits[self.channels[d.channel].circuit(d.target)]
        if outcome.ok:
            circuit.failures = 0
            self.timeouts.pop(d.key, None)
            self.refused.pop(self.channels[d.channel].circuit(d.target), None)
            if d.kind == "alert" and d.audience != "-":
                self.reach.sent(d.alarm_id, d.recipient, Where(d.site, d.building), now)
            d.sent_at = now
            if d.channel == "webpush" and d.kind == "alert" and d.acked_at is None:
                self._change(d, "sent", now)  # delivered when the phone's service worker confirms
                self._schedule(now + self.settings.confirm_seconds, "confirm", d)
            else:
                d.delivered_at = now
                self._change(d, "delivered", now)
            self._carry(d, now)
            return
        log.warning("delivery %s via %s failed: %s", d.key, d.channel, outcome.error)
        if outcome.gone and d.channel == "webpush":
            await self.remove_subscription(d.target)
        if self.followers.get(d.key):
            self._unmerge(d, now)  # a refused digest: its members go again on their own
        if outcome.refused:
            self._report_refusal(d, outcome, now)
        retry = outcome.retry
        wait_at_least = 0.0
        if outcome.ambiguous:
            # It may have arrived: one more try, after longer than the receiver took not to answer, with the
            # same idempotency key; a second silence is a failure (the next channel is woken below).
            n = self.timeouts[d.key] = self.timeouts.get(d.key, 0) + 1
            retry = n < 2
            wait_at_least = random.uniform(self.settings.send_timeout, 2 * self.settings.send_timeout)
        if outcome.retry_after is not None:
            # The target asked us to wait: everything for it waits, not only this delivery.
            circuit.open_until = max(
                circuit.open_until, now + min(outcome.retry_after, self.settings.backoff_max)
            )
        if outcome.retry and not outcome.gone:
            circuit.failures += 1
            if circuit.failures >= self.settings.circuit_failures:
                circuit.open_until = now + self.settings.circuit_seconds
                log.error("circuit open for %s after %d failures", d.channel, circuit.failures)
            self.metrics.circuit_open.set(sum(c.is_open(now) for c in self.circuits.values()))
        if retry and not outcome.gone and d.attempts < self.settings.max_attempts:
            backoff = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (d.attempts - 1))
            wait = max(random.uniform(backoff / 2, backoff), wait_at_least)  # half jitter keeps a floor
            if outcome.retry_after is not None:
                wait = max(wait, min(outcome.retry_after, self.settings.backoff_max))
            d.next_at = now + wait
            d.error = outcome.error[:300]
            self.dirty[d.key] = d
            self._line(d, "retry", now)
            self._schedule(d.next_at, "send", d)
        else:
            self.timeouts.pop(d.key, None)
            d.failed_at = now
            self._change(d, "failed", now, outcome.error or "gave up")
            self._carry(d, now)
        self._fallback(d, now)
        if d.state == "failed" and d.kind == "alert" and d.audience != "-":
            where = Where(d.site, d.building)
            self.reach.gave_up(d.alarm_id, d.rule, d.severity, where, self._person_open(d.alarm_id), now)

    def _person_open(self, alarm_id: str) -> bool:
        """Whether an alert of this alarm to a person may still arrive (queued, on standby, or merged)."""
        for key in self.by_alarm.get(alarm_id, ()):
            o = self.live.get(key)
            if o is not None and o.kind == "alert" and o.audience != "-" and o.state in OPEN_TO_ARRIVE:
                return True
        return False

    def _unmerge(self, carrier: Delivery, now: float) -> None:
        """A digest that failed: the deliveries it carried are queued again, each on its own, and each
        wakes its recipient's next channel; the carrier goes back to its own message."""
        for key in self.followers.pop(carrier.key, []):
            d = self.live.get(key)
            if d is None:
                continue
            d.merged_into = None
            d.state = "queued"
            d.next_at = now + 1.0
            self.dirty[d.key] = d
            self._schedule(d.next_at, "send", d)
            self._fallback(d, now)
        own = carrier.message.get("own")
        if isinstance(own, dict):
            carrier.message = own

    def _report_refusal(self, d: Delivery, outcome: Outcome, now: float) -> None:
        """A target refusing for good (a bot's keyword check): a SYS-CHANNEL alarm naming the channel and
        the error, once until it accepts a message again. Bot URLs hold their token, so only its end shows."""
        circuit = self.channels[d.channel].circuit(d.target)
        if circuit in self.refused:
            return
        self.refused[circuit] = outcome.error
        self.metrics.notifications.labels(channel=d.channel, state="refused").inc()
        name = _redact(d.target)
        log.error("%s target %s refuses its messages: %s", d.channel, name, outcome.error)
        if self.report is not None:
            evidence = {"ts": now, "channel": d.channel, "target": name, "error": outcome.error[:200]}
            where = Where(d.site, d.building)
            self.report(
                Signal(ts=now, rule="SYS-CHANNEL", subject=name, on=True, where=where, evidence=evidence)
            )

    def _carry(self, carrier: Delivery, now: float) -> None:
        """Deliveries merged into a digest share its fate."""
        for key in self.followers.pop(carrier.key, []):
            d = self.live.get(key)
            if d is None:
                continue
            d.sent_at, d.delivered_at, d.failed_at = carrier.sent_at, carrier.delivered_at, carrier.failed_at
            self._change(d, carrier.state if carrier.state != "sent" else "delivered", now)

    def _fallback(self, d: Delivery, now: float) -> None:
        """Wake the next standby channel of this recipient for this transition (one per fault)."""
        for key in self.groups.get((d.alarm_id, d.transition, d.ts, d.recipient), []):
            other = self.live.get(key)
            if other is not None and other.state == "standby" and other.rank > d.rank:
                other.next_at = now
                other.state = "queued"
                self.dirty[other.key] = other
                self._schedule(now, "send", other)
                return

    # -- from people: receipts, acknowledgements, subscriptions ---------------------------------------------
    def confirm(self, key: str, recipient: str, alarm_id: str | None) -> bool:
        """The phone showed the push (its service worker said so). The receipt's token is the one the push
        carried: it names the alarm, so a link for one alarm cannot confirm another's push."""
        d = self.live.get(key)
        if d is None or d.recipient != recipient or d.channel != "webpush" or d.alarm_id != alarm_id:
            return False
        if d.state in ("sent", "queued"):
            d.delivered_at = self.clock()
            self._change(d, "delivered", d.delivered_at)
        return True

    async def acknowledge_link(self, token: str) -> list[Transition]:
        claims = self.signer.verify(token, "ack", now=self.clock())
        return await self.acknowledge(claims.alarm_id, claims.recipient)

    async def acknowledge(self, alarm_id: str, by: str) -> list[Transition]:
        now = self.clock()
        transitions = await self._acknowledge(Acknowledgement(ts=now, by=by, alarm_id=alarm_id))
        for d in list(self.live.values()):
            if d.alarm_id != alarm_id:
                continue
            theirs = by in (d.recipient, f"{d.site}/{d.recipient}")  # a link's id, or the API's site/id
            if theirs and d.state == "sent":
                d.acked_at = d.delivered_at = now  # they read it: that is delivery
                self._change(d, "delivered", now)
            elif theirs:
                d.acked_at = now
                self.dirty[d.key] = d
            if d.state == "standby":
                self._change(d, "cancelled", now)
        await self.flush()
        for d in await self.store.acknowledged(alarm_id, by, now):
            self._line(d, "acknowledged", now)
        self._wake.set()
        return transitions

    async def subscribe(self, sub: Subscription) -> None:
        """Raises EndpointRefused for an endpoint that is not a push service's (gateway.notify.endpoints)."""
        check_endpoint(sub.endpoint, self.settings.push_hosts)
        await self.subscription_store.subscribe(sub)
        if sub.id not in self.subscriptions:
            self.by_person[(sub.site, sub.person)].append(sub.id)
        self.subscriptions[sub.id] = sub

    async def remove_subscription(self, sub_id: str) -> None:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is not None:
            log.info("push subscription %s of %s removed (gone at the push service)", sub_id, sub.person)
            with contextlib.suppress(ValueError):
                self.by_person[(sub.site, sub.person)].remove(sub_id)
        await self.subscription_store.unsubscribe(sub_id)

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]:
        """Per alarm, the audiences an address accepted an alert for (what "notified" may truly say)."""
        await self.flush()
        return await self.store.reached(alarm_ids)

    async def deliveries(self, alarm_id: str) -> list[dict[str, Any]]:
        await self.flush()
        return [d.public() for d in await self.store.deliveries_of(alarm_id)]


def _redact(target: str) -> str:
    """A target fit for an alarm and a log: scheme and host, and the last 4 characters of a token."""
    scheme, _, rest = target.partition("://")
    host = rest.split("/")[0].split("?")[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host[:40]}…{target[-4:]}" if len(target) > 12 else f"{scheme}://…"
