"""A phone's push subscription, and what any keeper of them offers.

The notifier plans pushes from them, the API enrols them, the relational store keeps them and the
notifier's outbox kept them before it (and still does in the notifier's own tests). None of those should
reach into another for the record they share: the store sits below the notifier, and moving the phones
from the outbox to the store at start (`gateway.store.subscriptions`) must not make it import the
notifier. So the record and the keeper's interface live here, beside the roles, like `gateway.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    site: str
    person: str
    endpoint: str
    p256dh: str
    auth: str
    created: float
    agent: str = ""


class SubscriptionStore(Protocol):
    """Where phones' push subscriptions are kept: the relational store in the gateway, the outbox alone
    in the notifier's own tests."""

    async def subscribe(self, sub: Subscription) -> None: ...
    async def unsubscribe(self, sub_id: str) -> None: ...
    async def subscriptions(self) -> list[Subscription]: ...
