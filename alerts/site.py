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
from sensors.columns import F64, I32, Bool
from sensors.compact import Groups, Names
from sensors.index import DeviceIndex, DeviceKind
from sensors.registry import SiteRegistry


class HouseholdWheres:
    """Where each household is, made on demand from its unit's: a `Where` per household cost 8 MB."""

    __slots__ = ("_unit_numbers", "ids", "unit_of", "units")

    def __init__(self, index: DeviceIndex) -> None:
        places = index.site.values, index.building.values, index.unit.values
        self.units = tuple(Where(site, building, unit) for site, building, unit in zip(*places, strict=True))
        self.unit_of = index.household_unit  # nondecreasing: households are numbered unit by unit
        self.ids = index.households
        self._unit_numbers = {(u.site, u.unit): i for i, u in enumerate(self.units)}

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, h: int) -> Where:
        u = self.units[self.unit_of[h]]
        return Where(u.site, u.building, u.unit, self.ids[h])

    def __iter__(self) -> Iterator[Where]:
        return (self[h] for h in range(len(self.ids)))

    def in_unit(self, site: str, unit: str) -> range:
        """The households of a unit (a door's alarm concerns every household behind it)."""
        u = self._unit_numbers.get((site, unit))
        if u is None:
            return range(0)
        first, end = np.searchsorted(self.unit_of, (u, u + 1)).tolist()
        return range(first, end)

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
    vulnerable: Bool  # the device's household has a vulnerable resident
    site_code: npt.NDArray[np.uint16]  # position of the device's site in `sites`
    sites: tuple[str, ...]
    silent_s: F64
    end_of_life: F64  # UNIX time the HLT-4 age warning falls due (inf when unknown)
    # people
    person_ids: Names  # (site, pseudonym) -> person through `person()`
    person_household: I32
    person_unit: I32
    lives_alone: Bool
    away: Bool
    welfare_s: F64
    # households and units
    household_where: HouseholdWheres
    household_people: Groups
    household_sensors: Groups

    # numbered by the index, in registry order
    @property
    def household_of(self) -> I32:
        """Each device's household, -1 for doors."""
        return self.index.household_of

    @property
    def unit_of(self) -> I32:
        return self.index.unit_of

    @property
    def household_ids(self) -> Names:
        """(site, id) -> household through `household()`."""
        return self.index.households

    def where(self, device: int) -> Where:
        ix = self.index
        return Where(ix.site[device], ix.building[device], ix.unit[device], ix.household[device])

    def device(self, site: str, subject: str) -> int | None:
        return self.index.find(site, subject)

    def person(self, site: str, pseudonym: str) -> int | None:
        where = self.household_where
        household = self.person_household
        return next((p for p in self.person_ids.find(pseudonym) if where.site(household[p]) == site), None)

    def household(self, site: str, household: str) -> int | None:
        where = self.household_where
        return next((h for h in self.household_ids.find(household) if where.site(h) == site), None)

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
    vulnerable = np.zeros(n, dtype=np.bool_)
    end_of_life = np.full(n, np.inf)
    person_ids: list[str] = []
    person_household: list[int] = []
    lives_alone: list[bool] = []
    away: list[bool] = []
    welfare_s: list[float] = []
    household_people: list[list[int]] = []
    household_sensors: list[list[int]] = []
    # households in registry order, as the index numbers them
    for reg in registries:
        detectors = index.group(reg.site, "sensor")
        st = settings[reg.site]
        for _, _, h in reg.households():
            hi = len(household_people)
            people = []
            for p in h.residents:
                people.append(len(person_ids))
                person_ids.append(p.id)
                person_household.append(hi)
                lives_alone.append(p.lives_alone)
                away.append(p.away)
                welfare_s.append(p.welfare_hours * 3600.0)
            household_people.append(people)
            sensors = []
            vuln = any(p.vulnerable for p in h.residents)
            for s in h.sensors:
                d = index.in_group(detectors, s.id)
                assert d is not None  # compiled from the same registries
                sensors.append(d)
                vulnerable[d] = vuln
                if s.installed is not None:
                    installed = dt.datetime.combine(s.installed, dt.time(), dt.UTC).timestamp()
                    end_of_life[d] = (
                        installed + s.rated_life_years * 365.25 * 86400 - st.end_of_life_warning_s
                    )
            household_sensors.append(sensors)
    if len(household_people) != len(index.households):
        raise ValueError("the device index was compiled from other registries")
    person_home = np.asarray(person_household, dtype=np.int32)
    codes = {r.site: i for i, r in enumerate(registries)}
    site_code = np.asarray([codes[s] for s in index.site.values], dtype=np.uint16)[index.unit_of]

    def column(get: Callable[[AlertSettings], float]) -> F64:
        return np.asarray([float(get(settings[site])) for site in codes], dtype=np.float64)[site_code]

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
        vulnerable=vulnerable,
        site_code=site_code,
        sites=tuple(codes),
        silent_s=silent,
        end_of_life=end_of_life,
        person_ids=Names(person_ids),
        person_household=person_home,
        person_unit=index.household_unit[person_home],
        lives_alone=np.asarray(lives_alone, dtype=np.bool_),
        away=np.asarray(away, dtype=np.bool_),
        welfare_s=np.asarray(welfare_s, dtype=np.float64),
        household_where=HouseholdWheres(index),
        household_people=Groups(household_people),
        household_sensors=Groups(household_sensors),
    )
