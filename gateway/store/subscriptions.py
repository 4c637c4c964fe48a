"""Phones' push subscriptions in the relational store: with the person they belong to, where the API and a
district's several gateways find them. Earlier versions kept them in the notifier's outbox file; the first
start moves them here."""

from __future__ import annotations

import logging
from dataclasses import astuple, fields

from sqlalchemy import delete, select

from gateway.store.db import Store
from gateway.store.schema import PushSubscription
from gateway.subscription import Subscription, SubscriptionStore

log = logging.getLogger(__name__)
_FIELDS = [f.name for f in fields(Subscription)]


class PushSubscriptions:
    """The notifier's `SubscriptionStore` (gateway.subscription), on the relational store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def subscribe(self, sub: Subscription) -> None:
        async with self.store.session() as session, session.begin():
            await session.merge(PushSubscription(**dict(zip(_FIELDS, astuple(sub), strict=True))))

    async def unsubscribe(self, sub_id: str) -> None:
        async with self.store.session() as session, session.begin():
            await session.execute(delete(PushSubscription).where(PushSubscription.id == sub_id))

    async def subscriptions(self) -> list[Subscription]:
        async with self.store.session() as session:
            rows = (await session.scalars(select(PushSubscription))).all()
        return [Subscription(**{f: getattr(r, f) for f in _FIELDS}) for r in rows]

    async def adopt(self, outbox: SubscriptionStore) -> int:
        """Move the subscriptions an older version kept in the outbox (once: they are removed there)."""
        old = await outbox.subscriptions()
        for sub in old:
            await self.subscribe(sub)
            await outbox.unsubscribe(sub.id)
        if old:
            log.info("%d push subscription(s) moved from the outbox to the store", len(old))
        return len(old)
