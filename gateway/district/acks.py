"""Acknowledgements in a district: a message in the alarm's partition stream, applied by its owner in order.

An acknowledgement changes rule state (an acknowledged alarm stops escalating, its follow-ups go out), so it
must reach the engine that owns the alarm, in order with the readings around it, and again on a replay from
an older snapshot. Whoever takes it (the API, a channel's acknowledgement link, on any instance) publishes
it (`publish_ack`, `publish_ack_link`) to `guardian_ack.{site}`, a subject of the site's partition stream
outside the devices' `guardian.>` tree (a device's NATS/MQTT permissions never reach it). The owner reads it
between the readings it came among and acknowledges with the time the message carries, so a replay
acknowledges at the same time and plans the same follow-up keys. A publish retried after a lost reply
carries the same `Nats-Msg-Id` and is kept once.
"""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext

from alerts.signals import Acknowledgement
from gateway.tokens import Signer

ACK_ROOT = "guardian_ack"


class AckMessage(msgspec.Struct, frozen=True):
    """What an acknowledgement carries through the stream."""

    alarm_id: str
    by: str
    ts: float


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(AckMessage).decode


def ack_subject(site: str) -> str:
    return f"{ACK_ROOT}.{site}"


def ack_subjects(sites: list[str]) -> list[str]:
    """The acknowledgement subjects a partition's stream holds besides its sites' device topics."""
    return sorted(ack_subject(site) for site in sites)


def is_ack(subject: str) -> bool:
    return subject.startswith(ACK_ROOT + ".")


def site_of(alarm_id: str) -> str:
    """An alarm id starts with its site (`alerts.alarm.alarm_id`)."""
    site, sep, _ = alarm_id.partition(":")
    if not sep or not site:
        raise ValueError(f"not an alarm id: {alarm_id!r}")
    return site


async def publish_ack(js: JetStreamContext, alarm_id: str, by: str, ts: float) -> int:
    """Into the alarm's partition stream; returns the stream sequence. Raises ValueError for something
    that is not an alarm id, and NATS's errors when no stream takes the site (an unknown site)."""
    site = site_of(alarm_id)
    body = _encode(AckMessage(alarm_id, by, ts))
    headers = {"Nats-Msg-Id": f"ack:{alarm_id}:{by}:{round(ts * 1000)}"}
    ack = await js.publish(ack_subject(site), body, headers=headers)
    return int(ack.seq)


async def publish_ack_link(js: JetStreamContext, signer: Signer, token: str, *, now: float) -> int:
    """An acknowledgement link opened (`/ack/{token}`, from any channel's message): checked with the
    district's link secret (shared through the store, so a link any instance signed is good here), then
    published as the person's acknowledgement. Raises `gateway.errors.TokenError` for a link that is not
    ours or has expired."""
    claims = signer.verify(token, "ack", now=now)
    return await publish_ack(js, claims.alarm_id, claims.recipient, now)


def read_ack(data: bytes) -> Acknowledgement | None:
    """The acknowledgement a stream message holds; None for one that is not (it is skipped and counted)."""
    try:
        m = _decode(data)
    except msgspec.DecodeError:
        return None
    if not m.alarm_id or not m.by:
        return None
    return Acknowledgement(ts=m.ts, by=m.by, alarm_id=m.alarm_id)
