"""What a person reads: short, bilingual, saying what to do first. Pure functions of the transition.

The titles and first actions come from the rule rows (`alerts/rules/`): a rule's texts live with the rule.

A `Message` is rendered once per transition and crosses from the planner to every channel, the deliveries
book and the outbox. It is frozen: what one delivery adds (its acknowledgement link, a ladder step's time,
a digest's members) is a copy (`msgspec.structs.replace`), so one recipient's link never reaches another.
Fields left at their defaults are not encoded, so the JSON the sirens and the control room get is the
previous release's, field for field, and the outbox reads the rows that release wrote.
"""

from __future__ import annotations

import msgspec

from alerts.rules import RULES
from alerts.signals import Transition

STATE = {
    "raised": ("", ""),
    "updated": ("Again: ", "再次报警："),
    "escalated": ("Unanswered: ", "无人响应："),
    "reminded": ("Still unanswered: ", "仍无人确认："),
    "acknowledged": ("Handled: ", "已确认："),
    "cleared": ("Cleared: ", "已解除："),
}


class Message(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One transition as people read it, and what a delivery added to it."""

    alarm_id: str
    rule: str
    severity: str
    transition: str
    ts: float
    site: str
    building: str
    household: str
    subject: str
    title: str
    body: str
    title_zh: str
    body_zh: str
    decided_at: float | None = None
    """When the notifier planned it (the decision latency is measured from the transition to this)."""
    ack_url: str | None = None
    """The recipient's signed acknowledgement link (none for follow-ups, broadcasts and digests)."""
    ack: str | None = None
    """The link's token alone: a phone's service worker confirms receipt and acknowledges with it."""
    ladder_at: float | None = None
    """A later step of the escalation ladder goes at this time unless someone acknowledged first."""
    digest: tuple[str, ...] = ()
    """The alarms a digest carries, most severe first; empty for a message about one alarm."""
    own: Message | None = None
    """A digest's carrier: its own message, what it says again if the digest fails."""
    language: str = "zh"
    """The recipient's language, which the text puts first (gateway.preference); both are always there."""


class Payload(Message, frozen=True, kw_only=True, omit_defaults=True):
    """A message as it leaves the process in JSON (web push, the webhook, MQTT): the message's fields,
    then the delivery's key where the receiver answers or deduplicates by it."""

    delivery: str | None = None


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Message)


def render(t: Transition) -> Message:
    """The message every channel builds on; links and recipient are added per delivery."""
    rule = RULES[t.rule]
    place = t.where.household or t.where.unit or t.where.building or t.where.site
    en_state, zh_state = STATE[t.transition]
    en_action, zh_action = rule.action, rule.action_zh
    if t.transition in ("acknowledged", "cleared"):
        en_action, zh_action = (f"By {t.by}." if t.by else "", f"处理人：{t.by}。" if t.by else "")
    return Message(
        alarm_id=t.alarm_id,
        rule=t.rule,
        severity=str(t.severity),
        transition=t.transition,
        ts=round(t.ts, 3),
        site=t.where.site,
        building=t.where.building,
        household=t.where.household,
        subject=t.subject,
        title=f"{t.severity} {en_state}{rule.title} — {place}",
        body=en_action,
        title_zh=f"{t.severity} {zh_state}{rule.title_zh} — {place}",
        body_zh=zh_action,
    )


def ordered(message: Message) -> tuple[tuple[str, str], tuple[str, str]]:
    """(title, body) in the recipient's language, then in the other: Chinese first unless they chose
    English. A rendering choice: the message always carries both."""
    zh, en = (message.title_zh, message.body_zh), (message.title, message.body)
    return (en, zh) if message.language == "en" else (zh, en)


def title(message: Message) -> str:
    """The title in the recipient's language (the other's when that one is empty)."""
    (first, _), (second, _) = ordered(message)
    return first or second


def text(message: Message) -> str:
    """Plain text for bots, SMS and email: the recipient's language first (Chinese, the residents', unless
    they chose English), then the other."""
    (t1, b1), (t2, b2) = ordered(message)
    lines = [t1, b1, t2, b2]
    if message.ack_url:
        ack = "Acknowledge / 确认" if message.language == "en" else "确认 / Acknowledge"
        lines.append(f"{ack}: {message.ack_url}")
    return "\n".join(line for line in lines if line)


def digest(messages: list[Message]) -> Message:
    """Several messages for one target merged into one (a flood, or a bot's rate limit). It keeps the
    first message's alarm, place and token (a phone confirms it showed the digest with it), and no link:
    one link cannot acknowledge several alarms."""
    by_building: dict[str, list[Message]] = {}
    for m in messages:
        by_building.setdefault(m.building or m.site, []).append(m)
    worst = min(m.severity for m in messages)
    lines_en = [f"{b}: " + "; ".join(m.title for m in ms) for b, ms in sorted(by_building.items())]
    lines_zh = [f"{b}：" + "；".join(m.title_zh for m in ms) for b, ms in sorted(by_building.items())]
    return msgspec.structs.replace(
        messages[0],
        severity=worst,
        digest=tuple(m.alarm_id for m in messages),
        ack_url=None,
        title=f"{worst} {len(messages)} alarms",
        body="\n".join(lines_en),
        title_zh=f"{worst} {len(messages)} 条报警",
        body_zh="\n".join(lines_zh),
    )


def payload(message: Message, delivery: str | None = None) -> bytes:
    """The JSON a receiver gets: UTF-8, compact, without the notifier's own bookkeeping (the ladder's
    time, a carrier's own message)."""
    fields = msgspec.structs.asdict(message) | {"ladder_at": None, "own": None}
    return _ENCODER.encode(Payload(**fields, delivery=delivery))


def encode(message: Message) -> str:
    """The outbox's column: the message's JSON, as the previous release wrote it (a text column)."""
    return _ENCODER.encode(message).decode()


def decode(stored: str | bytes) -> Message:
    """A message from the outbox, this release's or the previous one's (the same JSON, read into the
    Struct; keys it no longer knows are ignored)."""
    return _DECODER.decode(stored)
