"""Who is told in a district: the notifier's parts an instance builds once, and each partition's own.

An instance builds the channels, the link signer and the push subscriptions once (the secrets shared through
the store, so a link one instance signed is good on another); each partition it owns gets a notifier of its
own over the partition's fenced outbox (`gateway.district.outbox`) and an alarm book over its sites, both
in the district's store. Notifications need that store on PostgreSQL (`store.url`): an instance without one
keeps alarms in the time-series store only and notifies nobody, and says so at start.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.exc import SQLAlchemyError

from alerts.alarm import Alarm as LiveAlarm
from alerts.signals import Acknowledgement, Transition
from gateway.config.settings import NotifySettings
from gateway.district.outbox import Fence, PartitionOutbox, shared_secret
from gateway.errors import ConfigError, StoreError
from gateway.influx.linequeue import LineQueue, LineWriter
from gateway.notify.channels import Channel
from gateway.notify.channels.registry import build_channels
from gateway.notify.directory import Directory
from gateway.notify.notifier import Notifier
from gateway.notify.oncall import OnCall
from gateway.notify.preferences import Preferences
from gateway.notify.setup import _vapid_pem
from gateway.notify.subscriptions import Subscriptions
from gateway.observe.metrics import Metrics
from gateway.store.alarm_book import AlarmBook
from gateway.store.db import Store
from gateway.store.duty import load_shifts
from gateway.store.preferences import PreferenceTable
from gateway.store.subscriptions import PushSubscriptions
from gateway.tokens import Signer

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NotifyParts:
    """What every partition's notifier on this instance shares."""

    store: Store
    settings: NotifySettings
    channels: dict[str, Channel]
    signer: Signer
    subscriptions: Subscriptions
    metrics: Metrics
    on_call: OnCall
    """The duty roster from the district's store: escalation goes to whoever is on duty, as on one box."""

    async def refresh(self) -> None:
        """Keep the roster and the phones current: every `roster_refresh` seconds, the shifts around now and
        the push subscriptions are read again from the store (phones are enrolled through the API, in
        another process). A store that does not answer keeps what is held until the next round."""
        while True:
            await asyncio.sleep(random.uniform(0.8, 1.0) * self.settings.roster_refresh)
            try:
                await self.subscriptions.refresh()
            except (StoreError, SQLAlchemyError, OSError) as exc:
                held = len(self.subscriptions)
                log.warning("push subscriptions not reread (%s); keeping the %d held", exc, held)


async def notify_parts(
    settings: NotifySettings, store: Store, client: httpx.AsyncClient, timezones: dict[str, str]
) -> NotifyParts:
    """`client`: the HTTP client every channel sends through (`gateway.notify.setup.http_client`)."""
    if settings.link_secret is not None:
        secret = settings.link_secret.get_secret_value().encode()
    else:
        secret = await shared_secret(store, "link")
    try:
        signer = Signer(secret)
    except ValueError as exc:
        raise ConfigError(f"notify.link_secret: {exc}") from exc
    vapid = await shared_secret(store, "vapid", _vapid_pem)
    subscriptions = await Subscriptions.load(PushSubscriptions(store), tuple(settings.push_hosts))
    channels = build_channels(settings, client, vapid, subscriptions, None, timezones)
    metrics = Metrics()
    on_call = OnCall(
        lambda now: load_shifts(store, now),
        clock=time.time,
        fallbacks=metrics.duty_fallbacks,
        period=settings.roster_refresh,
    )
    return NotifyParts(store, settings, channels, signer, subscriptions, metrics, on_call)


@dataclass(slots=True)
class PartitionAlerting:
    """One partition's alarm book and notifier, and the fence both write behind."""

    fence: Fence
    outbox: PartitionOutbox
    book: AlarmBook
    notifier: Notifier


def partition_alerting(
    parts: NotifyParts,
    partition: int,
    sites: list[str],
    directory: Directory,
    fence: Fence,
    lines: LineWriter,
    *,
    clock: Callable[[], float],
    acknowledge: Callable[[Acknowledgement], Awaitable[list[Transition]]],
    live_alarms: Callable[[], list[LiveAlarm]],
) -> PartitionAlerting:
    """`lines`: where notification points go (the partition's fenced time-series writes); `acknowledge`:
    the partition engine's own (the worker applies acknowledgements read from the stream)."""
    outbox = PartitionOutbox(parts.store, partition, fence)
    notifier = Notifier(
        directory.with_on_call(parts.on_call),
        outbox,
        parts.channels,
        parts.signer,
        parts.settings,
        LineQueue(lines, parts.metrics.notify_lines_dropped),
        parts.metrics,
        clock=clock,
        acknowledge=acknowledge,
        subscriptions=parts.subscriptions,
        preferences=Preferences(PreferenceTable(parts.store).all, parts.settings.preferences_seconds),
        fence=fence,
    )
    book = AlarmBook(parts.store, clock=clock, live_alarms=live_alarms, sites=sites, fence=fence.hold)
    return PartitionAlerting(fence, outbox, book, notifier)
