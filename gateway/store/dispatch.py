"""Which team a work order goes to, from the site's dispatch rules (its registry's `dispatch` rows), and who
belongs to which team.

A rule names a category and, optionally, a building or a grid; a rule with neither category nor place is
the site's default. The most specific rule that matches wins: category and building, then category and grid,
then category alone, then the default; among rules as specific, the first in the file. No rule matching
leaves the order with the community (submitted, accepted) to dispatch by hand. Rules are read from the store
each time (a site has tens of them, and a re-imported registry takes effect at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.db import Store
from gateway.store.order_flow import TEAMS
from gateway.store.schema import Building, DispatchRule, Team


@dataclass(frozen=True, slots=True)
class Rule:
    team: str
    category: str = ""
    building: str = ""
    grid: str = ""
    position: int = 0

    @property
    def kind(self) -> str:
        """How specific it is, in words for the order's timeline: `category+building`, …, `default`."""
        if not self.category:
            return "default"
        return "category+building" if self.building else "category+grid" if self.grid else "category"

    @property
    def rank(self) -> int:
        """Lower is more specific."""
        return ("category+building", "category+grid", "category", "default").index(self.kind)

    def matches(self, category: str, building: str, grid: str) -> bool:
        return (
            (not self.category or self.category == category)
            and (not self.building or self.building == building)
            and (not self.grid or (grid != "" and self.grid == grid))
        )


def match(rules: Iterable[Rule], category: str, building: str, grid: str) -> Rule | None:
    """The most specific matching rule, the first in the file among equals; None: no rule matches."""
    found = [r for r in rules if r.matches(category, building, grid)]
    return min(found, key=lambda r: (r.rank, r.position)) if found else None


async def rules_of(s: AsyncSession, site: str) -> list[Rule]:
    rows = await s.scalars(
        select(DispatchRule).where(DispatchRule.site == site).order_by(DispatchRule.position)
    )
    return [Rule(r.team, r.category, r.building, r.grid, r.position) for r in rows]


async def route(s: AsyncSession, site: str, category: str, building: str) -> Rule | None:
    """The rule an order of this category in this building goes by (the building's grid looked up), in the
    caller's session: the order desk asks inside the transaction that opens the order."""
    rules = await rules_of(s, site)
    if not rules:
        return None
    grid = ""
    if building:
        grid = (
            await s.scalar(select(Building.grid).where(Building.site == site, Building.id == building)) or ""
        )
    return match(rules, category, building, grid)


async def teams(store: Store, site: str) -> list[Team]:
    async with store.session() as s:
        return list((await s.scalars(select(Team).where(Team.site == site).order_by(Team.id))).all())


async def members(store: Store, site: str, team: str) -> frozenset[str] | None:
    """A site team's members (person ids); None when `team` is a role team or a person, not a site team."""
    if team in TEAMS or not team:
        return None
    async with store.session() as s:
        row = await s.get(Team, (site, team))
    return None if row is None else frozenset(row.members or [])


async def teams_of(store: Store, site: str, role: str, username: str, person: str | None) -> list[str]:
    """The teams whose pool this caller claims from: the role team of their role, and the site teams that
    name them (their account or its person)."""
    mine = [t for t, roles in TEAMS.items() if role in roles]
    for t in await teams(store, site):
        if username in (t.members or []) or (person and person in (t.members or [])):
            mine.append(t.id)
    return mine
