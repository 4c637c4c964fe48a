"""The channels, one file each: Web Push, chat bots, apprise, the signed webhook, and MQTT for local sirens.

Each declares its traits (`base.Channel`) and answers `send(delivery, message)` with an `Outcome`; `base`
holds what they share. `build_channels` is the registry: the one place that knows which exist, in the
order a person's addresses are tried (their phones first, then the registry's URLs by the first channel
that claims each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from gateway.config.settings import NotifySettings
from gateway.errors import ConfigError
from gateway.notify.channels.apprise import AppriseChannel
from gateway.notify.channels.base import (
    Channel,
    ChannelTraits,
    Outcome,
    Pace,
    Receipt,
    delivery_ref,
    http_outcome,
    post,
)
from gateway.notify.channels.bots import BOT_HOSTS, BOT_TEXT_BYTES, BotChannel, bot_kind, text_limit
from gateway.notify.channels.mqtt import MqttChannel
from gateway.notify.channels.webhook import WebhookChannel, webhook_signature
from gateway.notify.channels.webpush import PUSH_TTL, PUSH_URGENCY, WebPushChannel, encrypt_push

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


__all__ = [
    "BOT_HOSTS",
    "BOT_TEXT_BYTES",
    "PUSH_TTL",
    "PUSH_URGENCY",
    "AppriseChannel",
    "BotChannel",
    "Channel",
    "ChannelTraits",
    "MqttChannel",
    "Outcome",
    "Pace",
    "Receipt",
    "WebPushChannel",
    "WebhookChannel",
    "bot_kind",
    "build_channels",
    "delivery_ref",
    "encrypt_push",
    "http_outcome",
    "post",
    "text_limit",
    "webhook_signature",
]
