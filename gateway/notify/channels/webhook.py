"""The control room's signed webhook: every transition as JSON, `X-Guardian-Signature: sha256=HMAC(secret,
timestamp + "." + body)`, `X-Guardian-Timestamp`, and an `Idempotency-Key`."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import TYPE_CHECKING

import httpx

from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome, post
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from alerts.signals import Transition


def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=` HMAC of `timestamp.body`: the receiver checks it and rejects old timestamps (replays)."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookChannel(ChannelTraits):
    """Every transition to each configured URL (the control room's systems), whoever the rules chose."""

    name = "webhook"

    def __init__(self, client: httpx.AsyncClient, secret: bytes, urls: list[str]) -> None:
        self.client = client
        self.secret = secret
        self.urls = list(urls)

    def broadcast(self, t: Transition) -> list[str]:
        return self.urls

    def circuit(self, target: str) -> str:
        return f"webhook:{target}"

    async def send(self, d: Delivery, message: Message) -> Outcome:
        body = messages.payload(message, d.key)
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": d.key,
            "X-Guardian-Timestamp": stamp,
            "X-Guardian-Signature": webhook_signature(self.secret, stamp, body),
        }
        outcome, _ = await post(self.client, d.target, content=body, headers=headers)
        return outcome
