"""MQTT for local sirens and panels: each alarm transition on `guardian/{site}/alarm/{id}`, QoS 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerts.rules import RULES
from gateway.notify import messages
from gateway.notify.channels.base import ChannelTraits, Outcome
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery

if TYPE_CHECKING:
    from alerts.signals import Transition
    from gateway.mqtt import MqttSession


class MqttChannel(ChannelTraits):
    """`guardian/{site}/alarm/{alarm_id}`, QoS 1, not retained (one retained message per alarm id would grow
    without bound): sirens and valve controllers keep a persistent session to get what they missed."""

    name = "mqtt"

    def __init__(self, session: MqttSession) -> None:
        self.session = session

    def broadcast(self, t: Transition) -> list[str]:
        """Every alarm's topic, except where a sound in the home endangers someone (duress: `siren`)."""
        return [f"guardian/{t.where.site}/alarm/{t.alarm_id}"] if RULES[t.rule].siren else []

    def circuit(self, target: str) -> str:
        return "mqtt"

    async def send(self, d: Delivery, message: Message) -> Outcome:
        if not self.session.connected:
            return Outcome(False, retry=True, error="broker not connected")
        payload = messages.payload(message)
        try:
            await self.session.publish(d.target, payload, qos=1)
        except ConnectionError as exc:
            return Outcome(False, retry=True, error=f"{type(exc).__name__}: {exc}")
        return Outcome(True)
