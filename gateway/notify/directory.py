"""Who an audience is, for one alarm: RULES.md's R, EC, PM, GO and MT resolved through the registry.

Compiled once from the registries at start (the gateway drops the parsed registries afterwards). A person
may hold two roles for one alarm (a contact who is also on the property team): they are told once, under the
first audience that names them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from alerts.catalog import Audience
from alerts.signals import Where
from sensors.registry import SiteRegistry


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    name: str
    audience: Audience
    urls: tuple[str, ...]
    at_home: bool
    """Residents and their families: quiet hours apply to them (never to P1/P2)."""


class Directory:
    def __init__(self, registries: list[SiteRegistry]) -> None:
        self.timezone: dict[str, str] = {}
        self._household: dict[tuple[str, str], dict[Audience, list[Recipient]]] = {}
        self._unit: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._building_officers: dict[tuple[str, str], list[Recipient]] = {}
        self._site: dict[tuple[str, Audience], list[Recipient]] = {}
        self.people: dict[tuple[str, str], Recipient] = {}
        for reg in registries:
            self._add(reg)

    def _person(self, site: str, r: Recipient) -> Recipient:
        self.people.setdefault((site, r.id), r)
        return r

    def _add(self, reg: SiteRegistry) -> None:
        site = reg.site
        self.timezone[site] = reg.timezone
        R, EC, PM, GO, MT = Audience
        for grid in reg.grids:
            officers = [
                self._person(site, Recipient(o.id, o.name, GO, tuple(o.notify), False)) for o in grid.officers
            ]
            for building in grid.buildings:
                self._building_officers[(site, building)] = officers
        self._site[(site, PM)] = [
            self._person(site, Recipient(c.id, c.name, PM, tuple(c.notify), False)) for c in reg.property
        ]
        self._site[(site, MT)] = [
            self._person(site, Recipient(c.id, c.name, MT, tuple(c.notify), False)) for c in reg.maintenance
        ]
        for _, unit, household in reg.households():
            self._unit[(site, unit.id)].append(household.id)
            self._household[(site, household.id)] = {
                R: [
                    self._person(site, Recipient(p.id, p.name, R, tuple(p.notify), True))
                    for p in household.residents
                ],
                EC: [
                    self._person(site, Recipient(c.id, c.name, EC, tuple(c.notify), True))
                    for c in household.contacts
                ],
            }

    def resolve(self, where: Where, audiences: tuple[Audience, ...]) -> list[Recipient]:
        out: dict[str, Recipient] = {}
        for audience in audiences:
            for r in self.members(where, audience):
                out.setdefault(r.id, r)
        return list(out.values())

    def members(self, where: Where, audience: Audience) -> list[Recipient]:
        site = where.site
        if audience in (Audience.RESIDENTS, Audience.CONTACTS):
            # A door alarm has no household: it concerns every household behind that door.
            households = [where.household] if where.household else self._unit.get((site, where.unit), [])
            return [r for h in households for r in self._household.get((site, h), {}).get(audience, [])]
        if audience is Audience.GRID:
            return self._building_officers.get((site, where.building), [])
        return self._site.get((site, audience), [])
