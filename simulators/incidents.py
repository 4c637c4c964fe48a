"""Incidents for a live estate: one thing goes wrong in a random home every few minutes (the demo).

Each incident is the library's hazard, shaped so its alarm comes within minutes rather than hours, put on
a household drawn at random, announced in one line so a person watching knows what the gateway should be
telling them, and returned with its ground truth (written to a file by `simulators.live`). A rule's
severity in the announcement is the ground truth's, from the rule catalog (`simulators.truth.severity_of`),
so the line and the alarm the gateway raises cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alerts.settings import AlertSettings
from simulators.air import Pulse, concentration, ramp
from simulators.devices import ACTIVE_CO_PPM
from simulators.library import STAGES, gas_truth, reached
from simulators.life import Household
from simulators.truth import ALARM_S, EN50291, LOST_S, Expect, co_window, named, severity_of
from simulators.world import World

Incident = Callable[[World, float, np.random.Generator], tuple[str, list[Expect]]]
"""Puts a hazard on the world at a time; returns the announcement and the ground truth."""


def gas_leak(world: World, at: float, rng: np.random.Generator) -> tuple[str, list[Expect]]:
    hh = _pick(world, rng, lambda h: h.kitchen.has_gas)
    p = ramp(at, 12.0, 45.0, end=at + 15 * 60)
    hh.kitchen.lel.append(p)
    truth = gas_truth("live", hh.kitchen.id, p, STAGES)
    stages = f"{named('GAS-3')}, {named('GAS-1')} then {named('GAS-2')}"
    return f"gas leak in {hh.id} (detector {hh.kitchen.id}): {stages} within ~2 min", truth


def co_build_up(world: World, at: float, rng: np.random.Generator) -> tuple[str, list[Expect]]:
    hh = _pick(world, rng, lambda h: True)
    d = hh.heater or hh.kitchen
    p = Pulse(at, at + 20 * 60, 600.0, 240.0, 600.0)
    d.co.append(p)
    co1 = co_window("live", d.id, reached(p, EN50291), onset=at)
    return f"CO building up in {hh.id} (detector {d.id}): {named('CO-1')} within ~4 min", [co1] if co1 else []


def forced_door(world: World, at: float, rng: np.random.Generator) -> tuple[str, list[Expect]]:
    door = world.doors[str(rng.choice(sorted(world.doors)))]
    door.add(at, "door_forced")
    door.add(at + 90, "door_closed")
    truth = Expect(
        scenario="live",
        rule="DR-1",
        subject=door.id,
        start=at,
        deadline=at + ALARM_S,
        severity=str(severity_of("DR-1")),
    )
    return f"door {door.id} forced open: {named('DR-1')} at once", [truth]


def silent_detector(world: World, at: float, rng: np.random.Generator) -> tuple[str, list[Expect]]:
    def fits(h: Household) -> bool:
        # no CO in that kitchen now: a detector silent with its last CO at 30 ppm or more is P2 anywhere
        clear = float(concentration(h.kitchen.co, np.array([at]))[0]) < ACTIVE_CO_PPM
        return any(p == "elderly" for _, p in h.people) and h.kitchen.mains and clear

    hh = _pick(world, rng, fits)
    hh.kitchen.silent_from = at
    # P2 only where someone in the flat is vulnerable (an elderly resident living alone, an infant); an
    # elderly couple's flat gets the catalog's P3.
    vulnerable = hh.vulnerable
    truth = Expect(
        scenario="live",
        rule="HLT-1",
        subject=hh.kitchen.id,
        start=at,
        deadline=at + LOST_S,
        severity=str(severity_of("HLT-1", vulnerable=vulnerable)),
    )
    after = AlertSettings().silent_mains_s / 60
    who = "a vulnerable resident's" if vulnerable else "an elderly resident's"
    text = (
        f"detector {hh.kitchen.id} of {who} flat {hh.id} goes silent: "
        f"{named('HLT-1', vulnerable=vulnerable)} in {after:g} min"
    )
    return text, [truth]


ROTATION: tuple[Incident, ...] = (gas_leak, forced_door, co_build_up, silent_detector)


def _pick(world: World, rng: np.random.Generator, fits: Callable[[Household], bool]) -> Household:
    homes = [h for h in world.households.values() if fits(h)] or list(world.households.values())
    return homes[int(rng.integers(len(homes)))]
