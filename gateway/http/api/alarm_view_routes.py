"""What the console's alarm detail shows besides the alarm itself: the device's readings around it, for a
chart, and the notification timeline (who was told on which channel, when it was sent, delivered, answered
and acknowledged), with addresses masked. Included before alarm_routes: its `/alarms/{id}` takes any path."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gateway.errors import StorageError
from gateway.http.api.alarm_routes import AlarmId, _alarm, alarm_devices, visible, window
from gateway.http.api.deps import Ctx, Me
from gateway.http.api.models import ReadingsOut, TimelineOut, errors
from gateway.http.api.names import person_names
from gateway.influx.queries import readings as influx_readings

router = APIRouter(prefix="/api/v1", tags=["alarms"], responses=errors(401, 403, 404, 413, 503))
CHART_DEVICES = 4
"""A household's alarm charts at most this many of its detectors."""


@router.get("/alarms/{alarm_id:path}/readings", response_model=ReadingsOut)
async def alarm_readings(api: Ctx, me: Me, alarm_id: AlarmId) -> dict[str, Any]:
    """The alarm's detector (a household's alarm: its detectors) from 30 minutes before the alarm was
    raised to 10 minutes after it cleared, from InfluxDB, oldest first. `readings_error` says why there are
    none when InfluxDB did not answer."""
    a = await _alarm(api, me, alarm_id)
    start, end = window(api, a)
    devices = (await alarm_devices(api, a))[:CHART_DEVICES]
    rows: list[dict[str, Any]] = []
    error = None
    if not devices:
        error = "no detector for this alarm"
    elif api.influx is None:
        error = "InfluxDB not configured"
    else:
        try:
            rows = await influx_readings(api.influx, a.site, devices, start, end)
        except StorageError as exc:
            error = str(exc)
    return {
        "alarm_id": alarm_id,
        "window": [start, end],
        "devices": devices,
        "readings": rows,
        "readings_error": error,
    }


@router.get("/alarms/{alarm_id:path}/notifications", response_model=TimelineOut)
async def alarm_notifications(api: Ctx, me: Me, alarm_id: AlarmId) -> dict[str, Any]:
    """Every delivery of the alarm's messages, in the order they were planned: the recipient by registry
    name, the channel, the address masked (138****5678), and when it was queued, sent, delivered (a call:
    answered), failed and acknowledged. Residents see their own; maintenance sees audiences, not people."""
    a = await _alarm(api, me, alarm_id)
    rows = visible(me, await api.notifier.timeline(alarm_id) if api.notifier else [])
    async with api.store.session() as session:
        names = await person_names(session, ((d["site"], d["recipient"]) for d in rows))
    channels = api.notifier.channels if api.notifier else {}
    items = []
    for d in rows:
        answers = getattr(channels.get(d["channel"]), "answered", False)
        hidden = d["recipient"] == d["audience"] and me.role == "maintenance"
        items.append(
            {
                "recipient": d["recipient"],
                "recipient_name": "" if hidden else names.get((d["site"], d["recipient"]), ""),
                "audience": d["audience"],
                "kind": d["kind"],
                "transition": d["transition"],
                "channel": d["channel"],
                "address": "" if hidden else d["address"],
                "state": d["state"],
                "queued_at": d["queued_at"],
                "sent_at": d["sent_at"],
                "delivered_at": d["delivered_at"],
                "answered_at": d["delivered_at"] if answers else None,
                "failed_at": d["failed_at"],
                "acked_at": d["acked_at"],
                "error": d["error"],
            }
        )
    return {"alarm_id": a.alarm_id, "items": items}
