"""The channels, one file each: SMS and voice calls (Aliyun), WeChat and WeCom, vendor push (JPush), Web Push,
chat bots, apprise, the signed webhook, and MQTT for local sirens. A provider's protocol too large for its
channel's file has a sibling named after it (`aliyun.py`, `jpush_payload.py`, `wechat_push.py`,
`wechat_token.py`).

Each declares its traits (`base.Channel`) and answers `send(delivery, message)` with an `Outcome`; `base`
holds what they share. `build_channels` is the registry: the one place that knows which exist, in the
order a person's addresses are tried (their phones first, then the registry's URLs by the first channel
that claims each).
"""

from gateway.notify.channels.aliyun_sms import AliyunSmsChannel
from gateway.notify.channels.aliyun_voice import AliyunVoiceChannel
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
from gateway.notify.channels.jpush import JPushChannel
from gateway.notify.channels.mqtt import MqttChannel
from gateway.notify.channels.registry import build_channels
from gateway.notify.channels.webhook import WebhookChannel, webhook_signature
from gateway.notify.channels.webpush import PUSH_TTL, PUSH_URGENCY, WebPushChannel, encrypt_push
from gateway.notify.channels.wechat_oa import WeChatOfficialAccountChannel
from gateway.notify.channels.wecom_app import WeComAppChannel

__all__ = [
    "BOT_HOSTS",
    "BOT_TEXT_BYTES",
    "PUSH_TTL",
    "PUSH_URGENCY",
    "AliyunSmsChannel",
    "AliyunVoiceChannel",
    "AppriseChannel",
    "BotChannel",
    "Channel",
    "ChannelTraits",
    "JPushChannel",
    "MqttChannel",
    "Outcome",
    "Pace",
    "Receipt",
    "WeChatOfficialAccountChannel",
    "WeComAppChannel",
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
