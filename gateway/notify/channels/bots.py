"""Chat bots (DingTalk, WeCom, Feishu), spoken to directly rather than through apprise: they answer HTTP 200
with an `errcode` when they refuse a message, which apprise reports as sent (docs/reliability.md). Their
rate limits and text sizes are declared here; a keyword or signature refusal is permanent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace, post
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    pass


BOT_HOSTS = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token={}",
    "wecombot": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={}",
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={}",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/{}",
}
BOT_RATE_LIMITED = {130101, 45009, 9499, 11232}
"""DingTalk 'sending too fast', WeCom 'api freq out of limit', Feishu's rate limits: retry in a minute."""
BOT_TEXT_BYTES = {"dingtalk": 18000, "wecombot": 2048, "wecom": 2048, "feishu": 30000}
"""The most text a bot takes in one message (UTF-8 bytes): WeCom's group bot refuses text over 2,048 bytes
(errcode 40058), DingTalk's and Feishu's limits are ~20,000 characters and 30 KB of request."""


def text_limit(channel: str, target: str) -> int | None:
    """How many bytes of text one message on this channel and target may carry; None for no limit."""
    if channel != BotChannel.name:
        return None
    kind = bot_kind(target)
    return BOT_TEXT_BYTES.get(kind[0]) if kind else None


def bot_kind(url: str) -> tuple[str, str] | None:
    """(kind, https URL) for a bot URL: `dingtalk://TOKEN` (apprise's form) or `dingtalk+https://…` (the
    webhook address the bot's settings page shows, prefixed); None for anything else."""
    scheme, _, rest = url.partition("://")
    base, plus, transport = scheme.partition("+")
    if base not in BOT_HOSTS:
        return None
    if plus:
        return base, f"{transport}://{rest}"
    return base, BOT_HOSTS[base].format(rest.strip("/").split("/")[0])


class BotChannel(ChannelTraits):
    """A staff group's bot: paced per bot (its rate limit is the group's, whoever posts), its text capped
    at what the bot takes."""

    name = "bot"
    pace: Pace = "target"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def circuit(self, target: str) -> str:
        return f"bot:{target}"

    def claims(self, address: str) -> bool:
        return bot_kind(address) is not None

    def text_limit(self, target: str) -> int | None:
        return text_limit(self.name, target)

    async def send(self, d: Delivery, message: Message) -> Outcome:
        kind = bot_kind(d.target)
        if kind is None:
            return Outcome(False, error=f"not a bot URL: {d.target}")
        flavour, url = kind
        content = messages.text(message)
        if flavour == "feishu":
            body: dict[str, Any] = {"msg_type": "text", "content": {"text": content}}
        else:
            body = {"msgtype": "text", "text": {"content": content}}
        outcome, response = await post(self.client, url, json=body)
        if not outcome.ok or response is None:
            return outcome
        try:
            answer = response.json()
        except ValueError:
            return Outcome(False, retry=True, status=response.status_code, error="bot answered no JSON")
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code in (0, None):
            return outcome
        error = f"bot errcode {code}: {answer.get('errmsg') or answer.get('msg') or ''}"[:200]
        if code in BOT_RATE_LIMITED:
            return Outcome(False, retry=True, retry_after=60.0, status=response.status_code, error=error)
        # a keyword, signature or IP-list mismatch (DingTalk 310000), a bad key: no retry will change it
        return Outcome(False, refused=True, status=response.status_code, error=error)
