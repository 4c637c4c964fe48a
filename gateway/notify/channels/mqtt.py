"""MQTT for local sirens and panels: each alarm transition on `guardian/{site}/alarm/{id}`, QoS 1."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway.notify.channels.base import Outcome
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from gateway.mqtt import MqttSession


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
