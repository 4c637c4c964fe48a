"""Phones' push subscriptions: who has which, kept in the store, looked up per person when planning.

One object shared by the push channel (its addresses, forgetting a gone endpoint) and the enrolment route
(adding a phone), so the index by person has one home.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator, ValuesView

from gateway.notify.endpoints import check_endpoint
from gateway.subscription import Subscription, SubscriptionStore

log = logging.getLogger(__name__)


class Subscriptions:
    def __init__(
        self, store: SubscriptionStore, known: list[Subscription], push_hosts: tuple[str, ...]
    ) -> None:
        self.store = store
        self.push_hosts = push_hosts
        self._by_id = {s.id: s for s in known}
        self._by_person: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sub in known:
            self._by_person[(sub.site, sub.person)].append(sub.id)

    @classmethod
    async def load(cls, store: SubscriptionStore, push_hosts: tuple[str, ...] = ()) -> Subscriptions:
        return cls(store, await store.subscriptions(), push_hosts)

    async def refresh(self) -> int:
        """Read every subscription from the store again (a process that did not enrol a phone learns of it
        here: a district's instances, whose phones are enrolled through the API replicas); how many."""
        known = await self.store.subscriptions()
        by_person: dict[tuple[str, str], list[str]] = defaultdict(list)
        for sub in known:
            by_person[(sub.site, sub.person)].append(sub.id)
        self._by_id, self._by_person = {s.id: s for s in known}, by_person
        return len(known)

    def get(self, sub_id: str) -> Subscription | None:
        return self._by_id.get(sub_id)

    def of(self, site: str, person: str) -> list[str]:
        return list(self._by_person.get((site, person), ()))

    def values(self) -> ValuesView[Subscription]:
        return self._by_id.values()

    def __contains__(self, sub_id: object) -> bool:
        return sub_id in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    async def add(self, sub: Subscription) -> None:
        """Raises EndpointRefused for an endpoint that is not a push service's (gateway.notify.endpoints)."""
        check_endpoint(sub.endpoint, self.push_hosts)
        await self.store.subscribe(sub)
        if sub.id not in self._by_id:
            self._by_person[(sub.site, sub.person)].append(sub.id)
        self._by_id[sub.id] = sub

    async def remove(self, sub_id: str) -> None:
        sub = self._by_id.pop(sub_id, None)
        if sub is not None:
            log.info("push subscription %s of %s removed (gone at the push service)", sub_id, sub.person)
            with contextlib.suppress(ValueError):
                self._by_person[(sub.site, sub.person)].remove(sub_id)
        await self.store.unsubscribe(sub_id)
