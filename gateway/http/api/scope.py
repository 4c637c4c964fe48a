"""Who the caller is and what they may see, as conditions every query carries.

A resident sees the households they live in or are a family contact of; a grid officer the buildings of
their grids; property and maintenance staff their site; an admin everything. Anything outside answers 404
exactly as if it did not exist, so ids cannot be probed. Maintenance sees devices and alarms but no people;
door passages (personal data) are for property staff and admins only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select, true

from gateway.store.accounts import PERSON_ROLES
from gateway.store.db import Store
from gateway.store.schema import Account, Building, Household, Person

STAFF = frozenset({"officer", "property", "maintenance", "admin"})
SEES_PEOPLE = frozenset({"resident", "officer", "property", "admin"})
SEES_DOORS = frozenset({"property", "admin"})


@dataclass(frozen=True, slots=True)
class Caller:
    username: str
    role: str
    site: str | None  # None: every site (admin)
    person: str | None
    buildings: frozenset[str] | None  # None: every building of the site
    households: frozenset[str] | None  # None: every household of those buildings
    name: str = ""
    language: str = "zh"

    @property
    def recipient(self) -> str:
        """How acknowledgements and history name this caller (the notifier's recipient form for people)."""
        return f"{self.site}/{self.person}" if self.person else f"account:{self.username}"

    def where(self, model: Any) -> ColumnElement[bool]:
        """The caller's scope over a table with site, building and household columns (for the household
        table itself, its id)."""
        parts: list[ColumnElement[bool]] = []
        if self.site is not None:
            parts.append(model.site == self.site)
        if self.buildings is not None:
            parts.append(model.building.in_(sorted(self.buildings)) if self.buildings else false())
        if self.households is not None:
            column = model.household if hasattr(model, "household") else model.id
            parts.append(column.in_(sorted(self.households)) if self.households else false())
        return and_(true(), *parts)

    def sees_site(self, site: str) -> bool:
        return self.site is None or self.site == site

    def sees(self, site: str, building: str = "", household: str = "") -> bool:
        if not self.sees_site(site):
            return False
        if self.buildings is not None and building not in self.buildings:
            return False
        return self.households is None or (household != "" and household in self.households)

    def public(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "name": self.name,
            "language": self.language,
            "site": self.site,
            "person": self.person,
            "buildings": None if self.buildings is None else sorted(self.buildings),
            "households": None if self.households is None else sorted(self.households),
        }


async def resolve(store: Store, account: Account) -> Caller:
    role, site, person = account.role, account.site, account.person
    buildings: frozenset[str] | None = None
    households: frozenset[str] | None = None
    if role in PERSON_ROLES:
        async with store.session() as session:
            places = set(
                (
                    await session.scalars(
                        select(Person.place).where(
                            Person.site == site, Person.id == person, Person.role.in_(PERSON_ROLES[role])
                        )
                    )
                ).all()
            )
            if role == "resident":
                rows = (
                    await session.execute(
                        select(Household.id, Household.building).where(
                            Household.site == site, Household.id.in_(sorted(places))
                        )
                    )
                ).all()
                households = frozenset(r[0] for r in rows)
                buildings = frozenset(r[1] for r in rows)
            else:
                buildings = frozenset(
                    (
                        await session.scalars(
                            select(Building.id).where(
                                Building.site == site, Building.grid.in_(sorted(places))
                            )
                        )
                    ).all()
                )
    return Caller(
        username=account.username,
        role=role,
        site=None if role == "admin" else site,
        person=person,
        buildings=buildings,
        households=households,
        name=account.name,
        language=account.language,
    )
