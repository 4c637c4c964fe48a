"""Rules about the system itself: raised by the lifecycle and the notifier, never by a device reading."""

from __future__ import annotations

from alerts.rule import GO, MT, P2, P3, P4, PM, Family, Rule

SYS_CHATTER = Rule(
    id="SYS-CHATTER", family=Family.SYSTEM, severity=P4, notify=(MT,), momentary=True,
    title="Alarm chattering: on-delay raised", title_zh="报警抖动：已延长延时",
)  # fmt: skip
SYS_FLOOD = Rule(
    id="SYS-FLOOD", family=Family.SYSTEM, severity=P3, notify=(PM,), momentary=True,
    title="Alarm flood: incident", title_zh="报警过多：已合并为事件",
)  # fmt: skip
SYS_CHANNEL = Rule(
    id="SYS-CHANNEL", family=Family.SYSTEM, severity=P3, notify=(MT, PM),
    title="A notification channel refuses its messages", title_zh="通知渠道拒收消息",
)  # fmt: skip
SYS_UNACKED = Rule(
    id="SYS-UNACKED", family=Family.SYSTEM, severity=P2, notify=(GO, PM),
    title="Nobody has acknowledged a P1 alarm", title_zh="一级报警无人确认",
)  # fmt: skip
SYS_UNREACHED = Rule(
    id="SYS-UNREACHED", family=Family.SYSTEM, severity=P2, notify=(GO, PM),
    title="An urgent alarm reached nobody", title_zh="紧急报警未能通知到任何人",
)  # fmt: skip
SYS_COST = Rule(
    id="SYS-COST", family=Family.SYSTEM, severity=P3, notify=(MT, PM), momentary=True,
    title="An urgent alarm went past a paid channel's cap", title_zh="紧急报警超出付费渠道限额",
)  # fmt: skip
"""SMS and calls cost money and numbers have daily caps; a P1/P2 goes out anyway, and someone is told."""
ROWS = (SYS_CHATTER, SYS_FLOOD, SYS_CHANNEL, SYS_UNACKED, SYS_UNREACHED, SYS_COST)
