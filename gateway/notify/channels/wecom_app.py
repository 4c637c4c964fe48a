"""Staff (property, grid officers, maintenance) through the property's own WeCom app: `wecom-app://USERID`.

Not the group bot (`bots.py`): an app message (`POST /cgi-bin/message/send`) reaches one member on their
phone, comes from the app they see in WeCom and opens the acknowledgement link in WeCom's browser.

Message type. A `textcard` when there is an acknowledgement link: the card's button opens it, which is what
a member on duty needs first. Its limits (WeCom cuts anything longer): title 128 bytes, description 512
bytes (`<div class="gray|highlight|normal">` and `<br>` allowed), url 2,048 bytes, button text 4
characters. A card needs a url, so a message without a link (a digest, a follow-up) goes as `text` (2,048
bytes). Values are cut here to those limits, on a character's boundary, so the cut is ours and keeps the
alarm's id. Members who read WeCom messages in WeChat get only text, cut at 20 bytes, from an app set to
"always open the home page in the workbench": that setting must stay off for this app.

Idempotency. `enable_duplicate_check: 1` with `duplicate_check_interval` (WeCom's default 1,800 s, at most
4 hours): WeCom shows a message with the same request JSON only once within the interval. A retry after a
timeout is therefore not shown twice, as long as it sends the same bytes: the body is built from the
delivery alone (its time to the second, the alarm's id, never the time of the attempt), and the token
travels in the query string, not the JSON. The interval defaults to the maximum, longer than the notifier
keeps retrying; two different transitions never share a body (their times and titles differ).

Answers (HTTP 200, judged by `errcode`): 0 sent, unless `invaliduser` (or `unlicenseduser`) names the
member: the member is not in the app's visible range, or has left; 81013 when every recipient is invalid,
which for one member is the same: refused, for that member. 45009 (over the API's frequency) and 45033 (too
many concurrent calls) are retried; token errors refresh the token once (`wechat_token`). WeCom also drops,
without saying so, more than 30 messages a minute (1,000 an hour) from one app to one member, so this
channel is paced per target like a bot: beyond the budget a burst becomes one digest.
"""

from __future__ import annotations

import datetime as dt
import html
import zoneinfo
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.config.providers import WeComSettings
from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace
from gateway.notify.channels.wechat_token import AccessTokens, wecom_token
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

SCHEME = "wecom-app://"
DEFAULT_ZONE = "Asia/Shanghai"
TITLE_BYTES = 128
DESCRIPTION_BYTES = 512
URL_BYTES = 2048
TEXT_BYTES = 2048
USERID_CHARS = "_-@."

RETRY_LATER = {-1: None, 45009: 60.0, 45011: 60.0, 45033: 1.0}
"""Busy, over the call frequency, over the minute quota, too many concurrent calls."""
REFUSALS = {
    40003: "no such member",
    40033: "the request had \\uXXXX escapes",
    40056: "the agentid is not this app's",
    60020: "the gateway's IP is not among the app's trusted IPs",
    81013: "the member is not in the app's visible range, or has left",
}


def userid_of(address: str) -> str | None:
    """A member's UserID: 1-64 characters, letters, digits and `_-@.`, starting with a letter or digit (so
    never `@all`, never a `|` list of several)."""
    if not address.startswith(SCHEME):
        return None
    userid = address[len(SCHEME) :]
    if not 1 <= len(userid.encode()) <= 64 or not (userid[0].isascii() and userid[0].isalnum()):
        return None
    if all(c.isascii() and (c.isalnum() or c in USERID_CHARS) for c in userid):
        return userid
    return None


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-8 bytes, cut on a character, with an ellipsis when cut."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: max(limit - 3, 0)].decode(errors="ignore") + "…"


def div(css: str, text: str, room: int) -> str:
    """`text` escaped in a `<div class=css>` of at most `room` bytes, cut to fit; "" if nothing fits."""
    if not text:
        return ""
    budget = room - len(f'<div class="{css}"></div>'.encode())
    while budget > 3:
        piece = f'<div class="{css}">{html.escape(cut(text, budget), quote=False)}</div>'
        if len(piece.encode()) <= room:
            return piece
        budget -= len(piece.encode()) - room
    return ""


class WeComAppChannel(ChannelTraits):
    """A staff member's WeCom, through the property's app: one member per message, paced per member."""

    name = "wecom-app"
    pace: Pace = "target"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: WeComSettings,
        timezones: Mapping[str, str] | None = None,
        *,
        tokens: AccessTokens | None = None,
    ) -> None:
        """`timezones`: the sites' zones (the directory's) for the times staff read; China's if unknown.
        `tokens`: the app's token cache when another part of the gateway shares it."""
        self.client = client
        self.settings = settings
        self.timezones = dict(timezones or {})
        self.tokens = tokens or AccessTokens(
            client,
            wecom_token(settings.corpid, settings.corpsecret.get_secret_value(), base_url=settings.base_url),
        )

    def circuit(self, target: str) -> str:
        return f"wecom-app:{target}"

    def claims(self, address: str) -> bool:
        return userid_of(address) is not None

    def text_limit(self, target: str) -> int | None:
        return TEXT_BYTES

    def _when(self, message: Message) -> str:
        zone = zoneinfo.ZoneInfo(self.timezones.get(message.site, DEFAULT_ZONE))
        return dt.datetime.fromtimestamp(message.ts, zone).strftime("%Y-%m-%d %H:%M:%S")

    def textcard(self, message: Message, url: str) -> dict[str, Any]:
        """Chinese first: the action highlighted, then when and where, the English, the alarm's id. The
        time and the id are never cut: they make the card's JSON unique to its transition."""
        site, building = message.site, message.building
        where = " ".join(x for x in (site, building) if x)
        when_where = div("gray", f"{self._when(message)} {where}", DESCRIPTION_BYTES)
        ident = div("gray", message.alarm_id, DESCRIPTION_BYTES)
        room = DESCRIPTION_BYTES - len(when_where.encode()) - len(ident.encode())
        head = div("highlight", message.body_zh, room)
        english = " ".join((message.title, message.body)).strip()
        tail = div("normal", english, room - len(head.encode()))
        title = message.title_zh or message.title
        return {
            "title": cut(title, TITLE_BYTES),
            "description": head + when_where + tail + ident,
            "url": url,
            "btntxt": self.settings.button,
        }

    def request(self, message: Message, userid: str) -> dict[str, Any]:
        body: dict[str, Any] = {"touser": userid, "agentid": self.settings.agentid}
        url = message.ack_url or ""
        if url and len(url.encode()) <= URL_BYTES:
            body["msgtype"] = "textcard"
            body["textcard"] = self.textcard(message, url)
        else:
            stamp = f"\n{self._when(message)} {message.alarm_id}".rstrip()
            text = cut(messages.text(message), TEXT_BYTES - len(stamp.encode()))
            body["msgtype"] = "text"
            body["text"] = {"content": text + stamp}  # the stamp never cut: it keeps the JSON unique
        body["enable_duplicate_check"] = 1
        body["duplicate_check_interval"] = self.settings.duplicate_check_interval
        return body

    async def send(self, d: Delivery, message: Message) -> Outcome:
        userid = userid_of(d.target)
        if userid is None:
            return Outcome(False, refused=True, error=f"not a wecom-app:// UserID: {d.target[:80]}")
        answer = await self.tokens.call("/cgi-bin/message/send", self.request(message, userid))
        if isinstance(answer, Outcome):
            return answer
        code = int(answer.get("errcode") or 0)
        error = f"wecom errcode {code}: {str(answer.get('errmsg', ''))[:160]}"
        if code == 0:
            invalid = {
                u.strip().lower()
                for key in ("invaliduser", "unlicenseduser")
                for u in str(answer.get(key) or "").split("|")
                if u.strip()
            }
            if userid.lower() in invalid:
                return Outcome(
                    False,
                    refused=True,
                    status=200,
                    error=f"wecom: {userid} is {REFUSALS[81013]} (invaliduser)",
                )
            return Outcome(True, status=200)
        if code in RETRY_LATER:
            return Outcome(False, retry=True, retry_after=RETRY_LATER[code], status=200, error=error)
        return Outcome(False, refused=True, status=200, error=f"{error} ({REFUSALS.get(code, 'refused')})")
