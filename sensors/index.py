"""The registry compiled for the hot path: a dense device index and numpy columns of device attributes.

Rule state everywhere is indexed by these device numbers. Units and households are numbered in registry
order here, and the rule model (alerts/site.py) uses the same numbers. No per-device Python object is left:
ids live in one blob, places are codes (sensors/compact.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from sensors.compact import Coded, Names
from sensors.registry import SiteRegistry


class DeviceKind(IntEnum):
    CO = 0
    GAS = 1
    CO_GAS = 2
    DOOR = 3


_DOOR = int(DeviceKind.DOOR)
_SENSOR_KINDS = {"co": DeviceKind.CO, "gas": DeviceKind.GAS, "co_gas": DeviceKind.CO_GAS}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIndex:
    ids: Names
    unit_of: npt.NDArray[np.int32]  # every unit of every site, in registry order
    site: Coded  # these four by unit_of: a device's unit fixes its site, building and grid
    building: Coded
    grid: Coded  # the building's grid, "" when no grid names it
    unit: Coded
    households: Names  # every household of every site, in registry order
    household_unit: npt.NDArray[np.int32]  # each household's unit
    household_of: npt.NDArray[np.int32]  # -1 for doors
    household: Coded  # the household's id by household_of, "" for doors
    kind: npt.NDArray[np.uint8]
    mains_powered: npt.NDArray[np.bool_]
    # "guardian/{site}/{sensor|door}" -> the group's number; each device's group. Ids are unique within a
    # group, and a device is found by its id's entry in `ids` whose group matches. Two dicts (by whole topic,
    # by (site, id)) cost 27 MB at 100,000 devices, a dict per group 6 MB; this costs ~1.
    groups: dict[str, int]
    group_of: array[int]
    batch_sites: dict[str, str]  # "guardian/{site}/sensor/_batch" -> site

    def __len__(self) -> int:
        return len(self.ids)

    def by_topic(self, prefix: str) -> int | None:
        """The device a topic without its last level names: "guardian/{site}/{sensor|door}/{id}"."""
        group, _, device = prefix.rpartition("/")
        code = self.groups.get(group)
        return None if code is None else self.ids.first(device, self.group_of, code)

    def group(self, site: str, cls: str) -> int | None:
        """The number of a site's group of detectors (`cls` "sensor") or doors ("door")."""
        return self.groups.get(f"guardian/{site}/{cls}")

    def in_group(self, group: int | None, device: str) -> int | None:
        return None if group is None else self.ids.first(device, self.group_of, group)

    def find(self, site: str, device: str) -> int | None:
        """A detector or a door of a site, by its id (ids are unique within a site)."""
        found = self.in_group(self.group(site, "sensor"), device)
        return self.in_group(self.group(site, "door"), device) if found is None else found

    def is_door(self, device: int) -> bool:
        # Compared with a plain int: a numpy scalar against an IntEnum member costs ~40x more (4.5 µs),
        # and the decoder asks this once per message.
        return bool(self.kind[device] == _DOOR)


def compile_index(registries: Sequence[SiteRegistry]) -> DeviceIndex:
    ids: list[str] = []
    unit_of: list[int] = []
    household_of: list[int] = []
    group_of = array("i")
    kind: list[int] = []
    mains: list[bool] = []
    unit_site: list[str] = []
    unit_building: list[str] = []
    unit_grid: list[str] = []
    unit_name: list[str] = []
    households: list[str] = []
    household_unit: list[int] = []
    groups: dict[str, int] = {}
    for reg in registries:
        grid_of = {b: g.id for g in reg.grids for b in g.buildings}
        sensors = groups.setdefault(f"guardian/{reg.site}/sensor", len(groups))
        doors = groups.setdefault(f"guardian/{reg.site}/door", len(groups))
        for b in reg.buildings:
            for u in b.units:
                ui = len(unit_name)
                unit_site.append(reg.site)
                unit_building.append(b.id)
                unit_grid.append(grid_of.get(b.id, ""))
                unit_name.append(u.id)
                for door in u.doors:
                    ids.append(door)
                    unit_of.append(ui)
                    household_of.append(-1)
                    group_of.append(doors)
                    kind.append(DeviceKind.DOOR)
                    mains.append(True)
                for h in u.households:
                    hi = len(households)
                    households.append(h.id)
                    household_unit.append(ui)
                    for s in h.sensors:
                        ids.append(s.id)
                        unit_of.append(ui)
                        household_of.append(hi)
                        group_of.append(sensors)
                        kind.append(_SENSOR_KINDS[s.kind])
                        mains.append(s.power == "mains")
    units = np.asarray(unit_of, dtype=np.int32)
    household_names = Names(households)
    homes = np.asarray(household_of, dtype=np.int32)
    return DeviceIndex(
        ids=Names(ids),
        unit_of=units,
        site=Coded(tuple(unit_site), units),
        building=Coded(tuple(unit_building), units),
        grid=Coded(tuple(unit_grid), units),
        unit=Coded(tuple(unit_name), units),
        households=household_names,
        household_unit=np.asarray(household_unit, dtype=np.int32),
        household_of=homes,
        household=Coded(household_names, homes),
        kind=np.asarray(kind, dtype=np.uint8),
        mains_powered=np.asarray(mains, dtype=np.bool_),
        groups=groups,
        group_of=group_of,
        batch_sites={f"guardian/{r.site}/sensor/_batch": r.site for r in registries},
    )
