"""Sending: what is due goes out, paced, through a bounded number of concurrent attempts; each answer is
settled into the book. Retries are capped and jittered and honour Retry-After; a target that keeps failing
opens its circuit so its deliveries wait and their fallbacks go; a target that refuses for good raises a
SYS-CHANNEL alarm; an urgent alarm whose every address failed is `Reach`'s to report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from alerts.evidence import SystemEvidence
from alerts.rules.system import SYS_CHANNEL, SYS_COST
from alerts.signals import Signal, Where
from gateway.config.settings import NotifySettings
from gateway.notify.book import Book
from gateway.notify.channels import Channel, Outcome
from gateway.notify.channels.base import mask_numbers
from gateway.notify.costs import SITE, SiteCaps
from gateway.notify.outbox import Delivery
from gateway.notify.pacing import PaceKey, Pacing
from gateway.notify.reach import Reach
from gateway.observe.metrics import Metrics

log = logging.getLogger(__name__)


class SendFence(Protocol):
    """Whether this process may still send (a district partition's lease, `gateway.district.outbox`): the
    store asked before each batch of sends, the local deadline before each send. Both raise
    `gateway.errors.LeaseLost` when not, which stops the notifier with nothing sent."""

    def check(self) -> None: ...
    async def confirm(self) -> None: ...


@dataclass(slots=True)
class Circuit:
    failures: int = 0
    open_until: float = 0.0

    def is_open(self, now: float) -> bool:
        return self.open_until > now


class Sender:
    def __init__(
        self,
        book: Book,
        pacing: Pacing,
        channels: dict[str, Channel],
        settings: NotifySettings,
        reach: Reach,
        metrics: Metrics,
        caps: SiteCaps,
        *,
        clock: Callable[[], float],
        report: Callable[[Signal], Any] | None,
        fence: SendFence | None = None,
    ) -> None:
        self.book = book
        self.fence = fence
        self.pacing = pacing
        self.channels = channels
        self.settings = settings
        self.reach = reach
        self.metrics = metrics
        self.caps = caps
        """Paid sends per site and day against each site's caps."""
        self.clock = clock
        self.report = report
        """Raises an alarm about the system (SYS-CHANNEL): a target that refuses its messages for good."""
        self.circuits: dict[str, Circuit] = defaultdict(Circuit)
        self.refused: dict[str, str] = {}  # circuit -> the refusal, reported once until it sends again
        self.timeouts: dict[str, int] = {}  # delivery key -> attempts that got no answer in time
        self._slots = asyncio.Semaphore(settings.concurrency)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as attempts:
            while True:
                now = self.clock()
                sends: dict[PaceKey, list[Delivery]] = defaultdict(list)
                for what, d in self.book.due(now):
                    if what == "confirm":
                        if d.state == "sent":
                            self.book.fallback(d, now)  # the phone never said it showed the push
                        continue
                    if what == "wake":  # the ladder's step is due and nobody acknowledged: it goes
                        if d.state == "standby":
                            d.state, d.next_at = "queued", now
                            self.book.touch(d)
                        else:
                            continue
                    if d.state != "queued" or d.next_at > now:
                        continue
                    circuit = self.circuits[self.channels[d.channel].circuit(d.target)]
                    if circuit.is_open(now):
                        d.next_at = circuit.open_until
                        self.book.schedule(d.next_at, "send", d)
                        self.book.fallback(d, now)
                        continue
                    sends[self.pacing.key(d)].append(d)
                if sends and self.fence is not None:
                    await self.fence.confirm()
                for pace, batch in sends.items():
                    for d in self.pacing.paced(pace, batch, now):
                        await self._slots.acquire()
                        if self.fence is not None:
                            self.fence.check()  # the wait for a slot may have outlived the lease
                        attempts.create_task(self._attempt(d), name=f"notify-attempt-{d.channel}")
                self.book.wake.clear()
                due = self.book.next_due()
                timeout = min(due - self.clock(), 1.0) if due is not None else 1.0
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(timeout, 0.0)):
                        await self.book.wake.wait()

    async def _attempt(self, d: Delivery) -> None:
        try:
            d.attempts += 1
            held = self.caps.hold(d, self.clock())
            try:
                if held is not None:
                    outcome = held  # the site's cap for this paid channel is used up today: not sent
                else:
                    async with asyncio.timeout(self.settings.send_timeout):
                        outcome = await self.channels[d.channel].send(d, d.message)
            except TimeoutError:
                outcome = Outcome(False, retry=True, ambiguous=True, error="no answer in time")
            except Exception as exc:  # a channel bug must not take the notifier down; retried, logged
                log.exception("channel %s failed on %s", d.channel, d.key)
                outcome = Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}")
            await self.settle(d, outcome)
        finally:
            self._slots.release()

    async def settle(self, d: Delivery, outcome: Outcome) -> None:
        now = self.clock()
        channel = self.channels[d.channel]
        circuit_key = channel.circuit(d.target)
        circuit = self.circuits[circuit_key]
        book = self.book
        if outcome.ok:
            cap = outcome.capped
            if channel.paid:
                self.metrics.paid_sends.labels(site=d.site, channel=d.channel).inc()
                past_site, first = self.caps.took(d, now)
                if past_site:
                    cap = cap or SITE
                if first:
                    limit = self.caps.cap(d.site, d.channel)
                    self._cost(d, f"site:{d.site}", f"{d.site} past {limit} {d.channel} sends today", now)
            if outcome.capped:
                self.metrics.paid_capped.labels(
                    site=d.site, channel=d.channel, cap=outcome.capped, outcome="sent"
                ).inc()
            if outcome.over_cap:
                self._cost(d, redact(d.target), outcome.over_cap, now)
            circuit.failures = 0
            self.timeouts.pop(d.key, None)
            self.refused.pop(circuit_key, None)
            if d.kind == "alert" and d.audience != "-":
                self.reach.sent(d.alarm_id, d.recipient, Where(d.site, d.building), now)
            d.sent_at = now
            if channel.confirms_receipt and d.kind == "alert" and d.acked_at is None:
                book.change(d, "sent", now, paid=channel.paid, cap=cap)  # delivered when the device says
                book.schedule(now + self.settings.confirm_seconds, "confirm", d)
            else:
                d.delivered_at = now
                book.change(d, "delivered", now, paid=channel.paid, cap=cap)
            book.carry(d, now)
            return
        if outcome.hold_until is not None:
            # held on purpose (a daily cap): not an attempt, not the target's fault; the next channel goes
            d.attempts -= 1
            d.next_at = outcome.hold_until
            d.error = outcome.error[:300]
            book.touch(d)
            book.line(d, "held", now, cap=outcome.capped)
            book.schedule(d.next_at, "send", d)
            book.fallback(d, now)
            return
        log.warning("delivery %s via %s failed: %s", d.key, d.channel, outcome.error)
        if outcome.gone:
            await channel.forget(d.target)
        if book.followers.get(d.key):
            book.unmerge(d, now)  # a refused digest: its members go again on their own
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
            book.touch(d)
            book.line(d, "retry", now)
            book.schedule(d.next_at, "send", d)
        else:
            self.timeouts.pop(d.key, None)
            d.failed_at = now
            book.change(d, "failed", now, outcome.error or "gave up")
            book.carry(d, now)
        book.fallback(d, now)
        if d.state == "failed" and d.kind == "alert" and d.audience != "-":
            where = Where(d.site, d.building)
            self.reach.gave_up(d.alarm_id, d.rule, d.severity, where, book.person_open(d.alarm_id), now)

    def _cost(self, d: Delivery, subject: str, why: str, now: float) -> None:
        """SYS-COST: an urgent alarm went out past a cost cap (a number's, or the site's once a day)."""
        if self.report is None:
            return
        evidence = SystemEvidence(ts=now, channel=d.channel, target=subject, error=why)
        where = Where(d.site, d.building)
        self.report(
            Signal(ts=now, rule=SYS_COST.id, subject=subject, on=True, where=where, evidence=evidence)
        )

    def _report_refusal(self, d: Delivery, outcome: Outcome, now: float) -> None:
        """A target refusing for good (a bot's keyword check): a SYS-CHANNEL alarm naming the channel and
        the error, once until it accepts a message again. Bot URLs hold their token, so only its end shows."""
        circuit = self.channels[d.channel].circuit(d.target)
        if circuit in self.refused:
            return
        self.refused[circuit] = outcome.error
        self.metrics.notifications.labels(channel=d.channel, state="refused").inc()
        name = redact(d.target)
        log.error("%s target %s refuses its messages: %s", d.channel, name, outcome.error)
        if self.report is not None:
            evidence = SystemEvidence(ts=now, channel=d.channel, target=name, error=outcome.error[:200])
            where = Where(d.site, d.building)
            self.report(
                Signal(ts=now, rule=SYS_CHANNEL.id, subject=name, on=True, where=where, evidence=evidence)
            )


def redact(target: str) -> str:
    """A target fit for an alarm and a log: scheme and host, and the last 4 characters of a token; a phone
    number shows its first 3 and last 4 digits (138****0000)."""
    target = mask_numbers(target)
    scheme, _, rest = target.partition("://")
    host = rest.split("/")[0].split("?")[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host[:40]}…{target[-4:]}" if len(target) > 12 else f"{scheme}://…"
