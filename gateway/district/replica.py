"""What an API replica (`guardian run --role api`) answers for the notifier: it sends nothing.

A replica holds no rules and no outbox of its own. An alarm's timeline and "who was reached" are read from
the district's PostgreSQL outbox (`OutboxReader`, read-only: the partition owners write it, fenced). An
acknowledgement, from the API or from a notification's link, is published into the alarm's partition stream
(`gateway.district.acks`) so the owner's engine applies it in order; the API then waits, a few seconds at
most, for the alarm book to show it, so the control room's button answers with the acknowledged alarm.
Push subscriptions enrolled here go to the store's table, where instances read them.

What a replica cannot do, and says so: a push receipt (`confirm`) and a provider's delivery receipt change
a live delivery the partition's owner holds in memory; the replica answers "not here" rather than write
the owner's fenced rows behind its back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import select

from gateway.district.acks import publish_ack, publish_ack_link
from gateway.district.notifying import NotifyParts
from gateway.district.outbox import OutboxReader
from gateway.errors import AckPending
from gateway.notify.face import personal_channels
from gateway.notify.masking import masked_address
from gateway.notify.preferences import Preferences
from gateway.notify.shortlinks import ShortLinks
from gateway.store.alarm_book import OPEN
from gateway.store.preferences import PreferenceTable
from gateway.store.schema import Alarm
from gateway.subscription import Subscription

ACK_WAIT = 5.0
"""Seconds the API waits for the partition's owner to apply an acknowledgement (it takes well under one
when the owner is up; an owner failing over takes the lease TTL and a tick)."""
ACK_POLL = 0.1


class ReplicaNotifier:
    """The `gateway.notify.face.NotifierFace` of an API replica."""

    def __init__(
        self,
        parts: NotifyParts,
        js: JetStreamContext,
        *,
        clock: Callable[[], float],
        ack_wait: float = ACK_WAIT,
    ) -> None:
        self.store = parts.store
        self.channels = parts.channels
        self.signer = parts.signer
        self.settings = parts.settings
        self.subscriptions = parts.subscriptions
        self.clock = clock
        self.js = js
        self.ack_wait = ack_wait
        self.reader = OutboxReader(parts.store)
        self.preferences = Preferences(PreferenceTable(parts.store).all, parts.settings.preferences_seconds)
        self.short_links: ShortLinks | None = None
        """A district's SMS carry the public address, not short codes (`notify_parts`)."""
        self.published = 0
        self.pending = 0
        """Acknowledgements published but not seen in the book within `ack_wait` (answered 202)."""

    @property
    def subscribe_key(self) -> str | None:
        return next((c.subscribe_key for c in self.channels.values() if c.subscribe_key), None)

    def personal_channels(self) -> list[str]:
        return personal_channels(self.channels)

    def confirm(self, key: str, recipient: str, alarm_id: str | None) -> bool:
        """A push receipt changes a delivery the owner holds live: not taken here (the route's 404)."""
        return False

    async def receipts(self, channel: str, body: bytes, headers: Mapping[str, str]) -> tuple[str, bytes]:
        raise ValueError("provider receipts are applied by the partition owners, not by an API replica")

    async def acknowledge_link(self, token: str) -> Sequence[object]:
        """Checked with the district's link secret and published; the owner applies it in order."""
        seq = await publish_ack_link(self.js, self.signer, token, now=self.clock())
        self.published += 1
        return [seq]

    async def acknowledge(self, alarm_id: str, by: str) -> Sequence[object]:
        """Published into the alarm's partition, then the alarm book watched until it shows the alarm
        acknowledged (or no longer open). Raises AckPending when it does not within `ack_wait`."""
        seq = await publish_ack(self.js, alarm_id, by, self.clock())
        self.published += 1
        if not await self.applied(alarm_id):
            self.pending += 1
            raise AckPending(f"{alarm_id}: acknowledgement taken (stream sequence {seq}), not applied yet")
        return [seq]

    async def applied(self, alarm_id: str) -> bool:
        query = select(Alarm.acked_ts, Alarm.state).where(Alarm.alarm_id == alarm_id)
        loop = asyncio.get_running_loop()
        until = loop.time() + self.ack_wait
        while True:
            async with self.store.session() as session:
                row = (await session.execute(query)).first()
            if row is None or row.acked_ts is not None or row.state not in OPEN:
                return True
            if loop.time() >= until:
                return False
            await asyncio.sleep(ACK_POLL)

    async def reload_subscriptions(self) -> int:
        """The store's push subscriptions read afresh: a phone enrolled through another replica is listed
        here too. Returns how many there are."""
        return await self.subscriptions.refresh()

    async def subscribe(self, sub: Subscription) -> None:
        """Into the store's push subscriptions (raises EndpointRefused for an endpoint that is not a push
        service's)."""
        await self.subscriptions.add(sub)

    async def remove_subscription(self, sub_id: str) -> None:
        await self.subscriptions.remove(sub_id)

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]:
        return await self.reader.reached(alarm_ids)

    async def deliveries(self, alarm_id: str) -> list[dict[str, Any]]:
        return [d.public() for d in await self.reader.deliveries_of(alarm_id)]

    async def timeline(self, alarm_id: str) -> list[dict[str, Any]]:
        return [
            d.public() | {"address": masked_address(d.target)}
            for d in await self.reader.deliveries_of(alarm_id)
        ]
