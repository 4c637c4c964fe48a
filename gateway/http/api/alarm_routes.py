"""Alarms as people work them: list and filter, acknowledge, assign, comment, resolve, the evidence, and a
live stream of transitions for the control room (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from gateway.errors import AckPending, StorageError
from gateway.http.api.deps import Ctx, Me, Page, bearer, not_found, page, paged, role, still_valid
from gateway.http.api.models import AlarmDetail, AlarmOut, EvidenceOut, HistoryOut, PageOf, errors
from gateway.http.api.names import history_named, labelled
from gateway.http.api.scope import STAFF, Caller
from gateway.http.api.scope import resolve as resolve_scope
from gateway.influx.queries import readings as influx_readings
from gateway.notify.masking import masked_address
from gateway.store.accounts import get_account
from gateway.store.alarm_book import OPEN, STATES, public
from gateway.store.schema import Alarm, Device
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["alarms"], responses=errors(401, 403, 404, 409, 413, 503))
AlarmId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:/-]{1,300}$")]
HEARTBEAT = 15.0
REVALIDATE = 20.0
"""Seconds between checks that an open stream's token and account still stand."""
EVIDENCE_BEFORE, EVIDENCE_AFTER, EVIDENCE_MAX = 1800.0, 600.0, 6 * 3600.0


async def told(api: Ctx, alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alarm with `notified` (the audiences a delivery reached, from the notifier's outbox) and the
    names people use for it (gateway.http.api.names)."""
    reached = await api.notifier.reached([a["alarm_id"] for a in alarms]) if api.notifier else {}
    async with api.store.session() as session:
        named = await labelled(session, alarms)
    return [{**a, "notified": reached.get(a["alarm_id"], [])} for a in named]


async def _alarm(api: Ctx, me: Caller, alarm_id: str) -> Alarm:
    async with api.store.session() as session:
        a = await session.get(Alarm, alarm_id)
    if a is None or not me.sees(a.site, a.building, a.household):
        raise not_found("no such alarm")
    return a


@router.get("/alarms", response_model=PageOf[AlarmOut])
async def alarms(
    api: Ctx,
    me: Me,
    p: Page,
    state: Annotated[str | None, Query(pattern="^(open|" + "|".join(STATES) + ")$")] = None,
    severity: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
    rule: Annotated[str | None, Query(pattern="^[A-Z]{2,6}-[A-Z0-9]{1,12}$")] = None,
    site: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    building: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    household: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    since: Annotated[float | None, Query(ge=0, le=4e9, description="raised at or after (UNIX s)")] = None,
    until: Annotated[float | None, Query(ge=0, le=4e9)] = None,
) -> dict[str, Any]:
    """Newest first. `state=open` is every alarm someone still has to act on."""
    q = select(Alarm).where(me.where(Alarm))
    if state == "open":
        q = q.where(Alarm.state.in_(OPEN))
    elif state:
        q = q.where(Alarm.state == state)
    for column, value in (
        (Alarm.severity, severity),
        (Alarm.rule, rule),
        (Alarm.site, site),
        (Alarm.building, building),
        (Alarm.household, household),
    ):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(Alarm.raised_ts >= since)
    if until is not None:
        q = q.where(Alarm.raised_ts <= until)
    async with api.store.session() as session:
        rows, total = await paged(session, q, p, Alarm.severity, Alarm.raised_ts.desc())
    return page(await told(api, [public(a) for a in rows]), total, p)


async def _events(api: Ctx, me: Caller, request: Request, token: str) -> AsyncIterator[bytes]:
    """The stream ends (`event: signed-out`) within REVALIDATE seconds of its token expiring, the password
    changing or the account being disabled: a stream must not outlive the right to see it."""
    q = api.book.watchers.open()
    checked = time.monotonic()
    try:
        yield b": connected\n\nevent: hello\ndata: {}\n\n"
        while True:
            if time.monotonic() - checked >= REVALIDATE:
                checked = time.monotonic()
                if not await still_valid(api, token):
                    yield b"event: signed-out\ndata: {}\n\n"
                    return
            try:
                due = REVALIDATE - (time.monotonic() - checked)
                item = await asyncio.wait_for(q.get(), max(0.1, min(HEARTBEAT, due)))
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield b": keep-alive\n\n"
                continue
            if item is None:
                yield b"event: resync\ndata: {}\n\n"
                return
            a = item["alarm"]
            if me.sees(a["site"], a["building"], a["household"]):
                data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
                yield f"event: alarm\ndata: {data}\n\n".encode()
    finally:
        api.book.watchers.close(q)


@router.get(
    "/alarms/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    api: Ctx, me: Me, request: Request, token: Annotated[str | None, Depends(bearer)]
) -> StreamingResponse:
    """Every alarm transition and every person's action on an alarm in the caller's scope, as it happens
    (`event: alarm`); `event: resync` asks the client to reload the board (it fell behind)."""
    return StreamingResponse(
        _events(api, me, request, token or ""),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/alarms/{alarm_id:path}/evidence", response_model=EvidenceOut)
async def evidence(api: Ctx, me: Me, alarm_id: AlarmId) -> dict[str, Any]:
    """Readings around the alarm from InfluxDB (30 min before it was raised to 10 min after it cleared),
    what triggered it, and who was told when."""
    a = await _alarm(api, me, alarm_id)
    start, end = window(api, a)
    devices = await alarm_devices(api, a)
    readings_: list[dict[str, Any]] = []
    error = None
    if devices and api.influx is not None:
        try:
            readings_ = await influx_readings(api.influx, a.site, devices[:20], start, end)
        except StorageError as exc:
            error = str(exc)
    deliveries = visible(me, await api.notifier.deliveries(alarm_id) if api.notifier else [])
    return {
        "alarm_id": alarm_id,
        "window": [start, end],
        "readings": readings_,
        "readings_error": error,
        "deliveries": deliveries,
        "trigger": [
            {**e, "target": masked_address(e["target"])} if e.get("target") else e for e in a.evidence
        ],
    }


def window(api: Ctx, a: Alarm) -> tuple[float, float]:
    """30 min before the alarm was raised to 10 min after it cleared (now, while it lasts), 6 h at most."""
    return a.raised_ts - EVIDENCE_BEFORE, min(
        (a.cleared_ts or api.clock()) + EVIDENCE_AFTER, a.raised_ts + EVIDENCE_MAX
    )


async def alarm_devices(api: Ctx, a: Alarm) -> list[str]:
    """The alarm's own detector or, for a household's alarm, every detector of the household."""
    on_site = select(Device.id).where(Device.site == a.site)
    async with api.store.session() as session:
        devices = list((await session.scalars(on_site.where(Device.id == a.subject))).all())
        if not devices and a.household:
            home = on_site.where(Device.household == a.household, Device.kind != "door")
            devices = list((await session.scalars(home.order_by(Device.id))).all())
    return devices


def visible(me: Caller, deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A resident or a family member sees their own deliveries only; maintenance sees no people
    (docs/api.md): who, as an audience only."""
    if me.role == "resident":
        return [d for d in deliveries if _mine(d, me)]
    if me.role == "maintenance":
        return [
            d if _mine(d, me) or d["audience"] in ("MT", "-") else {**d, "recipient": d["audience"]}
            for d in deliveries
        ]
    return deliveries


def _mine(delivery: dict[str, Any], me: Caller) -> bool:
    """The notifier names a person by their registry id within the delivery's site; the API by site/id."""
    name = delivery["recipient"]
    return name == me.recipient or (me.person is not None and f"{delivery['site']}/{name}" == me.recipient)


@router.get("/alarms/{alarm_id:path}", response_model=AlarmDetail)
async def alarm_detail(api: Ctx, me: Me, alarm_id: AlarmId) -> dict[str, Any]:
    a = await _alarm(api, me, alarm_id)
    async with api.store.session() as session:
        history = await history_named(session, a.site, await api.book.history(alarm_id))
    return {**(await told(api, [public(a)]))[0], "history": history}


@router.post("/alarms/{alarm_id:path}/acknowledge", response_model=AlarmOut)
async def acknowledge(api: Ctx, me: Me, alarm_id: AlarmId) -> Any:
    """I have seen it and I am on it: escalation stops; everyone told hears that it is in hand.

    200 with the acknowledged alarm. Through a district's API replica the acknowledgement goes to the
    alarm's partition owner; if the alarm book does not show it within a few seconds the answer is 202 with
    the alarm as it stands (still unacknowledged): the acknowledgement is kept and will be applied, and
    pressing again does no harm."""
    a = await _alarm(api, me, alarm_id)
    if api.acknowledge is None:
        raise HTTPException(status_code=503, detail="the rules are not running")
    if a.state in OPEN and a.acked_ts is None:
        try:
            await api.acknowledge(alarm_id, me.recipient)
        except AckPending:  # an API replica: taken, not yet applied by the partition's owner
            current = (await told(api, [public(await _alarm(api, me, alarm_id))]))[0]
            return JSONResponse(jsonable_encoder(current), status_code=202)
        await api.book.drained()
    return (await told(api, [public(await _alarm(api, me, alarm_id))]))[0]


class Resolution(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="what was found and done")


@router.post("/alarms/{alarm_id:path}/resolve", response_model=AlarmOut, dependencies=[Depends(role(*STAFF))])
async def resolve(api: Ctx, me: Me, alarm_id: AlarmId, body: Resolution) -> dict[str, Any]:
    """Close the case once the condition is over: a hazard still present cannot be resolved away."""
    a = await _alarm(api, me, alarm_id)
    if a.state in ("active", "acknowledged"):
        raise HTTPException(status_code=409, detail="the condition is still present: make safe first")
    if a.state == "resolved":
        raise HTTPException(status_code=409, detail="already resolved")
    if a.state == "returned" and api.acknowledge is not None:
        with contextlib.suppress(AckPending):  # taken; the resolution below does not wait for it
            await api.acknowledge(alarm_id, me.recipient)
        await api.book.drained()
    row = await api.book.annotate(
        alarm_id,
        "resolved",
        me.recipient,
        body.note,
        state="resolved",
        resolved_ts=api.clock(),
        resolved_by=me.username,
    )
    if row is None:
        raise not_found("no such alarm")
    return (await told(api, [row]))[0]


class Assignment(BaseModel):
    assignee: str | None = Field(
        pattern=ID_PATTERN, description="a staff account's username; null to unassign"
    )


@router.post("/alarms/{alarm_id:path}/assign", response_model=AlarmOut, dependencies=[Depends(role(*STAFF))])
async def assign(api: Ctx, me: Me, alarm_id: AlarmId, body: Assignment) -> dict[str, Any]:
    a = await _alarm(api, me, alarm_id)
    if body.assignee is not None:
        account = await get_account(api.store, body.assignee)
        who = await resolve_scope(api.store, account) if account and account.role in STAFF else None
        if who is None or not who.sees(a.site, a.building, a.household):
            raise HTTPException(
                status_code=422,
                detail=[
                    {
                        "loc": ["body", "assignee"],
                        "msg": "no staff account that can see this alarm",
                        "type": "value_error",
                    }
                ],
            )
    row = await api.book.annotate(
        alarm_id, "assigned", me.recipient, body.assignee or "", assignee=body.assignee
    )
    if row is None:
        raise not_found("no such alarm")
    return (await told(api, [row]))[0]


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


@router.post("/alarms/{alarm_id:path}/comments", response_model=HistoryOut, status_code=201)
async def comment(api: Ctx, me: Me, alarm_id: AlarmId, body: Comment) -> dict[str, Any]:
    await _alarm(api, me, alarm_id)
    await api.book.annotate(alarm_id, "comment", me.recipient, body.text)
    history = await api.book.history(alarm_id)
    mine = next(h for h in reversed(history) if h["kind"] == "comment" and h["by"] == me.recipient)
    return {**mine, "by_name": me.name}
