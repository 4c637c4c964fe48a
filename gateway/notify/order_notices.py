"""What people are told of a work order, as data: the requester when her order is claimed and when it is
resolved, staff when a clock passes 50 %, 80 % and 100 % (督办). Texts live here beside the alarm texts the
rule rows carry (`gateway.notify.messages`), Chinese first; categories are named in words, never by code.

A notice is not an alarm. It takes the P3 path (the first channel, the others standing by as fallbacks,
quiet hours respected), except a P1 order's escalation (a gas smell nobody took), which goes now on every
channel. A notice cannot be acknowledged, so a channel's later ladder step (a voice call that waits for an
acknowledgement) is only a fallback if the first channels fail. Its deliveries are keyed by the order and
the event it tells of (`order_id|event_id|recipient|channel|target`): a notice handed over again after a
restart plans the same keys, and the outbox keeps only the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import msgspec

from alerts.rule import Audience
from alerts.signals import Where
from gateway.notify.directory import Recipient
from gateway.notify.messages import Message
from gateway.notify.outbox import Delivery, State

if TYPE_CHECKING:
    from gateway.notify.planner import Planner

RULE = "work-order"
"""What a notice's deliveries carry where an alarm's carry a rule id (the outbox's and InfluxDB's `rule`)."""

CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    # category: (Chinese, English), as a person reads them
    "gas_smell": ("燃气异味", "gas smell"),
    "detector_fault": ("探测器故障", "detector fault"),
    "battery": ("探测器电池", "detector battery"),
    "end_of_life": ("探测器到期更换", "detector end of life"),
    "door_fault": ("门禁故障", "door fault"),
    "welfare_visit": ("独居老人探访", "welfare visit"),
    "repair": ("维修", "repair"),
    "other": ("其他求助", "other request"),
}

CLOCK_NAMES: dict[str, tuple[str, str, str]] = {
    # clock: (Chinese, the English verb, its participle)
    "claim": ("签收", "claim", "claimed"),
    "resolve": ("办结", "resolve", "resolved"),
}


@dataclass(frozen=True, slots=True)
class Level:
    """Who a clock's level escalates to, and whether the duty roster narrows them (at the notice's time)."""

    audience: Audience
    on_duty: bool
    who_zh: str
    who: str


LEVELS: dict[int, Level] = {
    # percent of a clock used: who hears of it
    50: Level(Audience.PROPERTY, True, "值班调度", "the dispatcher on duty"),
    80: Level(Audience.PROPERTY, False, "物业负责人", "the property team lead"),
    100: Level(Audience.GRID, True, "值班网格员", "the grid officer on duty"),
}
"""50 %: the control room's dispatcher on duty; 80 %: the property team (its lead among them: the registry
names no lead, so the whole team, roster or not); 100 %: the grid officer on duty for the building."""

Kind = Literal["claimed", "resolved", "escalated"]

TEXTS: dict[str, tuple[str, str, str, str]] = {
    # kind: (title_zh, body_zh, title, body); {category} {category_zh} {resolution} {app} {clock} {clock_zh}
    # {done} {level} {place} {order} {who} {who_zh} are filled in
    "claimed": (
        "您的{category_zh}报修已被接单",
        "工作人员已签收，将尽快处理。进度可在App「报修与求助」查看：{app}",
        "Your {category} request has been taken",
        "Staff have claimed it and will deal with it soon. Follow it in the app: {app}",
    ),
    "resolved": (
        "您的{category_zh}报修已处理完毕",
        "处理情况：{resolution}\n请在App「报修与求助」确认并评价（1-5星）；如仍有问题，可点「仍有问题」退回：{app}",
        "Your {category} request is done",
        "What was done: {resolution}\nPlease confirm and rate it (1-5 stars) in the app, or send it back if "
        "the problem remains: {app}",
    ),
    "escalated": (
        "督办{level}%：{category_zh}工单{clock_zh}时限已用{level}% — {place}",
        "工单 {order} 尚未{clock_zh}，请{who_zh}跟进。",
        "Escalation {level}%: {category} order, {level}% of the time to {clock} used — {place}",
        "Order {order} is not {done} yet; {who}, please follow it up.",
    ),
}
OVERDUE = (
    "督办：{category_zh}工单{clock_zh}已超时 — {place}",
    "工单 {order} 已超过{clock_zh}时限，请{who_zh}立即处理。",
    "Overdue: {category} order, past its time to {clock} — {place}",
    "Order {order} is past its time to {clock}; {who}, please act now.",
)
"""The 100 % level's texts: the clock ran out."""


NOTE = "督办：{clock_zh}时限已用 {level}% / escalated: {level}% of the time to {clock}"
"""An escalation as the order's timeline shows it (the event's note)."""


def timeline_note(clock: str, level: int) -> str:
    clock_zh, verb, _ = CLOCK_NAMES[clock]
    return NOTE.format(clock_zh=clock_zh, level=level, clock=verb)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """One order event someone is told of."""

    order_id: str
    event_id: int
    kind: Kind
    ts: float
    site: str
    building: str
    unit: str
    household: str
    category: str
    priority: str
    requester: str = ""
    """`site/person` for a person who asked (the notifier's recipient form); others are not told."""
    resolution: str = ""
    clock: str = ""
    level: int = 0

    @property
    def severity(self) -> str:
        return "P1" if self.kind == "escalated" and self.priority == "P1" else "P3"

    @property
    def where(self) -> Where:
        return Where(self.site, self.building, self.unit, self.household)


def render(n: Notice, app: str) -> Message:
    """The notice as people read it; `app` is the resident app's address."""
    zh, en = CATEGORY_NAMES.get(n.category, CATEGORY_NAMES["other"])
    texts = OVERDUE if n.kind == "escalated" and n.level >= 100 else TEXTS[n.kind]
    level = LEVELS.get(n.level)
    clock_zh, clock, done = CLOCK_NAMES.get(n.clock, ("", "", ""))
    fill = {
        "category": en, "category_zh": zh, "resolution": n.resolution or "-", "app": app, "clock": clock,
        "clock_zh": clock_zh, "done": done, "level": n.level, "order": n.order_id,
        "place": n.household or n.unit or n.building or n.site,
        "who": level.who if level else "", "who_zh": level.who_zh if level else "",
    }  # fmt: skip
    title_zh, body_zh, title, body = (t.format(**fill) for t in texts)
    return Message(
        alarm_id=n.order_id, rule=RULE, severity=n.severity, transition=n.kind, ts=round(n.ts, 3),
        site=n.site, building=n.building, household=n.household, subject=n.order_id, title=title, body=body,
        title_zh=title_zh, body_zh=body_zh,
    )  # fmt: skip


def recipients(planner: Planner, n: Notice) -> list[Recipient]:
    """The requester (a person, not an account) for her order's news; the level's audience for an
    escalation, narrowed to those on duty at the notice's own time where the level says so."""
    if n.kind != "escalated":
        site, _, person = n.requester.partition("/")
        if site != n.site or not person:
            return []
        r = planner.directory.person(site, person, Audience.RESIDENTS)
        return [] if r is None else [r]
    level = LEVELS[n.level]
    return planner.directory.resolve(n.where, (level.audience,), n.ts if level.on_duty else None)


def plan(planner: Planner, n: Notice, at: float) -> list[Delivery]:
    """Deliveries for one notice, through the alarms' routes, preferences and quiet hours."""
    app = f"{planner.settings.public_url.rstrip('/')}/app/"
    message = msgspec.structs.replace(render(n, app), decided_at=at)
    urgent = n.severity == "P1"
    out: list[Delivery] = []
    for r in recipients(planner, n):
        pref = planner.preferences.of(n.site, r.id)
        msg = message
        if pref is not None and pref.language != msg.language:
            msg = msgspec.structs.replace(msg, language=pref.language)
        quiet = planner.preferences.quiet(n.site, r.id)
        held = not urgent and (quiet is not None or r.at_home)
        not_before = planner.after_quiet(n.site, at, quiet) if held else at
        for rank, (channel, target, wait) in enumerate(planner.steps(n.site, n.severity, r, pref, False)):
            # nothing acknowledges a notice: a step that would wait for an acknowledgement is a fallback
            state: State = "queued" if rank == 0 or (urgent and wait == 0) else "standby"
            out.append(
                Delivery(
                    key=f"{n.order_id}|{n.event_id}|{r.id}|{channel}|{target}", alarm_id=n.order_id,
                    kind="notice", transition=n.kind, ts=n.ts, site=n.site, building=n.building, rule=RULE,
                    severity=n.severity, recipient=r.id, audience=str(r.audience), channel=channel,
                    target=target, rank=rank, state=state, next_at=not_before, queued_at=at, message=msg,
                )
            )  # fmt: skip
    return out
