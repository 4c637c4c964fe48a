"""What the HTTP side asks of a notifier: the single box's running `Notifier`, or an API replica's reader.

The routes (acknowledgement links, push enrolment, an alarm's timeline and "who was reached", people's
channel preferences) need only this much. On one box the running notifier answers; an API replica of a
district (`guardian run --role api`) sends nothing and answers from the district's PostgreSQL outbox, with
acknowledgements published into the alarm's partition stream (`gateway.district.replica`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from gateway.config.settings import NotifySettings
from gateway.notify.channels import Channel
from gateway.notify.channels.base import ChannelTraits
from gateway.notify.preferences import Preferences
from gateway.notify.shortlinks import ShortLinks
from gateway.notify.subscriptions import Subscriptions
from gateway.subscription import Subscription
from gateway.tokens import Signer


class NotifierFace(Protocol):
    channels: dict[str, Channel]
    signer: Signer
    settings: NotifySettings
    clock: Callable[[], float]
    preferences: Preferences
    subscriptions: Subscriptions
    short_links: ShortLinks | None

    @property
    def subscribe_key(self) -> str | None: ...

    def personal_channels(self) -> list[str]: ...

    def confirm(self, key: str, recipient: str, alarm_id: str | None) -> bool: ...

    async def acknowledge_link(self, token: str) -> Sequence[object]: ...

    async def acknowledge(self, alarm_id: str, by: str) -> Sequence[object]: ...

    async def subscribe(self, sub: Subscription) -> None: ...

    async def remove_subscription(self, sub_id: str) -> None: ...

    async def receipts(self, channel: str, body: bytes, headers: Mapping[str, str]) -> tuple[str, bytes]: ...

    async def reached(self, alarm_ids: list[str]) -> dict[str, list[str]]: ...

    async def deliveries(self, alarm_id: str) -> list[dict[str, Any]]: ...

    async def timeline(self, alarm_id: str) -> list[dict[str, Any]]: ...


def personal_channels(channels: Mapping[str, Channel]) -> list[str]:
    """The channels that can reach a person (they hold addresses or claim the registry's), in the order
    routes are tried: what a person may put in order. Those taking only broadcasts are not."""

    def personal(c: Channel) -> bool:
        kind: Any = type(c)
        return kind.addresses is not ChannelTraits.addresses or kind.claims is not ChannelTraits.claims

    return [name for name, c in channels.items() if personal(c)]
