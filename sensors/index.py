"""The registry compiled for the hot path: a dense device index and numpy columns of device attributes.

Rule state everywhere is indexed by these device numbers; the only per-device Python objects left are the
topic lookup table and the names used to tag stored points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

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
    ids: tuple[str, ...]
    site: tuple[str, ...]
    building: tuple[str, ...]
    grid: tuple[str, ...]  # the building's grid, "" when no grid names it
    unit: tuple[str, ...]
    household: tuple[str, ...]  # "" for doors
    kind: npt.NDArray[np.uint8]
    mains_powered: npt.NDArray[np.bool_]
    # "guardian/{site}/{sensor|door}" -> device id -> device index. The keys are the strings in `ids`: a
    # dict keyed by whole topics, and another by (site, id), cost 27 MB at 100,000 devices; this costs 8 MB.
    by_group: dict[str, dict[str, int]]
    batch_sites: dict[str, str]  # "guardian/{site}/sensor/_batch" -> site

    def __len__(self) -> int:
        return len(self.ids)

    def by_topic(self, prefix: str) -> int | None:
        """The device a topic without its last level names: "guardian/{site}/{sensor|door}/{id}"."""
        group, _, device = prefix.rpartition("/")
        devices = self.by_group.get(group)
        return None if devices is None else devices.get(device)

    def find(self, site: str, device: str) -> int | None:
        """A detector or a door of a site, by its id (ids are unique within a site)."""
        found = self.by_group.get(f"guardian/{site}/sensor", {}).get(device)
        return self.by_group.get(f"guardian/{site}/door", {}).get(device) if found is None else found

    def is_door(self, device: int) -> bool:
        # Compared with a plain int: a numpy scalar against an IntEnum member costs ~40x more (4.5 µs),
        # and the decoder asks this once per message.
        return bool(self.kind[device] == _DOOR)


def compile_index(registries: Sequence[SiteRegistry]) -> DeviceIndex:
    ids: list[str] = []
    site: list[str] = []
    building: list[str] = []
    grid: list[str] = []
    unit: list[str] = []
    household: list[str] = []
    kind: list[int] = []
    mains: list[bool] = []
    for reg in registries:
        grid_of = {b: g.id for g in reg.grids for b in g.buildings}
        for b in reg.buildings:
            for u in b.units:
                for door in u.doors:
                    ids.append(door)
                    site.append(reg.site)
                    building.append(b.id)
                    grid.append(grid_of.get(b.id, ""))
                    unit.append(u.id)
                    household.append("")
                    kind.append(DeviceKind.DOOR)
                    mains.append(True)
                for h in u.households:
                    for s in h.sensors:
                        ids.append(s.id)
                        site.append(reg.site)
                        building.append(b.id)
                        grid.append(grid_of.get(b.id, ""))
                        unit.append(u.id)
                        household.append(h.id)
                        kind.append(_SENSOR_KINDS[s.kind])
                        mains.append(s.power == "mains")
    by_group: dict[str, dict[str, int]] = {}
    for i, (dev, st, k) in enumerate(zip(ids, site, kind, strict=True)):
        cls = "door" if k == DeviceKind.DOOR else "sensor"
        by_group.setdefault(f"guardian/{st}/{cls}", {})[dev] = i
    return DeviceIndex(
        ids=tuple(ids),
        site=tuple(site),
        building=tuple(building),
        grid=tuple(grid),
        unit=tuple(unit),
        household=tuple(household),
        kind=np.asarray(kind, dtype=np.uint8),
        mains_powered=np.asarray(mains, dtype=np.bool_),
        by_group=by_group,
        batch_sites={f"guardian/{r.site}/sensor/_batch": r.site for r in registries},
    )
