"""Normal life in a winter estate: meals, showers, closed windows, and the residents' comings and goings.

Everything a detector or a door sees when nothing is wrong, drawn per household from seeded distributions:
- cooking at meal times: each burner lit puffs a little unburnt gas at the detector (mostly under 1 % LEL,
  rarely 3-5 %), and the flames raise kitchen CO by a few ppm that ventilation takes away slowly with the
  windows shut;
- a gas water heater in the evenings (1-4 ppm at its own detector when it is working);
- background CO of 0.5-2.5 ppm (traffic, neighbours);
- door passages: workers and students out in the morning and back in the evening, elderly residents out to
  the market most mornings and for a walk some afternoons, some evening outings, weekends looser, and a
  face not recognised at the first look now and then.
A household's profile (how much CO its stove makes, how fast its kitchen airs) is fixed for the run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from simulators.air import Pulse
from simulators.devices import Detector, Door

HOUR = 3600.0


@dataclass(slots=True)
class Household:
    id: str
    kitchen: Detector
    heater: Detector | None
    door: Door | None
    """The unit's door; None where the unit has none (passages are then not seen by anyone)."""
    people: list[tuple[str, str]]
    """(person id, pattern): worker, student, elderly, infant."""
    cook_co: float
    airing: float
    skip_days: set[int] = field(default_factory=set)
    """Days (ordinal) nobody goes out: a scenario has other plans for them."""
    stopped: float = float("inf")
    """From then on nobody in the household cooks or goes out (a resident who has fallen)."""
    vulnerable: bool = False
    """Someone here is flagged vulnerable in the registry (the rules treat the household differently)."""


def profile(h: dict[str, Any], rng: np.random.Generator) -> list[tuple[str, str]]:
    people: list[tuple[str, str]] = []
    for i, r in enumerate(h["residents"]):
        if r.get("lives_alone"):
            pattern = "elderly"
        elif r.get("vulnerable"):
            pattern = "infant"
        elif i < 2:
            pattern = "worker" if rng.random() < 0.8 else "elderly"
        else:
            pattern = str(rng.choice(["student", "worker", "elderly"], p=[0.5, 0.2, 0.3]))
        people.append((str(r["id"]), pattern))
    return people


def household(
    site: str,
    h: dict[str, Any],
    door: Door | None,
    rng: np.random.Generator,
    start: float,
    heartbeat: float = 180.0,
) -> Household:
    sensors = h["sensors"]
    detectors = [_detector(site, s, rng, start, heartbeat) for s in sensors]
    kitchen = next((d for d in detectors if d.has_gas), detectors[0])
    heater = next((d for d in detectors if d is not kitchen), None)
    return Household(
        id=str(h["id"]),
        kitchen=kitchen,
        heater=heater,
        door=door,
        people=profile(h, rng),
        cook_co=float(rng.lognormal(np.log(4.0), 0.5)),
        airing=float(rng.uniform(15, 45)) * 60.0,
        vulnerable=any(r.get("vulnerable") for r in h["residents"]),
    )


def _detector(
    site: str, s: dict[str, Any], rng: np.random.Generator, start: float, heartbeat: float
) -> Detector:
    mains = s.get("power", "mains") == "mains"
    return Detector(
        site=site,
        id=str(s["id"]),
        has_gas=s.get("kind", "co_gas") in ("co_gas", "gas"),
        mains=mains,
        co_base=float(rng.uniform(0.5, 2.5)),
        gain=float(rng.uniform(0.9, 1.1)),
        heartbeat=heartbeat if mains else 1800.0,  # mains: well inside the 10 min silence rule
        battery=100.0 if mains else float(rng.uniform(40, 100)),
        drain_per_day=0.0 if mains else float(rng.uniform(0.05, 0.12)),
        started=start,
    )


def local_midnight(day: dt.date, zone: ZoneInfo) -> float:
    return dt.datetime.combine(day, dt.time(), zone).timestamp()


def day(hh: Household, date: dt.date, midnight: float, rng: np.random.Generator) -> None:
    """Put one day of this household's life on its detectors and door. Nobody cooks in an empty home."""
    trips: list[tuple[str, float, float]] = []
    if date.toordinal() not in hh.skip_days:
        weekend = date.weekday() >= 5
        for person, pattern in hh.people:
            for out, back in outings(pattern, weekend, rng):
                if midnight + back * HOUR < hh.stopped:
                    trips.append((person, midnight + out * HOUR, midnight + back * HOUR))
    if hh.door is not None:
        for person, out, back in trips:
            hh.door.passage(out, person, "out", rng)
            hh.door.passage(back, person, "in", rng)

    def home(t: float) -> bool:
        away = {p for p, out, back in trips if out <= t < back}
        return len(away) < len(hh.people)

    at_home_by_day = any(p in ("elderly", "infant") for _, p in hh.people)
    meals = (
        (0.75, 7.0, 0.4, (10, 20)),
        (0.9 if at_home_by_day else 0.4, 11.8, 0.4, (15, 35)),
        (0.92, 18.4, 0.6, (25, 60)),
    )
    for p, mean_h, sd_h, minutes in meals:
        start = midnight + rng.normal(mean_h, sd_h) * HOUR
        seconds = rng.uniform(*minutes) * 60.0
        if rng.random() < p and start < hh.stopped and home(start) and home(start + seconds):
            cook(hh, start, seconds, rng)
    if hh.heater is not None:
        for _ in range(rng.binomial(len(hh.people), 0.6)):
            s = midnight + rng.uniform(19.5, 22.5) * HOUR
            if home(s):
                hh.heater.co.append(Pulse(s, s + rng.uniform(8, 20) * 60, rng.uniform(1, 4), 120.0, 900.0))


def cook(hh: Household, start: float, seconds: float, rng: np.random.Generator) -> None:
    d = hh.kitchen
    d.co.append(Pulse(start, start + seconds, hh.cook_co * rng.uniform(0.7, 1.3), 600.0, hh.airing))
    if not d.has_gas:
        return
    for _ in range(1 + rng.poisson(1.5)):
        lit = start + rng.uniform(0, max(seconds - 60, 1))
        peak = min(float(rng.lognormal(np.log(0.4), 0.7)), 5.0)
        d.lel.append(Pulse(lit, lit + 8.0, peak / -np.expm1(-4.0), 2.0, 45.0))


def outings(pattern: str, weekend: bool, rng: np.random.Generator) -> list[tuple[float, float]]:
    """(out, back) in local hours for one person's day."""
    trips: list[tuple[float, float]] = []
    if pattern in ("worker", "student") and not weekend:
        out = rng.normal(7.6, 0.4) if pattern == "worker" else rng.normal(7.2, 0.2)
        back = rng.normal(18.2, 0.8) if pattern == "worker" else rng.normal(17.0, 0.5)
        trips.append((out, back))
    elif pattern in ("worker", "student"):
        if rng.random() < 0.6:
            out = rng.uniform(9.5, 15.0)
            trips.append((out, out + rng.uniform(1, 5)))
    elif pattern == "elderly":
        if rng.random() < 0.85:
            out = rng.normal(8.8, 0.6)
            trips.append((out, out + rng.uniform(0.5, 2.5)))
        if rng.random() < 0.4:
            out = rng.uniform(14.5, 16.5)
            trips.append((out, out + rng.uniform(0.5, 1.5)))
    if pattern != "infant" and rng.random() < 0.15:
        out = rng.uniform(19.0, 21.0)
        trips.append((out, out + rng.uniform(0.3, 1.5)))
    return trips
