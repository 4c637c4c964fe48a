"""What a person reads: short, bilingual, saying what to do first. Pure functions of the transition.

The titles and first actions come from the rule rows (`alerts/rules/`): a rule's texts live with the rule."""

from __future__ import annotations

from typing import Any

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


def render(t: Transition) -> dict[str, Any]:
    """The message every channel builds on; links and recipient are added per delivery."""
    rule = RULES[t.rule]
    place = t.where.household or t.where.unit or t.where.building or t.where.site
    en_state, zh_state = STATE[t.transition]
    en_action, zh_action = rule.action, rule.action_zh
    if t.transition in ("acknowledged", "cleared"):
        en_action, zh_action = (f"By {t.by}." if t.by else "", f"处理人：{t.by}。" if t.by else "")
    return {
        "alarm_id": t.alarm_id,
        "rule": t.rule,
        "severity": str(t.severity),
        "transition": t.transition,
        "ts": round(t.ts, 3),
        "site": t.where.site,
        "building": t.where.building,
        "household": t.where.household,
        "subject": t.subject,
        "title": f"{t.severity} {en_state}{rule.title} — {place}",
        "body": en_action,
        "title_zh": f"{t.severity} {zh_state}{rule.title_zh} — {place}",
        "body_zh": zh_action,
    }


def text(message: dict[str, Any]) -> str:
    """Plain text for bots, SMS and email: Chinese first (the residents' language), then English."""
    lines = [message["title_zh"], message["body_zh"], message["title"], message["body"]]
    if message.get("ack_url"):
        lines.append(f"确认 / Acknowledge: {message['ack_url']}")
    return "\n".join(line for line in lines if line)


def digest(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """Several messages for one target merged into one (a flood, or a bot's rate limit)."""
    by_building: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        by_building.setdefault(m.get("building") or m["site"], []).append(m)
    worst = min(m["severity"] for m in messages)
    lines_en = [f"{b}: " + "; ".join(m["title"] for m in ms) for b, ms in sorted(by_building.items())]
    lines_zh = [f"{b}：" + "；".join(m["title_zh"] for m in ms) for b, ms in sorted(by_building.items())]
    first = messages[0]
    return {
        **first,
        "severity": worst,
        "digest": [m["alarm_id"] for m in messages],
        "ack_url": None,
        "title": f"{worst} {len(messages)} alarms",
        "body": "\n".join(lines_en),
        "title_zh": f"{worst} {len(messages)} 条报警",
        "body_zh": "\n".join(lines_zh),
    }
