"""Web Push (RFC 8291 encryption, RFC 8292 VAPID), sent with the shared httpx client.

http_ece for the encryption (with an ephemeral P-256 key, as pywebpush does it) and py_vapid for the JWT.
pywebpush itself is not used: its senders either block (requests) or open an aiohttp session per message,
and importing it (it brings both) cost 25 MB of RSS. The modules are imported here, at start: a first
import inside a send cost the first alarm 300 ms in `make bench`. Endpoints are checked against the known
push services again before each send (after DNS resolution): no request forgery through subscriptions.
"""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import http_ece
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

from gateway.errors import EndpointRefused
from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace, post
from gateway.notify.endpoints import check_before_send
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from gateway.notify.directory import Recipient
    from gateway.notify.subscriptions import Subscriptions


PUSH_TTL = {"P1": 3600, "P2": 3600, "P3": 6 * 3600, "P4": 24 * 3600}
"""Seconds a push service keeps a message for an offline phone: an hour-old P1 is still worth seeing."""
PUSH_URGENCY = {"P1": "high", "P2": "high", "P3": "normal", "P4": "low"}


class WebPushChannel(ChannelTraits):
    """Best effort where Google's FCM is reachable: Chrome on Android subscribes through it, and it is not
    reachable from mainland China (docs/notifications.md). Paced per recipient; delivered only when the
    phone's service worker confirms it showed the notification."""

    name = "webpush"
    confirms_receipt = True
    pace: Pace = "recipient"

    def __init__(
        self,
        client: httpx.AsyncClient,
        vapid_pem: bytes,
        subject: str,
        subscriptions: Subscriptions,
        push_hosts: Sequence[str] = (),
    ) -> None:
        self.client = client
        self.push_hosts = tuple(push_hosts)
        self.vapid = Vapid.from_pem(vapid_pem)
        self.subject = subject
        self.subscriptions = subscriptions
        self._headers: dict[str, tuple[float, dict[str, str]]] = {}

    @property
    def subscribe_key(self) -> str | None:
        return self.public_key

    @property
    def public_key(self) -> str:
        """The applicationServerKey a browser subscribes with (base64url, uncompressed P-256 point)."""
        raw = self.vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def addresses(self, site: str, recipient: Recipient) -> list[str]:
        return self.subscriptions.of(site, recipient.id)

    async def forget(self, target: str) -> None:
        await self.subscriptions.remove(target)

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

    async def send(self, d: Delivery, message: Message) -> Outcome:
        sub = self.subscriptions.get(d.target)
        if sub is None:
            return Outcome(False, gone=True, error="subscription removed")
        try:
            await check_before_send(sub.endpoint, self.push_hosts)
        except EndpointRefused as exc:
            return Outcome(False, gone=True, error=f"endpoint refused: {exc}")
        body = encrypt_push(messages.payload(message, d.key), sub.p256dh, sub.auth)
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
