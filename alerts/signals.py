"""What flows between the rule core and the lifecycle, and what leaves the engine.

A `Signal` is a rule's condition changing for one subject ("CO-1 is now true for s-0001, because of these
readings"). The lifecycle turns signals, acknowledgements and the clock into `Transition`s, the only thing
the rest of the system (storage, notifications, replay output) ever sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from alerts.evidence import Evidence, as_dict
from alerts.rule import Audience, Severity

TransitionKind = Literal["raised", "updated", "escalated", "reminded", "acknowledged", "cleared"]


class Where(NamedTuple):
    site: str
    building: str = ""
    unit: str = ""
    household: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    ts: float
    rule: str
    subject: str
    on: bool
    where: Where
    severity: Severity | None = None
    """Overrides the rule's severity (CO-4 at >= 5 % COHb, HLT-1 for a vulnerable household...)."""
    extra: tuple[Audience, ...] = ()
    """Audiences added to the rule's own for this severity (GO for CO-4 at P2, PM and GO for WEL-3 at P1)."""
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    ts: float
    alarm_id: str
    rule: str
    severity: Severity
    transition: TransitionKind
    where: Where
    subject: str
    notify: tuple[Audience, ...]
    evidence: tuple[Evidence, ...] = ()
    group: str | None = None
    by: str | None = None
    raised_ts: float | None = None
    """When the alarm was raised: time to acknowledge and to clear are measured from it."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ts": round(self.ts, 6),
            "alarm_id": self.alarm_id,
            "rule": self.rule,
            "severity": str(self.severity),
            "transition": self.transition,
            "site": self.where.site,
            "subject": self.subject,
            "household": self.where.household,
            "building": self.where.building,
            "notify": [str(a) for a in self.notify],
        }
        if self.group:
            out["group"] = self.group
        if self.by:
            out["by"] = self.by
        if self.evidence:
            out["evidence"] = [as_dict(e) for e in self.evidence]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledgement:
    """An operator, resident or contact acknowledging an alarm (API, phone, or the device's hush button)."""

    ts: float
    by: str
    alarm_id: str | None = None
    rule: str | None = None
    subject: str | None = None
    site: str | None = None
