"""The duty roster as the store holds it: shifts in a time range, who may be rostered, what the gateway
keeps in memory for escalation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.schema import DutyShift, Person

DUTY_ROLES = ("officer", "property", "maintenance")
"""The person roles a shift may cover: a grid's officers, the property desk (the control room), the
maintenance desk. Residents and family contacts are never rostered."""


def shifts_query(
    site: str, since: float, until: float, role: str | None = None, place: str | None = None
) -> Select[Any]:
    """A site's shifts that overlap [since, until)."""
    q = select(DutyShift).where(DutyShift.site == site, DutyShift.start_ts < until, DutyShift.end_ts > since)
    if role is not None:
        q = q.where(DutyShift.role == role)
    if place is not None:
        q = q.where(DutyShift.place == place)
    return q


async def shifts_between(
    session: AsyncSession, site: str, since: float, until: float, role: str | None = None
) -> Sequence[DutyShift]:
    q = shifts_query(site, since, until, role).order_by(DutyShift.start_ts, DutyShift.id)
    return (await session.scalars(q)).all()


async def clashes(
    session: AsyncSession, site: str, person: str, start: float, end: float, besides: int | None = None
) -> Sequence[DutyShift]:
    """The person's other shifts at this site that overlap [start, end): one person is one place at a time."""
    q = select(DutyShift).where(
        DutyShift.site == site, DutyShift.person == person, DutyShift.start_ts < end, DutyShift.end_ts > start
    )
    if besides is not None:
        q = q.where(DutyShift.id != besides)
    return (await session.scalars(q.order_by(DutyShift.start_ts))).all()


async def rosterable(session: AsyncSession, site: str) -> Sequence[Person]:
    """Everyone of the site a shift may name: officers (by grid), property and maintenance staff."""
    q = (
        select(Person)
        .where(Person.site == site, Person.role.in_(DUTY_ROLES))
        .order_by(Person.role, Person.place, Person.id)
    )
    return (await session.scalars(q)).all()


async def shifts_around(session: AsyncSession, since: float, until: float) -> Sequence[DutyShift]:
    """Every site's shifts overlapping [since, until): what the gateway holds in memory."""
    q = select(DutyShift).where(DutyShift.start_ts < until, DutyShift.end_ts > since)
    return (await session.scalars(q.order_by(DutyShift.site, DutyShift.start_ts))).all()
