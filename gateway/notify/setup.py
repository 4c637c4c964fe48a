"""Assembling the notifier: keys from settings or the outbox, channels, HTTP client."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from py_vapid import Vapid

from alerts.signals import Acknowledgement, Signal, Transition
from gateway.config.settings import NotifySettings
from gateway.errors import ConfigError
from gateway.influx.linequeue import LineQueue
from gateway.mqtt import MqttSession
from gateway.net.tls import client_context
from gateway.notify.channels import build_channels
from gateway.notify.channels.registry import receipt_callbacks
from gateway.notify.directory import Directory
from gateway.notify.notifier import Notifier
from gateway.notify.outbox import OutboxStore
from gateway.notify.preferences import Preferences, Source
from gateway.notify.shortlinks import ShortLinks, ShortLinkStore
from gateway.notify.subscriptions import Subscriptions
from gateway.observe.metrics import Metrics
from gateway.subscription import SubscriptionStore
from gateway.tokens import Signer


async def link_signer(settings: NotifySettings, store: OutboxStore) -> Signer:
    """The configured link secret, or the one generated on first use and kept in the outbox."""
    if settings.link_secret is not None:
        secret = settings.link_secret.get_secret_value().encode()
    else:
        secret = await store.secret("link", lambda: secrets.token_bytes(32))
    try:
        return Signer(secret)
    except ValueError as exc:
        raise ConfigError(f"notify.link_secret: {exc}") from exc


async def enrolment_link(
    settings: NotifySettings, data_dir: Path, site: str, person: str, days: float
) -> str:
    """The link a person opens on their phone to receive alarms there (no account needed)."""
    async with OutboxStore(data_dir / "notify.sqlite3") as store:
        signer = await link_signer(settings, store)
    token = signer.sign("enroll", f"{site}/{person}", expires=time.time() + days * 86400)
    return f"{settings.public_url.rstrip('/')}/app/?enroll={token}"


async def receipt_urls(settings: NotifySettings, data_dir: Path) -> dict[str, str]:
    """The URL to give each configured provider for its receipts (its console's callback setting)."""
    async with OutboxStore(data_dir / "notify.sqlite3") as store:
        signer = await link_signer(settings, store)
    base = settings.public_url.rstrip("/")
    return {c: f"{base}/notify/receipts/{c}/{signer.callback_key(c)}" for c in receipt_callbacks(settings)}


def _vapid_pem() -> bytes:
    key = Vapid()
    key.generate_keys()
    return bytes(key.private_pem())


async def build_notifier(
    settings: NotifySettings,
    directory: Directory,
    store: OutboxStore,
    client: httpx.AsyncClient,
    lines: LineQueue,
    metrics: Metrics,
    *,
    clock: Callable[[], float],
    acknowledge: Callable[[Acknowledgement], Awaitable[list[Transition]]],
    subscription_store: SubscriptionStore | None = None,
    report: Callable[[Signal], object] | None = None,
    session: MqttSession | None = None,
    short_link_store: ShortLinkStore | None = None,
    preference_source: Source | None = None,
) -> Notifier:
    """The notifier with every channel the settings ask for (MQTT sirens over `session`, if given; SMS
    with short links if there is a `short_link_store`; people's preferences read from
    `preference_source` at start and every `preferences_seconds`)."""
    signer = await link_signer(settings, store)
    vapid = await store.secret("vapid", _vapid_pem)
    subscriptions = await Subscriptions.load(subscription_store or store, tuple(settings.push_hosts))
    short_links = (
        None
        if short_link_store is None
        else ShortLinks(short_link_store, signer, settings.public_url, clock=clock)
    )
    return Notifier(
        directory,
        store,
        build_channels(settings, client, vapid, subscriptions, session, directory.timezone, short_links),
        signer,
        settings,
        lines,
        metrics,
        clock=clock,
        acknowledge=acknowledge,
        subscriptions=subscriptions,
        report=report,
        short_links=short_links,
        preferences=Preferences(preference_source, settings.preferences_seconds),
    )


def http_client(timeout: float, ca_file: Path | None = None) -> httpx.AsyncClient:
    """One pooled client for every HTTP channel; no redirects (a webhook that redirects is misconfigured)."""
    return httpx.AsyncClient(
        verify=client_context(ca_file),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        follow_redirects=False,
        headers={"User-Agent": "gas-guardian/0.1"},
    )
