"""Changing the duty roster: adding a shift, removing one, handing the rest of one over (docs/store.md).

Every change is checked in the transaction that makes it, so the roster the escalation reads never holds
a shift that ends before it starts, one person on two shifts at once, or someone who is not of that grid
or desk; a refused change raises ShiftError saying which. Times are UNIX seconds, whole seconds: the
API turns the site's local times into them. The gateway keeps the shifts around now in memory
(`gateway.notify.oncall`); `load_shifts` is what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import ShiftError, StoreError
from gateway.notify.oncall import Shift
from gateway.store import queries
from gateway.store.db import Store
from gateway.store.queries.duty import DUTY_ROLES
from gateway.store.schema import DutyShift, Grid, Person

LONGEST = 7 * 86400.0
"""A shift longer than a week is a typing mistake, not a shift (and it would widen every lookup)."""
KEEP_BEHIND = 2 * 86400.0
"""Shifts ended this long ago are still held in memory: a replay of the spool escalates at event time."""
KEEP_AHEAD = 62 * 86400.0
"""How far ahead of now the memory holds shifts (re-read every refresh: two months is plenty)."""


@dataclass(frozen=True, slots=True)
class NewShift:
    site: str
    role: str
    place: str
    person: str
    start: float
    end: float
    note: str = ""


def _what(role: str, place: str) -> str:
    return f"an officer of grid {place!r}" if role == "officer" else f"{role} staff of the site"


async def _check(session: AsyncSession, shift: NewShift) -> None:
    if shift.role not in DUTY_ROLES:
        raise ShiftError(f"role {shift.role!r}: a shift covers one of {', '.join(DUTY_ROLES)}")
    if shift.role == "officer":
        if await session.get(Grid, (shift.site, shift.place)) is None:
            raise ShiftError(f"no grid {shift.place!r} at site {shift.site!r}")
    elif shift.place:
        raise ShiftError(f"a {shift.role} shift covers the site's desk, not {shift.place!r}")
    if shift.end <= shift.start:
        raise ShiftError("the shift must end after it starts")
    if shift.end - shift.start > LONGEST:
        raise ShiftError(
            f"a shift of {(shift.end - shift.start) / 3600:.0f} h: at most {LONGEST / 3600:.0f} h"
        )
    if await session.get(Person, (shift.site, shift.role, shift.place, shift.person)) is None:
        raise ShiftError(f"{shift.person!r} is not {_what(shift.role, shift.place)}")
    clash = await queries.clashes(session, shift.site, shift.person, shift.start, shift.end)
    if clash:
        c = clash[0]
        raise ShiftError(
            f"{shift.person!r} is already on shift {c.id} ({c.role} {c.place or 'desk'}) at that time"
        )


async def add_shift(store: Store, shift: NewShift, by: str, now: float) -> DutyShift:
    async with store.session() as session, session.begin():
        await _check(session, shift)
        row = DutyShift(
            site=shift.site,
            role=shift.role,
            place=shift.place,
            person=shift.person,
            start_ts=float(shift.start),
            end_ts=float(shift.end),
            note=shift.note,
            created_by=by,
            created_ts=now,
            handed_from=None,
        )
        session.add(row)
        await session.flush()
    return row


async def delete_shift(store: Store, site: str, shift_id: int) -> bool:
    async with store.session() as session, session.begin():
        row = await session.get(DutyShift, shift_id)
        if row is None or row.site != site:
            return False
        await session.delete(row)
    return True


async def hand_over(
    store: Store, site: str, shift_id: int, to: str, note: str, by: str, now: float
) -> tuple[DutyShift, DutyShift]:
    """The rest of a shift running now goes to `to`: the shift ends at `now`, a new one for `to` runs from
    `now` to its old end and names it (`handed_from`), with the note. Returns (old, new)."""
    now = float(int(now))
    async with store.session() as session, session.begin():
        old = await session.get(DutyShift, shift_id, with_for_update=True)
        if old is None or old.site != site:
            raise ShiftError(f"no shift {shift_id} at site {site!r}")
        if not old.start_ts <= now < old.end_ts:
            raise ShiftError(f"shift {shift_id} is not running now: only the shift on duty is handed over")
        if to == old.person:
            raise ShiftError(f"{to!r} is already on this shift")
        rest = NewShift(site, old.role, old.place, to, now, old.end_ts, note)
        await _check(session, rest)
        new = DutyShift(
            site=site,
            role=old.role,
            place=old.place,
            person=to,
            start_ts=now,
            end_ts=old.end_ts,
            note=note,
            created_by=by,
            created_ts=now,
            handed_from=old.id,
        )
        if now == old.start_ts:
            await session.delete(old)  # handed over the moment it began: nothing of it was served
        else:
            old.end_ts = now
        session.add(new)
        await session.flush()
    return old, new


async def load_shifts(store: Store, now: float) -> list[Shift]:
    """The shifts the gateway holds in memory; raises StoreError when the store does not answer."""
    try:
        async with store.session() as session:
            rows = await queries.shifts_around(session, now - KEEP_BEHIND, now + KEEP_AHEAD)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"reading the duty roster: {exc}") from exc
    return [Shift(r.site, r.role, r.place, r.person, r.start_ts, r.end_ts) for r in rows]
