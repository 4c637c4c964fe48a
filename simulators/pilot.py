"""A registry at the scale of the pilot estate (docs/context.md): Yanghe, 2,077 households, ~7,000 people.

Seeded and reproducible. The shape follows what such estates are: 6-storey walk-ups of the 1990s (2-3 units,
two flats a floor) beside 18-26-storey towers (2-3 units, four flats a floor), one face-recognition door per
unit, a kitchen CO/gas detector in every flat and a second CO detector where a gas water heater is. Household
sizes average 3.3 people; about one household in nine is one person, most of them elderly and living alone
(the 一老 of 一老一小), flagged vulnerable with a welfare window and family contacts; infants make a few more
households vulnerable. Grids of ~600 households each have an officer (the community's 8 officers cover 5,000).
People are pseudonyms only: no names, as the gateway stores none.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

HOUSEHOLD_SIZES = ((1, 0.10), (2, 0.19), (3, 0.28), (4, 0.22), (5, 0.13), (6, 0.08))
ALONE_ELDERLY = 0.75
"""Share of one-person households that are elderly living alone."""
INFANT = 0.04
WATER_HEATER = 0.35
HOUSEHOLDS_PER_GRID = 600


def _size(rng: random.Random) -> int:
    x = rng.random()
    for size, share in HOUSEHOLD_SIZES:
        if x < share:
            return size
        x -= share
    return HOUSEHOLD_SIZES[-1][0]


def pilot_estate(*, households: int = 2077, site: str = "yanghe", seed: int = 2024) -> dict[str, Any]:
    rng = random.Random(seed)
    buildings: list[dict[str, Any]] = []
    made = n_sensor = n_person = n_contact = 0
    start = dt.date(2019, 1, 1)
    while made < households:
        b = len(buildings) + 1
        tower = rng.random() < 0.4
        floors = rng.randint(18, 26) if tower else 6
        per_floor = 4 if tower else 2
        units: list[dict[str, Any]] = []
        for u in range(1, rng.choice((2, 3)) + 1):
            flats: list[dict[str, Any]] = []
            for floor in range(1, floors + 1):
                for f in range(1, per_floor + 1):
                    if made >= households:
                        break
                    made += 1
                    n_sensor += 1
                    installed = start + dt.timedelta(days=rng.randint(0, 6 * 365))
                    sensors: list[dict[str, Any]] = [
                        {
                            "id": f"s-{n_sensor:05d}",
                            "kind": "co_gas",
                            "power": "mains" if rng.random() < 0.7 else "battery",
                            "installed": installed,
                            "rated_life_years": 10,
                        }
                    ]
                    if rng.random() < WATER_HEATER:
                        n_sensor += 1
                        sensors.append(
                            {
                                "id": f"s-{n_sensor:05d}",
                                "kind": "co",
                                "power": "battery",
                                "installed": installed,
                            }
                        )
                    size = _size(rng)
                    residents: list[dict[str, Any]] = []
                    for _ in range(size):
                        n_person += 1
                        residents.append({"id": f"p-{n_person:05d}"})
                    contacts: list[dict[str, Any]] = []
                    if size == 1 and rng.random() < ALONE_ELDERLY:
                        residents[0].update(
                            lives_alone=True, vulnerable=True, welfare_hours=rng.choice((24, 24, 36))
                        )
                        for _ in range(rng.choice((1, 2, 2))):
                            n_contact += 1
                            contacts.append({"id": f"c-{n_contact:05d}"})
                    elif size >= 3 and rng.random() < INFANT:
                        residents[-1]["vulnerable"] = True
                    elif rng.random() < 0.3:
                        n_contact += 1
                        contacts.append({"id": f"c-{n_contact:05d}"})
                    flats.append(
                        {
                            "id": f"b{b}-u{u}-{floor}{f:02d}",
                            "floor": floor,
                            "sensors": sensors,
                            "residents": residents,
                            "contacts": contacts,
                        }
                    )
            if flats:
                units.append({"id": f"b{b}-u{u}", "doors": [f"d-b{b}-u{u}"], "households": flats})
        buildings.append({"id": f"b{b}", "name": f"{b}栋", "units": units})
    grids: list[dict[str, Any]] = []
    current: list[str] = []
    count = 0
    for building in buildings:
        current.append(building["id"])
        count += sum(len(u["households"]) for u in building["units"])
        if count >= HOUSEHOLDS_PER_GRID or building is buildings[-1]:
            g = len(grids) + 1
            grids.append(
                {"id": f"g{g}", "name": f"第{g}网格", "buildings": current, "officers": [{"id": f"o-{g}"}]}
            )
            current, count = [], 0
    return {
        "site": site,
        "name": f"{site.title()} Community (simulated pilot estate)",
        "timezone": "Asia/Shanghai",
        "co_profile": "EN50291",
        "grids": grids,
        "property": [{"id": "pm-1", "name": "Control room"}, {"id": "pm-2", "name": "Duty manager"}],
        "maintenance": [{"id": "mt-1", "name": "Device team"}],
        "buildings": buildings,
    }


def summary(registry: dict[str, Any]) -> dict[str, int]:
    flats = [h for b in registry["buildings"] for u in b["units"] for h in u["households"]]
    people = [p for h in flats for p in h["residents"]]
    return {
        "buildings": len(registry["buildings"]),
        "units": sum(len(b["units"]) for b in registry["buildings"]),
        "households": len(flats),
        "residents": len(people),
        "elderly_alone": sum(1 for p in people if p.get("lives_alone")),
        "vulnerable": sum(1 for p in people if p.get("vulnerable")),
        "detectors": sum(len(h["sensors"]) for h in flats),
        "doors": sum(len(u["doors"]) for b in registry["buildings"] for u in b["units"]),
        "grids": len(registry["grids"]),
    }
