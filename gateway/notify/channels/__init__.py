"""The channels, one file each: Web Push, chat bots, apprise, the signed webhook, and MQTT for local sirens.

Each declares its traits (`name`, `follow_ups`, its circuit key) and answers `send(delivery, message)` with
an `Outcome`; `base` holds what they share.
"""

from gateway.notify.channels.apprise import AppriseChannel
from gateway.notify.channels.base import Channel, Outcome, http_outcome, post
from gateway.notify.channels.bots import BOT_HOSTS, BOT_TEXT_BYTES, BotChannel, bot_kind, text_limit
from gateway.notify.channels.mqtt import MqttChannel
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
    "MqttChannel",
    "Outcome",
    "WebPushChannel",
    "WebhookChannel",
    "bot_kind",
    "encrypt_push",
    "http_outcome",
    "post",
    "text_limit",
    "webhook_signature",
]
