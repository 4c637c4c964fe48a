"""Ground truth: what an injected hazard should raise, on whom, and inside which standard's window.

An `Expect` is written for every hazard a scenario injects. `score` holds the transitions a replay produced
against them: detected (the rule was raised on that subject inside the window), early (raised before the
standard allows, like a CO alarm at 50 ppm before 60 min), missed, or, for a near miss (`deadline` None),
raised when it must not be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from alerts.signals import Transition

RAISING = ("raised", "updated")

# Windows from the standards (docs/standards.md); seconds after the moment the standard's clock starts.
EN50291 = ((300.0, 0.0, 180.0), (100.0, 600.0, 2400.0), (50.0, 3600.0, 5400.0))
"""(ppm, not before, by): 300 ppm in < 3 min, 100 ppm in 10-40 min, 50 ppm in 60-90 min."""
UL2034 = ((400.0, 240.0, 900.0), (150.0, 600.0, 3000.0), (70.0, 3600.0, 14400.0))
GAS_WINDOW = (15.0, 60.0)
"""GB 15322.2: alarm no sooner than 15 s and no later than 60 s after the gas reaches the set-point."""
ACCURACY = 0.15
"""What a detector may read off the truth: its ±10 % accuracy and two standard deviations of its 2 %
reading noise. A window is judged from when the true value reached the set-point within this tolerance
(the gateway sees only what the detector reports)."""
FAULT_S = 100.0
"""GB/T 45839: fault or removal reported within 100 s."""
ALARM_S = 30.0
"""GB/T 45839: an alarm reaches the platform within 30 s."""
LOST_S = 24 * 3600.0
"""GB/T 45839: lost communication reported within 24 h."""
DAILY_S = 24 * 3600.0
"""GB/T 45839: every device reports at least once a day, so a battery device's loss shows from its first
missed daily report; the mains rule is held to 24 h from the loss itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    scenario: str
    rule: str
    subject: str
    """Device, door, person or household id (a transition matches on its subject or its household)."""
    start: float
    """When the standard's clock starts: onset of the exposure, gas reaching the set-point, the event."""
    deadline: float | None
    """Latest time the alarm may be raised; None for a near miss, which must not raise `rule` at all."""
    not_before: float | None = None
    onset: float | None = None
    """When the hazard began (default `start`): an alarm raised before it belongs to something else."""
    standard: str = ""
    life_safety: bool = False

    def matches(self, t: Transition) -> bool:
        return t.rule == self.rule and self.subject in (t.subject, t.where.household)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Outcome:
    expect: Expect
    verdict: str  # detected | early | late | missed | quiet | false
    at: float | None

    @property
    def delay(self) -> float | None:
        return None if self.at is None else self.at - self.expect.start

    @property
    def ok(self) -> bool:
        return self.verdict in ("detected", "quiet")


def score(expects: Iterable[Expect], transitions: Sequence[Transition]) -> list[Outcome]:
    out: list[Outcome] = []
    for e in expects:
        since = e.start if e.onset is None else e.onset
        hits = [t.ts for t in transitions if t.transition in RAISING and e.matches(t) and t.ts >= since]
        at = min(hits) if hits else None
        if e.deadline is None:
            out.append(Outcome(e, "quiet" if at is None else "false", at))
        elif at is None:
            out.append(Outcome(e, "missed", None))
        elif e.not_before is not None and at < e.not_before:
            out.append(Outcome(e, "early", at))
        elif at > e.deadline:
            out.append(Outcome(e, "late", at))
        else:
            out.append(Outcome(e, "detected", at))
    return out


def co_window(
    scenario: str,
    subject: str,
    reached: dict[float, float],
    table: tuple[tuple[float, float, float], ...] = EN50291,
    *,
    onset: float | None = None,
    life_safety: bool = True,
    rule: str = "CO-1",
) -> Expect | None:
    """CO-1's deadline from the times the true CO first reached each of the standard's test levels: an
    exposure that has reached L ppm and stays there is at least as bad as the standard's constant L, so
    the earliest (reach time + window) over the levels reached is a deadline the dose must meet."""
    best: tuple[float, float, float, str] | None = None
    for ppm, _, by in table:
        at = reached.get(ppm)
        if at is not None and (best is None or at + by < best[1]):
            best = (at, at + by, ppm, f"{ppm:g} ppm reached: alarm within {by / 60:g} min")
    if best is None:
        return None
    name = "EN 50291-1" if table is EN50291 else "UL 2034"
    start = min(reached.values())
    return Expect(
        scenario=scenario,
        rule=rule,
        subject=subject,
        start=start,
        onset=onset,
        deadline=best[1],
        standard=f"{name}: {best[3]}",
        life_safety=life_safety,
    )
