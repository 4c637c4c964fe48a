"""The registry of channels: the one place that knows which exist, in the order a person's addresses are
tried (the addresses channels hold themselves first, then the registry's URLs by the first channel that
claims each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from gateway.config.settings import NotifySettings
from gateway.errors import ConfigError
from gateway.notify.channels.apprise import AppriseChannel
from gateway.notify.channels.base import Channel
from gateway.notify.channels.bots import BotChannel
from gateway.notify.channels.mqtt import MqttChannel
from gateway.notify.channels.webhook import WebhookChannel
from gateway.notify.channels.webpush import WebPushChannel

if TYPE_CHECKING:
    from gateway.mqtt import MqttSession
    from gateway.notify.subscriptions import Subscriptions


def build_channels(
    settings: NotifySettings,
    client: httpx.AsyncClient,
    vapid_pem: bytes,
    subscriptions: Subscriptions,
    session: MqttSession | None = None,
) -> dict[str, Channel]:
    """Every channel the settings ask for, by name, in the order routes are tried."""
    channels: list[Channel] = [
        WebPushChannel(client, vapid_pem, settings.vapid_subject, subscriptions, settings.push_hosts),
        BotChannel(client),
        AppriseChannel(client),
    ]
    if settings.webhooks:
        if settings.webhook_secret is None:
            raise ConfigError(
                "notify.webhooks are set but notify.webhook_secret is not: webhooks are always signed"
            )
        secret = settings.webhook_secret.get_secret_value().encode()
        channels.append(WebhookChannel(client, secret, list(settings.webhooks)))
    if session is not None and settings.mqtt_alarms:
        channels.append(MqttChannel(session))
    return {c.name: c for c in channels}
