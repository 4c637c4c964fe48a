"""The channels: Web Push, chat bots, apprise, a signed webhook, and MQTT for local sirens.

Every channel answers one question per attempt, an `Outcome`: delivered, worth retrying (and when), or not
(and why). The notifier does the retrying, pacing and fallback; channels stay small and stateless apart
from their HTTP connection pools.

Web Push: http_ece for the RFC 8291 encryption (with an ephemeral P-256 key, as pywebpush does it) and
py_vapid for the RFC 8292 JWT, sent with the shared httpx client. pywebpush itself is not used: its senders
either block (requests) or open an aiohttp session per message, and importing it (it brings both) cost
25 MB of RSS. The modules are imported here, at start: a first import inside a send cost the first alarm
300 ms in `make bench`.
Bots (DingTalk, WeCom, Feishu) are spoken to directly rather than through apprise: they answer HTTP 200 with
an `errcode` when they refuse a message, which apprise reports as sent (docs/reliability.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import apprise
import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from gateway.errors import EndpointRefused
from gateway.httpheaders import retry_after
from gateway.notify import messages
from gateway.notify.endpoints import check_before_send
from gateway.notify.outbox import Delivery, Subscription

if TYPE_CHECKING:
    from gateway.mqtt import MqttSession


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool = False
    """Worth another attempt (5xx, timeout, 429, a bot's rate limit)."""
    retry_after: float | None = None
    gone: bool = False
    """The target no longer exists (Web Push 404/410): forget it."""
    refused: bool = False
    """The receiver refuses this target for good (a bot's keyword or signature check): a health problem
    someone must fix, not a retry."""
    ambiguous: bool = False
    """No answer in time: the message may have arrived. Retried at most once, after waiting longer."""
    status: int | None = None
    error: str = ""


class Channel(Protocol):
    name: str
    follow_ups: bool
    """Whether acknowledged/cleared notices go out on this channel (not to SMS or email)."""

    def circuit(self, target: str) -> str: ...

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome: ...


def http_outcome(response: httpx.Response) -> Outcome:
    s = response.status_code
    if 200 <= s < 300:
        return Outcome(True, status=s)
    error = f"HTTP {s}: {response.text[:200]}"
    if s in (404, 410):
        return Outcome(False, gone=True, status=s, error=error)
    if s in (408, 425, 429) or s >= 500:
        return Outcome(False, retry=True, retry_after=retry_after(response), status=s, error=error)
    return Outcome(False, status=s, error=error)


async def post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> tuple[Outcome, httpx.Response | None]:
    """POST and judge the answer by its status; the response too, for channels that read the body."""
    try:
        response = await client.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        return Outcome(False, retry=True, ambiguous=True, error=f"timeout: {type(exc).__name__}"), None
    except httpx.HTTPError as exc:
        return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}"), None
    return http_outcome(response), response


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


# -- Web Push ---------------------------------------------------------------------------------------------
PUSH_TTL = {"P1": 3600, "P2": 3600, "P3": 6 * 3600, "P4": 24 * 3600}
"""Seconds a push service keeps a message for an offline phone: an hour-old P1 is still worth seeing."""
PUSH_URGENCY = {"P1": "high", "P2": "high", "P3": "normal", "P4": "low"}


class WebPushChannel:
    name = "webpush"
    follow_ups = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        vapid_pem: bytes,
        subject: str,
        subscriptions: dict[str, Subscription],
        push_hosts: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.push_hosts = tuple(push_hosts)
        self.vapid = Vapid.from_pem(vapid_pem)
        self.subject = subject
        self.subscriptions = subscriptions
        self._headers: dict[str, tuple[float, dict[str, str]]] = {}

    @property
    def public_key(self) -> str:
        """The applicationServerKey a browser subscribes with (base64url, uncompressed P-256 point)."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def circuit(self, target: str) -> str:
        # one phone's subscription: a broken one never holds another resident's alarm
        return f"webpush:{target}"

    def _vapid(self, endpoint: str) -> dict[str, str]:
        """Signed once an hour per push service, valid for 12 h (RFC 8292 allows at most 24 h)."""
        parts = urllib.parse.urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._headers.get(audience)
        if cached is None or cached[0] < now:
            headers = self.vapid.sign({"sub": self.subject, "aud": audience, "exp": int(now) + 12 * 3600})
            cached = (now + 3600, dict(headers))
            self._headers[audience] = cached
        return cached[1]

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome:
        sub = self.subscriptions.get(d.target)
        if sub is None:
            return Outcome(False, gone=True, error="subscription removed")
        try:
            await check_before_send(sub.endpoint, self.push_hosts)
        except EndpointRefused as exc:
            return Outcome(False, gone=True, error=f"endpoint refused: {exc}")
        payload = json.dumps(
            {**message, "delivery": d.key}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        body = encrypt_push(payload, sub.p256dh, sub.auth)
        headers = {
            "TTL": str(PUSH_TTL.get(d.severity, 3600)),
            "Urgency": PUSH_URGENCY.get(d.severity, "normal"),
            # One notification per alarm on the phone: later transitions replace the earlier one.
            "Topic": base64.urlsafe_b64encode(hashlib.sha256(d.alarm_id.encode()).digest()[:24]).decode(),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            **self._vapid(sub.endpoint),
        }
        outcome, _ = await post(self.client, sub.endpoint, content=body, headers=headers)
        return outcome


def encrypt_push(payload: bytes, p256dh: str, auth: str) -> bytes:
    """RFC 8291 `aes128gcm` for one subscription: a fresh ECDH key per message, a salt by http_ece."""
    return bytes(
        http_ece.encrypt(
            payload,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            dh=_unpadded_b64(p256dh),
            auth_secret=_unpadded_b64(auth),
            version="aes128gcm",
        )
    )


def _unpadded_b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# -- chat bots ------------------------------------------------------------------------------------------
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
    if channel != "bot":
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


class BotChannel:
    name = "bot"
    follow_ups = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def circuit(self, target: str) -> str:
        return f"bot:{target}"

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome:
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


# -- apprise (ntfy, email, SMS gateways, json://, ...) ---------------------------------------------------
class AppriseChannel:
    """Anything apprise can reach. Its generic JSON webhooks (`json://`, `jsons://`) are sent here instead,
    in apprise's own wire format, read from apprise's own parsing of the URL: apprise answers only True or
    False, so a 429's Retry-After, a 5xx and a timeout would look alike, and its blocking request goes on
    in its thread after we stop waiting (the cause of repeated copies to a slow receiver)."""

    name = "apprise"
    follow_ups = False

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.client = client
        self._senders: dict[str, Any] = {}

    def circuit(self, target: str) -> str:
        # one address: five failures of one resident's address never hold another's alarm on that host
        return f"apprise:{target}"

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome:
        sender = self._senders.get(d.target)
        if sender is None:
            sender = apprise.Apprise.instantiate(d.target)
            if sender is None:
                return Outcome(False, error="apprise does not understand this URL")
            self._senders[d.target] = sender
        kind = apprise.NotifyType.FAILURE if d.severity in ("P1", "P2") else apprise.NotifyType.WARNING
        title = f"{message['title_zh']} / {message['title']}"
        body = messages.text(message)
        if self.client is not None and type(sender).__name__ == "NotifyJSON":
            return await self._json(sender, d, title, body, kind.value)
        ok = await sender.async_notify(body=body, title=title, notify_type=kind)
        return Outcome(True) if ok else Outcome(False, retry=True, error="apprise reported a failure")

    async def _json(self, plugin: Any, d: Delivery, title: str, body: str, kind: str) -> Outcome:
        assert self.client is not None
        payload: dict[str, Any] = {"version": plugin.json_version, "title": title, "message": body}
        payload.update(attachments=[], type=kind)
        for key, value in plugin.payload_extras.items():  # apprise's `:key=value`: add, rename or drop
            if key in payload:
                if value:
                    payload[value] = payload[key]
                del payload[key]
            else:
                payload[key] = value
        url = f"{'https' if plugin.secure else 'http'}://{plugin.host}"
        if isinstance(plugin.port, int):
            url += f":{plugin.port}"
        url += plugin.fullpath
        headers = {"User-Agent": plugin.app_id, "Content-Type": "application/json", **plugin.headers}
        headers["Idempotency-Key"] = d.key
        auth = (plugin.user, plugin.password or "") if plugin.user else None
        try:
            response = await self.client.request(
                plugin.method,
                url,
                content=json.dumps(payload, ensure_ascii=False).encode(),
                params=plugin.params,
                headers=headers,
                auth=auth,
            )
        except httpx.TimeoutException as exc:
            return Outcome(False, retry=True, ambiguous=True, error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}")
        return http_outcome(response)


# -- webhook --------------------------------------------------------------------------------------------
def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` HMAC of `timestamp.body`: the receiver checks it and rejects old timestamps (replays)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel:
    name = "webhook"
    follow_ups = True

    def __init__(self, client: httpx.AsyncClient, secret: bytes) -> None:
        self.client = client
        self.secret = secret

    def circuit(self, target: str) -> str:
        return f"webhook:{target}"

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome:
        body = json.dumps({**message, "delivery": d.key}, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": d.key,
            "X-Guardian-Timestamp": stamp,
            "X-Guardian-Signature": webhook_signature(self.secret, stamp, body),
        }
        outcome, _ = await post(self.client, d.target, content=body, headers=headers)
        return outcome


# -- MQTT -----------------------------------------------------------------------------------------------
class MqttChannel:
    """`guardian/{site}/alarm/{alarm_id}`, QoS 1, not retained (one retained message per alarm id would grow
    without bound): sirens and valve controllers keep a persistent session to get what they missed."""

    name = "mqtt"
    follow_ups = True

    def __init__(self, session: MqttSession) -> None:
        self.session = session

    def circuit(self, target: str) -> str:
        return "mqtt"

    async def send(self, d: Delivery, message: dict[str, Any]) -> Outcome:
        if not self.session.connected:
            return Outcome(False, retry=True, error="broker not connected")
        payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            await self.session.publish(d.target, payload, qos=1)
        except ConnectionError as exc:
            return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}")
        return Outcome(True)
