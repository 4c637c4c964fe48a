"""The registry of channels: the one place that knows which exist, in the order a person's addresses are
tried (the addresses channels hold themselves first, then the registry's URLs by the first channel that
claims each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from gateway.config.settings import NotifySettings
from gateway.errors import ConfigError
from gateway.notify.channels.aliyun_sms import AliyunSmsChannel
from gateway.notify.channels.aliyun_voice import AliyunVoiceChannel
from gateway.notify.channels.apprise import AppriseChannel
from gateway.notify.channels.base import Channel
from gateway.notify.channels.bots import BotChannel
from gateway.notify.channels.jpush import JPushChannel
from gateway.notify.channels.mqtt import MqttChannel
from gateway.notify.channels.webhook import WebhookChannel
from gateway.notify.channels.webpush import WebPushChannel
from gateway.notify.channels.wechat_oa import WeChatOfficialAccountChannel
from gateway.notify.channels.wecom_app import WeComAppChannel

if TYPE_CHECKING:
    from gateway.mqtt import MqttSession
    from gateway.notify.shortlinks import ShortLinks
    from gateway.notify.subscriptions import Subscriptions


def build_channels(
    settings: NotifySettings,
    client: httpx.AsyncClient,
    vapid_pem: bytes,
    subscriptions: Subscriptions,
    session: MqttSession | None = None,
    timezones: dict[str, str] | None = None,
    short_links: ShortLinks | None = None,
) -> dict[str, Channel]:
    """Every channel the settings ask for, by name, in the order routes are tried."""
    channels: list[Channel] = [
        WebPushChannel(client, vapid_pem, settings.vapid_subject, subscriptions, settings.push_hosts)
    ]
    if settings.jpush is not None:
        channels.append(JPushChannel(client, settings.jpush))
    if settings.wechat is not None:
        channels.append(WeChatOfficialAccountChannel(client, settings.wechat, timezones))
    if settings.wecom is not None:
        channels.append(WeComAppChannel(client, settings.wecom, timezones))
    if settings.aliyun is not None:
        if settings.aliyun.sms_templates:
            channels.append(AliyunSmsChannel(client, settings.aliyun, links=short_links))
        if settings.aliyun.voice_tts_template:
            channels.append(AliyunVoiceChannel(client, settings.aliyun))
    # the chat bots, then apprise last: it claims any address no channel before it took
    channels += [BotChannel(client), AppriseChannel(client)]
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


def receipt_callbacks(settings: NotifySettings) -> list[str]:
    """The configured channels whose providers push receipts to a URL we give them (the rest are polled)."""
    out = []
    aliyun, wechat = settings.aliyun, settings.wechat
    if aliyun is not None and aliyun.sms_templates:
        out.append(AliyunSmsChannel.name)
    if aliyun is not None and aliyun.voice_tts_template:
        out.append(AliyunVoiceChannel.name)
    if wechat is not None and wechat.callback_token is not None:
        out.append(WeChatOfficialAccountChannel.name)
    return out
