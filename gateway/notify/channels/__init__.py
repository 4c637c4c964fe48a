"""The channels, one file each: Web Push, chat bots, apprise, the signed webhook, and MQTT for local sirens.

Each declares its traits (`base.Channel`) and answers `send(delivery, message)` with an `Outcome`; `base`
holds what they share. `build_channels` is the registry: the one place that knows which exist, in the
order a person's addresses are tried (their phones first, then the registry's URLs by the first channel
that claims each).
"""

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
from gateway.notify.channels.registry import build_channels
from gateway.notify.channels.webhook import WebhookChannel, webhook_signature
from gateway.notify.channels.webpush import PUSH_TTL, PUSH_URGENCY, WebPushChannel, encrypt_push

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
