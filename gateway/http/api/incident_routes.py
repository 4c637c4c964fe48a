"""Incidents: one per hazard in a home, with one acknowledgement (alerts/incidents.py says how they form).

The alarm book keeps alarms; an incident is read from them each time it is asked for, so there is nothing
to keep in step: the list is the open alarms in the caller's scope and the earlier alarms of the same homes
that may belong with them, grouped. Acknowledging an incident acknowledges each of its alarms still waiting
for someone, as the alarm route does one at a time.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import or_, select

from alerts.incidents import Incident, Member, incident_of, incidents
from gateway.errors import AckPending
from gateway.http.api.alarm_routes import told
from gateway.http.api.deps import Ctx, Me, not_found
from gateway.http.api.models import AlarmOut, Out, errors
from gateway.http.api.names import rule_texts
from gateway.http.api.scope import Caller
from gateway.store.alarm_book import OPEN, public
from gateway.store.schema import Alarm
from sensors.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["incidents"], responses=errors(401, 403, 404, 503))
IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:/-]{1,300}$")]
LOOKBACK = 24 * 3600.0
"""How far before its oldest open alarm an incident's earlier, finished alarms are looked for."""
LIMIT = 2000


class AdviceOut(Out):
    title: str
    title_zh: str
    steps: list[str]
    steps_zh: list[str]
    call: str = Field(description="the emergency number to dial (119 fire and gas, 120 ambulance)")


class IncidentAlarmOut(AlarmOut):
    title: str
    title_zh: str


class IncidentOut(Out):
    incident_id: str
    site: str
    building: str
    unit: str
    household: str
    hazard: str | None = Field(description="gas, co or air; null for an alarm that is no home hazard")
    severity: str
    state: str
    open: bool
    started_ts: float
    updated_ts: float
    title: str
    title_zh: str
    advice: AdviceOut | None
    alarms: list[IncidentAlarmOut] = Field(description="worst first, then oldest")


def member(a: Alarm) -> Member:
    over = None if a.state in OPEN else (a.resolved_ts or a.updated_ts)
    return Member(
        alarm_id=a.alarm_id,
        rule=a.rule,
        severity=a.severity,
        state=a.state,
        site=a.site,
        building=a.building,
        unit=a.unit,
        household=a.household,
        raised_ts=a.raised_ts,
        updated_ts=a.updated_ts,
        acked_ts=a.acked_ts,
        over_ts=over,
    )


async def _out(api: Ctx, found: Incident, rows: dict[str, Alarm]) -> dict[str, Any]:
    alarms = await told(api, [public(rows[m.alarm_id]) for m in found.members])
    for a in alarms:
        texts = rule_texts(a["rule"])
        a.update(title=texts["title"], title_zh=texts["title_zh"], family=texts["family"])
    advice = found.advice
    if advice is not None:
        title, title_zh = advice.title, advice.title_zh
    else:
        title, title_zh = alarms[0]["title"], alarms[0]["title_zh"]
    return {
        "incident_id": found.incident_id,
        "site": found.site,
        "building": found.building,
        "unit": found.unit,
        "household": found.household,
        "hazard": None if found.hazard is None else str(found.hazard),
        "severity": found.severity,
        "state": found.state,
        "open": found.open,
        "started_ts": found.started_ts,
        "updated_ts": found.updated_ts,
        "title": title,
        "title_zh": title_zh,
        "advice": None
        if advice is None
        else {
            "title": advice.title,
            "title_zh": advice.title_zh,
            "steps": list(advice.steps),
            "steps_zh": list(advice.steps_zh),
            "call": advice.call,
        },
        "alarms": alarms,
    }


async def _candidates(api: Ctx, me: Caller, *, site: str | None, building: str | None,
                      household: str | None, since: float | None) -> list[Alarm]:  # fmt: skip
    """The open alarms in scope (or all raised since `since`), and the earlier alarms of their homes."""
    q = select(Alarm).where(me.where(Alarm))
    for column, value in ((Alarm.site, site), (Alarm.building, building), (Alarm.household, household)):
        if value is not None:
            q = q.where(column == value)
    first = q.where(Alarm.state.in_(OPEN)) if since is None else q.where(Alarm.raised_ts >= since)
    async with api.store.session() as session:
        rows = list((await session.scalars(first.order_by(Alarm.raised_ts.desc()).limit(LIMIT))).all())
        homes = sorted({a.household for a in rows if a.household})
        if homes:
            oldest = min(a.raised_ts for a in rows) - LOOKBACK
            more = q.where(Alarm.household.in_(homes), Alarm.raised_ts >= oldest)
            seen = {a.alarm_id for a in rows}
            rows += [a for a in (await session.scalars(more.limit(LIMIT))).all() if a.alarm_id not in seen]
    return rows


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    api: Ctx,
    me: Me,
    site: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    building: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    household: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    since: Annotated[
        float | None, Query(ge=0, le=4e9, description="also finished incidents raised since (UNIX s)")
    ] = None,
) -> list[dict[str, Any]]:
    """Open incidents, worst first then oldest (with `since`, finished ones too, after the open)."""
    rows = await _candidates(api, me, site=site, building=building, household=household, since=since)
    by_id = {a.alarm_id: a for a in rows}
    found = incidents(member(a) for a in rows)
    if since is None:
        found = [i for i in found if i.open]
    else:
        found = [i for i in found if i.open or i.started_ts >= since]
    return [await _out(api, i, by_id) for i in found]


async def _incident(api: Ctx, me: Caller, incident_id: str) -> tuple[Incident, dict[str, Alarm]]:
    parts = incident_id.split(":")
    async with api.store.session() as session:
        single = await session.get(Alarm, incident_id)
        if single is not None:
            rows = [single]
        elif len(parts) >= 4 and parts[-1].isdigit():
            site, household, start = parts[0], parts[1], int(parts[-1]) / 1000
            q = select(Alarm).where(
                me.where(Alarm),
                Alarm.site == site,
                Alarm.household == household,
                or_(Alarm.raised_ts >= start - 0.001, Alarm.state.in_(OPEN)),
            )
            rows = list((await session.scalars(q.limit(LIMIT))).all())
        else:
            rows = []
    rows = [a for a in rows if me.sees(a.site, a.building, a.household)]
    found = incident_of((member(a) for a in rows), incident_id)
    if found is None:
        raise not_found("no such incident")
    return found, {a.alarm_id: a for a in rows}


@router.get("/incidents/{incident_id:path}", response_model=IncidentOut)
async def incident_detail(api: Ctx, me: Me, incident_id: IncidentId) -> dict[str, Any]:
    found, rows = await _incident(api, me, incident_id)
    return await _out(api, found, rows)


@router.post("/incidents/{incident_id:path}/acknowledge", response_model=IncidentOut)
async def acknowledge_incident(api: Ctx, me: Me, incident_id: IncidentId) -> Any:
    """I have seen it and I am on it: every alarm of the incident still waiting is acknowledged at once."""
    found, _ = await _incident(api, me, incident_id)
    if api.acknowledge is None:
        raise HTTPException(status_code=503, detail="the rules are not running")
    pending = False
    for m in found.unacknowledged:
        try:
            await api.acknowledge(m.alarm_id, me.recipient)
        except AckPending:  # an API replica: taken, not yet applied by the partition's owner
            pending = True
    await api.book.drained()
    found, rows = await _incident(api, me, incident_id)
    out = await _out(api, found, rows)
    return JSONResponse(jsonable_encoder(out), status_code=202) if pending else out
