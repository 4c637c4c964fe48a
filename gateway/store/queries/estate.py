"""The estate as the store holds it: sites, grids, buildings with their open-alarm board, households,
devices and the people of a home."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.rule import Family
from alerts.rules import of_family
from gateway.store.alarm_book import OPEN
from gateway.store.schema import Alarm, Building, Device, Grid, Household, Person, Site


async def sites_for(session: AsyncSession, site: str | None) -> Sequence[Site]:
    """Every site (staff of the whole district), or the caller's own."""
    q = select(Site) if site is None else select(Site).where(Site.id == site)
    return (await session.scalars(q.order_by(Site.id))).all()


async def grids_of(session: AsyncSession, site: str) -> Sequence[Grid]:
    return (await session.scalars(select(Grid).where(Grid.site == site).order_by(Grid.id))).all()


async def grid_members(session: AsyncSession, site: str) -> list[tuple[str | None, str]]:
    """(grid, building) for every building of the site."""
    rows = await session.execute(select(Building.grid, Building.id).where(Building.site == site))
    return [(g, b) for g, b in rows.tuples().all()]


@dataclass(frozen=True, slots=True)
class BuildingBoard:
    buildings: Sequence[Building]
    households: dict[str, int]
    """Households per building (those the caller may see)."""
    open_alarms: dict[str, list[int]]
    """Per building: open alarms [P1, P2, P3, P4, unacknowledged, welfare checks], from the alarm book."""


async def building_board(
    session: AsyncSession,
    site: str,
    buildings: Collection[str] | None,
    households: Collection[str] | None,
    only: str | None = None,
) -> BuildingBoard:
    """The buildings of a site with their household counts and open alarms, in one session: from the
    alarm book, so the board and the alarm list never disagree."""
    q = select(Building).where(Building.site == site)
    if buildings is not None:
        q = q.where(Building.id.in_(sorted(buildings)))
    if only is not None:
        q = q.where(Building.id == only)
    rows = (await session.scalars(q.order_by(Building.id))).all()
    hq = select(Household.building, func.count()).where(Household.site == site).group_by(Household.building)
    if households is not None:
        hq = hq.where(Household.id.in_(sorted(households)))
    counts = {b: int(n) for b, n in (await session.execute(hq)).tuples().all()}
    welfare = sorted(of_family(Family.WELFARE))
    tally = (
        await session.execute(
            select(
                Alarm.building,
                Alarm.severity,
                func.count(),
                func.count(Alarm.acked_ts),
                func.sum(case((Alarm.rule.in_(welfare), 1), else_=0)),
            )
            .where(Alarm.site == site, Alarm.state.in_(OPEN))
            .group_by(Alarm.building, Alarm.severity)
        )
    ).all()
    board: dict[str, list[int]] = {}
    for building, severity, n, acked, welfare_checks in tally:
        c = board.setdefault(building, [0] * 6)
        c[int(severity[1]) - 1] += n
        c[4] += n - acked
        c[5] += int(welfare_checks or 0)
    return BuildingBoard(rows, counts, board)


def households_query(
    site: str, scope: ColumnElement[bool], building: str | None, only: list[str] | None
) -> Select[Any]:
    """A site's households the caller may see; `only` narrows to these ids (an empty list: none)."""
    q = select(Household).where(scope).where(Household.site == site)
    if building:
        q = q.where(Household.building == building)
    if only is not None:
        q = q.where(Household.id.in_(only) if only else false())
    return q


def devices_query(
    site: str,
    scope: ColumnElement[bool],
    building: str | None,
    household: str | None,
    only: list[str] | None = None,
    besides: list[str] | None = None,
) -> Select[Any]:
    """A site's devices the caller may see; `only` narrows to these ids, `besides` leaves these out."""
    q = select(Device).where(scope).where(Device.site == site)
    if building:
        q = q.where(Device.building == building)
    if household:
        q = q.where(Device.household == household)
    if only is not None:
        q = q.where(Device.id.in_(only) if only else false())
    if besides:
        q = q.where(Device.id.not_in(besides))
    return q


async def devices_of_household(session: AsyncSession, site: str, household: str) -> Sequence[Device]:
    q = select(Device).where(Device.site == site, Device.household == household).order_by(Device.id)
    return (await session.scalars(q)).all()


async def people_of_household(session: AsyncSession, site: str, household: str) -> Sequence[Person]:
    """Its residents, then its emergency contacts."""
    q = (
        select(Person)
        .where(Person.site == site, Person.place == household, Person.role.in_(["resident", "contact"]))
        .order_by(Person.role.desc(), Person.id)
    )
    return (await session.scalars(q)).all()


async def residents_named(session: AsyncSession, site: str, person: str) -> Sequence[Person]:
    """The resident rows of one person (a person may live in more than one household of a site)."""
    q = select(Person).where(Person.site == site, Person.id == person, Person.role == "resident")
    return (await session.scalars(q)).all()
