"""One alarm (standards §5): its record, its id, the evidence it keeps and the `Transition` it reports.

What an alarm is, apart from how alarms move in time (`alerts.lifecycle`): the store's alarm book, the
estate status and a snapshot read these records, and every transition the lifecycle emits is made here, so
one place says what leaves the engine about an alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.evidence import Evidence
from alerts.rule import Audience, Rule, Severity
from alerts.signals import Transition, TransitionKind, Where

EVIDENCE_KEPT = 20
Key = tuple[str, str, str]
"""(rule, subject, site): ids are unique within a site, not across sites."""


@dataclass(slots=True, kw_only=True)
class Alarm:
    alarm_id: str
    rule: str
    subject: str
    where: Where
    severity: Severity
    raised_ts: float
    condition: bool = True
    acked: bool = False
    acked_ts: float | None = None
    acked_by: str | None = None
    notified: list[Audience] = field(default_factory=list)
    escalation_step: int = 0
    group: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    last_ts: float = 0.0
    escalated: tuple[float, tuple[Audience, ...]] = (0.0, ())  # the last escalation: when, and to whom

    @property
    def key(self) -> Key:
        return (self.rule, self.subject, self.where.site)


def alarm_id(site: str, rule: str, subject: str, stamp_ms: int) -> str:
    """Stable across restarts and replays: the same history gives the same ids."""
    return f"{site}:{rule}:{subject}:{stamp_ms}"


def stamp_ms(alarm: Alarm) -> int:
    """The millisecond an alarm's id carries: its raise time, or later if that was taken (`Lifecycle`)."""
    return int(alarm.alarm_id.rsplit(":", 1)[1])


def reachable(rule: Rule, audiences: tuple[Audience, ...]) -> tuple[Audience, ...]:
    """The audiences in order, each once, without those the rule never tells."""
    seen: list[Audience] = []
    for a in audiences:
        if a not in seen and a not in rule.never:
            seen.append(a)
    return tuple(seen)


def keep(alarm: Alarm, evidence: Evidence | None) -> None:
    """Evidence joins the alarm; past EVIDENCE_KEPT the oldest after the first make room."""
    if evidence is not None:
        alarm.evidence.append(evidence)
        if len(alarm.evidence) > EVIDENCE_KEPT:
            del alarm.evidence[1 : len(alarm.evidence) - EVIDENCE_KEPT + 1]  # keep the first, the latest


def transition(
    alarm: Alarm,
    kind: TransitionKind,
    ts: float,
    notify: tuple[Audience, ...],
    *,
    by: str | None = None,
    evidence: tuple[Evidence, ...] | None = None,
) -> Transition:
    """What the engine says of one step of the alarm; the alarm's last change is now `ts`."""
    alarm.last_ts = ts
    return Transition(
        ts=ts,
        alarm_id=alarm.alarm_id,
        rule=alarm.rule,
        severity=alarm.severity,
        transition=kind,
        where=alarm.where,
        subject=alarm.subject,
        notify=notify,
        evidence=tuple(alarm.evidence[-3:]) if evidence is None else evidence,
        group=alarm.group,
        by=by,
        raised_ts=alarm.raised_ts,
    )
