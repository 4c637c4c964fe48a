"""What a person reads: short, bilingual, saying what to do first. Pure functions of the transition."""

from __future__ import annotations

from typing import Any

from alerts.catalog import RULES
from alerts.signals import Transition

ZH_TITLES = {
    "CO-1": "一氧化碳报警",
    "CO-2": "消音后一氧化碳仍然偏高",
    "CO-3": "请通风：一氧化碳小时均值偏高",
    "CO-4": "易感人员碳氧血红蛋白估计偏高",
    "GAS-1": "燃气泄漏（一级）",
    "GAS-2": "燃气泄漏（二级）",
    "GAS-3": "燃气浓度上升",
    "HLT-1": "探测器离线",
    "HLT-2": "探测器故障、被拆或被移除",
    "HLT-3": "探测器电量低",
    "HLT-4": "探测器到达使用寿命",
    "HLT-5": "探测器读数卡住",
    "DR-1": "门被强行打开",
    "DR-2": "门长时间未关",
    "DR-3": "尾随进入",
    "DR-4": "反复反潜回",
    "DR-5": "多次拒绝通行",
    "DR-6": "人脸活体检测失败",
    "DR-7": "胁迫报警",
    "DR-8": "门禁读头被破坏",
    "DR-9": "门禁终端离线",
    "WEL-1": "独居老人长时间未出门",
    "WEL-2": "多次夜间外出",
    "WEL-3": "家中无人但有燃气或一氧化碳",
    "SYS-CHATTER": "报警抖动：已延长延时",
    "SYS-FLOOD": "报警过多：已合并为事件",
    "SYS-UNACKED": "一级报警无人确认",
    "SYS-UNREACHED": "紧急报警未能通知到任何人",
    "SYS-CHANNEL": "通知渠道拒收消息",
}
ACTION = {
    "CO-1": ("Open windows, leave the home, call 119.", "立即开窗，离开房间，拨打119。"),
    "CO-2": ("CO is still high: leave the home now.", "一氧化碳仍然偏高：请立即离开。"),
    "GAS-1": (
        "Close the gas valve, no flames or switches, open windows.",
        "关闭燃气阀，勿动明火和电器开关，开窗通风。",
    ),
    "GAS-2": (
        "Leave now; do not touch switches; call 119 from outside.",
        "立即撤离，勿动电器开关，到室外拨打119。",
    ),
    "WEL-1": ("Please check on the resident.", "请联系或上门查看老人。"),
    "WEL-3": ("Nobody is home and gas or CO is present.", "家中无人但检测到燃气或一氧化碳。"),
}
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
    en_action, zh_action = ACTION.get(t.rule, ("", ""))
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
        "title_zh": f"{t.severity} {zh_state}{ZH_TITLES.get(t.rule, rule.title)} — {place}",
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
