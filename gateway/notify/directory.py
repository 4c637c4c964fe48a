"""Who an audience is, for one alarm: docs/standards.md's R, EC, PM, GO and MT resolved through the registry.

Compiled once from the registries at start (the gateway drops the parsed registries afterwards) and kept
small: a household's residents, and a unit's households, are read from the rule model, which holds them
anyway; contacts, officers and staff as id tuples; notification URLs only for the people who have some;
`Recipient`s made when an alarm needs them. A full object graph cost 85 MB at 100,000 households,
residents as tuples of their own 10 MB, units' household ids 7 MB. A person holding two roles for one
alarm (a contact who is also on the property team) is told once, under the first audience that names them.

Grid officers (GO) and the site desks (PM, the property / security control room; MT, maintenance) narrow to
whoever the duty roster has on duty at the transition's own time (`gateway.notify.oncall`), and widen back
to all of them when no shift covers it: a hole in the roster never leaves an alarm with nobody.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.rule import Audience
from alerts.signals import Where
from alerts.site import SiteModel, compile_site_model
from gateway.notify.oncall import Duty, OnCall
from sensors.index import compile_index
from sensors.registry import Contact, Officer, Resident, SiteRegistry

R, EC, PM, GO, MT = Audience
DESKS = {PM: "property", MT: "maintenance"}
"""The person role that staffs each site desk (the roster's `role`)."""
ROSTERED = (GO, PM, MT)
"""The audiences a duty roster narrows."""


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    audience: Audience
    urls: tuple[str, ...]
    at_home: bool
    """Residents and their families: quiet hours apply to them (never to P1/P2)."""


Ids = tuple[str, ...]


class Directory:
    def __init__(
        self, registries: list[SiteRegistry], model: SiteModel | None = None, on_call: OnCall | None = None
    ) -> None:
        """`model`: the rule model compiled from the same registries (compiled here when not given);
        `on_call`: the duty roster (without one, every officer and all desk staff are on duty always)."""
        self._model = model or compile_site_model(registries, compile_index(registries))
        self._on_call = on_call
        self.timezone: dict[str, str] = {}
        self._contacts: dict[str, dict[str, Ids]] = defaultdict(dict)
        self._officers: dict[str, dict[str, Ids]] = defaultdict(dict)
        self._grid: dict[str, dict[str, str]] = defaultdict(dict)
        self._staff: dict[tuple[str, Audience], Ids] = {}
        self._urls: dict[str, dict[str, tuple[str, ...]]] = defaultdict(dict)
        for reg in registries:
            self._add(reg)

    def _add(self, reg: SiteRegistry) -> None:
        site = reg.site
        self.timezone[site] = reg.timezone
        urls = self._urls[site]

        def ids(people: Sequence[Resident | Contact | Officer]) -> Ids:
            for p in people:
                if p.notify:
                    urls.setdefault(p.id, tuple(p.notify))
            return tuple(p.id for p in people)

        for grid in reg.grids:
            officers = ids(grid.officers)
            for building in grid.buildings:
                self._officers[site][building] = officers
                self._grid[site][building] = grid.id
        self._staff[(site, PM)] = ids(reg.property)
        self._staff[(site, MT)] = ids(reg.maintenance)
        for _, _, household in reg.households():
            ids(household.residents)  # their URLs; who they are, and a unit's households, the model knows
            if household.contacts:
                self._contacts[site][household.id] = ids(household.contacts)

    @property
    def on_call(self) -> OnCall | None:
        return self._on_call

    def with_on_call(self, on_call: OnCall) -> Directory:
        """This directory reading the duty roster. The registries are compiled before the gateway's
        metrics and store exist (in a child process for a district), the roster after: the two meet here,
        sharing the compiled tables."""
        twin = copy.copy(self)
        twin._on_call = on_call
        return twin

    def resolve(
        self, where: Where, audiences: tuple[Audience, ...], at: float | None = None
    ) -> list[Recipient]:
        """`at`: the event time whose duty roster applies (the transition's `ts`; None: everyone)."""
        out: dict[str, Recipient] = {}
        urls = self._urls.get(where.site, {})
        for audience in audiences:
            at_home = audience in (R, EC)
            for person in self.members(where, audience, at):
                if person not in out:
                    out[person] = Recipient(person, audience, urls.get(person, ()), at_home)
        return list(out.values())

    def person(self, site: str, person: str, audience: Audience) -> Recipient | None:
        """One known person of the site as a recipient (the resident who filed a work order), or None."""
        if not self.knows(site, person):
            return None
        return Recipient(person, audience, self._urls.get(site, {}).get(person, ()), audience in (R, EC))

    def members(self, where: Where, audience: Audience, at: float | None = None) -> Ids:
        site = where.site
        if audience in (R, EC):
            # A door alarm has no household: it concerns every household behind that door.
            households = (where.household,) if where.household else self._unit(site, where.unit)
            if audience is R:
                return tuple(p for h in households for p in self._residents(site, h))
            contacts = self._contacts.get(site, {})
            return tuple(p for h in households for p in contacts.get(h, ()))
        if audience is GO:
            everyone = self._officers.get(site, {}).get(where.building, ())
            duty: Duty = (site, "officer", self._grid.get(site, {}).get(where.building, ""))
        else:
            everyone = self._staff.get((site, audience), ())
            duty = (site, DESKS[audience], "")
        if at is None or self._on_call is None:
            return everyone
        return self._on_call.pick(duty, at, everyone)

    def _unit(self, site: str, unit: str) -> Ids:
        wheres = self._model.household_where
        return tuple(wheres.ids[h] for h in wheres.in_unit(site, unit))

    def _residents(self, site: str, household: str) -> Ids:
        model = self._model
        h = model.household(site, household)
        return () if h is None else tuple(model.person_ids[p] for p in model.household_people[h])

    def knows(self, site: str, person: str) -> bool:
        """Whether `person` may be told anything at this site (enrolling a phone: a scan, not a hot path)."""
        if self._model.person(site, person) is not None:
            return True
        tables = [self._contacts.get(site, {}), self._officers.get(site, {})]
        staff = [ids for (s, _), ids in self._staff.items() if s == site]
        return any(person in ids for table in tables for ids in table.values()) or any(
            person in s for s in staff
        )
