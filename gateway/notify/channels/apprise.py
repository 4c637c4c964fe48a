"""Anything apprise can reach (ntfy, email, SMS gateways); its generic JSON webhooks (`json://`, `jsons://`)
are sent here with our own client so the status, Retry-After and an Idempotency-Key are honoured."""

from __future__ import annotations

import json
from typing import Any

import apprise
import httpx

from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome, Pace, http_outcome
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery


class AppriseChannel(ChannelTraits):
    """Anything apprise can reach. Its generic JSON webhooks (`json://`, `jsons://`) are sent here instead,
    in apprise's own wire format, read from apprise's own parsing of the URL: apprise answers only True or
    False, so a 429's Retry-After, a 5xx and a timeout would look alike, and its blocking request goes on
    in its thread after we stop waiting (the cause of repeated copies to a slow receiver)."""

    name = "apprise"
    follow_ups = False
    pace: Pace = "recipient"

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self.client = client
        self._senders: dict[str, Any] = {}

    def claims(self, address: str) -> bool:
        """Any registry address no earlier channel took: apprise says at send time if it cannot reach it."""
        return "://" in address

    def circuit(self, target: str) -> str:
        # one address: five failures of one resident's address never hold another's alarm on that host
        return f"apprise:{target}"

    async def send(self, d: Delivery, message: Message) -> Outcome:
        sender = self._senders.get(d.target)
        if sender is None:
            sender = apprise.Apprise.instantiate(d.target)
            if sender is None:
                return Outcome(False, error="apprise does not understand this URL")
            self._senders[d.target] = sender
        kind = apprise.NotifyType.FAILURE if d.severity in ("P1", "P2") else apprise.NotifyType.WARNING
        (first, _), (second, _) = messages.ordered(message)
        title = f"{first} / {second}"
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
