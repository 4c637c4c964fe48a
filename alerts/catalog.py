"""The rule table of docs/standards.md §4 as data: severity, audiences, latching and escalation of every rule.

Thresholds and delays live in `alerts.settings` (configurable per site); this module holds what is the
same everywhere: who a rule is for and how its alarm behaves once raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Lower is more urgent, so `min` picks the worse of two."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4

    def __str__(self) -> str:
        return self.name


class Audience(StrEnum):
    RESIDENTS = "R"
    CONTACTS = "EC"
    PROPERTY = "PM"
    GRID = "GO"
    MAINTENANCE = "MT"


R, EC, PM, GO, MT = Audience
ESCALATION_TIERS = (R, EC, GO, PM)
"""docs/standards.md §5: an unacknowledged P1 goes to the next tier in this order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    severity: Severity
    notify: tuple[Audience, ...]
    title: str
    latch: bool = False
    """Stays active after its condition clears, until acknowledged (all P1, and 'then ack' rules)."""
    momentary: bool = False
    """Raised by an event that has no 'over' event: only an acknowledgement clears it."""
    escalate: tuple[tuple[float, tuple[Audience, ...]], ...] | None = None
    """(seconds unacknowledged, who is added); None means the default P1 chain of §5."""
    never: tuple[Audience, ...] = ()
    """Audiences this rule must never reach (the person under duress)."""

    @property
    def groupable(self) -> bool:
        """Floods group P3/P4 into a building incident; P1/P2 always stand alone (§5)."""
        return self.severity >= Severity.P3

    def escalation(self, step_after: float) -> tuple[tuple[float, tuple[Audience, ...]], ...]:
        """The rule's own escalation, or for a P1 the remaining tiers, one every `step_after` seconds."""
        if self.escalate is not None:
            return self.escalate
        if self.severity != Severity.P1:
            return ()
        rest = [a for a in ESCALATION_TIERS if a not in self.notify and a not in self.never]
        return tuple((step_after * (i + 1), (a,)) for i, a in enumerate(rest))


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


P1, P2, P3, P4 = Severity
FIVE_MIN = 300.0

RULES = _rules(
    Rule(id="CO-1", severity=P1, notify=(R, EC, PM), latch=True, escalate=((FIVE_MIN, (GO,)),), title="Carbon monoxide alarm"),
    Rule(id="CO-2", severity=P1, notify=(R, PM, GO), latch=True, title="Carbon monoxide still high after hush"),
    Rule(id="CO-3", severity=P4, notify=(R,), title="Ventilate: hourly mean CO above guidance"),
    Rule(id="CO-4", severity=P3, notify=(R, EC), title="Estimated COHb high for a vulnerable resident"),
    Rule(id="GAS-1", severity=P2, notify=(R, PM), title="Gas leak, stage 1"),
    Rule(id="GAS-2", severity=P1, notify=(R, EC, PM, GO), latch=True, title="Gas leak, stage 2"),
    Rule(id="GAS-3", severity=P3, notify=(R,), title="Gas concentration rising"),
    Rule(id="HLT-1", severity=P3, notify=(MT, PM), title="Detector silent"),
    Rule(id="HLT-2", severity=P3, notify=(MT, R), title="Detector fault, tamper or removal"),
    Rule(id="HLT-3", severity=P4, notify=(R, MT), title="Detector battery low"),
    Rule(id="HLT-4", severity=P3, notify=(R, MT), title="Detector at end of life"),
    Rule(id="HLT-5", severity=P4, notify=(MT,), title="Detector value stuck"),
    Rule(id="DR-1", severity=P2, notify=(PM, R), latch=True, title="Door forced open"),
    Rule(id="DR-2", severity=P3, notify=(PM,), title="Door held open"),
    Rule(id="DR-3", severity=P3, notify=(PM,), momentary=True, title="Tailgating"),
    Rule(id="DR-4", severity=P4, notify=(PM,), momentary=True, title="Repeated anti-passback"),
    Rule(id="DR-5", severity=P3, notify=(PM,), title="Repeated denied access"),
    Rule(id="DR-6", severity=P2, notify=(PM,), momentary=True, title="Face liveness failures"),
    Rule(
        id="DR-7", severity=P1, notify=(PM, GO), momentary=True, never=(R, EC), escalate=(), title="Duress",
    ),
    Rule(id="DR-8", severity=P2, notify=(PM, MT), title="Door reader tamper"),
    Rule(id="DR-9", severity=P3, notify=(MT, PM), title="Door terminal offline"),
    Rule(
        id="WEL-1", severity=P2, notify=(EC,), momentary=True, escalate=((1800.0, (GO,)),), title="No door passage for a resident who lives alone",
    ),
    Rule(id="WEL-2", severity=P3, notify=(EC, GO), momentary=True, title="Repeated night exits"),
    Rule(id="WEL-3", severity=P2, notify=(R, EC), title="Everyone left while gas or CO is present"),
    Rule(id="SYS-CHATTER", severity=P4, notify=(MT,), momentary=True, title="Alarm chattering: on-delay raised"),
    Rule(id="SYS-FLOOD", severity=P3, notify=(PM,), momentary=True, title="Alarm flood: incident"),
    Rule(id="SYS-CHANNEL", severity=P3, notify=(MT, PM), title="A notification channel refuses its messages"),
    Rule(id="SYS-UNACKED", severity=P2, notify=(GO, PM), title="Nobody has acknowledged a P1 alarm"),
    Rule(id="SYS-UNREACHED", severity=P2, notify=(GO, PM), title="An urgent alarm reached nobody"),
)  # fmt: skip
