"""Pacing merges rather than drops: a bot over its ~20 messages a minute, or a person over their flood
budget of P3/P4, gets one digest per slot of everything that waited. P1/P2 to a person are never held.

What a delivery is paced by is its channel's declared trait (`pace`): the target (a token bucket per bot,
shared by every alarm posting there) or the recipient (a sliding window per person and channel).
"""

from __future__ import annotations

from collections import deque

import msgspec

from gateway.config.settings import NotifySettings
from gateway.notify import messages
from gateway.notify.book import Book
from gateway.notify.channels import Channel
from gateway.notify.outbox import Delivery

URGENT = ("P1", "P2")

PaceKey = tuple[str, str] | None
"""("target" | "recipient", the key), or None for a delivery that goes at once."""


class Pacing:
    def __init__(self, book: Book, channels: dict[str, Channel], settings: NotifySettings) -> None:
        self.book = book
        self.channels = channels
        self.settings = settings
        self.pacers: dict[str, deque[float]] = {}
        self.buckets: dict[str, tuple[float, float]] = {}  # target -> (tokens, when counted)

    def key(self, d: Delivery) -> PaceKey:
        pace = self.channels[d.channel].pace
        if pace == "target":
            return pace, f"{d.channel}:{d.target}"
        if pace == "recipient" and d.severity not in URGENT:
            return pace, f"person:{d.site}:{d.recipient}:{d.channel}"
        return None

    def paced(self, pace: PaceKey, batch: list[Delivery], now: float) -> list[Delivery]:
        """What may go now, most severe and oldest first: within the budget one by one, beyond it one digest;
        nothing when it is spent."""
        if pace is None:
            return batch
        batch.sort(key=lambda d: (d.severity, d.ts))
        kind, key = pace
        if kind == "target":
            return self._bucket(key, batch, now)
        limit, window = self.settings.flood_messages, self.settings.flood_window
        sent = self.pacers.setdefault(key, deque())
        while sent and sent[0] <= now - window:
            sent.popleft()
        room = limit - len(sent)
        if room <= 0:
            self.book.hold(batch, sent[0] + window)
            return []
        if len(batch) > room:
            batch = batch[: room - 1] + self.digest(batch[room - 1 :], None, now)
        sent.extend([now] * len(batch))
        return batch

    def _bucket(self, key: str, batch: list[Delivery], now: float) -> list[Delivery]:
        """A token bucket per target that never lets more than `bot_per_minute` through in any minute,
        retries and digests included: DingTalk blocks a bot for 10 minutes past ~20 a minute. A burst of a
        quarter of the budget, the rest spread over the minute."""
        limit = self.settings.bot_per_minute
        burst = max(1, limit // 4)
        rate = max(limit - burst, 1) / 60.0
        tokens, then = self.buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - then) * rate)
        room = int(tokens)
        if room <= 0:
            self.buckets[key] = (tokens, now)
            self.book.hold(batch, now + (1.0 - tokens) / rate)
            return []
        if len(batch) > room:
            first = batch[0]
            carrier = self.digest(
                batch[room - 1 :], self.channels[first.channel].text_limit(first.target), now
            )
            batch = batch[: room - 1] + carrier
        self.buckets[key] = (tokens - len(batch), now)
        return batch

    def digest(self, batch: list[Delivery], limit: int | None, now: float) -> list[Delivery]:
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
            # what the carrier says again if the digest fails
            carrier.message = msgspec.structs.replace(merged, own=original)
            self.book.followers.setdefault(carrier.key, []).extend(d.key for d in taken[1:])
            for d in taken[1:]:
                d.merged_into = carrier.key
                self.book.change(d, "merged", now)
        left = batch[len(taken) :]
        if left:
            self.book.hold(left, now + 1.0)
        return [carrier]
