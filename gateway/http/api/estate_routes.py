"""Sites, grids, buildings, households, devices, door passages, the away switch and push subscriptions,
each list filtered by the caller's scope (gateway.http.api.scope) and paged."""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel

from gateway.errors import EndpointRefused, StorageError
from gateway.http.api.deps import Ctx, Me, Page, not_found, page, page_of, paged, role
from gateway.http.api.models import (
    BuildingOut,
    DeviceOut,
    DoorEventOut,
    GridOut,
    HouseholdOut,
    PageOf,
    PersonOut,
    SiteOut,
    StaffOut,
    SubscriptionOut,
    errors,
)
from gateway.http.api.names import building_names, place
from gateway.http.api.scope import SEES_DOORS, SEES_PEOPLE, STAFF, Caller
from gateway.http.links import PushSubscriptionIn
from gateway.influx.queries import last_battery
from gateway.store import queries
from gateway.store.schema import Device, Household, Site
from gateway.subscription import Subscription
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["estate"], responses=errors(401, 403, 404, 409, 413, 503))
SiteId = Annotated[str, Path(pattern=ID_PATTERN)]
ObjId = Annotated[str, Path(pattern=ID_PATTERN)]


def _site(me: Caller, site: str) -> None:
    if not me.sees_site(site):
        raise not_found("no such site")


@router.get("/sites", response_model=PageOf[SiteOut])
async def sites(api: Ctx, me: Me, p: Page) -> dict[str, Any]:
    async with api.store.session() as session:
        rows = await queries.sites_for(session, me.site)
    return page_of([_site_out(s) for s in rows], p)


def _site_out(s: Site) -> SiteOut:
    return SiteOut(id=s.id, name=s.name, timezone=s.timezone, co_profile=s.co_profile, phone=s.phone)


@router.get("/sites/{site}", response_model=SiteOut)
async def site_detail(api: Ctx, me: Me, site: SiteId) -> SiteOut:
    _site(me, site)
    async with api.store.session() as session:
        s = await session.get(Site, site)
    if s is None:
        raise not_found("no such site")
    return _site_out(s)


@router.get("/sites/{site}/grids", response_model=PageOf[GridOut])
async def grids(api: Ctx, me: Me, site: SiteId, p: Page) -> dict[str, Any]:
    _site(me, site)
    async with api.store.session() as session:
        rows = await queries.grids_of(session, site)
        members = await queries.grid_members(session, site)
    by_grid: dict[str, list[str]] = {}
    for g, b in members:
        if g is not None and (me.buildings is None or b in me.buildings):
            by_grid.setdefault(g, []).append(b)
    items = [
        GridOut(site=g.site, id=g.id, name=g.name, buildings=sorted(by_grid.get(g.id, [])))
        for g in rows
        if me.buildings is None or by_grid.get(g.id)
    ]
    return page_of(items, p)


async def _buildings(api: Ctx, me: Me, site: str, only: str | None = None) -> list[BuildingOut]:
    async with api.store.session() as session:
        board = await queries.building_board(session, site, me.buildings, me.households, only)
    rows, counts = board.buildings, board.households
    out = []
    for b in rows:
        open_alarms = board.open_alarms.get(b.id, [0] * 6)
        if me.households is not None:
            open_alarms = [0] * 6  # building-wide counts are not a resident's business
        out.append(
            BuildingOut(
                site=site,
                id=b.id,
                name=b.name,
                grid=b.grid,
                households=counts.get(b.id, 0),
                open_alarms=open_alarms,
            )
        )
    return out


@router.get("/sites/{site}/buildings", response_model=PageOf[BuildingOut])
async def buildings(api: Ctx, me: Me, site: SiteId, p: Page) -> dict[str, Any]:
    _site(me, site)
    items = await _buildings(api, me, site)
    return page_of(items, p)


@router.get("/sites/{site}/buildings/{building}", response_model=BuildingOut)
async def building_detail(api: Ctx, me: Me, site: SiteId, building: ObjId) -> BuildingOut:
    _site(me, site)
    items = await _buildings(api, me, site, building)
    if not items:
        raise not_found("no such building")
    return items[0]


def _device(api: Ctx, d: Device) -> DeviceOut:
    return DeviceOut(
        site=d.site,
        id=d.id,
        kind=d.kind,
        building=d.building,
        unit=d.unit,
        household=d.household,
        power=d.power,
        installed=d.installed,
        model=d.model,
        live=api.device_state(d.site, d.id),  # type: ignore[arg-type]
    )


def _household(api: Ctx, h: Household, building_name: str = "", **details: Any) -> HouseholdOut:
    zh, en = place(building_name, h.building, h.unit, h.id)
    return HouseholdOut(
        place=en,
        place_zh=zh,
        site=h.site,
        id=h.id,
        building=h.building,
        unit=h.unit,
        floor=h.floor,
        status=api.household_state(h.site, h.id),  # type: ignore[arg-type]
        **details,
    )


@router.get("/sites/{site}/households", response_model=PageOf[HouseholdOut])
async def households(
    api: Ctx,
    me: Me,
    site: SiteId,
    p: Page,
    building: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    unprotected: Annotated[bool, Query(description="only households no detector can protect now")] = False,
) -> dict[str, Any]:
    """Paged in the database; `unprotected` asks the rules which households first (a few, from numpy
    columns), so a 20,000-household site is never read whole for one page. Where no rules run (a
    district's API replica) `unprotected` is 503: unknown here, never an empty "everyone is protected"."""
    _site(me, site)
    if (
        unprotected and api.live is None
    ):  # a district's API replica: not an empty list, which reads "all safe"
        raise HTTPException(status_code=503, detail=f"which households are unprotected is {api.no_live[0]}")
    only = api.live.unprotected(site) if api.live and unprotected else None
    q = queries.households_query(site, me.where(Household), building, only)
    async with api.store.session() as session:
        rows, total = await paged(session, q, p, Household.building, Household.id)
        names = await building_names(session, ((site, h.building) for h in rows))
    return page([_household(api, h, names.get((site, h.building), "")) for h in rows], total, p)


@router.get("/sites/{site}/households/{household}", response_model=HouseholdOut)
async def household_detail(api: Ctx, me: Me, site: SiteId, household: ObjId) -> HouseholdOut:
    _site(me, site)
    async with api.store.session() as session:
        h = await session.get(Household, (site, household))
        if h is None or not me.sees(site, h.building, h.id):
            raise not_found("no such household")
        devices = await queries.devices_of_household(session, site, household)
        name = (await building_names(session, [(site, h.building)])).get((site, h.building), "")
        people = None
        if me.role in SEES_PEOPLE:
            rows = await queries.people_of_household(session, site, household)
            people = [
                PersonOut(
                    id=r.id,
                    role=r.role,
                    name=r.name,
                    lives_alone=r.lives_alone,
                    vulnerable=r.vulnerable,
                    away=r.away,
                )
                for r in rows
            ]
    return _household(api, h, name, people=people, devices=[_device(api, d) for d in devices])


@router.get("/sites/{site}/devices", response_model=PageOf[DeviceOut])
async def devices(
    api: Ctx,
    me: Me,
    site: SiteId,
    p: Page,
    building: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    household: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    health: Annotated[
        str | None, Query(pattern="^(ok|preheat|low_battery|stuck|end_of_life|fault|silent)$")
    ] = None,
) -> dict[str, Any]:
    _site(me, site)
    only: list[str] | None = None
    besides: list[str] | None = None
    if health is not None:
        # the few devices in trouble come from the rules' state; "ok" is everything else
        troubled = api.live.devices_by_health(site) if api.live else {}
        if health == "ok":
            besides = [d for h, ids in troubled.items() if h != "ok" for d in ids]
        else:
            only = troubled.get(health, [])
    q = queries.devices_query(site, me.where(Device), building, household, only, besides)
    async with api.store.session() as session:
        rows, total = await paged(session, q, p, Device.id)
    return page([_device(api, d) for d in rows], total, p)


@router.get("/sites/{site}/devices/{device}", response_model=DeviceOut)
async def device_detail(api: Ctx, me: Me, site: SiteId, device: ObjId) -> DeviceOut:
    _site(me, site)
    async with api.store.session() as session:
        d = await session.get(Device, (site, device))
    if d is None or not me.sees(site, d.building, d.household):
        raise not_found("no such device")
    out = _device(api, d)
    if api.influx is not None and d.kind != "door":
        try:
            rows = await last_battery(api.influx, site, device)
        except StorageError:
            rows = []
        if rows:
            out.battery_pct = rows[0].get("battery_pct")
            out.last_reading_ts = rows[0]["time"] / 1000
    return out


@router.get(
    "/sites/{site}/door-events",
    response_model=PageOf[DoorEventOut],
    dependencies=[Depends(role(*SEES_DOORS))],
)
async def door_events(
    api: Ctx,
    me: Me,
    site: SiteId,
    p: Page,
    door: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    event: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
    since: Annotated[float | None, Query(ge=0, le=4e9)] = None,
    until: Annotated[float | None, Query(ge=0, le=4e9)] = None,
) -> dict[str, Any]:
    """Door passages and incidents, newest first: pseudonyms only, never faces or names."""
    _site(me, site)
    async with api.store.session() as session:
        if await session.get(Site, site) is None:
            raise not_found("no such site")
    if api.influx is None:
        raise HTTPException(status_code=503, detail="InfluxDB not configured")
    until = until if until is not None else api.clock() + 60
    since = since if since is not None else until - 86400
    where = f"site = '{site}' AND time >= {int(since * 1e9)} AND time <= {int(until * 1e9)}"
    if door:
        where += f" AND door = '{door}'"
    if event:
        where += f" AND event = '{event}'"
    q = (
        'SELECT "seq", "person", "method", "direction", "building", "unit", "door", "event" '
        f'FROM "{api.influx.policy("door_event")}"."door_event" '
        f"WHERE {where} ORDER BY time DESC LIMIT {p.limit + 1} OFFSET {p.offset}"
    )
    try:
        rows = await api.influx.rows(q, epoch="ms")
    except StorageError as exc:
        raise HTTPException(status_code=503, detail=f"door history unavailable: {exc}") from exc
    items = [
        DoorEventOut(
            ts=r["time"] / 1000,
            door=r.get("door") or "",
            building=r.get("building") or "",
            unit=r.get("unit") or "",
            event=r.get("event") or "",
            person=r.get("person"),
            method=r.get("method"),
            direction=r.get("direction"),
        )
        for r in rows[: p.limit]
    ]
    more = len(rows) > p.limit
    total = p.offset + len(items) + (1 if more else 0)
    return page(items, total, p)


@router.get("/sites/{site}/staff", response_model=PageOf[StaffOut], dependencies=[Depends(role(*STAFF))])
async def staff(api: Ctx, me: Me, site: SiteId, p: Page) -> dict[str, Any]:
    """The site's staff accounts, for assigning an alarm to one of them (residents are not listed)."""
    _site(me, site)
    async with api.store.session() as session:
        rows = await queries.staff_of(session, site, STAFF)
    items = [StaffOut(username=a.username, name=a.name, role=a.role) for a in rows]
    return page_of(items, p)


class Away(BaseModel):
    away: bool


@router.put("/me/away", tags=["me"], dependencies=[Depends(role("resident"))])
async def set_away(api: Ctx, me: Me, body: Away) -> dict[str, Any]:
    """ "I'm away": the stove-left-on rule watches an empty home, the welfare check stops expecting me."""
    async with api.store.session() as session, session.begin():
        rows = await queries.residents_named(session, me.site or "", me.person or "")
        if not rows:
            raise not_found("you are not a resident of any household")
        for r in rows:
            r.away = body.away
            r.away_set_ts = api.clock()
    applied = api.live.engine.set_away(me.site or "", me.person or "", body.away) if api.live else False
    return {"away": body.away, "rules_updated": applied}


# -- push subscriptions ------------------------------------------------------------------------------


def _sub_out(s: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=s.id,
        endpoint_host=urllib.parse.urlsplit(s.endpoint).hostname or "",
        created=s.created,
        agent=s.agent,
    )


def _own_subs(api: Ctx, me: Caller) -> list[Subscription]:
    n = api.notifier
    if n is None or not me.person:
        return []
    subs = n.subscriptions
    return [s for i in subs.of(me.site or "", me.person) if (s := subs.get(i)) is not None]


@router.get("/me/push-subscriptions", response_model=PageOf[SubscriptionOut], tags=["me"])
async def my_subscriptions(api: Ctx, me: Me, p: Page) -> dict[str, Any]:
    items = [_sub_out(s) for s in _own_subs(api, me)]
    return page_of(items, p)


class NewSubscription(BaseModel):
    subscription: PushSubscriptionIn
    agent: str = ""


@router.post("/me/push-subscriptions", response_model=SubscriptionOut, status_code=201, tags=["me"])
async def add_subscription(api: Ctx, me: Me, body: NewSubscription) -> SubscriptionOut:
    """This phone receives my alarms (signed in: no enrolment link needed)."""
    if api.notifier is None or api.notifier.subscribe_key is None:
        raise HTTPException(status_code=404, detail="web push is off")
    if not me.person or not me.site:
        raise HTTPException(status_code=409, detail="this account is not a person the notifier can reach")
    sub = body.subscription.for_person(me.site, me.person, api.clock(), body.agent)
    try:
        await api.notifier.subscribe(sub)
    except EndpointRefused as exc:
        raise HTTPException(status_code=422, detail=f"push endpoint refused: {exc}") from exc
    return _sub_out(sub)


@router.delete("/me/push-subscriptions/{sub_id}", status_code=204, tags=["me"])
async def remove_subscription(
    api: Ctx, me: Me, sub_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")]
) -> Response:
    if api.notifier is None or sub_id not in {s.id for s in _own_subs(api, me)}:
        raise not_found("no such subscription")
    await api.notifier.remove_subscription(sub_id)
    return Response(status_code=204)
