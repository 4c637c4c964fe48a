"""Every rule as a row, by family: `alerts/rules/<family>.py` holds a family's rows and its code.

Adding a threshold, event or counted rule is adding a row to its family's file (docs/rules.md); the rest
of the system reads rows by id from `RULES` and asks their traits.
"""

from __future__ import annotations

from alerts.rule import (
    ESCALATION_TIERS,
    Audience,
    Counted,
    Event,
    Family,
    Rule,
    Severity,
    Threshold,
    Trigger,
)
from alerts.rules import co, doors, gas, health, system, welfare

ROWS: tuple[Rule, ...] = co.ROWS + gas.ROWS + health.ROWS + doors.ROWS + welfare.ROWS + system.ROWS
RULES: dict[str, Rule] = {r.id: r for r in ROWS}
if len(RULES) != len(ROWS):
    raise ValueError("two rule rows share an id")


def of_family(family: Family) -> frozenset[str]:
    """The ids of a family's rules (the report's welfare section, the board's welfare column)."""
    return frozenset(r.id for r in ROWS if r.family is family)


__all__ = [
    "ESCALATION_TIERS",
    "ROWS",
    "RULES",
    "Audience",
    "Counted",
    "Event",
    "Family",
    "Rule",
    "Severity",
    "Threshold",
    "Trigger",
    "of_family",
]
