"""Residents who follow the property's WeChat Official Account: a template message to `wechat://OPENID`.

Why template messages (`POST /cgi-bin/message/template/send`), not subscription notices:

- A template message goes to anyone who follows the account, whenever the account sends, with no consent
  per message. A gas or CO alarm comes without warning, repeats (again, unanswered, still unanswered) and
  must reach the resident every time.
- Subscription notices (`POST /cgi-bin/message/subscribe/bizsend`) need the resident's consent per template
  in a pop-up. A one-time subscription allows one message per consent: a test alarm would use it up, and
  the next real alarm would find the resident unreachable. Long-term subscriptions were opened only to
  government and other offline public services (medical care among them) when WeChat introduced them for
  mini programs in 2019; whether a property company's account qualifies for them we could not confirm, so
  they are not used here.
- The rules WeChat applies to template messages since 2023 (announced 24 and 30 March and 4 May, in force
  since 4 May 2023): the `first` and `remark` fields are no longer shown, custom colours are shown in the
  default colour and emoji as a box, marketing content is intercepted, and each shown line is cut at 20
  characters.
  Only verified service accounts may use template messages; the official page notes that service-account
  subscription notices are in a grey test while template messages work as before. So the message is
  its fields only, no colours, and the link does the rest: `url` is the alarm's acknowledgement page.

Fields. The template is chosen in the account's console, so which field holds what is configuration
(`WeChatTemplateFields`: what happened, where, when in the site's time, what to do, the alarm's id). Category
templates name their fields by type, and WeChat refuses a value over the type's limit (errcode 47003):
`thing` 20 characters, `character_string`, `number` and `letter` 32 (no Chinese), `symbol` 5, `phone_number`
17, `car_number` 8, `name` 10, `phrase` 5 Chinese characters, `const` only the values the platform approved.
Classic templates' `keywordN` fields are shown up to 20 characters. Every value is cut to its field's limit
here, so the cut is ours (with an ellipsis) and never a refusal.

Answers (the JSON `errcode`, HTTP is 200 throughout): 0 accepted, with a `msgid`; 43004 the resident no
longer follows the account: gone, forgotten until they follow again; 40003 an openid that is not this
account's: refused; 45009 (the daily quota), 45011 (the minute quota), 45047 (a downstream limit), -1
(busy): retried later; 40001/40014/42001
the token (`wechat_token`): refreshed once inside the send. `client_msg_id` is the delivery's reference: the
API sends one message per openid and `client_msg_id` for 10 minutes, so a retry after a timeout is not
shown twice.

Receipts. When a template message's job finishes, WeChat pushes an event to the account's server URL
(configured in the console under server configuration, with a Token): `TEMPLATESENDJOBFINISH` with the send's
`MsgID` and `Status` `success`, `failed:user block` (the resident turned off the account's messages) or
`failed: system failed`. Point that URL at the gateway's `POST /notify/receipts/wechat`; the endpoint passes
the raw body and, since WeChat signs the query string rather than the body, the query string in the header
mapping as `x-query`. `wechat_push` checks `signature` = sha1 of the sorted Token, `timestamp` and `nonce`, a
timestamp within 5 minutes, and a (timestamp, nonce) seen once; in safe mode (an EncodingAESKey set) also
`msg_signature` over the encrypted body, which it decrypts. Plain-text mode signs only the query, so safe
mode is the one to run in production. The channel keeps msgid -> our `delivery_ref` for the last 100,000
sends (in memory: events for sends before a restart are not matched and are ignored). The same endpoint
gets the account's `unsubscribe`/`subscribe` events, which forget and restore a resident's address. When the
server URL belongs to another system of the property, leave `callback_token` unset: the channel then does
not wait for receipts (`confirms_receipt` is off) and an accepted send is the delivery.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import urllib.parse
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gateway.config.providers import WeChatSettings
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace, Receipt, ReceiptState, delivery_ref
from gateway.notify.channels.wechat_push import ServerPushes
from gateway.notify.channels.wechat_token import AccessTokens, official_account_token
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

SCHEME = "wechat://"
SEVERITIES = ("P1", "P2", "P3", "P4")
DEFAULT_ZONE = "Asia/Shanghai"

FIELD_CHARS = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
    "const": 20,
}
"""Characters a category template's field takes, by the type its key starts with (`thing1`, `time3`);
classic `keywordN` fields and any other are shown up to 20."""
ASCII_FIELDS = ("character_string", "number", "letter", "symbol", "phone_number")
FORMATTED_FIELDS = ("time", "date", "amount")
SHOWN_CHARS = 20

RETRY_LATER = {-1: None, 45009: 300.0, 45011: 60.0, 45047: 60.0, 45066: 60.0}
"""Send answers worth another attempt, and the wait WeChat implies: busy, the daily template quota, the
minute quota, a downstream message limit, a client_msg_id retried too fast."""
REFUSALS = {
    40003: "not an openid of this account (another account's, or mistyped)",
    40037: "the template_id is not one of this account's templates",
    43019: "the resident is on the account's blacklist",
    47003: "a field does not fit the template (the field mapping does not match the template)",
    48001: "the account has no permission for template messages",
}

MSGIDS_KEPT = 100_000
EARLY_KEPT = 10_000

STATUS: dict[str, tuple[ReceiptState, str]] = {
    "success": ("delivered", ""),
    "failed:user block": ("failed", "the resident turned off this account's messages"),
    "failed: system failed": ("failed", "WeChat failed to deliver it"),
}


def openid_of(address: str) -> str | None:
    if not address.startswith(SCHEME):
        return None
    openid = address[len(SCHEME) :]
    if 1 <= len(openid) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in openid):
        return openid
    return None


def fit(key: str, value: str) -> str:
    """A value cut to what the template field `key` takes (see the module's notes on field types)."""
    kind = key.rstrip("0123456789")
    if kind in FORMATTED_FIELDS:
        return value
    if kind in ASCII_FIELDS:
        value = "".join(c for c in value if c.isascii() and c.isprintable())
        return value[: FIELD_CHARS[kind]]
    if kind == "phrase":
        return "".join(c for c in value if "\u4e00" <= c <= "\u9fff")[: FIELD_CHARS[kind]]
    limit = FIELD_CHARS.get(kind, SHOWN_CHARS)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class WeChatOfficialAccountChannel(ChannelTraits):
    """A resident's phone through the property's Official Account. Paced per recipient (their flood
    budget for P3/P4); delivered when WeChat's event says so, if the account's events reach the gateway."""

    name = "wechat"
    pace: Pace = "recipient"

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: WeChatSettings,
        timezones: Mapping[str, str] | None = None,
        *,
        tokens: AccessTokens | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`timezones`: the sites' zones (the directory's), for the time a resident reads; China's if unknown.
        `tokens`: the account's token cache when another part of the gateway shares it."""
        self.client = client
        self.settings = settings
        self.timezones = dict(timezones or {})
        self.clock = clock
        self.tokens = tokens or AccessTokens(
            client,
            official_account_token(
                settings.appid,
                settings.secret.get_secret_value(),
                base_url=settings.base_url,
                stable=settings.stable_token,
            ),
        )
        self.confirms_receipt = settings.callback_token is not None
        self._sent: OrderedDict[str, tuple[str, str]] = OrderedDict()  # msgid -> (delivery ref, openid)
        self._early: OrderedDict[str, tuple[str, Receipt]] = OrderedDict()  # msgid -> (openid, receipt)
        self._ready: dict[str, Receipt] = {}  # delivery ref -> a receipt that came before its send's answer
        self._lock = threading.Lock()  # the receipts endpoint may run on a worker thread
        self._forgotten: dict[str, float] = {}  # openid -> when it unfollowed
        token, aes_key = settings.callback_token, settings.encoding_aes_key
        self.pushes = ServerPushes(
            token.get_secret_value() if token is not None else None,
            aes_key.get_secret_value() if aes_key is not None else None,
            settings.appid,
            clock,
        )

    def circuit(self, target: str) -> str:
        return f"wechat:{target}"

    def claims(self, address: str) -> bool:
        # An openid that unfollowed stays this channel's (no later channel could reach it either): its
        # sends answer gone at once, without a request, until the resident follows again.
        return openid_of(address) is not None

    async def forget(self, target: str) -> None:
        openid = openid_of(target)
        if openid is not None:
            self._forgotten[openid] = self.clock()

    def _unfollowed(self, openid: str) -> bool:
        at = self._forgotten.get(openid)
        if at is None:
            return False
        if self.clock() - at > self.settings.forget_hours * 3600:
            del self._forgotten[openid]  # they may have followed again without our hearing of it: try once
            return False
        return True

    def template_id(self, severity: str) -> str:
        tid = self.settings.template_id
        if isinstance(tid, str):
            return tid
        return next((v for k, v in tid.items() if k == severity), tid["P1"])

    def data(self, message: Message) -> dict[str, dict[str, str]]:
        """The template's fields, Chinese: what, where, when (the site's time), what to do, the alarm."""
        title = message.title_zh or message.title
        what, sep, place = title.rpartition(" — ")
        if not sep:
            what, place = title, ""
        site = message.site
        if not place:  # a digest names no one household: its first message's building, or the site
            place = (message.building if message.digest else message.household) or message.building
        where = f"{site} {place}" if place and place != site else site
        zone = zoneinfo.ZoneInfo(self.timezones.get(site, DEFAULT_ZONE))
        when = dt.datetime.fromtimestamp(message.ts or self.clock(), zone)
        action = message.body_zh.split("\n")[0] or {
            "cleared": "报警已解除",
            "acknowledged": "已有人确认处理",
        }.get(message.transition, "请尽快查看处理")
        values = {
            "what": what,
            "where": where,
            "when": when.strftime("%Y-%m-%d %H:%M"),
            "action": action,
            "alarm_id": message.alarm_id,
        }
        mapping = self.settings.fields.model_dump()
        return {key: {"value": fit(key, values[name])} for name, key in mapping.items() if key}

    def request(self, d: Delivery, message: Message, openid: str) -> dict[str, Any]:
        body: dict[str, Any] = {"touser": openid, "template_id": self.template_id(d.severity)}
        ack_url = message.ack_url
        if ack_url:
            body["url"] = ack_url
        mp = self.settings.miniprogram
        if mp is not None:
            quote = urllib.parse.quote
            page = mp.pagepath.format(
                alarm_id=quote(d.alarm_id, safe=""), ack_url=quote(ack_url or "", safe="")
            )
            body["miniprogram"] = {"appid": mp.appid, "pagepath": page}
        body["client_msg_id"] = delivery_ref(d.key)
        body["data"] = self.data(message)
        return body

    async def send(self, d: Delivery, message: Message) -> Outcome:
        openid = openid_of(d.target)
        if openid is None:
            return Outcome(False, refused=True, error=f"not a wechat:// openid: {d.target[:80]}")
        if self._unfollowed(openid):
            return Outcome(False, gone=True, error="the resident no longer follows the account")
        answer = await self.tokens.call("/cgi-bin/message/template/send", self.request(d, message, openid))
        if isinstance(answer, Outcome):
            return answer
        code = int(answer.get("errcode") or 0)
        error = f"wechat errcode {code}: {str(answer.get('errmsg', ''))[:160]}"
        if code in (0, 45065):  # 45065: this client_msg_id went out already (a retry after a timeout)
            msgid = answer.get("msgid")
            if msgid is not None:
                self._remember(str(msgid), delivery_ref(d.key), openid)
            return Outcome(True, status=200)
        if code == 43004:
            return Outcome(False, gone=True, status=200, error=f"{error} (the resident unfollowed)")
        if code in RETRY_LATER:
            return Outcome(False, retry=True, retry_after=RETRY_LATER[code], status=200, error=error)
        hint = REFUSALS.get(code, "refused")
        return Outcome(False, refused=True, status=200, error=f"{error} ({hint})")

    def _remember(self, msgid: str, ref: str, openid: str) -> None:
        with self._lock:
            self._sent[msgid] = (ref, openid)
            self._sent.move_to_end(msgid)
            while len(self._sent) > MSGIDS_KEPT:
                self._sent.popitem(last=False)
            early = self._early.pop(msgid, None)
            if early is not None and early[0] == openid:
                self._ready[ref] = Receipt(ref, early[1].state, early[1].at, early[1].detail)

    async def poll(self, sent: list[Delivery]) -> list[Receipt]:
        """Receipts whose push arrived before the send's own answer was read (WeChat pushes on its own
        schedule): kept here until asked for."""
        with self._lock:
            return [r for d in sent if (r := self._ready.pop(delivery_ref(d.key), None)) is not None]

    # -- the account's pushes ------------------------------------------------------------------------------
    def verify_url(self, query: str) -> str:
        """The console's check of the server URL: the echostr to answer with (`wechat_push`)."""
        return self.pushes.verify_url(query)

    def receipt_reply(self) -> tuple[str, bytes]:
        """WeChat wants `success` (or an empty body) within 5 s, else it pushes the event again."""
        return "text/plain", b"success"

    def receipts(self, body: bytes, headers: Mapping[str, str]) -> list[Receipt]:
        """Receipts from the account's pushes (`x-query` carries the query string WeChat signed), verified
        and read once by `wechat_push`; the follow events forget and restore a resident's address."""
        fields = self.pushes.read(body, headers)
        if fields is None or fields.get("MsgType") != "event":
            return []
        event = fields.get("Event", "")
        openid = fields.get("FromUserName", "")
        if event == "unsubscribe" and openid:
            self._forgotten[openid] = self.clock()
        elif event == "subscribe" and openid:
            self._forgotten.pop(openid, None)
        if event.upper() != "TEMPLATESENDJOBFINISH":
            return []
        msgid = fields.get("MsgID", fields.get("MsgId", ""))
        status = fields.get("Status", "")
        state, detail = STATUS.get(status, ("failed", status))
        try:
            at = float(fields.get("CreateTime") or self.clock())
        except ValueError:
            at = self.clock()
        with self._lock:
            sent = self._sent.get(msgid)
            if sent is None:
                # Not (yet) ours: a push faster than our reading of the send's answer, one for a send
                # before a restart, or another system's on the account. Kept a while for `poll`.
                self._early[msgid] = (openid, Receipt("", state, at, detail))
                while len(self._early) > EARLY_KEPT:
                    self._early.popitem(last=False)
                return []
        if sent[1] != openid:
            return []
        return [Receipt(sent[0], state, at, detail)]
