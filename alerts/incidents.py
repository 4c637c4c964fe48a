"""One incident per hazard in a home: the alarms people act on once, with the rules kept underneath.

A gas leak fires GAS-3 as the level rises, GAS-1 at stage 1 and GAS-2 at stage 2: three alarms, one thing
happening in one kitchen. People see one incident with its worst severity, what to do about that hazard and
one acknowledgement; the alarms and their evidence stay as they are, for the control room and the record.

An incident is the alarms of one household whose rules share a hazard (`Rule.hazard`) and whose lives
overlap: an alarm raised while another of the same home and hazard is still open joins it; one raised after
all of them were over starts the next incident. An alarm on the `AIR` hazard (everyone left while gas or CO
is present) joins whichever gas or CO incident is open in that home, else stands as its own. Alarms of no
hazard (a detector's battery, a door, the system) are each an incident of one, so a resident's screen
lists incidents only.

Pure: the alarms in, the incidents out, ordered by severity then age. The same alarms give the same
incidents and ids, whichever order they come in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from alerts.rule import Hazard, Severity
from alerts.rules import RULES

OPEN_STATES = frozenset(("active", "acknowledged", "returned"))
"""An alarm in one of these still asks someone to act (the store's `OPEN`)."""


@dataclass(frozen=True, slots=True)
class Advice:
    """What a person does about a hazard, first things first; `call` is the emergency number to dial."""

    title: str
    title_zh: str
    steps: tuple[str, ...]
    steps_zh: tuple[str, ...]
    call: str


ADVICE: dict[Hazard, Advice] = {
    Hazard.GAS: Advice(
        title="Gas leak",
        title_zh="燃气泄漏",
        steps=(
            "Open the windows.",
            "Do not touch any switch, plug or flame; do not use the phone indoors.",
            "Close the gas valve if it is safe to reach.",
            "Leave the home; call 119 from outside.",
        ),
        steps_zh=(
            "打开门窗通风。",
            "不要开关任何电器、插拔插头或点火，不要在室内打电话。",
            "能安全够到时关闭燃气阀门。",
            "立即离开房间，到室外拨打119。",
        ),
        call="119",
    ),
    Hazard.CO: Advice(
        title="Carbon monoxide",
        title_zh="一氧化碳",
        steps=(
            "Open the windows for fresh air.",
            "Leave the home, taking everyone with you.",
            "Call 120 if anyone has a headache, dizziness or nausea.",
        ),
        steps_zh=("打开门窗通风。", "带上所有人离开房间。", "如有人头痛、头晕或恶心，立即拨打120。"),
        call="120",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One alarm as an incident needs it: who, what, how bad, and when it was open."""

    alarm_id: str
    rule: str
    severity: str
    state: str
    site: str
    building: str = ""
    unit: str = ""
    household: str = ""
    raised_ts: float
    updated_ts: float = 0.0
    acked_ts: float | None = None
    over_ts: float | None = None
    """When it stopped asking anyone to act (cleared and acknowledged, or resolved); None while open."""

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    incident_id: str
    site: str
    building: str
    unit: str
    household: str
    hazard: Hazard | None
    severity: str
    """The worst severity among its open alarms (of all of them, once none is open)."""
    state: str
    """`active` while any alarm's condition is present; `acknowledged` when someone has taken every open
    alarm; `returned` when the conditions are over but an alarm is unacknowledged; else the last state."""
    started_ts: float
    updated_ts: float
    members: tuple[Member, ...]
    """Worst first, then oldest."""

    @property
    def open(self) -> bool:
        return any(m.open for m in self.members)

    @property
    def unacknowledged(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.open and m.acked_ts is None)

    @property
    def advice(self) -> Advice | None:
        return ADVICE.get(self.hazard) if self.hazard is not None else None


def hazard_of(rule: str) -> Hazard | None:
    row = RULES.get(rule)
    return None if row is None else row.hazard


def incident_of(alarms: Iterable[Member], incident_id: str) -> Incident | None:
    return next((i for i in incidents(alarms) if i.incident_id == incident_id), None)


def incidents(alarms: Iterable[Member]) -> list[Incident]:
    """The alarms grouped into incidents, worst and oldest first."""
    alone: list[list[Member]] = []
    groups: dict[tuple[str, str, Hazard], list[list[Member]]] = {}
    air: list[Member] = []
    for m in sorted(alarms, key=lambda a: (a.raised_ts, a.alarm_id)):
        hazard = hazard_of(m.rule)
        if hazard is None or not m.household:
            alone.append([m])
        elif hazard is Hazard.AIR:
            air.append(m)
        else:
            _join(groups.setdefault((m.site, m.household, hazard), []), m)
    for m in air:
        home = [g for h in (Hazard.GAS, Hazard.CO) for g in groups.get((m.site, m.household, h), [])]
        joined = next((g for g in home if _open_at(g, m.raised_ts)), None)
        if joined is not None:
            joined.append(m)
        else:
            _join(groups.setdefault((m.site, m.household, Hazard.AIR), []), m)
    out = [_incident(g, None) for g in alone]
    out += [_incident(g, key[2]) for key, gs in groups.items() for g in gs]
    out.sort(key=lambda i: (not i.open, i.severity, i.started_ts, i.incident_id))
    return out


def _join(chain: list[list[Member]], m: Member) -> None:
    if chain and _open_at(chain[-1], m.raised_ts):
        chain[-1].append(m)
    else:
        chain.append([m])


def _open_at(group: list[Member], ts: float) -> bool:
    """Whether some alarm of the group still asked for action at `ts`."""
    return any(m.over_ts is None or m.over_ts >= ts for m in group)


def _incident(group: list[Member], hazard: Hazard | None) -> Incident:
    first = min(group, key=lambda m: (m.raised_ts, m.alarm_id))
    members = tuple(sorted(group, key=lambda m: (m.severity, m.raised_ts, m.alarm_id)))
    live = [m for m in members if m.open]
    severity = str(min(Severity[m.severity] for m in (live or members)))
    waiting = [m for m in live if m.acked_ts is None]
    if waiting:
        state = "active" if any(m.state == "active" for m in waiting) else "returned"
    elif live:
        state = "acknowledged"
    else:
        state = max(members, key=lambda m: m.updated_ts).state
    if hazard is None:
        incident_id = first.alarm_id
    else:
        incident_id = f"{first.site}:{first.household}:{hazard}:{round(first.raised_ts * 1000)}"
    return Incident(
        incident_id=incident_id,
        site=first.site,
        building=first.building,
        unit=first.unit,
        household=first.household,
        hazard=hazard,
        severity=severity,
        state=state,
        started_ts=first.raised_ts,
        updated_ts=max(m.updated_ts for m in members),
        members=members,
    )
