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

import numpy as np

from alerts.rule import Severity
from alerts.rules import RULES
from alerts.settings import AlertSettings, Cfk
from alerts.signals import Transition
from simulators.air import Pulse

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
REPORT_S = 30.0
"""The longest a detector waits between readings while CO is present (`simulators.devices.FAST`): an
estimate made from readings can lag the true air by this much."""


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
    severity: str | None = None
    """The severity the alarm must be raised at (None: any); what an announcement says comes from here."""

    def matches(self, t: Transition) -> bool:
        return t.rule == self.rule and self.subject in (t.subject, t.where.household)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Outcome:
    expect: Expect
    verdict: str  # detected | early | late | missed | severity | quiet | false
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
        elif e.severity is not None and _severity_at(e, transitions, at) != e.severity:
            out.append(Outcome(e, "severity", at))
        else:
            out.append(Outcome(e, "detected", at))
    return out


def _severity_at(e: Expect, transitions: Sequence[Transition], at: float) -> str:
    return next(
        str(t.severity) for t in transitions if t.ts == at and t.transition in RAISING and e.matches(t)
    )


def severity_of(rule: str, *, vulnerable: bool = False) -> Severity:
    """The severity `rule` is raised at: the rule catalog's (alerts/rules/), except where the rule table
    (docs/standards.md §4) raises it for a household with a vulnerable resident: HLT-1 (a silent detector)
    is P2 there. Announcements and ground truth say this, never a severity of their own; `score` checks it
    against what the engine raised."""
    severity = RULES[rule].severity
    if rule == "HLT-1" and vulnerable:
        return min(severity, Severity.P2)
    return severity


def named(rule: str, *, vulnerable: bool = False) -> str:
    """`HLT-1 (P3)`: a rule as an announcement names it, its severity from `severity_of`."""
    return f"{rule} ({severity_of(rule, vulnerable=vulnerable)})"


def cohb_reaching(
    p: Pulse,
    pct: float,
    *,
    scale: float = 1.0,
    cfk: Cfk | None = None,
    step: float = 10.0,
    horizon: float = 24 * 3600.0,
) -> float | None:
    """When someone breathing `scale` times the pulse's CO, from the baseline COHb, first reaches `pct` %
    COHb; None if they do not within `horizon`. The Coburn-Forster-Kane equation of docs/standards.md §1 in
    its differential form, dX/dt = (Vco + PICO/B) / Vb - X * PcO2 / (M * (H - X) * B * Vb), integrated with
    fourth-order Runge-Kutta steps: a reference written apart from the engine's exact step (alerts/core.py
    `_cohb`), so that each checks the other."""
    k = cfk or Cfk()
    end = min(p.until, p.start + horizon)
    n = max(int((end - p.start) / step), 1)
    grid = p.start + np.arange(2 * n + 1, dtype=np.float64) * (step / 2)
    ppm = scale * p.at(grid)
    minutes = step / 60.0
    target = pct / 100.0 * k.h
    x = k.baseline_pct / 100.0 * k.h

    def rate(x: float, c: float) -> float:
        inhaled = c * 1e-6 * k.pl_mmhg
        return (k.vco_ml_min + inhaled / k.b) / k.vb_ml - x * k.pco2_mmhg / (k.m * (k.h - x) * k.b * k.vb_ml)

    for i in range(n):
        c0, c1, c2 = ppm[2 * i], ppm[2 * i + 1], ppm[2 * i + 2]
        k1 = rate(x, c0)
        k2 = rate(x + minutes / 2 * k1, c1)
        k3 = rate(x + minutes / 2 * k2, c1)
        k4 = rate(x + minutes * k3, c2)
        nxt = x + minutes / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if nxt >= target:
            return float(grid[2 * i] + step * (target - x) / (nxt - x))
        x = nxt
    return None


def cohb_window(
    scenario: str,
    subject: str,
    p: Pulse,
    *,
    accuracy: float = ACCURACY,
    settings: AlertSettings | None = None,
    standard: str = "",
) -> Expect | None:
    """CO-4 for a household with a vulnerable resident: raised between the moment the COHb of air read
    `accuracy` high reaches the raise level and the moment that of air read as low does (plus one reading
    interval and the platform's 30 s). None when even the high reading never gets there."""
    st = settings or AlertSettings()
    pct = st.cohb_raise_pct
    early = cohb_reaching(p, pct, scale=1 + accuracy, cfk=st.cfk)
    if early is None:
        return None
    true = cohb_reaching(p, pct, cfk=st.cfk)
    late = cohb_reaching(p, pct, scale=1 - accuracy, cfk=st.cfk)
    deadline = (late if late is not None else p.until) + REPORT_S + ALARM_S
    return Expect(
        scenario=scenario,
        rule="CO-4",
        subject=subject,
        start=true if true is not None else early,
        onset=p.start,
        not_before=early,
        deadline=deadline,
        severity=str(severity_of("CO-4")),
        standard=standard
        or f"COHb {pct:g} % (Coburn-Forster-Kane, docs/standards.md §1) for a vulnerable "
        f"resident, read ±{accuracy:.0%}",
    )


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
        severity=str(severity_of(rule)),
    )
