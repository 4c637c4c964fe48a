"""The duty roster: who of a site's grid officers and desks is on duty when, who is on duty now, and the
hand-over of a running shift (docs/api.md).

Times enter and leave as ISO-8601 local times of the site's time zone (a time without an offset is read as
the site's; one with an offset is taken as given), and are stored as UNIX seconds. Property staff and
admins edit the roster; officers read their own grids' roster and the desks', and hand over their own
running shift. Every edit is read into the gateway's memory at once, so the next escalation uses it.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.errors import ShiftError, StoreError
from gateway.http.api.deps import Ctx, Me, Page, not_found, page, page_of, paged, role
from gateway.http.api.models import DutyNowOut, HandOverOut, PageOf, RosterPersonOut, ShiftOut, errors
from gateway.http.api.scope import STAFF, Caller
from gateway.store import queries
from gateway.store.duty import NewShift, add_shift, delete_shift, hand_over
from gateway.store.schema import DutyShift, Grid, Person, Site
from sensors.wire import ID_PATTERN

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["duty roster"], responses=errors(401, 403, 404, 413, 422, 503))
SiteId = Annotated[str, Path(pattern=ID_PATTERN)]
ShiftId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EDITORS = ("property", "admin")
DutyRole = Annotated[str, Field(pattern="^(officer|property|maintenance)$")]
WEEK = 7 * 86400.0
LIST_MAX = 62 * 86400.0
"""The longest range one listing covers."""


class ShiftIn(BaseModel):
    role: DutyRole = Field(
        description="officer: a grid's officers; property (the control room) or maintenance"
    )
    grid: Annotated[str, Field(pattern=ID_PATTERN)] | None = Field(None, description="officers only")
    person: Annotated[str, Field(pattern=ID_PATTERN)]
    start: dt.datetime = Field(description="local time of the site (ISO-8601), or with an offset")
    end: dt.datetime = Field(description="after start; a night shift ends the next day")
    note: Annotated[str, Field(max_length=500)] = ""


class HandOverIn(BaseModel):
    to: Annotated[str, Field(pattern=ID_PATTERN)] = Field(description="who takes the rest of the shift")
    note: Annotated[str, Field(max_length=500)] = ""


def _zone(s: Site) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(s.timezone)


def to_ts(t: dt.datetime, zone: zoneinfo.ZoneInfo) -> float:
    """Whole UNIX seconds of a time given in the site's zone (or with its own offset)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone)
    return float(int(t.timestamp()))


def local(ts: float, zone: zoneinfo.ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, zone).isoformat()


def _out(r: DutyShift, zone: zoneinfo.ZoneInfo) -> ShiftOut:
    return ShiftOut(
        id=r.id,
        site=r.site,
        role=r.role,
        grid=r.place or None,
        person=r.person,
        start=local(r.start_ts, zone),
        end=local(r.end_ts, zone),
        note=r.note,
        created_by=r.created_by,
        handed_from=r.handed_from,
    )


async def _site(session: AsyncSession, me: Caller, site: str) -> Site:
    s = await session.get(Site, site) if me.sees_site(site) else None
    if s is None:
        raise not_found("no such site")
    return s


async def _grids_seen(session: AsyncSession, me: Caller, site: str) -> set[str] | None:
    """The grids whose roster the caller reads: an officer's own grids; everyone else every grid."""
    if me.role != "officer":
        return None
    q = select(Person.place).where(Person.site == site, Person.role == "officer", Person.id == me.person)
    return set((await session.scalars(q)).all())


def _visible(r: DutyShift, grids: set[str] | None) -> bool:
    return grids is None or r.role != "officer" or r.place in grids


async def _reload(api: Ctx) -> None:
    """Into memory now, so the next escalation reads the edit; the periodic refresh catches a miss."""
    if api.on_call is None:
        return
    try:
        await api.on_call.reload()
    except StoreError as exc:
        log.warning("duty roster edited but not reread: %s", exc)


def _ts(t: dt.datetime | None, zone: zoneinfo.ZoneInfo, default: float) -> float:
    return default if t is None else to_ts(t, zone)


@router.get(
    "/sites/{site}/duty/shifts", response_model=PageOf[ShiftOut], dependencies=[Depends(role(*STAFF))]
)
async def shifts(
    api: Ctx,
    me: Me,
    site: SiteId,
    p: Page,
    since: Annotated[dt.datetime | None, Query(description="local time; default now")] = None,
    until: Annotated[dt.datetime | None, Query(description="local time; default a week after since")] = None,
    duty: Annotated[str | None, Query(pattern="^(officer|property|maintenance)$")] = None,
    grid: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> dict[str, Any]:
    """Shifts overlapping [since, until), by start: at most two months at a time."""
    async with api.store.session() as session:
        s = await _site(session, me, site)
        zone = _zone(s)
        start = _ts(since, zone, api.clock())
        end = _ts(until, zone, start + WEEK)
        if not start < end <= start + LIST_MAX:
            raise HTTPException(status_code=422, detail="until must be after since, and at most 62 days on")
        grids = await _grids_seen(session, me, site)
        q = queries.shifts_query(site, start, end, duty, grid)
        if grids is not None:
            q = q.where((DutyShift.role != "officer") | DutyShift.place.in_(sorted(grids)))
        rows, total = await paged(session, q, p, DutyShift.start_ts, DutyShift.id)
    return page([_out(r, zone) for r in rows], total, p)


@router.get(
    "/sites/{site}/duty/people", response_model=PageOf[RosterPersonOut], dependencies=[Depends(role(*STAFF))]
)
async def people(api: Ctx, me: Me, site: SiteId, p: Page) -> dict[str, Any]:
    """Who a shift may name: each grid's officers, the property and maintenance staff."""
    async with api.store.session() as session:
        await _site(session, me, site)
        grids = await _grids_seen(session, me, site)
        rows = await queries.rosterable(session, site)
    items = [
        RosterPersonOut(role=r.role, grid=r.place or None, id=r.id, name=r.name)
        for r in rows
        if grids is None or r.role != "officer" or r.place in grids
    ]
    return page_of(items, p)


@router.get("/sites/{site}/duty/now", response_model=list[DutyNowOut], dependencies=[Depends(role(*STAFF))])
async def on_duty(
    api: Ctx,
    me: Me,
    site: SiteId,
    at: Annotated[dt.datetime | None, Query(description="local time; default now")] = None,
) -> list[DutyNowOut]:
    """Per grid and desk, who is on duty at `at`: those whose shift covers it, or, with no shift covering
    it, everyone of that grid or desk (whom an escalation then tells; `rostered` false)."""
    async with api.store.session() as session:
        s = await _site(session, me, site)
        zone = _zone(s)
        ts = _ts(at, zone, api.clock())
        grids = await _grids_seen(session, me, site)
        covering = await queries.shifts_between(session, site, ts, ts + 1e-3)
        everyone = await queries.rosterable(session, site)
        all_grids = [g.id for g in (await session.scalars(select(Grid).where(Grid.site == site))).all()]
    duties = [("officer", g) for g in sorted(all_grids) if grids is None or g in grids]
    duties += [("property", ""), ("maintenance", "")]
    out = []
    for duty_role, place in duties:
        members = [r.id for r in everyone if (r.role, r.place) == (duty_role, place)]
        mine = [r for r in covering if (r.role, r.place) == (duty_role, place) and r.person in members]
        on = list(dict.fromkeys(r.person for r in mine))
        out.append(
            DutyNowOut(
                role=duty_role,
                grid=place or None,
                at=local(ts, zone),
                rostered=bool(on),
                on_duty=on or members,
                shifts=[_out(r, zone) for r in mine],
            )
        )
    return out


@router.post(
    "/sites/{site}/duty/shifts",
    response_model=ShiftOut,
    status_code=201,
    dependencies=[Depends(role(*EDITORS))],
)
async def create(api: Ctx, me: Me, site: SiteId, body: ShiftIn) -> ShiftOut:
    """A shift for one person of a grid or desk. 422 when it ends before it starts, overlaps another shift
    of that person, or names someone who is not of that grid or desk."""
    async with api.store.session() as session:
        zone = _zone(await _site(session, me, site))
    place = body.grid or ""
    if body.role == "officer" and not place:
        raise HTTPException(status_code=422, detail="an officer's shift names its grid")
    shift = NewShift(
        site, body.role, place, body.person, to_ts(body.start, zone), to_ts(body.end, zone), body.note
    )
    try:
        row = await add_shift(api.store, shift, me.username, api.clock())
    except ShiftError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    await _reload(api)
    return _out(row, zone)


@router.delete(
    "/sites/{site}/duty/shifts/{shift_id}", status_code=204, dependencies=[Depends(role(*EDITORS))]
)
async def remove(api: Ctx, me: Me, site: SiteId, shift_id: ShiftId) -> Response:
    async with api.store.session() as session:
        await _site(session, me, site)
    if not await delete_shift(api.store, site, shift_id):
        raise not_found("no such shift")
    await _reload(api)
    return Response(status_code=204)


@router.post(
    "/sites/{site}/duty/shifts/{shift_id}/hand-over",
    response_model=HandOverOut,
    dependencies=[Depends(role(*EDITORS, "officer"))],
)
async def hand(api: Ctx, me: Me, site: SiteId, shift_id: ShiftId, body: HandOverIn) -> HandOverOut:
    """The rest of a running shift goes to another person of the same grid or desk: the shift ends now,
    a new one runs from now to its old end with the note. An officer hands over only their own shift."""
    async with api.store.session() as session:
        zone = _zone(await _site(session, me, site))
        row = await session.get(DutyShift, shift_id)
        grids = await _grids_seen(session, me, site)
    if row is None or row.site != site or not _visible(row, grids):
        raise not_found("no such shift")
    if me.role == "officer" and row.person != me.person:
        raise HTTPException(status_code=403, detail="an officer hands over only their own shift")
    try:
        old, new = await hand_over(api.store, site, shift_id, body.to, body.note, me.username, api.clock())
    except ShiftError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    log.info("site %s: shift %d handed over by %s to %s", site, shift_id, me.username, body.to)
    await _reload(api)
    return HandOverOut(ended=_out(old, zone), started=_out(new, zone))
