"""Incidents for a live estate: one thing goes wrong in a random home every few minutes (the demo).

Each incident is the library's hazard, shaped so its alarm comes within minutes rather than hours, put on
a household drawn at random, and announced in one line so a person watching knows what the gateway should
be telling them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from simulators.air import Pulse, ramp
from simulators.life import Household
from simulators.world import World

Incident = Callable[[World, float, np.random.Generator], str]


def gas_leak(world: World, at: float, rng: np.random.Generator) -> str:
    hh = _pick(world, rng, lambda h: h.kitchen.has_gas)
    hh.kitchen.lel.append(ramp(at, 12.0, 45.0, end=at + 15 * 60))
    return f"gas leak in {hh.id} (detector {hh.kitchen.id}): GAS-3, GAS-1 then GAS-2 within ~2 min"


def co_build_up(world: World, at: float, rng: np.random.Generator) -> str:
    hh = _pick(world, rng, lambda h: True)
    d = hh.heater or hh.kitchen
    d.co.append(Pulse(at, at + 20 * 60, 600.0, 240.0, 600.0))
    return f"CO building up in {hh.id} (detector {d.id}): CO-1 within ~4 min"


def forced_door(world: World, at: float, rng: np.random.Generator) -> str:
    door = world.doors[str(rng.choice(sorted(world.doors)))]
    door.add(at, "door_forced")
    door.add(at + 90, "door_closed")
    return f"door {door.id} forced open: DR-1 at once"


def silent_detector(world: World, at: float, rng: np.random.Generator) -> str:
    hh = _pick(world, rng, lambda h: any(p == "elderly" for _, p in h.people) and h.kitchen.mains)
    hh.kitchen.silent_from = at
    return (
        f"detector {hh.kitchen.id} of an elderly resident's flat {hh.id} goes silent: HLT-1 (P2) after 10 min"
    )


ROTATION: tuple[Incident, ...] = (gas_leak, forced_door, co_build_up, silent_detector)


def _pick(world: World, rng: np.random.Generator, fits: Callable[[Household], bool]) -> Household:
    homes = [h for h in world.households.values() if fits(h)] or list(world.households.values())
    return homes[int(rng.integers(len(homes)))]
