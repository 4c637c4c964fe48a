"""The registry compiled for the rules: who lives where, as dense arrays beside the device index.

Devices, people and households each get a dense number; every relation the rules follow in a batch
(device -> household, person -> household, door -> unit) is an integer array, and every per-site setting a
rule reads per reading (dose profile, silence limit) is a column, so a batch of readings from several sites
is still one set of numpy operations.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from alerts.settings import AlertSettings, site_settings
from alerts.signals import Where
from sensors.compact import Groups, NameIndex
from sensors.decode import F64, I32, Bool
from sensors.index import DeviceIndex, DeviceKind
from sensors.registry import SiteRegistry


class HouseholdWheres:
    """Where each household is, made on demand from its unit's: a `Where` per household cost 8 MB."""

    __slots__ = ("ids", "unit_of", "units")

    def __init__(self, units: Sequence[Where], unit_of: I32, ids: tuple[str, ...]) -> None:
        self.units = tuple(units)
        self.unit_of = unit_of
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, h: int) -> Where:
        u = self.units[self.unit_of[h]]
        return Where(u.site, u.building, u.unit, self.ids[h])

    def __iter__(self) -> Iterator[Where]:
        return (self[h] for h in range(len(self.ids)))

    def site(self, h: int) -> str:
        site: str = self.units[self.unit_of[h]].site
        return site


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteModel:
    index: DeviceIndex
    settings: dict[str, AlertSettings]
    zones: dict[str, zoneinfo.ZoneInfo]
    # devices
    is_door: Bool
    household_of: I32  # -1 for doors
    unit_of: I32
    vulnerable: Bool  # the device's household has a vulnerable resident
    site_code: npt.NDArray[np.uint16]  # position of the device's site in `sites`
    sites: tuple[str, ...]
    silent_s: F64
    end_of_life: F64  # UNIX time the HLT-4 age warning falls due (inf when unknown)
    # people
    person_ids: tuple[str, ...]
    people: NameIndex  # over person_ids: (site, pseudonym) -> person through `person()`
    person_household: I32
    person_unit: I32
    lives_alone: Bool
    away: Bool
    welfare_s: F64
    # households and units
    household_ids: tuple[str, ...]
    households: NameIndex  # over household_ids: (site, id) -> household through `household()`
    household_where: HouseholdWheres
    household_people: Groups
    household_sensors: Groups

    def where(self, device: int) -> Where:
        ix = self.index
        return Where(ix.site[device], ix.building[device], ix.unit[device], ix.household[device])

    def device(self, site: str, subject: str) -> int | None:
        return self.index.find(site, subject)

    def person(self, site: str, pseudonym: str) -> int | None:
        where = self.household_where
        household = self.person_household
        return next((p for p in self.people.find(pseudonym) if where.site(household[p]) == site), None)

    def household(self, site: str, household: str) -> int | None:
        where = self.household_where
        return next((h for h in self.households.find(household) if where.site(h) == site), None)

    def per_device(self, get: Callable[[AlertSettings], float]) -> F64:
        """A per-site setting as a column over devices (sites may differ)."""
        by_site = np.array([float(get(self.settings[site])) for site in self.sites], dtype=np.float64)
        return by_site[self.site_code]


def compile_site_model(
    registries: Sequence[SiteRegistry],
    index: DeviceIndex,
    overrides: dict[str, dict[str, object]] | None = None,
) -> SiteModel:
    overrides = overrides or {}
    settings = {
        r.site: site_settings(r.co_profile, {**r.rules, **overrides.get(r.site, {})}) for r in registries
    }
    n = len(index)
    is_door = index.kind == int(DeviceKind.DOOR)
    household_of = np.full(n, -1, dtype=np.int32)
    unit_of = np.full(n, -1, dtype=np.int32)
    vulnerable = np.zeros(n, dtype=np.bool_)
    end_of_life = np.full(n, np.inf)
    person_ids: list[str] = []
    person_household: list[int] = []
    lives_alone: list[bool] = []
    away: list[bool] = []
    welfare_s: list[float] = []
    household_ids: list[str] = []
    unit_where: list[Where] = []
    household_people: list[list[int]] = []
    household_sensors: list[list[int]] = []
    unit_of_household: list[int] = []
    for reg in registries:
        doors = index.by_group.get(f"guardian/{reg.site}/door", {})
        detectors = index.by_group.get(f"guardian/{reg.site}/sensor", {})
        st = settings[reg.site]
        for b in reg.buildings:
            for u in b.units:
                ui = len(unit_where)
                unit_where.append(Where(reg.site, b.id, u.id))
                for door in u.doors:
                    unit_of[doors[door]] = ui
                for h in u.households:
                    hi = len(household_ids)
                    household_ids.append(h.id)
                    household_sensors.append([])
                    unit_of_household.append(ui)
                    people = []
                    for p in h.residents:
                        people.append(len(person_ids))
                        person_ids.append(p.id)
                        person_household.append(hi)
                        lives_alone.append(p.lives_alone)
                        away.append(p.away)
                        welfare_s.append(p.welfare_hours * 3600.0)
                    household_people.append(people)
                    vuln = any(p.vulnerable for p in h.residents)
                    for s in h.sensors:
                        d = detectors[s.id]
                        household_of[d] = hi
                        household_sensors[hi].append(d)
                        unit_of[d] = ui
                        vulnerable[d] = vuln
                        if s.installed is not None:
                            installed = dt.datetime.combine(s.installed, dt.time(), dt.UTC).timestamp()
                            end_of_life[d] = (
                                installed + s.rated_life_years * 365.25 * 86400 - st.end_of_life_warning_s
                            )
    site_of = index.site
    codes = {r.site: i for i, r in enumerate(registries)}
    person_names = tuple(person_ids)
    household_names = tuple(household_ids)

    def column(get: Callable[[AlertSettings], float]) -> F64:
        values = {site: float(get(st)) for site, st in settings.items()}
        return np.fromiter((values[site_of[i]] for i in range(n)), dtype=np.float64, count=n)

    silent = np.where(
        is_door,
        column(lambda st: st.door_silent_s),
        np.where(
            index.mains_powered, column(lambda st: st.silent_mains_s), column(lambda st: st.silent_battery_s)
        ),
    )
    return SiteModel(
        index=index,
        settings=settings,
        zones={r.site: zoneinfo.ZoneInfo(r.timezone) for r in registries},
        is_door=is_door,
        household_of=household_of,
        unit_of=unit_of,
        vulnerable=vulnerable,
        site_code=np.fromiter((codes[s] for s in site_of), dtype=np.uint16, count=n),
        sites=tuple(codes),
        silent_s=silent,
        end_of_life=end_of_life,
        person_ids=person_names,
        people=NameIndex(person_names),
        person_household=np.asarray(person_household, dtype=np.int32),
        person_unit=np.asarray([unit_of_household[h] for h in person_household], dtype=np.int32),
        lives_alone=np.asarray(lives_alone, dtype=np.bool_),
        away=np.asarray(away, dtype=np.bool_),
        welfare_s=np.asarray(welfare_s, dtype=np.float64),
        household_ids=household_names,
        households=NameIndex(household_names),
        household_where=HouseholdWheres(unit_where, np.asarray(unit_of_household, np.int32), household_names),
        household_people=Groups(household_people),
        household_sensors=Groups(household_sensors),
    )
