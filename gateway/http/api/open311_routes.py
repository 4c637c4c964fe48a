"""Open311 GeoReport v2 over the work orders, so a city's 12345-style platform can pull and push requests.

    GET  /open311/v2/services.json                 the categories, as services (no attributes: metadata false)
    GET  /open311/v2/requests.json                 requests in the caller's scope (service_request_id a,b;
                                                   service_code; start_date, end_date; status open|closed)
    GET  /open311/v2/requests/{id}.json            one request, in a list of one, as the spec has it
    POST /open311/v2/requests.json                 a new request (form fields: service_code, description,
                                                   address_id = a household, or device_id = a detector)

The spec's `api_key` is one of our access tokens (also accepted as `Authorization: Bearer`): requests name
homes, so nothing is public. Our states map to `open` and `closed` (resolved, verified, closed or cancelled),
with the state itself and the resolution in `status_notes`; times are ISO 8601 in the site's time zone.
Errors are the spec's list of `{code, description}` with the HTTP status.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from gateway.errors import OrderRefused
from gateway.http.api.deps import Ctx, bearer, caller
from gateway.http.api.models import Out, errors
from gateway.http.api.scope import Caller
from gateway.http.api.work_order_routes import record_change
from gateway.store import work_orders as wo
from gateway.store.order_flow import CATEGORIES, FINISHED
from gateway.store.schema import Site, WorkOrder


class Open311Error(Out):
    code: int
    description: str


class ServiceOut(Out):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class RequestOut(Out):
    service_request_id: str
    status: str
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str
    address_id: str
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class MadeOut(Out):
    service_request_id: str
    service_notice: str
    account_id: str | None


def _spec_error(why: str) -> dict[str, object]:
    return {"model": list[Open311Error], "description": why}


router = APIRouter(
    prefix="/open311/v2",
    tags=["open311"],
    responses={
        **errors(401, 413, 422),
        400: _spec_error(
            "a parameter the spec allows, with a value it does not (the description says which)"
        ),
        404: _spec_error("no such request, household or device within the caller's scope"),
    },
)
SERVICES = {
    "gas_smell": ("Gas smell", "闻到燃气味: a P1, the property's duty team within 15 minutes"),
    "detector_fault": ("Detector fault", "探测器故障"),
    "battery": ("Detector battery", "探测器电池"),
    "end_of_life": ("Detector end of life", "探测器到期更换"),
    "door_fault": ("Door or access fault", "门禁故障"),
    "welfare_visit": ("Welfare visit", "敲门行动: a visit to an elder living alone"),
    "repair": ("Repair", "维修"),
    "other": ("Other", "其他"),
}
assert set(SERVICES) == set(CATEGORIES)
LIMIT = 1000
"""The spec's default window: at most this many requests per answer."""


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse(status_code=status, content=[{"code": status, "description": description}])


async def _who(
    request: Request, api: Ctx, token: Annotated[str | None, Depends(bearer)], api_key: str | None = None
) -> Caller:
    """The spec's `api_key` (query or form) or a bearer token: either is one of our access tokens."""
    if not token:
        token = api_key
        if token is None and request.method == "POST":
            token = str((await request.form()).get("api_key") or "") or None
    return await caller(api, token)


Who = Annotated[Caller, Depends(_who)]


@router.get("/services.json", response_model=list[ServiceOut])
async def services(api: Ctx, me: Who) -> list[dict[str, Any]]:
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": text,
            "metadata": False,
            "type": "realtime",
            "keywords": code.replace("_", ", "),
            "group": "safety" if code in ("gas_smell", "detector_fault", "welfare_visit") else "maintenance",
        }
        for code, (name, text) in SERVICES.items()
    ]


async def _zones(api: Ctx, sites: set[str]) -> dict[str, ZoneInfo]:
    async with api.store.session() as s:
        rows = (await s.execute(select(Site.id, Site.timezone).where(Site.id.in_(sorted(sites))))).all()
    return {site: ZoneInfo(tz) for site, tz in rows}


def _iso(ts: float | None, zone: ZoneInfo) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")


def _request(o: WorkOrder, zone: ZoneInfo) -> dict[str, Any]:
    closed = o.state in FINISHED
    notes = o.state + (f": {o.resolution}" if o.resolution else "")
    return {
        "service_request_id": o.id,
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": SERVICES[o.category][0],
        "service_code": o.category,
        "description": o.description,
        "agency_responsible": o.assignee,
        "service_notice": f"priority {o.priority}",
        "requested_datetime": _iso(o.created_ts, zone),
        "updated_datetime": _iso(o.updated_ts, zone),
        "expected_datetime": None if closed else _iso(o.resolve_due_ts, zone),
        "address": " ".join(x for x in (o.building, o.unit, o.household) if x),
        "address_id": o.household or o.building,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _date(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise OrderRefused(400, f"{name}: not an ISO 8601 time") from exc
    if parsed.tzinfo is None:
        raise OrderRefused(400, f"{name}: give the time's offset (…+08:00)")
    return parsed.timestamp()


@router.get("/requests.json", response_model=list[RequestOut])
async def requests(
    api: Ctx,
    me: Who,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=200)] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Any:
    q = select(WorkOrder).where(me.where(WorkOrder))
    try:
        if service_request_id:
            q = q.where(WorkOrder.id.in_([x.strip() for x in service_request_id.split(",")][:LIMIT]))
        if service_code:
            codes = [x.strip() for x in service_code.split(",")]
            if not set(codes) <= set(CATEGORIES):
                raise OrderRefused(400, f"service_code: one of {', '.join(CATEGORIES)}")
            q = q.where(WorkOrder.category.in_(codes))
        start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
        if status:
            wanted = {x.strip() for x in status.split(",")}
            if not wanted <= {"open", "closed"}:
                raise OrderRefused(400, "status: open or closed")
            if wanted == {"open"}:
                q = q.where(WorkOrder.state.not_in(sorted(FINISHED)))
            elif wanted == {"closed"}:
                q = q.where(WorkOrder.state.in_(sorted(FINISHED)))
    except OrderRefused as exc:
        return _error(exc.status, exc.detail)
    if service_request_id is None and start is None and end is None:
        start = api.clock() - 90 * 86400.0  # the spec's default: the last 90 days
    if start is not None:
        q = q.where(WorkOrder.created_ts >= start)
    if end is not None:
        q = q.where(WorkOrder.created_ts <= end)
    async with api.store.session() as s:
        rows = (await s.scalars(q.order_by(WorkOrder.created_ts.desc()).limit(LIMIT))).all()
    zones = await _zones(api, {o.site for o in rows})
    return [_request(o, zones.get(o.site, ZoneInfo("UTC"))) for o in rows]


@router.get("/requests/{request_id}.json", response_model=list[RequestOut])
async def one_request(api: Ctx, me: Who, request_id: Annotated[str, Path(max_length=64)]) -> Any:
    try:
        o = await wo.visible(api.store, me, request_id)
    except OrderRefused as exc:
        return _error(exc.status, exc.detail)
    zones = await _zones(api, {o.site})
    return [_request(o, zones.get(o.site, ZoneInfo("UTC")))]


@router.post("/requests.json", response_model=list[MadeOut])
async def new_request(
    api: Ctx,
    me: Who,
    service_code: Annotated[str, Form(max_length=32)],
    description: Annotated[str, Form(min_length=1, max_length=2000)],
    address_id: Annotated[str, Form(max_length=64)] = "",
    device_id: Annotated[str, Form(max_length=64)] = "",
) -> Any:
    if service_code not in CATEGORIES:
        return _error(400, f"service_code: one of {', '.join(CATEGORIES)}")
    new = wo.NewOrder(category=service_code, description=description, household=address_id, device=device_id)
    try:
        order = await wo.create(api.store, me, new, now=api.clock())
    except OrderRefused as exc:
        return _error(exc.status, exc.detail)
    record_change(api, order, "submit")
    notice = "P1: the property's duty team is called; leave the flat, call 119 from outside"
    return [
        {
            "service_request_id": order.id,
            "service_notice": notice if order.priority == "P1" else "",
            "account_id": None,
        }
    ]
