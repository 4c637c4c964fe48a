"""What a rule is, as data: one `Rule` row holds everything the rest of the system asks of it.

A row carries its id, severity, audiences, family, its texts in Chinese and English, its traits (latching,
momentary, never rings the home's siren, groupable) and, where the condition is a plain threshold, event or
count, the trigger itself. Code elsewhere asks a row's traits, never its id: the notifier asks `siren`, the
report asks `family`, the lifecycle asks `latch`. Thresholds and delays are per-site settings
(`alerts.settings`), named by the trigger so a site can tune them without touching the row.
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


class Hazard(StrEnum):
    """What endangers a home, as the people in it see it: one incident per hazard and household gathers
    the rules that fire on it (a leak is GAS-3, then GAS-1, then GAS-2, and one thing to act on).
    `AIR` (nobody home while gas or CO is present) joins whichever of the two is open in that home."""

    GAS = "gas"
    CO = "co"
    AIR = "air"


class Family(StrEnum):
    """Which file a rule lives in (`alerts/rules/<family>.py`) and what the report groups it under."""

    CO = "co"
    GAS = "gas"
    HEALTH = "health"
    DOORS = "doors"
    WELFARE = "welfare"
    SYSTEM = "system"


R, EC, PM, GO, MT = Audience
P1, P2, P3, P4 = Severity
ESCALATION_TIERS = (R, EC, GO, PM)
"""docs/standards.md §5: an unacknowledged P1 goes to the next tier in this order."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """A reading at or above `at` for `hold` seconds raises; at or below `release` for `release_hold`
    clears. Each name is an `AlertSettings` field, so a site tunes the figure, not the rule."""

    reading: str
    """The `Readings` column compared (`gas_lel`, `co_ppm`)."""
    at: str
    hold: str
    release: str
    release_hold: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A device event raises (`on`), another clears (`off`); `repeat` raises again while already on."""

    source: str
    """`door` or `sensor`: which event list of the wire contract the names come from."""
    on: tuple[str, ...]
    off: tuple[str, ...] = ()
    repeat: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Counted:
    """`count` door events within `window` seconds, per device or per person, raise."""

    event: str
    per: str
    """`device` or `person`: what the events are counted for (and the alarm's subject)."""
    window: str
    count: str
    clears_after_window: bool = False
    """The alarm clears once a whole window passes without the event (else it is momentary)."""


Trigger = Threshold | Event | Counted


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    family: Family
    severity: Severity
    notify: tuple[Audience, ...]
    title: str
    title_zh: str
    action: str = ""
    """What to do first, in English: the body of the message."""
    action_zh: str = ""
    latch: bool = False
    """Stays active after its condition clears, until acknowledged (all P1, and 'then ack' rules)."""
    momentary: bool = False
    """Raised by an event that has no 'over' event: only an acknowledgement clears it."""
    escalate: tuple[tuple[float, tuple[Audience, ...]], ...] | None = None
    """(seconds unacknowledged, who is added); None means the default P1 chain of §5."""
    never: tuple[Audience, ...] = ()
    """Audiences this rule must never reach (the person under duress)."""
    siren: bool = True
    """May sound the home's local siren and indicators (over MQTT); False where a sound endangers someone."""
    hazard: Hazard | None = None
    """The home's hazard this rule fires on, which groups it into one incident with the others; None for
    rules about devices, doors, people's movements and the system."""
    trigger: Trigger | None = None
    """The whole condition, for threshold, event and counted rules; None where the family's code decides
    (recurrences such as the CO dose, COHb, the hourly mean and the welfare clocks)."""
    job: str | None = None
    """The work order its raise opens (a category: `battery`, `detector_fault`, `welfare_visit`…), at the
    rule's severity, one open per subject; None: none. A P1 home hazard always opens one (the gateway's
    order desk), so those rows need not say it."""

    @property
    def groupable(self) -> bool:
        """Floods group P3/P4 into a building incident; P1/P2 always stand alone (§5)."""
        return self.severity >= Severity.P3

    @property
    def system(self) -> bool:
        """About the system itself (channels, floods, nobody answering), not about a home."""
        return self.family is Family.SYSTEM

    def escalation(self, step_after: float) -> tuple[tuple[float, tuple[Audience, ...]], ...]:
        """The rule's own escalation, or for a P1 the remaining tiers, one every `step_after` seconds."""
        if self.escalate is not None:
            return self.escalate
        if self.severity != Severity.P1:
            return ()
        rest = [a for a in ESCALATION_TIERS if a not in self.notify and a not in self.never]
        return tuple((step_after * (i + 1), (a,)) for i, a in enumerate(rest))


FIVE_MIN = 300.0
